use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::broadcast;
use tokio::task::JoinSet;

use super::DriverName;
use super::graph::Graph;
use crate::context::ValueTable;
use crate::driver::{Driver, DriverSpec, Resource};
use crate::error::{Error, LifecycleError, Phase};
use crate::host::Host;
use crate::network::{Network, NetworkError};
use crate::report::{CaseReport, Report};
use crate::status::{Status, Transition};

/// A set of drivers started in dependency order and always torn down.
///
/// Cheap to clone (shared): the test body gets a clone. Dropping the last clone of
/// a started environment that was never stopped kills its drivers (a synchronous
/// backstop; prefer [`Environment::run`] or an explicit [`Environment::stop`]).
#[derive(Clone)]
pub struct Environment {
    pub(crate) inner: Arc<EnvInner>,
}

pub(crate) struct EnvInner {
    pub(super) name: String,
    pub(super) resources: Vec<Resource>,
    index: HashMap<String, usize>,
    graph: Graph,
    values: ValueTable,
    runpath: PathBuf,
    pub(super) run: RunSettings,
    events: broadcast::Sender<Transition>,
    places: Places,
    /// Serializes `start` and `stop` of the whole environment.
    operation: tokio::sync::Mutex<()>,
    pub(super) state: Mutex<EnvState>,
}

/// How [`Environment::run`] runs a body: what the builder set.
#[derive(Debug, Default)]
pub(crate) struct RunSettings {
    /// Where the reports go (else `$TESTRIG_REPORT_DIR`, else nowhere).
    pub(crate) report_dir: Option<PathBuf>,
    /// Whether SIGINT/SIGTERM/SIGHUP stop the run.
    pub(crate) handle_signals: bool,
    /// The body's name in the report (else the test's, else the environment's).
    pub(crate) case_name: Option<String>,
    /// Whether the run directory was made for this environment (not the builder's):
    /// then it is removed when the environment is dropped after a clean run.
    pub(crate) runpath_is_fresh: bool,
    /// Keep the fresh run directory even after a clean run.
    pub(crate) keep_runpath: bool,
}

/// Where the drivers can be placed, besides this machine.
#[derive(Debug, Default)]
pub(super) struct Places {
    /// The emulated network, if any.
    pub(super) network: Option<Network>,
    /// Hosts declared by themselves (`EnvironmentBuilder::host`).
    pub(super) hosts: Vec<Host>,
    /// SSH hosts connected at start, closed at stop (`EnvironmentBuilder::ssh_host`).
    pub(super) ssh: Vec<super::ssh_hosts::SshPlace>,
}

/// Environment-level facts for the report.
#[derive(Debug, Default)]
pub(crate) struct EnvState {
    pub(crate) started_at: Option<SystemTime>,
    pub(crate) setup: Option<Duration>,
    pub(crate) teardown: Option<Duration>,
    pub(crate) errors: Vec<String>,
    pub(crate) cases: Vec<CaseReport>,
    /// Drivers the running test declared may end it `Failed`
    /// ([`Environment::expect_failure`]); cleared when the test ends.
    pub(crate) expected_failures: BTreeSet<String>,
}

impl Environment {
    pub(super) fn assemble(
        name: String,
        specs: Vec<DriverSpec>,
        index: HashMap<String, usize>,
        graph: Graph,
        runpath: PathBuf,
        run: RunSettings,
        places: Places,
    ) -> Self {
        let values = ValueTable::new();
        let (events, _) = broadcast::channel(256);
        let resources = specs
            .into_iter()
            .map(|spec| {
                let dir = runpath.join(spec.name());
                spec.into_resource_at(dir, values.clone(), events.clone())
            })
            .collect();
        Self {
            inner: Arc::new(EnvInner {
                name,
                resources,
                index,
                graph,
                values,
                runpath,
                run,
                events,
                places,
                operation: tokio::sync::Mutex::new(()),
                state: Mutex::new(EnvState::default()),
            }),
        }
    }

