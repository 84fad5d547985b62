use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use testrig::report::DriverReport;
use testrig::{BoxError, ConnectionInfo, Driver, Endpoint, Exports, RefKey, StartContext};

use super::link::lock;
use super::slot::{ProxyRoute, ProxySlot};
use super::{
    ConnectionStats, FaultProxyError, ProxyCounters, ProxyEngine, ProxyEvent, TimedEvent, Toxic,
};

/// A fault-injecting TCP proxy driver (Toxiproxy's semantics, in-process, no root):
/// listens on its endpoint (default `127.0.0.1`, port from the kernel) and carries
/// each connection to its upstream through the [`Toxic`]s added to it, at start or
/// while the test runs.
///
/// Exports `host`, `port` and `address` like a `TcpServer`, so a client given
/// `Endpoint::of("proxy")` talks to the proxy, and the proxy to the upstream. The
/// upstream is a value or a reference (`Endpoint::of("server")`): a dependency.
/// Toxics are kept across restarts; a restart listens on the same port again.
///
/// With no toxic a direction passes small amounts through a 16 KiB buffer (one
/// `recv`, one `send`) and a bulk flow through a pipe in the kernel (`splice(2)`,
/// 64 KiB, 1 MiB once a bulk flow fills it); under toxics it reads ahead at most
/// 64 KiB. Nothing more is held, so a slow reader slows the writer.
///
/// # Examples
/// ```no_run
/// # async fn demo() -> testrig::Result<()> {
/// use std::time::Duration;
/// use testrig::{Endpoint, Environment};
/// use testrig_drivers::fault_proxy::{FaultProxy, Toxic};
/// use testrig_drivers::tcp::{TcpClient, TcpServer};
///
/// let env = Environment::builder("slow link")
///     .driver(TcpServer::new("server"))
///     .driver(FaultProxy::new("proxy", Endpoint::of("server")).toxic(Toxic::latency(50, 0)))
///     .driver(TcpClient::new("client", Endpoint::of("proxy")))
///     .build()?;
/// env.run(|env| async move {
///     let proxy = env.get::<FaultProxy>("proxy")?;
///     proxy.add_toxic(Toxic::bandwidth(100).upstream()).map_err(testrig::Error::other)?;
///     proxy.disable().await.map_err(testrig::Error::other)?; // the link goes down
///     proxy.enable().await.map_err(testrig::Error::other)?;
///     Ok::<_, testrig::Error>(())
/// }).await
/// # }
/// ```
#[derive(Debug)]
pub struct FaultProxy {
    name: String,
    listen: Endpoint,
    upstream: Endpoint,
    /// The toxics, the route and the engine of the current run, shared with a
    /// [`ProxyRegistry`](super::ProxyRegistry) serving the Toxiproxy API.
    slot: Arc<ProxySlot>,
    /// A toxic given to the builder that was refused, reported by `check`.
    refused: Mutex<Option<FaultProxyError>>,
}

impl FaultProxy {
    /// A proxy to `upstream` (an address, or `Endpoint::of("server")`), listening on
    /// `127.0.0.1`, port from the kernel.
    pub fn new(name: impl Into<String>, upstream: impl Into<Endpoint>) -> Self {
        let name = name.into();
        Self {
            slot: Arc::new(ProxySlot::new(&name)),
            name,
            listen: Endpoint::default(),
            upstream: upstream.into(),
            refused: Mutex::new(None),
        }
    }

    /// Where to listen: `127.0.0.1`, port 0 by default (never all interfaces unless
    /// asked).
    #[must_use]
    pub fn listen(mut self, endpoint: impl Into<Endpoint>) -> Self {
        self.listen = endpoint.into();
        self
    }

    /// A toxic in place from the start. One the proxy refuses (a bad attribute, a
    /// name taken) fails the environment's build
    /// ([`BuildError::InvalidDriver`](testrig::BuildError::InvalidDriver), naming the
    /// toxic, the field and the value).
    #[must_use]
    pub fn toxic(self, toxic: Toxic) -> Self {
        if let Err(error) = self.slot.toxics().add(toxic) {
            lock(&self.refused).get_or_insert(error);
        }
        self
    }

    /// Adds a toxic, started or not; it applies to live connections at once.
    /// Returns it with its name filled in (`<type>_<stream>` unless named).
    pub fn add_toxic(&self, toxic: Toxic) -> Result<Toxic, FaultProxyError> {
        self.slot.toxics().add(toxic)
    }

    /// Replaces the attributes and toxicity of the toxic of the same name.
    pub fn update_toxic(&self, toxic: Toxic) -> Result<Toxic, FaultProxyError> {
        self.slot.toxics().update(toxic)
    }

    /// Removes a toxic; what it held back goes on.
    pub fn remove_toxic(&self, name: &str) -> Result<(), FaultProxyError> {
        self.slot.toxics().remove(name)
    }

    /// The toxics, in the order they were added.
    pub fn toxics(&self) -> Vec<Toxic> {
        self.slot.toxics().list()
    }

    /// The toxic of that name.
    pub fn get_toxic(&self, name: &str) -> Option<Toxic> {
        self.slot.toxics().get(name)
    }

    /// Closes every connection and refuses new ones until [`enable`](Self::enable).
    pub async fn disable(&self) -> Result<(), FaultProxyError> {
        self.engine()?.disable().await;
        Ok(())
    }

    /// Accepts connections again, on the same address.
    pub async fn enable(&self) -> Result<(), FaultProxyError> {
        self.engine()?.enable().await
    }

    /// Removes every toxic and enables the proxy.
    pub async fn reset(&self) -> Result<(), FaultProxyError> {
        let engine = self.engine()?;
        self.slot.toxics().clear();
        engine.enable().await
    }

