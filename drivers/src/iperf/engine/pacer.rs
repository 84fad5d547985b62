//! Holds a sender to a target bitrate the way iperf3 does: a stream may send whenever its
//! average rate since the start is below the target.

use std::time::Duration;
use tokio::time::Instant;

/// The most a sender may fall behind schedule and then catch up in one burst. A sender
/// delayed longer (a busy CPU, a coarse timer) forgives the rest instead of flooding the
/// receiver's socket buffer, which is what turns scheduling hiccups into UDP loss.
const MAX_CATCH_UP: Duration = Duration::from_millis(10);

/// A sender's pacing state.
#[derive(Debug, Clone)]
pub(crate) struct Pacer {
    bits_per_second: u64,
    start: Instant,
    sent_bytes: u64,
    /// Send what is due only on ticks of this period from the start (iperf3's
    /// `--pacing-timer`), instead of each block when it is due.
    tick: Option<Duration>,
    /// Blocks per burst (`-b rate/burst`) and how many of the current burst may still go.
    burst: u32,
    burst_left: u32,
}

impl Pacer {
    pub(crate) fn new(bits_per_second: u64, start: Instant) -> Self {
        Self {
            bits_per_second,
            start,
            sent_bytes: 0,
            tick: None,
            burst: 1,
            burst_left: 0,
        }
    }

    /// Sends `blocks` back to back each time the schedule allows one (iperf3's burst mode).
    pub(crate) fn with_burst(mut self, blocks: Option<u32>) -> Self {
        self.burst = blocks.unwrap_or(1).max(1);
        self
    }

    /// Paces on ticks of `tick` (none: each block when due).
    pub(crate) fn with_tick(mut self, tick: Option<Duration>) -> Self {
        self.tick = tick.filter(|t| !t.is_zero());
        self
    }

    pub(crate) fn record(&mut self, bytes: u64) {
        self.sent_bytes += bytes;
    }

    /// When the next block may go, or `None` if it may go now.
    pub(crate) fn next_send_at(&mut self, now: Instant) -> Option<Instant> {
        if self.burst_left > 0 {
            self.burst_left -= 1;
            return None;
        }
        let due = self.start + self.time_for(self.sent_bytes);
        if due > now {
            return Some(match self.tick {
                // The first tick at or after the block is due.
                Some(tick) => {
                    let since = due.duration_since(self.start).as_nanos();
                    let ticks = since.div_ceil(tick.as_nanos());
                    let at = self.start + Duration::from_nanos((ticks * tick.as_nanos()) as u64);
                    at.max(due)
                }
                None => due,
            });
        }
        let behind = now.duration_since(due);
        if behind > MAX_CATCH_UP {
            // Shift the schedule so that only MAX_CATCH_UP of backlog remains.
            self.start += behind - MAX_CATCH_UP;
        }
        self.burst_left = self.burst - 1;
        None
    }

    fn time_for(&self, bytes: u64) -> Duration {
        let nanos = u128::from(bytes) * 8 * 1_000_000_000 / u128::from(self.bits_per_second.max(1));
        Duration::from_nanos(nanos.min(u128::from(u64::MAX)) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sender_ahead_of_its_rate_waits_exactly_until_it_is_back_on_schedule() {
        let start = Instant::now();
        let mut pacer = Pacer::new(8_000, start); // 1000 bytes per second
        assert_eq!(pacer.next_send_at(start), None);
        pacer.record(500);
        assert_eq!(
            pacer.next_send_at(start),
            Some(start + Duration::from_millis(500))
        );
        assert_eq!(pacer.next_send_at(start + Duration::from_millis(500)), None);
    }

    #[test]
    fn a_sender_behind_its_rate_may_send_at_once() {
        let start = Instant::now();
        let mut pacer = Pacer::new(8_000_000, start);
        pacer.record(1_000);
        assert_eq!(pacer.next_send_at(start + Duration::from_secs(1)), None);
    }

    #[test]
    fn with_a_pacing_timer_blocks_go_on_its_ticks() {
        let start = Instant::now();
        // 1000 bytes per second, 100 ms ticks: a block due at 250 ms waits for 300 ms.
        let mut pacer = Pacer::new(8_000, start).with_tick(Some(Duration::from_millis(100)));
        pacer.record(250);
        assert_eq!(
            pacer.next_send_at(start),
            Some(start + Duration::from_millis(300))
        );
    }

    #[test]
    fn a_burst_goes_back_to_back_then_waits_for_the_schedule() {
        let start = Instant::now();
        let mut pacer = Pacer::new(8_000, start).with_burst(Some(3));
        for _ in 0..3 {
            assert_eq!(pacer.next_send_at(start), None);
            pacer.record(100);
        }
        assert_eq!(
            pacer.next_send_at(start),
            Some(start + Duration::from_millis(300))
        );
    }

    #[test]
    fn a_long_stall_is_not_made_up_in_one_burst() {
        let start = Instant::now();
        let mut pacer = Pacer::new(8_000, start); // 1 byte per millisecond
        // Stalled for a second: only 10 ms of backlog may be sent at once.
        assert_eq!(pacer.next_send_at(start + Duration::from_secs(1)), None);
        pacer.record(10);
        assert_eq!(pacer.next_send_at(start + Duration::from_secs(1)), None);
        pacer.record(1);
        let next = pacer.next_send_at(start + Duration::from_secs(1));
        assert_eq!(next, Some(start + Duration::from_millis(1001)));
    }
}
