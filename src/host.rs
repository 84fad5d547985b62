//! Where a driver runs: [`Host`].
//!
//! A host answers the few questions a driver asks about the place it runs: open a socket
//! there ([`Host::tcp_socket`], [`Host::socket`]), run code there ([`Host::run`]), spawn a
//! program there ([`Host::command`], or [`process::Command::host`](crate::process::Command::host)),
//! and which addresses it has. [`Host::local`] is this machine (the default: loopback, no
//! privileges); the hosts of an emulated [`Network`](crate::network::Network) are network
//! namespaces of this process; [`Host::ssh`] connects to another machine through the system's
//! OpenSSH (see [`ssh`]). Drivers take a host from their
//! [`StartContext::host`](crate::StartContext::host); nothing else about them changes.

use std::ffi::OsStr;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use socket2::{Domain, Protocol, Socket, Type};

use crate::context::Exports;
use crate::network::NetworkError;
use crate::network::address::Cidr;
use crate::network::namespace::{Namespace, setns};

mod self_connection;
pub mod ssh;

pub use self_connection::refuse_self_connection;

/// A place drivers run: this machine ([`Host::local`], the default), a host of an
/// emulated [`Network`](crate::network::Network) (a network namespace of this process), or
/// another machine reached over SSH ([`Host::ssh`]).
///
/// Sockets a driver makes with [`tcp_socket`](Host::tcp_socket) or [`socket`](Host::socket)
/// belong to the host, whichever thread uses them afterwards; programs started with
/// [`command`](Host::command) run in it. A cheap handle: clones share the host. Once its
/// network stops, an emulated host's operations answer [`NetworkError::State`] (as
/// `io::Error`s from the socket calls).
///
/// # Examples
/// ```no_run
/// # async fn example(network: &testrig::network::Network) -> Result<(), Box<dyn std::error::Error>> {
/// let server = network.host("server")?;
/// let address = server.ipv4().unwrap();
/// let listener = server.tcp_listener((address, 0).into()).await?;
/// # let _ = listener; Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct Host {
    kind: Kind,
}

#[derive(Debug, Clone, Default)]
enum Kind {
    /// This machine, this process's own network namespace.
    #[default]
    Local,
    /// A network namespace of an emulated network.
    Emulated(Arc<Emulated>),
    /// Another machine, through an OpenSSH control master.
    Ssh(Arc<ssh::SshHost>),
}

#[derive(Debug)]
struct Emulated {
    network: String,
    name: String,
    interfaces: Vec<Interface>,
    namespace: Namespace,
}

/// An interface of a [`Host`]: one end of a link or of a switch port.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Interface {
    pub(crate) name: String,
    pub(crate) peer: String,
    #[serde(with = "cidrs")]
    pub(crate) addresses: Vec<Cidr>,
}

/// Addresses with their prefixes as text (`10.0.0.1/24`), in reports.
mod cidrs {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::network::Cidr;

    pub(super) fn serialize<S: Serializer>(
        cidrs: &[Cidr],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let texts: Vec<String> = cidrs.iter().map(ToString::to_string).collect();
        texts.serialize(serializer)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<Cidr>, D::Error> {
        Vec::<String>::deserialize(deserializer)?
            .iter()
            .map(|text| text.parse().map_err(serde::de::Error::custom))
            .collect()
    }
}

impl Interface {
    /// Its name in the host (`eth0`, `eth1`… in the order the host's links were declared).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The host or switch at the other end.
    pub fn peer(&self) -> &str {
        &self.peer
    }

    /// Its addresses, with their prefixes.
    pub fn addresses(&self) -> &[Cidr] {
        &self.addresses
    }
}

impl Host {
    /// This machine: its own network namespace, loopback, no privileges needed. The host
    /// every driver runs on unless placed elsewhere.
    pub fn local() -> Host {
        Host { kind: Kind::Local }
    }

    pub(crate) fn emulated(
        network: &str,
        name: &str,
        interfaces: Vec<Interface>,
        namespace: Namespace,
    ) -> Host {
        Host {
            kind: Kind::Emulated(Arc::new(Emulated {
                network: network.to_owned(),
                name: name.to_owned(),
                interfaces,
                namespace,
            })),
        }
    }

