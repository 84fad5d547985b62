use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use socket2::{Domain, Protocol, Socket, Type};
use testrig::context::{ADDRESS_EXPORT_KEYS, address_exports};
use testrig::{BoxError, ConnectionInfo, Driver, Exports, Param, RefKey, StartContext, Supervisor};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::stream::Connection;
use super::stream::DEFAULT_SEND_TIMEOUT;
use super::transport;
use super::{ConnectionIndex, SocketOptions, TcpError, resolve};

const BACKLOG: i32 = 1024;

/// A TCP server driver (testplan `TCPServer`): binds `host:port` (default
/// `127.0.0.1:0`, the kernel picks the port, which is exported), accepts any
/// number of connections in the background, and sends/receives on them by
/// index, in arrival order.
///
/// Exports `host`, `port` and `address`. A restart binds the same port again.
/// Stop closes the listener and every connection at once.
///
/// # Examples
/// ```no_run
/// # async fn demo() -> testrig::Result<()> {
/// use std::time::Duration;
/// use testrig::Environment;
/// use testrig_drivers::tcp::{TcpClient, TcpServer};
/// use testrig::Ref;
///
/// let env = Environment::builder("echo")
///     .driver(TcpServer::new("server"))
///     .driver(TcpClient::new("client", Ref::export("server", "port")))
///     .build()?;
/// env.run(|env| async move {
///     let (server, client) = (env.get::<TcpServer>("server")?, env.get::<TcpClient>("client")?);
///     client.send(b"ping").await?;
///     let conn = server.accept_connection(Duration::from_secs(1)).await?;
///     assert_eq!(server.receive_exact(conn, 4, Duration::from_secs(1)).await?, b"ping");
///     Ok::<_, testrig::Error>(())
/// }).await
/// # }
/// ```
#[derive(Debug)]
pub struct TcpServer {
    name: String,
    host: Param<String>,
    port: Param<u16>,
    options: SocketOptions,
    send_timeout: Duration,
    state: Mutex<State>,
    /// The connections of the current run, shared with its accept loop. Kept
    /// apart from `state` so a send or receive takes one lock.
    table: Arc<Mutex<Table>>,
}

#[derive(Debug, Default)]
struct Table {
    /// Whether a run is under way (connections may be used and added).
    open: bool,
    connections: Vec<Arc<Connection>>,
}

#[derive(Debug, Default)]
struct State {
    /// The port of the last run, bound again on restart when `port` is 0.
    last_port: Option<u16>,
    running: Option<Running>,
}

#[derive(Debug)]
struct Running {
    local: SocketAddr,
    arrivals: watch::Receiver<usize>,
    handed_out: usize,
    cancel: CancellationToken,
    accept_task: JoinHandle<()>,
}

