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
//! program has read every byte of it (its socket's receive queue in `/proc/net/tcp`, the
//! same figure `ss` shows as Recv-Q). For a peer on another machine only the first half can
//! be known; the wait then ends when everything sent was acknowledged.

use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsFd;
use std::time::Duration;

use tokio::time::Instant;

use crate::tcp::probe::unacknowledged;

/// The first pause between two looks; it doubles up to [`MAX_PAUSE`]. Nothing announces
/// that a peer read its socket, so this is a poll, kept short while draining is fast.
const FIRST_PAUSE: Duration = Duration::from_micros(100);
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

/// Waits until every stream in `streams` is drained, or `deadline` passes.
pub(crate) async fn until_taken<S: AsFd>(
    streams: &[SentStream<'_, S>],
    deadline: Duration,
) -> Drained {
    let give_up = Instant::now() + deadline;
    let mut pause = FIRST_PAUSE;
    loop {
        let pending: u64 = streams.iter().map(pending_bytes).sum();
        if pending == 0 {
            return Drained::Taken;
        }
        let now = Instant::now();
        if now >= give_up {
            return Drained::TimedOut { pending };
        }
        tokio::time::sleep(pause.min(give_up - now)).await;
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

/// Bytes of one stream not yet acknowledged, plus those the peer has not read yet where
/// its socket is visible.
fn pending_bytes<S: AsFd>(stream: &SentStream<'_, S>) -> u64 {
    let unacked = unacknowledged(stream.socket.as_fd()).unwrap_or(0);
    if unacked > 0 {
        return unacked;
    }
    peer_unread(stream.local, stream.remote).unwrap_or(0)
}

/// The bytes waiting unread in the receive queue of the peer's socket (the one whose local
/// address is `remote` and whose peer is `local`), if that socket is in this network
/// namespace. `None` when it is not (a peer on another machine) or the table is unreadable.
pub(crate) fn peer_unread(local: SocketAddr, remote: SocketAddr) -> Option<u64> {
    let tables: &[&str] = match (local.ip(), remote.ip()) {
        (IpAddr::V4(_), IpAddr::V4(_)) => &["/proc/net/tcp", "/proc/net/tcp6"],
        _ => &["/proc/net/tcp6"],
    };
    tables.iter().find_map(|path| {
        let table = std::fs::read_to_string(path).ok()?;
        let v6 = path.ends_with('6');
        let wanted_local = proc_address(remote, v6)?;
        let wanted_remote = proc_address(local, v6)?;
        receive_queue(&table, &wanted_local, &wanted_remote)
    })
}

/// The receive queue of the row with these addresses, in a `/proc/net/tcp{,6}` table.
fn receive_queue(table: &str, local: &str, remote: &str) -> Option<u64> {
    table.lines().skip(1).find_map(|row| {
        let mut fields = row.split_whitespace().skip(1);
        let (row_local, row_remote) = (fields.next()?, fields.next()?);
        if !row_local.eq_ignore_ascii_case(local) || !row_remote.eq_ignore_ascii_case(remote) {
            return None;
        }
        let _state = fields.next()?;
        let (_tx, rx) = fields.next()?.split_once(':')?;
        u64::from_str_radix(rx, 16).ok()
    })
}

/// An address as `/proc/net/tcp{,6}` prints it: the address's 32-bit words in host byte
/// order, in hex, then `:` and the port in hex. An IPv4 address in the IPv6 table is the
/// v4-mapped one (a dual-stack listener's connection from an IPv4 client).
fn proc_address(addr: SocketAddr, v6_table: bool) -> Option<String> {
    let octets: Vec<u8> = match (addr.ip(), v6_table) {
        (IpAddr::V4(ip), false) => ip.octets().to_vec(),
        (IpAddr::V4(ip), true) => ip.to_ipv6_mapped().octets().to_vec(),
        (IpAddr::V6(ip), true) => ip.octets().to_vec(),
        (IpAddr::V6(_), false) => return None,
    };
    let mut text = String::with_capacity(octets.len() * 2 + 5);
    for word in octets.chunks_exact(4) {
        let word = u32::from_ne_bytes([word[0], word[1], word[2], word[3]]);
        text.push_str(&format!("{word:08X}"));
    }
    text.push_str(&format!(":{:04X}", addr.port()));
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::fd::AsFd;

    #[test]
    fn addresses_are_written_as_the_kernel_prints_them() {
        let v4: SocketAddr = "127.0.0.1:5201".parse().unwrap();
        let expected_word = format!("{:08X}", u32::from_ne_bytes([127, 0, 0, 1]));
        assert_eq!(
            proc_address(v4, false).unwrap(),
            format!("{expected_word}:1451")
        );
        let mapped = proc_address(v4, true).unwrap();
        assert!(
            mapped.ends_with(&format!("{expected_word}:1451")),
            "{mapped}"
        );
        assert_eq!(mapped.len(), 32 + 5);
    }

    #[test]
    fn the_peers_unread_bytes_are_seen_until_it_reads_them() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        let (local, remote) = (client.local_addr().unwrap(), client.peer_addr().unwrap());
        client.write_all(&[7u8; 1000]).unwrap();
        // Written bytes reach the peer's queue (loopback acknowledges on arrival).
        let give_up = std::time::Instant::now() + Duration::from_secs(10);
        while peer_unread(local, remote) != Some(1000) {
            assert!(
                std::time::Instant::now() < give_up,
                "the peer's queue never showed 1000"
            );
            std::thread::yield_now();
        }
        let mut buffer = [0u8; 1000];
        server.read_exact(&mut buffer).unwrap();
        assert_eq!(peer_unread(local, remote), Some(0));
        assert_eq!(unacknowledged(client.as_fd()).ok(), Some(0));
    }

    #[test]
    fn a_peer_outside_this_machine_is_not_found() {
        let local: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let remote: SocketAddr = "192.0.2.1:5201".parse().unwrap();
        assert_eq!(peer_unread(local, remote), None);
    }
}
