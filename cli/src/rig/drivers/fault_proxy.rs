use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use testrig::DriverSpec;
use testrig_drivers::fault_proxy::{FaultProxy, Toxic};

use super::endpoint::endpoint;
use super::{DriverKind, InvalidOption};
use crate::rig::fields::{PortParam, TextParam};

/// `kind = "fault_proxy"`: a [`FaultProxy`] to `upstream_host:upstream_port`, with
/// Toxiproxy's toxics. Exports `host`, `port`, `address` (where clients connect).
///
/// ```toml
/// [[driver]]
/// name = "proxy"
/// kind = "fault_proxy"
/// upstream_port = "${server.port}"    # required: a number or a reference
/// upstream_host = "127.0.0.1"         # default
/// port = 0                            # where it listens; default: the kernel picks
/// toxics = [                          # optional, Toxiproxy's shape
///   { type = "latency", stream = "downstream", attributes = { latency = 50 } },
/// ]
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FaultProxyOptions {
    host: Option<TextParam>,
    port: Option<PortParam>,
    upstream_host: Option<TextParam>,
    upstream_port: PortParam,
    #[serde(default)]
    toxics: Vec<Toxic>,
}

impl FaultProxyOptions {
    pub(crate) fn spec(&self, name: &str) -> Result<DriverSpec, InvalidOption> {
        let upstream = endpoint(self.upstream_host.as_ref(), Some(&self.upstream_port));
        let proxy = FaultProxy::new(name, upstream)
            .listen(endpoint(self.host.as_ref(), self.port.as_ref()));
        for toxic in &self.toxics {
            proxy
                .add_toxic(toxic.clone())
                .map_err(|error| InvalidOption::new("toxics", error.to_string()))?;
        }
        Ok(DriverSpec::new(proxy))
    }
}

impl DriverKind for FaultProxyOptions {
    fn spec(
        &self,
        name: &str,
        _stop_timeout: Option<Duration>,
        _rig_dir: &Path,
    ) -> Result<DriverSpec, InvalidOption> {
        Self::spec(self, name)
    }
}
