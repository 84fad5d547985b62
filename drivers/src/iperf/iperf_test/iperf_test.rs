//! `IperfTest`: server up, gate, client run, server down — one measurement end to end.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use testrig::{DriverSpec, Endpoint, Environment};

use super::error::Failure;
use super::{BothDirections, Gate, Peer};
use crate::iperf::client_options::ClientOptions;
use crate::iperf::driver::{Engine, IperfClient, IperfServer};
use crate::iperf::error::IperfError;
use crate::iperf::result::IperfResult;

const SERVER: &str = "server";
const CLIENT: &str = "client";

/// Runs one iperf measurement end to end, as apetools' `IperfTest` and tuna's `Iperf` do:
/// start the server on the receiving peer and wait for its readiness (an event, not a
/// fixed sleep), wait for the optional [`Gate`], run the client on the sending peer
/// with a deadline, stop the server, return the client's result.
///
/// Everything runs in an [`Environment`] of its own, so whatever was started is stopped
/// however the measurement ends — success, error, gate timeout or panic — and nothing
/// else is touched (no "kill every iperf on the host").
///
/// Directions follow tuna: between a device under test (`dut`) and its `peer`,
/// **upstream** means the DUT sends (client on the DUT, server on the peer) and
/// **downstream** means the DUT receives (server on the DUT, client on the peer).
/// The options' own direction (`reverse`, `bidirectional`) applies on top of that; leave
/// it forward to have the data follow the names.
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
/// use testrig_drivers::iperf::{ClientOptions, Peer, IperfTest};
///
/// # async fn demo() -> Result<(), testrig_drivers::iperf::IperfError> {
/// let test = IperfTest::new(ClientOptions::new().duration(Duration::from_secs(1)));
/// let (dut, peer) = (Peer::loopback("dut"), Peer::loopback("peer"));
/// let both = test.both(&dut, &peer).await?;
/// println!(
///     "up {:.2} Gbit/s, down {:.2} Gbit/s",
///     both.upstream.received_bits_per_second() / 1e9,
///     both.downstream.received_bits_per_second() / 1e9,
/// );
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct IperfTest {
    options: ClientOptions,
    server_engine: Engine,
    client_engine: Engine,
    gate: Option<Gate>,
    deadline: Option<Duration>,
    runpath: Option<PathBuf>,
}

impl IperfTest {
    /// A test measuring with `options`, on the native engine.
    pub fn new(options: ClientOptions) -> Self {
        Self {
            options,
            server_engine: Engine::Native,
            client_engine: Engine::Native,
            gate: None,
            deadline: None,
            runpath: None,
        }
    }

    /// Runs both sides on `engine`.
    #[must_use]
    pub fn engine(self, engine: Engine) -> Self {
        self.server_engine(engine.clone()).client_engine(engine)
    }

    /// The server's engine (default native).
    #[must_use]
    pub fn server_engine(mut self, engine: Engine) -> Self {
        self.server_engine = engine;
        self
    }

    /// The client's engine (default native).
    #[must_use]
    pub fn client_engine(mut self, engine: Engine) -> Self {
        self.client_engine = engine;
        self
    }

    /// Waits for `gate` after the server is ready and before the client starts.
    #[must_use]
    pub fn gate(mut self, gate: Gate) -> Self {
        self.gate = Some(gate);
        self
    }

    /// The client's deadline (default: the planned duration plus 30 s, see
    /// [`ClientOptions::suggested_deadline`]).
    #[must_use]
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Where each measurement's files go (one directory per measurement under it);
    /// default: a fresh directory under `$TESTRIG_RUNPATH` or the temp directory.
    #[must_use]
    pub fn runpath(mut self, dir: impl Into<PathBuf>) -> Self {
        self.runpath = Some(dir.into());
        self
    }

    /// The DUT sends to its peer: client on `dut`, server on `peer`.
    pub async fn upstream(&self, dut: &Peer, peer: &Peer) -> Result<IperfResult, IperfError> {
        self.run(dut, peer).await
    }

    /// The DUT receives from its peer: server on `dut`, client on `peer`.
    pub async fn downstream(&self, dut: &Peer, peer: &Peer) -> Result<IperfResult, IperfError> {
        self.run(peer, dut).await
    }

    /// Upstream, then downstream; both results, or the first failure.
    pub async fn both(&self, dut: &Peer, peer: &Peer) -> Result<BothDirections, IperfError> {
        Ok(BothDirections {
            upstream: self.upstream(dut, peer).await?,
            downstream: self.downstream(dut, peer).await?,
        })
    }

    /// One measurement from `sender` (the client) to `receiver` (the server).
    pub async fn run(&self, sender: &Peer, receiver: &Peer) -> Result<IperfResult, IperfError> {
        self.measure(sender, receiver)
            .await
            .map_err(|failure| failure.named(sender.name(), receiver.name()))
    }

    async fn measure(&self, sender: &Peer, receiver: &Peer) -> Result<IperfResult, Failure> {
        let env = self.environment(sender, receiver)?;
        let gate = self.gate.clone();
        let deadline = self
            .deadline
            .unwrap_or_else(|| self.options.suggested_deadline());
        env.run(|env| async move {
            if let Some(gate) = gate {
                gate.pass().await.map_err(|after| Failure::Gate {
                    gate: gate.name().to_owned(),
                    after,
                })?;
            }
            let client = env.get::<IperfClient>(CLIENT)?;
            Ok::<_, Failure>(client.run(deadline).await?)
        })
        .await
    }

    fn environment(&self, sender: &Peer, receiver: &Peer) -> Result<Environment, Failure> {
        static MEASUREMENTS: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "iperf-{}-to-{}",
            file_safe(sender.name()),
            file_safe(receiver.name())
        );
        let server = IperfServer::new(SERVER)
            .listen((receiver.address(), 0))
            .engine(self.server_engine.clone());
        let mut options = self.options.clone();
        if let Some(bind) = sender.bind_address() {
            options = options.bind(bind);
        }
        let client = IperfClient::new(CLIENT, Endpoint::of(SERVER))
            .engine(self.client_engine.clone())
            .options(options);
        let mut builder = Environment::builder(&name);
        for (i, peer) in [sender, receiver].into_iter().enumerate() {
            // Both peers may be one host: it is added once.
            let added = i == 1 && same_host(sender, receiver);
            if let (Some(host), false) = (peer.host(), added) {
                builder = builder.host(host.clone());
            }
        }
        builder = builder
            .driver(placed(DriverSpec::new(server), receiver))
            .driver(placed(DriverSpec::new(client), sender));
        if let Some(root) = &self.runpath {
            let n = MEASUREMENTS.fetch_add(1, Ordering::Relaxed);
            builder = builder.runpath(root.join(format!("{name}-{n}")));
        }
        Ok(builder.build().map_err(testrig::Error::from)?)
    }
}

/// `spec` on `peer`'s host, if it has one.
fn placed(spec: DriverSpec, peer: &Peer) -> DriverSpec {
    match peer.host() {
        Some(host) => spec.on(host.name()),
        None => spec,
    }
}

/// Whether both peers run on the same host (by its name, which is unique in an
/// environment).
fn same_host(a: &Peer, b: &Peer) -> bool {
    matches!((a.host(), b.host()), (Some(a), Some(b)) if a.name() == b.name())
}

/// `name` with anything but letters, digits, `-` and `_` replaced, for directory names.
fn file_safe(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '_' => c,
            _ => '_',
        })
        .collect()
}
