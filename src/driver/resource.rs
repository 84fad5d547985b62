use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::broadcast;
use tracing::Instrument;

use super::spec::Options;
use super::supervisor::Supervised;
use super::{ConnectionInfo, Driver, DriverSpec, Hook, StartContext, Supervisor, Unsupported};
use crate::context::{Exports, ValueTable};
use crate::error::{LifecycleError, Phase};
use crate::host::Host;
use crate::report::{DriverReport, RecordedError};
use crate::status::{Status, StatusTracker, Transition};

// Here rather than in spec.rs, so that the resource depends on the spec and not the
// other way round.
impl DriverSpec {
    /// A standalone lifecycle engine for this driver, outside any environment,
    /// with its runpath under the system temp directory.
    #[cfg(feature = "testing")]
    pub(crate) fn into_resource(self) -> Resource {
        let runpath = crate::env::default_runpath_root(self.name()).join(self.name());
        Resource::new(self, runpath, ValueTable::new(), None)
    }

    pub(crate) fn into_resource_at(
        self,
        runpath: PathBuf,
        values: ValueTable,
        events: broadcast::Sender<Transition>,
    ) -> Resource {
        Resource::new(self, runpath, values, Some(events))
    }
}

/// The lifecycle engine around one driver: status, timeouts, hooks, restart,
/// pause/resume, abort, failover and supervision.
///
/// Cheap to clone (shared). Environments hold one per driver
/// ([`Environment::resource`](crate::Environment::resource)).
///
/// Operations are serialized: a `stop` issued while a `start` runs waits for it.
#[derive(Clone)]
pub struct Resource {
    inner: Arc<ResourceInner>,
}

pub(crate) struct ResourceInner {
    name: String,
    driver: RwLock<Arc<dyn Driver>>,
    tracker: StatusTracker,
    /// `driver{name, kind}`: the lifecycle's events, and what the driver logs while
    /// it starts, stops or switches, belong to it.
    span: tracing::Span,
    options: Options,
    runpath: PathBuf,
    values: ValueTable,
    /// Where the driver runs: set by the environment once its network is up.
    host: RwLock<Host>,
    operation: tokio::sync::Mutex<()>,
    generation: AtomicU64,
    record: Mutex<Record>,
    /// A death reported while the driver was still starting (after `start`
    /// returned, before `Started`): the start then fails with it.
    death_while_starting: Mutex<Option<(u64, String)>>,
}

/// What the report needs that the status history does not hold.
#[derive(Debug, Default)]
struct Record {
    errors: Vec<RecordedError>,
    setup: Option<Duration>,
    teardown: Option<Duration>,
    exports: Exports,
    connections: Vec<ConnectionInfo>,
}

impl Resource {
    pub(crate) fn new(
        spec: DriverSpec,
        runpath: PathBuf,
        values: ValueTable,
        events: Option<broadcast::Sender<Transition>>,
    ) -> Self {
        let name = spec.driver.name().to_owned();
        let span = tracing::info_span!("driver", name = %name, kind = %spec.driver.kind());
        Self {
            inner: Arc::new(ResourceInner {
                tracker: StatusTracker::with_events(name.clone(), events).with_span(span.clone()),
                span,
                name,
                driver: RwLock::new(spec.driver),
                options: spec.options,
                runpath,
                values,
                host: RwLock::new(Host::local()),
                operation: tokio::sync::Mutex::new(()),
                generation: AtomicU64::new(0),
                record: Mutex::new(Record::default()),
                death_while_starting: Mutex::new(None),
            }),
        }
    }

    /// The driver's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The current driver (the failover replacement, after a failover).
    pub fn driver(&self) -> Arc<dyn Driver> {
        self.inner.driver()
    }

    /// The current status.
    pub fn status(&self) -> Status {
        self.inner.tracker.get()
    }

    /// Every status change so far, with timestamps.
    pub(crate) fn history(&self) -> Vec<Transition> {
        self.inner.tracker.history()
    }

    /// Waits until the status is `status`, for at most `timeout`.
    pub async fn wait(&self, status: Status, timeout: Duration) -> Result<(), LifecycleError> {
        self.inner.tracker.wait(status, timeout).await
    }

