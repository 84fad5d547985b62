//! `engine` and `iperf3_program`: which iperf3 implementation an iperf driver runs.

use std::path::Path;

use serde::Deserialize;
use testrig_drivers::iperf::Engine;

use super::InvalidOption;
use crate::rig::fields::Program;

/// `engine = "native"` (the default) or `"iperf3"` (the real program, from `PATH` unless
/// `iperf3_program` names it; a relative path is taken from the rig file's directory).
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub(crate) enum EngineName {
    /// testrig's own implementation: no binary needed.
    Native,
    /// The real `iperf3`.
    Iperf3,
}

/// The engine for `engine` and `iperf3_program`; `rig_dir` is the directory of
/// the rig file.
pub(crate) fn engine(
    name: Option<EngineName>,
    program: Option<&Program>,
    rig_dir: &Path,
) -> Result<Engine, InvalidOption> {
    match (name.unwrap_or(EngineName::Native), program) {
        (EngineName::Native, None) => Ok(Engine::Native),
        (EngineName::Native, Some(_)) => Err(InvalidOption::new(
            "iperf3_program",
            "`iperf3_program` needs `engine = \"iperf3\"` (the native engine runs no program)",
        )),
        (EngineName::Iperf3, None) => Ok(Engine::iperf3()),
        (EngineName::Iperf3, Some(program)) => Ok(Engine::iperf3_at(program.resolve(rig_dir))),
    }
}
