use std::fmt;

use testrig::process::{Exit, Kind};

/// What an [`App`](super::App)'s program is expected to do once started.
///
/// # Examples
/// ```
/// use testrig::process::Exit;
/// use testrig_drivers::app::Expectation;
///
/// assert!(Expectation::KeepsRunning.accepts(Exit::Killed)); // testrig asked for it
/// assert!(!Expectation::KeepsRunning.accepts(Exit::Code(0)));
/// assert!(Expectation::ExitsWith(3).accepts(Exit::Code(3)));
/// assert!(!Expectation::ExitsWith(3).accepts(Exit::Code(0)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[non_exhaustive]
pub enum Expectation {
    /// A daemon: it must run until stopped; any exit on its own, even with code 0,
    /// is a death (the default).
    #[default]
    KeepsRunning,
    /// A task: it is expected to exit on its own with this code; any other end is
    /// a death.
    ExitsWith(i32),
}

impl Expectation {
    /// Whether a program that ended with `exit` did what was expected. An end
    /// testrig asked for (stop, kill) is always accepted.
    pub(super) fn accepts(self, exit: Exit) -> bool {
        if exit.was_requested() {
            return true;
        }
        match self {
            Expectation::KeepsRunning => false,
            Expectation::ExitsWith(code) => exit == Exit::Code(code),
        }
    }

    /// The process kind it corresponds to (for process statistics).
    pub(super) fn kind(self) -> Kind {
        match self {
            Expectation::KeepsRunning => Kind::Daemon,
            Expectation::ExitsWith(_) => Kind::TASK,
        }
    }
}

impl fmt::Display for Expectation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expectation::KeepsRunning => f.write_str("keeps running until stopped"),
            Expectation::ExitsWith(code) => write!(f, "exits with code {code}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use testrig::process::Signal;

    use super::*;

    #[test]
    fn a_daemon_accepts_only_ends_testrig_asked_for() {
        let daemon = Expectation::KeepsRunning;
        assert!(daemon.accepts(Exit::Terminated(Signal::TERM)));
        assert!(daemon.accepts(Exit::ExitedOnStop(1)));
        assert!(!daemon.accepts(Exit::Signaled(Signal::SEGV)));
    }

    #[test]
    fn a_task_accepts_its_exit_code_only() {
        let task = Expectation::ExitsWith(0);
        assert!(task.accepts(Exit::Code(0)));
        assert!(!task.accepts(Exit::Code(1)));
        assert!(!task.accepts(Exit::Signaled(Signal::KILL)));
    }
}
