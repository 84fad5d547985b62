//! The native iperf3 server: serves one test at a time on one port, answers everyone else
//! with `ACCESS_DENIED`, and survives clients that vanish or misbehave.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::{CancellationToken, DropGuard};

use super::session::serve_session;
use crate::iperf::error::{IperfError, Phase};
use crate::iperf::protocol::{COOKIE_SIZE, Cookie, TestState};
use crate::iperf::result::{Connection, IntervalReport, IperfResult, TestSettings};

/// Limits and deadlines of a native server.
#[derive(Debug, Clone)]
#[must_use]
pub struct ServerConfig {
    pub(crate) phase_timeout: Duration,
    pub(crate) grace: Duration,
    pub(crate) max_open_ended_test: Duration,
    pub(crate) max_pending_handshakes: usize,
    pub(crate) interval: Option<Duration>,
    pub(crate) results_capacity: usize,
    pub(crate) zero_copy: bool,
    pub(crate) progress: Option<mpsc::UnboundedSender<ServerProgress>>,
    pub(crate) json_output: bool,
    pub(crate) send_timeout: Option<Duration>,
    pub(crate) receive_timeout: Duration,
    pub(crate) bind_device: Option<String>,
}

/// What a serving server reports while a test runs (see [`ServerConfig::progress`]); the
/// end of each test comes as a [`ServedTest`] from [`ServerHandle::next_test`], after the
/// test's progress.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ServerProgress {
    /// A test's data connections are made; it is about to start.
    Started {
        /// The client's control-connection address.
        peer: SocketAddr,
        /// What runs.
        test: TestSettings,
        /// The data connections, in the order they were made.
        connections: Vec<Connection>,
        /// The test's cookie.
        cookie: String,
    },
    /// An interval of the running test closed.
    Interval(Box<IntervalReport>),
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            phase_timeout: Duration::from_secs(10),
            grace: Duration::from_secs(10),
            max_open_ended_test: Duration::from_secs(600),
            max_pending_handshakes: 64,
            interval: Some(Duration::from_secs(1)),
            results_capacity: 64,
            zero_copy: true,
            progress: None,
            json_output: false,
            send_timeout: None,
            receive_timeout: crate::iperf::stream_options::DEFAULT_RECEIVE_TIMEOUT,
            bind_device: None,
        }
    }
}

impl ServerConfig {
    /// Whether TCP data the server sends (reverse and bidirectional tests) goes out with
    /// `sendfile(2)` from an in-memory copy of the payload, which spares the kernel copying
    /// it from user memory (iperf3's `-Z`); default on. Off sends with plain writes, as
    /// iperf3 does by default.
    pub fn zero_copy(mut self, enabled: bool) -> Self {
        self.zero_copy = enabled;
        self
    }

    /// Whether this server reports in iperf3's `-J` layout rather than its text (default:
    /// text). It decides what a client asking for the server's report
    /// (`--get-server-output`) gets: the JSON document, or the text iperf3's server prints.
    pub fn json_output(mut self, enabled: bool) -> Self {
        self.json_output = enabled;
        self
    }

    /// How long data the server sends may stay unacknowledged before its TCP gives the
    /// stream up (iperf3's `--snd-timeout` on `-s`, `TCP_USER_TIMEOUT`); default: the
    /// system's.
    pub fn send_timeout(mut self, timeout: Duration) -> Self {
        self.send_timeout = Some(timeout);
        self
    }

    /// How long the server, while it receives, waits for data before it ends the test with
    /// iperf3's "idle timeout for receiving data" (`--rcv-timeout` on `-s`); default 120 s
    /// as in iperf3.
    pub fn receive_timeout(mut self, timeout: Duration) -> Self {
        self.receive_timeout = timeout;
        self
    }

    /// Listen (and bind UDP streams) on this network device only (iperf3's `--bind-dev`
    /// on `-s`, `SO_BINDTODEVICE`).
    pub fn bind_device(mut self, device: impl Into<String>) -> Self {
        self.bind_device = Some(device.into());
        self
    }

    /// How long a client may take for each protocol step (cookie, parameters, streams,
    /// results); default 10 s.
    pub fn phase_timeout(mut self, timeout: Duration) -> Self {
        self.phase_timeout = timeout;
        self
    }

    /// How long past its announced duration (plus omit) a test may run before the server
    /// ends it; default 10 s.
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// The longest a byte- or block-limited test (which announces no duration) may run;
    /// default 10 minutes.
    pub fn max_open_ended_test(mut self, limit: Duration) -> Self {
        self.max_open_ended_test = limit;
        self
    }

