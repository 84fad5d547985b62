//! Processes: run daemons and tasks, capture and stream their output, never leak them.
//!
//! - [`Command`] describes what to run (a program and a list of arguments — a shell only with
//!   [`Command::shell`]), as a [`Kind::Daemon`] or a [`Kind::Task`], with a readiness
//!   [`Pattern`] and line callbacks.
//! - [`Process::spawn`] runs it: in a process group of its own, killed with the program that
//!   spawned it (even by `SIGKILL`), its output written to log files ([`Process::log_file`]) and
//!   streamed line by line; [`Process::stats`] is one snapshot of it.
//! - [`ProcessMonitor`] runs several and enforces the daemon/task rules (dummynet parity).
//!
//! # What testrig guarantees, and where that ends
//!
//! - **Whole groups.** Every program leads a process group of its own; stop, kill, pause and
//!   resume signal the whole group, so a shell script's background children get them too.
//! - **Nothing left behind when a program ends.** When the program exits, whatever it left
//!   running in its group is killed at once (`SIGKILL`). After that the group is never signalled
//!   again, so a recycled process-group id can never be hit.
//! - **Nothing outlives the test program.** Children are armed with `PR_SET_PDEATHSIG(SIGKILL)`,
//!   so they die with the program that spawned them, even when it is killed with `SIGKILL`. The
//!   kernel fires that signal when the *thread* that forked the child exits, so testrig forks
//!   every child from one thread that lives as long as the program (tokio's blocking-pool
//!   threads and `#[tokio::test]` threads end much earlier), and the child checks `getppid()`
//!   after arming the signal to close the race with a parent that died during the fork.
//!   Grandchildren do not inherit that signal; a guardian process (a `/bin/sh` loop reading a
//!   pipe only this program writes) sends `SIGKILL` to every group still running when the pipe
//!   reaches end-of-file, i.e. when the program ends however it ends (see `guardian.rs`).
//! - **cgroups.** Where cgroup v2 is writable, each program also runs in a cgroup of its own,
//!   entered before `exec`: its end, a kill and the guardian reach every descendant through
//!   `cgroup.kill` — even one that left the process group (`setsid`) — pause freezes the cgroup,
//!   and the CPU time of the whole tree is measured (see [`Process::cgroup`]).
//! - **Limits.** Without a cgroup, a descendant that leaves the group (`setsid`, `setpgid`)
//!   escapes group signals and the guardian, so it may outlive the test: it is looked for (by the
//!   [`SPAWN_MARKER_VAR`] it inherits) after the program ends, logged and reported as a
//!   [`Survivor`]. The parent-death signal is also cleared by the kernel when a set-user-ID
//!   program is run.
//! - **Output.** Both pipes are read continuously into the log files (never truncated, never
//!   blocking the program) and cut into lines as they arrive: callbacks, readiness patterns and
//!   line waits are resolved by the lines themselves, and `Exited` is reported only after the
//!   last line (the end of the output is awaited at most 500 ms after the program's end).
//!
//! # Examples
//!
//! ```no_run
//! use std::time::Duration;
//! use testrig::process::{Command, ProcessMonitor};
//!
//! # async fn run() -> Result<(), testrig::process::ProcessError> {
//! let mut monitor = ProcessMonitor::new("/tmp/run");
//! monitor.run(Command::new("sleep").arg("1000").daemon()).await?;
//! monitor.run(Command::new("sleep").arg("0.2")).await?; // a task, the default kind
//! let still_running = monitor.keep_running(Duration::from_secs(5)).await?;
//! assert!(!still_running);
//! monitor.stop(true, Duration::from_secs(1)).await?;
//! # Ok(()) }
//! ```

mod cgroup;
mod command;
mod containment;
mod control;
mod default_signals;
mod error;
mod exit;
mod group;
mod guardian;
mod kind;
mod line_hub;
mod logs;
mod monitor;
mod output;
mod parent_death;
mod parts;
mod pattern;
#[allow(clippy::module_inception)]
mod process;
mod pump;
mod relay;
mod remote;
mod rules;
mod signal;
mod spawn;
mod spawner;
mod splitter;
mod state;
mod stats;
mod supervisor;
mod survivor;
pub(crate) mod tail;

pub use cgroup::CGROUP_VAR;
#[cfg(feature = "testing")]
pub(crate) use cgroup::frozen_pid;
pub use command::{Command, DEFAULT_TAIL_LINES};
pub(crate) use control::{Control, RemoteSignals};
pub use error::ProcessError;
pub use exit::Exit;
pub use kind::Kind;
pub use monitor::ProcessMonitor;
pub(crate) use output::Line;
pub use output::Stream;
pub use pattern::{Captures, Pattern};
pub use process::Process;
pub(crate) use remote::{Agent as RemoteAgent, RemoteChild, RemoteFailure};
pub use signal::Signal;
pub use state::ProcessState;
pub use stats::ProcessStats;
pub use survivor::{SPAWN_MARKER_VAR, Survivor};
pub use tail::Tail;
