//! The resident agent: one program per SSH host (`testrig agent`, started once over the
//! connection) that spawns and supervises the host's programs on request, on one channel.
//!
//! sshd sets up a session for each channel (a fork, the login's environment, a shell): about
//! a tenth of a second, which a channel per program pays at every start. Through the agent a
//! start is one request and one answer on a channel that is already open.
//!
//! - [`serve`] is the agent (what `testrig agent` runs there): requests on stdin, events on
//!   stdout, framed as `protocol.rs` documents. It spawns each program in a session and
//!   process group of its own (`setsid`), stdin `/dev/null`; streams its stdout and stderr; sends
//!   signals by name to its group; when it ends, kills what it left in its group and reports
//!   its status. At end-of-file on stdin — the channel is gone: the test ended however it ended,
//!   the connection dropped, the sshd session died — it kills every group it started with
//!   `SIGKILL` and exits.
//! - The client (`client.rs`) is an `ssh` client over the host's master running the agent,
//!   and two tasks: one writes requests, one routes the agent's events to each program's pumps
//!   (in-memory pipes), its start and its end.
//! - [`SshAgent`] chooses, on the builder, whether a host has one.

mod client;
mod protocol;
mod serve;

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub(crate) use client::{AgentClient, StartError, Witness};
pub use serve::serve;

use super::builder::{SshAgent, SshBuilder};
use super::control::{ControlDir, client_args};
use super::error::SshError;
use super::install::{cache_name, testrig_binary};
use super::supervisor::{join, quote};
use crate::Host;
use crate::process::Process;

/// The agent a host is to run: a local program, its arguments and environment, and whether
/// connecting fails without it.
#[derive(Debug)]
pub(super) struct Launch {
    program: PathBuf,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    required: bool,
}

impl Launch {
    /// The agent `options` ask for, if any.
    pub(super) fn for_options(options: &SshBuilder) -> Option<Launch> {
        let host = options.host_name();
        match &options.agent {
            SshAgent::Off => None,
            SshAgent::Auto => match testrig_binary() {
                Ok(program) => Some(Launch {
                    program,
                    args: vec!["agent".into()],
                    env: Vec::new(),
                    required: false,
                }),
                Err(error) => {
                    tracing::debug!(host, %error, "no testrig binary for an agent: a channel per program");
                    None
                }
            },
            SshAgent::Program { program, args, env } => Some(Launch {
                program: program.clone(),
                args: args.clone(),
                env: env.clone(),
                required: true,
            }),
        }
    }
}

/// What starting the agent came to.
pub(super) enum Started {
    /// It runs.
    Agent(Box<AgentClient>),
    /// It is not in the host's cache: install it, then start it at its path.
    Missing,
    /// It did not start (said in the log); the host goes without.
    Without,
}

/// The remote side of a start from the cache: runs the agent if the host's cache holds it by
/// content (`$1`, its name there; the directory as `Host::install` puts it), else says so.
const FROM_CACHE: &str = r#"f="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/testrig/bin/$1"
shift
if [ -x "$f" ]; then exec "$f" "$@"; fi
echo testrig-agent-missing
"#;

/// Starts the agent over the master (`master`, its socket and logs in `control`): from `remote`,
/// its path on the host, or without one from the host's cache, where it is found by content
/// in the same channel (no round trip of its own).
pub(super) async fn start(
    launch: &Launch,
    remote: Option<&Path>,
    options: &SshBuilder,
    control: &ControlDir,
    master: &Process,
) -> Result<Started, SshError> {
    let host = options.host_name();
    let started = async {
        let mut words: Vec<OsString> = vec!["exec".into()];
        if !launch.env.is_empty() {
            words.push("env".into());
            for (key, value) in &launch.env {
                let mut pair = key.clone();
                pair.push("=");
                pair.push(value);
                words.push(quote(&pair));
            }
        }
        match remote {
            Some(remote) => words.push(quote(remote.as_os_str())),
            None => {
                let program = launch.program.clone();
                let (name, _) = tokio::task::spawn_blocking(move || cache_name(&program))
                    .await
                    .map_err(|error| StartError::Failed(error.to_string()))?
                    .map_err(|error| StartError::Failed(error.to_string()))?;
                words.extend([
                    "sh".into(),
                    "-c".into(),
                    quote(OsStr::new(FROM_CACHE)),
                    "testrig-agent".into(),
                    quote(OsStr::new(&name)),
                ]);
            }
        }
        words.extend(launch.args.iter().map(|arg| quote(arg)));
        let agent_log = control.path().join("agent.log");
        let stderr = std::fs::File::create(&agent_log).map_err(|error| {
            StartError::Failed(format!("cannot create {}: {error}", agent_log.display()))
        })?;
        let mut ssh = tokio::process::Command::new("ssh");
        ssh.args(client_args(control))
            .args(["-T", "none", "--"])
            .arg(join(&words))
            .stderr(stderr)
            .process_group(0);
        let witness = Witness {
            master: master.clone(),
            master_log: control.log(),
            agent_log,
        };
        AgentClient::start(host, ssh, witness, options.connect_timeout).await
    };
    match started.await {
        Ok((agent, hello)) => {
            tracing::debug!(host, connection = %hello.connection, user = %hello.user, "the agent runs");
            Ok(Started::Agent(Box::new(agent)))
        }
        Err(StartError::Missing) => Ok(Started::Missing),
        Err(StartError::Failed(said)) if launch.required => Err(SshError::Agent {
            host: host.to_owned(),
            program: launch.program.clone(),
            said,
        }),
        Err(StartError::Failed(said)) => {
            tracing::warn!(host, program = %launch.program.display(), %said, "the agent did not start; a channel per program");
            Ok(Started::Without)
        }
    }
}

/// Where a host's agent is.
#[derive(Debug, Clone)]
pub(crate) enum AgentState {
    /// Running: programs go through it.
    Running(Arc<AgentClient>),
    /// None: a channel per program.
    Without,
    /// The agent asked for did not start: why.
    Failed(String),
}

/// Starts the agent on `host` (connected, without one yet): from the host's cache, else
/// installed first.
pub(super) async fn start_on(launch: &Launch, host: &Host, options: &SshBuilder) -> AgentState {
    let ssh = host.ssh_host().expect("an SSH host");
    let started = match start(launch, None, options, &ssh.control, &ssh.master).await {
        Ok(Started::Missing) => match host.install(&launch.program).await {
            Ok(remote) => start(launch, Some(&remote), options, &ssh.control, &ssh.master).await,
            Err(error) if launch.required => Err(SshError::Agent {
                host: options.host_name().to_owned(),
                program: launch.program.clone(),
                said: error.to_string(),
            }),
            Err(error) => {
                tracing::warn!(host = options.host_name(), %error, "the agent could not be installed; a channel per program");
                Ok(Started::Without)
            }
        },
        other => other,
    };
    match started {
        Ok(Started::Agent(agent)) => AgentState::Running(Arc::from(agent)),
        Ok(Started::Missing | Started::Without) => AgentState::Without,
        Err(error) => AgentState::Failed(error.to_string()),
    }
}
