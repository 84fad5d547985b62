//! Remote hosts over SSH: [`Host::ssh`](crate::Host::ssh).
//!
//! # What runs where
//!
//! An SSH host is another machine reached through the system's OpenSSH client, so the user's
//! ssh config, keys, agent and known hosts apply; nothing is installed on the remote side.
//!
//! - **The connection** is an OpenSSH *control master* (`ssh -M -N -S <socket>`), started by
//!   [`SshBuilder::connect`] as a testrig process of this program: it never forks into the
//!   background (no `-f`, `ControlPersist=no`), so it dies with the test like any spawned
//!   program (parent-death signal, process group, guardian), and its end is the end of the
//!   connection. Connected means the master has authenticated and its control socket listens:
//!   the master prints a line of ours (`LocalCommand`) at that moment, the readiness event. Host
//!   keys are checked strictly by default ([`HostKeys::Strict`]: a host missing from
//!   known_hosts is refused too); [`HostKeys::AcceptNew`] adds unknown ones, for throwaway
//!   hosts. A key that differs from the known one is always refused
//!   ([`SshError::HostKeyMismatch`], naming the host). Everything else goes through that
//!   socket: first the *janitor*, one command that says where the connection arrived, as
//!   whom, and makes the host's remote runpath ([`Host::remote_runpath`](crate::Host::remote_runpath)),
//!   then waits for its stdin (held here) to close and removes it (see `runpath.rs`).
//! - **A program on the host** ([`process::Command::host`](crate::process::Command::host)) runs
//!   through the host's **resident agent** when it has one ([`SshAgent`]; by default the local
//!   `testrig` binary, put on the host by content and started with the first program spawned
//!   there, as `testrig agent`): one request on the agent's channel starts it in a process group of
//!   its own there; its output streams back into the usual pumps (log files in the local
//!   runpath, readiness patterns, captures, tails); signals are requests to the agent; when the
//!   channel ends the agent kills every group it started. See the `agent` module.
//! - **Without an agent** it is spawned *here* as a multiplexed client,
//!   `ssh -S <socket> -T … none -- <remote supervisor> <program> <args>`, through the usual
//!   process machinery: its stdout and stderr come back on the client's, so readiness
//!   patterns, captures, log files in the local runpath and tails work unchanged, and the local
//!   client is held in its process group like any program (no cgroup: the remote program is
//!   not in it, see below). `-T`: no terminal, so stdout and stderr stay apart and lines are
//!   not rewritten (`\r\n`), and nothing relies on a hang-up signal a program may ignore.
//! - **The remote supervisor** is a POSIX `sh` script passed on the command line. It starts
//!   the program in a process group of its own (`setsid`; where the remote lacks it, in the
//!   supervisor's group), its stdin `/dev/null`, and reads its own stdin, which is the
//!   channel's: each line is a signal name it sends to the program's group (`TERM`, `STOP`…);
//!   end-of-file means the channel is gone (the test ended, however it ended, the local
//!   client was killed, the connection dropped, the remote sshd session died) and it sends
//!   `SIGKILL` to the group. When the program ends, the supervisor kills what it left in its
//!   group and exits with its status (a program ended by signal N exits `128 + N`, as a shell
//!   reports it), which `ssh` returns here.
//! - **Signals**: OpenSSH's client cannot forward a signal (a signal to it only ends it), so
//!   testrig writes them into the client's stdin instead (the process's relay): stop sends
//!   `TERM` there, and after the stop timeout `SIGKILL` kills the local client, whose channel
//!   closes, and the supervisor kills the remote group. Pause and resume are `STOP` and `CONT`
//!   on the remote group.
//! - **A lost connection**: every client of the host exits with `ssh`'s status 255; the
//!   local wrapper around it then prints the master's last words ("Connection to … closed by
//!   remote host") on its stderr, so the failure of a driver whose program ran there names the
//!   reason. On the remote side every supervisor sees end-of-file and kills its group.
//! - **Sockets** an in-process driver makes on an SSH host ([`Host::tcp_listener`],
//!   [`Host::tcp_connect`], [`Host::socket`], [`Host::run`]) are made in this process, where
//!   the connection is made from: on this machine, or inside the emulated host given with
//!   [`SshBuilder::via`]. A `TcpClient` placed on an SSH host reaches the remote services by
//!   their address; a `TcpServer` placed there listens here.
//!
//! [`Host::tcp_listener`]: crate::Host::tcp_listener
//! [`Host::tcp_connect`]: crate::Host::tcp_connect
//! [`Host::socket`]: crate::Host::socket
//! [`Host::run`]: crate::Host::run

