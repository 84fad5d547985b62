//! The seam between a [`ClientService`](super::ClientService) and its transport.

use std::error::Error;
use std::future::Future;

/// Something that can open a connection: TCP is one implementation
/// ([`TcpConnector`](super::TcpConnector)); tests use a scripted one.
///
/// The service calls [`connect`](Self::connect) once per attempt, bounds it with its
/// connect timeout, and drops the future to cancel the attempt (on stop or timeout), so
/// dropping it must abandon the attempt and release what it holds.
///
/// # Examples
///
/// A connector for an in-memory duplex pipe:
///
/// ```
/// use std::sync::Arc;
/// use testrig::service::{Connection, Connector};
/// use tokio::io::DuplexStream;
/// use tokio::sync::Mutex;
/// use tokio_util::sync::CancellationToken;
///
/// #[derive(Clone)]
/// struct Pipe {
///     stream: Arc<Mutex<DuplexStream>>,
///     closed: CancellationToken,
/// }
///
/// impl Connection for Pipe {
///     fn closed(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
///         self.closed.clone().cancelled_owned()
///     }
///     fn close(&self) {
///         self.closed.cancel();
///     }
/// }
///
/// struct PipeConnector;
///
/// impl Connector for PipeConnector {
///     type Connection = Pipe;
///     type Error = std::io::Error;
///
///     fn connect(&self) -> impl std::future::Future<Output = Result<Pipe, std::io::Error>> + Send + 'static {
///         async {
///             let (ours, _theirs) = tokio::io::duplex(64);
///             Ok(Pipe { stream: Arc::new(Mutex::new(ours)), closed: CancellationToken::new() })
///         }
///     }
///
///     fn describe(&self) -> String {
///         "an in-memory pipe".to_owned()
///     }
/// }
/// ```
pub trait Connector: Send + Sync + 'static {
    /// The connection handed to `prepare_connection` and to `when_connected` callers.
    type Connection: Connection;
    /// Why an attempt failed.
    type Error: Error + Send + Sync + 'static;

    /// Start one connection attempt. The future must not borrow `self`: copy what it needs.
    fn connect(
        &self,
    ) -> impl Future<Output = Result<Self::Connection, Self::Error>> + Send + 'static;

    /// What this connects to, for messages (`"127.0.0.1:5000"`).
    fn describe(&self) -> String;
}

/// A live connection as the service sees it: it can be closed, and it says when it is
/// gone.
///
/// Handles are cheap clones of one connection: the service keeps one to watch and close,
/// and every `when_connected` caller gets another.
pub trait Connection: Clone + Send + Sync + 'static {
    /// Resolves once the connection is gone: closed by the peer, failed, or closed with
    /// [`close`](Self::close). The service awaits it while connected and while
    /// disconnecting; it must resolve promptly after `close`.
    fn closed(&self) -> impl Future<Output = ()> + Send + 'static;

    /// Start closing the connection; [`closed`](Self::closed) then resolves. Closing an
    /// already closed connection does nothing.
    fn close(&self);

    /// How many bytes written to the connection the peer has not acknowledged yet,
    /// for transports that can tell (TCP: the kernel's send queue). Asked when the
    /// connection is lost, before the service closes it, and reported in
    /// [`ServiceEvent::ConnectionLost`](super::ServiceEvent::ConnectionLost). The
    /// default knows nothing.
    fn unacknowledged_bytes(&self) -> Option<u64> {
        None
    }
}
