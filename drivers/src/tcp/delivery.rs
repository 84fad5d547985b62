/// What a [`TcpClient::send`](super::TcpClient::send) did: how many bytes the
/// kernel took, which of the client's connections carried them, and when the send
/// began (testplan's `send_tsp`).
///
/// Connections are numbered 1, 2, 3… in the order the client starts using them
/// (a reconnect, automatic or not, starts the next number), so a test can tell
/// which messages went before and after a reconnection.
///
/// # Examples
/// ```no_run
/// # async fn demo(client: &testrig_drivers::tcp::TcpClient) -> Result<(), testrig_drivers::tcp::TcpError> {
/// let sent = client.send(b"ping\n").await?;
/// assert_eq!(sent.bytes, 5);
/// println!("carried by connection {}", sent.connection);
/// # Ok(()) }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Sent {
    /// Bytes handed to the kernel: always the whole message.
    pub bytes: usize,
    /// The number of the connection that carried them.
    pub connection: u64,
    /// When the send began (wall clock); for a reconnecting client that had to wait
    /// for a connection first, the time before that wait.
    pub started_at: std::time::SystemTime,
}

/// A connection a [`TcpClient`](super::TcpClient) lost (closed or reset by the
/// peer), as [`TcpClient::last_loss`](super::TcpClient::last_loss) reports it.
///
/// `unacknowledged_bytes` is the kernel's count of bytes written to the connection
/// that the peer had not acknowledged when the loss was noticed (`SIOCOUTQ`):
/// `Some(0)` means nothing was in flight, so every byte of every send that
/// returned `Ok` on it reached the peer's kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Loss {
    /// The number of the lost connection (as in [`Sent::connection`]).
    pub connection: u64,
    /// Bytes the peer had not acknowledged; `None` if the kernel could not tell.
    pub unacknowledged_bytes: Option<u64>,
}
