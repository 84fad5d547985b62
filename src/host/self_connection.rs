//! A TCP connection from a port to itself, refused.
//!
//! A connect to a port nothing listens on fails, except when the kernel picks that very
//! port as the connection's own (both in the ephemeral range, as ports from port 0 are):
//! the two ends then meet in TCP's simultaneous open and the connect succeeds, connected
//! to itself, with no server behind it. A reconnecting client hammering a restarting
//! server's port would take the port the server is about to bind again. Go's `net` package
//! checks for it too (`selfConnect`).

use std::io;

use tokio::net::TcpStream;

/// `stream`, unless it is connected to itself; then it is closed and the connect reads as
/// refused (`ConnectionRefused`): nothing listens where it was going.
///
/// # Errors
/// `ConnectionRefused` for a connection to itself; the socket's own error when its
/// addresses cannot be read.
///
/// # Examples
///
/// ```no_run
/// # async fn example() -> std::io::Result<()> {
/// let stream = tokio::net::TcpStream::connect("127.0.0.1:5201").await?;
/// let stream = testrig::host::refuse_self_connection(stream)?;
/// # drop(stream);
/// # Ok(())
/// # }
/// ```
pub fn refuse_self_connection(stream: TcpStream) -> io::Result<TcpStream> {
    let (local, peer) = (stream.local_addr()?, stream.peer_addr()?);
    if local != peer {
        return Ok(stream);
    }
    drop(stream);
    Err(io::Error::new(
        io::ErrorKind::ConnectionRefused,
        format!(
            "connection refused: nothing listens on {peer} (the connect met itself on that \
             port, TCP's simultaneous open, and was closed)"
        ),
    ))
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::*;

    /// A socket bound to a port and connecting to that same address: the kernel's
    /// simultaneous open joins it to itself, deterministically.
    async fn connected_to_itself() -> TcpStream {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
        let address = socket.local_addr().unwrap();
        socket.connect(address).await.unwrap()
    }

    #[tokio::test]
    async fn a_connection_to_itself_is_refused() {
        let stream = connected_to_itself().await;
        assert_eq!(stream.local_addr().unwrap(), stream.peer_addr().unwrap());
        let error = refuse_self_connection(stream).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused);
        assert!(error.to_string().contains("met itself"), "{error}");
    }

    #[tokio::test]
    async fn a_connection_to_a_listener_is_kept() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let stream = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        assert!(refuse_self_connection(stream).is_ok());
    }
}
