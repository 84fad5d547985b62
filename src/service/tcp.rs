//! TCP as a [`ClientService`](super::ClientService) transport.

use std::future::Future;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::os::fd::FromRawFd;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use socket2::{SockRef, TcpKeepalive};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::{Connection, Connector};
use crate::host::Host;

/// Connects to a TCP address, with the socket options a test rig needs.
///
/// Defaults: `TCP_NODELAY` on (request/response traffic should not wait for Nagle), no
/// keepalive, no local binding.
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
/// use testrig::service::{ClientService, TcpConnector};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let connector = TcpConnector::new("127.0.0.1:5000".parse()?)
///     .keepalive(Duration::from_secs(5)) // a dead idle peer is noticed
///     .local_address("127.0.0.1:0".parse()?);
/// let service = ClientService::builder(connector).start();
/// let conn = service.when_connected(None).await?;
/// println!("connected from {}", conn.local_addr()?);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct TcpConnector {
    target: Target,
    options: Options,
    /// Where the sockets are made.
    host: Host,
}

#[derive(Debug, Clone)]
enum Target {
    Address(SocketAddr),
    /// Resolved again on every attempt: a name may move between attempts.
    Host {
        host: Arc<str>,
        port: u16,
    },
}

#[derive(Debug, Clone, Copy)]
struct Options {
    local: Option<SocketAddr>,
    nodelay: bool,
    keepalive: Option<Duration>,
    user_timeout: Option<Duration>,
}

impl TcpConnector {
    /// Connect to `address`.
    pub fn new(address: SocketAddr) -> Self {
        Self::with_target(Target::Address(address))
    }

    /// Connect to `host:port`, resolving `host` on every attempt (a resolution failure is
    /// a failed attempt).
    pub fn to_host(host: impl Into<String>, port: u16) -> Self {
        Self::with_target(Target::Host {
            host: Arc::from(host.into()),
            port,
        })
    }

    fn with_target(target: Target) -> Self {
        Self {
            target,
            options: Options {
                local: None,
                nodelay: true,
                keepalive: None,
                user_timeout: None,
            },
            host: Host::local(),
        }
    }

    /// Set `TCP_USER_TIMEOUT` (Linux): written bytes unacknowledged (or keepalive probes
    /// unanswered) for `timeout` make the kernel drop the connection, and the service
    /// reconnects: a peer behind a link that went down is noticed within `timeout`.
    pub fn user_timeout(mut self, timeout: Duration) -> Self {
        self.options.user_timeout = Some(timeout);
        self
    }

    /// Make the connections on `host` (default: this machine): on a host of an emulated
    /// network, each socket is made inside its namespace.
    pub fn host(mut self, host: Host) -> Self {
        self.host = host;
        self
    }

    /// Bind the local end to `address` (an interface, and port 0 for any) before
    /// connecting.
    pub fn local_address(mut self, address: SocketAddr) -> Self {
        self.options.local = Some(address);
        self
    }

    /// Set `TCP_NODELAY` (default `true`).
    pub fn nodelay(mut self, nodelay: bool) -> Self {
        self.options.nodelay = nodelay;
        self
    }

    /// Turn TCP keepalive on: after `idle` without traffic the kernel probes the peer
    /// every `idle`, so a peer that vanished (no FIN, no RST) is noticed on an idle
    /// connection and the service reconnects. Whole seconds, at least one.
    pub fn keepalive(mut self, idle: Duration) -> Self {
        self.options.keepalive = Some(idle.max(Duration::from_secs(1)));
        self
    }
}

impl Connector for TcpConnector {
    type Connection = TcpConnection;
    type Error = io::Error;

    fn connect(&self) -> impl Future<Output = io::Result<TcpConnection>> + Send + 'static {
        let target = self.target.clone();
        let options = self.options;
        let host = self.host.clone();
        async move {
            let stream = match target {
                Target::Address(address) => connect_to(address, options, &host).await?,
                Target::Host { host: name, port } => {
                    let mut last_error = None;
                    let mut connected = None;
                    for address in tokio::net::lookup_host((&*name, port)).await? {
                        match connect_to(address, options, &host).await {
                            Ok(stream) => {
                                connected = Some(stream);
                                break;
                            }
                            Err(error) => last_error = Some(error),
                        }
                    }
                    match (connected, last_error) {
                        (Some(stream), _) => stream,
                        (None, Some(error)) => return Err(error),
                        (None, None) => {
                            return Err(io::Error::new(
                                io::ErrorKind::NotFound,
                                format!("{name} resolved to no address"),
                            ));
                        }
                    }
                }
            };
            Ok(TcpConnection::new(stream))
        }
    }

    fn describe(&self) -> String {
        match &self.target {
            Target::Address(address) => address.to_string(),
            Target::Host { host, port } => format!("{host}:{port}"),
        }
    }
}

