use std::path::Path;

use serde::Deserialize;
use testrig::DriverSpec;
use testrig_drivers::iperf::IperfServer;

use super::InvalidOption;
use super::iperf_engine::{EngineName, engine};
use crate::rig::fields::{PortParam, Program, TextParam};

/// `kind = "iperf_server"`: an [`IperfServer`]. Exports `host`, `port`, `address` (and
/// `pid` with `engine = "iperf3"`).
///
/// ```toml
/// [[driver]]
/// name = "iperf-server"
/// kind = "iperf_server"
/// engine = "native"   # default; "iperf3" runs the real program
/// port = 0            # default: a free port (a restart keeps it)
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IperfServerOptions {
    host: Option<TextParam>,
    port: Option<PortParam>,
    engine: Option<EngineName>,
    iperf3_program: Option<Program>,
}

impl IperfServerOptions {
    pub(crate) fn spec(&self, name: &str, rig_dir: &Path) -> Result<DriverSpec, InvalidOption> {
        let mut server = IperfServer::new(name).engine(engine(
            self.engine,
            self.iperf3_program.as_ref(),
            rig_dir,
        )?);
        if let Some(host) = &self.host {
            server = server.host(host.0.clone());
        }
        if let Some(port) = &self.port {
            server = server.port(port.0.clone());
        }
        Ok(DriverSpec::new(server))
    }
}
