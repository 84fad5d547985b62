//! `IperfServer`: an iperf3 server with the driver lifecycle, on either engine.

use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use testrig::{
    BoxError, ConnectionInfo, Driver, Endpoint, Exports, Host, RefKey, StartContext, Supervisor,
};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::{CancellationToken, DropGuard};

use super::Engine;
use super::native_served::{SERVED_CAPACITY, supervise};
use super::program::Program;
use crate::iperf::binary::Iperf3Server;
use crate::iperf::engine::server::ServedTest;
use crate::iperf::engine::{NativeServer, ServerConfig};
use crate::iperf::error::{IperfError, Phase};

/// Default deadline of a graceful stop of an iperf3 server process.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// An iperf3 server driver: listens on `host:port` (default: its own host's address,
/// `127.0.0.1` on this machine, port chosen for it) and serves tests one at a time, on the
/// native engine (the default) or the real `iperf3 -s`.
///
/// It runs on the host it is placed on ([`DriverSpec::on`](testrig::DriverSpec::on),
/// [`add_on`](testrig::EnvironmentBuilder::add_on)), this machine unless placed: a host of
/// the environment's emulated network gets the native server's sockets, or the `iperf3`
/// process, inside its namespace (see `docs/networks.md`, "iperf between hosts"). An SSH host
/// gets a process: the remote's `iperf3 -s`, or for the native engine the `testrig` binary
/// installed there ([`Host::install`]) as `testrig iperf3 -s`; it listens on the SSH host's
/// address, on a port picked at random in 61000–65535 and retried when in use (see
/// `docs/iperf.md`, "On SSH hosts"). As with `iperf3`, such a server's results are not read.
///
/// Exports `host`, `port` and `address` (and `pid` with the iperf3-binary engine). A
/// restart listens on the same port again. While started it is supervised: a native server
/// that stops serving, or an iperf3 process that exits, moves the driver to `Failed`.
///
/// With the native engine, [`next_test`](Self::next_test) hands out the server's view of
/// each test served. The iperf3-binary engine does not read the server's results (iperf3
/// 3.12 prints no readiness line in JSON mode); the client's result holds both sides'
/// counts.
///
/// # Examples
/// ```no_run
/// # async fn demo() -> testrig::Result<()> {
/// use std::time::Duration;
/// use testrig::{Environment, Ref};
/// use testrig_drivers::iperf::{ClientOptions, Engine, IperfClient, IperfServer};
///
/// let env = Environment::builder("iperf")
///     .driver(IperfServer::new("server"))
///     .driver(
///         IperfClient::new("client", Ref::export("server", "port"))
///             .engine(Engine::iperf3())
///             .options(ClientOptions::new().duration(Duration::from_secs(1))),
///     )
///     .build()?;
/// env.run(|env| async move {
///     let client = env.get::<IperfClient>("client")?;
///     let result = client.run(Duration::from_secs(10)).await?;
///     println!("{:.2} Gbit/s", result.received_bits_per_second() / 1e9);
///     Ok::<_, testrig::Error>(())
/// })
/// .await
/// # }
/// ```
#[derive(Debug)]
pub struct IperfServer {
    name: String,
    endpoint: Endpoint,
    engine: Engine,
    native: ServerConfig,
    stop_timeout: Duration,
    state: Mutex<State>,
    served: tokio::sync::Mutex<Option<mpsc::Receiver<ServedTest>>>,
}

#[derive(Debug, Default)]
struct State {
    /// The port of the last run, listened on again on restart when `port` is 0.
    last_port: Option<u16>,
    running: Option<Running>,
}

/// A started server. Dropping it (even without a stop) ends its supervision task, which
/// shuts a native server down; an iperf3 process is then killed with its last handle.
#[derive(Debug)]
enum Running {
    Native {
        local: SocketAddr,
        supervision: DropGuard,
        task: JoinHandle<()>,
    },
    Binary {
        server: Iperf3Server,
        supervision: DropGuard,
    },
}

impl Running {
    fn local(&self) -> SocketAddr {
        match self {
            Running::Native { local, .. } => *local,
            Running::Binary { server, .. } => server.local_addr(),
        }
    }
}

