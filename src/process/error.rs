//! `ProcessError`: everything that can go wrong with a process, naming the process.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use super::{Exit, Signal, Tail};

/// An error about a process. Each names the process (the name given to its
/// [`Command`](super::Command), else the program's file name) and, once it ran, carries the
/// [`Tail`] of its output.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProcessError {
    /// A regex given for a [`Pattern`](super::Pattern) does not compile.
    #[error("invalid pattern `{pattern}`")]
    InvalidPattern {
        /// The regex as given.
        pattern: String,
        /// Why it does not compile.
        #[source]
        source: regex::Error,
    },

    /// Spawning needs a tokio runtime (to read the output and wait for the exit).
    #[error("process `{name}`: spawn must be called from within a tokio runtime")]
    NoRuntime {
        /// The process.
        name: String,
    },

    /// The program does not exist (not a path to a file, nor a name found in `PATH`).
    #[error("process `{name}`: program `{}` not found (neither a path to a file nor in PATH)", program.display())]
    ProgramNotFound {
        /// The process.
        name: String,
        /// The program as given.
        program: PathBuf,
    },

    /// An SSH host's agent did not start the program: not found there, its working directory
    /// missing there, or the connection lost.
    #[error("process `{name}`: cannot start `{}` on host `{host}`: {reason}", program.display())]
    RemoteSpawn {
        /// The process.
        name: String,
        /// The SSH host.
        host: String,
        /// The program as given.
        program: PathBuf,
        /// Why, in the agent's or the connection's words.
        reason: Box<str>,
    },

    /// The working directory set with [`Command::cwd`](super::Command::cwd) is not a directory.
    #[error("process `{name}`: working directory {} is not a directory", cwd.display())]
    WorkingDirectory {
        /// The process.
        name: String,
        /// The directory as given.
        cwd: PathBuf,
    },

    /// The program could not be started for another reason (not executable, …).
    #[error("process `{name}`: cannot start `{}`", program.display())]
    Spawn {
        /// The process.
        name: String,
        /// The program as given.
        program: PathBuf,
        /// What the OS said.
        #[source]
        source: io::Error,
    },

    /// The log files could not be created in the runpath.
    #[error("process `{name}`: cannot create its log file {}", path.display())]
    Logs {
        /// The process.
        name: String,
        /// The file or directory that failed.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: io::Error,
    },

    /// A monitor already runs a process with this explicit name.
    #[error("process `{name}`: the monitor already runs a process with this name")]
    DuplicateName {
        /// The name.
        name: String,
    },

    /// A daemon ended while it should have kept running.
    #[error("daemon `{name}` (pid {pid}) {exit} while it should keep running\n{tail}")]
    DaemonExited {
        /// The process.
        name: String,
        /// Its pid.
        pid: u32,
        /// How it ended.
        exit: Exit,
        /// Its last output lines.
        tail: Tail,
    },

    /// A task ended with an exit code other than 0, or died of a signal.
    #[error("task `{name}` (pid {pid}) failed: {exit}\n{tail}")]
    TaskFailed {
        /// The process.
        name: String,
        /// Its pid.
        pid: u32,
        /// How it ended.
        exit: Exit,
        /// Its last output lines.
        tail: Tail,
    },

    /// A task ran longer than its timeout.
    #[error("task `{name}` (pid {pid}) still running after its timeout of {timeout:?}\n{tail}")]
    TaskTimedOut {
        /// The process.
        name: String,
        /// Its pid.
        pid: u32,
        /// The timeout it had.
        timeout: Duration,
        /// Its last output lines.
        tail: Tail,
    },

    /// `keep_running` was asked to wait with daemons only: it could never finish.
    #[error(
        "keep_running has only daemons to watch ({}) and no task whose end it could wait for",
        daemons.join(", ")
    )]
    OnlyDaemons {
        /// The daemons' names.
        daemons: Vec<String>,
    },

    /// No output line matched the awaited pattern in time.
    #[error(
        "process `{name}` (pid {pid}) printed no line matching {pattern} within {waited:?}\n{tail}"
    )]
    LineTimeout {
        /// The process.
        name: String,
        /// Its pid.
        pid: u32,
        /// The pattern, with the stream(s) it watches.
        pattern: String,
        /// How long it was waited for.
        waited: Duration,
        /// Its last output lines.
        tail: Tail,
    },

    /// The process ended before any line matched the awaited pattern.
    #[error(
        "process `{name}` (pid {pid}) {exit} before printing a line matching {pattern}\n{tail}"
    )]
    ExitedBeforeLine {
        /// The process.
        name: String,
        /// Its pid.
        pid: u32,
        /// The pattern, with the stream(s) it watches.
        pattern: String,
        /// How it ended.
        exit: Exit,
        /// Its last output lines.
        tail: Tail,
    },

    /// The process did not end within the time it was waited for.
    #[error("process `{name}` (pid {pid}) still running after {waited:?}\n{tail}")]
    StillRunning {
        /// The process.
        name: String,
        /// Its pid.
        pid: u32,
        /// How long it was waited for.
        waited: Duration,
        /// Its last output lines.
        tail: Tail,
    },

    /// Even `SIGKILL` did not end the process in time (it may be stuck in the kernel).
    #[error("process `{name}` (pid {pid}) still alive {waited:?} after SIGKILL")]
    Unkillable {
        /// The process.
        name: String,
        /// Its pid.
        pid: u32,
        /// How long the end was waited for after `SIGKILL`.
        waited: Duration,
    },

    /// `pause`/`resume` on a process that has already ended.
    #[error("process `{name}` (pid {pid}): cannot {action}: it {exit}")]
    NotRunning {
        /// The process.
        name: String,
        /// Its pid.
        pid: u32,
        /// What was attempted.
        action: &'static str,
        /// How it ended.
        exit: Exit,
    },

    /// `pause`/`resume` on a process that is being stopped or killed.
    #[error("process `{name}` (pid {pid}): cannot {action}: it is being stopped")]
    Ending {
        /// The process.
        name: String,
        /// Its pid.
        pid: u32,
        /// What was attempted.
        action: &'static str,
    },

    /// A signal could not be sent to the process group.
    #[error("process `{name}` (pid {pid}): cannot send {signal} to its process group")]
    Signal {
        /// The process.
        name: String,
        /// Its pid (and process group id).
        pid: u32,
        /// The signal.
        signal: Signal,
        /// What the OS said.
        #[source]
        source: io::Error,
    },

    /// Writing to the program's cgroup failed (`freeze`, `thaw`, `kill`), or waiting on it did.
    #[error("process `{name}` (pid {pid}): cannot {action} its cgroup {}", cgroup.display())]
    Cgroup {
        /// The process.
        name: String,
        /// Its pid.
        pid: u32,
        /// What was attempted (`freeze`, `thaw`, `kill`, `pause`, `resume`).
        action: &'static str,
        /// The cgroup's directory.
        cgroup: PathBuf,
        /// What the OS said.
        #[source]
        source: io::Error,
    },

    /// The cgroup did not report itself frozen (or thawed) in time after `pause` (or `resume`).
    #[error(
        "process `{name}` (pid {pid}): cannot {action}: its cgroup did not report the change within {waited:?}"
    )]
    FreezeTimeout {
        /// The process.
        name: String,
        /// Its pid.
        pid: u32,
        /// `pause` or `resume`.
        action: &'static str,
        /// How long the change was waited for.
        waited: Duration,
    },

    /// Several processes broke the rules at once (reported by `stop`).
    #[error("{} processes failed:\n{}", errors.len(), errors.iter().map(|error| crate::error::full_message(error)).collect::<Vec<_>>().join("\n"))]
    Many {
        /// Every error, in the order of the processes.
        errors: Vec<ProcessError>,
    },
}

impl ProcessError {
    /// One error for a list of them: `None` for none, the error itself for one, else `Many`.
    pub(crate) fn combine(mut errors: Vec<ProcessError>) -> Option<ProcessError> {
        match errors.len() {
            0 => None,
            1 => errors.pop(),
            _ => Some(ProcessError::Many { errors }),
        }
    }
}
