//! The handle to a reconnecting client service.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::{broadcast, oneshot};

use super::actor::{Actor, Command, Settings, SharedState};
use super::shared::{Shared, Slot};
use super::{Connector, ServiceError, ServiceEvent, ServiceState};

/// Events kept for a subscriber that falls behind.
const EVENT_CAPACITY: usize = 128;

/// Keeps one connection to a target open: connects, retries with backoff after a failure
/// or a loss, and hands the live connection to whoever asks — Twisted's `ClientService`,
/// on tokio.
///
/// The state machine runs in one small task that exists only while there is work (an
/// attempt, a retry timer, a live connection); a service that is not started or is
/// stopped holds no task and no timer. Dropping the handle closes the connection and
/// ends the task.
///
/// A connector or `prepare_connection` hook that panics leaves the service stopped: later
/// calls resolve (as cancelled / stopped) instead of waiting forever.
///
/// [`start`](Self::start), [`stop`](Self::stop) and
/// [`when_connected`](Self::when_connected) take effect when called, in call order; the
/// futures they return only wait for the outcome. They must be called within a Tokio
/// runtime.
///
/// # Examples
///
/// ```no_run
/// use testrig::service::{ClientService, RetryPolicy, TcpConnector};
/// use tokio::io::AsyncWriteExt;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let service = ClientService::builder(TcpConnector::new("127.0.0.1:5000".parse()?))
///     .retry_policy(RetryPolicy::twisted())
///     .prepare_connection(|mut conn| async move { conn.write_all(b"HELLO\n").await })
///     .start();
/// let mut conn = service.when_connected(Some(3)).await?; // fails on the 3rd failed attempt
/// conn.write_all(b"ping").await?;
/// service.stop().await;
/// # Ok(())
/// # }
/// ```
pub struct ClientService<C: Connector> {
    shared: Arc<SharedState<C>>,
}

impl<C: Connector> ClientService<C> {
    pub(crate) fn from_settings(settings: Settings<C>) -> Self {
        let shared = Arc::new(Shared::new(Arc::from(settings.connector.describe())));
        let actor = Box::new(Actor::new(Arc::clone(&shared), settings));
        shared.lock().slot = Slot::Parked(actor);
        Self { shared }
    }

    /// Start connecting (Twisted's `startService`). Starting a started service does
    /// nothing but log a warning; starting it while it is disconnecting makes it
    /// reconnect, without backoff, once the old connection is gone.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime.
    pub fn start(&self) {
        self.send(Command::Start);
    }

    /// Stop: cancel a pending attempt or retry timer, or close the live connection. The
    /// future resolves once the service is stopped (for a live connection: once it is
    /// closed); every pending [`when_connected`](Self::when_connected) fails with
    /// [`ServiceError::Cancelled`]. Stopping a stopped service resolves at once.
    pub fn stop(&self) -> impl Future<Output = ()> + Send + use<C> {
        let (done, stopped) = oneshot::channel();
        self.send(Command::Stop(done));
        async move {
            // A dropped reply means the actor is gone, which is stopped too.
            let _ = stopped.await;
        }
    }

    /// The live connection, or the next one.
    ///
    /// Resolves at once when connected. Otherwise it waits for the next connection (made
    /// and accepted by `prepare_connection`); with `fail_after_failures = Some(n)` it
    /// fails with the `n`-th failed attempt counted from this call, with that attempt's
    /// error (`Some(0)` behaves as `Some(1)`, as in Twisted). It fails with
    /// [`ServiceError::Cancelled`] when the service is stopped or dropped, and at once when
    /// it is already stopped ([`ServiceError::GaveUp`] if it stopped because the retry
    /// policy gave up).
    ///
    /// There is no deadline here: wrap it in [`tokio::time::timeout`].
    pub fn when_connected(
        &self,
        fail_after_failures: Option<u32>,
    ) -> impl Future<Output = Result<C::Connection, ServiceError>> + Send + use<C> {
        let (reply, connection) = oneshot::channel();
        self.send(Command::WhenConnected {
            fail_after_failures,
            reply,
        });
        let target = Arc::clone(&self.shared.target);
        async move {
            connection
                .await
                .unwrap_or(Err(ServiceError::Cancelled { target }))
        }
    }

    /// The current state.
    pub fn state(&self) -> ServiceState {
        self.shared.state()
    }

    /// Every state change and failed attempt from now on, in order.
    ///
    /// A subscriber that falls more than 128 events behind misses the oldest ones
    /// ([`broadcast::error::RecvError::Lagged`]).
    pub fn subscribe(&self) -> broadcast::Receiver<ServiceEvent> {
        self.shared
            .events
            .get_or_init(|| broadcast::channel(EVENT_CAPACITY).0)
            .subscribe()
    }

    fn send(&self, command: Command<C>) {
        let mut control = self.shared.lock();
        control.queue.push_back(command);
        match std::mem::replace(&mut control.slot, Slot::Running) {
            Slot::Running => {
                drop(control);
                self.shared.wakeup.notify_one();
            }
            Slot::Parked(actor) => {
                // The actor is ours to drive now; other callers queue behind us.
                drop(control);
                if let Some(actor) = actor.process_commands() {
                    let span = self.shared.span.clone();
                    tokio::spawn(tracing::Instrument::instrument(actor.run(), span));
                }
            }
            Slot::Dead => {
                control.slot = Slot::Dead;
                let dropped = control.queue.pop_back();
                drop(control);
                drop(dropped);
            }
            Slot::Closed => unreachable!("the slot is closed only when the handle is dropped"),
        }
    }
}

impl<C: Connector> Drop for ClientService<C> {
    fn drop(&mut self) {
        let mut control = self.shared.lock();
        match std::mem::replace(&mut control.slot, Slot::Closed) {
            Slot::Running => {
                control.queue.push_back(Command::Shutdown);
                drop(control);
                self.shared.wakeup.notify_one();
            }
            Slot::Parked(actor) => {
                drop(control);
                // Pending waiters see their reply dropped: cancelled.
                drop(actor);
            }
            Slot::Closed | Slot::Dead => {}
        }
    }
}

impl<C: Connector> std::fmt::Debug for ClientService<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientService")
            .field("target", &self.shared.target)
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}
