//! Which of many sockets their peers have closed, without waking on their data.
//!
//! A server must notice that a peer closed a connection nobody reads, to release
//! it; waiting on each socket's readiness would wake on every message too. An
//! epoll set of its own, interested only in `EPOLLRDHUP` (and the `EPOLLHUP` /
//! `EPOLLERR` epoll always reports), wakes only on the end of a connection.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// An epoll set of connections watched for their peer's close; each is reported
/// once, by the token it was added with.
#[derive(Debug)]
pub(crate) struct Hangups {
    epoll: AsyncFd<OwnedFd>,
}

impl Hangups {
    pub(crate) fn new() -> io::Result<Self> {
        // SAFETY: epoll_create1 takes flags only; a non-negative result is a new
        // descriptor we own.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just created and is owned by nothing else.
        let epoll = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: an `OwnedFd` stays open, and is the same descriptor, until the
        // `AsyncFd` that owns it is dropped.
        let epoll = unsafe { AsyncFd::register_with_interest(epoll, Interest::READABLE) }
            .map_err(io::Error::from)?;
        Ok(Self { epoll })
    }

    /// Reports `token` once the peer of `socket` closes or resets it (or the socket
    /// fails). One-shot: a report is not repeated. A closed descriptor leaves the
    /// set by itself.
    pub(crate) fn watch(&self, socket: BorrowedFd<'_>, token: u64) -> io::Result<()> {
        let mut event = libc::epoll_event {
            events: (libc::EPOLLRDHUP | libc::EPOLLONESHOT) as u32,
            u64: token,
        };
        // SAFETY: both descriptors are valid for the call; the kernel copies `event`.
        let result = unsafe {
            libc::epoll_ctl(
                self.epoll.get_ref().as_raw_fd(),
                libc::EPOLL_CTL_ADD,
                socket.as_raw_fd(),
                &mut event,
            )
        };
        if result < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Waits for the next reports and appends their tokens to `tokens`.
    pub(crate) async fn next(&self, tokens: &mut Vec<u64>) -> io::Result<()> {
        const BATCH: usize = 256;
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; BATCH];
        loop {
            let mut ready = self.epoll.readable().await?;
            // SAFETY: `events` has room for BATCH entries; a zero timeout never blocks.
            let count = unsafe {
                libc::epoll_wait(
                    self.epoll.get_ref().as_raw_fd(),
                    events.as_mut_ptr(),
                    BATCH as libc::c_int,
                    0,
                )
            };
            if count < 0 {
                let error = io::Error::last_os_error();
                if error.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(error);
            }
            if count == 0 {
                ready.clear_ready();
                continue;
            }
            let count = usize::try_from(count).unwrap_or(0);
            tokens.extend(events[..count].iter().map(|event| event.u64));
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsFd;
    use std::time::Duration;

    use socket2::SockRef;
    use tokio::io::AsyncWriteExt;

    use super::*;

    #[tokio::test]
    async fn only_the_end_of_a_connection_is_reported_not_its_data() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let mut quiet = tokio::net::TcpStream::connect(address).await.unwrap();
        let (quiet_server, _) = listener.accept().await.unwrap();
        let resetting = tokio::net::TcpStream::connect(address).await.unwrap();
        let (resetting_server, _) = listener.accept().await.unwrap();
        let hangups = Hangups::new().unwrap();
        hangups.watch(quiet_server.as_fd(), 1).unwrap();
        hangups.watch(resetting_server.as_fd(), 2).unwrap();

        quiet.write_all(b"data is not an end").await.unwrap();
        let mut tokens = Vec::new();
        let early = tokio::time::timeout(Duration::from_millis(50), hangups.next(&mut tokens));
        assert!(early.await.is_err(), "reported {tokens:?} on data alone");

        SockRef::from(&resetting)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(resetting);
        tokio::time::timeout(Duration::from_secs(10), hangups.next(&mut tokens))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(tokens, [2]);
        drop(quiet);
        tokens.clear();
        tokio::time::timeout(Duration::from_secs(10), hangups.next(&mut tokens))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(tokens, [1]);
    }
}
