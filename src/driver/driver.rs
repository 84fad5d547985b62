use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::{ConnectionInfo, StartContext};
use crate::context::{Exports, RefKey};
use crate::error::BoxError;
use crate::report::DriverReport;

/// A thing that runs during a test: a server, a client, a process.
///
/// Implement this for a new driver; testrig's lifecycle engine
/// ([`Resource`](super::Resource)) owns status, timeouts, hooks, restart and
/// failover around it. Methods take `&self` so a test can use the driver (send,
/// receive…) while the environment holds it; keep mutable state behind locks.
///
/// Contract:
/// - `start` brings the driver up; `ready` resolves when it is usable (an event,
///   not a poll). Both run under the start timeout.
/// - `stop` releases everything and is idempotent: it may be called after a
///   failed start, twice, or while paused.
/// - `abort` is synchronous and safe to call from `Drop`: kill processes, close
///   sockets, cancel tasks. No `block_on`.
/// - `export_keys` lists, before start, every key `exports` will hold after
///   start, so references can be checked when the environment is built.
///
/// # Examples
/// ```
/// use async_trait::async_trait;
/// use testrig::{BoxError, Driver, Exports, StartContext};
///
/// #[derive(Debug)]
/// struct Answer;
///
/// #[async_trait]
/// impl Driver for Answer {
///     fn name(&self) -> &str { "answer" }
///     fn export_keys(&self) -> Vec<String> { vec!["value".into()] }
///     async fn start(&self, _ctx: &StartContext) -> Result<(), BoxError> { Ok(()) }
///     async fn stop(&self) -> Result<(), BoxError> { Ok(()) }
///     fn exports(&self) -> Exports { [("value".to_owned(), 42u16.into())].into() }
/// }
/// ```
#[async_trait]
pub trait Driver: Any + Send + Sync {
    /// The driver's name, unique within its environment.
    fn name(&self) -> &str;

    /// A short type name for reports ("TcpServer").
    fn kind(&self) -> &'static str {
        let full = std::any::type_name::<Self>();
        full.rsplit("::").next().unwrap_or(full)
    }

    /// Values of other drivers this driver needs; each implies a dependency.
    fn references(&self) -> Vec<RefKey> {
        Vec::new()
    }

    /// Checks the driver's own configuration (a regex, a placeholder…), before
    /// anything starts: [`EnvironmentBuilder::build`](crate::EnvironmentBuilder::build) refuses
    /// a driver that returns an error, with
    /// [`BuildError::InvalidDriver`](crate::BuildError::InvalidDriver) naming it and
    /// saying why. Defaults to valid.
    ///
    /// `references` and `export_keys` are asked only of a driver that passed.
    fn check(&self) -> Result<(), BoxError> {
        Ok(())
    }

    /// The keys `exports` will hold once started.
    fn export_keys(&self) -> Vec<String> {
        Vec::new()
    }

    /// Brings the driver up.
    async fn start(&self, ctx: &StartContext) -> Result<(), BoxError>;

    /// Resolves when the driver is ready for use. Defaults to ready at once.
    async fn ready(&self, _ctx: &StartContext) -> Result<(), BoxError> {
        Ok(())
    }

    /// What `ready` waits for, for error messages ("`listening` on stdout").
    fn readiness(&self) -> String {
        "readiness".to_owned()
    }

    /// Releases everything. Must be idempotent.
    async fn stop(&self) -> Result<(), BoxError>;

    /// The driver's own deadline for `stop` (e.g. how long a program has to
    /// exit before it is killed), with the name of the setting that holds it.
    /// The environment refuses to build when it is not below the driver's
    /// [`DriverSpec::stop_timeout`](crate::DriverSpec::stop_timeout). `None`
    /// (the default): no deadline of its own.
    fn own_stop_timeout(&self) -> Option<(&'static str, Duration)> {
        None
    }

    /// Kills everything at once, synchronously. Called after a stop overrun, by
    /// `Resource::abort`, and from `Drop` backstops.
    fn abort(&self) {}

    /// Freezes the driver. Unsupported unless overridden.
    async fn pause(&self) -> Result<(), BoxError> {
        Err(Unsupported.into())
    }

    /// Unfreezes the driver. Unsupported unless overridden.
    async fn resume(&self) -> Result<(), BoxError> {
        Err(Unsupported.into())
    }

    /// The values this driver exports now (host, port, pid, paths…).
    fn exports(&self) -> Exports {
        Exports::new()
    }

    /// The endpoints this driver listens on or connects to, for the report.
    fn connections(&self) -> Vec<ConnectionInfo> {
        Vec::new()
    }

    /// The last lines of the driver's logs, for error messages and reports.
    fn log_tail(&self) -> Vec<String> {
        Vec::new()
    }

    /// Adds what only the driver knows to its part of the report, which the
    /// lifecycle engine has filled in (status, transitions, exports, connections,
    /// log tail…): the CPU time its processes used
    /// ([`cpu_time`](DriverReport::cpu_time)), what the report should point out
    /// without it being an error ([`warnings`](DriverReport::warnings), e.g.
    /// processes left alive after its program ended), when its own work ended while
    /// it stays `Started` ([`finished_at`](DriverReport::finished_at), a task that
    /// exited with its expected code). Adds nothing by default.
    fn report(&self, _report: &mut DriverReport) {}
}

impl dyn Driver {
    /// This driver as its concrete type, if it is a `T` (e.g. in a hook, which
    /// gets the driver as an `Arc<dyn Driver>`).
    ///
    /// # Examples
    /// ```
    /// use std::sync::Arc;
    /// use testrig::Driver;
    /// use testrig::testing::ScriptedDriver;
    ///
    /// let driver: Arc<dyn Driver> = Arc::new(ScriptedDriver::new("server"));
    /// assert!(driver.downcast::<ScriptedDriver>().is_some());
    /// ```
    pub fn downcast<T: Driver>(self: Arc<Self>) -> Option<Arc<T>> {
        let any: Arc<dyn Any + Send + Sync> = self;
        any.downcast::<T>().ok()
    }
}

/// Returned by the default `pause`/`resume`.
#[derive(Debug, thiserror::Error)]
#[error("operation not supported by this driver")]
pub(crate) struct Unsupported;
