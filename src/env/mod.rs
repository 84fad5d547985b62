//! Environments: drivers started in dependency order, wired together, always torn down.

mod builder;
#[allow(clippy::module_inception)]
mod environment;
mod failure_watch;
mod graph;
mod handle;
mod report_dir_var;
mod run;
mod runpath;
mod signals;
mod ssh_hosts;

pub use builder::EnvironmentBuilder;
pub use environment::Environment;
pub(crate) use failure_watch::FailureWatch;
pub use handle::{DriverName, Handle};
pub use report_dir_var::REPORT_DIR_VAR;
pub(crate) use report_dir_var::report_dir_from_var;
#[cfg(feature = "testing")]
pub(crate) use runpath::default_runpath_root;

pub use signals::StopSignals;
pub(crate) use signals::shutdown_signal;
