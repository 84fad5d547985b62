//! `IperfClient`: an iperf3 client with the driver lifecycle; measurements on demand.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use testrig::{BoxError, ConnectionInfo, Driver, Endpoint, Exports, Host, RefKey, StartContext};
use tokio_util::sync::CancellationToken;

use super::program::Program;
use super::{ClientOptions, Engine};
use crate::iperf::binary::Iperf3Client;
use crate::iperf::config::ClientConfig;
use crate::iperf::engine::{ClientProgress, NativeClient};
use crate::iperf::error::IperfError;
use crate::iperf::kinds::Protocol;
use crate::iperf::result::{IntervalReport, IperfResult};

/// An iperf3 client driver: targets `host:port` (either may reference a server's exports,
/// which makes the server start first) and runs a measurement each time
/// [`run`](Self::run) is called, on the native engine (the default) or the real
/// `iperf3 -c`.
///
/// Starting checks the options and the target (and, for the iperf3-binary engine, that
/// the program is installed); the driver is then ready. A measurement has a deadline; the
/// last result is kept ([`last_result`](Self::last_result)). Stopping the driver cancels a
/// measurement in progress.
///
/// Exports `host` and `port` (the target).
///
/// It measures from the host it is placed on ([`DriverSpec::on`](testrig::DriverSpec::on),
/// [`add_on`](testrig::EnvironmentBuilder::add_on)), this machine unless placed: on a host
/// of the environment's emulated network, the native client's connections, or the
/// `iperf3 -c` process, start inside its namespace. On an SSH host the client runs there as
/// a process: the remote's `iperf3 -c`, or for the native engine the `testrig` binary,
/// installed there at start ([`Host::install`]), as `testrig iperf3 -c … -J`; its JSON is
/// read as the iperf3 binary's is (interval reports come after the test).
///
/// # Examples
/// ```no_run
/// # async fn demo() -> testrig::Result<()> {
/// use std::time::Duration;
/// use testrig::{Environment, Ref};
/// use testrig_drivers::iperf::{ClientOptions, IperfClient, IperfServer};
///
/// let env = Environment::builder("iperf")
///     .driver(IperfServer::new("server"))
///     .driver(
///         IperfClient::new("client", Ref::export("server", "port")).options(
///             ClientOptions::new()
///                 .duration(Duration::from_secs(1))
///                 .parallel(2),
///         ),
///     )
///     .build()?;
/// env.run(|env| async move {
///     let client = env.get::<IperfClient>("client")?;
///     let result = client
///         .run_with_intervals(Duration::from_secs(10), |i| {
///             println!("{:.0} bit/s", i.sum.bits_per_second)
///         })
///         .await?;
///     assert!(result.bytes_received() > 0);
///     Ok::<_, testrig::Error>(())
/// })
/// .await
/// # }
/// ```
#[derive(Debug)]
pub struct IperfClient {
    name: String,
    endpoint: Endpoint,
    options: ClientOptions,
    engine: Engine,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    prepared: Option<Prepared>,
    last: Option<IperfResult>,
}

/// What a start established: the checked configuration, where the client runs and where
/// files go.
#[derive(Debug, Clone)]
struct Prepared {
    config: ClientConfig,
    /// The program run for each measurement; `None`: the native engine, in this process.
    program: Option<Program>,
    host: Host,
    runpath: PathBuf,
    cancel: CancellationToken,
}

impl IperfClient {
    /// A native client of `target`: an endpoint, often [`Endpoint::of`] a server; given a
    /// port alone (which may be a reference such as `Ref::export("server", "port")`), that
    /// port on the client's own host (`127.0.0.1` on this machine). Options default to
    /// iperf3's (TCP, 10 s).
    pub fn new(name: impl Into<String>, target: impl Into<Endpoint>) -> Self {
        Self {
            name: name.into(),
            endpoint: target.into(),
            options: ClientOptions::default(),
            engine: Engine::Native,
            state: Mutex::new(State::default()),
        }
    }

    /// The engine (default [`Engine::Native`]).
    #[must_use]
    pub fn engine(mut self, engine: Engine) -> Self {
        self.engine = engine;
        self
    }

    /// All measurement options at once.
    #[must_use]
    pub fn options(mut self, options: ClientOptions) -> Self {
        self.options = options;
        self
    }

    /// The measurement options.
    pub fn client_options(&self) -> &ClientOptions {
        &self.options
    }

    /// The result of the last measurement that succeeded, if any.
    pub fn last_result(&self) -> Option<IperfResult> {
        self.lock().last.clone()
    }

    /// Runs one measurement; fails if it does not finish within `timeout`.
    pub async fn run(&self, timeout: Duration) -> Result<IperfResult, IperfError> {
        self.run_with_intervals(timeout, |_| {}).await
    }

