use std::fmt;

use testrig::process::{Exit, Kind};

/// What an [`App`](super::App)'s program is expected to do once started.
///
/// An end testrig asked for (stop, kill) is always accepted.
///
/// # Examples
/// ```
/// use testrig_drivers::app::{App, Expectation};
///
/// let task = App::shell("migrate", "echo applied").expect_exit(0);
/// assert_eq!(task.expectation(), Expectation::ExitsWith(0));
/// assert_eq!(App::new("web", "my-server").expectation(), Expectation::KeepsRunning);
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

    #[test]
    fn a_kill_testrig_asked_for_is_accepted_and_an_exit_of_a_daemon_is_not() {
        assert!(Expectation::KeepsRunning.accepts(Exit::Killed));
        assert!(!Expectation::KeepsRunning.accepts(Exit::Code(0)));
        assert!(Expectation::ExitsWith(3).accepts(Exit::Code(3)));
        assert!(!Expectation::ExitsWith(3).accepts(Exit::Code(0)));
    }
}
