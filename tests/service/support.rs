//! A scripted connector whose attempts the test completes or fails by hand, fake
//! connections the test can lose, and the checks every test ends with.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use testrig::service::{ClientService, Connection, Connector, ServiceState};
use tokio::sync::{Notify, oneshot};
use tokio_util::sync::CancellationToken;

/// Twisted's `AT_LEAST_ONE_ATTEMPT`: longer than any delay of the default policy.
pub const AT_LEAST_ONE_ATTEMPT: Duration = Duration::from_secs(100);

/// How the scripted connector answers `connect()`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    /// Every attempt waits for the test (Twisted's `fireImmediately=False`).
    Manual,
    /// Every attempt succeeds at once (Twisted's `fireImmediately=True`).
    Immediate,
    /// Every attempt fails at once.
    Refusing,
}

/// A connector whose attempts are resolved by the test.
#[derive(Debug, Clone)]
pub struct ScriptedConnector {
    script: Arc<Script>,
}

#[derive(Debug)]
struct Script {
    mode: Mode,
    started: AtomicUsize,
    pending: Mutex<VecDeque<PendingAttempt>>,
    arrived: Notify,
    connections: Mutex<Vec<FakeConnection>>,
}

impl ScriptedConnector {
    /// Attempts wait until the test resolves them.
    pub fn manual() -> Self {
        Self::with_mode(Mode::Manual)
    }

    /// Attempts succeed at once.
    pub fn immediate() -> Self {
        Self::with_mode(Mode::Immediate)
    }

    /// Attempts fail at once with "refused".
    pub fn refusing() -> Self {
        Self::with_mode(Mode::Refusing)
    }

    fn with_mode(mode: Mode) -> Self {
        Self {
            script: Arc::new(Script {
                mode,
                started: AtomicUsize::new(0),
                pending: Mutex::new(VecDeque::new()),
                arrived: Notify::new(),
                connections: Mutex::new(Vec::new()),
            }),
        }
    }

    /// How many times `connect()` was called.
    pub fn attempts(&self) -> usize {
        self.script.started.load(Ordering::SeqCst)
    }

    /// The oldest attempt not yet taken by the test, waiting for it to start.
    pub async fn next_attempt(&self) -> PendingAttempt {
        let wait = async {
            loop {
                let arrived = self.script.arrived.notified();
                if let Some(attempt) = self.script.pending.lock().unwrap().pop_front() {
                    return attempt;
                }
                arrived.await;
            }
        };
        tokio::time::timeout(Duration::from_secs(3600), wait)
            .await
            .expect("the service makes another connection attempt")
    }

    /// Wait until the service starts another attempt, leaving it for `next_attempt`.
    pub async fn next_attempt_started(&self) {
        let wait = async {
            loop {
                let arrived = self.script.arrived.notified();
                if !self.script.pending.lock().unwrap().is_empty() {
                    return;
                }
                arrived.await;
            }
        };
        tokio::time::timeout(Duration::from_secs(3600), wait)
            .await
            .expect("the service makes another connection attempt");
    }

    /// Every connection made so far, in order.
    pub fn connections(&self) -> Vec<FakeConnection> {
        self.script.connections.lock().unwrap().clone()
    }

    /// The `index`-th connection made (0-based).
    pub fn connection(&self, index: usize) -> FakeConnection {
        self.connections()
            .get(index)
            .cloned()
            .unwrap_or_else(|| panic!("connection {index} was never made"))
    }

    fn make_connection(&self) -> FakeConnection {
        let mut connections = self.script.connections.lock().unwrap();
        let connection = FakeConnection::new(connections.len());
        connections.push(connection.clone());
        connection
    }
}

impl Connector for ScriptedConnector {
    type Connection = FakeConnection;
    type Error = ScriptedError;

    fn connect(
        &self,
    ) -> impl Future<Output = Result<FakeConnection, ScriptedError>> + Send + 'static {
        let number = self.script.started.fetch_add(1, Ordering::SeqCst);
        let (reply, outcome) = oneshot::channel();
        match self.script.mode {
            Mode::Immediate => {
                let _ = reply.send(Ok(self.make_connection()));
            }
            Mode::Refusing => {
                let _ = reply.send(Err(ScriptedError("refused".to_owned())));
            }
            Mode::Manual => {
                self.script
                    .pending
                    .lock()
                    .unwrap()
                    .push_back(PendingAttempt {
                        number,
                        connector: self.clone(),
                        reply,
                    });
                self.script.arrived.notify_one();
            }
        }
        async move {
            outcome
                .await
                .unwrap_or_else(|_| Err(ScriptedError("the test dropped the attempt".into())))
        }
    }

    fn describe(&self) -> String {
        "scripted".to_owned()
    }
}

