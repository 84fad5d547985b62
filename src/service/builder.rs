//! Configuring a [`ClientService`].

use std::error::Error;
use std::future::Future;
use std::time::Duration;

use super::actor::{BoxError, PrepareHook, Settings};
use super::{ClientService, Connector, RetryPolicy};

/// How long one attempt (connect, then `prepare_connection`) may take by default.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// How long `stop` waits, by default, for a closed connection to report that it is gone.
pub const DEFAULT_DISCONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Configures a [`ClientService`]; made by [`ClientService::builder`].
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
/// use testrig::service::{ClientService, RetryPolicy, TcpConnector};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let service = ClientService::builder(TcpConnector::new("127.0.0.1:5000".parse()?))
///     .retry_policy(RetryPolicy::exponential(Duration::from_millis(50), 1.5, Duration::from_secs(2))?)
///     .connect_timeout(Duration::from_secs(2))
///     .start();
/// # Ok(())
/// # }
/// ```
#[must_use]
pub struct ClientServiceBuilder<C: Connector> {
    settings: Settings<C>,
}

// Here rather than in client_service.rs, so that the builder depends on the service and
// not the other way round.
impl<C: Connector> ClientService<C> {
    /// Configure a service for `connector`.
    pub fn builder(connector: C) -> ClientServiceBuilder<C> {
        ClientServiceBuilder::new(connector)
    }
}

impl<C: Connector> ClientServiceBuilder<C> {
    pub(crate) fn new(connector: C) -> Self {
        Self {
            settings: Settings {
                connector,
                policy: RetryPolicy::twisted(),
                prepare: None,
                connect_timeout: DEFAULT_CONNECT_TIMEOUT,
                disconnect_timeout: DEFAULT_DISCONNECT_TIMEOUT,
            },
        }
    }

    /// How long to wait between attempts (default [`RetryPolicy::twisted`]).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.settings.policy = policy;
        self
    }

    /// Run `prepare` on every new connection (reconnections included) before handing it
    /// out: a handshake, a login, a health check. `when_connected` waits for it; its
    /// success value is ignored; an error closes the connection and counts as a failed
    /// attempt.
    pub fn prepare_connection<F, Fut, T, E>(mut self, prepare: F) -> Self
    where
        F: Fn(C::Connection) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
        E: Into<Box<dyn Error + Send + Sync>>,
    {
        let hook: PrepareHook<C::Connection> = Box::new(move |connection| {
            let prepared = prepare(connection);
            Box::pin(async move { prepared.await.map(drop).map_err(Into::<BoxError>::into) })
        });
        self.settings.prepare = Some(hook);
        self
    }

    /// The deadline of one attempt, connect and `prepare_connection` together (default
    /// [`DEFAULT_CONNECT_TIMEOUT`], 30 s). An attempt that runs out counts as failed.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.settings.connect_timeout = timeout;
        self
    }

    /// How long `stop` waits for a closed connection to report that it is gone before
    /// treating it as gone (default [`DEFAULT_DISCONNECT_TIMEOUT`], 10 s).
    pub fn disconnect_timeout(mut self, timeout: Duration) -> Self {
        self.settings.disconnect_timeout = timeout;
        self
    }

    /// Make the service without starting it (state `init`); call
    /// [`ClientService::start`] later.
    pub fn build(self) -> ClientService<C> {
        ClientService::from_settings(self.settings)
    }

    /// Make the service and start connecting.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime.
    pub fn start(self) -> ClientService<C> {
        let service = self.build();
        service.start();
        service
    }
}

impl<C: Connector> std::fmt::Debug for ClientServiceBuilder<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientServiceBuilder")
            .field("target", &self.settings.connector.describe())
            .field("policy", &self.settings.policy)
            .field("prepare_connection", &self.settings.prepare.is_some())
            .field("connect_timeout", &self.settings.connect_timeout)
            .field("disconnect_timeout", &self.settings.disconnect_timeout)
            .finish()
    }
}
