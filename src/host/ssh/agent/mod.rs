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

use std::ffi::OsString;
use std::path::PathBuf;

pub(crate) use client::{AgentClient, Hello, Witness};
pub use serve::serve;

use super::builder::SshBuilder;
use super::error::SshError;
use super::supervisor::{join, quote};
use super::{ControlDir, client_args};
use crate::process::Process;

/// Whether an SSH host runs its programs through a resident agent
/// ([`SshBuilder::agent`](super::SshBuilder::agent)).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SshAgent {
    /// The default: the local `testrig` binary (see [`testrig_binary`](super::testrig_binary)),
    /// copied to the host and started there as `testrig agent` when the host connects. Where no
    /// binary is found, or it cannot start there (another architecture), a channel per program,
    /// as with [`SshAgent::Off`].
    #[default]
    Auto,
    /// No agent: each program runs on a channel of its own, under a remote `sh` supervisor
    /// (nothing copied to the host; each start costs an sshd session).
    Off,
    /// This local program, copied to the host and started there with these arguments and
    /// environment; it must serve the agent protocol (`testrig agent`, or a program calling
    /// [`serve`]). Connecting fails if it cannot start.
    Program {
        /// The local program.
        program: PathBuf,
        /// Its arguments (`["agent"]` for the `testrig` binary).
        args: Vec<OsString>,
        /// Variables set for it.
        env: Vec<(OsString, OsString)>,
    },
}

impl SshAgent {
    /// This local `testrig` binary (or another build of it), run as `testrig agent`.
    pub fn testrig(binary: impl Into<PathBuf>) -> SshAgent {
        SshAgent::Program {
            program: binary.into(),
            args: vec!["agent".into()],
            env: Vec::new(),
        }
    }
}

/// What connecting got: an agent and its hello, or why the host has none.
pub(super) enum Started {
    Agent(AgentClient, Hello),
    Without(String),
}

/// Starts the agent the options ask for over the master (`master`, its socket and logs in
/// `control`).
pub(super) async fn start(
    options: &SshBuilder,
    control: &ControlDir,
    master: &Process,
) -> Result<Started, SshError> {
    let host = options.host_name();
    let (program, args, env, required) = match &options.agent {
        SshAgent::Off => return Ok(Started::Without("turned off on the builder".into())),
        SshAgent::Auto => match super::testrig_binary() {
            Ok(binary) => (binary, vec![OsString::from("agent")], Vec::new(), false),
            Err(error) => return Ok(Started::Without(format!("no testrig binary: {error}"))),
        },
        SshAgent::Program { program, args, env } => {
            (program.clone(), args.clone(), env.clone(), true)
        }
    };
    let failed = |said: String| SshError::Agent {
        host: host.to_owned(),
        program: program.clone(),
        said,
    };
    let started = async {
        let remote = super::install_for_agent(options, control, &program)
            .await
            .map_err(|error| error.to_string())?;
        let mut words: Vec<OsString> = vec!["exec".into()];
        if !env.is_empty() {
            words.push("env".into());
            for (key, value) in &env {
                let mut pair = key.clone();
                pair.push("=");
                pair.push(value);
                words.push(quote(&pair));
            }
        }
        words.push(quote(remote.as_os_str()));
        words.extend(args.iter().map(|arg| quote(arg)));
        let agent_log = control.path().join("agent.log");
        let stderr = std::fs::File::create(&agent_log)
            .map_err(|error| format!("cannot create {}: {error}", agent_log.display()))?;
        let mut ssh = tokio::process::Command::new("ssh");
        ssh.args(client_args(&control.socket()))
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
        Ok((agent, hello)) => Ok(Started::Agent(agent, hello)),
        Err(said) if required => Err(failed(said)),
        Err(said) => {
            tracing::warn!(host, program = %program.display(), %said, "the agent did not start; a channel per program");
            Ok(Started::Without(format!("the agent did not start: {said}")))
        }
    }
}
