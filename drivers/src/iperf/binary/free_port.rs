//! Choosing a port for a program that refuses port 0.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::{IpAddr, SocketAddr};

use testrig::Host;

/// The ports tried on an SSH host: above Linux's default ephemeral range (32768–60999), so
/// the remote kernel does not hand them out to outgoing connections meanwhile.
const REMOTE_PORTS: std::ops::RangeInclusive<u16> = 61000..=65535;

/// A TCP port on `ip` of `host` that was free a moment ago, or, on an SSH host, likely free.
///
/// On this machine and its emulated hosts it binds `ip:0` there, reads the port the kernel
/// chose, and closes the socket: the probe is made on the host the program will run on (a
/// port free on this machine says nothing of an emulated host's ports). Another program may
/// take it before it is used, so a caller retries on "address in use".
///
/// An SSH host's sockets cannot be bound from here, and asking the remote for a free port
/// costs a round trip over the connection (a one-shot command: ~0.1–0.4 s, a new sshd
/// session each) and a tool there beyond the program itself. So there it picks a random port
/// of [`REMOTE_PORTS`]: the caller's retry on "address in use" covers a taken port, as it
/// covers the race after a probe, and a collision is rare (a few thousand ports).
pub(crate) async fn pick_free_port(host: &Host, ip: IpAddr) -> io::Result<u16> {
    if host.is_ssh() {
        return Ok(random_remote_port());
    }
    let address = SocketAddr::new(ip, 0);
    let socket = host.tcp_socket(address).await?;
    // As `std::net::TcpListener::bind` sets it: the port is free again the moment the
    // probe closes. Binding alone reserves the port; no need to listen.
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    Ok(socket.local_addr()?.port())
}

/// A port of [`REMOTE_PORTS`], from the process's random hash keys and a counter.
fn random_remote_port() -> u16 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static DRAWS: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(DRAWS.fetch_add(1, Ordering::Relaxed));
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    let span = u64::from(REMOTE_PORTS.end() - REMOTE_PORTS.start()) + 1;
    let offset = u16::try_from(hasher.finish() % span).unwrap_or(0);
    REMOTE_PORTS.start() + offset
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_port_picked_is_free_to_bind_again() {
        let ip = IpAddr::from([127, 0, 0, 1]);
        let port = pick_free_port(&Host::local(), ip).await.unwrap();
        assert_ne!(port, 0);
        std::net::TcpListener::bind((ip, port)).expect("the probe closed its socket");
    }

    #[test]
    fn remote_ports_are_drawn_above_the_ephemeral_range_and_vary() {
        let ports: std::collections::HashSet<u16> = (0..64).map(|_| random_remote_port()).collect();
        assert!(
            ports.iter().all(|port| REMOTE_PORTS.contains(port)),
            "{ports:?}"
        );
        assert!(ports.len() > 32, "64 draws gave only {} ports", ports.len());
    }
}
