//! Every step of the protocol gets a deadline; this names the phase when it expires.

use std::future::Future;
use std::time::Duration;

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
