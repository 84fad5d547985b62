/// Which of a [`TcpServer`](super::TcpServer)'s connections a call means: an index
/// from [`accept_connection`](super::TcpServer::accept_connection) (a plain
/// `usize` converts into one), or the newest accepted connection.
///
/// # Examples
/// ```no_run
/// # async fn demo(server: &testrig_drivers::tcp::TcpServer) -> Result<(), testrig_drivers::tcp::TcpError> {
/// use std::time::Duration;
/// use testrig_drivers::tcp::ConnectionIndex;
///
/// let conn = server.accept_connection(Duration::from_secs(1)).await?;
/// server.send(conn, b"by index").await?;
/// server.send(ConnectionIndex::Latest, b"to the newest").await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConnectionIndex {
    /// The connection with this index (0, 1, 2… in arrival order).
    At(usize),
    /// The newest accepted connection (the default).
    #[default]
    Latest,
}

impl From<usize> for ConnectionIndex {
    fn from(index: usize) -> Self {
        Self::At(index)
    }
}