    /// The name of the network host the driver is placed on, if any.
    pub(crate) fn placement(&self) -> Option<&str> {
        self.inner.options.host.as_deref()
    }

    /// Where the driver runs from its next start on.
    pub(crate) fn place(&self, host: Host) {
        *self.inner.host.write().unwrap_or_else(|e| e.into_inner()) = host;
    }

    /// Where the driver runs.
    pub(crate) fn host(&self) -> Host {
        self.inner
            .host
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The driver's directory for logs and files (created when the driver first uses it).
    pub(crate) fn runpath(&self) -> &Path {
        &self.inner.runpath
    }

    /// Errors recorded so far (start, stop, hooks, death), oldest first.
    pub(crate) fn errors(&self) -> Vec<RecordedError> {
        self.inner.record().errors.clone()
    }

    /// How long the last start took, hooks included.
    pub(crate) fn setup_duration(&self) -> Option<Duration> {
        self.inner.record().setup
    }

    /// How long the last stop took, hooks included.
    pub(crate) fn teardown_duration(&self) -> Option<Duration> {
        self.inner.record().teardown
    }

    /// The driver's part of the report, as it is now: status changes, recorded
    /// errors, setup and teardown durations, exports, connections, log tail…
    pub fn report(&self) -> DriverReport {
        let driver = self.driver();
        let mut report = DriverReport {
            name: self.name().to_owned(),
            kind: driver.kind().to_owned(),
            host: self.placement().map(str::to_owned),
            status: self.status(),
            transitions: self.history(),
            setup: self.setup_duration(),
            teardown: self.teardown_duration(),
            exports: self.exports(),
            connections: self.connections(),
            errors: self.errors(),
            log_tail: driver.log_tail(),
            runpath: self.runpath().to_owned(),
            cpu_time: None,
            counters: Default::default(),
            warnings: Vec::new(),
            finished_at: None,
        };
        driver.report(&mut report);
        report
    }

    /// The exports captured when the driver last started.
    pub(crate) fn exports(&self) -> Exports {
        self.inner.record().exports.clone()
    }

    /// The connection info captured when the driver last started.
    pub(crate) fn connections(&self) -> Vec<ConnectionInfo> {
        self.inner.record().connections.clone()
    }

    /// Starts the driver: pre-start hook, `start` and readiness under the start
    /// timeout, exports published, post-start hook. On failure the driver is
    /// cleaned up (stopped, or aborted) and left `Failed`, and the failover
    /// replacement, if any, is started instead.
    pub async fn start(&self) -> Result<(), LifecycleError> {
        let _operation = self.inner.operation.lock().await;
        self.start_locked(None).instrument(self.span()).await
    }

    /// Stops the driver: pre-stop hook, `stop` under the stop timeout (then
    /// abort, recorded as a failure), post-stop hook.
    ///
    /// A no-op for a driver that is idle, stopped or aborted; for a failed driver
    /// it only releases what the driver still holds.
    pub async fn stop(&self) -> Result<(), LifecycleError> {
        let _operation = self.inner.operation.lock().await;
        self.stop_locked(None).instrument(self.span()).await
    }

    /// Stops then starts the driver.
    pub async fn restart(&self) -> Result<(), LifecycleError> {
        let _operation = self.inner.operation.lock().await;
        async {
            self.stop_locked(Some("restart")).await?;
            self.start_locked(Some("restart")).await
        }
        .instrument(self.span())
        .await
    }

    /// Freezes a started driver (`Paused`).
    pub async fn pause(&self) -> Result<(), LifecycleError> {
        let _operation = self.inner.operation.lock().await;
        self.switch(Status::Started, Status::Paused, "pause")
            .instrument(self.span())
            .await
    }

    /// Unfreezes a paused driver (`Started`).
    pub async fn resume(&self) -> Result<(), LifecycleError> {
        let _operation = self.inner.operation.lock().await;
        self.switch(Status::Paused, Status::Started, "resume")
            .instrument(self.span())
            .await
    }

    fn span(&self) -> tracing::Span {
        self.inner.span.clone()
    }

    /// Kills the driver at once and makes it `Aborted` (terminal: a later start is
    /// refused). Synchronous; safe from `Drop`.
    pub fn abort(&self) {
        self.driver().abort();
        let _ = self
            .inner
            .tracker
            .set_if(|s| s != Status::Aborted, Status::Aborted, None);
    }

    /// Kills the driver if it may hold live resources; used by `Drop` backstops.
    /// Returns whether it did.
    pub(crate) fn kill_if_live(&self, note: &str) -> bool {
        let status = self.status();
        if !(status.is_live() || status == Status::Failed) {
            return false;
        }
        self.driver().abort();
        if status.is_live() {
            let _ = self
                .inner
                .tracker
                .set(Status::Aborted, Some(note.to_owned()));
        }
        true
    }

    /// Marks a driver whose lifecycle task panicked as failed, and kills it.
    pub(crate) fn panicked(&self, phase: Phase, message: String) -> LifecycleError {
        let error = LifecycleError::Panicked {
            driver: self.inner.name.clone(),
            phase,
            message,
        };
        self.driver().abort();
        // Recorded before the status moves, so whoever sees `Failed` finds the error.
        self.inner.remember(phase, &error);
        let _ = self.inner.tracker.set_if(
            |s| s.can_become(Status::Failed),
            Status::Failed,
            Some(error.full_message()),
        );
        error
    }

    async fn start_locked(&self, note: Option<&str>) -> Result<(), LifecycleError> {
        let began = Instant::now();
        self.inner
            .tracker
            .set(Status::Starting, note.map(str::to_owned))?;
        let driver = self.driver();
        let error = match self.attempt(&driver, began).await {
            Ok(()) => return Ok(()),
            Err(error) => error,
        };
        let Some(failover) = self.inner.options.failover.clone() else {
            return Err(error);
        };
        let replacement: Arc<dyn Driver> = Arc::from(failover());
        *self.inner.driver.write().unwrap_or_else(|e| e.into_inner()) = replacement.clone();
        self.inner.tracker.set(
            Status::Starting,
            Some(format!(
                "failover to a {} after: {}",
                replacement.kind(),
                error.full_message()
            )),
        )?;
        self.attempt(&replacement, began).await
    }

    /// One start of `driver`; on failure it is cleaned up and left `Failed`.
    async fn attempt(
        &self,
        driver: &Arc<dyn Driver>,
        began: Instant,
    ) -> Result<(), LifecycleError> {
        match self.bring_up(driver, began).await {
            Ok(()) => Ok(()),
            Err((phase, error)) => {
                // Recorded before the status moves, so whoever sees `Failed`
                // finds the error.
                self.inner.remember(phase, &error);
                let _ = self.inner.tracker.set_if(
                    |s| s.can_become(Status::Failed),
                    Status::Failed,
                    Some(error.full_message()),
                );
                self.clean_up(driver).await;
                Err(error)
            }
        }
    }

    async fn bring_up(
        &self,
        driver: &Arc<dyn Driver>,
        began: Instant,
    ) -> Result<(), (Phase, LifecycleError)> {
        let inner = &self.inner;
        let generation = inner.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let ctx = StartContext::new(
            inner.name.clone(),
            inner.runpath.clone(),
            inner.values.clone(),
            Supervisor::new(
                Arc::downgrade(&self.inner) as Weak<dyn Supervised>,
                generation,
            ),
            self.host(),
        );
        self.run_hook(driver, Phase::PreStart).await?;

        let mut waiting_for_readiness = false;
        let outcome = tokio::time::timeout(inner.options.start_timeout, async {
            driver.start(&ctx).await.map_err(|e| (Phase::Start, e))?;
            waiting_for_readiness = true;
            driver.ready(&ctx).await.map_err(|e| (Phase::Ready, e))
        })
        .await;
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err((phase, source))) => {
                return Err((
                    phase,
                    LifecycleError::StartFailed {
                        driver: inner.name.clone(),
                        phase,
                        source,
                        log_tail: driver.log_tail(),
                    },
                ));
            }
            Err(_) => {
                let (phase, waited_for) = if waiting_for_readiness {
                    (Phase::Ready, driver.readiness())
                } else {
                    (Phase::Start, "start".to_owned())
                };
                return Err((
                    phase,
                    LifecycleError::StartTimeout {
                        driver: inner.name.clone(),
                        waited_for,
                        after: inner.options.start_timeout,
                        log_tail: driver.log_tail(),
                    },
                ));
            }
        }