    /// The environment's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The run's directory; each driver's runpath is below it.
    pub fn runpath(&self) -> &Path {
        &self.inner.runpath
    }

    /// Where the reports go, when the builder set a report directory.
    pub fn report_dir(&self) -> Option<&Path> {
        self.inner.run.report_dir.as_deref()
    }

    /// The lifecycle of a driver (status, restart, pause, wait…), by its
    /// [`Handle`](super::Handle) or its name.
    pub fn resource(&self, driver: impl AsRef<str>) -> Result<&Resource, Error> {
        let name = driver.as_ref();
        self.inner
            .index
            .get(name)
            .map(|&i| &self.inner.resources[i])
            .ok_or_else(|| Error::UnknownDriver {
                environment: self.inner.name.clone(),
                name: name.to_owned(),
            })
    }

    /// Every lifecycle engine, in the order the drivers were added.
    pub fn resources(&self) -> &[Resource] {
        &self.inner.resources
    }

    /// A driver as its concrete type, by its [`Handle`](super::Handle)
    /// (`env.get(&server)`) or by its name and type (`env.get::<TcpServer>("server")`).
    pub fn get<T: Driver>(&self, driver: &(impl DriverName<T> + ?Sized)) -> Result<Arc<T>, Error> {
        let name = driver.as_ref();
        let resource = self.resource(name)?;
        resource
            .driver()
            .downcast::<T>()
            .ok_or_else(|| Error::WrongType {
                driver: name.to_owned(),
                requested: short_type_name::<T>(),
                actual: resource.driver().kind(),
            })
    }

    /// The environment's emulated network
    /// ([`EnvironmentBuilder::network`](super::EnvironmentBuilder::network)), for faults at
    /// run time ([`Network::link_down`], [`Network::partition`]…) and its hosts.
    pub fn network(&self) -> Option<&Network> {
        self.inner.places.network.as_ref()
    }

    /// The values every started driver exports.
    pub fn values(&self) -> &ValueTable {
        &self.inner.values
    }

    /// Every later status change of every driver.
    pub fn events(&self) -> broadcast::Receiver<Transition> {
        self.inner.events.subscribe()
    }

    /// The drivers that are `Failed` now (failed to start, failed to stop, or died).
    pub fn failed(&self) -> Vec<String> {
        self.inner
            .resources
            .iter()
            .filter(|r| r.status() == Status::Failed)
            .map(|r| r.name().to_owned())
            .collect()
    }

