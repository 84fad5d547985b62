use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use testrig::{BoxError, ConnectionInfo, Driver, Exports, Param, RefKey, StartContext};
use tokio::net::TcpSocket;
use tokio_util::sync::CancellationToken;

use super::stream::Connection;
use super::{SocketOptions, TcpError, resolve};

/// Default deadline of one connect.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A TCP client driver (testplan `TCPClient`): connects to `host:port` (either
/// may reference another driver's exports), optionally from a local interface,
/// at start or later; sends and receives with the receive contract of
/// [`TcpServer`](super::TcpServer).
///
/// Exports `host` and `port` (the target) and `local_port` while connected.
#[derive(Debug)]
pub struct TcpClient {
    name: String,
    host: Param<String>,
    port: Param<u16>,
    interface: Option<SocketAddr>,
    connect_at_start: bool,
    connect_timeout: Duration,
    options: SocketOptions,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    target: Option<SocketAddr>,
    connection: Option<Arc<Connection>>,
    cancel: CancellationToken,
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
            options: SocketOptions::default(),
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

    /// Socket options for the connection.
    #[must_use]
    pub fn socket_options(mut self, options: SocketOptions) -> Self {
        self.options = options;
        self
    }

    /// The resolved target, once started.
    pub fn target(&self) -> Option<SocketAddr> {
        self.lock().target
    }

    /// The local address of the connection, while connected.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.lock().connection.as_ref().map(|c| c.local())
    }

    /// Whether it holds an open connection.
    pub fn is_connected(&self) -> bool {
        self.lock()
            .connection
            .as_ref()
            .is_some_and(|c| !c.is_closed())
    }

    /// Connects to the target (closing any previous connection).
    pub async fn connect(&self) -> Result<(), TcpError> {
        let (target, cancel, previous) = {
            let mut state = self.lock();
            let target = state.target.ok_or_else(|| TcpError::NotStarted {
                driver: self.name.clone(),
            })?;
            (target, state.cancel.clone(), state.connection.take())
        };
        if let Some(previous) = previous {
            previous.close().await;
        }
        let stream = self.open(target).await?;
        let connection = Connection::new(&self.name, "the connection".to_owned(), stream, &cancel)
            .map_err(|source| TcpError::Io {
                driver: self.name.clone(),
                operation: format!("connect to {target}"),
                source,
            })?;
        self.lock().connection = Some(Arc::new(connection));
        Ok(())
    }

    /// Closes the connection and connects again.
    pub async fn reconnect(&self) -> Result<(), TcpError> {
        self.connect().await
    }

    /// Closes the connection on this side.
    pub async fn close(&self) {
        let connection = self.lock().connection.take();
        if let Some(connection) = connection {
            connection.close().await;
        }
    }

    /// Sends all of `data`; returns the byte count.
    pub async fn send(&self, data: &[u8]) -> Result<usize, TcpError> {
        self.connection()?.send(data).await
    }

    /// Sends all of `data` and returns the time just before it was written and
    /// the byte count (testplan's `send_tsp`).
    pub async fn send_tsp(&self, data: &[u8]) -> Result<(SystemTime, usize), TcpError> {
        let connection = self.connection()?;
        let at = SystemTime::now();
        let sent = connection.send(data).await?;
        Ok((at, sent))
    }

    /// Receives at least one and at most `max` bytes.
    pub async fn receive(&self, max: usize, timeout: Duration) -> Result<Vec<u8>, TcpError> {
        self.connection()?.receive(max, timeout).await
    }

    /// Receives exactly `n` bytes within `timeout` overall; on timeout the bytes
    /// read so far are kept for the next call.
    pub async fn receive_exact(&self, n: usize, timeout: Duration) -> Result<Vec<u8>, TcpError> {
        self.connection()?.receive_exact(n, timeout).await
    }

    /// Receives up to and including `delimiter` (within `limit` bytes).
    pub async fn receive_until(
        &self,
        delimiter: &[u8],
        limit: usize,
        timeout: Duration,
    ) -> Result<Vec<u8>, TcpError> {
        self.connection()?
            .receive_until(delimiter, limit, timeout)
            .await
    }

    /// Receives one `\n`-terminated line (without the terminator) as UTF-8 text.
    pub async fn receive_line(&self, timeout: Duration) -> Result<String, TcpError> {
        let bytes = self
            .connection()?
            .receive_until(b"\n", 1 << 20, timeout)
            .await?;
        Ok(super::line_text(bytes))
    }

    /// Receives up to `max` bytes as (lossy) UTF-8 text.
    pub async fn receive_text(&self, max: usize, timeout: Duration) -> Result<String, TcpError> {
        let bytes = self.receive(max, timeout).await?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    fn connection(&self) -> Result<Arc<Connection>, TcpError> {
        self.lock()
            .connection
            .clone()
            .ok_or_else(|| TcpError::NotConnected {
                driver: self.name.clone(),
            })
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

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
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
        self.host
            .reference()
            .into_iter()
            .chain(self.port.reference())
            .cloned()
            .collect()
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
        {
            let mut state = self.lock();
            state.target = Some(target);
            state.cancel = CancellationToken::new();
        }
        if self.connect_at_start {
            self.connect().await?;
        }
        Ok(())
    }

    async fn stop(&self) -> Result<(), BoxError> {
        let connection = {
            let mut state = self.lock();
            state.cancel.cancel();
            state.connection.take()
        };
        if let Some(connection) = connection {
            connection.close().await;
        }
        Ok(())
    }

    fn abort(&self) {
        let mut state = self.lock();
        state.cancel.cancel();
        state.connection = None;
    }

    fn exports(&self) -> Exports {
        let state = self.lock();
        let mut exports = Exports::new();
        if let Some(target) = state.target {
            exports.insert("host".into(), target.ip().into());
            exports.insert("port".into(), target.port().into());
        }
        if let Some(connection) = &state.connection {
            exports.insert("local_port".into(), connection.local().port().into());
        }
        exports
    }

    fn connections(&self) -> Vec<ConnectionInfo> {
        self.target()
            .map(|target| vec![ConnectionInfo::connecting("tcp", target)])
            .unwrap_or_default()
    }
}