        if let Some(reason) = inner.take_death_while_starting(generation) {
            return Err((
                Phase::Ready,
                LifecycleError::DiedStarting {
                    driver: inner.name.clone(),
                    reason,
                    log_tail: driver.log_tail(),
                },
            ));
        }
        let exports = driver.exports();
        inner.values.publish(&inner.name, exports.clone());
        {
            let mut record = inner.record();
            record.exports = exports;
            record.connections = driver.connections();
        }
        inner
            .tracker
            .set(Status::Started, None)
            .map_err(|e| (Phase::Start, e))?;
        self.run_hook(driver, Phase::PostStart).await?;
        inner.record().setup = Some(began.elapsed());
        Ok(())
    }

    async fn stop_locked(&self, note: Option<&str>) -> Result<(), LifecycleError> {
        let driver = self.driver();
        match self.status() {
            Status::Idle | Status::Stopped | Status::Aborted => return Ok(()),
            Status::Failed => {
                self.clean_up(&driver).await;
                return Ok(());
            }
            // Only reachable when an earlier operation's future was dropped midway.
            Status::Starting | Status::Stopping => {
                self.clean_up(&driver).await;
                let _ = self.inner.tracker.set(
                    Status::Failed,
                    Some("an earlier start or stop was cancelled midway".to_owned()),
                );
                return Ok(());
            }
            Status::Started | Status::Paused => {}
        }
        let began = Instant::now();
        self.inner
            .tracker
            .set(Status::Stopping, note.map(str::to_owned))?;
        let pre_stop = self.run_hook(&driver, Phase::PreStop).await.err();

        let timeout = self.inner.options.stop_timeout;
        let stopped = match tokio::time::timeout(timeout, driver.stop()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(source)) => Err(LifecycleError::StopFailed {
                driver: self.inner.name.clone(),
                phase: Phase::Stop,
                source,
                log_tail: driver.log_tail(),
            }),
            Err(_) => Err(LifecycleError::StopTimeout {
                driver: self.inner.name.clone(),
                after: timeout,
                log_tail: driver.log_tail(),
            }),
        };
        let result = match stopped {
            Ok(()) => {
                self.inner.tracker.set(Status::Stopped, None)?;
                Ok(())
            }
            Err(error) => {
                driver.abort();
                self.inner.remember(Phase::Stop, &error);
                self.inner
                    .tracker
                    .set(Status::Failed, Some(error.full_message()))?;
                Err(error)
            }
        };
        let post_stop = self.run_hook(&driver, Phase::PostStop).await.err();
        self.inner.record().teardown = Some(began.elapsed());
        result?;
        match pre_stop.or(post_stop) {
            Some((_, error)) => Err(error),
            None => Ok(()),
        }
    }

    async fn switch(
        &self,
        from: Status,
        to: Status,
        operation: &'static str,
    ) -> Result<(), LifecycleError> {
        let current = self.status();
        if current != from || !current.can_become(to) {
            return Err(LifecycleError::IllegalTransition {
                driver: self.inner.name.clone(),
                from: current,
                to,
            });
        }
        let driver = self.driver();
        let outcome = if to == Status::Paused {
            driver.pause().await
        } else {
            driver.resume().await
        };
        match outcome {
            Ok(()) => self.inner.tracker.set(to, None).map(drop),
            Err(e) if e.downcast_ref::<Unsupported>().is_some() => {
                Err(LifecycleError::Unsupported {
                    driver: self.inner.name.clone(),
                    operation,
                })
            }
            Err(source) => Err(LifecycleError::OperationFailed {
                driver: self.inner.name.clone(),
                operation,
                source,
            }),
        }
    }

    /// Releases what a failed driver holds: `stop` under the stop timeout, else abort.
    async fn clean_up(&self, driver: &Arc<dyn Driver>) {
        let timeout = self.inner.options.stop_timeout;
        match tokio::time::timeout(timeout, driver.stop()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(driver = %self.inner.name, error = %e, "cleanup after failure: stop failed; aborting");
                driver.abort();
            }
            Err(_) => {
                tracing::warn!(driver = %self.inner.name, ?timeout, "cleanup after failure: stop overran; aborting");
                driver.abort();
            }
        }
    }

    async fn run_hook(
        &self,
        driver: &Arc<dyn Driver>,
        phase: Phase,
    ) -> Result<(), (Phase, LifecycleError)> {
        let hooks = &self.inner.options.hooks;
        let hook: Option<&Hook> = match phase {
            Phase::PreStart => hooks.pre_start.as_ref(),
            Phase::PostStart => hooks.post_start.as_ref(),
            Phase::PreStop => hooks.pre_stop.as_ref(),
            Phase::PostStop => hooks.post_stop.as_ref(),
            _ => None,
        };
        let Some(hook) = hook else { return Ok(()) };
        let after = self.inner.options.hook_timeout;
        let outcome = tokio::time::timeout(after, hook.call(driver.clone())).await;
        let error = match outcome {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(source)) if matches!(phase, Phase::PreStart | Phase::PostStart) => {
                LifecycleError::StartFailed {
                    driver: self.inner.name.clone(),
                    phase,
                    source,
                    log_tail: Vec::new(),
                }
            }
            Ok(Err(source)) => LifecycleError::StopFailed {
                driver: self.inner.name.clone(),
                phase,
                source,
                log_tail: Vec::new(),
            },
            Err(_) => LifecycleError::HookTimeout {
                driver: self.inner.name.clone(),
                phase,
                after,
            },
        };
        if matches!(phase, Phase::PreStop | Phase::PostStop) {
            self.inner.remember(phase, &error);
        }
        Err((phase, error))
    }
}