impl TcpServer {
    /// A server on `127.0.0.1`, port chosen by the kernel.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            host: Param::Value("127.0.0.1".to_owned()),
            port: Param::Value(0),
            options: SocketOptions::default(),
            send_timeout: DEFAULT_SEND_TIMEOUT,
            state: Mutex::new(State::default()),
            table: Arc::new(Mutex::new(Table::default())),
        }
    }

    /// The host or address to bind (default `127.0.0.1`; never all interfaces
    /// unless asked).
    #[must_use]
    pub fn host(mut self, host: impl Into<Param<String>>) -> Self {
        self.host = host.into();
        self
    }

    /// The port to bind (default 0: the kernel picks).
    #[must_use]
    pub fn port(mut self, port: impl Into<Param<u16>>) -> Self {
        self.port = port.into();
        self
    }

    /// Socket options for the listener and accepted connections.
    #[must_use]
    pub fn socket_options(mut self, options: SocketOptions) -> Self {
        self.options = options;
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

    /// The bound address, while started.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.lock().running.as_ref().map(|r| r.local)
    }

    /// The bound port, while started.
    pub fn bound_port(&self) -> Option<u16> {
        self.local_addr().map(|a| a.port())
    }

    /// How many connections have been accepted in this run.
    pub fn connection_count(&self) -> usize {
        self.lock()
            .running
            .as_ref()
            .map_or(0, |r| *r.arrivals.borrow())
    }

    /// The index of the newest accepted connection.
    pub fn latest_connection(&self) -> Option<usize> {
        self.connection_count().checked_sub(1)
    }

    /// Waits up to `timeout` for the next connection not yet handed out and
    /// returns its index (0, 1, 2… in arrival order).
    pub async fn accept_connection(&self, timeout: Duration) -> Result<usize, TcpError> {
        let deadline = super::deadline_after(timeout);
        loop {
            let (mut arrivals, wanted) = {
                let state = self.lock();
                let running = state.running.as_ref().ok_or_else(|| self.not_started())?;
                (running.arrivals.clone(), running.handed_out)
            };
            let arrived =
                tokio::time::timeout_at(deadline, arrivals.wait_for(|count| *count > wanted)).await;
            match arrived {
                Ok(Ok(_)) => {}
                Ok(Err(_)) => return Err(self.not_started()),
                Err(_) => {
                    return Err(TcpError::Timeout {
                        driver: self.name.clone(),
                        operation: "accept_connection".to_owned(),
                        after: timeout,
                        buffered: 0,
                    });
                }
            }
            let mut state = self.lock();
            let running = state.running.as_mut().ok_or_else(|| self.not_started())?;
            // Another caller may have taken it meanwhile; then wait for the next.
            if running.handed_out == wanted {
                running.handed_out += 1;
                return Ok(wanted);
            }
        }
    }

    /// Sends all of `data` on connection `conn` (an index, or
    /// [`ConnectionIndex::Latest`]) within the driver's
    /// [`send_timeout`](Self::send_timeout); returns the byte count.
    pub async fn send(
        &self,
        conn: impl Into<ConnectionIndex>,
        data: &[u8],
    ) -> Result<usize, TcpError> {
        self.connection(conn.into())?
            .send(data, self.send_timeout)
            .await
    }

    /// Receives at least one and at most `max` bytes from connection `conn`.
    pub async fn receive(
        &self,
        conn: impl Into<ConnectionIndex>,
        max: usize,
        timeout: Duration,
    ) -> Result<Vec<u8>, TcpError> {
        self.connection(conn.into())?.receive(max, timeout).await
    }

    /// Receives exactly `n` bytes from connection `conn`, within `timeout`
    /// overall. On timeout the bytes read so far are kept for the next call.
    pub async fn receive_exact(
        &self,
        conn: impl Into<ConnectionIndex>,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<u8>, TcpError> {
        self.connection(conn.into())?
            .receive_exact(n, timeout)
            .await
    }

    /// Receives up to and including `delimiter` (within `limit` bytes).
    pub async fn receive_until(
        &self,
        conn: impl Into<ConnectionIndex>,
        delimiter: &[u8],
        limit: usize,
        timeout: Duration,
    ) -> Result<Vec<u8>, TcpError> {
        self.connection(conn.into())?
            .receive_until(delimiter, limit, timeout)
            .await
    }

    /// Receives one `\n`-terminated line (without the terminator) as UTF-8 text.
    pub async fn receive_line(
        &self,
        conn: impl Into<ConnectionIndex>,
        timeout: Duration,
    ) -> Result<String, TcpError> {
        let bytes = self
            .connection(conn.into())?
            .receive_until(b"\n", 1 << 20, timeout)
            .await?;
        Ok(super::line_text(bytes))
    }

    /// Receives up to `max` bytes as (lossy) UTF-8 text.
    pub async fn receive_text(
        &self,
        conn: impl Into<ConnectionIndex>,
        max: usize,
        timeout: Duration,
    ) -> Result<String, TcpError> {
        let bytes = self.receive(conn, max, timeout).await?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Closes connection `conn` on this side.
    pub async fn close_connection(&self, conn: impl Into<ConnectionIndex>) -> Result<(), TcpError> {
        self.connection(conn.into())?.close().await;
        Ok(())
    }

    /// The peer address of connection `conn`.
    pub fn peer_addr(&self, conn: impl Into<ConnectionIndex>) -> Result<SocketAddr, TcpError> {
        Ok(self.connection(conn.into())?.peer())
    }

    fn connection(&self, conn: ConnectionIndex) -> Result<Arc<Connection>, TcpError> {
        let table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        if !table.open {
            return Err(self.not_started());
        }
        let connections = &table.connections;
        match conn {
            ConnectionIndex::At(index) => {
                connections
                    .get(index)
                    .cloned()
                    .ok_or_else(|| TcpError::UnknownConnection {
                        driver: self.name.clone(),
                        index,
                        count: connections.len(),
                    })
            }
            ConnectionIndex::Latest => {
                connections
                    .last()
                    .cloned()
                    .ok_or_else(|| TcpError::NoConnection {
                        driver: self.name.clone(),
                    })
            }
        }
    }

    /// Ends the run's table; returns its connections.
    fn close_table(&self) -> Vec<Arc<Connection>> {
        let mut table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        table.open = false;
        std::mem::take(&mut table.connections)
    }

    fn not_started(&self) -> TcpError {
        TcpError::NotStarted {
            driver: self.name.clone(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn bind(&self, address: SocketAddr) -> Result<TcpListener, TcpError> {
        let io = |operation: String| {
            let driver = self.name.clone();
            move |source| TcpError::Io {
                driver,
                operation,
                source,
            }
        };
        let socket = Socket::new(
            Domain::for_address(address),
            Type::STREAM,
            Some(Protocol::TCP),
        )
        .map_err(io("create a socket".to_owned()))?;
        socket
            .set_reuse_address(self.options.reuse_address)
            .map_err(io("set SO_REUSEADDR".to_owned()))?;
        socket
            .set_nonblocking(true)
            .map_err(io("set non-blocking".to_owned()))?;
        socket
            .bind(&address.into())
            .map_err(io(format!("bind {address}")))?;
        socket
            .listen(BACKLOG)
            .map_err(io(format!("listen on {address}")))?;
        TcpListener::from_std(socket.into()).map_err(io(format!("register {address}")))
    }
}

#[async_trait]
impl Driver for TcpServer {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "TcpServer"
    }

    fn references(&self) -> Vec<RefKey> {
        [self.host.references(), self.port.references()].concat()
    }

    fn export_keys(&self) -> Vec<String> {
        ADDRESS_EXPORT_KEYS.map(String::from).into()
    }

    async fn start(&self, ctx: &StartContext) -> Result<(), BoxError> {
        let host = ctx.param(&self.host)?;
        let configured = ctx.param(&self.port)?;
        let port = match (configured, self.lock().last_port) {
            (0, Some(last)) => last,
            (port, _) => port,
        };
        let address = resolve(&self.name, &host, port).await?;
        let listener = self.bind(address)?;
        let local = listener.local_addr()?;
        let cancel = CancellationToken::new();
        {
            let mut table = self.table.lock().unwrap_or_else(|e| e.into_inner());
            table.open = true;
            table.connections.clear();
        }
        let (count, arrivals) = watch::channel(0usize);
        let accept_task = tokio::spawn(accept_loop(AcceptLoop {
            driver: self.name.clone(),
            listener,
            options: self.options,
            table: self.table.clone(),
            count,
            cancel: cancel.clone(),
            supervisor: ctx.supervisor(),
        }));
        let mut state = self.lock();
        state.last_port = Some(local.port());
        state.running = Some(Running {
            local,
            arrivals,
            handed_out: 0,
            cancel,
            accept_task,
        });
        Ok(())
    }

    async fn stop(&self) -> Result<(), BoxError> {
        let Some(running) = self.lock().running.take() else {
            return Ok(());
        };
        running.cancel.cancel();
        // The accept loop owns the listener: once it ends, the port is closed.
        let _ = running.accept_task.await;
        let connections = self.close_table();
        for connection in connections {
            connection.close().await;
        }
        Ok(())
    }

    fn abort(&self) {
        if let Some(running) = self.lock().running.take() {
            running.cancel.cancel();
            running.accept_task.abort();
            self.close_table();
        }
    }

    fn exports(&self) -> Exports {
        self.local_addr().map(address_exports).unwrap_or_default()
    }

    fn connections(&self) -> Vec<ConnectionInfo> {
        self.local_addr()
            .map(|local| vec![ConnectionInfo::listening("tcp", local)])
            .unwrap_or_default()
    }
}

struct AcceptLoop {
    driver: String,
    listener: TcpListener,
    options: SocketOptions,
    table: Arc<Mutex<Table>>,
    count: watch::Sender<usize>,
    cancel: CancellationToken,
    supervisor: Supervisor,
}

async fn accept_loop(l: AcceptLoop) {
    loop {
        let accepted = tokio::select! {
            accepted = l.listener.accept() => accepted,
            () = l.cancel.cancelled() => return,
        };
        match accepted {
            Ok((stream, _)) => {
                if let Err(e) = l.options.apply(&stream) {
                    tracing::warn!(driver = %l.driver, error = %e, "cannot set socket options on an accepted connection");
                }
                let mut table = l.table.lock().unwrap_or_else(|e| e.into_inner());
                if !table.open {
                    return;
                }
                let connections = &mut table.connections;
                let label = format!("connection {}", connections.len());
                match (stream.local_addr(), stream.peer_addr()) {
                    (Ok(local), Ok(peer)) => {
                        let halves = transport::owned(stream);
                        let connection =
                            Connection::new(&l.driver, label, halves, (local, peer), &l.cancel);
                        connections.push(Arc::new(connection));
                        let count = connections.len();
                        drop(table);
                        l.count.send_replace(count);
                    }
                    // The peer left between accept and getpeername.
                    (Err(e), _) | (_, Err(e)) => {
                        tracing::debug!(driver = %l.driver, error = %e, "accepted connection vanished")
                    }
                }
            }
            Err(e) if is_transient(&e) => {
                tracing::warn!(driver = %l.driver, error = %e, "accept failed; retrying");
                // Out of descriptors and the like: give the system a moment.
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(e) => {
                l.supervisor.died(format!("the listener failed: {e}"));
                return;
            }
        }
    }
}

fn is_transient(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | Interrupted | WouldBlock
    ) || matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}
