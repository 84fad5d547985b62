use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::hooks::Hooks;
use super::{Driver, Hook};
use crate::error::BoxError;

/// Default deadline for `start` + readiness.
pub const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(30);
/// Default deadline for `stop`, after which the driver is aborted.
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// Default deadline for each hook.
pub const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_secs(30);

pub(crate) type Failover = Arc<dyn Fn() -> Box<dyn Driver> + Send + Sync>;

/// A driver plus how to run it: timeouts, hooks, failover.
///
/// Anything that implements [`Driver`] converts into a spec with the defaults,
/// so `builder.driver(my_driver)` works; wrap it to change them.
///
/// # Examples
/// ```
/// # use async_trait::async_trait;
/// # use testrig::{BoxError, Driver, StartContext};
/// # #[derive(Debug)] struct Server;
/// # #[async_trait] impl Driver for Server {
/// #   fn name(&self) -> &str { "server" }
/// #   async fn start(&self, _: &StartContext) -> Result<(), BoxError> { Ok(()) }
/// #   async fn stop(&self) -> Result<(), BoxError> { Ok(()) } }
/// use std::time::Duration;
/// use testrig::DriverSpec;
///
/// let spec = DriverSpec::new(Server)
///     .start_timeout(Duration::from_secs(2))
///     .post_start(|server| async move {
///         println!("{} is up", server.name());
///         Ok::<_, BoxError>(())
///     });
/// ```
#[must_use]
pub struct DriverSpec {
    pub(crate) driver: Arc<dyn Driver>,
    pub(crate) options: Options,
}

#[derive(Clone)]
pub(crate) struct Options {
    pub(crate) start_timeout: Duration,
    pub(crate) stop_timeout: Duration,
    pub(crate) hook_timeout: Duration,
    pub(crate) hooks: Hooks,
    pub(crate) failover: Option<Failover>,
    /// The host of the environment's network it runs on; `None`: this machine.
    pub(crate) host: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            start_timeout: DEFAULT_START_TIMEOUT,
            stop_timeout: DEFAULT_STOP_TIMEOUT,
            hook_timeout: DEFAULT_HOOK_TIMEOUT,
            hooks: Hooks::default(),
            failover: None,
            host: None,
        }
    }
}

impl DriverSpec {
    /// A spec with the default timeouts and no hooks.
    pub fn new(driver: impl Driver) -> Self {
        Self::from_arc(Arc::new(driver))
    }

    fn from_arc(driver: Arc<dyn Driver>) -> Self {
        Self {
            driver,
            options: Options::default(),
        }
    }

    /// The driver's name.
    pub(crate) fn name(&self) -> &str {
        self.driver.name()
    }

    /// Runs the driver on `host`, a host of the environment's network
    /// ([`EnvironmentBuilder::network`](crate::EnvironmentBuilder::network)): its sockets
    /// and processes are made there ([`StartContext::host`](crate::StartContext::host)).
    /// Unset, it runs on this machine ([`Host::local`](crate::Host::local)).
    /// [`Environment::build`](crate::EnvironmentBuilder::build) refuses a host the
    /// network does not have.
    pub fn on(mut self, host: impl Into<String>) -> Self {
        self.options.host = Some(host.into());
        self
    }

    /// Deadline for `start` + readiness (default 30 s).
    pub fn start_timeout(mut self, timeout: Duration) -> Self {
        self.options.start_timeout = timeout;
        self
    }

    /// Deadline for `stop`; after it the driver is aborted and the overrun recorded
    /// (default 10 s).
    pub fn stop_timeout(mut self, timeout: Duration) -> Self {
        self.options.stop_timeout = timeout;
        self
    }

    /// Deadline for each hook (default 30 s).
    pub fn hook_timeout(mut self, timeout: Duration) -> Self {
        self.options.hook_timeout = timeout;
        self
    }

    /// Runs before `start`; an error fails the start.
    pub fn pre_start<F, Fut, E>(mut self, hook: F) -> Self
    where
        F: Fn(Arc<dyn Driver>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        self.options.hooks.pre_start = Some(Hook::new(hook));
        self
    }

    /// Runs once the driver is started; an error fails the start.
    pub fn post_start<F, Fut, E>(mut self, hook: F) -> Self
    where
        F: Fn(Arc<dyn Driver>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        self.options.hooks.post_start = Some(Hook::new(hook));
        self
    }

    /// Runs before `stop`; an error is recorded and the stop goes on.
    pub fn pre_stop<F, Fut, E>(mut self, hook: F) -> Self
    where
        F: Fn(Arc<dyn Driver>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        self.options.hooks.pre_stop = Some(Hook::new(hook));
        self
    }

    /// Runs after `stop`; an error is recorded and returned by the stop.
    pub fn post_stop<F, Fut, E>(mut self, hook: F) -> Self
    where
        F: Fn(Arc<dyn Driver>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        self.options.hooks.post_stop = Some(Hook::new(hook));
        self
    }

    /// When start fails, build a replacement with `make` and start it under the
    /// same name (once).
    pub fn failover<F>(mut self, make: F) -> Self
    where
        F: Fn() -> Box<dyn Driver> + Send + Sync + 'static,
    {
        self.options.failover = Some(Arc::new(make));
        self
    }
}

impl fmt::Debug for DriverSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DriverSpec")
            .field("driver", &self.driver.name())
            .field("start_timeout", &self.options.start_timeout)
            .field("stop_timeout", &self.options.stop_timeout)
            .field("host", &self.options.host)
            .finish_non_exhaustive()
    }
}

impl<D: Driver> From<D> for DriverSpec {
    fn from(driver: D) -> Self {
        DriverSpec::new(driver)
    }
}

impl From<Box<dyn Driver>> for DriverSpec {
    fn from(driver: Box<dyn Driver>) -> Self {
        DriverSpec::from_arc(Arc::from(driver))
    }
}
