use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use testrig::service::{
    ClientService, Connection as _, RetryPolicy, ServiceEvent, ServiceState, TcpConnection,
    TcpConnector,
};
use testrig::{BoxError, ConnectionInfo, Driver, Endpoint, Exports, Host, RefKey, StartContext};
use tokio::sync::broadcast;
use tokio::time::Instant;

use super::probe::{self, Peer};
use super::stream::{Connection, SendFailure, Want};
use super::{Loss, Sent, SocketOptions, TcpError, resolve, transport};

/// Default deadline of one connect.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a reconnecting client's start waits for its first connection; the
/// driver's start timeout normally ends the wait first.
const FIRST_CONNECTION_WAIT: Duration = Duration::from_secs(3600);

type PolicyFactory = Arc<dyn Fn() -> RetryPolicy + Send + Sync>;
type PrepareFn = Arc<
    dyn Fn(TcpConnection) -> std::pin::Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send>>
        + Send
        + Sync,
>;

/// A TCP client driver (testplan `TCPClient`): connects to `host:port` (either
/// may reference another driver's exports), optionally from a local interface,
/// at start or later; sends and receives with the receive contract of
/// [`TcpServer`](super::TcpServer).
///
/// With [`auto_reconnect`](Self::auto_reconnect) the connection is kept by a
/// reconnecting [`ClientService`]: the client survives its server being stopped
/// and restarted, and [`prepare_connection`](Self::prepare_connection) can run a
/// handshake on every new connection.
///
/// Exports `host` and `port` (the target) and `local_port` while connected.
///
/// # Examples
/// ```no_run
/// # async fn demo() -> testrig::Result<()> {
/// use std::time::Duration;
/// use testrig::service::RetryPolicy;
/// use testrig::{Environment, Ref};
/// use testrig_drivers::tcp::{TcpClient, TcpServer};
///
/// let env = Environment::builder("survives")
///     .driver(TcpServer::new("server"))
///     .driver(
///         TcpClient::new("client", Ref::export("server", "port"))
///             .auto_reconnect(|| RetryPolicy::constant(Duration::from_millis(20))),
///     )
///     .build()?;
/// env.run(|env| async move {
///     let client = env.get::<TcpClient>("client")?;
///     env.resource("server")?.restart().await?;
///     client.when_connected(Duration::from_secs(5)).await?;
///     client.send(b"still here").await?;
///     Ok::<_, testrig::Error>(())
/// }).await
/// # }
/// ```
pub struct TcpClient {
    name: String,
    endpoint: Endpoint,
    interface: Option<SocketAddr>,
    connect_at_start: bool,
    connect_timeout: Duration,
    options: SocketOptions,
    reconnect: Option<PolicyFactory>,
    prepare: Option<PrepareFn>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The resolved target of the latest start (kept after a stop, for reports).
    target: Option<SocketAddr>,
    /// Where the latest start placed the client: its connections are made there.
    host: Host,
    /// The run under way, from `start` until `stop` or `abort`.
    run: Option<Run>,
    /// How many connections the client has used (the number of the newest).
    connections_used: u64,
    last_loss: Option<Loss>,
}

/// One run of the client: how it holds its connection, and the connection.
struct Run {
    mode: Mode,
    /// The connection in use (for a reconnecting client, the service's current one).
    connection: Option<Active>,
    /// A reconnecting client's previous connection, lost with received bytes not
    /// yet taken: receives take them (then its `PeerClosed`) before moving on.
    draining: Option<(Arc<Connection>, u64)>,
}

/// How a started client holds its connection.
#[derive(Clone)]
enum Mode {
    /// It opens its own, at start or on [`TcpClient::connect`]; a lost one stays
    /// until the test connects again.
    Direct,
    /// A reconnecting service keeps one ([`TcpClient::auto_reconnect`]).
    Reconnecting(Arc<ClientService<TcpConnector>>),
}

struct Active {
    wrapper: Arc<Connection>,
    /// The service's handle, for a reconnecting client.
    service_handle: Option<TcpConnection>,
    /// Its number, 1, 2, 3… (as in [`Sent::connection`]).
    number: u64,
}