    /// Sends each test's progress (its start, then each interval as it closes) on
    /// `progress`, so that a report can be printed as the test goes, as iperf3's server
    /// prints; default none.
    pub fn progress(mut self, progress: mpsc::UnboundedSender<ServerProgress>) -> Self {
        self.progress = Some(progress);
        self
    }

    /// Interval reports the server records for each test (`None`: none); default 1 s.
    pub fn interval(mut self, interval: Option<Duration>) -> Self {
        self.interval = interval;
        self
    }
}

/// One test the server served: who ran it and how it went.
#[derive(Debug)]
pub struct ServedTest {
    /// The client's control-connection address.
    pub peer: SocketAddr,
    /// The server's view of the test, or why it failed.
    pub outcome: Result<IperfResult, IperfError>,
}

/// A bound native server, not yet serving; connections already queue in the kernel.
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
/// use testrig_drivers::iperf::NativeServer;
///
/// # async fn example() -> Result<(), testrig_drivers::iperf::IperfError> {
/// let server = NativeServer::bind("127.0.0.1:0".parse().unwrap()).await?;
/// let port = server.local_addr().port(); // accepting from here on
/// let mut handle = server.spawn();
/// // ... run `iperf3 -c 127.0.0.1 -p {port}` or a NativeClient ...
/// let served = handle.next_test(Duration::from_secs(30)).await?;
/// println!("{} → {:?}", served.peer, served.outcome.map(|r| r.bytes_received()));
/// handle.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct NativeServer {
    listener: TcpListener,
    local_addr: SocketAddr,
    config: ServerConfig,
}

impl NativeServer {
    /// Binds `addr` (port 0: the kernel picks) with default limits.
    pub async fn bind(addr: SocketAddr) -> Result<Self, IperfError> {
        Self::bind_with(addr, ServerConfig::default()).await
    }

    /// Binds `addr` with the given limits.
    pub async fn bind_with(addr: SocketAddr, config: ServerConfig) -> Result<Self, IperfError> {
        let error = |source| IperfError::Bind { addr, source };
        let socket = match addr {
            SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4(),
            SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6(),
        }
        .map_err(error)?;
        socket.set_reuseaddr(true).map_err(error)?;
        if let Some(device) = &config.bind_device {
            socket.bind_device(Some(device.as_bytes())).map_err(error)?;
        }
        socket.bind(addr).map_err(error)?;
        let listener = socket.listen(1024).map_err(error)?;
        let local_addr = listener.local_addr().map_err(error)?;
        Ok(Self {
            listener,
            local_addr,
            config,
        })
    }

    /// The address clients connect to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Starts serving in the background.
    pub fn spawn(self) -> ServerHandle {
        let cancel = CancellationToken::new();
        let (results_tx, results) = mpsc::channel(self.config.results_capacity.max(1));
        let local_addr = self.local_addr;
        let task = tokio::spawn(serve(self, cancel.clone(), results_tx));
        ServerHandle {
            local_addr,
            guard: Some(cancel.drop_guard()),
            task: Some(task),
            results,
        }
    }
}

/// A serving native server. Dropping it stops serving (the listener closes when the
/// background task ends); [`shutdown`](Self::shutdown) also waits for that.
#[derive(Debug)]
pub struct ServerHandle {
    local_addr: SocketAddr,
    guard: Option<DropGuard>,
    task: Option<JoinHandle<()>>,
    results: mpsc::Receiver<ServedTest>,
}

impl ServerHandle {
    /// The address clients connect to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The next test served (completed or failed), waiting at most `timeout`. The server
    /// keeps the last 64 outcomes nobody has read.
    pub async fn next_test(&mut self, timeout: Duration) -> Result<ServedTest, IperfError> {
        match tokio::time::timeout(timeout, self.results.recv()).await {
            Ok(Some(served)) => Ok(served),
            Ok(None) => Err(IperfError::protocol(
                Phase::WaitingForTest,
                "the server has stopped",
            )),
            Err(_) => Err(IperfError::Timeout {
                phase: Phase::WaitingForTest,
                after: timeout,
            }),
        }
    }

