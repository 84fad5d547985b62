use std::collections::BTreeMap;
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use tokio::net::{TcpListener, TcpStream};

use super::{Event, Journal};
use crate::context::{Exports, Param, Ref, RefKey, Value};
use crate::driver::{ConnectionInfo, Driver, StartContext, Supervisor};
use crate::error::{BoxError, Phase};

/// A driver whose behaviour a test scripts: slow, failing in start, readiness or
/// stop, dying while started; optionally holding a real TCP listener (exporting
/// its kernel-assigned `port`) or a real connection to another driver's port.
///
/// It exists to test environments and the lifecycle engine, and to benchmark
/// the framework's own overhead.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use testrig::testing::{Journal, ScriptedDriver};
/// use testrig::{Phase, Ref};
///
/// let journal = Journal::new();
/// let server = ScriptedDriver::new("server").listen().journal(&journal);
/// let client = ScriptedDriver::new("client")
///     .connect_to(Ref::export("server", "port"))
///     .start_delay(Duration::from_millis(5))
///     .fail_in(Phase::Ready)
///     .journal(&journal);
/// ```
pub struct ScriptedDriver {
    name: String,
    start_delay: Duration,
    ready_delay: Duration,
    stop_delay: Duration,
    fail_in: Option<Phase>,
    listen: bool,
    writes_files: bool,
    pausable: bool,
    connect_to: Option<Param<u16>>,
    needs: Vec<RefKey>,
    fixed_exports: Exports,
    journal: Journal,
    live: Mutex<Live>,
}

#[derive(Default)]
struct Live {
    listener: Option<TcpListener>,
    port: Option<u16>,
    stream: Option<TcpStream>,
    connected_port: Option<u16>,
    resolved: BTreeMap<String, Value>,
    supervisor: Option<Supervisor>,
    log: Vec<String>,
}

impl ScriptedDriver {
    /// A driver that starts and stops at once and exports nothing.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            start_delay: Duration::ZERO,
            ready_delay: Duration::ZERO,
            stop_delay: Duration::ZERO,
            fail_in: None,
            listen: false,
            writes_files: false,
            pausable: false,
            connect_to: None,
            needs: Vec::new(),
            fixed_exports: Exports::new(),
            journal: Journal::new(),
            live: Mutex::new(Live::default()),
        }
    }

    /// `start` takes this long.
    #[must_use]
    pub fn start_delay(mut self, delay: Duration) -> Self {
        self.start_delay = delay;
        self
    }

    /// `ready` takes this long.
    #[must_use]
    pub fn ready_delay(mut self, delay: Duration) -> Self {
        self.ready_delay = delay;
        self
    }

    /// `stop` takes this long.
    #[must_use]
    pub fn stop_delay(mut self, delay: Duration) -> Self {
        self.stop_delay = delay;
        self
    }

    /// Fail in `Phase::Start`, `Phase::Ready` or `Phase::Stop` (after the delay).
    #[must_use]
    pub fn fail_in(mut self, phase: Phase) -> Self {
        self.fail_in = Some(phase);
        self
    }

    /// Write a file `started` into its runpath in `start`, as a driver with files of its
    /// own does (by default it has none, and its runpath is never created).
    #[must_use]
    pub fn writes_files(mut self) -> Self {
        self.writes_files = true;
        self
    }

    /// Bind a real listener on `127.0.0.1:0` in `start` and export its `port`.
    #[must_use]
    pub fn listen(mut self) -> Self {
        self.listen = true;
        self
    }

    /// Support `pause` and `resume` (recorded in the journal).
    #[must_use]
    pub fn pausable(mut self) -> Self {
        self.pausable = true;
        self
    }

    /// Connect to `127.0.0.1:<port>` in `start` (the port may be a reference).
    #[must_use]
    pub fn connect_to(mut self, port: impl Into<Param<u16>>) -> Self {
        self.connect_to = Some(port.into());
        self
    }

    /// Resolve `reference` in `start` and keep the value (see [`resolved`](Self::resolved)).
    #[must_use]
    pub fn needs(mut self, reference: Ref<Value>) -> Self {
        self.needs.push(reference.key().clone());
        self
    }

    /// Export `key` = `value`.
    #[must_use]
    pub fn export(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.fixed_exports.insert(key.into(), value.into());
        self
    }

    /// Record into `journal`.
    #[must_use]
    pub fn journal(mut self, journal: &Journal) -> Self {
        self.journal = journal.clone();
        self
    }

    /// The port it listens on, while started with [`listen`](Self::listen).
    pub fn port(&self) -> Option<u16> {
        self.live().port
    }

    /// The port it connected to, with [`connect_to`](Self::connect_to).
    pub fn connected_port(&self) -> Option<u16> {
        self.live().connected_port
    }

    /// The values resolved for [`needs`](Self::needs), by `driver.key`.
    pub fn resolved(&self) -> BTreeMap<String, Value> {
        self.live().resolved.clone()
    }

    /// Whether it holds a live listener or connection.
    pub fn holds_sockets(&self) -> bool {
        let live = self.live();
        live.listener.is_some() || live.stream.is_some()
    }

    /// The supervisor of its current run, while started.
    pub fn supervisor(&self) -> Option<Supervisor> {
        self.live().supervisor.clone()
    }

    /// Dies: drops its sockets and reports the death to its supervisor.
    pub fn die(&self, reason: &str) -> bool {
        let supervisor = {
            let mut live = self.live();
            live.listener = None;
            live.stream = None;
            live.log.push(format!("died: {reason}"));
            live.supervisor.clone()
        };
        self.journal.record(&self.name, Event::Died);
        supervisor.is_some_and(|s| s.died(reason))
    }

    fn live(&self) -> std::sync::MutexGuard<'_, Live> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn log(&self, line: impl Into<String>) {
        self.live().log.push(line.into());
    }

    fn failure(&self, phase: Phase) -> Result<(), BoxError> {
        if self.fail_in == Some(phase) {
            self.log(format!("{}: scripted failure in {phase}", self.name));
            return Err(format!("scripted failure in {phase}").into());
        }
        Ok(())
    }
}