/// The connection a call uses now.
enum Current {
    /// This one, as it is: a direct client's (after a peer close too, so the
    /// bytes left on it stay readable), or for a receive, a reconnecting client's
    /// lost one that still holds unread bytes.
    Held(Arc<Connection>, u64),
    /// A reconnecting client's usable connection, or `None`: wait for the
    /// service's next one.
    Reconnecting(Option<(Arc<Connection>, u64)>),
}

impl State {
    fn active(&self) -> Option<&Active> {
        self.run.as_ref()?.connection.as_ref()
    }

    /// Makes `wrapper` the connection in use, with the next number; `false` (and
    /// nothing changed) when the client is no longer started.
    fn use_connection(
        &mut self,
        wrapper: Connection,
        service_handle: Option<TcpConnection>,
    ) -> bool {
        let State {
            run,
            connections_used,
            ..
        } = self;
        let Some(run) = run else {
            return false;
        };
        *connections_used += 1;
        run.connection = Some(Active {
            wrapper: Arc::new(wrapper),
            service_handle,
            number: *connections_used,
        });
        true
    }

    /// Records connection `number` as lost by the peer (once).
    fn note_loss(&mut self, wrapper: &Connection, number: u64) {
        if self.last_loss.is_some_and(|loss| loss.connection >= number) {
            return;
        }
        wrapper.mark_peer_closed();
        self.last_loss = Some(Loss {
            connection: number,
            unacknowledged_bytes: wrapper.unacknowledged_at_end(),
        });
    }

    /// A reconnecting client leaves its current connection, lost by the peer;
    /// unread bytes on it stay readable.
    fn retire_current(&mut self) {
        let Some(active) = self.run.as_mut().and_then(|run| run.connection.take()) else {
            return;
        };
        self.note_loss(&active.wrapper, active.number);
        if active.wrapper.has_unread()
            && let Some(run) = self.run.as_mut()
        {
            run.draining = Some((active.wrapper, active.number));
        }
    }
}

impl TcpClient {
    /// A client of `127.0.0.1:<port>`; `port` may be a reference such as
    /// `Ref::export("server", "port")`.
    pub fn new(name: impl Into<String>, target: impl Into<Endpoint>) -> Self {
        Self {
            name: name.into(),
            endpoint: target.into(),
            interface: None,
            connect_at_start: true,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            options: SocketOptions::default(),
            reconnect: None,
            prepare: None,
            state: Mutex::new(State::default()),
        }
    }

    /// Bind this local address (interface and port; port 0 = any) before connecting.
    #[must_use]
    pub fn interface(mut self, local: SocketAddr) -> Self {
        self.interface = Some(local);
        self
    }

    /// Connect during `start` (default `true`); otherwise call [`connect`](Self::connect).
    #[must_use]
    pub fn connect_at_start(mut self, connect: bool) -> Self {
        self.connect_at_start = connect;
        self
    }

    /// Deadline of one connect (default 5 s); a connect that takes longer fails
    /// with [`TcpError::ConnectTimeout`].
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Socket options for the connection.
    #[must_use]
    pub fn socket_options(mut self, options: SocketOptions) -> Self {
        self.options = options;
        self
    }

    /// Keep the connection with a reconnecting [`ClientService`]: after a loss
    /// it reconnects with the policy `policy()` builds (one per start).
    #[must_use]
    pub fn auto_reconnect<F>(mut self, policy: F) -> Self
    where
        F: Fn() -> RetryPolicy + Send + Sync + 'static,
    {
        self.reconnect = Some(Arc::new(policy));
        self
    }

