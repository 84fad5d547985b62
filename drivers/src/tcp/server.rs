use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use socket2::{Domain, Protocol, Type};
use testrig::{
    BoxError, ConnectionInfo, Driver, Endpoint, Exports, Host, RefKey, StartContext, Supervisor,
};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::hangups::Hangups;
use super::stream::{Connection, Want};
use super::transport;
use super::{ConnectionIndex, SocketOptions, TcpError, resolve};

const BACKLOG: i32 = 1024;

/// The accept loop's first wait after running out of descriptors; it doubles up
/// to [`MAX_ACCEPT_BACKOFF`], and a released connection ends it early.
const FIRST_ACCEPT_BACKOFF: Duration = Duration::from_millis(10);
const MAX_ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// A TCP server driver (testplan `TCPServer`): binds `host:port` (default
/// `127.0.0.1:0`, the kernel picks the port, which is exported), accepts any
/// number of connections in the background, and sends/receives on them by
/// index, in arrival order.
///
/// Exports `host`, `port` and `address`. A restart binds the same port again.
/// Stop closes the listener and every connection at once; from the moment it
/// begins the server answers as not started ([`TcpError::NotStarted`]).
///
/// A connection is released (its descriptor and buffers freed) as soon as its
/// peer has closed it and every byte it sent has been received, or when
/// [`close_connection`](Self::close_connection) closes it; its index stays valid
/// and answers [`TcpError::PeerClosed`] (or [`TcpError::Closed`]). So waves of
/// short-lived peers cost nothing once they are gone.
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
    endpoint: Endpoint,
    options: SocketOptions,
    /// Shared with the run's accept and release loops. One lock: a send or
    /// receive takes it once, and a run's listener and connections appear and
    /// go together.
    slot: Arc<Mutex<Slot>>,
}

#[derive(Debug, Default)]
struct Slot {
    /// The port of the last run, bound again on restart when `port` is 0.
    last_port: Option<u16>,
    /// The run under way, from `start` until `stop` or `abort`.
    run: Option<Run>,
}

/// One run of the server: its listener (owned by the accept loop it runs) and
/// the connections it accepted. Taken out of the slot as a whole when it stops,
/// so nothing answers for a run that is over.
#[derive(Debug)]
struct Run {
    local: SocketAddr,
    /// Every connection accepted, by index in arrival order.
    connections: Vec<Entry>,
    /// How many indexes `accept_connection` has handed out.
    handed_out: usize,
    /// Why accepting is stuck, while it is.
    stalled: Option<String>,
    /// Changed on each arrival; dropped with the run, which ends the waits.
    arrivals: watch::Sender<()>,
    /// Wakes the accept loop when a descriptor is freed.
    released: Arc<Notify>,
    /// Ends the run's loops; cancelled under the slot's lock as the run is taken.
    cancel: CancellationToken,
    accept_task: JoinHandle<()>,
}

/// One accepted connection: live, or released with what its index still answers.
#[derive(Debug)]
enum Entry {
    Live(Arc<Connection>),
    Released { peer: SocketAddr, by: ClosedBy },
}

#[derive(Debug, Clone, Copy)]
enum ClosedBy {
    /// The peer, after every byte it sent was received.
    Peer,
    /// This side (`close_connection`).
    Here,
}

/// A connection looked up by index.
enum Found {
    Live(usize, Arc<Connection>),
    Released {
        index: usize,
        peer: SocketAddr,
        by: ClosedBy,
    },
}

impl Run {
    /// Replaces entry `index` by its tombstone, if it still holds `connection`,
    /// and wakes the accept loop: a descriptor is free.
    fn release(&mut self, index: usize, connection: &Arc<Connection>, by: ClosedBy) {
        let Some(entry) = self.connections.get_mut(index) else {
            return;
        };
        if matches!(entry, Entry::Live(held) if Arc::ptr_eq(held, connection)) {
            *entry = Entry::Released {
                peer: connection.peer(),
                by,
            };
            self.released.notify_one();
        }
    }
}

/// The run of `slot` whose loops `cancel` ends, unless it is over.
fn run_of<'a>(slot: &'a mut Slot, cancel: &CancellationToken) -> Option<&'a mut Run> {
    // A run is cancelled under the lock as it is taken: not cancelled means it
    // is still the slot's run.
    if cancel.is_cancelled() {
        return None;
    }
    slot.run.as_mut()
}