mod agent;
mod builder;
mod control;
mod dial;
mod error;
mod forward;
mod install;
mod master;
mod runpath;
mod supervisor;

use std::ffi::OsString;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

/// The agent's main loop, for `testrig agent` (hidden): serves the agent protocol on stdin and
/// stdout until stdin ends, then kills every process group it started; returns the exit code.
pub use agent::serve as serve_agent;
pub use builder::SshAgent;
pub use builder::{DEFAULT_CONNECT_TIMEOUT, DEFAULT_KEEPALIVE, HostKeys, SshBuilder};
#[doc(hidden)]
pub use dial::{RELAY_SUBCOMMAND, relay_dialed};
pub use error::SshError;
pub use forward::Forward;
pub use install::testrig_binary;
pub use runpath::Fetched;

pub(crate) use agent::AgentClient;
use agent::AgentState;
use control::{ControlDir, client_args};

use crate::Host;
use crate::context::Exports;
use crate::process::{Command, Control, Process};

impl SshBuilder {
    /// Connects: starts the control master (from the [`via`](SshBuilder::via) host), waits
    /// until it has logged in, then, in one command, asks the host which address the
    /// connection reached and as which user, and makes the host's remote runpath
    /// ([`Host::remote_runpath`]), removed when the host is [closed](Host::close) or this
    /// process ends (unless [kept](SshBuilder::keep_runpath)). The host's agent
    /// ([`SshBuilder::agent`]) starts with the first program spawned there.
    ///
    /// # Errors
    /// [`SshError::Invalid`] for a bad option; [`SshError::HostKeyMismatch`] or
    /// [`SshError::HostKeyUnknown`] when the host key check refuses the host;
    /// [`SshError::Connect`] when ssh fails otherwise (its own words);
    /// [`SshError::Timeout`] after the connect timeout.
    pub async fn connect(self) -> Result<Host, SshError> {
        self.validate()?;
        if let Some(name) = &self.via_host {
            return Err(SshError::Invalid {
                host: self.host_name().to_owned(),
                field: "via_host",
                value: name.clone(),
                reason: "names a host of an environment's network: declare the SSH host with \
                         `EnvironmentBuilder::ssh_host`, or connect `via` a `Host`",
            });
        }
        let control = ControlDir::create().map_err(|source| SshError::ControlDir {
            host: self.host_name().to_owned(),
            path: std::env::temp_dir(),
            source,
        })?;
        let (master, dialed) = master::start(&self, &control).await?;
        let arrival = runpath::start(&self, &control, client_args(&control));
        let arrival = match &dialed {
            Some(dialed) => dialed.hurrying(arrival).await?,
            None => arrival.await?,
        };
        // From here the connection is the master's alone: its end is the connection's end.
        drop(dialed);
        let agent_launch = agent::Launch::for_options(&self).map(|launch| (launch, self.clone()));
        Ok(Host::from_ssh(SshHost {
            name: self.host_name().to_owned(),
            destination: self.destination.clone(),
            user: arrival.user,
            address: arrival.address,
            port: arrival.port,
            via: self.via.clone(),
            runpath: arrival.runpath,
            janitor: Mutex::new(Some(arrival.janitor)),
            agent: tokio::sync::OnceCell::new(),
            agent_launch,
            master,
            control,
            installed: tokio::sync::Mutex::default(),
            clients: Mutex::default(),
        }))
    }
}

impl SshHost {
    /// Installs `local` on this host (`host` is the [`Host`] holding it); see `install.rs`.
    pub(crate) async fn install(&self, host: &Host, local: &Path) -> Result<PathBuf, SshError> {
        install::install(host, &self.name, &self.installed, local).await
    }
}

