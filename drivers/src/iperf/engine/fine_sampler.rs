//! Fine byte samples of a running test, for its throughput picture only: a test of a few
//! milliseconds (16 MiB on loopback) has one interval or none, and a picture of that shows
//! nothing. A thread of its own reads the streams' relaxed byte counters on a timer, so the
//! data path gains no lock, no allocation and no work, and the runtime no task: a tokio
//! task waking every millisecond next to the streams' tasks cost the native engine half its
//! loopback throughput (`bench_iperf`, native → native). The intervals and the `-J`
//! document do not change.

use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::counters::StreamCounters;
use crate::iperf::result::FineSample;

/// How often a test is sampled at first.
const FIRST_PERIOD: Duration = Duration::from_millis(1);

/// How many samples a test keeps at most.
const CAPACITY: usize = 1024;

/// The streams a sample sums, per direction.
#[derive(Debug, Clone, Default)]
pub(crate) struct FlowCounters {
    /// The main direction's streams.
    pub(crate) main: Vec<Arc<StreamCounters>>,
    /// Bidirectional tests: the reverse direction's streams.
    pub(crate) reverse: Option<Vec<Arc<StreamCounters>>>,
}

impl FlowCounters {
    fn sample(&self, seconds: f64) -> FineSample {
        let sum = |streams: &[Arc<StreamCounters>]| streams.iter().map(|s| s.bytes()).sum();
        FineSample {
            seconds,
            main_bytes: sum(&self.main),
            reverse_bytes: self.reverse.as_deref().map(sum),
        }
    }
}

/// Samples spread over the whole test, however long: once full, every other sample is
/// dropped and the period doubles, so the count stays at most [`CAPACITY`] and the spacing
/// stays even.
#[derive(Debug)]
pub(crate) struct FineSamples {
    samples: Vec<FineSample>,
    period: Duration,
}

impl FineSamples {
    fn new() -> Self {
        Self {
            samples: Vec::with_capacity(CAPACITY),
            period: FIRST_PERIOD,
        }
    }

    /// How long until the next sample is due.
    fn period(&self) -> Duration {
        self.period
    }

    fn record(&mut self, sample: FineSample) {
        if self.samples.len() == CAPACITY {
            let mut index = 0;
            self.samples.retain(|_| {
                index += 1;
                index % 2 == 1
            });
            self.period = self.period.saturating_mul(2);
        }
        self.samples.push(sample);
    }

    pub(crate) fn into_vec(self) -> Vec<FineSample> {
        self.samples
    }
}

/// The sampling thread of one test; dropping this stops it.
#[derive(Debug)]
pub(crate) struct FineSampler {
    /// Dropped to stop the thread: it takes a last sample and sends them all.
    stop: Option<mpsc::Sender<()>>,
    samples: oneshot::Receiver<FineSamples>,
}

impl FineSampler {
    /// Starts sampling `counters`, timing samples from `started` (when the counters were
    /// all zero). If no thread can be had, there are no samples (the picture falls back to
    /// the intervals).
    pub(crate) fn spawn(started: Instant, counters: FlowCounters) -> Self {
        let (stop, stopped) = mpsc::channel();
        let (done, samples) = oneshot::channel();
        let spawned = std::thread::Builder::new()
            .name("iperf-sampler".into())
            .spawn(move || {
                let _ = done.send(sample_until(&stopped, started, &counters));
            });
        if let Err(error) = spawned {
            tracing::debug!(%error, "no thread for the throughput picture's samples");
        }
        Self {
            stop: Some(stop),
            samples,
        }
    }

    /// Takes a last sample and returns them all.
    pub(crate) async fn finish(mut self) -> FineSamples {
        self.stop.take();
        (&mut self.samples)
            .await
            .unwrap_or_else(|_| FineSamples::new())
    }
}

/// Samples `counters` until `stop` says so (or its sender is gone), then once more.
fn sample_until(
    stop: &mpsc::Receiver<()>,
    started: Instant,
    counters: &FlowCounters,
) -> FineSamples {
    let mut samples = FineSamples::new();
    // Every counter starts at zero with the test.
    samples.record(FineSample {
        seconds: 0.0,
        main_bytes: 0,
        reverse_bytes: counters.reverse.as_ref().map(|_| 0),
    });
    let seconds = |at: Instant| at.saturating_duration_since(started).as_secs_f64();
    let mut next = started + samples.period();
    loop {
        let wait = next.saturating_duration_since(Instant::now());
        let stopped = !matches!(stop.recv_timeout(wait), Err(RecvTimeoutError::Timeout));
        let now = Instant::now();
        samples.record(counters.sample(seconds(now)));
        if stopped {
            return samples;
        }
        next = next_due(next, now, samples.period());
    }
}