async fn connect_to(address: SocketAddr, options: Options, host: &Host) -> io::Result<TcpStream> {
    let socket = host.tcp_socket(address).await?;
    if let Some(idle) = options.keepalive {
        let keepalive = TcpKeepalive::new().with_time(idle).with_interval(idle);
        SockRef::from(&socket).set_tcp_keepalive(&keepalive)?;
    }
    if options.user_timeout.is_some() {
        SockRef::from(&socket).set_tcp_user_timeout(options.user_timeout)?;
    }
    if let Some(local) = options.local {
        socket.bind(local)?;
    }
    // Set before connecting; the connection inherits it.
    socket.set_nodelay(options.nodelay)?;
    crate::host::refuse_self_connection(connect_now_or_later(socket, address).await?)
}

/// Connects `socket` to `address`. On loopback the kernel completes the handshake
/// inside `connect(2)`: one non-blocking look (`poll(2)`) then finds it connected,
/// and the connection is ready without waiting for the reactor's next turn (and the
/// caller's deadline is never armed). Otherwise it waits for writability, as tokio's
/// `TcpSocket::connect` does.
async fn connect_now_or_later(socket: TcpSocket, address: SocketAddr) -> io::Result<TcpStream> {
    match SockRef::from(&socket).connect(&address.into()) {
        Ok(()) => {}
        Err(error) if error.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(error) => return Err(error),
    }
    // SAFETY: `into_raw_fd` hands over an open socket descriptor that nothing else
    // owns; the std stream takes ownership of it.
    let stream = TcpStream::from_std(unsafe {
        std::net::TcpStream::from_raw_fd(std::os::fd::IntoRawFd::into_raw_fd(socket))
    })?;
    if !connected_now(&stream) {
        stream.writable().await?;
        if let Some(error) = stream.take_error()? {
            return Err(error);
        }
    }
    Ok(stream)
}

/// Whether a connecting socket is connected now: writable, with no error pending
/// (`poll(2)` with a zero timeout).
fn connected_now(stream: &TcpStream) -> bool {
    let mut poll_fd = libc::pollfd {
        fd: std::os::fd::AsRawFd::as_raw_fd(stream),
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: one valid `pollfd` for a descriptor the stream keeps open during the
    // call; a zero timeout never blocks.
    let ready = unsafe { libc::poll(&mut poll_fd, 1, 0) };
    ready == 1
        && poll_fd.revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) == 0
        && poll_fd.revents & libc::POLLOUT != 0
}

/// A connected TCP socket, shared by cheap clones: read and write it with
/// [`tokio::io::AsyncReadExt`] / [`tokio::io::AsyncWriteExt`].
///
/// Read from one task at a time (two tasks reading the same connection at once may
/// leave one of them unwoken); writing from another task at the same time is fine.
///
/// The service notices that the connection is gone when the peer closes or resets it,
/// when keepalive gives up, or when [`close`](Connection::close) is called. While
/// received data sits unread, a close behind it is noticed once that data is read.
#[derive(Debug, Clone)]
pub struct TcpConnection {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    stream: TcpStream,
    /// Signalled on every read, so the loss watcher can look again once unread data
    /// has been consumed.
    read_progress: Notify,
    closing: CancellationToken,
    /// Bytes the peer had not acknowledged when the connection was first closed here.
    unacknowledged_at_close: OnceLock<Option<u64>>,
}

/// Two handles are equal when they are clones of the same connection.
impl PartialEq for TcpConnection {
    fn eq(&self, other: &TcpConnection) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Eq for TcpConnection {}

impl TcpConnection {
    fn new(stream: TcpStream) -> Self {
        Self {
            inner: Arc::new(Inner {
                stream,
                read_progress: Notify::new(),
                closing: CancellationToken::new(),
                unacknowledged_at_close: OnceLock::new(),
            }),
        }
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.stream.peer_addr()
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.stream.local_addr()
    }