/// Releases connection `index` of the run `cancel` belongs to, if it is still held.
fn release(
    slot: &Mutex<Slot>,
    cancel: &CancellationToken,
    index: usize,
    connection: &Arc<Connection>,
    by: ClosedBy,
) {
    let mut slot = slot.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(run) = run_of(&mut slot, cancel) {
        run.release(index, connection, by);
    }
}

impl TcpServer {
    /// A server on `127.0.0.1`, port chosen by the kernel.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            endpoint: Endpoint::default(),
            options: SocketOptions::default(),
            slot: Arc::new(Mutex::new(Slot::default())),
        }
    }

    /// The address to bind: `127.0.0.1`, port 0 (the kernel picks) by default; never all
    /// interfaces unless asked (`Endpoint::new("0.0.0.0", 0)`). Host and port may each be a
    /// reference.
    #[must_use]
    pub fn listen(mut self, endpoint: impl Into<Endpoint>) -> Self {
        self.endpoint = endpoint.into();
        self
    }

    /// Socket options for the listener and accepted connections.
    #[must_use]
    pub fn socket_options(mut self, options: SocketOptions) -> Self {
        self.options = options;
        self
    }

    /// The bound address (and so the bound port: `local_addr()?.port()`), while started.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.lock().run.as_ref().map(|run| run.local)
    }

    /// How many connections have been accepted in this run (the newest has index
    /// `connection_count() - 1`; [`ConnectionIndex::Latest`] names it).
    pub fn connection_count(&self) -> usize {
        self.lock()
            .run
            .as_ref()
            .map_or(0, |run| run.connections.len())
    }

    /// How many accepted connections are still held (not released: their peer has
    /// not closed them, or bytes they sent wait to be received).
    pub fn open_connection_count(&self) -> usize {
        self.lock().run.as_ref().map_or(0, |run| {
            run.connections
                .iter()
                .filter(|entry| matches!(entry, Entry::Live(_)))
                .count()
        })
    }

    /// Waits up to `timeout` for the next connection not yet handed out and
    /// returns its index (0, 1, 2… in arrival order).
    ///
    /// If the listener cannot accept when the deadline passes, because the process
    /// or the system is out of file descriptors (`EMFILE`/`ENFILE`) or socket
    /// memory, the error is [`TcpError::AcceptStalled`] naming the condition, not a
    /// plain [`TcpError::AcceptTimeout`]: connections then wait in the listen
    /// backlog, and the server accepts them as soon as descriptors are freed
    /// (releasing or closing its own connections frees them).
    pub async fn accept_connection(&self, timeout: Duration) -> Result<usize, TcpError> {
        let deadline = super::deadline_after(timeout);
        let mut waited: Option<watch::Receiver<()>> = None;
        loop {
            let mut arrivals = {
                let mut slot = self.lock();
                let run = slot.run.as_mut().ok_or_else(|| self.not_started())?;
                // The run waited on is over (its sender went with it), even if
                // another has started since.
                if waited.is_some_and(|w| w.has_changed().is_err()) {
                    return Err(self.not_started());
                }
                if run.handed_out < run.connections.len() {
                    run.handed_out += 1;
                    return Ok(run.handed_out - 1);
                }
                // Subscribed under the lock: an arrival after this look is seen.
                run.arrivals.subscribe()
            };
            match tokio::time::timeout_at(deadline, arrivals.changed()).await {
                Ok(Ok(())) => waited = Some(arrivals),
                Ok(Err(_)) => return Err(self.not_started()),
                Err(_) => {
                    let stalled = self.lock().run.as_ref().and_then(|run| run.stalled.clone());
                    return Err(match stalled {
                        Some(condition) => TcpError::AcceptStalled {
                            driver: self.name.clone(),
                            condition,
                        },
                        None => TcpError::AcceptTimeout {
                            driver: self.name.clone(),
                            after: timeout,
                        },
                    });
                }
            }
        }
    }

    /// Sends all of `data` on connection `conn` (an index, or
    /// [`ConnectionIndex::Latest`]) within the driver's
    /// [`send_timeout`](SocketOptions::send_timeout); returns the byte count.
    pub async fn send(
        &self,
        conn: impl Into<ConnectionIndex>,
        data: &[u8],
    ) -> Result<usize, TcpError> {
        Ok(self
            .connection(conn.into())?
            .send(data, self.options.send_timeout)
            .await?)
    }

    /// Receives at least one and at most `max` bytes from connection `conn`.
    pub async fn receive(
        &self,
        conn: impl Into<ConnectionIndex>,
        max: usize,
        timeout: Duration,
    ) -> Result<Vec<u8>, TcpError> {
        self.receive_wanted(conn.into(), Want::AtMost(max), timeout)
            .await
    }

    /// Receives exactly `n` bytes from connection `conn`, within `timeout`
    /// overall. On timeout the bytes read so far are kept for the next call.
    pub async fn receive_exact(
        &self,
        conn: impl Into<ConnectionIndex>,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<u8>, TcpError> {
        self.receive_wanted(conn.into(), Want::Exactly(n), timeout)
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
        self.receive_wanted(conn.into(), Want::Until(delimiter, limit), timeout)
            .await
    }

    /// Receives one `\n`-terminated line (without the terminator) as UTF-8 text.
    pub async fn receive_line(
        &self,
        conn: impl Into<ConnectionIndex>,
        timeout: Duration,
    ) -> Result<String, TcpError> {
        let bytes = self
            .receive_wanted(conn.into(), Want::LINE, timeout)
            .await?;
        Ok(super::line_text(bytes))
    }

    /// Closes connection `conn` on this side and releases it; its index then
    /// answers [`TcpError::Closed`].
    pub async fn close_connection(&self, conn: impl Into<ConnectionIndex>) -> Result<(), TcpError> {
        let (index, connection) = self.entry(conn.into())?;
        connection.close().await;
        if let Some(run) = self.lock().run.as_mut() {
            run.release(index, &connection, ClosedBy::Here);
        }
        Ok(())
    }

    /// The peer address of connection `conn` (released ones included).
    pub fn peer_addr(&self, conn: impl Into<ConnectionIndex>) -> Result<SocketAddr, TcpError> {
        match self.find(conn.into())? {
            Found::Live(_, connection) => Ok(connection.peer()),
            Found::Released { peer, .. } => Ok(peer),
        }
    }

    async fn receive_wanted(
        &self,
        conn: ConnectionIndex,
        want: Want<'_>,
        timeout: Duration,
    ) -> Result<Vec<u8>, TcpError> {
        self.connection(conn)?.receive(want, timeout).await
    }

    fn connection(&self, conn: ConnectionIndex) -> Result<Arc<Connection>, TcpError> {
        self.entry(conn).map(|(_, connection)| connection)
    }

    /// The live connection `conn` and its index.
    fn entry(&self, conn: ConnectionIndex) -> Result<(usize, Arc<Connection>), TcpError> {
        match self.find(conn)? {
            Found::Live(index, connection) => Ok((index, connection)),
            Found::Released { index, by, .. } => Err(self.released(index, by)),
        }
    }

    fn find(&self, conn: ConnectionIndex) -> Result<Found, TcpError> {
        let slot = self.lock();
        let run = slot.run.as_ref().ok_or_else(|| self.not_started())?;
        let connections = &run.connections;
        let index = match conn {
            ConnectionIndex::At(index) => index,
            ConnectionIndex::Latest => {
                connections
                    .len()
                    .checked_sub(1)
                    .ok_or_else(|| TcpError::NoConnection {
                        driver: self.name.clone(),
                    })?
            }
        };
        match connections.get(index) {
            Some(Entry::Live(connection)) => Ok(Found::Live(index, connection.clone())),
            Some(&Entry::Released { peer, by }) => Ok(Found::Released { index, peer, by }),
            None => Err(TcpError::UnknownConnection {
                driver: self.name.clone(),
                index,
                count: connections.len(),
            }),
        }
    }

    /// What a released index answers.
    fn released(&self, index: usize, by: ClosedBy) -> TcpError {
        let connection = format!("connection {index}");
        match by {
            ClosedBy::Peer => TcpError::PeerClosed {
                driver: self.name.clone(),
                connection,
                buffered: 0,
            },
            ClosedBy::Here => TcpError::Closed {
                driver: self.name.clone(),
                connection,
            },
        }
    }

    /// Ends the run: from here on the server answers as not started, and every
    /// wait for a connection ends. Its loops are cancelled under the same lock,
    /// so none of them adds to a run that is over. Returns what is left to
    /// close: the accept task (which owns the listener) and the live connections.
    fn end_run(&self) -> Option<(JoinHandle<()>, Vec<Arc<Connection>>)> {
        let run = {
            let mut slot = self.lock();
            let run = slot.run.take()?;
            run.cancel.cancel();
            run
        };
        // The rest, the arrivals sender with it, goes now.
        let Run {
            accept_task,
            connections,
            ..
        } = run;
        let live = connections
            .into_iter()
            .filter_map(|entry| match entry {
                Entry::Live(connection) => Some(connection),
                Entry::Released { .. } => None,
            })
            .collect();
        Some((accept_task, live))
    }

    fn not_started(&self) -> TcpError {
        TcpError::NotStarted {
            driver: self.name.clone(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slot> {
        self.slot.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn bind(&self, host: &Host, address: SocketAddr) -> Result<TcpListener, TcpError> {
        let io = |operation: String| TcpError::io(&self.name, operation);
        let socket = host
            .socket(
                Domain::for_address(address),
                Type::STREAM,
                Some(Protocol::TCP),
            )
            .await
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

    fn references(&self) -> Vec<RefKey> {
        self.endpoint.references()
    }

    fn export_keys(&self) -> Vec<String> {
        Endpoint::EXPORT_KEYS.map(String::from).into()
    }

    async fn start(&self, ctx: &StartContext) -> Result<(), BoxError> {
        let (host, configured) = ctx.endpoint(&self.endpoint)?;
        let port = match (configured, self.lock().last_port) {
            (0, Some(last)) => last,
            (port, _) => port,
        };
        let address = resolve(&self.name, &host, port).await?;
        let listener = self.bind(ctx.host(), address).await?;
        let local = listener.local_addr().map_err(TcpError::io(
            &self.name,
            format!("read the address bound for {address}"),
        ))?;
        let hangups = Arc::new(Hangups::new().map_err(TcpError::io(
            &self.name,
            "create an epoll set to watch connections",
        ))?);
        let cancel = CancellationToken::new();
        let released = Arc::new(Notify::new());
        let mut slot = self.lock();
        // The loops lock the slot before touching the run: they start working
        // once it is in place.
        tokio::spawn(release_loop(ReleaseLoop {
            slot: self.slot.clone(),
            hangups: hangups.clone(),
            cancel: cancel.clone(),
        }));
        let accept_task = tokio::spawn(accept_loop(AcceptLoop {
            driver: self.name.clone(),
            listener,
            options: self.options,
            slot: self.slot.clone(),
            hangups,
            released: released.clone(),
            cancel: cancel.clone(),
            supervisor: ctx.supervisor(),
        }));
        slot.last_port = Some(local.port());
        slot.run = Some(Run {
            local,
            connections: Vec::new(),
            handed_out: 0,
            stalled: None,
            arrivals: watch::Sender::new(()),
            released,
            cancel,
            accept_task,
        });
        Ok(())
    }

    async fn stop(&self) -> Result<(), BoxError> {
        let Some((accept_task, connections)) = self.end_run() else {
            return Ok(());
        };
        // The accept loop owns the listener: once it ends, the port is closed.
        let _ = accept_task.await;
        for connection in connections {
            connection.close().await;
        }
        Ok(())
    }

    fn abort(&self) {
        if let Some((accept_task, connections)) = self.end_run() {
            accept_task.abort();
            for connection in connections {
                connection.shut();
            }
        }
    }

    fn exports(&self) -> Exports {
        self.local_addr().map(Endpoint::exports).unwrap_or_default()
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
    slot: Arc<Mutex<Slot>>,
    /// Where each accepted connection is watched for its peer's close.
    hangups: Arc<Hangups>,
    /// Signalled when a connection is released (a descriptor was freed).
    released: Arc<Notify>,
    cancel: CancellationToken,
    supervisor: Supervisor,
}

/// Releases the connections of a run whose peers closed them, once their bytes
/// have been received.
struct ReleaseLoop {
    slot: Arc<Mutex<Slot>>,
    hangups: Arc<Hangups>,
    cancel: CancellationToken,
}

async fn release_loop(l: ReleaseLoop) {
    let mut tokens = Vec::new();
    loop {
        tokens.clear();
        let reported = tokio::select! {
            reported = l.hangups.next(&mut tokens) => reported,
            () = l.cancel.cancelled() => return,
        };
        if let Err(e) = reported {
            tracing::warn!(error = %e, "cannot watch connections for their peer's close; none will be released");
            return;
        }
        for &token in &tokens {
            let Ok(index) = usize::try_from(token) else {
                continue;
            };
            let live = {
                let mut slot = l.slot.lock().unwrap_or_else(|e| e.into_inner());
                match run_of(&mut slot, &l.cancel).and_then(|run| run.connections.get(index)) {
                    Some(Entry::Live(connection)) => Some(connection.clone()),
                    _ => None,
                }
            };
            let Some(connection) = live else {
                continue;
            };
            if connection.is_drained_after_peer_close() {
                release(&l.slot, &l.cancel, index, &connection, ClosedBy::Peer);
                continue;
            }
            // Bytes wait for a receive: release once a receive has taken them.
            let (slot, cancel) = (l.slot.clone(), l.cancel.clone());
            tokio::spawn(async move {
                if connection.drained_after_peer_close().await {
                    release(&slot, &cancel, index, &connection, ClosedBy::Peer);
                }
            });
        }
    }
}

async fn accept_loop(l: AcceptLoop) {
    let mut backoff = FIRST_ACCEPT_BACKOFF;
    let mut failed_attempts = 0u64;
    loop {
        let accepted = tokio::select! {
            accepted = l.listener.accept() => accepted,
            () = l.cancel.cancelled() => return,
        };
        match accepted {
            Ok((stream, _)) => {
                if failed_attempts > 0 {
                    tracing::info!(driver = %l.driver, failed_attempts, "accepting connections again");
                    failed_attempts = 0;
                    backoff = FIRST_ACCEPT_BACKOFF;
                }
                if !l.accepted(stream) {
                    return;
                }
            }
            Err(e) if out_of_resources(&e) => {
                let condition = describe_shortage(&e);
                if failed_attempts == 0 {
                    tracing::warn!(driver = %l.driver, %condition, "cannot accept connections; they wait in the backlog until descriptors are freed");
                    let mut slot = l.slot.lock().unwrap_or_else(|e| e.into_inner());
                    if let Some(run) = run_of(&mut slot, &l.cancel) {
                        run.stalled = Some(condition);
                    }
                } else {
                    tracing::debug!(driver = %l.driver, %condition, failed_attempts, "still cannot accept connections");
                }
                failed_attempts += 1;
                // The pending connection keeps the listener readable: wait before
                // trying again, or until this server frees a descriptor.
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = l.released.notified() => {}
                    () = l.cancel.cancelled() => return,
                }
                backoff = (backoff * 2).min(MAX_ACCEPT_BACKOFF);
            }
            Err(e) if is_transient(&e) => {
                tracing::debug!(driver = %l.driver, error = %e, "accept failed; retrying");
            }
            Err(e) => {
                l.supervisor.died(format!("the listener failed: {e}"));
                return;
            }
        }
    }
}

impl AcceptLoop {
    /// Adds an accepted connection to the run and watches it for release;
    /// `false` once the run is over.
    fn accepted(&self, stream: tokio::net::TcpStream) -> bool {
        if let Err(e) = self.options.apply(&stream) {
            tracing::warn!(driver = %self.driver, error = %e, "cannot set socket options on an accepted connection");
        }
        let (local, peer) = match (stream.local_addr(), stream.peer_addr()) {
            (Ok(local), Ok(peer)) => (local, peer),
            // The peer left between accept and getpeername.
            (Err(e), _) | (_, Err(e)) => {
                tracing::debug!(driver = %self.driver, error = %e, "accepted connection vanished");
                return true;
            }
        };
        let mut slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        let Some(run) = run_of(&mut slot, &self.cancel) else {
            return false;
        };
        let index = run.connections.len();
        let connection = Arc::new(Connection::new(
            &self.driver,
            format!("connection {index}"),
            transport::owned(stream),
            (local, peer),
        ));
        // Watched before anyone can take it: a release needs the run's lock.
        if let Err(e) = self.hangups.watch(connection.fd(), index as u64) {
            tracing::warn!(driver = %self.driver, error = %e, "cannot watch a connection for its peer's close; it is kept until stop");
        }
        run.connections.push(Entry::Live(connection));
        run.stalled = None;
        run.arrivals.send_replace(());
        true
    }
}

/// The process or the system lacks what an accepted socket needs.
fn out_of_resources(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

fn describe_shortage(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::EMFILE) => {
            "the process is out of file descriptors (EMFILE: RLIMIT_NOFILE reached)".to_owned()
        }
        Some(libc::ENFILE) => "the system is out of file descriptors (ENFILE)".to_owned(),
        Some(libc::ENOBUFS | libc::ENOMEM) => format!("the system is out of socket memory ({e})"),
        _ => e.to_string(),
    }
}

fn is_transient(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | Interrupted | WouldBlock
    )
}
