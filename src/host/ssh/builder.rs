//! `SshBuilder`: the options of an SSH host, and connecting it.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use super::error::SshError;
use crate::Host;

/// How the remote host's key is checked against known_hosts (OpenSSH's
/// `StrictHostKeyChecking`). A key that differs from a known one is refused either way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum HostKeys {
    /// Only a host whose key is already known is accepted (`StrictHostKeyChecking=yes`).
    #[default]
    Strict,
    /// An unknown host's key is added to known_hosts and accepted
    /// (`StrictHostKeyChecking=accept-new`): for throwaway hosts, whose keys are new each time.
    AcceptNew,
}

impl HostKeys {
    pub(super) fn option(self) -> &'static str {
        match self {
            HostKeys::Strict => "StrictHostKeyChecking=yes",
            HostKeys::AcceptNew => "StrictHostKeyChecking=accept-new",
        }
    }
}

/// The options of an SSH host, from [`Host::ssh`]; [`connect`](SshBuilder::connect) makes
/// the [`Host`]. Options left unset come from the user's ssh config, as for `ssh` itself.
///
/// # Examples
/// ```no_run
/// # async fn example(client: testrig::Host) -> Result<(), testrig::host::ssh::SshError> {
/// use std::time::Duration;
/// use testrig::Host;
/// use testrig::host::ssh::HostKeys;
///
/// let remote = Host::ssh("root@10.0.0.2")
///     .name("remote")
///     .port(2222)
///     .identity("/tmp/keys/id_ed25519")
///     .known_hosts("/tmp/keys/known_hosts")
///     .host_keys(HostKeys::Strict)
///     .connect_timeout(Duration::from_secs(5))
///     .via(client) // connect from inside an emulated host
///     .connect()
///     .await?;
/// assert_eq!(remote.address().to_string(), "10.0.0.2");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct SshBuilder {
    pub(super) destination: String,
    pub(super) name: Option<String>,
    pub(super) port: Option<u16>,
    pub(super) identity: Option<PathBuf>,
    pub(super) known_hosts: Option<PathBuf>,
    pub(super) host_keys: HostKeys,
    pub(super) via: Host,
    pub(super) connect_timeout: Duration,
    pub(super) keepalive: Duration,
    pub(super) keep_runpath: bool,
    pub(super) via_host: Option<String>,
    pub(super) agent: SshAgent,
    pub(super) options: Vec<String>,
}

/// How long connecting may take unless told otherwise.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The keepalive interval unless told otherwise: three unanswered ones end the connection.
pub const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(5);

impl SshBuilder {
    pub(crate) fn new(destination: impl Into<String>) -> SshBuilder {
        SshBuilder {
            destination: destination.into(),
            name: None,
            port: None,
            identity: None,
            known_hosts: None,
            host_keys: HostKeys::default(),
            via: Host::local(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            keepalive: DEFAULT_KEEPALIVE,
            keep_runpath: false,
            via_host: None,
            agent: SshAgent::default(),
            options: Vec::new(),
        }
    }

    /// Names the host in errors, reports and references (default: its destination).
    pub fn name(mut self, name: impl Into<String>) -> SshBuilder {
        self.name = Some(name.into());
        self
    }

    /// The sshd's port (default: the ssh config's, else 22).
    pub fn port(mut self, port: u16) -> SshBuilder {
        self.port = Some(port);
        self
    }

    /// Logs in with this private key only (`-i`, `IdentitiesOnly=yes`).
    pub fn identity(mut self, key: impl Into<PathBuf>) -> SshBuilder {
        self.identity = Some(key.into());
        self
    }

    /// Checks the host's key against this known_hosts file (`UserKnownHostsFile`) instead of
    /// the user's.
    pub fn known_hosts(mut self, file: impl Into<PathBuf>) -> SshBuilder {
        self.known_hosts = Some(file.into());
        self
    }

    /// How the host's key is checked (default [`HostKeys::Strict`]).
    pub fn host_keys(mut self, host_keys: HostKeys) -> SshBuilder {
        self.host_keys = host_keys;
        self
    }

    /// Connects from `host` (default [`Host::local`]): the connection is made inside an
    /// emulated host's namespace, where the remote address is routable; the host's in-process
    /// sockets are made there too.
    pub fn via(mut self, host: Host) -> SshBuilder {
        self.via = host;
        self
    }

    /// Connects from the host of this name of the emulated network of the environment the
    /// SSH host is declared in ([`EnvironmentBuilder::ssh_host`]): the environment starts
    /// the network first and connects from there, as [`via`](Self::via) does. Only for an
    /// environment's SSH host: [`connect`](Self::connect) refuses it.
    ///
    /// [`EnvironmentBuilder::ssh_host`]: crate::EnvironmentBuilder::ssh_host
    pub fn via_host(mut self, name: impl Into<String>) -> SshBuilder {
        self.via_host = Some(name.into());
        self
    }

    /// Without the host name of [`via_host`](Self::via_host), once the environment has put
    /// the host itself in [`via`](Self::via).
    pub(crate) fn via_host_cleared(mut self) -> SshBuilder {
        self.via_host = None;
        self
    }

    /// The name given with [`via_host`](Self::via_host).
    pub fn via_host_name(&self) -> Option<&str> {
        self.via_host.as_deref()
    }

    /// How long connecting may take, login included (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> SshBuilder {
        self.connect_timeout = timeout;
        self
    }

