use testrig_drivers::tcp::SocketOptions;

use crate::rig::fields::RigDuration;

/// The socket options both TCP kinds accept, each defaulting to
/// [`SocketOptions::default`].
pub(crate) fn socket_options(
    nodelay: Option<bool>,
    keepalive: Option<RigDuration>,
    reuse_address: Option<bool>,
) -> SocketOptions {
    let default = SocketOptions::default();
    SocketOptions {
        nodelay: nodelay.unwrap_or(default.nodelay),
        keepalive: keepalive.map(|d| d.0).or(default.keepalive),
        reuse_address: reuse_address.unwrap_or(default.reuse_address),
    }
}
