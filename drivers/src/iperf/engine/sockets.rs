//! Opening data and control sockets the way iperf3 peers expect them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use socket2::{Domain, Protocol as SockProtocol, SockRef, Socket, Type};
use tokio::net::{TcpSocket, TcpStream, UdpSocket};

use crate::iperf::error::IperfError;
use crate::iperf::protocol::{UDP_CONNECT_MSG, is_connect_reply};

/// Socket buffers asked for on UDP sockets (the kernel caps them at its maximum); large
/// buffers absorb the bursts of a paced sender.
const UDP_BUFFER: usize = 4 * 1024 * 1024;

fn unspecified_like(addr: &SocketAddr) -> IpAddr {
    match addr {
        SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        SocketAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    }
}

/// Connects a TCP socket to `server`, from `bind` if given, within `timeout`.
pub(crate) async fn connect_tcp(
    server: SocketAddr,
    bind: Option<IpAddr>,
    timeout: Duration,
) -> Result<TcpStream, IperfError> {
    let error = |source| IperfError::Connect {
        addr: server,
        source,
    };
    let socket = match server {
        SocketAddr::V4(_) => TcpSocket::new_v4(),
        SocketAddr::V6(_) => TcpSocket::new_v6(),
    }
    .map_err(error)?;
    if let Some(ip) = bind {
        socket.bind(SocketAddr::new(ip, 0)).map_err(error)?;
    }
    match tokio::time::timeout(timeout, socket.connect(server)).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(source)) => Err(error(source)),
        Err(_) => Err(error(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("no answer within {timeout:?}"),
        ))),
    }
}

/// Opens a client UDP stream: connects to the server's port, announces itself and waits for
/// the server's reply, within `timeout`.
pub(crate) async fn connect_udp(
    server: SocketAddr,
    bind: Option<IpAddr>,
    timeout: Duration,
) -> Result<UdpSocket, IperfError> {
    let error = |source| IperfError::Connect {
        addr: server,
        source,
    };
    let local = SocketAddr::new(bind.unwrap_or_else(|| unspecified_like(&server)), 0);
    let socket = UdpSocket::bind(local).await.map_err(error)?;
    socket.connect(server).await.map_err(error)?;
    enlarge_buffers(&socket);
    socket
        .send(&UDP_CONNECT_MSG.to_ne_bytes())
        .await
        .map_err(error)?;
    let handshake = async {
        let mut reply = vec![0u8; 65536];
        // In reverse mode a few data packets may overtake the reply, as iperf3 allows.
        for _ in 0..4 {
            let n = socket.recv(&mut reply).await?;
            if is_connect_reply(&reply[..n]) {
                return Ok(());
            }
        }
        Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "the server did not answer the UDP connect message",
        ))
    };
    match tokio::time::timeout(timeout, handshake).await {
        Ok(Ok(())) => Ok(socket),
        Ok(Err(source)) => Err(error(source)),
        Err(_) => Err(error(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("no UDP connect reply within {timeout:?}"),
        ))),
    }
}

/// A UDP socket bound to `addr` with `SO_REUSEADDR`, so the server can keep one per stream
/// on the test port, as iperf3 does.
pub(crate) fn bind_udp_shared(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    let socket = Socket::new(
        Domain::for_address(addr),
        Type::DGRAM,
        Some(SockProtocol::UDP),
    )?;
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    let socket = UdpSocket::from_std(socket.into())?;
    enlarge_buffers(&socket);
    Ok(socket)
}

fn enlarge_buffers(socket: &UdpSocket) {
    let sock = SockRef::from(socket);
    // Best effort: the kernel silently caps these at net.core.{r,w}mem_max.
    let _ = sock.set_recv_buffer_size(UDP_BUFFER);
    let _ = sock.set_send_buffer_size(UDP_BUFFER);
}
