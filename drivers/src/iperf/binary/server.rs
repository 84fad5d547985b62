//! `iperf3 -s`, as a daemon that is ready when it says `Server listening`.

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use testrig::process::{Command, Exit, Pattern, Process, ProcessError};

use super::free_port::pick_free_port;
use super::program::{DEFAULT_IPERF3_PROGRAM, is_available};
use crate::iperf::error::IperfError;

/// How many ports a server with port 0 tries before giving up.
pub const DEFAULT_PORT_ATTEMPTS: u32 = 5;

/// What iperf3 prints once its listener is open (in text mode; JSON mode prints nothing).
const LISTENING: &str = r"Server listening on (?P<port>\d+)";

/// What iperf3 prints when its port is taken.
const IN_USE: &str = "Address already in use";

type PortPicker = Box<dyn FnMut(IpAddr) -> io::Result<u16> + Send>;

/// A running `iperf3 -s` (text mode, `--forceflush`), bound to one address.
///
/// Its per-test results are not read: iperf3 3.12 prints no readiness line in JSON mode,
/// and the client's `-J` output already holds both sides' counts. Dropping it kills the
/// process; [`stop`](Self::stop) ends it gracefully.
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
/// use testrig_drivers::iperf::engine::Iperf3Server;
///
/// # async fn example() -> Result<(), testrig_drivers::iperf::IperfError> {
/// let server = Iperf3Server::builder()
///     .host("127.0.0.1".parse().unwrap())
///     .start("/tmp/iperf-run")
///     .await?;
/// println!("iperf3 -s listening on {}", server.local_addr());
/// server.stop(Duration::from_secs(2)).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Iperf3Server {
    process: Process,
    local_addr: SocketAddr,
    attempts: u32,
}

/// Configures an [`Iperf3Server`]: program, address, port and how to find a free one.
#[must_use]
pub struct Iperf3ServerBuilder {
    program: PathBuf,
    host: IpAddr,
    port: u16,
    ready_timeout: Duration,
    attempts: u32,
    picker: PortPicker,
    /// Flags for iperf3's own server options (`--snd-timeout`, `--rcv-timeout`,
    /// `--bind-dev`).
    options: Vec<String>,
}

impl fmt::Debug for Iperf3ServerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Iperf3ServerBuilder")
            .field("program", &self.program)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("ready_timeout", &self.ready_timeout)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

impl Iperf3Server {
    /// A server of `iperf3` from `PATH` on `127.0.0.1`, on a free port.
    pub fn builder() -> Iperf3ServerBuilder {
        Iperf3ServerBuilder {
            program: PathBuf::from(DEFAULT_IPERF3_PROGRAM),
            host: IpAddr::from([127, 0, 0, 1]),
            port: 0,
            ready_timeout: Duration::from_secs(10),
            attempts: DEFAULT_PORT_ATTEMPTS,
            picker: Box::new(pick_free_port),
            options: Vec::new(),
        }
    }

    /// The address clients connect to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// How many spawns it took to find a free port (1 when the first was free).
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The process, e.g. for its pid, its tail or [`Process::exited`].
    pub(crate) fn process(&self) -> &Process {
        &self.process
    }

    /// Stops it (`SIGTERM`, then `SIGKILL` after `timeout`) and tells how it ended.
    pub async fn stop(&self, timeout: Duration) -> Result<Exit, IperfError> {
        Ok(self.process.stop(timeout).await?)
    }

    /// Kills it now, without waiting.
    pub fn kill(&self) {
        let _ = self.process.kill();
    }
}

impl Iperf3ServerBuilder {
    /// Runs this program instead of `iperf3` from `PATH`.
    pub fn program(mut self, program: impl Into<PathBuf>) -> Self {
        self.program = program.into();
        self
    }

    /// The address to listen on (`-B`; default `127.0.0.1`).
    pub fn host(mut self, host: IpAddr) -> Self {
        self.host = host;
        self
    }

