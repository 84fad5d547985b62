//! `Kind`: whether a process must keep running (daemon) or is expected to finish (task).

use std::fmt;
use std::time::Duration;

/// What a [`ProcessMonitor`](super::ProcessMonitor) expects of a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Kind {
    /// Must keep running for the whole test: any exit, even with code 0, is an error.
    Daemon,
    /// Expected to exit: an exit code other than 0 is an error, and so is running past `timeout`.
    Task {
        /// How long the task may run, counted from its spawn; `None` for no limit.
        timeout: Option<Duration>,
    },
}

impl Kind {
    /// A task with no time limit (the default kind of a [`Command`](super::Command)).
    pub const TASK: Kind = Kind::Task { timeout: None };
}

impl Default for Kind {
    fn default() -> Kind {
        Kind::TASK
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Daemon => "daemon",
            Kind::Task { .. } => "task",
        })
    }
}
