use std::fmt;
use std::future::Future;
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use socket2::SockRef;
use testrig::service::{
    ClientService, Connection as _, RetryPolicy, ServiceEvent, ServiceState, TcpConnection,
    TcpConnector,
};
use testrig::{BoxError, ConnectionInfo, Driver, Exports, Param, RefKey, StartContext};
use tokio::net::TcpSocket;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::stream::{Connection, DEFAULT_SEND_TIMEOUT};
use super::{SocketOptions, TcpError, resolve, transport};

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
///     env.restart("server").await?;
///     client.when_connected(Duration::from_secs(5)).await?;
///     client.send(b"still here").await?;
///     Ok::<_, testrig::Error>(())
/// }).await
/// # }
/// ```
pub struct TcpClient {
    name: String,
    host: Param<String>,
    port: Param<u16>,
    interface: Option<SocketAddr>,
    connect_at_start: bool,
    connect_timeout: Duration,
    send_timeout: Duration,
    options: SocketOptions,
    reconnect: Option<PolicyFactory>,
    prepare: Option<PrepareFn>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    target: Option<SocketAddr>,
    /// The connection in use (for a reconnecting client, the service's current one).
    connection: Option<Active>,
    cancel: CancellationToken,
    service: Option<Arc<ClientService<TcpConnector>>>,
}

struct Active {
    wrapper: Arc<Connection>,
    /// The service's handle, for a reconnecting client.
    service_handle: Option<TcpConnection>,
}

impl TcpClient {
    /// A client of `127.0.0.1:<port>`; `port` may be a reference such as
    /// `Ref::export("server", "port")`.
    pub fn new(name: impl Into<String>, port: impl Into<Param<u16>>) -> Self {
        Self {
            name: name.into(),
            host: Param::Value("127.0.0.1".to_owned()),
            port: port.into(),
            interface: None,
            connect_at_start: true,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            send_timeout: DEFAULT_SEND_TIMEOUT,
            options: SocketOptions::default(),
            reconnect: None,
            prepare: None,
            state: Mutex::new(State::default()),
        }
    }

