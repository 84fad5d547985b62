//! Spawning a [`Command`]: log files, process group, cgroup, parent-death signal, output pumps,
//! supervisor.

use std::fs::File;
use std::io;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use tokio::runtime::Handle;

use super::cgroup::{self, Cgroup};
use super::containment::Containment;
use super::control::Control;
use super::group::ProcessGroup;
use super::line_hub::LineHub;
use super::logs::LogFiles;
use super::parts::Parts;
use super::pump::pump;
use super::relay::Relay;
use super::remote;
use super::supervisor::supervise;
use super::{
    Command, ProcessError, SPAWN_MARKER_VAR, Stream, default_signals, parent_death, spawner,
};

/// Spawns `command` with its logs in `runpath`; see `Process::spawn`.
pub(crate) async fn spawn(command: Command, runpath: &Path) -> Result<Parts, ProcessError> {
    let name = command.display_name();
    let runtime =
        Handle::try_current().map_err(|_| ProcessError::NoRuntime { name: name.clone() })?;
    let marker = spawn_marker();
    // On an SSH host with a resident agent, the agent runs it (see `remote.rs`).
    if let Some(host) = command.get_host().ssh_host() {
        match host.agent(command.get_host()).await {
            Ok(Some(agent)) => {
                let default_dir = host.program_dir(&command);
                return remote::spawn_through(
                    &*agent,
                    command,
                    runpath,
                    &marker,
                    Some(&default_dir),
                )
                .await;
            }
            Ok(None) => {}
            Err(reason) => {
                return Err(ProcessError::RemoteSpawn {
                    name,
                    host: host.name().to_owned(),
                    program: command.program().to_path_buf(),
                    reason: reason.into(),
                });
            }
        }
    }
    // On an SSH host the program runs through a local `ssh` client: that is what is spawned
    // here, its signals relayed to the remote supervisor (see `host/ssh.rs`).
    let remote = command
        .get_host()
        .ssh_host()
        .map(|host| host.local_command(&command, &marker))
        .transpose()
        .map_err(|source| ProcessError::Spawn {
            name: name.clone(),
            program: command.program().to_path_buf(),
            source,
        })?;
    let local = remote.as_ref().unwrap_or(&command);
    if let Some(cwd) = local.get_cwd()
        && !cwd.is_dir()
    {
        return Err(ProcessError::WorkingDirectory {
            name,
            cwd: cwd.to_path_buf(),
        });
    }
    let (logs, stdout_file, stderr_file) = LogFiles::open_for(runpath, &name)?;

    let (cgroup, containment) = contain(local, &name);
    let (cgroup, procs) = cgroup.unzip();
    let mut os = os_command(local, &marker, procs);
    if remote.is_some() {
        os.stdin(Stdio::piped());
    }
    let spawned = match command.get_host().prepare_tokio(&mut os) {
        Ok(()) => spawner::spawn(os, runtime).await,
        // The host's network is stopped: there is nowhere to run it.
        Err(error) => Err(io::Error::new(
            io::ErrorKind::NotConnected,
            format!("host `{}`: {error}", command.get_host().name()),
        )),
    };
    if spawned.is_err()
        && let Some(cgroup) = &cgroup
    {
        let _ = cgroup.remove(Instant::now());
    }
    let spawner::Spawned {
        mut child,
        forked_at,
    } = spawned.map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => ProcessError::ProgramNotFound {
            name: name.clone(),
            program: local.program().to_path_buf(),
        },
        _ => ProcessError::Spawn {
            name: name.clone(),
            program: local.program().to_path_buf(),
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
    let mut control = Control::new(ProcessGroup::led_by(pid), cgroup);
    if let Some(stdin) = child.stdin.take() {
        let pipe = stdin
            .into_owned_fd()
            .map_err(|source| ProcessError::Spawn {
                name: name.clone(),
                program: local.program().to_path_buf(),
                source,
            })?;
        control = control.with_relay(Relay::new(pipe));
    }
    let control = Arc::new(control);
    if let Some(host) = command.get_host().ssh_host() {
        host.track_client(&control);
    }
    supervise(child, control.clone(), pumps, marker);
    tracing::debug!(process = %name, pid, %containment, "spawned");
    Ok(Parts {
        forked_at,
        name,
        pid,
        command,
        logs,
        control,
        hub,
        containment,
    })
}

/// A value of [`SPAWN_MARKER_VAR`] unique to this spawn: this program's pid and a number.
fn spawn_marker() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let number = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{}-{number}", std::process::id())
}

/// The cgroup `command` will run in (with its `cgroup.procs` open for the child to enter it), or
/// none, and what holds the program either way. A cgroup that cannot be created is logged and
/// the program is held by its process group.
fn contain(command: &Command, name: &str) -> (Option<(Cgroup, File)>, Containment) {
    if !command.get_cgroup() {
        let why = "cgroup turned off for this command".to_owned();
        return (None, Containment::ProcessGroup(why));
    }
    let session = match cgroup::session() {
        Ok(session) => session,
        Err(why) => {
            let why = format!("cgroup v2 not available: {why}");
            return (None, Containment::ProcessGroup(why));
        }
    };
    match session.create_cgroup(name) {
        Ok((cgroup, procs)) => {
            let containment = Containment::Cgroup(cgroup.dir().to_path_buf());
            (Some((cgroup, procs)), containment)
        }
        Err(error) => {
            tracing::warn!(process = %name, %error, "cannot create a cgroup; using the process group only");
            let why = format!("cannot create its cgroup: {error}");
            (None, Containment::ProcessGroup(why))
        }
    }
}

/// The OS command for `command`: no shell, stdin closed, output piped, a process group of its
/// own, the spawn marker, its cgroup entered before `exec` (through `procs`, its open
/// `cgroup.procs`, which the OS command owns), and death with the program that spawned it.
fn os_command(command: &Command, marker: &str, procs: Option<File>) -> tokio::process::Command {
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
    os.env(SPAWN_MARKER_VAR, marker);
    os.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        // Backstop if the supervisor is dropped with the runtime: tokio kills the leader.
        .kill_on_drop(true);
    parent_death::die_with_parent(&mut os);
    default_signals::restore_in_child(&mut os);
    if let Some(procs) = procs {
        cgroup::enter_before_exec(&mut os, procs);
    }
    os
}