    fn measure_unacknowledged(&self) -> Option<u64> {
        let mut queued: libc::c_int = 0;
        // SAFETY: SIOCOUTQ (numbered TIOCOUTQ on Linux) writes one `int`; the
        // descriptor is alive for the call.
        let result = unsafe {
            libc::ioctl(
                std::os::fd::AsRawFd::as_raw_fd(&self.inner.stream),
                libc::TIOCOUTQ,
                &mut queued,
            )
        };
        (result == 0).then(|| u64::try_from(queued).unwrap_or(0))
    }
}

impl Connection for TcpConnection {
    fn closed(&self) -> impl Future<Output = ()> + Send + 'static {
        let inner = Arc::clone(&self.inner);
        async move {
            let mut probe = [0u8; 1];
            loop {
                tokio::select! {
                    biased;
                    () = inner.closing.cancelled() => return,
                    peeked = inner.stream.peek(&mut probe) => match peeked {
                        // End of stream, or reset / keepalive timeout.
                        Ok(0) | Err(_) => return,
                        // Unread data hides what follows it; look again after a read.
                        Ok(_) => tokio::select! {
                            biased;
                            () = inner.closing.cancelled() => return,
                            () = inner.read_progress.notified() => {}
                        },
                    },
                }
            }
        }
    }

    fn close(&self) {
        // Measured before the shutdown, whose FIN would count as one more byte.
        self.inner
            .unacknowledged_at_close
            .get_or_init(|| self.measure_unacknowledged());
        // Shutting down both directions sends FIN and ends reads here, for every clone;
        // the descriptor itself is released with the last clone.
        let _ = SockRef::from(&self.inner.stream).shutdown(Shutdown::Both);
        self.inner.closing.cancel();
    }

    /// The kernel's count of bytes written and not yet acknowledged by the peer
    /// (`SIOCOUTQ`): while open, now; once closed (by the service when it noticed
    /// the loss, or by [`close`](Connection::close)), as it was at that moment.
    fn unacknowledged_bytes(&self) -> Option<u64> {
        match self.inner.unacknowledged_at_close.get() {
            Some(at_close) => *at_close,
            None => self.measure_unacknowledged(),
        }
    }
}

impl AsyncRead for TcpConnection {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let inner = &*self.inner;
        loop {
            ready!(inner.stream.poll_read_ready(cx))?;
            match inner.stream.try_read(buf.initialize_unfilled()) {
                Ok(read) => {
                    buf.advance(read);
                    inner.read_progress.notify_one();
                    return Poll::Ready(Ok(()));
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                Err(error) => {
                    inner.read_progress.notify_one();
                    return Poll::Ready(Err(error));
                }
            }
        }
    }
}

impl AsyncWrite for TcpConnection {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let inner = &*self.inner;
        // Straight to the kernel first: a connection made without waiting for the
        // reactor has no writability recorded yet, and would otherwise wait for the
        // reactor's next turn before its first write. Writing behind tokio's back is
        // harmless: when the socket is full, the loop below waits for writability.
        // The task's cooperative budget is spent as tokio's own write spends it, so
        // a sender that never blocks still lets other tasks run.
        let coop = ready!(tokio::task::coop::poll_proceed(cx));
        match io::Write::write(&mut &*SockRef::from(&inner.stream), data) {
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) => {}
            Ok(written) => {
                coop.made_progress();
                return Poll::Ready(Ok(written));
            }
            Err(error) => {
                coop.made_progress();
                // A failed write usually means the peer is gone: let the watcher look.
                inner.read_progress.notify_one();
                return Poll::Ready(Err(error));
            }
        }
        // Unspent: the wait below spends its own.
        drop(coop);
        loop {
            ready!(inner.stream.poll_write_ready(cx))?;
            match inner.stream.try_write(data) {
                Ok(written) => return Poll::Ready(Ok(written)),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                Err(error) => {
                    // A failed write usually means the peer is gone: let the watcher look.
                    inner.read_progress.notify_one();
                    return Poll::Ready(Err(error));
                }
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// Half-close: send FIN, keep reading.
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(SockRef::from(&self.inner.stream).shutdown(Shutdown::Write))
    }
}

#[cfg(unix)]
impl std::os::fd::AsFd for TcpConnection {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.inner.stream.as_fd()
    }
}
