use std::time::Duration;

/// What went wrong in a TCP driver operation, naming the driver.
///
/// A message says what failed; the underlying cause (an OS error, the
/// reconnecting service's error) is its [`source`](std::error::Error::source),
/// printed once by whatever walks the chain.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TcpError {
    /// A receive's deadline passed first. Bytes already read are kept for the
    /// next call.
    #[error(
        "driver `{driver}`: {operation} timed out after {after:?} ({buffered} byte(s) kept for the next receive)"
    )]
    ReceiveTimeout {
        /// The driver.
        driver: String,
        /// What timed out (`receive_exact(4) on connection 0`…).
        operation: String,
        /// The deadline.
        after: Duration,
        /// Bytes received so far and kept.
        buffered: usize,
    },
    /// No new connection arrived before [`accept_connection`](super::TcpServer::accept_connection)'s
    /// deadline.
    #[error("driver `{driver}`: no new connection arrived within {after:?}")]
    AcceptTimeout {
        /// The driver.
        driver: String,
        /// The deadline.
        after: Duration,
    },
    /// A connect did not complete within the client's connect timeout.
    #[error("driver `{driver}`: connecting to {address} timed out after {after:?}")]
    ConnectTimeout {
        /// The driver.
        driver: String,
        /// The address it connected to.
        address: String,
        /// The connect timeout.
        after: Duration,
    },
    /// A reconnecting client had no live connection before the deadline of a
    /// call that needs one ([`when_connected`](super::TcpClient::when_connected),
    /// or a send or receive waiting for the next connection).
    #[error("driver `{driver}`: {operation} waited {after:?} for a connection and none came")]
    ConnectionWaitTimeout {
        /// The driver.
        driver: String,
        /// The call that waited (`when_connected`, `send`, `receive`).
        operation: String,
        /// Its deadline.
        after: Duration,
    },
    /// The peer closed the connection.
    #[error(
        "driver `{driver}`: {connection} was closed by the peer ({buffered} byte(s) left unread)"
    )]
    PeerClosed {
        /// The driver.
        driver: String,
        /// Which connection (`connection 0`, `the connection`).
        connection: String,
        /// Bytes received before the close and still buffered.
        buffered: usize,
    },
    /// No connection with this index.
    #[error("driver `{driver}`: no connection {index} (it has accepted {count})")]
    UnknownConnection {
        /// The driver.
        driver: String,
        /// The index asked for.
        index: usize,
        /// How many connections it accepted.
        count: usize,
    },
    /// A send did not finish in time: the peer is not reading and the socket
    /// buffers are full. The connection's byte stream now ends mid-message.
    #[error(
        "driver `{driver}`: sending {total} byte(s) on {connection} timed out after {after:?} ({written} byte(s) written; is the peer reading?)"
    )]
    SendTimeout {
        /// The driver.
        driver: String,
        /// Which connection (`connection 0`, `the connection`).
        connection: String,
        /// The deadline.
        after: Duration,
        /// Bytes handed to the socket before the deadline.
        written: usize,
        /// Bytes asked to send.
        total: usize,
    },
    /// A server cannot accept connections: the process or the system is out of
    /// file descriptors. Connections wait in the listen backlog and are accepted
    /// once descriptors are freed (closing or releasing connections frees them).
    #[error(
        "driver `{driver}`: cannot accept connections: {condition}; they wait in the listen backlog"
    )]
    AcceptStalled {
        /// The driver.
        driver: String,
        /// What is exhausted (`the process is out of file descriptors (EMFILE…)`).
        condition: String,
    },
    /// A [`send_acked`](super::TcpClient::send_acked) wrote its bytes, but the
    /// peer did not acknowledge everything written to the connection in time.
    #[error(
        "driver `{driver}`: {} written on {connection} not acknowledged by the peer {why}",
        match unacknowledged { Some(n) => format!("{n} byte(s)"), None => "bytes".to_owned() }
    )]
    Unacknowledged {
        /// The driver.
        driver: String,
        /// Which connection.
        connection: String,
        /// Bytes still unacknowledged when it gave up (`None`: the kernel could not tell).
        unacknowledged: Option<u64>,
        /// Why it gave up (`within 10s`, `before the connection was lost or closed`).
        why: String,
    },
    /// A server asked for its latest connection before accepting any.
    #[error("driver `{driver}` has accepted no connection yet")]
    NoConnection {
        /// The driver.
        driver: String,
    },
    /// The connection was closed on this side (or the driver stopped).
    #[error("driver `{driver}`: {connection} is closed")]
    Closed {
        /// The driver.
        driver: String,
        /// Which connection.
        connection: String,
    },
    /// The client has no connection.
    #[error("driver `{driver}` is not connected")]
    NotConnected {
        /// The driver.
        driver: String,
    },
    /// The driver is not started.
    #[error("driver `{driver}` is not started")]
    NotStarted {
        /// The driver.
        driver: String,
    },
    /// A host name that does not resolve.
    #[error("driver `{driver}`: host `{host}` does not resolve")]
    Resolve {
        /// The driver.
        driver: String,
        /// The host.
        host: String,
        /// The resolver's error.
        #[source]
        source: std::io::Error,
    },
    /// A new connection's addresses could not be read: it was lost (reset) as
    /// soon as it was made.
    #[error(
        "driver `{driver}`: the new connection to {address} was lost before its addresses could be read"
    )]
    Addresses {
        /// The driver.
        driver: String,
        /// The address it connected to.
        address: String,
        /// The error of `getsockname` or `getpeername`.
        #[source]
        source: std::io::Error,
    },
    /// An option that needs another option, or that a driver cannot use as
    /// configured.
    #[error("driver `{driver}`: option `{option}` {reason}")]
    InvalidOption {
        /// The driver.
        driver: String,
        /// The option (`prepare_connection`).
        option: &'static str,
        /// Why it cannot be used.
        reason: &'static str,
    },
    /// A port that cannot be used.
    #[error("driver `{driver}`: {field} {value} is invalid: {reason}")]
    InvalidPort {
        /// The driver.
        driver: String,
        /// The field (`port`).
        field: &'static str,
        /// The value given.
        value: i64,
        /// Why.
        reason: &'static str,
    },
    /// Nothing listens at the address.
    #[error("driver `{driver}`: connection to {address} refused (nothing listens there)")]
    Refused {
        /// The driver.
        driver: String,
        /// The address.
        address: String,
    },
    /// A delimiter was not found within the size limit.
    #[error("driver `{driver}`: no {delimiter:?} within {limit} bytes")]
    TooLong {
        /// The driver.
        driver: String,
        /// The delimiter looked for.
        delimiter: String,
        /// The limit.
        limit: usize,
    },
    /// The reconnecting service gave up or was stopped.
    #[error("driver `{driver}`: its reconnecting service gave no connection")]
    Service {
        /// The driver.
        driver: String,
        /// The service's error.
        #[source]
        source: testrig::service::ServiceError,
    },
    /// Any other socket error.
    #[error("driver `{driver}`: {operation} failed")]
    Io {
        /// The driver.
        driver: String,
        /// What was being done.
        operation: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

impl From<TcpError> for testrig::Error {
    fn from(error: TcpError) -> Self {
        testrig::Error::other(error)
    }
}

impl TcpError {
    /// An [`Io`](Self::Io) error of `driver` doing `operation`, for `map_err`.
    pub(crate) fn io(
        driver: &str,
        operation: impl Into<String>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let (driver, operation) = (driver.to_owned(), operation.into());
        move |source| TcpError::Io {
            driver,
            operation,
            source,
        }
    }
}