    /// Stops serving: closes the listener and aborts a test in progress.
    pub async fn shutdown(mut self) {
        drop(self.guard.take());
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

/// A data connection that presented the test's cookie, with its place in the accept order.
/// Cookies are checked concurrently, so streams can be admitted out of order; the session
/// sorts them back, because a stream's role (which side sends) follows its creation order.
#[derive(Debug)]
pub(crate) struct AdmittedStream {
    pub(crate) accepted: u64,
    pub(crate) stream: TcpStream,
}

/// What the acceptor does with a new connection.
#[derive(Debug, Clone)]
enum Slot {
    /// No test: the connection is a new client's control connection.
    Idle,
    /// A test runs and takes no new streams: refuse.
    Busy,
    /// A test is creating its streams: a connection with its cookie is one of them.
    AcceptingStreams {
        cookie: Cookie,
        streams: mpsc::Sender<AdmittedStream>,
    },
}

/// The acceptor's shared view of the session.
#[derive(Debug, Clone)]
pub(crate) struct SessionSlot(Arc<Mutex<Slot>>);

impl SessionSlot {
    fn get(&self) -> Slot {
        self.0.lock().map(|s| s.clone()).unwrap_or(Slot::Busy)
    }

    fn set(&self, slot: Slot) {
        if let Ok(mut s) = self.0.lock() {
            *s = slot;
        }
    }

    pub(crate) fn accept_streams(&self, cookie: Cookie, streams: mpsc::Sender<AdmittedStream>) {
        self.set(Slot::AcceptingStreams { cookie, streams });
    }

    pub(crate) fn busy(&self) {
        self.set(Slot::Busy);
    }
}

/// Marks the server free when a session ends, however it ends (even by panic or abort).
struct FreeOnDrop(SessionSlot);

impl Drop for FreeOnDrop {
    fn drop(&mut self) {
        self.0.set(Slot::Idle);
    }
}

async fn serve(server: NativeServer, cancel: CancellationToken, results: mpsc::Sender<ServedTest>) {
    let NativeServer {
        listener,
        local_addr,
        config,
    } = server;
    // Shared with the session, which sets the client's MSS on it while streams connect.
    let listener = Arc::new(listener);
    let slot = SessionSlot(Arc::new(Mutex::new(Slot::Idle)));
    let handshakes = Arc::new(Semaphore::new(config.max_pending_handshakes));
    let mut sessions = JoinSet::new();
    let mut helpers = JoinSet::new();
    let mut accepted_count: u64 = 0;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            Some(_) = sessions.join_next() => {}
            Some(_) = helpers.join_next() => {}
            accepted = listener.accept() => {
                let Ok((socket, peer)) = accepted else {
                    // Out of descriptors or a connection reset before accept: wait for a
                    // task to finish (which frees descriptors) rather than spin.
                    let _ = tokio::time::timeout(Duration::from_millis(50), helpers.join_next()).await;
                    continue;
                };
                let _ = socket.set_nodelay(true);
                accepted_count += 1;
                let accepted = accepted_count;
                match slot.get() {
                    Slot::Idle => {
                        slot.set(Slot::Busy);
                        let (slot, config, results) = (slot.clone(), config.clone(), results.clone());
                        let listener = listener.clone();
                        sessions.spawn(async move {
                            let free_on_exit = FreeOnDrop(slot.clone());
                            let outcome =
                                serve_session(socket, &listener, local_addr, &slot, &config).await;
                            if let Err(error) = &outcome {
                                tracing::debug!(%peer, %error, "iperf test failed");
                            }
                            // Free before reporting, so whoever reads the report can start
                            // the next test at once.
                            drop(free_on_exit);
                            let _ = results.try_send(ServedTest { peer, outcome });
                        });
                    }
                    other => {
                        // Bounded: a flood of connections cannot pile up tasks or buffers.
                        let Ok(permit) = handshakes.clone().try_acquire_owned() else {
                            continue;
                        };
                        let timeout = config.phase_timeout;
                        helpers.spawn(async move {
                            match other {
                                Slot::AcceptingStreams { cookie, streams } => {
                                    admit_stream(socket, accepted, cookie, streams, timeout).await;
                                }
                                _ => deny(socket).await,
                            }
                            drop(permit);
                        });
                    }
                }
            }
        }
    }
}

/// A connection during `CREATE_STREAMS`: one of the test's streams if it presents the
/// test's cookie, else refused.
async fn admit_stream(
    mut socket: TcpStream,
    accepted: u64,
    cookie: Cookie,
    streams: mpsc::Sender<AdmittedStream>,
    timeout: Duration,
) {
    let mut presented = [0u8; COOKIE_SIZE];
    let read = tokio::time::timeout(timeout, socket.read_exact(&mut presented)).await;
    if matches!(read, Ok(Ok(_))) && Cookie::from_wire(presented) == cookie {
        let admitted = AdmittedStream {
            accepted,
            stream: socket,
        };
        if let Err(refused) = streams.try_send(admitted) {
            deny(refused.into_inner().stream).await;
        }
    } else {
        deny(socket).await;
    }
}

/// Answers `ACCESS_DENIED` and closes, after letting the peer's cookie arrive so the close is
/// orderly (closing with unread data would reset the connection and could lose the answer).
async fn deny(mut socket: TcpStream) {
    let _ = socket.write_all(&[TestState::AccessDenied.to_byte()]).await;
    let _ = socket.shutdown().await;
    let mut sink = [0u8; 64];
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while let Ok(n) = socket.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}
