//! Asking the kernel about one TCP socket of this network namespace by its addresses
//! (`NETLINK_SOCK_DIAG`, what `ss` uses): here, how many received bytes its owner has not
//! read yet.
//!
//! `/proc/net/tcp` says the same, but reading it walks the kernel's whole connection hash
//! table, milliseconds on a machine with much memory; an exact lookup takes microseconds.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

use socket2::{Domain, Protocol, Type};
use testrig::Host;

/// `SOCK_DIAG_BY_FAMILY` (linux/sock_diag.h).
const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// `INET_DIAG_NOCOOKIE`: look the socket up by its addresses only.
const NO_COOKIE: u32 = !0;
const HEADER: usize = 16; // struct nlmsghdr
const REQUEST: usize = 56; // struct inet_diag_req_v2
/// Where `idiag_rqueue` sits in a reply: after the header, four bytes of family, state,
/// timer and retransmits, the 48-byte socket id and `idiag_expires`.
const RQUEUE_AT: usize = HEADER + 4 + 48 + 4;

/// A netlink socket for socket-diagnostics queries.
#[derive(Debug)]
pub(crate) struct SockDiag {
    fd: OwnedFd,
}

impl SockDiag {
    /// A socket-diagnostics socket of `host`'s network namespace: it sees that
    /// namespace's sockets only.
    pub(crate) async fn open(host: &Host) -> io::Result<Self> {
        let socket = host
            .socket(
                Domain::from(libc::AF_NETLINK),
                Type::DGRAM,
                Some(Protocol::from(libc::NETLINK_SOCK_DIAG)),
            )
            .await?;
        // Queries block for their reply, which must come in time: a receive that waited
        // would stall the caller.
        socket.set_nonblocking(false)?;
        socket.set_read_timeout(Some(Duration::from_secs(1)))?;
        let fd = OwnedFd::from(socket);
        Ok(Self { fd })
    }

    /// The unread bytes of the TCP socket whose own address is `local` and whose peer is
    /// `peer`; `None` when no such socket is in this network namespace.
    pub(crate) fn unread(&self, local: SocketAddr, peer: SocketAddr) -> io::Result<Option<u64>> {
        let as_v4 = match (local.ip(), peer.ip()) {
            (IpAddr::V4(_), IpAddr::V4(_)) => self.query(libc::AF_INET, local, peer)?,
            _ => None,
        };
        match as_v4 {
            Some(found) => Ok(Some(found)),
            // A dual-stack listener's connection from an IPv4 client is an IPv6 socket
            // with v4-mapped addresses.
            None => self.query(libc::AF_INET6, local, peer),
        }
    }

    fn query(&self, family: i32, local: SocketAddr, peer: SocketAddr) -> io::Result<Option<u64>> {
        let mut message = [0u8; HEADER + REQUEST];
        message[0..4].copy_from_slice(&((HEADER + REQUEST) as u32).to_ne_bytes());
        message[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        message[6..8].copy_from_slice(&(libc::NLM_F_REQUEST as u16).to_ne_bytes());
        let request = &mut message[HEADER..];
        request[0] = family as u8;
        request[1] = libc::IPPROTO_TCP as u8;
        request[4..8].copy_from_slice(&u32::MAX.to_ne_bytes()); // every state
        let id = &mut request[8..];
        id[0..2].copy_from_slice(&local.port().to_be_bytes());
        id[2..4].copy_from_slice(&peer.port().to_be_bytes());
        id[4..20].copy_from_slice(&address_bytes(local.ip(), family));
        id[20..36].copy_from_slice(&address_bytes(peer.ip(), family));
        id[40..44].copy_from_slice(&NO_COOKIE.to_ne_bytes());
        id[44..48].copy_from_slice(&NO_COOKIE.to_ne_bytes());

        // SAFETY: a zeroed `sockaddr_nl` with its family set addresses the kernel.
        let mut kernel: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        kernel.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        // SAFETY: the buffer and the address are valid for the lengths given.
        let sent = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                message.as_ptr().cast(),
                message.len(),
                0,
                (&kernel as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut reply = [0u8; 512];
        // SAFETY: `reply` is writable for its length.
        let got = unsafe {
            libc::recv(
                self.fd.as_raw_fd(),
                reply.as_mut_ptr().cast(),
                reply.len(),
                0,
            )
        };
        if got < 0 {
            return Err(io::Error::last_os_error());
        }
        let reply = &reply[..got as usize];
        if reply.len() < HEADER {
            return Err(io::Error::other("short sock_diag reply"));
        }
        let kind = u16::from_ne_bytes([reply[4], reply[5]]);
        if kind == libc::NLMSG_ERROR as u16 {
            // An error message: 0 would be an acknowledgement, ENOENT "no such socket".
            let code = reply
                .get(HEADER..HEADER + 4)
                .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
                .unwrap_or(0);
            return match -code {
                libc::ENOENT => Ok(None),
                0 => Ok(None),
                errno => Err(io::Error::from_raw_os_error(errno)),
            };
        }
        let rqueue = reply
            .get(RQUEUE_AT..RQUEUE_AT + 4)
            .ok_or_else(|| io::Error::other("short sock_diag message"))?;
        Ok(Some(u64::from(u32::from_ne_bytes([
            rqueue[0], rqueue[1], rqueue[2], rqueue[3],
        ]))))
    }
}

/// An address as `inet_diag_sockid` holds it: 16 bytes in network order, an IPv4
/// address in the first four (or v4-mapped, for an IPv6 query).
fn address_bytes(ip: IpAddr, family: i32) -> [u8; 16] {
    let mut bytes = [0u8; 16];
    match (ip, family) {
        (IpAddr::V4(v4), libc::AF_INET) => bytes[..4].copy_from_slice(&v4.octets()),
        (IpAddr::V4(v4), _) => bytes = v4.to_ipv6_mapped().octets(),
        (IpAddr::V6(v6), _) => bytes = v6.octets(),
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[tokio::test]
    async fn a_sockets_unread_bytes_are_found_by_its_addresses() {
        let diag = SockDiag::open(&Host::local()).await.unwrap();
        for listen in ["127.0.0.1:0", "[::]:0"] {
            let listener = std::net::TcpListener::bind(listen).unwrap();
            let port = listener.local_addr().unwrap().port();
            let mut client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
            let (mut server, _) = listener.accept().unwrap();
            let (ours, theirs) = (client.local_addr().unwrap(), client.peer_addr().unwrap());
            client.write_all(&[7u8; 1000]).unwrap();
            let give_up = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while diag.unread(theirs, ours).unwrap() != Some(1000) {
                assert!(
                    std::time::Instant::now() < give_up,
                    "{listen}: never saw 1000"
                );
                std::thread::yield_now();
            }
            server.read_exact(&mut [0u8; 1000]).unwrap();
            assert_eq!(diag.unread(theirs, ours).unwrap(), Some(0), "{listen}");
        }
    }

    #[tokio::test]
    async fn a_socket_not_on_this_machine_is_not_found() {
        let diag = SockDiag::open(&Host::local()).await.unwrap();
        let local: SocketAddr = "192.0.2.1:5201".parse().unwrap();
        let peer: SocketAddr = "127.0.0.1:1".parse().unwrap();
        assert_eq!(diag.unread(local, peer).unwrap(), None);
    }
}