#[async_trait]
impl Driver for ScriptedDriver {
    fn name(&self) -> &str {
        &self.name
    }

    fn references(&self) -> Vec<RefKey> {
        let mut refs = self.needs.clone();
        if let Some(r) = self.connect_to.as_ref().and_then(Param::reference) {
            refs.push(r.clone());
        }
        refs
    }

    fn export_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.fixed_exports.keys().cloned().collect();
        if self.listen {
            keys.push("port".to_owned());
        }
        keys
    }

    async fn start(&self, ctx: &StartContext) -> Result<(), BoxError> {
        self.journal.record(&self.name, Event::StartCalled);
        self.log("start called");
        self.live().supervisor = Some(ctx.supervisor());
        if !self.start_delay.is_zero() {
            tokio::time::sleep(self.start_delay).await;
        }
        self.failure(Phase::Start)?;
        let mut resolved = BTreeMap::new();
        for key in &self.needs {
            resolved.insert(key.to_string(), ctx.values_get(key)?);
        }
        self.live().resolved = resolved;
        if self.writes_files {
            std::fs::write(ctx.runpath()?.join("started"), b"started\n")?;
        }
        if self.listen {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let port = listener.local_addr()?.port();
            let mut live = self.live();
            live.listener = Some(listener);
            live.port = Some(port);
        }
        if let Some(port) = &self.connect_to {
            let port = ctx.param(port)?;
            let stream = TcpStream::connect(("127.0.0.1", port)).await?;
            let mut live = self.live();
            live.stream = Some(stream);
            live.connected_port = Some(port);
        }
        self.journal.record(&self.name, Event::StartDone);
        Ok(())
    }

    async fn ready(&self, _ctx: &StartContext) -> Result<(), BoxError> {
        if !self.ready_delay.is_zero() {
            tokio::time::sleep(self.ready_delay).await;
        }
        self.failure(Phase::Ready)?;
        self.journal.record(&self.name, Event::Ready);
        self.log("ready");
        Ok(())
    }

    fn readiness(&self) -> String {
        format!("scripted readiness ({:?})", self.ready_delay)
    }

    async fn stop(&self) -> Result<(), BoxError> {
        self.journal.record(&self.name, Event::StopCalled);
        if !self.stop_delay.is_zero() {
            tokio::time::sleep(self.stop_delay).await;
        }
        {
            let mut live = self.live();
            live.listener = None;
            live.stream = None;
            live.port = None;
            live.supervisor = None;
        }
        self.failure(Phase::Stop)?;
        self.journal.record(&self.name, Event::StopDone);
        self.log("stopped");
        Ok(())
    }

    fn abort(&self) {
        let mut live = self.live();
        live.listener = None;
        live.stream = None;
        live.port = None;
        live.log.push("aborted".to_owned());
        drop(live);
        self.journal.record(&self.name, Event::Aborted);
    }

    async fn pause(&self) -> Result<(), BoxError> {
        if !self.pausable {
            return Err(crate::driver::Unsupported.into());
        }
        self.journal.record(&self.name, Event::Paused);
        Ok(())
    }

    async fn resume(&self) -> Result<(), BoxError> {
        if !self.pausable {
            return Err(crate::driver::Unsupported.into());
        }
        self.journal.record(&self.name, Event::Resumed);
        Ok(())
    }

    fn exports(&self) -> Exports {
        let mut exports = self.fixed_exports.clone();
        if let Some(port) = self.live().port {
            exports.insert("port".to_owned(), port.into());
        }
        exports
    }

    fn connections(&self) -> Vec<ConnectionInfo> {
        let live = self.live();
        let mut out = Vec::new();
        if let Some(port) = live.port {
            out.push(ConnectionInfo::listening(
                "tcp",
                format!("127.0.0.1:{port}"),
            ));
        }
        if let Some(port) = live.connected_port {
            out.push(ConnectionInfo::connecting(
                "tcp",
                format!("127.0.0.1:{port}"),
            ));
        }
        out
    }

    fn log_tail(&self) -> Vec<String> {
        let live = self.live();
        let skip = live.log.len().saturating_sub(5);
        live.log[skip..].to_vec()
    }
}

impl fmt::Debug for ScriptedDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScriptedDriver")
            .field("name", &self.name)
            .field("fail_in", &self.fail_in)
            .finish_non_exhaustive()
    }
}