    /// Starts connecting to `destination` (`user@address`, `address`, or a `Host` alias of the
    /// user's ssh config) over SSH; [`connect`](ssh::SshBuilder::connect) makes the host. See
    /// [`ssh`] for what runs where.
    ///
    /// # Examples
    /// ```no_run
    /// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
    /// use testrig::Host;
    /// use testrig::process::{Command, Pattern, Process};
    ///
    /// let lab = Host::ssh("tester@192.0.2.10").name("lab").connect().await?;
    /// let server = Command::new("python3")
    ///     .args(["-u", "-m", "http.server", "8080"])
    ///     .ready_when(Pattern::stdout("Serving HTTP")?)
    ///     .host(lab.clone());
    /// let server = Process::spawn(server, "/tmp/run").await?;
    /// server.ready(std::time::Duration::from_secs(10)).await?;
    /// server.stop(std::time::Duration::from_secs(5)).await?;
    /// # Ok(()) }
    /// ```
    pub fn ssh(destination: impl Into<String>) -> ssh::SshBuilder {
        ssh::SshBuilder::new(destination)
    }

    pub(crate) fn from_ssh(host: ssh::SshHost) -> Host {
        Host {
            kind: Kind::Ssh(Arc::new(host)),
        }
    }

    /// The namespace sockets, jobs and spawned programs of this host enter: an emulated
    /// host's own; for an SSH host, that of the host its connection is made from.
    pub(crate) fn namespace(&self) -> Option<&Namespace> {
        match &self.kind {
            Kind::Local => None,
            Kind::Emulated(host) => Some(&host.namespace),
            Kind::Ssh(host) => host.via().namespace(),
        }
    }

    /// The SSH host behind this one, if it is one.
    pub(crate) fn ssh_host(&self) -> Option<&ssh::SshHost> {
        match &self.kind {
            Kind::Ssh(host) => Some(host),
            Kind::Local | Kind::Emulated(_) => None,
        }
    }

    /// An SSH host's remote runpath: the directory made on the remote when it connected
    /// (under the remote's `$TMPDIR`, else `/tmp`), where the programs spawned there run
    /// unless their command sets a working directory (each in `<runpath>/<its name>`);
    /// exported as `runpath`. Removed when the host is [closed](Host::close) or this process
    /// ends, unless [kept](ssh::SshBuilder::keep_runpath). `None` for other hosts.
    pub fn remote_runpath(&self) -> Option<&std::path::Path> {
        self.ssh_host().map(ssh::SshHost::runpath)
    }