impl IperfServer {
    /// A native server on its host's address (`127.0.0.1` on this machine), on a port
    /// chosen for it.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            endpoint: Endpoint::default(),
            engine: Engine::Native,
            native: ServerConfig::default(),
            stop_timeout: STOP_TIMEOUT,
            state: Mutex::new(State::default()),
            served: tokio::sync::Mutex::new(None),
        }
    }

    /// The address to bind: the driver's own host's address (`127.0.0.1` on this machine),
    /// port 0 (the kernel picks) by default, and for an endpoint given by its port alone;
    /// never all interfaces unless asked (`Endpoint::new("0.0.0.0", 0)`). Host and port may
    /// each be a reference.
    #[must_use]
    pub fn listen(mut self, endpoint: impl Into<Endpoint>) -> Self {
        self.endpoint = endpoint.into();
        self
    }

    /// The engine (default [`Engine::Native`]).
    #[must_use]
    pub fn engine(mut self, engine: Engine) -> Self {
        self.engine = engine;
        self
    }

    /// The server's limits and deadlines. The native engine applies all of them; the
    /// iperf3 binary gets the send and receive timeouts and the device as `-s` flags
    /// (`--snd-timeout`, `--rcv-timeout` when not the default 120 s, `--bind-dev`).
    #[must_use]
    pub fn config(mut self, config: ServerConfig) -> Self {
        self.native = config;
        self
    }

    /// How long an iperf3 process gets to end after `SIGTERM` on stop (default 5 s).
    #[must_use]
    pub fn process_stop_timeout(mut self, timeout: Duration) -> Self {
        self.stop_timeout = timeout;
        self
    }

    /// The address clients connect to, while started.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.lock().running.as_ref().map(Running::local)
    }

    /// The iperf3 process id, while started with the iperf3-binary engine.
    pub fn pid(&self) -> Option<u32> {
        match &self.lock().running {
            Some(Running::Binary { server, .. }) => Some(server.process().pid()),
            _ => None,
        }
    }

    /// The next test the server served (completed or failed), waiting at most `timeout`.
    /// Native engine in this process only (not on an SSH host, where the engine runs as a
    /// program); the driver keeps the last 64 tests nobody has read, and a restart forgets
    /// them.
    pub async fn next_test(&self, timeout: Duration) -> Result<ServedTest, IperfError> {
        let remote_native = matches!(self.engine, Engine::Native)
            && matches!(self.lock().running, Some(Running::Binary { .. }));
        if remote_native || matches!(self.engine, Engine::Iperf3Binary { .. }) {
            return Err(IperfError::Unsupported {
                driver: self.name.clone(),
                what: "reading the server's test results",
                engine: match remote_native {
                    true => "native (`testrig iperf3 -s` on an SSH host)".to_owned(),
                    false => self.engine.to_string(),
                },
            });
        }
        let mut served = self.served.lock().await;
        let receiver = served.as_mut().ok_or_else(|| self.not_started())?;
        match tokio::time::timeout(timeout, receiver.recv()).await {
            Ok(Some(test)) => Ok(test),
            Ok(None) => Err(self.not_started()),
            Err(_) => Err(IperfError::Timeout {
                phase: Phase::WaitingForTest,
                after: timeout,
            }
            .in_driver(&self.name)),
        }
    }

    fn not_started(&self) -> IperfError {
        IperfError::NotStarted {
            driver: self.name.clone(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn resolve(&self, host: &str) -> Result<IpAddr, IperfError> {
        let error = |source| {
            IperfError::Resolve {
                host: host.to_owned(),
                source,
            }
            .in_driver(&self.name)
        };
        let mut addresses = tokio::net::lookup_host((host, 0)).await.map_err(error)?;
        addresses.next().map(|a| a.ip()).ok_or_else(|| {
            error(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no addresses",
            ))
        })
    }

    /// The server's settings for a start on `host`.
    fn config_on(&self, host: &Host) -> ServerConfig {
        self.native.clone().on(host.clone())
    }

    async fn start_native(
        &self,
        address: SocketAddr,
        ctx: &StartContext,
    ) -> Result<Running, IperfError> {
        let server = NativeServer::bind(address, self.config_on(ctx.host()))
            .await
            .map_err(|e| e.in_driver(&self.name))?;
        let local = server.local_addr();
        let (sender, receiver) = mpsc::channel(SERVED_CAPACITY);
        *self.served.lock().await = Some(receiver);
        let cancel = CancellationToken::new();
        let task = supervise(server, sender, cancel.clone(), ctx.supervisor());
        Ok(Running::Native {
            local,
            supervision: cancel.drop_guard(),
            task,
        })
    }

    async fn start_binary(
        &self,
        program: Program,
        address: SocketAddr,
        ctx: &StartContext,
    ) -> Result<Running, BoxError> {
        let config = self.config_on(ctx.host());
        let server = Iperf3Server::start_program(
            program.path,
            program.leading,
            address,
            &config,
            ctx.runpath()?,
        )
        .await
        .map_err(|e| e.in_driver(&self.name))?;
        let cancel = CancellationToken::new();
        watch_process(&server, cancel.clone(), ctx.supervisor());
        Ok(Running::Binary {
            server,
            supervision: cancel.drop_guard(),
        })
    }
}

/// Reports the end of the iperf3 process, unless `cancel` fires first (a deliberate stop).
fn watch_process(server: &Iperf3Server, cancel: CancellationToken, supervisor: Supervisor) {
    let process = server.process().clone();
    tokio::spawn(async move {
        let exit = tokio::select! {
            () = cancel.cancelled() => return,
            exit = process.exited() => exit,
        };
        supervisor.died(format!(
            "the iperf3 server (pid {}) {exit} while it should keep running\n{}",
            process.pid(),
            process.tail()
        ));
    });
}

#[async_trait]
impl Driver for IperfServer {
    fn name(&self) -> &str {
        &self.name
    }

    fn references(&self) -> Vec<RefKey> {
        self.endpoint.references()
    }

    fn export_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = Endpoint::EXPORT_KEYS.map(String::from).into();
        if let Engine::Iperf3Binary { .. } = self.engine {
            keys.push("pid".into());
        }
        keys
    }

    fn readiness(&self) -> String {
        match self.engine {
            Engine::Native => "the native iperf server listening".to_owned(),
            Engine::Iperf3Binary { .. } => "`Server listening` on iperf3's stdout".to_owned(),
        }
    }

    async fn start(&self, ctx: &StartContext) -> Result<(), BoxError> {
        let (host, configured) = ctx.endpoint(&self.endpoint)?;
        let port = match (configured, self.lock().last_port) {
            (0, Some(last)) => last,
            (port, _) => port,
        };
        let address = SocketAddr::new(self.resolve(&host).await?, port);
        let program = Program::of(&self.engine, ctx.host(), self.native.zero_copy)
            .await
            .map_err(|e| e.in_driver(&self.name))?;
        let running = match program {
            None => self.start_native(address, ctx).await?,
            Some(program) => self.start_binary(program, address, ctx).await?,
        };
        let mut state = self.lock();
        state.last_port = Some(running.local().port());
        state.running = Some(running);
        Ok(())
    }

    async fn stop(&self) -> Result<(), BoxError> {
        let Some(running) = self.lock().running.take() else {
            return Ok(());
        };
        match running {
            Running::Native {
                supervision, task, ..
            } => {
                drop(supervision);
                let _ = task.await;
            }
            Running::Binary {
                server,
                supervision,
            } => {
                // A deliberate stop: end the watch first so the exit is no death.
                drop(supervision);
                server
                    .stop(self.stop_timeout)
                    .await
                    .map_err(|e| e.in_driver(&self.name))?;
            }
        }
        Ok(())
    }

    fn abort(&self) {
        match self.lock().running.take() {
            Some(Running::Native {
                supervision, task, ..
            }) => {
                drop(supervision);
                task.abort();
            }
            Some(Running::Binary {
                server,
                supervision,
            }) => {
                drop(supervision);
                server.kill();
            }
            None => {}
        }
    }

    fn exports(&self) -> Exports {
        let state = self.lock();
        let Some(running) = &state.running else {
            return Exports::new();
        };
        let mut exports = Endpoint::exports(running.local());
        if let (Running::Binary { server, .. }, Engine::Iperf3Binary { .. }) =
            (running, &self.engine)
        {
            exports.insert("pid".into(), server.process().pid().into());
        }
        exports
    }

    fn connections(&self) -> Vec<ConnectionInfo> {
        self.local_addr()
            .map(|local| vec![ConnectionInfo::listening("tcp", local)])
            .unwrap_or_default()
    }

    fn log_tail(&self) -> Vec<String> {
        match &self.lock().running {
            Some(Running::Binary { server, .. }) => server
                .process()
                .tail()
                .lines()
                .map(|(stream, text)| format!("{stream}| {text}"))
                .collect(),
            _ => Vec::new(),
        }
    }
}
