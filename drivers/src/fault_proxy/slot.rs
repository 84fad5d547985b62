use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use super::link::lock;
use super::table::ToxicTable;
use super::{FaultProxyError, ProxyCounters, ProxyEngine};

/// Where a proxy listens and where it forwards to.
#[derive(Clone, Debug)]
pub(crate) struct ProxyRoute {
    /// The address to listen on; the bound one once it has listened (a port 0 is
    /// then the kernel's choice, kept for the next run).
    pub(crate) listen: SocketAddr,
    /// The upstream's address.
    pub(crate) upstream: SocketAddr,
    /// The upstream as it was given (Toxiproxy shows the given text).
    pub(crate) upstream_text: String,
}

/// One proxy as its driver and the Toxiproxy API share it: its toxics, kept across
/// runs, its route and the engine of the current run.
#[derive(Debug)]
pub(crate) struct ProxySlot {
    name: String,
    /// Whether enabling it may start an engine: the API's own proxies; a driver's
    /// runs only between its environment's start and stop.
    starts_on_demand: bool,
    toxics: Arc<ToxicTable>,
    state: Mutex<SlotState>,
    /// Serializes the changes that stop or start an engine (enable, disable, a new
    /// route) so two at once cannot both start one.
    changes: tokio::sync::Mutex<()>,
}

#[derive(Debug, Default)]
struct SlotState {
    route: Option<ProxyRoute>,
    /// The totals of the runs that ended.
    past: ProxyCounters,
    engine: Option<Arc<ProxyEngine>>,
}

impl ProxySlot {
    /// A driver's: only the driver starts and stops its runs.
    pub(crate) fn new(name: &str) -> Self {
        Self::with_starts(name, false)
    }

    /// The API's: enabling it starts a run on its route.
    pub(crate) fn on_demand(name: &str) -> Self {
        Self::with_starts(name, true)
    }

    fn with_starts(name: &str, starts_on_demand: bool) -> Self {
        Self {
            name: name.to_owned(),
            starts_on_demand,
            toxics: Arc::new(ToxicTable::new(name)),
            state: Mutex::new(SlotState::default()),
            changes: tokio::sync::Mutex::new(()),
        }
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn toxics(&self) -> &ToxicTable {
        &self.toxics
    }

    /// The engine of the current run, if it runs.
    pub(crate) fn engine(&self) -> Option<Arc<ProxyEngine>> {
        lock(&self.state).engine.clone()
    }

    /// The route of the current or last run, or the one set for the next.
    pub(crate) fn route(&self) -> Option<ProxyRoute> {
        lock(&self.state).route.clone()
    }

    /// Starts an engine on `route` (the one running, if any, is stopped first).
    pub(crate) async fn start(
        &self,
        route: ProxyRoute,
    ) -> Result<Arc<ProxyEngine>, FaultProxyError> {
        let _change = self.changes.lock().await;
        self.stop_locked().await;
        self.start_locked(route)
    }

    /// Stops the engine of the current run, if any; the route and toxics stay.
    pub(crate) async fn stop(&self) {
        let _change = self.changes.lock().await;
        self.stop_locked().await;
    }

    /// Ends the current run at once, without waiting.
    pub(crate) fn abort(&self) {
        let mut state = lock(&self.state);
        if let Some(engine) = state.engine.take() {
            engine.abort();
            state.past = state.past + engine.counters();
        }
    }

    /// The totals of every run, the current one so far included.
    pub(crate) fn counters(&self) -> ProxyCounters {
        let state = lock(&self.state);
        let current = state
            .engine
            .as_ref()
            .map(|e| e.counters())
            .unwrap_or_default();
        state.past + current
    }

    /// Whether it takes connections now.
    pub(crate) async fn is_enabled(&self) -> bool {
        match self.engine() {
            Some(engine) => engine.is_enabled().await,
            None => false,
        }
    }

    /// Toxiproxy's `enabled`: takes connections (starting an engine on the route
    /// set if none runs) or closes them all and refuses new ones.
    pub(crate) async fn set_enabled(&self, enabled: bool) -> Result<(), FaultProxyError> {
        let _change = self.changes.lock().await;
        let (engine, route) = {
            let state = lock(&self.state);
            (state.engine.clone(), state.route.clone())
        };
        match (enabled, engine, route) {
            (true, Some(engine), _) => engine.enable().await,
            (true, None, Some(route)) if self.starts_on_demand => {
                self.start_locked(route).map(drop)
            }
            (true, None, _) => Err(FaultProxyError::NotStarted {
                proxy: self.name.clone(),
            }),
            (false, Some(engine), _) => {
                engine.disable().await;
                Ok(())
            }
            (false, None, _) => Ok(()),
        }
    }

    /// A new route: the current run ends, and a new one starts on the route when
    /// `enabled`. A driver's proxy not running is left so (`NotStarted`).
    pub(crate) async fn reroute(
        &self,
        route: ProxyRoute,
        enabled: bool,
    ) -> Result<(), FaultProxyError> {
        let _change = self.changes.lock().await;
        if !self.starts_on_demand && self.engine().is_none() {
            return Err(FaultProxyError::NotStarted {
                proxy: self.name.clone(),
            });
        }
        self.stop_locked().await;
        lock(&self.state).route = Some(route.clone());
        if enabled {
            self.start_locked(route)?;
        }
        Ok(())
    }

    fn start_locked(&self, route: ProxyRoute) -> Result<Arc<ProxyEngine>, FaultProxyError> {
        let engine = Arc::new(ProxyEngine::start_with(
            &self.name,
            route.listen,
            route.upstream,
            Arc::clone(&self.toxics),
        )?);
        let mut state = lock(&self.state);
        state.route = Some(ProxyRoute {
            listen: engine.local_addr(),
            ..route
        });
        state.engine = Some(Arc::clone(&engine));
        Ok(engine)
    }

    async fn stop_locked(&self) {
        let engine = lock(&self.state).engine.take();
        if let Some(engine) = engine {
            engine.stop().await;
            let mut state = lock(&self.state);
            state.past = state.past + engine.counters();
        }
    }
}