    /// The host to connect to (default `127.0.0.1`).
    #[must_use]
    pub fn host(mut self, host: impl Into<Param<String>>) -> Self {
        self.host = host.into();
        self
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

    /// Deadline of one connect (default 5 s).
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long a send may wait for the peer to take its bytes (default
    /// [`DEFAULT_SEND_TIMEOUT`](super::DEFAULT_SEND_TIMEOUT), 10 s); then it fails
    /// with [`TcpError::SendTimeout`].
    #[must_use]
    pub fn send_timeout(mut self, timeout: Duration) -> Self {
        self.send_timeout = timeout;
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
    /// handshake); an error counts as a failed attempt. Implies nothing without
    /// [`auto_reconnect`](Self::auto_reconnect).
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
        self.lock().connection.as_ref().map(|c| c.wrapper.local())
    }

    /// Whether it holds an open connection.
    pub fn is_connected(&self) -> bool {
        self.lock()
            .connection
            .as_ref()
            .is_some_and(|c| c.wrapper.is_usable())
    }

    /// Connects to the target (closing any previous connection). For a
    /// reconnecting client, (re)starts the service and waits for its connection.
    pub async fn connect(&self) -> Result<(), TcpError> {
        if let Some(service) = self.service() {
            service.start();
            return self.when_connected(self.connect_timeout).await;
        }
        let (target, cancel, previous) = {
            let mut state = self.lock();
            let target = state.target.ok_or_else(|| self.not_started())?;
            (target, state.cancel.clone(), state.connection.take())
        };
        if let Some(previous) = previous {
            previous.wrapper.close().await;
        }
        let stream = self.open(target).await?;
        let addresses = (stream.local_addr(), stream.peer_addr());
        let (Ok(local), Ok(peer)) = addresses else {
            return Err(TcpError::PeerClosed {
                driver: self.name.clone(),
                connection: "the connection".to_owned(),
                buffered: 0,
            });
        };
        let wrapper = Connection::new(
            &self.name,
            "the connection".to_owned(),
            transport::owned(stream),
            (local, peer),
            &cancel,
        );
        self.lock().connection = Some(Active {
            wrapper: Arc::new(wrapper),
            service_handle: None,
        });
        Ok(())
    }

    /// Waits up to `timeout` until the client holds a live connection. For a
    /// reconnecting client this is the service's newest connection (one found
    /// already closed by the peer is dropped, so the service reconnects).
    pub async fn when_connected(&self, timeout: Duration) -> Result<(), TcpError> {
        let Some(service) = self.service() else {
            return if self.is_connected() {
                Ok(())
            } else {
                Err(TcpError::NotConnected {
                    driver: self.name.clone(),
                })
            };
        };
        let deadline = super::deadline_after(timeout);
        let timed_out = || TcpError::Timeout {
            driver: self.name.clone(),
            operation: "when_connected".to_owned(),
            after: timeout,
            buffered: 0,
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
            if peer_still_there(&handle) {
                self.adopt(handle);
                return Ok(());
            }
            // The service has not seen the loss yet: make it see it now, and wait
            // until it has left the connected state before asking again.
            handle.close();
            tokio::time::timeout_at(deadline, left_connected(&mut events))
                .await
                .map_err(|_| timed_out())?;
        }
    }

    /// Closes the connection and connects again (a reconnecting client drops its
    /// connection and waits for the service's next one).
    pub async fn reconnect(&self) -> Result<(), TcpError> {
        if self.service().is_some() {
            let current = self.lock().connection.take();
            if let Some(active) = current {
                active.wrapper.close().await;
            }
            return self.when_connected(self.connect_timeout).await;
        }
        self.connect().await
    }

    /// Closes the connection on this side (a reconnecting client also stops
    /// reconnecting until [`connect`](Self::connect)).
    pub async fn close(&self) {
        let (connection, service) = {
            let mut state = self.lock();
            (state.connection.take(), state.service.clone())
        };
        if let Some(service) = service {
            service.stop().await;
        }
        if let Some(active) = connection {
            active.wrapper.close().await;
        }
    }

    /// Sends all of `data` within the driver's [`send_timeout`](Self::send_timeout);
    /// returns the byte count.
    pub async fn send(&self, data: &[u8]) -> Result<usize, TcpError> {
        self.connection().await?.send(data, self.send_timeout).await
    }

    /// Sends all of `data` and returns the time just before it was written and
    /// the byte count (testplan's `send_tsp`).
    pub async fn send_tsp(&self, data: &[u8]) -> Result<(SystemTime, usize), TcpError> {
        let connection = self.connection().await?;
        let at = SystemTime::now();
        let sent = connection.send(data, self.send_timeout).await?;
        Ok((at, sent))
    }

    /// Receives at least one and at most `max` bytes.
    pub async fn receive(&self, max: usize, timeout: Duration) -> Result<Vec<u8>, TcpError> {
        self.connection().await?.receive(max, timeout).await
    }

    /// Receives exactly `n` bytes within `timeout` overall; on timeout the bytes
    /// read so far are kept for the next call.
    pub async fn receive_exact(&self, n: usize, timeout: Duration) -> Result<Vec<u8>, TcpError> {
        self.connection().await?.receive_exact(n, timeout).await
    }

    /// Receives up to and including `delimiter` (within `limit` bytes).
    pub async fn receive_until(
        &self,
        delimiter: &[u8],
        limit: usize,
        timeout: Duration,
    ) -> Result<Vec<u8>, TcpError> {
        self.connection()
            .await?
            .receive_until(delimiter, limit, timeout)
            .await
    }

    /// Receives one `\n`-terminated line (without the terminator) as UTF-8 text.
    pub async fn receive_line(&self, timeout: Duration) -> Result<String, TcpError> {
        let bytes = self
            .connection()
            .await?
            .receive_until(b"\n", 1 << 20, timeout)
            .await?;
        Ok(super::line_text(bytes))
    }

    /// Receives up to `max` bytes as (lossy) UTF-8 text.
    pub async fn receive_text(&self, max: usize, timeout: Duration) -> Result<String, TcpError> {
        let bytes = self.receive(max, timeout).await?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// The connection to use: the current one; for a reconnecting client whose
    /// connection is gone, the service's next one (within the connect timeout).
    async fn connection(&self) -> Result<Arc<Connection>, TcpError> {
        {
            let state = self.lock();
            match (&state.connection, &state.service) {
                // A direct client keeps its connection until told otherwise, so
                // bytes left after a peer close stay readable.
                (Some(active), None) => return Ok(active.wrapper.clone()),
                (None, None) => {
                    return Err(TcpError::NotConnected {
                        driver: self.name.clone(),
                    });
                }
                (Some(active), Some(_)) if active.wrapper.is_usable() => {
                    return Ok(active.wrapper.clone());
                }
                (_, Some(_)) => {}
            }
        }
        self.when_connected(self.connect_timeout).await?;
        self.lock()
            .connection
            .as_ref()
            .map(|active| active.wrapper.clone())
            .ok_or_else(|| TcpError::NotConnected {
                driver: self.name.clone(),
            })
    }

    /// Makes `handle` the connection in use, unless it already is.
    fn adopt(&self, handle: TcpConnection) {
        let mut state = self.lock();
        if let Some(active) = &state.connection {
            if active
                .service_handle
                .as_ref()
                .is_some_and(|h| h.same_as(&handle))
                && active.wrapper.is_usable()
            {
                return;
            }
        }
        let (Ok(local), Ok(peer)) = (handle.local_addr(), handle.peer_addr()) else {
            handle.close();
            return;
        };
        let wrapper = Connection::new(
            &self.name,
            "the connection".to_owned(),
            transport::service(handle.clone()),
            (local, peer),
            &state.cancel,
        );
        state.connection = Some(Active {
            wrapper: Arc::new(wrapper),
            service_handle: Some(handle),
        });
    }

    fn service(&self) -> Option<Arc<ClientService<TcpConnector>>> {
        self.lock().service.clone()
    }

    async fn open(&self, target: SocketAddr) -> Result<tokio::net::TcpStream, TcpError> {
        let io = |operation: String| {
            let driver = self.name.clone();
            move |source| TcpError::Io {
                driver,
                operation,
                source,
            }
        };
        let socket = if target.is_ipv4() {
            TcpSocket::new_v4()
        } else {
            TcpSocket::new_v6()
        }
        .map_err(io("create a socket".to_owned()))?;
        if let Some(local) = self.interface {
            socket
                .set_reuseaddr(true)
                .map_err(io("set SO_REUSEADDR".to_owned()))?;
            socket
                .bind(local)
                .map_err(io(format!("bind local interface {local}")))?;
        }
        let stream = match tokio::time::timeout(self.connect_timeout, socket.connect(target)).await
        {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                return Err(TcpError::Refused {
                    driver: self.name.clone(),
                    address: target.to_string(),
                });
            }
            Ok(Err(e)) => return Err(io(format!("connect to {target}"))(e)),
            Err(_) => {
                return Err(TcpError::Timeout {
                    driver: self.name.clone(),
                    operation: format!("connect to {target}"),
                    after: self.connect_timeout,
                    buffered: 0,
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
        policy: &PolicyFactory,
    ) -> Arc<ClientService<TcpConnector>> {
        let mut connector = TcpConnector::new(target).nodelay(self.options.nodelay);
        if let Some(idle) = self.options.keepalive {
            connector = connector.keepalive(idle);
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

/// Whether the peer of a connection is still there, by a non-blocking peek: end
/// of stream or an error means it is gone.
fn peer_still_there(handle: &TcpConnection) -> bool {
    let mut probe = [MaybeUninit::<u8>::uninit(); 1];
    match SockRef::from(handle).peek(&mut probe) {
        Ok(0) => false,
        Ok(_) => true,
        Err(e) => e.kind() == std::io::ErrorKind::WouldBlock,
    }
}

#[async_trait]
impl Driver for TcpClient {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "TcpClient"
    }

    fn references(&self) -> Vec<RefKey> {
        [self.host.references(), self.port.references()].concat()
    }

    fn export_keys(&self) -> Vec<String> {
        vec!["host".into(), "port".into(), "local_port".into()]
    }

    async fn start(&self, ctx: &StartContext) -> Result<(), BoxError> {
        let host = ctx.param(&self.host)?;
        let port = ctx.param(&self.port)?;
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
        let service = self
            .reconnect
            .as_ref()
            .map(|policy| self.start_service(target, policy));
        {
            let mut state = self.lock();
            state.target = Some(target);
            state.cancel = CancellationToken::new();
            state.service = service.clone();
        }
        match (service, self.connect_at_start) {
            (Some(service), true) => {
                service.start();
                self.when_connected(FIRST_CONNECTION_WAIT).await?;
            }
            (Some(_), false) => {}
            (None, true) => self.connect().await?,
            (None, false) => {}
        }
        Ok(())
    }

    async fn stop(&self) -> Result<(), BoxError> {
        let (connection, service) = {
            let mut state = self.lock();
            state.cancel.cancel();
            (state.connection.take(), state.service.take())
        };
        if let Some(service) = service {
            service.stop().await;
        }
        if let Some(active) = connection {
            active.wrapper.close().await;
        }
        Ok(())
    }

    fn abort(&self) {
        let mut state = self.lock();
        state.cancel.cancel();
        if let Some(active) = state.connection.take() {
            if let Some(handle) = active.service_handle {
                handle.close();
            }
        }
        // Dropping the service closes its connection and ends its task.
        state.service = None;
    }

    fn exports(&self) -> Exports {
        let state = self.lock();
        let mut exports = Exports::new();
        if let Some(target) = state.target {
            exports.insert("host".into(), target.ip().into());
            exports.insert("port".into(), target.port().into());
        }
        if let Some(active) = &state.connection {
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