    /// Copies an SSH host's remote runpath into the local directory `into` (created), over
    /// the host's connection, within `deadline`: what came back. An
    /// [`Environment`](crate::Environment) does it for its SSH hosts when it stops.
    ///
    /// # Errors
    /// `Unsupported` for a host that is not an SSH host; otherwise an error naming the host
    /// and saying what failed (the connection is closed, tar failed, the deadline passed).
    pub async fn fetch_runpath(
        &self,
        into: &std::path::Path,
        deadline: std::time::Duration,
    ) -> io::Result<ssh::Fetched> {
        match self.ssh_host() {
            Some(host) => host.fetch_runpath(into, deadline).await,
            None => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!(
                    "host `{}` is not an SSH host: it has no remote runpath",
                    self.name()
                ),
            )),
        }
    }

    /// Closes an SSH host: the programs still running there are ended first (the agent
    /// kills their groups; without one, each program's supervisor there does, before its
    /// client here ends), then its remote runpath is removed (unless kept) and its
    /// connection ended, each step within `timeout`. Other hosts: nothing to do. Idempotent.
    ///
    /// # Errors
    /// The remote runpath could not be removed in time (the connection is ended anyway).
    pub async fn close(&self, timeout: std::time::Duration) -> io::Result<()> {
        match self.ssh_host() {
            Some(host) => host.close(timeout).await,
            None => Ok(()),
        }
    }

    /// Whether this is this machine ([`Host::local`]).
    pub fn is_local(&self) -> bool {
        matches!(self.kind, Kind::Local)
    }

    /// Whether this is another machine reached over SSH ([`Host::ssh`]).
    pub fn is_ssh(&self) -> bool {
        matches!(self.kind, Kind::Ssh(_))
    }

    /// The host's name: `local` for this machine, else its name in its network; for an SSH
    /// host the name it was given, else its destination.
    pub fn name(&self) -> &str {
        match &self.kind {
            Kind::Local => "local",
            Kind::Emulated(host) => &host.name,
            Kind::Ssh(host) => host.name(),
        }
    }

    /// Its interfaces, loopback left out (none for [`Host::local`]: this machine's own are
    /// not the test's; none for an SSH host, whose interfaces are not known here).
    pub fn interfaces(&self) -> &[Interface] {
        match &self.kind {
            Kind::Local | Kind::Ssh(_) => &[],
            Kind::Emulated(host) => &host.interfaces,
        }
    }

    /// Every address of every interface; for [`Host::local`], the loopback addresses
    /// `127.0.0.1` and `::1`; for an SSH host, the address its connection reached.
    pub fn addresses(&self) -> Vec<IpAddr> {
        match &self.kind {
            Kind::Local => vec![Ipv4Addr::LOCALHOST.into(), Ipv6Addr::LOCALHOST.into()],
            Kind::Ssh(host) => vec![host.address()],
            Kind::Emulated(host) => host
                .interfaces
                .iter()
                .flat_map(|interface| interface.addresses.iter().map(Cidr::address))
                .collect(),
        }
    }

    /// The address to reach it by, and the one drivers on it listen on by default: its first
    /// IPv4 address, else its first IPv6 address; `127.0.0.1` for [`Host::local`] (and for an
    /// emulated host with no link).
    pub fn address(&self) -> IpAddr {
        self.ipv4()
            .map(IpAddr::from)
            .or_else(|| self.ipv6().map(IpAddr::from))
            .unwrap_or(Ipv4Addr::LOCALHOST.into())
    }

    /// Its first IPv4 address (`127.0.0.1` for [`Host::local`]).
    pub fn ipv4(&self) -> Option<Ipv4Addr> {
        self.addresses()
            .into_iter()
            .find_map(|address| match address {
                IpAddr::V4(v4) => Some(v4),
                IpAddr::V6(_) => None,
            })
    }

    /// Its first IPv6 address (`::1` for [`Host::local`]).
    pub fn ipv6(&self) -> Option<Ipv6Addr> {
        self.addresses()
            .into_iter()
            .find_map(|address| match address {
                IpAddr::V6(v6) => Some(v6),
                IpAddr::V4(_) => None,
            })
    }

    /// Puts the local file `local` on this host and returns its path there: for a program
    /// that a process on the host runs (the `testrig` binary for the native iperf engine and
    /// the resident agent, a test's own tool).
    ///
    /// On an SSH host the file is copied over the connection once, by content: it lands in the
    /// remote user's cache (`~/.cache/testrig/bin/<name>-<hash of its bytes>`, executable), a
    /// later install of the same bytes finds it there (one round trip; none through the same
    /// connection), and a copy cut short never passes for the file. This machine and emulated
    /// hosts share this machine's files: `local` itself is the answer.
    ///
    /// # Errors
    /// [`SshError::Install`](ssh::SshError::Install) naming the host and the file: it is not
    /// a readable regular file, the connection failed, the remote could not store it, or it
    /// did not arrive within 30 s plus a second per 10 MiB.
    pub async fn install(&self, local: &Path) -> Result<PathBuf, ssh::SshError> {
        match &self.kind {
            Kind::Ssh(host) => host.install(self, local).await,
            Kind::Local | Kind::Emulated(_) if local.is_file() => Ok(local.to_path_buf()),
            Kind::Local | Kind::Emulated(_) => Err(ssh::SshError::Install {
                host: self.name().to_owned(),
                file: local.to_path_buf(),
                said: "no such file".to_owned(),
            }),
        }
    }

    /// A local port forward through an SSH host's connection to `remote`, an address as the
    /// remote host sees it (`127.0.0.1:8080` is a port listening on the remote's loopback):
    /// for a service whose port is not routable from here. In-process drivers (`TcpClient`…)
    /// connect to [`Forward::local_addr`](ssh::Forward::local_addr), a free loopback port where
    /// the connection is made from (this machine, or the emulated host given with
    /// [`via`](ssh::SshBuilder::via)); OpenSSH's master listens there and carries each
    /// connection through the session.
    ///
    /// # Errors
    /// [`SshError::Forward`](ssh::SshError::Forward) naming the host and the remote address:
    /// this host is not an SSH host, or ssh refused the forward.
    pub async fn forward(&self, remote: SocketAddr) -> Result<ssh::Forward, ssh::SshError> {
        match &self.kind {
            Kind::Ssh(host) => host.forward(remote).await,
            Kind::Local | Kind::Emulated(_) => Err(ssh::SshError::Forward {
                host: self.name().to_owned(),
                remote,
                said: "only an SSH host forwards ports; connect to the address itself".to_owned(),
            }),
        }
    }

    /// What the host exports to references (`${b.address}` in a rig,
    /// `Ref::export("b", "address")` in Rust), once its network is up:
    /// - `address`: its first address, IPv4 if it has one (the one to reach it by);
    /// - `ipv4`, `ipv6`: its first address of each family, when it has one;
    /// - `interface`: the name of its first interface;
    /// - for each interface (`eth0`…): `eth0.address`, `eth0.ipv4`, `eth0.ipv6` as above,
    ///   and `eth0.peer` (the host or switch at the other end).
    ///
    /// [`Host::local`] exports `address` and `ipv4` `127.0.0.1`, `ipv6` `::1`. An SSH host
    /// exports `address` (and `ipv4` or `ipv6`), `user`, `port` (its sshd's) and `ssh` (the
    /// destination it was given).
    pub fn exports(&self) -> Exports {
        match &self.kind {
            Kind::Local => [
                (
                    "address".to_owned(),
                    IpAddr::from(Ipv4Addr::LOCALHOST).into(),
                ),
                ("ipv4".to_owned(), IpAddr::from(Ipv4Addr::LOCALHOST).into()),
                ("ipv6".to_owned(), IpAddr::from(Ipv6Addr::LOCALHOST).into()),
            ]
            .into(),
            Kind::Emulated(host) => exports_of(&host.interfaces),
            Kind::Ssh(host) => host.exports(),
        }
    }

    /// The inode of an emulated host's namespace (`net:[INODE]` in `/proc/*/ns/net`), to
    /// tell it apart from others, e.g. to check that it is gone; `None` for [`Host::local`].
    pub fn namespace_inode(&self) -> Option<u64> {
        match &self.kind {
            Kind::Emulated(host) => Some(host.namespace.inode()),
            Kind::Local | Kind::Ssh(_) => None,
        }
    }

    /// `network/host`, for errors.
    fn label(&self) -> String {
        match &self.kind {
            Kind::Local => "local".to_owned(),
            Kind::Emulated(host) => format!("{}/{}", host.network, host.name),
            Kind::Ssh(host) => format!("ssh:{}", host.name()),
        }
    }

    fn closed(&self, operation: &'static str) -> NetworkError {
        let network = match &self.kind {
            Kind::Local | Kind::Ssh(_) => String::new(),
            Kind::Emulated(host) => host.network.clone(),
        };
        NetworkError::State {
            network,
            operation,
            state: "stopped",
            needed: "running",
        }
    }

    /// Runs `job` on the host and returns its result: on an emulated host, on the host's
    /// own thread, inside its namespace; on [`Host::local`], right here.
    ///
    /// Meant for short work: create and bind sockets, read a sysctl. An emulated host runs
    /// jobs one at a time, so a job that blocks holds up the next; do the I/O on your runtime
    /// (`tokio::net::TcpStream::from_std`).
    ///
    /// # Errors
    /// [`NetworkError::State`] once the network is stopped; [`NetworkError::Io`] when the job
    /// panicked (the host carries on).
    pub async fn run<F, R>(&self, job: F) -> Result<R, NetworkError>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let Some(namespace) = self.namespace() else {
            return Ok(job());
        };
        let answer = namespace.run(job).map_err(|_| self.closed("run"))?;
        answer.await.map_err(|_| self.panicked())
    }

    /// [`run`](Host::run) for code outside a runtime: blocks the calling thread until the
    /// job is done. Do not call it from an async task.
    ///
    /// # Errors
    /// [`NetworkError::State`] once the network is stopped.
    pub fn run_blocking<F, R>(&self, job: F) -> Result<R, NetworkError>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let Some(namespace) = self.namespace() else {
            return Ok(job());
        };
        let answer = namespace
            .run(job)
            .map_err(|_| self.closed("run_blocking"))?;
        answer.blocking_recv().map_err(|_| self.panicked())
    }

    fn panicked(&self) -> NetworkError {
        NetworkError::Io {
            action: "run a job".into(),
            namespace: self.label(),
            source: io::Error::other("the job panicked"),
        }
    }

    /// A socket made on this host: nonblocking and close-on-exec, ready for
    /// `tokio::net::*::from_std` or [`tcp_socket`](Host::tcp_socket)'s conversion. On an
    /// emulated host it is made inside its namespace (it belongs there for good); on
    /// [`Host::local`] it is made here, with no hop.
    ///
    /// # Errors
    /// The `socket` call's error; on an emulated host whose network is stopped, an
    /// `io::Error` saying so.
    pub async fn socket(
        &self,
        domain: Domain,
        kind: Type,
        protocol: Option<Protocol>,
    ) -> io::Result<Socket> {
        // SOCK_NONBLOCK | SOCK_CLOEXEC in the one `socket(2)` call, as tokio does.
        let make = move || Socket::new(domain, kind.nonblocking(), protocol);
        match self.namespace() {
            None => make(),
            Some(_) => self.run(make).await.map_err(|error| self.io_error(error))?,
        }
    }

    fn io_error(&self, error: NetworkError) -> io::Error {
        let kind = match error {
            NetworkError::State { .. } => io::ErrorKind::NotConnected,
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, format!("host `{}`: {}", self.label(), error))
    }

    /// A TCP socket of `address`'s family (IPv4 or IPv6) made on this host, to bind or
    /// connect like any `tokio::net::TcpSocket`.
    ///
    /// # Errors
    /// As [`socket`](Host::socket).
    pub async fn tcp_socket(&self, address: SocketAddr) -> io::Result<tokio::net::TcpSocket> {
        let socket = self
            .socket(
                Domain::for_address(address),
                Type::STREAM,
                Some(Protocol::TCP),
            )
            .await?;
        Ok(tokio::net::TcpSocket::from_std_stream(socket.into()))
    }

    /// A TCP listener bound to `address` on this host (`SO_REUSEADDR` on, as
    /// `tokio::net::TcpListener::bind` does, and a backlog of 1024).
    ///
    /// # Errors
    /// As [`socket`](Host::socket), and the `bind`/`listen` calls'.
    pub async fn tcp_listener(&self, address: SocketAddr) -> io::Result<tokio::net::TcpListener> {
        let socket = self.tcp_socket(address).await?;
        socket.set_reuseaddr(true)?;
        socket.bind(address)?;
        socket.listen(1024)
    }

    /// A TCP connection from this host to `address`.
    ///
    /// # Errors
    /// As [`socket`](Host::socket), and the `connect` call's.
    pub async fn tcp_connect(&self, address: SocketAddr) -> io::Result<tokio::net::TcpStream> {
        let stream = if self.is_local() {
            tokio::net::TcpStream::connect(address).await?
        } else {
            self.tcp_socket(address).await?.connect(address).await?
        };
        refuse_self_connection(stream)
    }

    /// A UDP socket bound to `address` on this host.
    ///
    /// # Errors
    /// As [`socket`](Host::socket), and the `bind` call's.
    pub async fn udp_bind(&self, address: SocketAddr) -> io::Result<tokio::net::UdpSocket> {
        let socket = self
            .socket(
                Domain::for_address(address),
                Type::DGRAM,
                Some(Protocol::UDP),
            )
            .await?;
        socket.bind(&address.into())?;
        tokio::net::UdpSocket::from_std(socket.into())
    }

    /// A command that runs `program` on this host: on an emulated host it enters the
    /// host's namespace between fork and exec, with `setns`. Turn it into a
    /// `tokio::process::Command` with `From`. Drivers that spawn through
    /// [`process::Command`](crate::process::Command) use its
    /// [`host`](crate::process::Command::host) instead.
    ///
    /// On an SSH host it is a local `ssh` through the host's connection, running `program`
    /// quoted; arguments added afterwards are joined with spaces by `ssh` and split again by
    /// the remote shell, as `ssh host program args` does: [`prepare`](Host::prepare) a
    /// complete command to have every argument quoted. Nothing holds such a one-shot remote
    /// command but `ssh` itself; a program that must die with the test is spawned with
    /// [`process::Command::host`](crate::process::Command::host).
    ///
    /// # Errors
    /// [`NetworkError::State`] once the network is stopped.
    ///
    /// # Examples
    /// ```no_run
    /// # fn example(host: &testrig::Host) -> Result<(), Box<dyn std::error::Error>> {
    /// let output = host.command("ip")?.args(["-brief", "address"]).output()?;
    /// # let _ = output; Ok(()) }
    /// ```
    pub fn command(
        &self,
        program: impl AsRef<OsStr>,
    ) -> Result<std::process::Command, NetworkError> {
        let mut command = std::process::Command::new(program);
        self.prepare(&mut command)?;
        Ok(command)
    }

    /// Makes `command` run on this host: [`command`](Host::command) for a command built
    /// elsewhere. Nothing to do for [`Host::local`]. On an SSH host, `command` (its program,
    /// arguments, environment changes and working directory, each quoted) is replaced by the
    /// local `ssh` that runs it there; prepare it once it is complete.
    ///
    /// # Errors
    /// [`NetworkError::State`] once the network is stopped.
    pub fn prepare(&self, command: &mut std::process::Command) -> Result<(), NetworkError> {
        if let Kind::Ssh(host) = &self.kind {
            *command = host.one_shot(command);
        }
        if let Some(fd) = self.namespace_fd("command")? {
            // SAFETY: setns is async-signal-safe; the closure holds `fd`, so the descriptor
            // stays open as long as the command.
            unsafe { command.pre_exec(enter(fd)) };
        }
        Ok(())
    }

    /// [`prepare`](Host::prepare) for a `tokio::process::Command`.
    pub(crate) fn prepare_tokio(
        &self,
        command: &mut tokio::process::Command,
    ) -> Result<(), NetworkError> {
        if let Some(fd) = self.namespace_fd("command")? {
            // SAFETY: as in `prepare`.
            unsafe { command.pre_exec(enter(fd)) };
        }
        Ok(())
    }

    fn namespace_fd(&self, operation: &'static str) -> Result<Option<Arc<OwnedFd>>, NetworkError> {
        self.namespace()
            .map(|namespace| namespace.fd().map_err(|_| self.closed(operation)))
            .transpose()
    }
}

