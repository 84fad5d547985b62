//! The kinds of step a rig can run once its drivers are up.
//!
//! Each kind is a struct of its keys in its own file (serde,
//! `deny_unknown_fields`) with a `check` against the rig's drivers and an async
//! `run`. Adding a kind is that file, a variant of [`StepAction`] and one arm in
//! each of its matches.

mod check;
mod iperf;
mod restart;
mod tcp_exchange;
mod wait;
mod wait_for_process;

use std::ops::Range;

use serde::Deserialize;
use testrig::{BoxError, Environment};
use toml::de::ValueDeserializer;

pub(crate) use check::StepCheck;
pub(crate) use iperf::Iperf;
pub(crate) use restart::Restart;
pub(crate) use tcp_exchange::TcpExchange;
pub(crate) use wait::Wait;
pub(crate) use wait_for_process::WaitForProcess;

use super::Problem;

/// What one `[[step]]` does, by kind.
#[derive(Debug, Clone)]
pub(crate) enum StepAction {
    /// `kind = "tcp_exchange"`
    TcpExchange(TcpExchange),
    /// `kind = "wait"`
    Wait(Wait),
    /// `kind = "restart"`
    Restart(Restart),
    /// `kind = "iperf"`
    Iperf(Iperf),
    /// `kind = "wait_for_process"`
    WaitForProcess(WaitForProcess),
}

impl StepAction {
    /// Every kind a rig can use, as written in `kind = "..."`.
    pub(crate) const KINDS: &[&str] = &[
        "tcp_exchange",
        "wait",
        "restart",
        "iperf",
        "wait_for_process",
    ];

    /// Kinds documented but not available in this build yet.
    pub(crate) const COMING: &[&str] = &[];

    /// Reads the keys of a step of `kind` (the table without the keys every
    /// step has); `None` when no such kind exists.
    pub(crate) fn deserialize(
        kind: &str,
        table: ValueDeserializer<'_>,
    ) -> Option<Result<Self, toml::de::Error>> {
        Some(match kind {
            "tcp_exchange" => TcpExchange::deserialize(table).map(Self::TcpExchange),
            "wait" => Wait::deserialize(table).map(Self::Wait),
            "restart" => Restart::deserialize(table).map(Self::Restart),
            "iperf" => Iperf::deserialize(table).map(Self::Iperf),
            "wait_for_process" => WaitForProcess::deserialize(table).map(Self::WaitForProcess),
            _ => return None,
        })
    }

    /// The kind, as written in the rig file.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::TcpExchange(_) => "tcp_exchange",
            Self::Wait(_) => "wait",
            Self::Restart(_) => "restart",
            Self::Iperf(_) => "iperf",
            Self::WaitForProcess(_) => "wait_for_process",
        }
    }

    /// Checks the drivers and references the step names; `table` is the step's
    /// header, for problems that are about the whole step.
    pub(crate) fn check(&self, table: Range<usize>, check: &StepCheck) -> Result<(), Problem> {
        match self {
            Self::TcpExchange(step) => step.check(table, check),
            Self::Wait(step) => step.check(table, check),
            Self::Restart(step) => step.check(check),
            Self::Iperf(step) => step.check(check),
            Self::WaitForProcess(step) => step.check(check),
        }
    }

    /// Runs the step; on success, a few words on what it did.
    pub(crate) async fn run(
        &self,
        env: &Environment,
        notes: crate::progress::Notes,
    ) -> Result<String, BoxError> {
        match self {
            Self::TcpExchange(step) => step.run(env).await,
            Self::Wait(step) => step.run(env).await,
            Self::Restart(step) => step.run(env).await,
            Self::Iperf(step) => step.run(env, notes).await,
            Self::WaitForProcess(step) => step.run(env).await,
        }
    }
}
