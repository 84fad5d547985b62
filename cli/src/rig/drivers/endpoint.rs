use testrig::{Endpoint, Param};

use crate::rig::fields::{PortParam, TextParam};

/// The endpoint of a rig's `host` and `port` keys: each may be a value or `${driver.key}`;
/// without a host, the driver's own host's address (`127.0.0.1` on this machine, its
/// address on a host of the rig's network); without a port, 0 (the kernel picks).
pub(crate) fn endpoint(host: Option<&TextParam>, port: Option<&PortParam>) -> Endpoint {
    let port = port.map_or(Param::Value(0), |p| p.0.clone());
    match host {
        Some(host) => Endpoint::new(host.0.clone(), port),
        None => Endpoint::from(port),
    }
}