    /// Run `prepare` on every new connection of a reconnecting client (a
    /// handshake); an error counts as a failed attempt. Needs
    /// [`auto_reconnect`](Self::auto_reconnect): without it the start fails with
    /// [`TcpError::InvalidOption`] naming the driver and this option.
    #[must_use]
    pub fn prepare_connection<F, Fut, E>(mut self, prepare: F) -> Self
    where
        F: Fn(TcpConnection) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        self.prepare = Some(Arc::new(move |connection| {
            let prepared = prepare(connection);
            Box::pin(async move { prepared.await.map_err(Into::into) })
        }));
        self
    }

    /// The resolved target, once started.
    pub fn target(&self) -> Option<SocketAddr> {
        self.lock().target
    }

    /// The local address of the connection, while connected.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.lock().active().map(|active| active.wrapper.local())
    }

    /// Whether it holds an open connection (asking the kernel now, so a close by
    /// the peer that arrived since the last send or receive counts).
    pub fn is_connected(&self) -> bool {
        self.lock()
            .active()
            .is_some_and(|active| active.wrapper.is_usable_now())
    }

    /// The newest connection this client lost to its peer (a close or reset it
    /// learned of through a send, a receive, [`when_connected`](Self::when_connected)
    /// or the reconnecting service), with the bytes the peer had not acknowledged
    /// at that moment. Closing or reconnecting on this side is not a loss.
    ///
    /// # Examples
    /// ```no_run
    /// # async fn demo(client: &testrig_drivers::tcp::TcpClient) {
    /// if let Some(loss) = client.last_loss() {
    ///     assert_eq!(loss.unacknowledged_bytes, Some(0), "bytes were in flight on connection {}", loss.connection);
    /// }
    /// # }
    /// ```
    pub fn last_loss(&self) -> Option<Loss> {
        self.lock().last_loss
    }

    /// Connects to the target (closing any previous connection). For a
    /// reconnecting client, (re)starts the service and waits for its connection.
    pub async fn connect(&self) -> Result<(), TcpError> {
        if let Mode::Reconnecting(service) = self.mode()? {
            service.start();
            return self.when_connected(self.connect_timeout).await;
        }
        let (target, previous) = {
            let mut state = self.lock();
            let target = state.target.ok_or_else(|| self.not_started())?;
            let previous = state.run.as_mut().and_then(|run| run.connection.take());
            (target, previous)
        };
        if let Some(previous) = previous {
            previous.wrapper.close().await;
        }
        let stream = self.open(target).await?;
        let (local, peer) = match (stream.local_addr(), stream.peer_addr()) {
            (Ok(local), Ok(peer)) => (local, peer),
            (Err(source), _) | (_, Err(source)) => {
                return Err(TcpError::Addresses {
                    driver: self.name.clone(),
                    address: target.to_string(),
                    source,
                });
            }
        };
        let wrapper = Connection::new(
            &self.name,
            "the connection".to_owned(),
            transport::owned(stream),
            (local, peer),
        );
        if self.lock().use_connection(wrapper, None) {
            Ok(())
        } else {
            Err(self.not_started())
        }
    }

    /// Waits up to `timeout` until the client holds a live connection. For a
    /// reconnecting client this is the service's newest connection (one found
    /// already closed by the peer is dropped, so the service reconnects).
    /// A reconnecting client still without one when `timeout` passes fails with
    /// [`TcpError::ConnectionWaitTimeout`]; a direct client answers at once
    /// ([`TcpError::NotConnected`] without a live connection).
    pub async fn when_connected(&self, timeout: Duration) -> Result<(), TcpError> {
        let deadline = super::deadline_after(timeout);
        self.connected_by(deadline, "when_connected", timeout).await
    }

    /// [`when_connected`](Self::when_connected) with an absolute deadline;
    /// `operation` and `timeout` describe the caller's wait in a timeout error.
    async fn connected_by(
        &self,
        deadline: Instant,
        operation: &str,
        timeout: Duration,
    ) -> Result<(), TcpError> {
        let Mode::Reconnecting(service) = self.mode()? else {
            return if self.is_connected() {
                Ok(())
            } else {
                Err(TcpError::NotConnected {
                    driver: self.name.clone(),
                })
            };
        };
        let timed_out = || TcpError::ConnectionWaitTimeout {
            driver: self.name.clone(),
            operation: operation.to_owned(),
            after: timeout,
        };
        loop {
            // Subscribed before asking, so the loss of the connection handed out
            // cannot slip by unseen.
            let mut events = service.subscribe();
            let connected = tokio::time::timeout_at(deadline, service.when_connected(None)).await;
            let handle = match connected {
                Ok(Ok(handle)) => handle,
                Ok(Err(source)) => {
                    return Err(TcpError::Service {
                        driver: self.name.clone(),
                        source,
                    });
                }
                Err(_) => return Err(timed_out()),
            };
            if matches!(probe::peer(handle.as_fd()), Peer::Open { .. }) {
                return if self.adopt(handle) {
                    Ok(())
                } else {
                    Err(self.not_started())
                };
            }
            // The service has not seen the loss yet: make it see it now, and wait
            // until it has left the connected state before asking again.
            {
                let mut state = self.lock();
                let current = state.active().and_then(|a| a.service_handle.as_ref());
                if current.is_some_and(|h| *h == handle) {
                    state.retire_current();
                }
            }
            handle.close();
            tokio::time::timeout_at(deadline, left_connected(&mut events))
                .await
                .map_err(|_| timed_out())?;
        }
    }

    /// Closes the connection and connects again (a reconnecting client drops its
    /// connection and waits for the service's next one).
    pub async fn reconnect(&self) -> Result<(), TcpError> {
        match self.mode()? {
            Mode::Direct => self.connect().await,
            Mode::Reconnecting(_) => {
                let current = self
                    .lock()
                    .run
                    .as_mut()
                    .and_then(|run| run.connection.take());
                if let Some(active) = current {
                    active.wrapper.close().await;
                }
                self.when_connected(self.connect_timeout).await
            }
        }
    }

    /// Closes the connection on this side (a reconnecting client also stops
    /// reconnecting until [`connect`](Self::connect)).
    pub async fn close(&self) {
        let (connection, mode) = {
            let mut state = self.lock();
            let Some(run) = state.run.as_mut() else {
                return;
            };
            run.draining = None;
            (run.connection.take(), run.mode.clone())
        };
        if let Mode::Reconnecting(service) = mode {
            service.stop().await;
        }
        if let Some(active) = connection {
            active.wrapper.close().await;
        }
    }

    /// Sends all of `data` within the driver's [`send_timeout`](SocketOptions::send_timeout)
    /// and says which connection carried it.
    ///
    /// A send never answers `Ok` for a connection the client knows, or sees with a
    /// non-blocking look just before writing, to be closed by the peer (its FIN,
    /// a reset, a pending socket error). Then a reconnecting client
    /// ([`auto_reconnect`](Self::auto_reconnect)) waits for its next connection,
    /// within the same deadline, and writes there ([`Sent::connection`] tells which);
    /// a direct client fails with [`TcpError::PeerClosed`]. What no look can tell:
    /// bytes the kernel accepted before the peer died are lost with it —
    /// [`last_loss`](Self::last_loss) says whether any were still unacknowledged.
    pub async fn send(&self, data: &[u8]) -> Result<Sent, TcpError> {
        let started_at = SystemTime::now();
        match self.current(false)? {
            Current::Held(connection, number) => {
                let sent = connection.send(data, self.options.send_timeout).await;
                self.sent(&connection, number, started_at, sent)
            }
            Current::Reconnecting(mut ready) => {
                let deadline = super::deadline_after(self.options.send_timeout);
                loop {
                    let (connection, number) = match ready.take() {
                        Some(ready) => ready,
                        // Boxed: the wait for a connection is rare, and large.
                        None => Box::pin(self.next_connection(deadline, "send")).await?,
                    };
                    let left = deadline.saturating_duration_since(Instant::now());
                    match connection.send(data, left).await {
                        // Nothing of it was written there: the next connection carries it.
                        Err(SendFailure::Unsent(_)) => self.retire(number),
                        sent => return self.sent(&connection, number, started_at, sent),
                    }
                }
            }
        }
    }

    /// Sends all of `data` as [`send`](Self::send) does, then waits until the
    /// peer's kernel has acknowledged every byte written to the connection so
    /// far, all within the driver's [`send_timeout`](SocketOptions::send_timeout).
    ///
    /// `Ok` then means the bytes reached the peer's kernel, not only ours: a peer
    /// that dies after this still had them. That costs up to a round trip and the
    /// peer's delayed-ACK timer (tens of milliseconds) per call, which is why it is
    /// not what [`send`](Self::send) does. A connection lost or a deadline passed
    /// before the acknowledgement is [`TcpError::Unacknowledged`]; the bytes are not
    /// sent again (the peer may have some of them), even with
    /// [`auto_reconnect`](Self::auto_reconnect).
    ///
    /// # Examples
    /// ```no_run
    /// # async fn demo(client: &testrig_drivers::tcp::TcpClient) -> Result<(), testrig_drivers::tcp::TcpError> {
    /// let sent = client.send_acked(b"must arrive\n").await?;
    /// println!("the peer's kernel has it (connection {})", sent.connection);
    /// # Ok(()) }
    /// ```
    pub async fn send_acked(&self, data: &[u8]) -> Result<Sent, TcpError> {
        let deadline = super::deadline_after(self.options.send_timeout);
        let sent = self.send(data).await?;
        let connection = self
            .lock()
            .active()
            .filter(|active| active.number == sent.connection)
            .map(|active| active.wrapper.clone());
        match connection {
            Some(connection) => {
                connection
                    .acknowledged(deadline, self.options.send_timeout)
                    .await?;
                Ok(sent)
            }
            // Replaced meanwhile: it was lost (or closed here) after the write.
            None => Err(TcpError::Unacknowledged {
                driver: self.name.clone(),
                connection: format!("connection {}", sent.connection),
                unacknowledged: self
                    .last_loss()
                    .filter(|loss| loss.connection == sent.connection)
                    .and_then(|loss| loss.unacknowledged_bytes),
                why: "before the connection was lost or closed".to_owned(),
            }),
        }
    }

    /// Receives at least one and at most `max` bytes.
    pub async fn receive(&self, max: usize, timeout: Duration) -> Result<Vec<u8>, TcpError> {
        self.receive_wanted(Want::AtMost(max), timeout).await
    }

    /// Receives exactly `n` bytes within `timeout` overall; on timeout the bytes
    /// read so far are kept for the next call.
    pub async fn receive_exact(&self, n: usize, timeout: Duration) -> Result<Vec<u8>, TcpError> {
        self.receive_wanted(Want::Exactly(n), timeout).await
    }

    /// Receives up to and including `delimiter` (within `limit` bytes).
    pub async fn receive_until(
        &self,
        delimiter: &[u8],
        limit: usize,
        timeout: Duration,
    ) -> Result<Vec<u8>, TcpError> {
        self.receive_wanted(Want::Until(delimiter, limit), timeout)
            .await
    }

    /// Receives one `\n`-terminated line (without the terminator) as UTF-8 text.
    pub async fn receive_line(&self, timeout: Duration) -> Result<String, TcpError> {
        let bytes = self.receive_wanted(Want::LINE, timeout).await?;
        Ok(super::line_text(bytes))
    }

    /// The connection a call uses now; `receiving`: a lost connection still
    /// holding unread bytes comes first.
    fn current(&self, receiving: bool) -> Result<Current, TcpError> {
        let state = self.lock();
        let run = state.run.as_ref().ok_or_else(|| self.not_started())?;
        if receiving && let Some((connection, number)) = &run.draining {
            return Ok(Current::Held(connection.clone(), *number));
        }
        let current = run
            .connection
            .as_ref()
            .map(|active| (active.wrapper.clone(), active.number));
        match (&run.mode, current) {
            (Mode::Direct, Some((connection, number))) => Ok(Current::Held(connection, number)),
            (Mode::Direct, None) => Err(TcpError::NotConnected {
                driver: self.name.clone(),
            }),
            (Mode::Reconnecting(_), current) => Ok(Current::Reconnecting(
                current.filter(|(connection, _)| connection.is_usable()),
            )),
        }
    }

    /// A reconnecting client's next connection, waited for until `deadline`;
    /// `operation` names the caller in a timeout error.
    async fn next_connection(
        &self,
        deadline: Instant,
        operation: &str,
    ) -> Result<(Arc<Connection>, u64), TcpError> {
        let timeout = deadline.saturating_duration_since(Instant::now());
        self.connected_by(deadline, operation, timeout).await?;
        self.lock()
            .active()
            .map(|active| (active.wrapper.clone(), active.number))
            .ok_or_else(|| TcpError::NotConnected {
                driver: self.name.clone(),
            })
    }

    /// The connection a receive reads: a lost one still holding unread bytes
    /// first, else the current one; for a reconnecting client whose connection
    /// is gone, the service's next one (within the connect timeout).
    async fn receiving_connection(&self) -> Result<(Arc<Connection>, u64), TcpError> {
        match self.current(true)? {
            Current::Held(connection, number)
            | Current::Reconnecting(Some((connection, number))) => Ok((connection, number)),
            Current::Reconnecting(None) => {
                let deadline = super::deadline_after(self.connect_timeout);
                // Boxed, as in `send`.
                Box::pin(self.next_connection(deadline, "receive")).await
            }
        }
    }

    /// A reconnecting client leaves connection `number`, lost by its peer.
    fn retire(&self, number: u64) {
        let mut state = self.lock();
        if state.active().is_some_and(|active| active.number == number) {
            state.retire_current();
        }
    }

    /// The outcome of a send on connection `number`; a peer close is recorded.
    fn sent(
        &self,
        connection: &Connection,
        number: u64,
        started_at: SystemTime,
        sent: Result<usize, SendFailure>,
    ) -> Result<Sent, TcpError> {
        match sent {
            Ok(bytes) => Ok(Sent {
                bytes,
                connection: number,
                started_at,
            }),
            Err(failure) => {
                let error = TcpError::from(failure);
                if matches!(error, TcpError::PeerClosed { .. }) {
                    self.lock().note_loss(connection, number);
                }
                Err(error)
            }
        }
    }

    /// What `want` asks for, from the connection a receive reads; a peer close
    /// is recorded, and ends a lost connection's draining.
    async fn receive_wanted(&self, want: Want<'_>, timeout: Duration) -> Result<Vec<u8>, TcpError> {
        let (connection, number) = self.receiving_connection().await?;
        let received = connection.receive(want, timeout).await;
        if let Err(TcpError::PeerClosed { .. }) = &received {
            let mut state = self.lock();
            state.note_loss(&connection, number);
            if let Some(run) = state.run.as_mut()
                && run.draining.as_ref().is_some_and(|(_, n)| *n == number)
            {
                run.draining = None;
            }
        }
        received
    }

    /// Makes `handle` the connection in use, unless it already is; `false` (and
    /// `handle` closed) when the client is no longer started.
    fn adopt(&self, handle: TcpConnection) -> bool {
        let mut state = self.lock();
        if state.run.is_none() {
            handle.close();
            return false;
        }
        if let Some(active) = state.active() {
            let same = active.service_handle.as_ref().is_some_and(|h| *h == handle);
            if same && active.wrapper.is_usable() {
                return true;
            }
            if !same {
                // The service replaced it: the peer closed it.
                state.retire_current();
            }
        }
        let (Ok(local), Ok(peer)) = (handle.local_addr(), handle.peer_addr()) else {
            // Lost as soon as it was made: the service notices and reconnects.
            handle.close();
            return true;
        };
        let wrapper = Connection::new(
            &self.name,
            "the connection".to_owned(),
            transport::service(handle.clone()),
            (local, peer),
        );
        state.use_connection(wrapper, Some(handle))
    }

    /// How the client holds its connection, while started.
    fn mode(&self) -> Result<Mode, TcpError> {
        self.lock()
            .run
            .as_ref()
            .map(|run| run.mode.clone())
            .ok_or_else(|| self.not_started())
    }

    async fn open(&self, target: SocketAddr) -> Result<tokio::net::TcpStream, TcpError> {
        let io = |operation: String| TcpError::io(&self.name, operation);
        let host = self.lock().host.clone();
        let socket = host
            .tcp_socket(target)
            .await
            .map_err(io("create a socket".to_owned()))?;
        if let Some(local) = self.interface {
            socket
                .set_reuseaddr(true)
                .map_err(io("set SO_REUSEADDR".to_owned()))?;
            socket
                .bind(local)
                .map_err(io(format!("bind local interface {local}")))?;
        }
        let connect =
            async { testrig::host::refuse_self_connection(socket.connect(target).await?) };
        let stream = match tokio::time::timeout(self.connect_timeout, connect).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                return Err(TcpError::Refused {
                    driver: self.name.clone(),
                    address: target.to_string(),
                });
            }
            Ok(Err(e)) => return Err(io(format!("connect to {target}"))(e)),
            Err(_) => {
                return Err(TcpError::ConnectTimeout {
                    driver: self.name.clone(),
                    address: target.to_string(),
                    after: self.connect_timeout,
                });
            }
        };
        self.options
            .apply(&stream)
            .map_err(io("set socket options".to_owned()))?;
        Ok(stream)
    }

    fn start_service(
        &self,
        target: SocketAddr,
        host: &Host,
        policy: &PolicyFactory,
    ) -> Arc<ClientService<TcpConnector>> {
        let mut connector = TcpConnector::new(target)
            .nodelay(self.options.nodelay)
            .host(host.clone());
        if let Some(idle) = self.options.keepalive {
            connector = connector.keepalive(idle);
        }
        if let Some(timeout) = self.options.user_timeout {
            connector = connector.user_timeout(timeout);
        }
        if let Some(local) = self.interface {
            connector = connector.local_address(local);
        }
        let mut builder = ClientService::builder(connector)
            .retry_policy(policy())
            .connect_timeout(self.connect_timeout);
        if let Some(prepare) = self.prepare.clone() {
            builder = builder.prepare_connection(move |connection| prepare(connection));
        }
        Arc::new(builder.build())
    }

    fn not_started(&self) -> TcpError {
        TcpError::NotStarted {
            driver: self.name.clone(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Resolves once the service reports leaving the connected state (or its events
/// end or lag, when the caller should simply look again).
async fn left_connected(events: &mut broadcast::Receiver<ServiceEvent>) {
    loop {
        match events.recv().await {
            Ok(ServiceEvent::StateChanged {
                from: ServiceState::Connected,
                ..
            })
            | Err(_) => return,
            Ok(_) => {}
        }
    }
}

#[async_trait]
impl Driver for TcpClient {
    fn name(&self) -> &str {
        &self.name
    }

    fn references(&self) -> Vec<RefKey> {
        self.endpoint.references()
    }

    fn export_keys(&self) -> Vec<String> {
        vec!["host".into(), "port".into(), "local_port".into()]
    }

    async fn start(&self, ctx: &StartContext) -> Result<(), BoxError> {
        if self.prepare.is_some() && self.reconnect.is_none() {
            return Err(TcpError::InvalidOption {
                driver: self.name.clone(),
                option: "prepare_connection",
                reason: "needs `auto_reconnect`: only a reconnecting client runs it",
            }
            .into());
        }
        let (host, port) = ctx.endpoint(&self.endpoint)?;
        if port == 0 {
            return Err(TcpError::InvalidPort {
                driver: self.name.clone(),
                field: "port",
                value: 0,
                reason: "a client needs the server's port, not 0",
            }
            .into());
        }
        let target = resolve(&self.name, &host, port).await?;
        let mode = match &self.reconnect {
            Some(policy) => Mode::Reconnecting(self.start_service(target, ctx.host(), policy)),
            None => Mode::Direct,
        };
        {
            let mut state = self.lock();
            state.target = Some(target);
            state.host = ctx.host().clone();
            state.run = Some(Run {
                mode: mode.clone(),
                connection: None,
                draining: None,
            });
        }
        if self.connect_at_start {
            match mode {
                Mode::Reconnecting(service) => {
                    service.start();
                    self.when_connected(FIRST_CONNECTION_WAIT).await?;
                }
                Mode::Direct => self.connect().await?,
            }
        }
        Ok(())
    }

    async fn stop(&self) -> Result<(), BoxError> {
        let Some(run) = self.lock().run.take() else {
            return Ok(());
        };
        // Every call and wait on its connections ends now.
        let connections = run.connection.iter().map(|active| &active.wrapper);
        for connection in connections.chain(run.draining.iter().map(|(connection, _)| connection)) {
            connection.shut();
        }
        if let Mode::Reconnecting(service) = &run.mode {
            service.stop().await;
        }
        if let Some(active) = run.connection {
            active.wrapper.close().await;
        }
        Ok(())
    }

    fn abort(&self) {
        let Some(run) = self.lock().run.take() else {
            return;
        };
        if let Some((draining, _)) = run.draining {
            draining.shut();
        }
        if let Some(active) = run.connection {
            active.wrapper.shut();
            if let Some(handle) = active.service_handle {
                handle.close();
            }
        }
        // Dropping the service closes its connection and ends its task.
    }

    fn exports(&self) -> Exports {
        let state = self.lock();
        let mut exports = Exports::new();
        if let Some(target) = state.target {
            exports.insert("host".into(), target.ip().into());
            exports.insert("port".into(), target.port().into());
        }
        if let Some(active) = state.active() {
            exports.insert("local_port".into(), active.wrapper.local().port().into());
        }
        exports
    }

    fn connections(&self) -> Vec<ConnectionInfo> {
        self.target()
            .map(|target| vec![ConnectionInfo::connecting("tcp", target)])
            .unwrap_or_default()
    }
}

impl fmt::Debug for TcpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpClient")
            .field("name", &self.name)
            .field("target", &self.target())
            .field("auto_reconnect", &self.reconnect.is_some())
            .finish_non_exhaustive()
    }
}
