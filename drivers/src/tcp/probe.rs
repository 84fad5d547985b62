//! Questions the kernel answers about a connected socket without blocking: has
//! the peer closed it, and how many bytes are still on their way.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// What a non-blocking look at a socket found.
#[derive(Debug)]
pub(crate) enum Peer {
    /// The peer has not closed its side; `readable` says whether bytes wait to be read.
    Open { readable: bool },
    /// The peer closed its side (FIN), reset the connection, or the socket has a
    /// pending error; `unread` bytes it sent before that still wait in the kernel.
    Gone { unread: usize },
}

/// Looks at `fd` with `poll(2)` and a zero timeout: `POLLRDHUP` (the peer's FIN),
/// `POLLHUP` and `POLLERR` (a reset, or any pending `SO_ERROR`) mean the peer is
/// gone. The pending error is left for the next read or write to report.
pub(crate) fn peer(fd: BorrowedFd<'_>) -> Peer {
    let mut poll_fd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN | libc::POLLRDHUP,
        revents: 0,
    };
    // SAFETY: one valid `pollfd` for a descriptor borrowed for this call; a zero
    // timeout never blocks.
    let ready = unsafe { libc::poll(&mut poll_fd, 1, 0) };
    if ready < 0 {
        // Only EINTR or ENOMEM are possible here: nothing is known, so nothing is claimed.
        return Peer::Open { readable: false };
    }
    let revents = poll_fd.revents;
    if revents & (libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) == 0 {
        return Peer::Open {
            readable: revents & libc::POLLIN != 0,
        };
    }
    Peer::Gone {
        unread: ioctl_count(fd, libc::FIONREAD).unwrap_or(0),
    }
}

/// Bytes written to `fd` that the peer has not acknowledged yet (`SIOCOUTQ`, which
/// Linux numbers as `TIOCOUTQ`): sent and unacknowledged, or not sent at all.
pub(crate) fn unacknowledged(fd: BorrowedFd<'_>) -> io::Result<u64> {
    ioctl_count(fd, libc::TIOCOUTQ).map(|n| n as u64)
}

/// Bytes that reached `fd` and wait to be read (`FIONREAD`, the figure `ss` shows as
/// Recv-Q).
pub(crate) fn unread(fd: BorrowedFd<'_>) -> io::Result<u64> {
    ioctl_count(fd, libc::FIONREAD).map(|n| n as u64)
}

fn ioctl_count(fd: BorrowedFd<'_>, request: libc::Ioctl) -> io::Result<usize> {
    let mut count: libc::c_int = 0;
    // SAFETY: both requests write one `int` through the pointer; the descriptor is
    // borrowed for the call.
    let result = unsafe { libc::ioctl(fd.as_raw_fd(), request, &mut count) };
    if result < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(usize::try_from(count).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsFd;

    use socket2::SockRef;
    use tokio::io::AsyncWriteExt;

    use super::*;

    async fn pair() -> (tokio::net::TcpStream, tokio::net::TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = tokio::net::TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        (client, server)
    }

    #[tokio::test]
    async fn a_fin_is_seen_with_the_bytes_before_it_counted_as_unread() {
        let (client, mut server) = pair().await;
        assert!(matches!(
            peer(client.as_fd()),
            Peer::Open { readable: false }
        ));
        server.write_all(b"abc").await.unwrap();
        server.shutdown().await.unwrap();
        // Loopback delivers within the syscalls above; the FIN is there.
        assert!(
            matches!(peer(client.as_fd()), Peer::Gone { unread: 3 }),
            "{:?}",
            peer(client.as_fd())
        );
    }

    #[tokio::test]
    async fn a_reset_is_seen_and_its_error_left_for_the_next_read() {
        let (client, server) = pair().await;
        SockRef::from(&server)
            .set_linger(Some(std::time::Duration::ZERO))
            .unwrap();
        drop(server);
        assert!(matches!(peer(client.as_fd()), Peer::Gone { unread: 0 }));
        // Straight to the kernel: tokio's `try_read` would answer from its own readiness.
        let error = io::Read::read(&mut &*SockRef::from(&client), &mut [0u8; 1]).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::ConnectionReset);
    }

    #[tokio::test]
    async fn bytes_the_peer_has_acknowledged_are_no_longer_counted() {
        let (mut client, _server) = pair().await;
        client.write_all(b"hello").await.unwrap();
        // The peer's kernel acknowledges on its own, and nothing signals it: look
        // every millisecond, within a deadline.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while unacknowledged(client.as_fd()).unwrap() != 0 {
            assert!(std::time::Instant::now() < deadline, "never acknowledged");
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
    }
}
