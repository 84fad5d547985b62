//! `Signal`: a POSIX signal number with a readable name.

use std::fmt;

/// A POSIX signal, as sent by [`Process::stop`](super::Process::stop),
/// [`Process::pause`](super::Process::pause) and friends, or as received by a process that died of it.
///
/// Displays as its name (`SIGTERM`) when it has a common one, else as `signal 42`.
///
/// # Examples
///
/// ```
/// use testrig::process::Signal;
///
/// assert_eq!(Signal::TERM.to_string(), "SIGTERM");
/// assert_eq!(Signal::from_raw(9), Signal::KILL);
/// assert_eq!(Signal::KILL.as_raw(), 9);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signal(i32);

impl Signal {
    /// `SIGHUP`: hang-up; many daemons reload on it.
    pub const HUP: Signal = Signal(libc::SIGHUP);
    /// `SIGINT`: what Ctrl-C sends.
    pub const INT: Signal = Signal(libc::SIGINT);
    /// `SIGQUIT`: quit with a core dump.
    pub const QUIT: Signal = Signal(libc::SIGQUIT);
    /// `SIGABRT`: abort (what `abort()` raises).
    pub const ABRT: Signal = Signal(libc::SIGABRT);
    /// `SIGKILL`: cannot be caught or ignored.
    pub const KILL: Signal = Signal(libc::SIGKILL);
    /// `SIGSEGV`: invalid memory access.
    pub const SEGV: Signal = Signal(libc::SIGSEGV);
    /// `SIGPIPE`: write to a pipe nobody reads.
    pub const PIPE: Signal = Signal(libc::SIGPIPE);
    /// `SIGTERM`: the polite request to end; the default stop signal.
    pub const TERM: Signal = Signal(libc::SIGTERM);
    /// `SIGUSR1`: user-defined.
    pub const USR1: Signal = Signal(libc::SIGUSR1);
    /// `SIGUSR2`: user-defined.
    pub const USR2: Signal = Signal(libc::SIGUSR2);
    /// `SIGSTOP`: freeze (cannot be caught); what [`Process::pause`](super::Process::pause) sends
    /// to a program without a cgroup (one with a cgroup is frozen with `cgroup.freeze`).
    pub const STOP: Signal = Signal(libc::SIGSTOP);
    /// `SIGCONT`: continue after `SIGSTOP`; what [`Process::resume`](super::Process::resume) sends
    /// to a program without a cgroup.
    pub const CONT: Signal = Signal(libc::SIGCONT);

    /// The signal with this number.
    pub const fn from_raw(number: i32) -> Signal {
        Signal(number)
    }

    /// The signal's number.
    pub const fn as_raw(self) -> i32 {
        self.0
    }

    /// The conventional name (`"SIGTERM"`), if the signal has a common one.
    pub fn name(self) -> Option<&'static str> {
        let name = match self.0 {
            libc::SIGHUP => "SIGHUP",
            libc::SIGINT => "SIGINT",
            libc::SIGQUIT => "SIGQUIT",
            libc::SIGILL => "SIGILL",
            libc::SIGTRAP => "SIGTRAP",
            libc::SIGABRT => "SIGABRT",
            libc::SIGBUS => "SIGBUS",
            libc::SIGFPE => "SIGFPE",
            libc::SIGKILL => "SIGKILL",
            libc::SIGUSR1 => "SIGUSR1",
            libc::SIGSEGV => "SIGSEGV",
            libc::SIGUSR2 => "SIGUSR2",
            libc::SIGPIPE => "SIGPIPE",
            libc::SIGALRM => "SIGALRM",
            libc::SIGTERM => "SIGTERM",
            libc::SIGCHLD => "SIGCHLD",
            libc::SIGCONT => "SIGCONT",
            libc::SIGSTOP => "SIGSTOP",
            libc::SIGTSTP => "SIGTSTP",
            libc::SIGXCPU => "SIGXCPU",
            libc::SIGXFSZ => "SIGXFSZ",
            libc::SIGSYS => "SIGSYS",
            _ => return None,
        };
        Some(name)
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "signal {}", self.0),
        }
    }
}

/// Serialized as its display form (`"SIGTERM"`), readable in a report.
impl serde::Serialize for Signal {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signal_serializes_as_its_name() {
        assert_eq!(
            serde_json::to_string(&Signal::TERM).unwrap(),
            r#""SIGTERM""#
        );
    }

    #[test]
    fn a_known_signal_displays_its_name_and_an_unknown_one_its_number() {
        assert_eq!(Signal::STOP.to_string(), "SIGSTOP");
        assert_eq!(Signal::from_raw(64).to_string(), "signal 64");
    }
}
