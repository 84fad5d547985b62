//! Programs run elsewhere by an agent (an SSH host's resident `testrig agent`): what the agent
//! gives back for one, and how it becomes a [`Process`](super::Process).
//!
//! The agent streams the program's output, which arrives here in local pipes read by the usual
//! pumps (log files, lines, readiness, captures, tails); its end arrives as an exit status;
//! signals are requests to the agent, which sends them to the program's group there. No local
//! pid is ever signalled for it, and it has no local process group, cgroup or guardian entry:
//! the agent kills its groups when its channel ends, however the test ends.

use std::path::Path;
use std::process::ExitStatus;
use std::sync::Arc;
use std::time::Instant;

use tokio::io::AsyncRead;
use tokio::sync::oneshot;

use super::containment::Containment;
use super::control::{Control, RemoteSignals};
use super::line_hub::LineHub;
use super::logs::LogFiles;
use super::parts::Parts;
use super::pump::pump;
use super::supervisor::supervise_remote;
use super::{Command, ProcessError, Stream};

/// What an agent started.
pub(crate) struct RemoteChild {
    /// Its pid on the remote host (its process group's id there).
    pub(crate) pid: u32,
    /// When the agent said it started.
    pub(crate) spawned_at: Instant,
    pub(crate) stdout: Box<dyn AsyncRead + Unpin + Send>,
    pub(crate) stderr: Box<dyn AsyncRead + Unpin + Send>,
    /// Its end; a dropped sender counts as a lost channel (status 255, as `ssh` says).
    pub(crate) exit: oneshot::Receiver<ExitStatus>,
    pub(crate) signals: Box<dyn RemoteSignals>,
}

/// What starts programs elsewhere and supervises them there: an SSH host's resident agent.
pub(crate) trait Agent {
    /// The name of the host it runs on.
    fn host_name(&self) -> &str;

    /// Starts `command` (its working directory, else `default_dir`, made first; with the spawn
    /// marker) and waits for the agent's answer.
    fn spawn(
        &self,
        command: &Command,
        marker: &str,
        default_dir: Option<&Path>,
    ) -> impl std::future::Future<Output = Result<RemoteChild, RemoteFailure>> + Send;
}

/// Why an agent did not start a program.
#[derive(Debug)]
pub(crate) enum RemoteFailure {
    /// The program is neither a path to a file there nor in the agent's `PATH`.
    NotFound(String),
    /// The working directory is not a directory there.
    NoDirectory(String),
    /// Anything else, in the agent's or the connection's words.
    Other(String),
}

/// Spawns `command` through `agent`, its logs in `runpath`; see `Process::spawn`.
pub(crate) async fn spawn_through(
    agent: &impl Agent,
    command: Command,
    runpath: &Path,
    marker: &str,
    default_dir: Option<&Path>,
) -> Result<Parts, ProcessError> {
    let name = command.display_name();
    let (logs, stdout_file, stderr_file) = LogFiles::open_for(runpath, &name)?;
    let child = agent
        .spawn(&command, marker, default_dir)
        .await
        .map_err(|failure| {
            let reason = match failure {
                RemoteFailure::NotFound(said) => format!(
                    "program not found there (neither a path to a file nor in its PATH: {said})"
                ),
                RemoteFailure::NoDirectory(said) => format!("working directory {said}"),
                RemoteFailure::Other(said) => said,
            };
            ProcessError::RemoteSpawn {
                name: name.clone(),
                host: agent.host_name().to_owned(),
                program: command.program().to_path_buf(),
                reason: reason.into(),
            }
        })?;
    let hub = Arc::new(LineHub::new(&command));
    let pumps = vec![
        pump(child.stdout, stdout_file, Stream::Stdout, hub.clone()),
        pump(child.stderr, stderr_file, Stream::Stderr, hub.clone()),
    ];
    let control = Arc::new(Control::remote(child.signals));
    supervise_remote(child.exit, control.clone(), pumps);
    let host = agent.host_name();
    tracing::debug!(process = %name, host, pid = child.pid, "spawned through the agent");
    Ok(Parts {
        forked_at: child.spawned_at,
        name,
        pid: child.pid,
        command,
        logs,
        control,
        hub,
        containment: Containment::ProcessGroup(format!(
            "runs on SSH host `{host}`, in a process group of its own there (pid {})",
            child.pid
        )),
    })
}
