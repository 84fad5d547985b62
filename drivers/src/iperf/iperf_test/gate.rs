//! What a measurement waits for between the server's readiness and the client's start.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::sync::{Notify, watch};

type Opener = Arc<dyn Fn() -> BoxFuture<'static, ()> + Send + Sync>;

/// A condition an [`IperfTest`](super::IperfTest) waits for, with a deadline, after its
/// server is ready and before its client starts (apetools' `wait_events`): e.g. "the
/// traffic shaper is configured" or "the other test reached its steady state". When the
/// deadline passes the test fails with an error naming the gate, and the client is not
/// started.
///
/// A gate is awaited once per measurement ([`IperfTest::both`](super::IperfTest::both)
/// awaits it twice), so it is built from a function that makes the wait.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use testrig_drivers::iperf::Gate;
///
/// let (open, opened) = tokio::sync::watch::channel(false);
/// let gate = Gate::watch("shaper configured", Duration::from_secs(5), opened);
/// # let _ = gate;
/// open.send_replace(true); // from the code that configures the shaper
/// ```
#[derive(Clone)]
pub struct Gate {
    name: String,
    timeout: Duration,
    open: Opener,
}

impl Gate {
    /// A gate that opens when the future `open()` makes completes.
    pub fn new<F, Fut>(name: impl Into<String>, timeout: Duration, open: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        Self {
            name: name.into(),
            timeout,
            open: Arc::new(move || Box::pin(open())),
        }
    }

    /// A gate that is open while `opened` holds `true`.
    pub fn watch(
        name: impl Into<String>,
        timeout: Duration,
        opened: watch::Receiver<bool>,
    ) -> Self {
        Self::new(name, timeout, move || {
            let mut opened = opened.clone();
            async move {
                if opened.wait_for(|open| *open).await.is_err() {
                    // The sender is gone while closed: it can never open; the deadline tells.
                    std::future::pending::<()>().await;
                }
            }
        })
    }

    /// A gate that opens on `notify.notify_one()` (a permit stored before the wait counts).
    pub fn notified(name: impl Into<String>, timeout: Duration, notify: Arc<Notify>) -> Self {
        Self::new(name, timeout, move || {
            let notify = notify.clone();
            async move { notify.notified().await }
        })
    }

    /// Its name, used in errors.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Waits for it to open; `Err(timeout)` when the deadline passes first.
    pub(crate) async fn pass(&self) -> Result<(), Duration> {
        tokio::time::timeout(self.timeout, (self.open)())
            .await
            .map_err(|_| self.timeout)
    }
}

impl fmt::Debug for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gate")
            .field("name", &self.name)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}
