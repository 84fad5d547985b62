use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use testrig::{DriverSpec, Param};
use testrig_drivers::tcp::TcpClient;

use super::endpoint::endpoint;
use super::socket::socket_options;
use super::{DriverKind, InvalidOption, ReconnectOptions};
use crate::rig::fields::{PortParam, RigDuration, TextParam};

/// `kind = "tcp_client"`: a [`TcpClient`]. Exports `host`, `port`, `local_port`.
///
/// ```toml
/// [[driver]]
/// name = "client"
/// kind = "tcp_client"
/// port = "${server.port}"     # required: a number or a reference
/// reconnect = { initial = "50ms", max = "2s" }   # optional: keep reconnecting
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TcpClientOptions {
    host: Option<TextParam>,
    port: PortParam,
    interface: Option<String>,
    connect_at_start: Option<bool>,
    connect_timeout: Option<RigDuration>,
    nodelay: Option<bool>,
    keepalive: Option<RigDuration>,
    reconnect: Option<ReconnectOptions>,
}

impl TcpClientOptions {
    pub(crate) fn spec(&self, name: &str) -> Result<DriverSpec, InvalidOption> {
        if matches!(self.port.0, Param::Value(0)) {
            return Err(InvalidOption::new(
                "port",
                "a client needs the server's port, not 0",
            ));
        }
        let mut client = TcpClient::new(name, endpoint(self.host.as_ref(), Some(&self.port)))
            .socket_options(socket_options(self.nodelay, self.keepalive, None)?);
        if let Some(interface) = &self.interface {
            let local: SocketAddr = interface.parse().map_err(|_| {
                InvalidOption::new(
                    "interface",
                    format!(
                        "\"{interface}\" is not a local address with a port, such as \"127.0.0.1:0\""
                    ),
                )
            })?;
            client = client.interface(local);
        }
        if let Some(connect) = self.connect_at_start {
            client = client.connect_at_start(connect);
        }
        if let Some(timeout) = self.connect_timeout {
            client = client.connect_timeout(timeout.0);
        }
        if let Some(reconnect) = &self.reconnect {
            reconnect.validate()?;
            let reconnect = reconnect.clone();
            client = client.auto_reconnect(move || reconnect.policy());
        }
        Ok(DriverSpec::new(client))
    }
}

impl DriverKind for TcpClientOptions {
    fn spec(
        &self,
        name: &str,
        _stop_timeout: Option<Duration>,
        _rig_dir: &Path,
    ) -> Result<DriverSpec, InvalidOption> {
        Self::spec(self, name)
    }
}
