//! What a driver runs as a process, when it runs one: the real `iperf3`, or on an SSH host
//! the native engine as the `testrig` binary's `iperf3` subcommand, installed there.

use std::path::PathBuf;

use testrig::Host;

use super::Engine;
use crate::iperf::error::IperfError;

/// The subcommand of the `testrig` binary that speaks iperf3's command line.
const SUBCOMMAND: &str = "iperf3";

/// A program that takes iperf3's flags after `leading` arguments.
#[derive(Debug, Clone)]
pub(super) struct Program {
    /// The program: a path or a name, on the host it runs on.
    pub(super) path: PathBuf,
    /// Arguments before iperf3's flags.
    pub(super) leading: Vec<String>,
}

impl Program {
    /// What `engine` runs as a process on `host`: `None` where the native engine runs in this
    /// process (this machine, an emulated host); on an SSH host, the `testrig` binary found
    /// here ([`testrig_binary`](testrig::host::ssh::testrig_binary)) and installed there
    /// ([`Host::install`]: copied once, by content), with `--no-zerocopy` unless `zero_copy`
    /// (a native-engine option iperf3 does not have).
    ///
    /// # Errors
    /// [`IperfError::EngineProgram`] naming the host, what was searched or why the copy failed.
    pub(super) async fn of(
        engine: &Engine,
        host: &Host,
        zero_copy: bool,
    ) -> Result<Option<Program>, IperfError> {
        match engine {
            Engine::Iperf3Binary { program } => Ok(Some(Program {
                path: program.clone(),
                leading: Vec::new(),
            })),
            Engine::Native if !host.is_ssh() => Ok(None),
            Engine::Native => {
                let failed = |detail: String| IperfError::EngineProgram {
                    host: host.name().to_owned(),
                    detail,
                };
                let local = testrig::host::ssh::testrig_binary()
                    .map_err(|error| failed(error.to_string()))?;
                let remote = host
                    .install(&local)
                    .await
                    .map_err(|error| failed(error.to_string()))?;
                let mut leading = vec![SUBCOMMAND.to_owned()];
                if !zero_copy {
                    leading.push("--no-zerocopy".to_owned());
                }
                Ok(Some(Program {
                    path: remote,
                    leading,
                }))
            }
        }
    }
}
