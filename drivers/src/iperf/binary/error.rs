//! What can go wrong running the real `iperf3`.

use std::path::PathBuf;
use std::time::Duration;

use testrig::process::{Exit, ProcessError, Tail};

use crate::iperf::result::Iperf3JsonError;

/// An error of the iperf3-binary engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Iperf3BinaryError {
    /// The program is not installed (or the configured path does not exist).
    #[error(
        "the iperf3 program `{}` was not found: install the `iperf3` package \
         (Debian/Ubuntu: `sudo apt-get install iperf3`), point the engine at the binary, \
         or use the native engine, which needs no binary",
        program.display()
    )]
    NotInstalled {
        /// The program as configured.
        program: PathBuf,
    },
    /// Spawning, waiting for or stopping the process failed.
    #[error(transparent)]
    Process(#[from] ProcessError),
    /// The client ran but its output is not a usable result: truncated or garbage JSON,
    /// or iperf3's own `error` key.
    #[error("iperf3 client {exit}: {source}{}", stderr_note(stderr))]
    Output {
        /// How the program ended.
        exit: Exit,
        /// What was wrong with the output (it quotes iperf3's error text).
        #[source]
        source: Iperf3JsonError,
        /// The last lines it printed on stderr.
        stderr: Vec<String>,
    },
    /// Its stdout log could not be read back.
    #[error("cannot read iperf3's output file {}: {source}", path.display())]
    ReadOutput {
        /// The log file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The client did not finish within its deadline; it was stopped.
    #[error("iperf3 client (pid {pid}) did not finish within {after:?}; it was stopped\n{tail}")]
    Timeout {
        /// Its pid.
        pid: u32,
        /// The deadline.
        after: Duration,
        /// Its last output lines.
        tail: Tail,
    },
    /// Every port tried for the server was in use.
    #[error(
        "iperf3 server could not listen on {host}: {tried} was already in use \
         ({attempts} attempt(s))"
    )]
    AddressInUse {
        /// The address it binds.
        host: String,
        /// The ports tried, e.g. `port 5201` or `ports 40001, 40007`.
        tried: String,
        /// How many spawns were tried.
        attempts: u32,
    },
    /// No free port could be found to give iperf3.
    #[error("cannot find a free port on {host} for iperf3: {source}")]
    NoFreePort {
        /// The address.
        host: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

fn stderr_note(lines: &[String]) -> String {
    lines
        .iter()
        .map(|line| format!("\n  stderr| {line}"))
        .collect()
}
