//! The `testrig` subcommands.

mod agent;
mod check;
mod finish;
mod report_dir;
mod run;
mod session;
mod up;

pub(crate) use agent::agent;
pub(crate) use check::check;
pub(crate) use run::run;
pub(crate) use up::up;
