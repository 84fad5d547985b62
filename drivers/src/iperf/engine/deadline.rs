//! Timers: every step of the protocol gets a deadline (this names the phase when it
//! expires), and the select loops wait on timers that may be absent.

use std::future::Future;
use std::time::Duration;

use tokio::time::{Instant, Interval, MissedTickBehavior};

use crate::iperf::error::{IperfError, Phase};

/// Runs `step`, failing with [`IperfError::Timeout`] for `phase` after `limit`.
pub(crate) async fn within<T>(
    limit: Duration,
    phase: Phase,
    step: impl Future<Output = Result<T, IperfError>>,
) -> Result<T, IperfError> {
    match tokio::time::timeout(limit, step).await {
        Ok(result) => result,
        Err(_) => Err(IperfError::Timeout {
            phase,
            after: limit,
        }),
    }
}

/// A ticker whose first tick is one `period` after `start`; a late tick delays the next.
pub(crate) fn ticker_from(start: Instant, period: Duration) -> Interval {
    let mut ticker = tokio::time::interval_at(start + period, period);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    ticker
}

/// The next tick of `ticker`, or never when there is none.
pub(crate) async fn tick_opt(ticker: &mut Option<Interval>) {
    match ticker {
        Some(t) => {
            t.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// Sleeps until `at`, or forever when there is no `at`.
pub(crate) async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
