//! `Exit`: how a process ended.

use std::fmt;

use super::Signal;

/// How a process ended, telling apart what it did on its own from what testrig asked of it.
///
/// [`Exit::status_code`] gives dummynet's numbers (the exit code, or minus the signal: `-15`, `-9`).
///
/// # Examples
///
/// ```
/// use testrig::process::{Exit, Signal};
///
/// assert_eq!(Exit::Code(0).status_code(), 0);
/// assert_eq!(Exit::Terminated(Signal::TERM).status_code(), -15);
/// assert_eq!(Exit::Killed.status_code(), -9);
/// assert!(Exit::Killed.was_requested());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub enum Exit {
    /// The program exited on its own with this code.
    Code(i32),
    /// The program died of a signal testrig did not send (a crash, the OOM killer, someone else).
    Signaled(Signal),
    /// Asked to stop, the program exited with this code (a graceful shutdown).
    ExitedOnStop(i32),
    /// Asked to stop, the program died of the stop signal (`SIGTERM` unless configured).
    Terminated(Signal),
    /// testrig killed the program with `SIGKILL`: the stop timeout passed, or `kill` was called.
    Killed,
}

impl Exit {
    /// dummynet's status number: the exit code, or minus the signal number
    /// (`-15` for `SIGTERM`, `-9` for `SIGKILL`).
    pub fn status_code(self) -> i32 {
        match self {
            Exit::Code(code) | Exit::ExitedOnStop(code) => code,
            Exit::Signaled(signal) | Exit::Terminated(signal) => -signal.as_raw(),
            Exit::Killed => -Signal::KILL.as_raw(),
        }
    }

    /// Whether the program exited on its own with code 0.
    pub(crate) fn is_success(self) -> bool {
        self == Exit::Code(0)
    }

    /// Whether the program ended because testrig asked it to (stop or kill).
    pub fn was_requested(self) -> bool {
        match self {
            Exit::ExitedOnStop(_) | Exit::Terminated(_) | Exit::Killed => true,
            Exit::Code(_) | Exit::Signaled(_) => false,
        }
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Code(code) => write!(f, "exited with code {code}"),
            Exit::Signaled(signal) => write!(f, "died of {signal}"),
            Exit::ExitedOnStop(code) => write!(f, "exited with code {code} when asked to stop"),
            Exit::Terminated(signal) => write!(f, "terminated by {signal} (the stop signal)"),
            Exit::Killed => f.write_str("killed with SIGKILL by testrig"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signal_death_has_the_negative_dummynet_status_code() {
        assert_eq!(Exit::Signaled(Signal::SEGV).status_code(), -11);
        assert_eq!(Exit::ExitedOnStop(4).status_code(), 4);
    }

    #[test]
    fn an_exit_serializes_for_reports() {
        let json = serde_json::to_string(&Exit::Terminated(Signal::TERM)).unwrap();
        assert_eq!(json, r#"{"Terminated":"SIGTERM"}"#);
    }

    #[test]
    fn only_exits_caused_by_testrig_are_requested() {
        assert!(Exit::Terminated(Signal::INT).was_requested());
        assert!(!Exit::Signaled(Signal::TERM).was_requested());
        assert!(!Exit::Code(0).was_requested());
    }
}
