//! Before `TEST_END`: waiting until the receiver has taken what the sender sent.
//!
//! iperf3's server stops counting the moment it handles `TEST_END`: in each round of its
//! `select` loop it reads the control channel *before* the data streams, and once the test
//! has ended it closes the streams with whatever is still queued in them (esnet/iperf#382).
//! A sender that writes its last block and sends `TEST_END` at once therefore loses the tail
//! of the test from the receiver's count; a short byte-bounded test with zero-copy sends
//! (1 MiB leaves in one `sendfile`) often loses all of it, and iperf3's server reports
//! `0.00 Bytes` received. The real iperf3 client has the same race, only slower to lose it.
//!
//! So a sending client waits, within a deadline, until every sending stream is drained:
//! the kernel holds no unacknowledged bytes for it (`SIOCOUTQ`), and, where the receiving
//! socket lives in this network namespace (the peer is on this machine), the receiving
//! program has read every byte of it (its socket's receive queue, the figure `ss` shows
//! as Recv-Q, asked of the kernel by `sock_diag`). For a peer on another machine only the
//! first half can be known; the wait then ends when everything sent was acknowledged.

use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::time::Duration;

use testrig::Host;
use tokio::time::Instant;

use super::sock_diag::SockDiag;
use crate::tcp::probe::unacknowledged;

/// Nothing announces that a peer read its socket, so this is a poll. On loopback the last
/// bytes are usually taken within tens of microseconds, below the timer's millisecond: for
/// this long the poll only yields to other tasks between looks.
const YIELD_FOR: Duration = Duration::from_millis(2);
/// Then it pauses between looks, the pause doubling up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(1);
const MAX_PAUSE: Duration = Duration::from_millis(5);

/// One sending stream to watch: its socket and both ends' addresses.
#[derive(Debug)]
pub(crate) struct SentStream<'a, S> {
    pub(crate) socket: &'a S,
    pub(crate) local: SocketAddr,
    pub(crate) remote: SocketAddr,
}

/// How the wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Drained {
    /// Every byte was acknowledged and, where the peer is visible, read by it.
    Taken,
    /// The deadline passed first; `pending` bytes were still unacknowledged or unread.
    TimedOut { pending: u64 },
}

/// Waits until every stream in `streams`, sockets of `host`, is drained, or `deadline`
/// passes.
pub(crate) async fn until_taken<S: AsFd>(
    host: &Host,
    streams: &[SentStream<'_, S>],
    deadline: Duration,
) -> Drained {
    let began = Instant::now();
    let give_up = began + deadline;
    // Without socket diagnostics (another OS, a sandbox), only acknowledgements count.
    // Asked in the streams' own namespace: a peer on the same host is seen there.
    let diag = SockDiag::open(host).await.ok();
    let mut pause = FIRST_PAUSE;
    loop {
        let pending: u64 = streams
            .iter()
            .map(|s| pending_bytes(s, diag.as_ref()))
            .sum();
        if pending == 0 {
            return Drained::Taken;
        }
        let now = Instant::now();
        if now >= give_up {
            return Drained::TimedOut { pending };
        }
        if now.duration_since(began) < YIELD_FOR {
            tokio::task::yield_now().await;
            continue;
        }
        tokio::time::sleep(pause.min(give_up - now)).await;
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

/// Bytes of one stream not yet acknowledged, plus those the peer has not read yet where
/// its socket is visible.
fn pending_bytes<S: AsFd>(stream: &SentStream<'_, S>, diag: Option<&SockDiag>) -> u64 {
    let unacked = unacknowledged(stream.socket.as_fd()).unwrap_or(0);
    if unacked > 0 {
        return unacked;
    }
    diag.and_then(|d| d.unread(stream.remote, stream.local).ok().flatten())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::io::Write;

    #[tokio::test]
    async fn the_wait_ends_once_the_peer_has_read_everything() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        client.write_all(&[7u8; 1000]).unwrap();
        let stream = SentStream {
            socket: &client,
            local: client.local_addr().unwrap(),
            remote: client.peer_addr().unwrap(),
        };
        // Nobody reads: the wait runs out, naming the bytes still unread.
        let waited = until_taken(
            &Host::local(),
            std::slice::from_ref(&stream),
            Duration::from_millis(20),
        )
        .await;
        assert_eq!(waited, Drained::TimedOut { pending: 1000 });
        server.read_exact(&mut [0u8; 1000]).unwrap();
        let waited = until_taken(
            &Host::local(),
            std::slice::from_ref(&stream),
            Duration::from_secs(10),
        )
        .await;
        assert_eq!(waited, Drained::Taken);
    }
}
