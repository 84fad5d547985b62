//! Spawning a [`Command`]: log files, process group, parent-death signal, output pumps, supervisor.

use std::io;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;

use tokio::runtime::Handle;

use super::control::Control;
use super::group::ProcessGroup;
use super::line_hub::LineHub;
use super::process::Parts;
use super::pump::pump;
use super::supervisor::supervise;
use super::{
    Command, LogFiles, Process, ProcessError, Stream, default_signals, parent_death, spawner,
};

/// Spawns `command` with its logs in `runpath`; see [`Process::spawn`].
pub(crate) async fn spawn(command: Command, runpath: &Path) -> Result<Process, ProcessError> {
    let name = command.display_name();
    let runtime =
        Handle::try_current().map_err(|_| ProcessError::NoRuntime { name: name.clone() })?;
    if let Some(cwd) = command.get_cwd()
        && !cwd.is_dir()
    {
        return Err(ProcessError::WorkingDirectory {
            name,
            cwd: cwd.to_path_buf(),
        });
    }
    let logs = LogFiles::in_runpath(runpath, &name);
    let (stdout_file, stderr_file) =
        logs.create().map_err(|(path, source)| ProcessError::Logs {
            name: name.clone(),
            path,
            source,
        })?;

    let spawner::Spawned {
        mut child,
        forked_at,
    } = spawner::spawn(os_command(&command), runtime)
        .await
        .map_err(|source| match source.kind() {
            io::ErrorKind::NotFound => ProcessError::ProgramNotFound {
                name: name.clone(),
                program: command.program().to_path_buf(),
            },
            _ => ProcessError::Spawn {
                name: name.clone(),
                program: command.program().to_path_buf(),
                source,
            },
        })?;
    let pid = child
        .id()
        .expect("a child that was not waited for has a pid");
    let hub = Arc::new(LineHub::new(&command));
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    let pumps = vec![
        pump(stdout, stdout_file, Stream::Stdout, hub.clone()),
        pump(stderr, stderr_file, Stream::Stderr, hub.clone()),
    ];
    let control = Arc::new(Control::new(ProcessGroup::led_by(pid)));
    supervise(child, control.clone(), pumps);
    tracing::debug!(process = %name, pid, "spawned");
    Ok(Process::new(Parts {
        forked_at,
        name,
        pid,
        command,
        logs,
        control,
        hub,
    }))
}

/// The OS command for `command`: no shell, stdin closed, output piped, a process group of its
/// own, and death with the program that spawned it.
fn os_command(command: &Command) -> tokio::process::Command {
    let mut os = tokio::process::Command::new(command.program());
    os.args(command.get_args());
    if let Some(cwd) = command.get_cwd() {
        os.current_dir(cwd);
    }
    for (key, value) in command.get_env() {
        match value {
            Some(value) => os.env(key, value),
            None => os.env_remove(key),
        };
    }
    os.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        // Backstop if the supervisor is dropped with the runtime: tokio kills the leader.
        .kill_on_drop(true);
    parent_death::die_with_parent(&mut os);
    default_signals::restore_in_child(&mut os);
    os
}
