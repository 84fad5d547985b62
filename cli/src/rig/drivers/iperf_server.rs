use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use testrig::DriverSpec;
use testrig_drivers::iperf::IperfServer;
use testrig_drivers::iperf::engine::ServerConfig;

use super::endpoint::endpoint;
use super::iperf_engine::{EngineName, engine};
use super::{DriverKind, InvalidOption};
use crate::rig::fields::{PortParam, Program, RigDuration, TextParam};

/// `kind = "iperf_server"`: an [`IperfServer`]. Exports `host`, `port`, `address` (and
/// `pid` with `engine = "iperf3"`).
///
/// ```toml
/// [[driver]]
/// name = "iperf-server"
/// kind = "iperf_server"
/// engine = "native"   # default; "iperf3" runs the real program
/// port = 0            # default: a free port (a restart keeps it)
/// send_timeout = "5s"     # TCP_USER_TIMEOUT on its streams (iperf3's --snd-timeout)
/// receive_timeout = "30s" # give a test up after this long without data (--rcv-timeout)
/// bind_device = "eth0"    # listen on this device only (--bind-dev)
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IperfServerOptions {
    host: Option<TextParam>,
    port: Option<PortParam>,
    engine: Option<EngineName>,
    iperf3_program: Option<Program>,
    send_timeout: Option<RigDuration>,
    receive_timeout: Option<RigDuration>,
    bind_device: Option<String>,
}

impl IperfServerOptions {
    pub(crate) fn spec(&self, name: &str, rig_dir: &Path) -> Result<DriverSpec, InvalidOption> {
        let mut server = IperfServer::new(name).engine(engine(
            self.engine,
            self.iperf3_program.as_ref(),
            rig_dir,
        )?);
        server = server.listen(endpoint(self.host.as_ref(), self.port.as_ref()));
        let mut config = ServerConfig::default();
        if let Some(timeout) = self.send_timeout {
            config = config.send_timeout(timeout.0);
        }
        if let Some(timeout) = self.receive_timeout {
            config = config.receive_timeout(timeout.0);
        }
        if let Some(device) = &self.bind_device {
            config = config.bind_device(device.clone());
        }
        Ok(DriverSpec::new(server.config(config)))
    }
}

impl DriverKind for IperfServerOptions {
    fn spec(
        &self,
        name: &str,
        _stop_timeout: Option<Duration>,
        rig_dir: &Path,
    ) -> Result<DriverSpec, InvalidOption> {
        Self::spec(self, name, rig_dir)
    }
}