    /// Runs one measurement, calling `on_interval` with each interval report (as each
    /// interval closes with the native engine; after the test with the iperf3 binary, which
    /// prints its JSON at the end). Fails if it does not finish within `timeout`, or when the
    /// driver is stopped meanwhile.
    ///
    /// Each interval is also a `tracing` event (info, target `testrig_drivers::iperf`, with
    /// the driver's name), so a test with a subscriber sees a long measurement progress.
    pub async fn run_with_intervals(
        &self,
        timeout: Duration,
        mut on_interval: impl FnMut(&IntervalReport) + Send,
    ) -> Result<IperfResult, IperfError> {
        let name = self.name.as_str();
        let on_interval = move |interval: &IntervalReport| {
            let sum = &interval.sum;
            tracing::info!(
                driver = name,
                start = sum.start,
                end = sum.end,
                bits_per_second = sum.bits_per_second,
                "iperf interval {:.2}-{:.2} s: {:.3} Gbit/s",
                sum.start,
                sum.end,
                sum.bits_per_second / 1e9
            );
            on_interval(interval);
        };
        let prepared = self
            .lock()
            .prepared
            .clone()
            .ok_or_else(|| IperfError::NotStarted {
                driver: self.name.clone(),
            })?;
        let result = match &prepared.program {
            // The native engine ends a cancelled run itself, as iperf3 ends on SIGTERM: it
            // tells the server (CLIENT_TERMINATE) rather than dropping the connections.
            None => self.measure_native(&prepared, timeout, on_interval).await,
            Some(program) => tokio::select! {
                () = prepared.cancel.cancelled() => Err(IperfError::Cancelled {
                    driver: self.name.clone(),
                }),
                result = self.measure_binary(&prepared, program, timeout, on_interval) => result,
            },
        }?;
        self.lock().last = Some(result.clone());
        Ok(result)
    }

    /// One measurement with the native engine; the driver's stop interrupts it.
    async fn measure_native(
        &self,
        prepared: &Prepared,
        timeout: Duration,
        mut on_interval: impl FnMut(&IntervalReport) + Send,
    ) -> Result<IperfResult, IperfError> {
        let client = NativeClient::with_config(prepared.config.clone()).on(prepared.host.clone());
        let cancel = prepared.cancel.clone();
        let run = client.run_with_interrupt(cancel.cancelled_owned(), |progress| {
            if let ClientProgress::Interval(report) = progress {
                on_interval(report);
            }
        });
        match tokio::time::timeout(timeout, run).await {
            Ok(Err(IperfError::Interrupted { .. })) => Err(IperfError::Cancelled {
                driver: self.name.clone(),
            }),
            Ok(result) => result.map_err(|e| e.in_driver(&self.name)),
            Err(_) => Err(IperfError::MeasurementTimeout {
                driver: self.name.clone(),
                after: timeout,
            }),
        }
    }

    /// One measurement with the iperf3 binary (`program`).
    async fn measure_binary(
        &self,
        prepared: &Prepared,
        program: &Program,
        timeout: Duration,
        on_interval: impl FnMut(&IntervalReport) + Send,
    ) -> Result<IperfResult, IperfError> {
        Iperf3Client::with_config(prepared.config.clone())
            .program_with(&program.path, program.leading.clone())
            .on(prepared.host.clone())
            .run_with_intervals(&prepared.runpath, timeout, on_interval)
            .await
            .map_err(|e| e.in_driver(&self.name))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl Driver for IperfClient {
    fn name(&self) -> &str {
        &self.name
    }

    fn references(&self) -> Vec<RefKey> {
        self.endpoint.references()
    }

    fn export_keys(&self) -> Vec<String> {
        vec!["host".into(), "port".into()]
    }

    fn readiness(&self) -> String {
        "its options and target checked".to_owned()
    }

    async fn start(&self, ctx: &StartContext) -> Result<(), BoxError> {
        let (host, port) = ctx.endpoint(&self.endpoint)?;
        let config = ClientConfig::new(host, port, &self.options)
            .and_then(|config| {
                self.options
                    .check_it_ends("an IperfClient driver cannot interrupt its measurement")?;
                Ok(config)
            })
            .map_err(|e| e.in_driver(&self.name))?;
        if let Engine::Iperf3Binary { program } = &self.engine {
            crate::iperf::binary::check_available(program, ctx.host())
                .map_err(|e| e.in_driver(&self.name))?;
        }
        let program = Program::of(&self.engine, ctx.host(), self.options.zero_copy)
            .await
            .map_err(|e| e.in_driver(&self.name))?;
        let runpath = ctx.runpath()?.to_path_buf();
        let mut state = self.lock();
        if let Some(previous) = state.prepared.take() {
            previous.cancel.cancel();
        }
        state.prepared = Some(Prepared {
            config,
            program,
            host: ctx.host().clone(),
            runpath,
            cancel: CancellationToken::new(),
        });
        Ok(())
    }

    async fn stop(&self) -> Result<(), BoxError> {
        if let Some(prepared) = self.lock().prepared.take() {
            prepared.cancel.cancel();
        }
        Ok(())
    }

    fn abort(&self) {
        if let Some(prepared) = self.lock().prepared.take() {
            prepared.cancel.cancel();
        }
    }

    fn exports(&self) -> Exports {
        let mut exports = Exports::new();
        if let Some(prepared) = &self.lock().prepared {
            exports.insert("host".into(), prepared.config.host().into());
            exports.insert("port".into(), prepared.config.port().into());
        }
        exports
    }

    fn connections(&self) -> Vec<ConnectionInfo> {
        let state = self.lock();
        let Some(prepared) = &state.prepared else {
            return Vec::new();
        };
        let c = &prepared.config;
        let target = format!("{}:{}", c.host(), c.port());
        let mut connections = vec![ConnectionInfo::connecting("tcp", &target)];
        if c.protocol() == Protocol::Udp {
            connections.push(ConnectionInfo::connecting("udp", &target));
        }
        connections
    }
}
