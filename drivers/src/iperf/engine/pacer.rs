//! Holds a sender to a target bitrate the way iperf3 does: a stream may send whenever its
//! average rate since the start is below the target.

use std::time::Duration;
use tokio::time::Instant;

/// A sender's pacing state.
#[derive(Debug, Clone)]
pub(crate) struct Pacer {
    bits_per_second: u64,
    start: Instant,
    sent_bytes: u64,
}

impl Pacer {
    pub(crate) fn new(bits_per_second: u64, start: Instant) -> Self {
        Self {
            bits_per_second,
            start,
            sent_bytes: 0,
        }
    }

    pub(crate) fn record(&mut self, bytes: u64) {
        self.sent_bytes += bytes;
    }

    /// When the next block may go, or `None` if it may go now.
    pub(crate) fn next_send_at(&self, now: Instant) -> Option<Instant> {
        let due = self.start + self.time_for(self.sent_bytes);
        (due > now).then_some(due)
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
}
