use std::time::Duration;

use testrig_drivers::tcp::SocketOptions;

use super::InvalidOption;
use crate::rig::fields::RigDuration;

/// The range of a TCP keepalive idle time (and interval) Linux accepts, in
/// whole seconds (`TCP_KEEPIDLE`, `TCP_KEEPINTVL`: 1 to `MAX_TCP_KEEPIDLE`).
/// Outside it the socket option fails with EINVAL when a connection is made,
/// long after the rig was checked.
const KEEPALIVE_RANGE: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(32_767));

/// The socket options both TCP kinds accept, each defaulting to
/// [`SocketOptions::default`]; a keepalive outside [`KEEPALIVE_RANGE`] is an
/// error on the `keepalive` key.
pub(crate) fn socket_options(
    nodelay: Option<bool>,
    keepalive: Option<RigDuration>,
    reuse_address: Option<bool>,
) -> Result<SocketOptions, InvalidOption> {
    if let Some(RigDuration(idle)) = keepalive {
        let (min, max) = KEEPALIVE_RANGE;
        if idle < min || idle > max {
            return Err(InvalidOption::new(
                "keepalive",
                format!(
                    "a keepalive time of {} is out of range: the kernel takes 1s to 32767s (9h 6m 7s)",
                    humantime::format_duration(idle)
                ),
            ));
        }
    }
    let default = SocketOptions::default();
    Ok(SocketOptions {
        nodelay: nodelay.unwrap_or(default.nodelay),
        keepalive: keepalive.map(|d| d.0).or(default.keepalive),
        reuse_address: reuse_address.unwrap_or(default.reuse_address),
        ..default
    })
}
