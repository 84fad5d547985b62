use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use testrig::DriverSpec;
use testrig_drivers::tcp::TcpServer;

use super::endpoint::endpoint;
use super::socket::socket_options;
use super::{DriverKind, InvalidOption};
use crate::rig::fields::{PortParam, RigDuration, TextParam};

/// `kind = "tcp_server"`: a [`TcpServer`]. Exports `host`, `port`, `address`.
///
/// ```toml
/// [[driver]]
/// name = "server"
/// kind = "tcp_server"
/// host = "127.0.0.1"   # default
/// port = 0             # default: the kernel picks (a restart keeps it)
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TcpServerOptions {
    host: Option<TextParam>,
    port: Option<PortParam>,
    nodelay: Option<bool>,
    keepalive: Option<RigDuration>,
    reuse_address: Option<bool>,
}

impl TcpServerOptions {
    pub(crate) fn spec(&self, name: &str) -> Result<DriverSpec, InvalidOption> {
        let mut server = TcpServer::new(name).socket_options(socket_options(
            self.nodelay,
            self.keepalive,
            self.reuse_address,
        )?);
        server = server.listen(endpoint(self.host.as_ref(), self.port.as_ref()));
        Ok(DriverSpec::new(server))
    }
}

impl DriverKind for TcpServerOptions {
    fn spec(
        &self,
        name: &str,
        _stop_timeout: Option<Duration>,
        _rig_dir: &Path,
    ) -> Result<DriverSpec, InvalidOption> {
        Self::spec(self, name)
    }
}