/// A connected SSH host: what [`Host`] holds for it.
#[derive(Debug)]
pub(crate) struct SshHost {
    name: String,
    destination: String,
    user: String,
    address: IpAddr,
    port: u16,
    via: Host,
    /// The remote runpath.
    runpath: PathBuf,
    /// The channel that removes the remote runpath when its stdin closes; `None` once closed.
    janitor: Mutex<Option<runpath::Janitor>>,
    /// The resident agent that runs the host's programs, once the first one started it
    /// (declared before the master: dropped first, its channel closes while the connection
    /// still carries the end).
    agent: tokio::sync::OnceCell<AgentState>,
    /// The agent to start, and the options it starts with; none without one.
    agent_launch: Option<(agent::Launch, SshBuilder)>,
    /// The control master; dropping it kills it, which ends the connection.
    master: Process,
    control: ControlDir,
    /// The files [`install`](SshHost::install)ed through this connection: name in the cache
    /// (by content), remote path.
    installed: tokio::sync::Mutex<std::collections::HashMap<String, PathBuf>>,
    /// The local `ssh` clients of the programs run here without an agent, to end at close.
    clients: Mutex<Vec<Weak<Control>>>,
}

impl SshHost {
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn via(&self) -> &Host {
        &self.via
    }

    /// The resident agent, if the host runs its programs through one: started by the first
    /// caller (`host` is the [`Host`] holding this one), which the others wait for; `Err` with
    /// why when the agent asked for ([`SshAgent::Program`]) did not start.
    pub(crate) async fn agent(&self, host: &Host) -> Result<Option<Arc<AgentClient>>, String> {
        let state = self
            .agent
            .get_or_init(|| async {
                match &self.agent_launch {
                    Some((launch, options)) => agent::start_on(launch, host, options).await,
                    None => AgentState::Without,
                }
            })
            .await;
        match state {
            AgentState::Running(agent) => Ok(Some(agent.clone())),
            AgentState::Without => Ok(None),
            AgentState::Failed(why) => Err(why.clone()),
        }
    }

    pub(crate) fn address(&self) -> IpAddr {
        self.address
    }

    /// The directory `command` runs in there unless told where: its own, in the remote
    /// runpath.
    pub(crate) fn program_dir(&self, command: &Command) -> PathBuf {
        runpath::program_dir(&self.runpath, &command.display_name())
    }

    /// The remote runpath, made at connect time.
    pub(crate) fn runpath(&self) -> &Path {
        &self.runpath
    }

    /// Copies the remote runpath into `into`, within `deadline`.
    pub(crate) async fn fetch_runpath(
        &self,
        into: &Path,
        deadline: Duration,
    ) -> std::io::Result<Fetched> {
        self.connected()?;
        runpath::fetch(client_args(&self.control), &self.runpath, into, deadline)
            .await
            .map_err(|said| {
                std::io::Error::other(format!(
                    "ssh host `{}` ({}): fetching the remote runpath {}: {said}",
                    self.name,
                    self.destination,
                    self.runpath.display()
                ))
            })
    }

    /// Closes the host: ends the programs still running there (through the agent, else
    /// through each one's client), then the janitor (which removes the remote runpath unless
    /// kept), then the master, each within `timeout`. Idempotent.
    pub(crate) async fn close(&self, timeout: Duration) -> std::io::Result<()> {
        // The programs first: removed under a program still writing, the runpath could come
        // back.
        if let Some(AgentState::Running(agent)) = self.agent.get() {
            agent.close(timeout).await;
        }
        self.end_clients(timeout).await;
        let janitor = self
            .janitor
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let cleaned = match janitor {
            Some(janitor) => janitor.close(timeout).await.map(drop),
            None => Ok(()),
        };
        let _ = self.master.stop(timeout).await;
        cleaned.map_err(|said| {
            std::io::Error::other(format!(
                "ssh host `{}` ({}): closing: the remote runpath {}: {said}",
                self.name,
                self.destination,
                self.runpath.display()
            ))
        })
    }

    /// Remembers the local client of a program run here without an agent (its control), so
    /// that closing the host ends the program first. Forgets the clients that have ended.
    pub(crate) fn track_client(&self, client: &Arc<Control>) {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        clients.retain(|known| {
            known
                .upgrade()
                .is_some_and(|known| !known.current().has_exited())
        });
        clients.push(Arc::downgrade(client));
    }

