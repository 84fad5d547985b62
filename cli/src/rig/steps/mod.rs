//! The kinds of step a rig can run once its drivers are up.
//!
//! Each kind is a struct of its keys in its own file (serde,
//! `deny_unknown_fields`) that implements [`StepKind`]: a `check` against the
//! rig's drivers and an async `run`. Adding a kind is that file and one row of
//! [`KINDS`].

mod check;
mod iperf;
mod network;
mod proxy;
mod restart;
mod step_kind;
mod tcp_exchange;
mod toxic;
mod wait;
mod wait_for_process;

use serde::de::DeserializeOwned;
use toml::de::ValueDeserializer;

pub(crate) use check::StepCheck;
pub(crate) use iperf::Iperf;
pub(crate) use network::NetworkStep;
pub(crate) use proxy::ProxyStep;
pub(crate) use restart::Restart;
pub(crate) use step_kind::{StepKind, StepRun};
pub(crate) use tcp_exchange::TcpExchange;
pub(crate) use toxic::ToxicStep;
pub(crate) use wait::Wait;
pub(crate) use wait_for_process::WaitForProcess;

use super::kinds::{Declared, Kind};

/// Every kind a rig can use, in the order messages list them.
pub(crate) const KINDS: &[Kind<dyn StepKind>] = &[
    Kind::new("tcp_exchange", read::<TcpExchange>),
    Kind::new("wait", read::<Wait>),
    Kind::new("restart", read::<Restart>),
    Kind::new("iperf", read::<Iperf>),
    Kind::new("wait_for_process", read::<WaitForProcess>),
    Kind::new("toxic", read::<ToxicStep>),
    Kind::new("proxy", read::<ProxyStep>),
    Kind::new("network", read::<NetworkStep>),
];

/// Kinds documented but not available in this build yet.
pub(crate) const COMING: &[&str] = &[];

/// What one `[[step]]` does, with its kind.
pub(crate) type StepAction = Declared<dyn StepKind>;

/// Reads the own keys of a step of kind `O`: each row's reader.
fn read<O: StepKind + DeserializeOwned + 'static>(
    table: ValueDeserializer<'_>,
) -> Result<Box<dyn StepKind>, toml::de::Error> {
    Ok(Box::new(O::deserialize(table)?))
}
