//! Fine byte samples of a running test, for its throughput picture only: a test of a few
//! milliseconds (16 MiB on loopback) has one interval or none, and a picture of that shows
//! nothing. The sampler runs as its own task and reads the streams' relaxed byte counters
//! on a timer, so the data path gains no lock, no allocation and no work; the intervals and
//! the `-J` document do not change.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

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

/// The sampling task of one test; dropping it stops the task.
#[derive(Debug)]
pub(crate) struct FineSampler {
    stop: CancellationToken,
    task: JoinHandle<FineSamples>,
}

impl FineSampler {
    /// Starts sampling `counters`, timing samples from `started` (when the counters were
    /// all zero).
    pub(crate) fn spawn(started: Instant, counters: FlowCounters) -> Self {
        let stop = CancellationToken::new();
        let task = tokio::spawn(sample_until(stop.clone(), started, counters));
        Self { stop, task }
    }

    /// Takes a last sample and returns them all.
    pub(crate) async fn finish(mut self) -> FineSamples {
        self.stop.cancel();
        (&mut self.task)
            .await
            .unwrap_or_else(|_| FineSamples::new())
    }
}

impl Drop for FineSampler {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn sample_until(
    stop: CancellationToken,
    started: Instant,
    counters: FlowCounters,
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
        let stopped = tokio::select! {
            _ = stop.cancelled() => true,
            _ = tokio::time::sleep_until(next) => false,
        };
        let now = Instant::now();
        let sample = counters.sample(seconds(now));
        if stopped {
            // The last sample always counts, even if it comes soon after the one before.
            samples.record(sample);
            return samples;
        }
        samples.record(sample);
        // After a late wakeup (a busy machine) the next sample waits a whole period, so
        // samples never bunch up.
        let due = next + samples.period();
        next = if due > now {
            due
        } else {
            now + samples.period()
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counting_stream() -> Arc<StreamCounters> {
        Arc::new(StreamCounters::default())
    }

    #[tokio::test(start_paused = true)]
    async fn a_long_test_keeps_a_bounded_number_of_evenly_spread_samples() {
        let started = Instant::now();
        let stream = counting_stream();
        let sampler = FineSampler::spawn(
            started,
            FlowCounters {
                main: vec![stream.clone()],
                reverse: None,
            },
        );
        // 100 s at a steady 1 MB per 10 ms.
        for _ in 0..10_000 {
            stream.add_bytes(1_000_000);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let samples = sampler.finish().await;
        let period = samples.period();
        let samples = samples.into_vec();
        assert!(samples.len() <= CAPACITY, "{} samples", samples.len());
        assert!(samples.len() > CAPACITY / 2, "{} samples", samples.len());
        assert!(samples.windows(2).all(|w| w[0].seconds < w[1].seconds));
        assert!(
            samples
                .windows(2)
                .all(|w| w[0].main_bytes <= w[1].main_bytes)
        );
        assert_eq!(samples[0], FineSample::default());
        let last = samples.last().unwrap();
        assert!((last.seconds - 100.0).abs() < 0.01, "{last:?}");
        assert_eq!(last.main_bytes, 10_000 * 1_000_000);
        // 1 ms doubled until about a thousand samples span 100 s.
        assert_eq!(period, Duration::from_millis(128));
        let gaps: Vec<f64> = samples[..samples.len() - 1]
            .windows(2)
            .map(|w| w[1].seconds - w[0].seconds)
            .collect();
        let widest = gaps.iter().copied().fold(0.0, f64::max);
        assert!(widest <= 0.128 + 1e-9, "widest gap {widest}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_short_test_is_sampled_every_millisecond_in_both_directions() {
        let started = Instant::now();
        let (main, reverse) = (counting_stream(), counting_stream());
        let sampler = FineSampler::spawn(
            started,
            FlowCounters {
                main: vec![main.clone()],
                reverse: Some(vec![reverse.clone()]),
            },
        );
        for _ in 0..10 {
            main.add_bytes(100);
            reverse.add_bytes(50);
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let samples = sampler.finish().await.into_vec();
        assert!((10..=12).contains(&samples.len()), "{samples:?}");
        assert_eq!(samples.last().unwrap().main_bytes, 1000);
        assert_eq!(samples.last().unwrap().reverse_bytes, Some(500));
        assert!(samples.windows(2).all(|w| w[0].seconds <= w[1].seconds));
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
}