    /// Declares that driver `name` failing during the running test is expected:
    /// it does not fail the test.
    ///
    /// Without it, a test body ([`run`](Self::run)) or suite case that returns
    /// `Ok` while a driver failed during it (died, or failed a restart or a
    /// stop) and is still `Failed` at its end fails with
    /// [`Error::DriversFailed`]. Call this in a test that kills a driver on
    /// purpose (fault injection). The driver is still shown `Failed` in the
    /// report; whether it did fail is for the test to check (e.g. with
    /// [`wait_for_failure`](Self::wait_for_failure)).
    ///
    /// Holds for the current run or case only: it ends with it. Called outside
    /// one, it holds for the next one.
    ///
    /// # Errors
    /// [`Error::UnknownDriver`] when there is no driver `name`.
    ///
    /// # Examples
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> testrig::Result<()> {
    /// use std::time::Duration;
    /// use testrig::Environment;
    /// use testrig::testing::ScriptedDriver;
    ///
    /// let env = Environment::builder("fault")
    ///     .driver(ScriptedDriver::new("server"))
    ///     .build()?;
    /// env.run(|env| async move {
    ///     env.expect_failure("server")?;
    ///     env.get::<ScriptedDriver>("server")?.die("killed by the test");
    ///     assert_eq!(env.wait_for_failure(Duration::from_secs(1)).await.as_deref(), Some("server"));
    ///     Ok::<_, testrig::Error>(())
    /// })
    /// .await?; // passes: the failure was expected
    /// # Ok(()) }
    /// ```
    pub fn expect_failure(&self, name: &str) -> Result<(), Error> {
        self.resource(name)?;
        self.inner.state().expected_failures.insert(name.to_owned());
        Ok(())
    }

    /// Waits up to `timeout` for a driver to become `Failed`; returns its name, or
    /// `None` when none did. Woken by the status change, not by polling.
    pub async fn wait_for_failure(&self, timeout: Duration) -> Option<String> {
        let mut events = self.events();
        if let Some(name) = self.failed().into_iter().next() {
            return Some(name);
        }
        let found = tokio::time::timeout(timeout, async {
            loop {
                match events.recv().await {
                    Ok(event) if event.to == Status::Failed => {
                        return Some(event.driver);
                    }
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        if let Some(name) = self.failed().into_iter().next() {
                            return Some(name);
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        })
        .await;
        found.ok().flatten()
    }

    /// Starts every driver, each as soon as its dependencies are started, the
    /// independent ones concurrently.
    ///
    /// On the first failure nothing new is scheduled; starts already under way
    /// finish (or time out); then everything started is stopped in reverse
    /// dependency order. The error lists every failure and every skipped driver.
    pub async fn start(&self) -> Result<(), Error> {
        self.start_unless(std::future::pending()).await
    }

    /// [`start`](Self::start), cancelled when `interrupt` resolves (with the
    /// signal's name) first: the starts under way are cancelled, everything
    /// started is stopped, and [`Error::Interrupted`] returned.
    pub(super) async fn start_unless(
        &self,
        interrupt: impl Future<Output = &'static str>,
    ) -> Result<(), Error> {
        let mut interrupt = std::pin::pin!(interrupt);
        let _operation = self.inner.operation.lock().await;
        let began = Instant::now();
        self.inner.state().started_at = Some(SystemTime::now());
        let count = self.inner.resources.len();
        for host in &self.inner.places.hosts {
            self.place_on(host);
        }
        if let Some(network) = &self.inner.places.network {
            let started = tokio::select! {
                started = self.start_network(network) => started,
                signal = &mut interrupt => {
                    let tasks = JoinSet::new();
                    return Err(self.cancel_start(tasks, began, signal).await);
                }
            };
            if let Err(error) = started {
                self.inner.state().setup = Some(began.elapsed());
                let _ = network.stop().await;
                let error = Error::Network {
                    environment: self.inner.name.clone(),
                    source: Box::new(error),
                };
                self.inner.state().errors.push(format!("{error:#}"));
                return Err(error);
            }
        }
        if !self.inner.places.ssh.is_empty() {
            let connected = tokio::select! {
                connected = self.connect_ssh_hosts() => connected,
                signal = &mut interrupt => {
                    // The connections under way are dropped (their masters killed).
                    let tasks = JoinSet::new();
                    return Err(self.cancel_start(tasks, began, signal).await);
                }
            };
            if let Err(error) = connected {
                self.inner.state().setup = Some(began.elapsed());
                self.release_ssh_hosts(false).await;
                self.stop_network().await;
                self.inner.state().errors.push(error.to_string());
                return Err(error);
            }
        }
        let mut waiting_on: Vec<usize> =
            self.inner.graph.dependencies.iter().map(Vec::len).collect();
        let mut tasks = JoinSet::new();
        let mut running = HashMap::new();
        let mut failures = Vec::new();
        for i in (0..count).filter(|&i| waiting_on[i] == 0) {
            self.spawn_start(&mut tasks, &mut running, i);
        }
        loop {
            let joined = tokio::select! {
                joined = tasks.join_next() => joined,
                signal = &mut interrupt => {
                    return Err(self.cancel_start(tasks, began, signal).await);
                }
            };
            let Some(joined) = joined else { break };
            let (i, outcome) = match joined {
                Ok(done) => done,
                Err(join_error) => {
                    let i = running[&join_error.id()];
                    let message = panic_message(join_error);
                    (
                        i,
                        Err(self.inner.resources[i].panicked(Phase::Start, message)),
                    )
                }
            };
            match outcome {
                Ok(()) if failures.is_empty() => {
                    for &dependent in &self.inner.graph.dependents[i] {
                        waiting_on[dependent] -= 1;
                        if waiting_on[dependent] == 0 {
                            self.spawn_start(&mut tasks, &mut running, dependent);
                        }
                    }
                }
                Ok(()) => {}
                Err(error) => failures.push(error),
            }
        }
        self.inner.state().setup = Some(began.elapsed());
        if failures.is_empty() {
            return Ok(());
        }
        // `running` keeps every start this call spawned: a driver not in it was
        // skipped, whatever its status (`Stopped` by an earlier run counts too).
        let attempted: BTreeSet<usize> = running.values().copied().collect();
        let skipped = self
            .inner
            .resources
            .iter()
            .enumerate()
            .filter(|(i, _)| !attempted.contains(i))
            .map(|(_, r)| r.name().to_owned())
            .collect();
        let teardown = self.stop_all().await;
        self.release_ssh_hosts(true).await;
        self.stop_network().await;
        let error = Error::Start {
            environment: self.inner.name.clone(),
            failures,
            skipped,
            teardown,
        };
        self.inner.state().errors.push(error.to_string());
        Err(error)
    }

    /// Starts the network (unless it runs already), places each driver on its host and
    /// publishes the hosts' exports.
    async fn start_network(&self, network: &Network) -> Result<(), NetworkError> {
        if !network.is_running() {
            network.start().await?;
        }
        for host in network.hosts()? {
            self.place_on(&host);
        }
        Ok(())
    }

    /// Publishes `host`'s exports under its name and places the drivers declared on it there.
    fn place_on(&self, host: &Host) {
        self.inner.values.publish(host.name(), host.exports());
        for resource in &self.inner.resources {
            if resource.placement() == Some(host.name()) {
                resource.place(host.clone());
            }
        }
    }

    /// Connects every SSH host, concurrently, and places the drivers declared on each there.
    /// The error names each host that could not connect and what ssh said.
    async fn connect_ssh_hosts(&self) -> Result<(), Error> {
        let network = self.inner.places.network.as_ref();
        let places = &self.inner.places.ssh;
        let results =
            futures_util::future::join_all(places.iter().map(|place| place.connect(network))).await;
        let mut failed = Vec::new();
        for result in results {
            match result {
                Ok(host) => self.place_on(&host),
                Err(message) => failed.push(message),
            }
        }
        if failed.is_empty() {
            return Ok(());
        }
        Err(Error::other(format!(
            "environment `{}`: cannot connect its SSH host{}: {}",
            self.inner.name,
            if failed.len() == 1 { "" } else { "s" },
            failed.join("; ")
        )))
    }

    /// Closes every connected SSH host, concurrently, each after its remote runpath is
    /// fetched into the local runpath when `fetch`; what fails goes to the host's report.
    async fn release_ssh_hosts(&self, fetch: bool) {
        let places = &self.inner.places.ssh;
        if places.is_empty() {
            return;
        }
        let began = Instant::now();
        let runpath = &self.inner.runpath;
        futures_util::future::join_all(places.iter().map(|place| async move {
            if fetch {
                place.fetch_and_close(runpath).await;
            } else {
                place.close().await;
            }
        }))
        .await;
        let mut state = self.inner.state();
        state.teardown = Some(state.teardown.unwrap_or_default() + began.elapsed());
    }

    /// A host drivers can be placed on, by its name: a host of the network, a host declared
    /// with [`EnvironmentBuilder::host`](super::EnvironmentBuilder::host), or an SSH host
    /// ([`EnvironmentBuilder::ssh_host`](super::EnvironmentBuilder::ssh_host)) while
    /// connected (from the start to the stop). `None` otherwise.
    pub fn host(&self, name: &str) -> Option<Host> {
        let places = &self.inner.places;
        if let Some(place) = places.ssh.iter().find(|place| place.name() == name) {
            return place.host();
        }
        if let Some(host) = places.hosts.iter().find(|host| host.name() == name) {
            return Some(host.clone());
        }
        places.network.as_ref()?.host(name).ok()
    }

    /// Stops the network once every driver is stopped; its failure goes to the report.
    async fn stop_network(&self) -> Option<NetworkError> {
        let network = self.inner.places.network.as_ref()?;
        let began = Instant::now();
        let stopped = network.stop().await;
        let mut state = self.inner.state();
        state.teardown = Some(state.teardown.unwrap_or_default() + began.elapsed());
        let error = stopped.err()?;
        state.errors.push(format!(
            "environment `{}`: stopping its network: {}",
            self.inner.name,
            crate::error::full_message(&error)
        ));
        Some(error)
    }

    /// Cancels the starts under way and stops everything started; the
    /// interruption (and any teardown failure) goes to the report.
    async fn cancel_start(
        &self,
        mut tasks: JoinSet<(usize, Result<(), LifecycleError>)>,
        began: Instant,
        signal: &'static str,
    ) -> Error {
        // Waits until the cancelled starts are dropped, so the stops below find
        // their drivers free.
        tasks.shutdown().await;
        self.inner.state().setup = Some(began.elapsed());
        let teardown = self.stop_all().await;
        self.release_ssh_hosts(true).await;
        self.stop_network().await;
        let error = Error::Interrupted {
            environment: self.inner.name.clone(),
            signal,
        };
        let mut message = format!("{error} while starting");
        for failure in &teardown {
            message.push_str("; teardown: ");
            message.push_str(&failure.full_message());
        }
        self.inner.state().errors.push(message);
        error
    }

    fn spawn_start(
        &self,
        tasks: &mut JoinSet<(usize, Result<(), LifecycleError>)>,
        running: &mut HashMap<tokio::task::Id, usize>,
        i: usize,
    ) {
        let resource = self.inner.resources[i].clone();
        let handle = tasks.spawn(async move { (i, resource.start().await) });
        running.insert(handle.id(), i);
    }

    /// Stops every driver in reverse dependency order (a driver stops once every
    /// driver that depends on it has stopped; independent ones concurrently).
    ///
    /// Best effort: a driver that fails or overruns is aborted and the stop goes
    /// on; the error lists every such driver. Idempotent.
    pub async fn stop(&self) -> Result<(), Error> {
        let _operation = self.inner.operation.lock().await;
        let failures = self.stop_all().await;
        self.release_ssh_hosts(true).await;
        let network = self.stop_network().await;
        if failures.is_empty() {
            return match network {
                None => Ok(()),
                Some(source) => Err(Error::Network {
                    environment: self.inner.name.clone(),
                    source: Box::new(source),
                }),
            };
        }
        let error = Error::Stop {
            environment: self.inner.name.clone(),
            failures,
        };
        self.inner.state().errors.push(error.to_string());
        Err(error)
    }

    async fn stop_all(&self) -> Vec<LifecycleError> {
        let began = Instant::now();
        let count = self.inner.resources.len();
        let mut waiting_on: Vec<usize> = self.inner.graph.dependents.iter().map(Vec::len).collect();
        let mut tasks = JoinSet::new();
        let mut running = HashMap::new();
        let mut failures = Vec::new();
        let spawn = |tasks: &mut JoinSet<_>, running: &mut HashMap<_, _>, i: usize| {
            let resource: Resource = self.inner.resources[i].clone();
            let handle = tasks.spawn(async move { (i, resource.stop().await) });
            running.insert(handle.id(), i);
        };
        for i in (0..count).filter(|&i| waiting_on[i] == 0) {
            spawn(&mut tasks, &mut running, i);
        }
        while let Some(joined) = tasks.join_next().await {
            let (i, outcome) = match joined {
                Ok(done) => done,
                Err(join_error) => {
                    let i = running[&join_error.id()];
                    let message = panic_message(join_error);
                    (
                        i,
                        Err(self.inner.resources[i].panicked(Phase::Stop, message)),
                    )
                }
            };
            if let Err(error) = outcome {
                failures.push(error);
            }
            for &dependency in &self.inner.graph.dependencies[i] {
                waiting_on[dependency] -= 1;
                if waiting_on[dependency] == 0 {
                    spawn(&mut tasks, &mut running, dependency);
                }
            }
        }
        let mut state = self.inner.state();
        state.teardown = Some(state.teardown.unwrap_or_default() + began.elapsed());
        failures
    }

    /// Adds a test case outcome to the report.
    pub fn record_case(&self, mut case: CaseReport) {
        if case.started_at.is_none() {
            case.started_at = SystemTime::now().checked_sub(case.duration);
        }
        self.inner.state().cases.push(case);
    }

    /// A report of everything so far.
    pub fn report(&self) -> Report {
        let drivers = self.resources().iter().map(Resource::report).collect();
        let state = self.inner.state();
        Report {
            environment: self.name().to_owned(),
            outcome: Report::outcome_of(&state.errors, &state.cases),
            started_at: state.started_at,
            setup: state.setup,
            teardown: state.teardown,
            runpath: self.runpath().to_owned(),
            network: self.inner.places.network.as_ref().map(Network::report),
            hosts: self
                .inner
                .places
                .ssh
                .iter()
                .map(super::ssh_hosts::SshPlace::host_report)
                .collect(),
            drivers,
            cases: state.cases.clone(),
            errors: state.errors.clone(),
        }
    }
}

impl EnvInner {
    pub(crate) fn state(&self) -> std::sync::MutexGuard<'_, EnvState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl EnvInner {
    /// Whether everything went well: every driver idle or stopped with no error
    /// recorded, no environment error, no failed case, no SSH host trouble (a failed
    /// fetch of its runpath).
    fn ran_cleanly(&self) -> bool {
        let state = self.state();
        state.errors.is_empty()
            && self
                .places
                .ssh
                .iter()
                .all(|place| place.host_report().errors.is_empty())
            && state
                .cases
                .iter()
                .all(|case| case.outcome != crate::report::Outcome::Failed)
            && self.resources.iter().all(|resource| {
                matches!(resource.status(), Status::Idle | Status::Stopped)
                    && resource.errors().is_empty()
            })
    }

    /// Removes a fresh run directory after a clean run; after any other, keeps it
    /// and says where it is.
    fn tidy_runpath(&self) {
        if !self.run.runpath_is_fresh || !self.runpath.exists() {
            return;
        }
        let keep = self.run.keep_runpath || super::runpath::keep_runs_from_var();
        if self.ran_cleanly() && !keep {
            if let Err(error) = std::fs::remove_dir_all(&self.runpath) {
                tracing::warn!(environment = %self.name, path = %self.runpath.display(), %error, "cannot remove the run directory");
            }
        } else if !keep {
            eprintln!(
                "testrig: environment `{}` did not run cleanly; its files are kept in {}",
                self.name,
                self.runpath.display()
            );
        }
    }
}

impl Drop for EnvInner {
    fn drop(&mut self) {
        let mut killed = Vec::new();
        for resource in &self.resources {
            if resource.kill_if_live("environment dropped without stop") {
                killed.push(resource.name().to_owned());
            }
        }
        if !killed.is_empty() {
            tracing::warn!(
                environment = %self.name,
                "environment dropped without stop; aborted {}",
                killed.join(", ")
            );
        }
        self.tidy_runpath();
    }
}

impl fmt::Debug for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Environment")
            .field("name", &self.inner.name)
            .field("drivers", &self.inner.resources)
            .finish_non_exhaustive()
    }
}

pub(super) fn panic_message(error: tokio::task::JoinError) -> String {
    if !error.is_panic() {
        return "the task was cancelled".to_owned();
    }
    payload_message(&*error.into_panic())
}

pub(super) fn payload_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-text panic payload".to_owned())
}

fn short_type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    full.rsplit("::").next().unwrap_or(full)
}
