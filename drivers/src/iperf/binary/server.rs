//! `iperf3 -s`, as a daemon that is ready when it says `Server listening`.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::Duration;

use testrig::Host;
use testrig::process::{Command, Exit, Pattern, Process, ProcessError};

use super::free_port::pick_free_port;
use super::program::{check_available, missing_on};
use crate::iperf::engine::ServerConfig;
use crate::iperf::error::IperfError;
use crate::iperf::stream_options::DEFAULT_RECEIVE_TIMEOUT;

/// How many ports a server with port 0 tries before giving up.
pub(crate) const DEFAULT_PORT_ATTEMPTS: u32 = 5;

/// How long each spawn may take to print `Server listening`.
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// What iperf3 prints once its listener is open (in text mode; JSON mode prints nothing).
const LISTENING: &str = r"Server listening on (?P<port>\d+)";

/// What iperf3 prints when its port is taken.
const IN_USE: &str = "Address already in use";

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
/// use testrig_drivers::iperf::engine::{DEFAULT_IPERF3_PROGRAM, Iperf3Server, ServerConfig};
///
/// # async fn example() -> Result<(), testrig_drivers::iperf::IperfError> {
/// let addr = "127.0.0.1:0".parse().unwrap(); // port 0: a free port, retried if taken
/// let server =
///     Iperf3Server::start(DEFAULT_IPERF3_PROGRAM, addr, &ServerConfig::default(), "/tmp/iperf-run")
///         .await?;
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

impl Iperf3Server {
    /// Spawns `program` (e.g. [`DEFAULT_IPERF3_PROGRAM`](super::DEFAULT_IPERF3_PROGRAM))
    /// as `iperf3 -s` listening on `addr`, with its logs in `runpath`, and waits for
    /// `Server listening` (10 s per spawn).
    ///
    /// iperf3 refuses port 0, so port 0 picks a free port and tries another on "address in
    /// use", up to 5 times; a port given explicitly is tried once. Of `config`, iperf3 is
    /// given the options it has flags for: [`ServerConfig::send_timeout`]
    /// (`--snd-timeout`), [`ServerConfig::receive_timeout`] (`--rcv-timeout`) and
    /// [`ServerConfig::bind_device`] (`--bind-dev`); the native server's other limits do not
    /// apply to iperf3. It runs on `config`'s host ([`ServerConfig::on`]), where the free
    /// port is looked for too.
    pub async fn start(
        program: impl Into<PathBuf>,
        addr: SocketAddr,
        config: &ServerConfig,
        runpath: impl AsRef<Path>,
    ) -> Result<Self, IperfError> {
        Self::start_program(program.into(), Vec::new(), addr, config, runpath.as_ref()).await
    }

    /// [`start`](Self::start) of a program that takes iperf3's flags after `leading`
    /// arguments (`testrig iperf3 -s …`).
    pub(crate) async fn start_program(
        program: PathBuf,
        leading: Vec<String>,
        addr: SocketAddr,
        config: &ServerConfig,
        runpath: &Path,
    ) -> Result<Self, IperfError> {
        let host = config.host.clone();
        let spawn = Spawn {
            program,
            leading,
            addr,
            options: iperf3_flags(config),
            attempts: DEFAULT_PORT_ATTEMPTS,
            host: host.clone(),
        };
        spawn
            .run(runpath, &mut |ip| {
                let host = host.clone();
                Box::pin(async move { pick_free_port(&host, ip).await })
            })
            .await
    }

