//! The `testrig` subcommands.

mod check;
mod finish;
mod report_dir;
mod run;
mod session;
mod up;

pub(crate) use check::check;
pub(crate) use run::run;
pub(crate) use up::up;