    /// The keepalive interval (`ServerAliveInterval`, default 5 s): after three unanswered
    /// ones the connection counts as lost, and so do the programs running over it.
    pub fn keepalive(mut self, interval: Duration) -> SshBuilder {
        self.keepalive = interval;
        self
    }

    /// Leaves the host's remote runpath ([`Host::remote_runpath`]) in place when the host is
    /// closed or this process ends (default: removed), e.g. to look at it afterwards.
    pub fn keep_runpath(mut self, keep: bool) -> SshBuilder {
        self.keep_runpath = keep;
        self
    }

    /// Whether the host runs its programs through a resident agent (default
    /// [`SshAgent::Auto`]: the local `testrig` binary, copied there, when it is found; else a
    /// channel per program). See [`SshAgent`].
    pub fn agent(mut self, agent: SshAgent) -> SshBuilder {
        self.agent = agent;
        self
    }

    /// Adds an OpenSSH option for the connection, as `ssh -o` takes it (`Key=Value`): a key
    /// exchange (`KexAlgorithms=curve25519-sha256`), a jump host (`ProxyJump=bastion`), anything
    /// the user's ssh config could say, for this host only. Options testrig sets itself are
    /// refused, naming the builder method that sets them where there is one (`Port`:
    /// [`port`](Self::port), `StrictHostKeyChecking`: [`host_keys`](Self::host_keys)…).
    pub fn option(mut self, option: impl Into<String>) -> SshBuilder {
        self.options.push(option.into());
        self
    }

    /// The host's name: the one given, else the destination.
    pub fn host_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.destination)
    }

    fn invalid(&self, field: &'static str, value: String, reason: &'static str) -> SshError {
        SshError::Invalid {
            host: self.host_name().to_owned(),
            field,
            value,
            reason,
        }
    }

    /// The destination (`user@address`, `address` or an ssh config alias).
    pub fn destination(&self) -> &str {
        &self.destination
    }

    /// Whether the remote runpath is kept ([`keep_runpath`](Self::keep_runpath)).
    pub fn keeps_runpath(&self) -> bool {
        self.keep_runpath
    }

    /// Checks the options without connecting: what [`connect`](Self::connect) refuses first.
    ///
    /// # Errors
    /// [`SshError::Invalid`], naming the host, the option and its value.
    pub fn validate(&self) -> Result<(), SshError> {
        let destination = &self.destination;
        if destination.is_empty() || destination.starts_with('-') {
            let reason = "give `user@address`, `address` or an ssh config alias";
            return Err(self.invalid("destination", destination.clone(), reason));
        }
        if destination.chars().any(char::is_whitespace) {
            let reason = "a destination has no spaces";
            return Err(self.invalid("destination", destination.clone(), reason));
        }
        if self.port == Some(0) {
            return Err(self.invalid("port", "0".into(), "an sshd listens on a port from 1"));
        }
        if let Some(key) = &self.identity
            && !key.is_file()
        {
            let reason = "no such file";
            return Err(self.invalid("identity", key.display().to_string(), reason));
        }
        if self.connect_timeout.is_zero() {
            let reason = "must be longer than zero";
            return Err(self.invalid("connect_timeout", "0s".into(), reason));
        }
        if self.keepalive < Duration::from_secs(1) {
            let reason = "ssh counts it in whole seconds, at least 1";
            return Err(self.invalid("keepalive", format!("{:?}", self.keepalive), reason));
        }
        for option in &self.options {
            if let Some(reason) = refused_option(option) {
                return Err(self.invalid("option", option.clone(), reason));
            }
        }
        Ok(())
    }
}

