//! Deadlines from durations a user gives: a timeout too long for the clock means
//! "effectively forever", never an overflow panic.
//!
//! `Instant + Duration` panics when the sum does not fit the clock, and a test author
//! may well write `Duration::MAX` for "no limit". Every deadline testrig derives from a
//! caller's duration goes through [`deadline`].

use std::time::Duration;

/// How far away "forever" is: 30 years, the same horizon tokio's own `timeout` uses for
/// a duration too long for its clock.
pub const FOREVER: Duration = Duration::from_secs(30 * 365 * 86_400);

/// A point in time a deadline can be computed from: `std`'s and tokio's `Instant`.
pub trait Moment: Copy {
    /// `self + duration`, or `None` when that does not fit the clock.
    fn checked_add(self, duration: Duration) -> Option<Self>;
}

impl Moment for std::time::Instant {
    fn checked_add(self, duration: Duration) -> Option<Self> {
        std::time::Instant::checked_add(&self, duration)
    }
}

impl Moment for tokio::time::Instant {
    fn checked_add(self, duration: Duration) -> Option<Self> {
        tokio::time::Instant::checked_add(&self, duration)
    }
}

/// `from + timeout`, or `from +` [`FOREVER`] when the sum does not fit the clock.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
///
/// let now = Instant::now();
/// assert_eq!(testrig::deadline::deadline(now, Duration::from_secs(1)), now + Duration::from_secs(1));
/// // No panic: a deadline 30 years away.
/// let far = testrig::deadline::deadline(now, Duration::MAX);
/// assert!(far > now + Duration::from_secs(365 * 86_400));
/// ```
pub fn deadline<M: Moment>(from: M, timeout: Duration) -> M {
    from.checked_add(timeout)
        .or_else(|| from.checked_add(FOREVER))
        .unwrap_or(from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timeout_that_overflows_the_clock_is_a_far_deadline() {
        let now = tokio::time::Instant::now();
        assert_eq!(deadline(now, Duration::MAX), now + FOREVER);
        assert_eq!(
            deadline(now, Duration::from_millis(5)),
            now + Duration::from_millis(5)
        );
    }
}
