use std::ffi::OsStr;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::sync::Arc;

use super::address::Cidr;
use super::error::NetworkError;
use super::namespace::{Namespace, setns};

/// A host of a running [`Network`](super::Network): a network namespace of this process.
///
/// Code runs inside it with [`run`](Host::run) (sockets created there belong to the host,
/// whichever thread uses them afterwards) and programs with [`command`](Host::command).
/// A cheap handle: clones share the host. Once the network stops, `run` and `command`
/// answer [`NetworkError::State`].
///
/// # Examples
/// ```no_run
/// # async fn example(network: &testrig::network::Network) -> Result<(), Box<dyn std::error::Error>> {
/// let server = network.host("server")?;
/// let address = server.ipv4().unwrap();
/// let listener = server
///     .run(move || std::net::TcpListener::bind((address, 0)))
///     .await??;
/// listener.set_nonblocking(true)?;
/// let listener = tokio::net::TcpListener::from_std(listener)?;
/// # let _ = listener; Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Host {
    inner: Arc<HostInner>,
}

#[derive(Debug)]
struct HostInner {
    network: String,
    name: String,
    interfaces: Vec<Interface>,
    namespace: Namespace,
}

/// An interface of a [`Host`]: one end of a link or of a switch port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    pub(crate) name: String,
    pub(crate) peer: String,
    pub(crate) addresses: Vec<Cidr>,
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
    pub(crate) fn new(
        network: &str,
        name: &str,
        interfaces: Vec<Interface>,
        namespace: Namespace,
    ) -> Host {
        Host {
            inner: Arc::new(HostInner {
                network: network.to_owned(),
                name: name.to_owned(),
                interfaces,
                namespace,
            }),
        }
    }

    pub(crate) fn namespace(&self) -> &Namespace {
        &self.inner.namespace
    }

    /// The host's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Its interfaces, loopback left out.
    pub fn interfaces(&self) -> &[Interface] {
        &self.inner.interfaces
    }

    /// Every address of every interface.
    pub fn addresses(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.inner
            .interfaces
            .iter()
            .flat_map(|interface| interface.addresses.iter().map(Cidr::address))
    }

    /// Its first IPv4 address.
    pub fn ipv4(&self) -> Option<Ipv4Addr> {
        self.addresses().find_map(|address| match address {
            IpAddr::V4(v4) => Some(v4),
            IpAddr::V6(_) => None,
        })
    }

    /// Its first IPv6 address.
    pub fn ipv6(&self) -> Option<Ipv6Addr> {
        self.addresses().find_map(|address| match address {
            IpAddr::V6(v6) => Some(v6),
            IpAddr::V4(_) => None,
        })
    }

    /// The inode of the host's namespace (`net:[INODE]` in `/proc/*/ns/net`), to tell it
    /// apart from others, e.g. to check that it is gone.
    pub fn namespace_inode(&self) -> u64 {
        self.inner.namespace.inode()
    }

    fn closed(&self, operation: &'static str) -> NetworkError {
        NetworkError::State {
            network: self.inner.network.clone(),
            operation,
            state: "stopped",
            needed: "running",
        }
    }

    /// Runs `job` on the host's own thread, inside its namespace, and returns its result.
    ///
    /// Meant for short work: create and bind sockets, read a sysctl. The host runs jobs one
    /// at a time, so a job that blocks holds up the next; do the I/O on your runtime
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
        let answer = self
            .inner
            .namespace
            .run(job)
            .map_err(|_| self.closed("run"))?;
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
        let answer = self
            .inner
            .namespace
            .run(job)
            .map_err(|_| self.closed("run_blocking"))?;
        answer.blocking_recv().map_err(|_| self.panicked())
    }

    fn panicked(&self) -> NetworkError {
        NetworkError::Io {
            action: "run a job".into(),
            namespace: format!("{}/{}", self.inner.network, self.inner.name),
            source: io::Error::other("the job panicked"),
        }
    }

    /// A command that runs `program` inside the host's namespace (it enters it between fork
    /// and exec, with `setns`). Turn it into a `tokio::process::Command` with `From`.
    ///
    /// # Errors
    /// [`NetworkError::State`] once the network is stopped.
    ///
    /// # Examples
    /// ```no_run
    /// # fn example(host: &testrig::network::Host) -> Result<(), Box<dyn std::error::Error>> {
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

    /// Makes `command` run inside the host's namespace: [`command`](Host::command) for a
    /// command built elsewhere.
    ///
    /// # Errors
    /// [`NetworkError::State`] once the network is stopped.
    pub fn prepare(&self, command: &mut std::process::Command) -> Result<(), NetworkError> {
        let fd = self
            .inner
            .namespace
            .fd()
            .map_err(|_| self.closed("command"))?;
        // SAFETY: setns is async-signal-safe; the closure holds `fd`, so the descriptor
        // stays open as long as the command.
        unsafe {
            command.pre_exec(move || {
                setns(fd.as_raw_fd()).map_err(|error| {
                    io::Error::new(error.kind(), "cannot enter the host's network namespace")
                })
            });
        }
        Ok(())
    }
}
