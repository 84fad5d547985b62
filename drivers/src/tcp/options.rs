use std::time::Duration;

use socket2::{SockRef, TcpKeepalive};

use super::DEFAULT_SEND_TIMEOUT;

/// Socket options applied to every connection of a TCP driver (through socket2), and the
/// deadline of its sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SocketOptions {
    /// `TCP_NODELAY` (default on: test traffic is small messages).
    pub nodelay: bool,
    /// TCP keepalive idle time; `None` leaves keepalive off (the default).
    pub keepalive: Option<Duration>,
    /// `TCP_USER_TIMEOUT` (Linux): how long written bytes may stay unacknowledged (or
    /// keepalive probes unanswered) before the kernel drops the connection, so a peer cut
    /// off by a dead link is noticed within it instead of after minutes of
    /// retransmissions; `None` leaves the kernel's default (the default).
    pub user_timeout: Option<Duration>,
    /// `SO_REUSEADDR` on listeners (default on, so a restart can rebind its port).
    pub reuse_address: bool,
    /// How long a send may wait for the peer to take its bytes (default
    /// [`DEFAULT_SEND_TIMEOUT`], 10 s); then it fails with
    /// [`TcpError::SendTimeout`](super::TcpError::SendTimeout).
    pub send_timeout: Duration,
}

impl Default for SocketOptions {
    fn default() -> Self {
        Self {
            nodelay: true,
            keepalive: None,
            user_timeout: None,
            reuse_address: true,
            send_timeout: DEFAULT_SEND_TIMEOUT,
        }
    }
}

impl SocketOptions {
    /// Applies `nodelay`, `keepalive` and `user_timeout` to a connected stream.
    pub(crate) fn apply(&self, stream: &tokio::net::TcpStream) -> std::io::Result<()> {
        stream.set_nodelay(self.nodelay)?;
        if let Some(idle) = self.keepalive {
            let keepalive = TcpKeepalive::new().with_time(idle).with_interval(idle);
            SockRef::from(stream).set_tcp_keepalive(&keepalive)?;
        }
        if self.user_timeout.is_some() {
            SockRef::from(stream).set_tcp_user_timeout(self.user_timeout)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn nodelay_and_keepalive_are_set_on_a_real_socket() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let stream = tokio::net::TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let options = SocketOptions {
            keepalive: Some(Duration::from_secs(7)),
            user_timeout: Some(Duration::from_millis(1500)),
            ..SocketOptions::default()
        };
        options.apply(&stream).unwrap();
        let socket = SockRef::from(&stream);
        assert!(socket.tcp_nodelay().unwrap());
        assert!(socket.keepalive().unwrap());
        assert_eq!(socket.tcp_keepalive_time().unwrap(), Duration::from_secs(7));
        assert_eq!(
            socket.tcp_user_timeout().unwrap(),
            Some(Duration::from_millis(1500))
        );
    }
}