    /// The address clients connect to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// How many spawns it took to find a free port (1 when the first was free).
    #[cfg_attr(not(test), expect(dead_code))]
    pub(crate) fn attempts(&self) -> u32 {
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

/// The flags for the server options iperf3 shares with the native server.
fn iperf3_flags(config: &ServerConfig) -> Vec<String> {
    let mut flags = Vec::new();
    if let Some(timeout) = config.send_timeout {
        flags.extend(["--snd-timeout".to_owned(), timeout.as_millis().to_string()]);
    }
    if config.receive_timeout != DEFAULT_RECEIVE_TIMEOUT {
        flags.extend([
            "--rcv-timeout".to_owned(),
            config.receive_timeout.as_millis().to_string(),
        ]);
    }
    if let Some(device) = &config.bind_device {
        flags.extend(["--bind-dev".to_owned(), device.clone()]);
    }
    flags
}

/// Finds a free port on an address, for a server given port 0.
type PortPicker<'a> =
    dyn FnMut(IpAddr) -> Pin<Box<dyn Future<Output = io::Result<u16>> + Send>> + Send + 'a;

/// One start of an iperf3 server: what to run, where, and how many free ports to try.
struct Spawn {
    program: PathBuf,
    /// Arguments before iperf3's flags.
    leading: Vec<String>,
    addr: SocketAddr,
    /// Flags for iperf3's own server options.
    options: Vec<String>,
    attempts: u32,
    host: Host,
}

impl Spawn {
    /// Spawns the server, choosing free ports with `picker` when the port is 0.
    async fn run(
        self,
        runpath: &Path,
        picker: &mut PortPicker<'_>,
    ) -> Result<Iperf3Server, IperfError> {
        check_available(&self.program, &self.host)?;
        let host = self.addr.ip();
        let attempts = if self.addr.port() == 0 {
            self.attempts.max(1)
        } else {
            1
        };
        let mut tried = Vec::new();
        for attempt in 1..=attempts {
            let port = match self.addr.port() {
                0 => picker(host)
                    .await
                    .map_err(|source| IperfError::NoFreePort {
                        host: host.to_string(),
                        source,
                    })?,
                port => port,
            };
            tried.push(port);
            let process = Process::spawn(self.command(port)?, runpath)
                .await
                .map_err(|error| match error {
                    ProcessError::ProgramNotFound { program, .. } => {
                        IperfError::NotInstalled { program }
                    }
                    other => other.into(),
                })?;
            match process.ready(READY_TIMEOUT).await {
                Ok(_) => {
                    return Ok(Iperf3Server {
                        process,
                        local_addr: SocketAddr::new(host, port),
                        attempts: attempt,
                    });
                }
                Err(ProcessError::ExitedBeforeLine { tail, .. }) if tail.contains(IN_USE) => {
                    tracing::debug!(port, attempt, "iperf3 -s: port in use, trying another");
                }
                Err(other) => {
                    let _ = process.kill();
                    if let ProcessError::ExitedBeforeLine { exit, tail, .. } = &other
                        && let Some(missing) = missing_on(&self.host, &self.program, *exit, tail)
                    {
                        return Err(missing);
                    }
                    return Err(other.into());
                }
            }
        }
        let ports: Vec<String> = tried.iter().map(u16::to_string).collect();
        Err(IperfError::AddressInUse {
            host: host.to_string(),
            tried: match ports.len() {
                1 => format!("port {}", ports[0]),
                _ => format!("each of ports {}", ports.join(", ")),
            },
            attempts,
        })
    }

    fn command(&self, port: u16) -> Result<Command, IperfError> {
        Ok(Command::new(&self.program)
            .args(self.leading.iter().cloned())
            .args([
                "-s".to_owned(),
                "--forceflush".to_owned(),
                "-B".to_owned(),
                self.addr.ip().to_string(),
                "-p".to_owned(),
                port.to_string(),
            ])
            .args(self.options.iter().cloned())
            .name("iperf3-server")
            .host(self.host.clone())
            .daemon()
            .ready_when(Pattern::stdout(LISTENING)?))
    }
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use super::*;
    use crate::iperf::ClientOptions;
    use crate::iperf::binary::DEFAULT_IPERF3_PROGRAM;
    use crate::iperf::binary::program::is_available;
    use crate::iperf::engine::NativeClient;

    const LOCALHOST: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    /// `iperf3` from `PATH`, or `None` (the test is skipped) where it is not installed.
    fn iperf3() -> Option<PathBuf> {
        let program = PathBuf::from(DEFAULT_IPERF3_PROGRAM);
        if is_available(&program) {
            Some(program)
        } else {
            eprintln!("skipped: iperf3 is not installed");
            None
        }
    }

    /// A fresh directory for one test's files.
    fn runpath(test: &str) -> PathBuf {
        let dir = std::env::temp_dir()
            .join("testrig-iperf3-server-unit")
            .join(format!("{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn spawn(program: PathBuf, attempts: u32) -> Spawn {
        Spawn {
            program,
            leading: Vec::new(),
            addr: SocketAddr::new(LOCALHOST, 0),
            options: Vec::new(),
            attempts,
            host: Host::local(),
        }
    }

    #[tokio::test]
    async fn the_server_retries_on_another_port_when_the_first_is_in_use() {
        let Some(binary) = iperf3() else { return };
        let dir = runpath("retry");
        let occupied = TcpListener::bind((LOCALHOST, 0)).unwrap();
        let taken = occupied.local_addr().unwrap().port();
        let mut offered = vec![taken];
        let server = spawn(binary, DEFAULT_PORT_ATTEMPTS)
            .run(&dir, &mut |ip| {
                let offered = offered.pop();
                Box::pin(async move {
                    match offered {
                        Some(port) => Ok(port),
                        None => pick_free_port(&Host::local(), ip).await,
                    }
                })
            })
            .await
            .expect("the server starts on the second port");
        assert_eq!(server.attempts(), 2);
        assert_ne!(server.local_addr().port(), taken);
        // It really listens there: a native client runs a test against it.
        let result = NativeClient::new(
            "127.0.0.1",
            server.local_addr().port(),
            ClientOptions::new().bytes(1 << 20),
        )
        .unwrap()
        .run()
        .await
        .unwrap();
        assert!(result.bytes_received() > 0);
        server.stop(Duration::from_secs(2)).await.unwrap();
    }

    /// On an SSH host the port is not probed here: iperf3's "Address already in use" comes
    /// back through the connection, and the next port is tried there.
    #[tokio::test]
    async fn a_server_on_an_ssh_host_retries_on_another_port_when_the_remote_says_in_use() {
        let Some(binary) = iperf3() else { return };
        let Some(sshd) = testrig::testing::Sshd::start("iperf3-ssh-retry", 185).await else {
            return;
        };
        let remote = sshd.host().connect().await.unwrap();
        let dir = runpath("ssh_retry");
        // Taken on the remote host itself.
        let occupied = sshd
            .network
            .host("remote")
            .unwrap()
            .tcp_listener(SocketAddr::new(sshd.address, 0))
            .await
            .unwrap();
        let taken = occupied.local_addr().unwrap().port();
        let mut offered = vec![taken];
        let host = remote.clone();
        let server = Spawn {
            addr: SocketAddr::new(sshd.address, 0),
            host: remote.clone(),
            ..spawn(binary, DEFAULT_PORT_ATTEMPTS)
        }
        .run(&dir, &mut |ip| {
            let offered = offered.pop();
            let host = host.clone();
            Box::pin(async move {
                match offered {
                    Some(port) => Ok(port),
                    None => pick_free_port(&host, ip).await,
                }
            })
        })
        .await
        .expect("the server starts on the second port");
        assert_eq!(server.attempts(), 2);
        let port = server.local_addr().port();
        assert!(
            (61000..=65535).contains(&port),
            "a random high port: {port}"
        );
        // It listens there, on the remote host: a client from host `client` runs a test.
        let result = NativeClient::new(
            sshd.address.to_string(),
            port,
            ClientOptions::new().bytes(1 << 20),
        )
        .unwrap()
        .on(sshd.client.clone())
        .run()
        .await
        .unwrap();
        assert_eq!(result.bytes_received(), 1 << 20);
        server.stop(Duration::from_secs(5)).await.unwrap();
        drop((occupied, remote));
        sshd.stop().await;
    }

    #[tokio::test]
    async fn a_server_that_finds_no_free_port_names_every_port_it_tried() {
        let Some(binary) = iperf3() else { return };
        let dir = runpath("no_free_port");
        let occupied = TcpListener::bind((LOCALHOST, 0)).unwrap();
        let taken = occupied.local_addr().unwrap().port();
        let error = spawn(binary, 2)
            .run(&dir, &mut |_| Box::pin(async move { Ok(taken) }))
            .await
            .unwrap_err();
        assert!(
            error.to_string().contains(&format!(
                "each of ports {taken}, {taken} was already in use (2 attempt(s))"
            )),
            "{error}"
        );
    }
}