    /// The port (`-p`); 0 (the default) picks a free one and retries on "address in use".
    /// A port given explicitly is tried once.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// How long to wait for `Server listening` on each attempt (default 10 s).
    pub fn ready_timeout(mut self, timeout: Duration) -> Self {
        self.ready_timeout = timeout;
        self
    }

    /// How many free ports to try when the port is 0 (default 5, at least 1).
    pub fn attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts.max(1);
        self
    }

    /// How a free port is chosen when the port is 0 (default [`pick_free_port`]).
    pub fn port_picker(
        mut self,
        picker: impl FnMut(IpAddr) -> io::Result<u16> + Send + 'static,
    ) -> Self {
        self.picker = Box::new(picker);
        self
    }

    /// The server options the native engine's [`ServerConfig`](crate::iperf::engine::ServerConfig)
    /// sets too, as iperf3's flags: `--snd-timeout` and `--rcv-timeout` (in milliseconds),
    /// `--bind-dev`.
    pub fn server_options(
        mut self,
        send_timeout: Option<Duration>,
        receive_timeout: Option<Duration>,
        bind_device: Option<&str>,
    ) -> Self {
        if let Some(timeout) = send_timeout {
            self.options
                .extend(["--snd-timeout".to_owned(), timeout.as_millis().to_string()]);
        }
        if let Some(timeout) = receive_timeout {
            self.options
                .extend(["--rcv-timeout".to_owned(), timeout.as_millis().to_string()]);
        }
        if let Some(device) = bind_device {
            self.options
                .extend(["--bind-dev".to_owned(), device.to_owned()]);
        }
        self
    }

    /// Spawns the server with its logs in `runpath` and waits for `Server listening`.
    pub async fn start(mut self, runpath: impl AsRef<Path>) -> Result<Iperf3Server, IperfError> {
        if !is_available(&self.program) {
            return Err(IperfError::NotInstalled {
                program: self.program,
            });
        }
        let attempts = if self.port == 0 { self.attempts } else { 1 };
        let mut tried = Vec::new();
        for attempt in 1..=attempts {
            let port = match self.port {
                0 => (self.picker)(self.host).map_err(|source| IperfError::NoFreePort {
                    host: self.host.to_string(),
                    source,
                })?,
                port => port,
            };
            tried.push(port);
            let process = Process::spawn(self.command(port)?, runpath.as_ref())
                .await
                .map_err(|error| match error {
                    ProcessError::ProgramNotFound { program, .. } => {
                        IperfError::NotInstalled { program }
                    }
                    other => other.into(),
                })?;
            match process.ready(self.ready_timeout).await {
                Ok(_) => {
                    return Ok(Iperf3Server {
                        process,
                        local_addr: SocketAddr::new(self.host, port),
                        attempts: attempt,
                    });
                }
                Err(ProcessError::ExitedBeforeLine { tail, .. }) if tail.contains(IN_USE) => {
                    tracing::debug!(port, attempt, "iperf3 -s: port in use, trying another");
                }
                Err(other) => {
                    let _ = process.kill();
                    return Err(other.into());
                }
            }
        }
        let ports: Vec<String> = tried.iter().map(u16::to_string).collect();
        Err(IperfError::AddressInUse {
            host: self.host.to_string(),
            tried: match ports.len() {
                1 => format!("port {}", ports[0]),
                _ => format!("each of ports {}", ports.join(", ")),
            },
            attempts,
        })
    }

    fn command(&self, port: u16) -> Result<Command, IperfError> {
        Ok(Command::new(&self.program)
            .args([
                "-s".to_owned(),
                "--forceflush".to_owned(),
                "-B".to_owned(),
                self.host.to_string(),
                "-p".to_owned(),
                port.to_string(),
            ])
            .args(self.options.iter().cloned())
            .name("iperf3-server")
            .daemon()
            .ready_when(Pattern::stdout(LISTENING)?))
    }
}