/// One `connect()` call the test has to answer.
#[derive(Debug)]
pub struct PendingAttempt {
    number: usize,
    connector: ScriptedConnector,
    reply: oneshot::Sender<Result<FakeConnection, ScriptedError>>,
}

impl PendingAttempt {
    /// 0 for the first `connect()` call.
    pub fn number(&self) -> usize {
        self.number
    }

    /// The service dropped the attempt (stop or timeout).
    pub fn is_cancelled(&self) -> bool {
        self.reply.is_closed()
    }

    /// The attempt connects; returns the connection the service receives.
    pub fn succeed(self) -> FakeConnection {
        let connection = self.connector.make_connection();
        let _ = self.reply.send(Ok(connection.clone()));
        connection
    }

    /// The attempt fails with `message`.
    pub fn fail(self, message: &str) {
        let _ = self.reply.send(Err(ScriptedError(message.to_owned())));
    }
}

/// The error a scripted attempt fails with.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ScriptedError(pub String);

/// A connection the test loses by hand. `close()` only records the request, like
/// Twisted's `StringTransport.loseConnection`; `lose()` is the `connectionLost`.
#[derive(Debug, Clone)]
pub struct FakeConnection {
    id: usize,
    lost: CancellationToken,
    close_requested: Arc<AtomicBool>,
}

impl FakeConnection {
    fn new(id: usize) -> Self {
        Self {
            id,
            lost: CancellationToken::new(),
            close_requested: Arc::new(AtomicBool::new(false)),
        }
    }

    /// 0 for the first connection made.
    pub fn id(&self) -> usize {
        self.id
    }

    /// The service asked to close it (Twisted's `transport.disconnecting`).
    pub fn is_closing(&self) -> bool {
        self.close_requested.load(Ordering::SeqCst)
    }

    /// The connection is gone.
    pub fn lose(&self) {
        self.lost.cancel();
    }
}

impl Connection for FakeConnection {
    fn closed(&self) -> impl Future<Output = ()> + Send + 'static {
        self.lost.clone().cancelled_owned()
    }

    fn close(&self) {
        self.close_requested.store(true, Ordering::SeqCst);
    }
}

/// Let every task run until all are waiting. On the paused clock, time only moves when
/// the whole runtime is idle, so a 1 ms sleep returns exactly then.
pub async fn run_until_idle() {
    tokio::time::sleep(Duration::from_millis(1)).await;
}

/// The future has not resolved once every task is idle (Twisted's `assertNoResult`).
pub async fn assert_pending<F: Future + Unpin>(future: &mut F)
where
    F::Output: std::fmt::Debug,
{
    if let Ok(output) = tokio::time::timeout(Duration::from_millis(1), future).await {
        panic!("expected no result yet, got {output:?}");
    }
}

/// The future resolves without the clock moving past 1 ms (Twisted's `successResultOf`).
pub async fn resolved<F: Future + Unpin>(future: &mut F) -> F::Output {
    tokio::time::timeout(Duration::from_millis(1), future)
        .await
        .expect("the future resolves at once")
}

/// Stop the service (losing any connection it closes), then check that it is stopped and
/// that no task, hence no retry timer, is left.
pub async fn finish<C: Connector>(service: ClientService<C>, connector: &ScriptedConnector) {
    let mut stopped = std::pin::pin!(service.stop());
    run_until_idle().await;
    for connection in connector.connections() {
        if connection.is_closing() {
            connection.lose();
        }
    }
    resolved(&mut stopped).await;
    assert_eq!(service.state(), ServiceState::Stopped);
    assert_no_task_left().await;
}

/// No task is alive on this runtime: the service's actor has parked.
pub async fn assert_no_task_left() {
    run_until_idle().await;
    let alive = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();
    assert_eq!(alive, 0, "tasks still alive");
}