impl ResourceInner {
    fn driver(&self) -> Arc<dyn Driver> {
        self.driver
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn record(&self) -> std::sync::MutexGuard<'_, Record> {
        self.record.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn remember(&self, phase: Phase, error: &LifecycleError) {
        self.record().errors.push(RecordedError {
            at: SystemTime::now(),
            phase,
            message: error.full_message(),
        });
    }

    fn take_death_while_starting(&self, generation: u64) -> Option<String> {
        let mut slot = self
            .death_while_starting
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        match slot.take() {
            Some((reported, reason)) if reported == generation => Some(reason),
            _ => None,
        }
    }
}

impl fmt::Debug for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resource")
            .field("name", &self.inner.name)
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

impl Supervised for ResourceInner {
    /// A supervised death report; see [`Supervisor::died`].
    fn died(&self, generation: u64, reason: String) -> bool {
        if generation != self.generation.load(Ordering::SeqCst) {
            return false;
        }
        if self.tracker.get() == Status::Starting {
            // Not started yet: the start itself fails with this death.
            *self
                .death_while_starting
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = Some((generation, reason));
            return true;
        }
        let error = LifecycleError::Died {
            driver: self.name.clone(),
            reason,
            log_tail: self.driver().log_tail(),
        };
        if !matches!(self.tracker.get(), Status::Started | Status::Paused) {
            return false;
        }
        // Recorded before the status moves, so whoever sees `Failed` finds the
        // error; taken back if the move does not happen after all.
        self.remember(Phase::Run, &error);
        let moved = self.tracker.set_if(
            |s| matches!(s, Status::Started | Status::Paused),
            Status::Failed,
            Some(error.full_message()),
        );
        match moved {
            Ok(Some(_)) => {
                tracing::warn!(driver = %self.name, "{}", error.full_message());
                true
            }
            _ => {
                self.record().errors.pop();
                false
            }
        }
    }
}

impl fmt::Debug for ResourceInner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourceInner")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}