/// Why `option` cannot be given with [`SshBuilder::option`], if it cannot.
fn refused_option(option: &str) -> Option<&'static str> {
    let Some((key, value)) = option.split_once('=') else {
        return Some("give `Key=Value`, as `ssh -o` takes it");
    };
    if key.is_empty()
        || !key.chars().all(|c| c.is_ascii_alphanumeric())
        || value.trim().is_empty()
        || option.contains(['\n', '\r', '\0'])
    {
        return Some("give `Key=Value`, as `ssh -o` takes it");
    }
    let reason = match key.to_ascii_lowercase().as_str() {
        "port" => "set with `port`",
        "identityfile" | "identitiesonly" => "set with `identity`",
        "userknownhostsfile" => "set with `known_hosts`",
        "stricthostkeychecking" => "set with `host_keys`",
        "connecttimeout" => "set with `connect_timeout`",
        "serveraliveinterval" | "serveralivecountmax" => "set with `keepalive`",
        "controlmaster"
        | "controlpath"
        | "controlpersist"
        | "batchmode"
        | "permitlocalcommand"
        | "localcommand"
        | "proxyusefdpass"
        | "forkafterauthentication"
        | "requesttty"
        | "sessiontype"
        | "stdinnull" => "testrig sets it: the connection depends on it",
        _ => return None,
    };
    Some(reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ssh_option_is_key_equals_value_and_not_one_testrig_sets() {
        let refused = |option: &str| {
            SshBuilder::new("h")
                .option(option)
                .validate()
                .map_err(|error| error.to_string())
                .err()
        };
        assert_eq!(refused("KexAlgorithms=curve25519-sha256"), None);
        assert_eq!(refused("ProxyJump=tester@bastion"), None);
        assert_eq!(
            refused("Port=2222").as_deref(),
            Some("ssh host `h`: option `Port=2222` is not valid: set with `port`")
        );
        assert!(
            refused("controlpath=/tmp/x")
                .unwrap()
                .contains("testrig sets it")
        );
        for malformed in [
            "KexAlgorithms",
            "=x",
            "Kex Algorithms=x",
            "Ciphers=",
            "A=b\nC=d",
        ] {
            assert!(
                refused(malformed).unwrap().contains("give `Key=Value`"),
                "{malformed}"
            );
        }
    }

    #[test]
    fn bad_options_are_refused_naming_the_field_and_the_value() {
        let refused = |builder: SshBuilder| builder.validate().unwrap_err().to_string();
        assert_eq!(
            refused(SshBuilder::new("-oProxyCommand=x").name("lab")),
            "ssh host `lab`: destination `-oProxyCommand=x` is not valid: give `user@address`, \
             `address` or an ssh config alias"
        );
        assert!(refused(SshBuilder::new("a b")).contains("destination `a b`"));
        assert!(refused(SshBuilder::new("h").port(0)).contains("port `0`"));
        assert!(
            refused(SshBuilder::new("h").identity("/nonexistent/key"))
                .contains("identity `/nonexistent/key` is not valid: no such file")
        );
        assert!(
            refused(SshBuilder::new("h").keepalive(Duration::from_millis(10)))
                .contains("keepalive `10ms`")
        );
    }
}

/// Whether an SSH host runs its programs through a resident agent
/// ([`SshBuilder::agent`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SshAgent {
    /// The default: the local `testrig` binary (see [`testrig_binary`](super::testrig_binary)),
    /// copied to the host and started there as `testrig agent` with the first program spawned
    /// there. Where no
    /// binary is found, or it cannot start there (another architecture), a channel per program,
    /// as with [`SshAgent::Off`].
    #[default]
    Auto,
    /// No agent: each program runs on a channel of its own, under a remote `sh` supervisor
    /// (nothing copied to the host; each start costs an sshd session).
    Off,
    /// This local program, copied to the host and started there with these arguments and
    /// environment; it must serve the agent protocol (`testrig agent`, or a program calling
    /// [`serve_agent`](super::serve_agent)). If it cannot start, programs on the host fail to spawn, saying why.
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