/// [`Host::exports`] of a host with these interfaces.
pub(crate) fn exports_of(interfaces: &[Interface]) -> Exports {
    fn first(addresses: &[Cidr], v4: bool) -> Option<IpAddr> {
        addresses
            .iter()
            .map(Cidr::address)
            .find(|address| address.is_ipv4() == v4)
    }
    fn addresses_of(exports: &mut Exports, prefix: &str, addresses: &[Cidr]) {
        let (v4, v6) = (first(addresses, true), first(addresses, false));
        if let Some(address) = v4.or(v6) {
            exports.insert(format!("{prefix}address"), address.into());
        }
        if let Some(v4) = v4 {
            exports.insert(format!("{prefix}ipv4"), v4.into());
        }
        if let Some(v6) = v6 {
            exports.insert(format!("{prefix}ipv6"), v6.into());
        }
    }
    let mut exports = Exports::new();
    let all: Vec<Cidr> = interfaces
        .iter()
        .flat_map(|interface| interface.addresses.iter().copied())
        .collect();
    addresses_of(&mut exports, "", &all);
    if let Some(interface) = interfaces.first() {
        exports.insert("interface".to_owned(), interface.name.clone().into());
    }
    for interface in interfaces {
        let prefix = format!("{}.", interface.name);
        addresses_of(&mut exports, &prefix, &interface.addresses);
        exports.insert(format!("{prefix}peer"), interface.peer.clone().into());
    }
    exports
}

/// The `pre_exec` hook that moves the child into the namespace behind `fd`.
fn enter(fd: Arc<OwnedFd>) -> impl FnMut() -> io::Result<()> + Send + Sync + 'static {
    move || {
        setns(fd.as_raw_fd()).map_err(|error| {
            io::Error::new(error.kind(), "cannot enter the host's network namespace")
        })
    }
}