    /// Kills the programs still running here without an agent, where they run first (see
    /// [`Control::kill_there_first`]), and waits up to `timeout` for their clients' ends, which
    /// follow the remote groups' ends.
    async fn end_clients(&self, timeout: Duration) {
        let clients: Vec<Arc<Control>> = self
            .clients
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
            .filter_map(|client| client.upgrade())
            .collect();
        let mut ends = Vec::with_capacity(clients.len());
        for client in &clients {
            client.kill_there_first();
            ends.push(client.subscribe());
        }
        let all_ended = async {
            for mut end in ends {
                let _ = end.wait_for(|state| state.has_exited()).await;
            }
        };
        if tokio::time::timeout(timeout, all_ended).await.is_err() {
            tracing::warn!(host = %self.name, ?timeout, "programs still running at close");
        }
    }

    /// An error when the connection is closed.
    fn connected(&self) -> std::io::Result<()> {
        if self.master.state().has_exited() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotConnected,
                format!(
                    "the SSH connection to `{}` ({}) is closed: {}",
                    self.name,
                    self.destination,
                    master::last_words(&self.control, &self.master)
                ),
            ));
        }
        Ok(())
    }

    pub(crate) fn exports(&self) -> Exports {
        let mut exports = Exports::new();
        exports.insert("address".to_owned(), self.address.into());
        let family = if self.address.is_ipv4() {
            "ipv4"
        } else {
            "ipv6"
        };
        exports.insert(family.to_owned(), self.address.into());
        exports.insert("user".to_owned(), self.user.clone().into());
        exports.insert("port".to_owned(), i64::from(self.port).into());
        exports.insert("ssh".to_owned(), self.destination.clone().into());
        exports.insert(
            "runpath".to_owned(),
            self.runpath.display().to_string().into(),
        );
        exports
    }

    /// The local command that runs `command` on this host, under the remote supervisor.
    pub(crate) fn local_command(
        &self,
        command: &Command,
        marker: &str,
    ) -> std::io::Result<Command> {
        self.connected()?;
        // A program runs in its own directory of the remote runpath unless told where.
        let default_dir = self.program_dir(command);
        let remote = supervisor::remote_command(command, marker, Some(&default_dir));
        let mut local = Command::new("/bin/sh")
            .arg("-c")
            .arg(supervisor::LOCAL_WRAPPER)
            .arg("testrig-ssh")
            .arg(&self.name)
            .arg(self.control.log())
            .arg(self.control.socket())
            .arg("ssh")
            .args(client_args(&self.control))
            .arg("-T")
            .arg("none")
            .arg("--")
            .arg(remote)
            .cgroup(false)
            .kind(command.get_kind())
            .stop_signal(command.get_stop_signal())
            .tail_lines(command.get_tail_lines());
        if let Some(name) = command.has_explicit_name().then(|| command.display_name()) {
            local = local.name(name);
        }
        Ok(local)
    }

    /// A one-shot `ssh` through the connection running `command`'s program, arguments,
    /// environment changes and working directory, each quoted.
    pub(crate) fn one_shot(&self, command: &std::process::Command) -> std::process::Command {
        let mut words: Vec<OsString> = Vec::new();
        if let Some(dir) = command.get_current_dir() {
            words.push("cd".into());
            words.push(supervisor::quote(dir.as_os_str()));
            words.push("&&".into());
        }
        words.push("exec".into());
        let env: Vec<_> = command.get_envs().collect();
        if !env.is_empty() {
            words.push("env".into());
            for (key, value) in env {
                match value {
                    Some(value) => {
                        let mut pair = key.to_owned();
                        pair.push("=");
                        pair.push(value);
                        words.push(supervisor::quote(&pair));
                    }
                    None => {
                        words.push("-u".into());
                        words.push(supervisor::quote(key));
                    }
                }
            }
        }
        words.push(supervisor::quote(command.get_program()));
        words.extend(command.get_args().map(supervisor::quote));
        let mut ssh = std::process::Command::new("ssh");
        ssh.args(client_args(&self.control))
            .arg("-T")
            .arg("none")
            .arg("--")
            .arg(supervisor::join(&words));
        ssh
    }
}
