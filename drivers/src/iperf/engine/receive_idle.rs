//! iperf3's `--rcv-timeout`: a side that receives gives the test up when nothing has
//! arrived on its streams for that long.

use std::time::Duration;

use tokio::time::Instant;

/// Watches a receiving side's byte count for progress.
#[derive(Debug, Clone)]
pub(crate) struct ReceiveIdle {
    idle: Duration,
    seen: u64,
    last_progress: Instant,
    next_check: Instant,
}

impl ReceiveIdle {
    /// A watch from `now` for a side that has `received` bytes so far; `None` for a side
    /// that only sends (`received` is `None`).
    pub(crate) fn new(idle: Duration, received: Option<u64>, now: Instant) -> Option<Self> {
        let seen = received?;
        Some(Self {
            idle,
            seen,
            last_progress: now,
            next_check: now + Self::period(idle),
        })
    }

    /// Checks a few times per timeout, so a stall is noticed at most a quarter late.
    fn period(idle: Duration) -> Duration {
        (idle / 4).max(Duration::from_millis(1))
    }

    /// When to look next.
    pub(crate) fn check_at(&self) -> Instant {
        self.next_check
    }

    /// Looks at the byte count at `now`; `true` when nothing arrived for longer than the
    /// timeout.
    pub(crate) fn stalled(&mut self, received: u64, now: Instant) -> bool {
        self.next_check = now + Self::period(self.idle);
        if received != self.seen {
            self.seen = received;
            self.last_progress = now;
            return false;
        }
        now.duration_since(self.last_progress) > self.idle
    }

    /// The timeout.
    pub(crate) fn idle(&self) -> Duration {
        self.idle
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_side_that_only_sends_is_not_watched() {
        assert!(ReceiveIdle::new(Duration::from_secs(1), None, Instant::now()).is_none());
    }

    #[test]
    fn progress_resets_the_clock_and_silence_longer_than_the_timeout_is_a_stall() {
        let start = Instant::now();
        let second = Duration::from_secs(1);
        let mut watch = ReceiveIdle::new(second, Some(0), start).unwrap();
        assert_eq!(watch.check_at(), start + second / 4);
        assert!(!watch.stalled(0, start + second / 2));
        assert!(!watch.stalled(10, start + second));
        assert!(!watch.stalled(10, start + second * 2));
        assert!(watch.stalled(10, start + second * 2 + Duration::from_millis(1)));
    }
}
