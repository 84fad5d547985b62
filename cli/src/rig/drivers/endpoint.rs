use testrig::{Endpoint, Param};

use crate::rig::fields::{PortParam, TextParam};

/// The endpoint of a rig's `host` and `port` keys: each may be a value or `${driver.key}`;
/// without a host, `127.0.0.1`; without a port, 0 (the kernel picks).
pub(crate) fn endpoint(host: Option<&TextParam>, port: Option<&PortParam>) -> Endpoint {
    let host = host.map_or_else(|| Param::Value("127.0.0.1".to_owned()), |h| h.0.clone());
    let port = port.map_or(Param::Value(0), |p| p.0.clone());
    Endpoint::new(host, port)
}
