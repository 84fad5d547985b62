use std::path::PathBuf;
use std::time::Duration;

use testrig::BuildError;
use testrig::process::{Exit, ProcessError, Signal, Tail};

use super::Expectation;

/// What went wrong with an [`App`](super::App), naming the driver and, for bad
/// settings, the field and the value.
///
/// Errors returned through the lifecycle engine (start, readiness, stop) carry no
/// output tail of their own: the engine appends the driver's log tail to them.
/// Errors returned by the `App`'s own methods ([`App::wait_exit`](super::App::wait_exit))
/// carry the tail themselves.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// A readiness regex that does not compile.
    #[error("driver `{driver}`: {field} `{value}` is not a valid regex")]
    InvalidRegex {
        /// The driver.
        driver: String,
        /// The setting (`readiness on stdout`, `readiness on log file`…).
        field: &'static str,
        /// The regex as given.
        value: String,
        /// Why it does not compile.
        #[source]
        source: regex::Error,
    },

    /// A readiness regex with a named group the driver exports itself.
    #[error(
        "driver `{driver}`: {field} `{value}` has a group named `{group}`, a name the driver exports itself"
    )]
    ReservedGroup {
        /// The driver.
        driver: String,
        /// The setting.
        field: &'static str,
        /// The regex as given.
        value: String,
        /// The group name.
        group: String,
    },

    /// An argument or environment value with a malformed `${driver.key}` placeholder.
    #[error("driver `{driver}`: {field} is not a valid template")]
    InvalidTemplate {
        /// The driver.
        driver: String,
        /// The setting (`arg 2`, `env PORT`).
        field: String,
        /// Why it does not parse (it quotes the value).
        #[source]
        source: Box<BuildError>,
    },

    /// A placeholder whose value could not be found when the driver started.
    #[error("driver `{driver}`: {field} `{value}` cannot be resolved")]
    Unresolved {
        /// The driver.
        driver: String,
        /// The setting (`arg 2`, `env PORT`).
        field: String,
        /// The template as given.
        value: String,
        /// Why the reference did not resolve.
        #[source]
        source: Box<testrig::Error>,
    },

    /// The binary does not exist (not a path to a file, nor a name found in `PATH`).
    #[error(
        "driver `{driver}`: binary `{}` not found (neither a path to a file nor in PATH)",
        binary.display()
    )]
    BinaryNotFound {
        /// The driver.
        driver: String,
        /// The binary as given.
        binary: PathBuf,
    },

    /// The working directory is not a directory.
    #[error("driver `{driver}`: working directory {} is not a directory", dir.display())]
    WorkingDir {
        /// The driver.
        driver: String,
        /// The directory as given.
        dir: PathBuf,
    },

    /// A file or directory the driver needs could not be prepared or read.
    #[error("driver `{driver}`: cannot {action} {}: {source}", path.display())]
    File {
        /// The driver.
        driver: String,
        /// What was being done (`create the runpath`, `archive the log file`…).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },

    /// The program ended while the driver was starting, before it was ready.
    #[error("driver `{driver}`: the program (pid {pid}) {exit} while starting, before {readiness}")]
    ExitedWhileStarting {
        /// The driver.
        driver: String,
        /// The program's pid.
        pid: u32,
        /// How it ended.
        exit: Exit,
        /// What readiness was waiting for.
        readiness: String,
    },

    /// The program ended otherwise than expected (see [`Expectation`]).
    #[error("driver `{driver}`: the program (pid {pid}) {exit}; expected: it {expected}\n{tail}")]
    UnexpectedExit {
        /// The driver.
        driver: String,
        /// The program's pid.
        pid: u32,
        /// How it ended.
        exit: Exit,
        /// What was expected of it.
        expected: Expectation,
        /// Its last output lines.
        tail: Tail,
    },

    /// The program was still running when the wait for its end gave up.
    #[error("driver `{driver}`: the program (pid {pid}) is still running after {waited:?}\n{tail}")]
    StillRunning {
        /// The driver.
        driver: String,
        /// The program's pid.
        pid: u32,
        /// How long its end was waited for.
        waited: Duration,
        /// Its last output lines.
        tail: Tail,
    },

    /// The program did not end within the stop timeout of the stop signal and was
    /// killed with `SIGKILL` (nothing is left running).
    #[error(
        "driver `{driver}`: the program (pid {pid}) did not exit within {after:?} of {signal} \
         and was killed with SIGKILL"
    )]
    StopTimedOut {
        /// The driver.
        driver: String,
        /// The program's pid.
        pid: u32,
        /// The stop signal that was sent first.
        signal: Signal,
        /// The stop timeout.
        after: Duration,
    },

    /// The driver has no program running (never started, or stopped).
    #[error("driver `{driver}` has no program running")]
    NotStarted {
        /// The driver.
        driver: String,
    },

    /// Any other process error (spawn, signals).
    #[error("driver `{driver}`: its program failed")]
    Process {
        /// The driver.
        driver: String,
        /// The process layer's error.
        #[source]
        source: ProcessError,
    },
}

impl From<AppError> for testrig::Error {
    fn from(error: AppError) -> Self {
        testrig::Error::other(error)
    }
}