    /// The listening address, while started.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.slot.engine().map(|e| e.local_addr())
    }

    /// Every connection of this run, open and ended, with its bytes each way.
    pub fn connection_stats(&self) -> Vec<ConnectionStats> {
        self.engine().map(|e| e.connections()).unwrap_or_default()
    }

    /// The totals over every run: connections opened, closed, reset, bytes each
    /// way, toxics applied.
    pub fn counters(&self) -> ProxyCounters {
        self.slot.counters()
    }

    /// How many connections are open now.
    pub fn open_connections(&self) -> usize {
        self.engine().map_or(0, |e| e.open_connections())
    }

    /// Waits up to `timeout` until the number of open connections satisfies
    /// `enough`; `false` if it did not (or the proxy is not started).
    pub async fn wait_open_connections(
        &self,
        enough: impl FnMut(usize) -> bool,
        timeout: Duration,
    ) -> bool {
        match self.engine() {
            Ok(engine) => engine.wait_open_connections(enough, timeout).await,
            Err(_) => false,
        }
    }

    /// What happened in this run, oldest first.
    pub fn events(&self) -> Vec<TimedEvent> {
        self.engine().map(|e| e.events()).unwrap_or_default()
    }

    /// The first event of this run, past or within `timeout`, that `matches`.
    pub async fn wait_for_event(
        &self,
        matches: impl FnMut(&ProxyEvent) -> bool,
        timeout: Duration,
    ) -> Option<TimedEvent> {
        self.engine().ok()?.wait_for_event(matches, timeout).await
    }

    /// What the Toxiproxy API shares with this driver.
    pub(crate) fn slot(&self) -> &Arc<ProxySlot> {
        &self.slot
    }

    /// The address the upstream sees as its peer for the open connection from
    /// `client` (the proxy's own end towards it), waiting up to `timeout` for that
    /// connection to reach the upstream; `None` if no open connection came from
    /// `client` or it did not reach the upstream in time.
    pub async fn upstream_side_of(
        &self,
        client: SocketAddr,
        timeout: Duration,
    ) -> Option<SocketAddr> {
        let engine = self.engine().ok()?;
        let id = engine
            .connections()
            .iter()
            .rev()
            // An open one: an ended connection may have had the same client port.
            .find(|stats| stats.client == client && stats.closed_at.is_none())?
            .id;
        let event = engine
            .wait_for_event(
                |event| matches!(event, ProxyEvent::UpstreamConnected { connection, .. } if *connection == id),
                timeout,
            )
            .await?;
        match event.event {
            ProxyEvent::UpstreamConnected { local, .. } => Some(local),
            _ => None,
        }
    }

    /// The engine of this run.
    pub fn engine(&self) -> Result<Arc<ProxyEngine>, FaultProxyError> {
        self.slot
            .engine()
            .ok_or_else(|| FaultProxyError::NotStarted {
                proxy: self.name.clone(),
            })
    }

    async fn resolve(
        &self,
        role: &'static str,
        (host, port): (String, u16),
    ) -> Result<SocketAddr, FaultProxyError> {
        let resolve_error = |source| FaultProxyError::Resolve {
            proxy: self.name.clone(),
            role,
            host: host.clone(),
            port,
            source,
        };
        tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(resolve_error)?
            .next()
            .ok_or_else(|| resolve_error(std::io::ErrorKind::NotFound.into()))
    }
}

#[async_trait]
impl Driver for FaultProxy {
    fn name(&self) -> &str {
        &self.name
    }

    fn references(&self) -> Vec<RefKey> {
        [self.listen.references(), self.upstream.references()].concat()
    }

    fn export_keys(&self) -> Vec<String> {
        Endpoint::EXPORT_KEYS.map(str::to_owned).to_vec()
    }

    fn check(&self) -> Result<(), BoxError> {
        match &*lock(&self.refused) {
            // The typed error stays for `start`, should the check be skipped.
            Some(error) => Err(error.to_string().into()),
            None => Ok(()),
        }
    }

    async fn start(&self, ctx: &StartContext) -> Result<(), BoxError> {
        if let Some(error) = lock(&self.refused).take() {
            return Err(error.into());
        }
        if !ctx.host().is_local() {
            return Err(FaultProxyError::OnHost {
                proxy: self.name.clone(),
                host: ctx.host().name().to_owned(),
            }
            .into());
        }
        let (host, mut port) = ctx.endpoint(&self.listen)?;
        if port == 0 {
            // A restart listens on the port of the last run.
            port = self.slot.route().map_or(0, |route| route.listen.port());
        }
        let listen = self.resolve("listen", (host, port)).await?;
        let upstream = self
            .resolve("upstream", ctx.endpoint(&self.upstream)?)
            .await?;
        self.slot
            .start(ProxyRoute {
                listen,
                upstream,
                upstream_text: upstream.to_string(),
            })
            .await?;
        Ok(())
    }

    async fn stop(&self) -> Result<(), BoxError> {
        self.slot.stop().await;
        Ok(())
    }

    fn abort(&self) {
        self.slot.abort();
    }

    /// Its totals over every run, in the report's `counters`.
    fn report(&self, report: &mut DriverReport) {
        let counters = self.counters();
        report.counters.extend(
            counters
                .entries()
                .iter()
                .map(|&(name, value)| (name.to_owned(), value)),
        );
    }

    fn exports(&self) -> Exports {
        self.local_addr().map(Endpoint::exports).unwrap_or_default()
    }

    fn connections(&self) -> Vec<ConnectionInfo> {
        self.slot
            .engine()
            .map(|engine| {
                vec![
                    ConnectionInfo::listening("tcp", engine.local_addr()),
                    ConnectionInfo::connecting("tcp", engine.upstream_addr()),
                ]
            })
            .unwrap_or_default()
    }
}