/// When the sample after the one due at `due` (and taken at `now`) is due: a period later
/// or, after a late wakeup (a busy machine), a whole period after it, so samples never
/// bunch up.
fn next_due(due: Instant, now: Instant, period: Duration) -> Instant {
    match due + period {
        next if next > now => next,
        _ => now + period,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Samples `seconds` of a steady 1 MB a millisecond on the sampler's schedule, a
    /// wakeup taking `late` longer than asked.
    fn simulate(seconds: u64, late: Duration) -> (Vec<FineSample>, Duration) {
        let started = Instant::now();
        let mut samples = FineSamples::new();
        samples.record(FineSample::default());
        let mut due = started + samples.period();
        let end = started + Duration::from_secs(seconds);
        while due < end {
            let now = due + late;
            let elapsed = now - started;
            samples.record(FineSample {
                seconds: elapsed.as_secs_f64(),
                main_bytes: elapsed.as_millis() as u64 * 1_000_000,
                reverse_bytes: None,
            });
            due = next_due(due, now, samples.period());
        }
        let period = samples.period();
        (samples.into_vec(), period)
    }

    #[test]
    fn a_long_test_keeps_a_bounded_number_of_evenly_spread_samples() {
        let (samples, period) = simulate(100, Duration::ZERO);
        assert!(samples.len() <= CAPACITY, "{} samples", samples.len());
        assert!(samples.len() > CAPACITY / 2, "{} samples", samples.len());
        assert_eq!(samples[0], FineSample::default());
        assert!(samples.windows(2).all(|w| w[0].seconds < w[1].seconds));
        assert!(
            samples
                .windows(2)
                .all(|w| w[0].main_bytes <= w[1].main_bytes)
        );
        // 1 ms doubled until about a thousand samples span 100 s, evenly.
        assert_eq!(period, Duration::from_millis(128));
        let gaps: Vec<f64> = samples
            .windows(2)
            .map(|w| w[1].seconds - w[0].seconds)
            .collect();
        assert!(gaps.iter().all(|&gap| gap <= 0.128 + 1e-9), "{gaps:?}");
        assert!(samples.last().unwrap().seconds > 99.8);
    }

    #[test]
    fn late_wakeups_delay_the_next_sample_instead_of_bunching_samples() {
        let (samples, _) = simulate(1, Duration::from_micros(2500));
        let gaps: Vec<f64> = samples[1..]
            .windows(2)
            .map(|w| w[1].seconds - w[0].seconds)
            .collect();
        assert!(gaps.iter().all(|&gap| gap >= 0.001 - 1e-9), "{gaps:?}");
    }

    #[test]
    fn a_full_store_halves_and_doubles_its_period() {
        let mut samples = FineSamples::new();
        for i in 0..=CAPACITY {
            samples.record(FineSample {
                seconds: i as f64,
                main_bytes: i as u64,
                reverse_bytes: None,
            });
        }
        assert_eq!(samples.period(), FIRST_PERIOD * 2);
        let kept = samples.into_vec();
        assert_eq!(kept.len(), CAPACITY / 2 + 1);
        assert_eq!(kept[1].seconds, 2.0);
        assert_eq!(kept.last().unwrap().seconds, CAPACITY as f64);
    }

    #[tokio::test]
    async fn the_sampler_counts_both_directions_until_stopped_and_once_more() {
        let (main, reverse) = (
            Arc::new(StreamCounters::default()),
            Arc::new(StreamCounters::default()),
        );
        let sampler = FineSampler::spawn(
            Instant::now(),
            FlowCounters {
                main: vec![main.clone()],
                reverse: Some(vec![reverse.clone()]),
            },
        );
        for _ in 0..10 {
            main.add_bytes(100);
            reverse.add_bytes(50);
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let samples = sampler.finish().await.into_vec();
        assert!(samples.len() >= 3, "{samples:?}");
        assert_eq!(samples[0].reverse_bytes, Some(0));
        let last = samples.last().unwrap();
        assert_eq!((last.main_bytes, last.reverse_bytes), (1000, Some(500)));
        assert!(samples.windows(2).all(|w| w[0].seconds <= w[1].seconds));
    }
}
