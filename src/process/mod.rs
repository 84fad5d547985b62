//! Processes: run daemons and tasks, capture and stream their output, never leak them.
//!
//! - [`Command`] describes what to run (a program and a list of arguments — a shell only with
//!   [`Command::shell`]), as a [`Kind::Daemon`] or a [`Kind::Task`], with a readiness
//!   [`Pattern`] and line callbacks.
//! - [`Process::spawn`] runs it: in a process group of its own, killed with the program that
//!   spawned it (even by `SIGKILL`), its output written to [`LogFiles`] and streamed line by line.
//! - [`ProcessMonitor`] runs several and enforces the daemon/task rules (dummynet parity).
//!
//! # Examples
//!
//! ```no_run
//! use std::time::Duration;
//! use testrig::process::{Command, ProcessMonitor, Progress};
//!
//! # async fn run() -> Result<(), testrig::process::ProcessError> {
//! let mut monitor = ProcessMonitor::new("/tmp/run");
//! monitor.run(Command::new("sleep").arg("1000").daemon()).await?;
//! monitor.run(Command::new("sleep").arg("0.2").task()).await?;
//! assert_eq!(monitor.keep_running(Duration::from_secs(5)).await?, Progress::TasksDone);
//! monitor.stop(true, Duration::from_secs(1)).await?;
//! # Ok(()) }
//! ```

mod command;
mod control;
mod error;
mod exit;
mod group;
mod kind;
mod line_hub;
mod logs;
mod monitor;
mod output;
mod parent_death;
mod pattern;
#[allow(clippy::module_inception)]
mod process;
mod progress;
mod pump;
mod rules;
mod signal;
mod spawn;
mod spawner;
mod splitter;
mod state;
mod stats;
mod stop_report;
mod supervisor;
mod tail;

pub use command::{Command, DEFAULT_TAIL_LINES};
pub use error::ProcessError;
pub use exit::Exit;
pub use kind::Kind;
pub use logs::LogFiles;
pub use monitor::ProcessMonitor;
pub use output::{Line, Stream};
pub use pattern::{Captures, Pattern};
pub use process::Process;
pub use progress::Progress;
pub use signal::Signal;
pub use state::ProcessState;
pub use stats::{ProcessStats, ResourceUsage};
pub use stop_report::{StopReport, StoppedProcess};
pub use tail::{Tail, TailLine};
