//! Opening data and control sockets the way iperf3 peers expect them.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::time::Duration;

use socket2::{Domain, Protocol as SockProtocol, SockRef, Type};
use testrig::Host;
use tokio::net::{TcpStream, UdpSocket};

use crate::iperf::error::{IperfError, Phase, iperf3_code};
use crate::iperf::protocol::{UDP_CONNECT_MSG, is_connect_reply};
use crate::iperf::stream_options::StreamOptions;

/// Socket buffers asked for on UDP sockets (the kernel caps them at its maximum); large
/// buffers absorb the bursts of a paced sender.
const UDP_BUFFER: usize = 4 * 1024 * 1024;

fn unspecified_like(addr: &SocketAddr) -> IpAddr {
    match addr {
        SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        SocketAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    }
}

/// Where a client socket connects from: a local address (`-B`), port (`--cport`) and
/// network device (`--bind-dev`), each if given.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LocalEnd<'a> {
    pub(crate) ip: Option<IpAddr>,
    pub(crate) port: Option<u16>,
    pub(crate) device: Option<&'a str>,
}

impl LocalEnd<'_> {
    /// The address to bind, if any part of it was asked for.
    fn address(&self, server: &SocketAddr) -> Option<SocketAddr> {
        (self.ip.is_some() || self.port.is_some()).then(|| {
            SocketAddr::new(
                self.ip.unwrap_or_else(|| unspecified_like(server)),
                self.port.unwrap_or(0),
            )
        })
    }
}

/// Connects a TCP socket made on `host` to `server` within `timeout`, from `local`; a data
/// stream's socket gets `options` set before it connects, as iperf3 sets them.
pub(crate) async fn connect_tcp(
    host: &Host,
    server: SocketAddr,
    local: LocalEnd<'_>,
    options: Option<&StreamOptions>,
    timeout: Duration,
) -> Result<TcpStream, IperfError> {
    let error = |source| IperfError::Connect {
        addr: server,
        source,
    };
    // The socket belongs to the host's network namespace from birth; binding a device,
    // an address and connecting then happen there, whichever thread does them.
    let socket = host.tcp_socket(server).await.map_err(error)?;
    if let Some(device) = local.device {
        socket.bind_device(Some(device.as_bytes())).map_err(error)?;
    }
    if let Some(address) = local.address(&server) {
        socket.bind(address).map_err(error)?;
    }
    if let Some(options) = options {
        prepare_tcp(&SockRef::from(&socket), options)?;
    }
    match tokio::time::timeout(timeout, socket.connect(server)).await {
        // Connected to itself (see `testrig::host::refuse_self_connection`): refused, in
        // the OS's words, as iperf3 would have it.
        Ok(Ok(stream)) => testrig::host::refuse_self_connection(stream)
            .map_err(|_| error(std::io::Error::from_raw_os_error(libc::ECONNREFUSED))),
        Ok(Err(source)) => Err(error(source)),
        Err(_) => Err(error(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("no answer within {timeout:?}"),
        ))),
    }
}

/// Opens a client UDP stream from `host`: connects to the server's port, announces itself
/// and waits for the server's reply, within `timeout`.
pub(crate) async fn connect_udp(
    host: &Host,
    server: SocketAddr,
    local: LocalEnd<'_>,
    options: &StreamOptions,
    timeout: Duration,
) -> Result<UdpSocket, IperfError> {
    let error = |source| IperfError::Connect {
        addr: server,
        source,
    };
    let address = local
        .address(&server)
        .unwrap_or_else(|| SocketAddr::new(unspecified_like(&server), 0));
    let socket = host
        .socket(
            Domain::for_address(server),
            Type::DGRAM,
            Some(SockProtocol::UDP),
        )
        .await
        .map_err(error)?;
    if let Some(device) = local.device {
        socket.bind_device(Some(device.as_bytes())).map_err(error)?;
    }
    socket.bind(&address.into()).map_err(error)?;
    let socket = UdpSocket::from_std(socket.into()).map_err(error)?;
    socket.connect(server).await.map_err(error)?;
    enlarge_buffers(&socket);
    apply_udp(&socket, options)?;
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

/// A UDP socket made on `host`, bound to `addr` (and `device`, if given) with
/// `SO_REUSEADDR`, so the server can keep one per stream on the test port, as iperf3 does.
pub(crate) async fn bind_udp_shared(
    host: &Host,
    addr: SocketAddr,
    device: Option<&str>,
) -> std::io::Result<UdpSocket> {
    let socket = host
        .socket(
            Domain::for_address(addr),
            Type::DGRAM,
            Some(SockProtocol::UDP),
        )
        .await?;
    if let Some(device) = device {
        socket.bind_device(Some(device.as_bytes()))?;
    }
    socket.set_reuse_address(true)?;
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

/// Sets an integer socket option.
fn set_int(
    sock: &SockRef<'_>,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    set_raw(sock, level, name, &value.to_ne_bytes())
}

fn set_raw(
    sock: &SockRef<'_>,
    level: libc::c_int,
    name: libc::c_int,
    value: &[u8],
) -> io::Result<()> {
    // SAFETY: the descriptor is borrowed for the call; `value` is a valid buffer of the
    // length passed, which the kernel only reads.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            level,
            name,
            value.as_ptr().cast(),
            value.len() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The congestion control algorithm of a TCP socket, as `getsockopt(TCP_CONGESTION)` tells.
pub(crate) fn congestion_of(sock: &SockRef<'_>) -> io::Result<String> {
    let mut name = [0u8; 16];
    let mut len = name.len() as libc::socklen_t;
    // SAFETY: the descriptor is borrowed for the call; `name` and `len` are valid and
    // writable, and `len` holds the buffer's size.
    let rc = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_CONGESTION,
            name.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    let text = &name[..(len as usize).min(name.len())];
    let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
    Ok(String::from_utf8_lossy(&text[..end]).into_owned())
}

/// Which side is setting up its stream sockets: iperf3's client fails on a congestion
/// control algorithm its kernel lacks, its server warns and keeps the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Client,
    Server,
}

/// Applies what must be in place before a TCP connection is established (the client calls
/// it before connecting, as iperf3's `iperf_tcp_connect` does): `TCP_NODELAY`,
/// `TCP_MAXSEG`, the socket buffers (checked, as iperf3 checks them) and fair-queuing
/// pacing.
pub(crate) fn prepare_tcp(sock: &SockRef<'_>, o: &StreamOptions) -> Result<(), IperfError> {
    if o.no_delay {
        sock.set_tcp_nodelay(true).map_err(|e| {
            IperfError::socket_option("no_delay", true, iperf3_code::SET_NODELAY, Some(e))
        })?;
    }
    if let Some(mss) = o.mss {
        set_int(
            sock,
            libc::IPPROTO_TCP,
            libc::TCP_MAXSEG,
            mss as libc::c_int,
        )
        .map_err(|e| IperfError::socket_option("mss", mss, iperf3_code::SET_MSS, Some(e)))?;
    }
    set_window(sock, o)?;
    set_send_timeout(sock, o)?;
    set_fq_rate(sock, o);
    Ok(())
}

/// `TCP_USER_TIMEOUT` in milliseconds (`--snd-timeout`).
fn set_send_timeout(sock: &SockRef<'_>, o: &StreamOptions) -> Result<(), IperfError> {
    let Some(timeout) = o.send_timeout else {
        return Ok(());
    };
    let millis = timeout.as_millis().min(i32::MAX as u128) as libc::c_int;
    set_int(sock, libc::IPPROTO_TCP, libc::TCP_USER_TIMEOUT, millis).map_err(|e| {
        IperfError::socket_option(
            "send_timeout",
            format!("{timeout:?}"),
            iperf3_code::SET_USER_TIMEOUT,
            Some(e),
        )
    })
}

/// `SO_SNDBUF`/`SO_RCVBUF` to the window asked for, then read back: less than asked is
/// iperf3's "socket buffer size not set correctly".
pub(crate) fn set_window(sock: &SockRef<'_>, o: &StreamOptions) -> Result<(), IperfError> {
    let Some(window) = o.window else {
        return Ok(());
    };
    let size = window as usize;
    let set_error = |e| IperfError::socket_option("window", window, iperf3_code::SET_BUF, Some(e));
    sock.set_recv_buffer_size(size).map_err(set_error)?;
    sock.set_send_buffer_size(size).map_err(set_error)?;
    let actual = (sock.send_buffer_size().map_err(set_error)?)
        .min(sock.recv_buffer_size().map_err(set_error)?);
    if actual < size {
        return Err(IperfError::socket_option(
            "window",
            format!("{window} (the kernel granted {actual})"),
            iperf3_code::SET_BUF2,
            None,
        ));
    }
    Ok(())
}

/// `SO_MAX_PACING_RATE` in bytes/s; a kernel that refuses it gets a warning, as in iperf3.
fn set_fq_rate(sock: &SockRef<'_>, o: &StreamOptions) {
    let Some(rate) = o.fq_rate else {
        return;
    };
    let bytes_per_second = (rate / 8).min(u64::from(u32::MAX)) as u32;
    if bytes_per_second > 0
        && let Err(error) = set_raw(
            sock,
            libc::SOL_SOCKET,
            libc::SO_MAX_PACING_RATE,
            &bytes_per_second.to_ne_bytes(),
        )
    {
        tracing::warn!(%error, rate, "Unable to set socket pacing");
    }
}

/// Sets the congestion control algorithm asked for on a TCP data socket and returns the one
/// in use (iperf3's `congestion_used`).
pub(crate) fn set_congestion(
    sock: &SockRef<'_>,
    o: &StreamOptions,
    side: Side,
) -> Result<Option<String>, IperfError> {
    if let Some(algorithm) = &o.congestion
        && let Err(error) = set_raw(
            sock,
            libc::IPPROTO_TCP,
            libc::TCP_CONGESTION,
            algorithm.as_bytes(),
        )
    {
        if side == Side::Server && error.raw_os_error() == Some(libc::ENOENT) {
            tracing::warn!(algorithm, "TCP congestion control algorithm not supported");
        } else {
            return Err(IperfError::socket_option(
                "congestion",
                algorithm,
                iperf3_code::SET_CONGESTION,
                Some(error),
            ));
        }
    }
    match congestion_of(sock) {
        Ok(name) => Ok(Some(name)),
        Err(error) if o.congestion.is_some() => Err(IperfError::socket_option(
            "congestion",
            o.congestion.as_deref().unwrap_or_default(),
            iperf3_code::SET_CONGESTION,
            Some(error),
        )),
        Err(_) => Ok(Some("unknown".to_owned())),
    }
}

/// What iperf3's `iperf_init_stream` sets on every data socket: the TOS byte (IPv6: the
/// traffic class) and, on IPv4 UDP streams, Don't Fragment.
pub(crate) fn apply_ip_options(
    sock: &SockRef<'_>,
    o: &StreamOptions,
    local: SocketAddr,
    udp: bool,
) -> Result<(), IperfError> {
    let v6 = local.is_ipv6();
    if o.tos > 0 {
        let (level, name, code) = if v6 {
            (libc::IPPROTO_IPV6, libc::IPV6_TCLASS, iperf3_code::SET_COS)
        } else {
            (libc::IPPROTO_IP, libc::IP_TOS, iperf3_code::SET_TOS)
        };
        set_int(sock, level, name, libc::c_int::from(o.tos))
            .map_err(|e| IperfError::socket_option("tos", o.tos, code, Some(e)))?;
    }
    if o.dont_fragment && udp && !v6 {
        set_int(
            sock,
            libc::IPPROTO_IP,
            libc::IP_MTU_DISCOVER,
            libc::IP_PMTUDISC_DO,
        )
        .map_err(|e| {
            IperfError::socket_option(
                "dont_fragment",
                true,
                iperf3_code::SET_DONT_FRAGMENT,
                Some(e),
            )
        })?;
    }
    Ok(())
}

/// Applies the server's side of the options to an accepted TCP data socket: Nagle, the
/// buffers, its send timeout and pacing, the congestion control algorithm and the IP options (the MSS is
/// set on the listener, where it shapes the handshake). Returns the algorithm in use.
pub(crate) fn apply_server_tcp(
    stream: &TcpStream,
    o: &StreamOptions,
) -> Result<Option<String>, IperfError> {
    let sock = SockRef::from(stream);
    sock.set_tcp_nodelay(o.no_delay).map_err(|e| {
        IperfError::socket_option("no_delay", o.no_delay, iperf3_code::SET_NODELAY, Some(e))
    })?;
    set_window(&sock, o)?;
    set_send_timeout(&sock, o)?;
    set_fq_rate(&sock, o);
    let local = stream
        .local_addr()
        .map_err(IperfError::io(Phase::CreateStreams))?;
    apply_ip_options(&sock, o, local, false)?;
    set_congestion(&sock, o, Side::Server)
}

/// Applies the options to a UDP data socket, either side: the buffers (when asked; the
/// engine's own large ones otherwise), pacing and the IP options.
pub(crate) fn apply_udp(socket: &UdpSocket, o: &StreamOptions) -> Result<(), IperfError> {
    let sock = SockRef::from(socket);
    set_window(&sock, o)?;
    set_fq_rate(&sock, o);
    let local = socket
        .local_addr()
        .map_err(IperfError::io(Phase::CreateStreams))?;
    apply_ip_options(&sock, o, local, true)
}

/// Sets `TCP_MAXSEG` on the server's listener (0: back to the default), so the streams
/// that connect next advertise it in their handshake, as iperf3's server does.
pub(crate) fn set_listener_mss(
    listener: &tokio::net::TcpListener,
    mss: u32,
) -> Result<(), IperfError> {
    set_int(
        &SockRef::from(listener),
        libc::IPPROTO_TCP,
        libc::TCP_MAXSEG,
        mss as libc::c_int,
    )
    .map_err(|e| IperfError::socket_option("mss", mss, iperf3_code::SET_MSS, Some(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn connected_pair() -> (TcpStream, TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap());
        let (client, accepted) = tokio::join!(client, listener.accept());
        (client.unwrap(), accepted.unwrap().0)
    }

    #[tokio::test]
    async fn an_unknown_algorithm_fails_a_client_but_a_server_keeps_its_default() {
        let (client, server) = connected_pair().await;
        let asked = StreamOptions::new().congestion("no-such-cc");
        let default = congestion_of(&SockRef::from(&server)).unwrap();
        let used = set_congestion(&SockRef::from(&server), &asked, Side::Server).unwrap();
        assert_eq!(used.as_deref(), Some(default.as_str()));
        match set_congestion(&SockRef::from(&client), &asked, Side::Client) {
            Err(IperfError::SocketOption { code, .. }) => {
                assert_eq!(code, iperf3_code::SET_CONGESTION);
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn the_client_side_options_are_set_before_connecting() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let asked = StreamOptions::new()
            .mss(1200)
            .no_delay(true)
            .window(64 * 1024)
            .send_timeout(Duration::from_millis(2500));
        let local = Host::local();
        let (stream, _) = tokio::join!(
            connect_tcp(
                &local,
                listener.local_addr().unwrap(),
                LocalEnd::default(),
                Some(&asked),
                Duration::from_secs(5)
            ),
            listener.accept()
        );
        let stream = stream.unwrap();
        let sock = SockRef::from(&stream);
        assert!(sock.tcp_nodelay().unwrap());
        assert!(sock.tcp_mss().unwrap() <= 1200);
        assert_eq!(sock.recv_buffer_size().unwrap(), 128 * 1024);
        assert_eq!(
            sock.tcp_user_timeout().unwrap(),
            Some(Duration::from_millis(2500))
        );
    }

    #[tokio::test]
    async fn the_server_side_options_are_what_the_kernel_reports_afterwards() {
        let (_client, server) = connected_pair().await;
        let asked = StreamOptions::new()
            .congestion("reno")
            .send_timeout(Duration::from_millis(1500))
            .no_delay(true)
            .window(128 * 1024)
            .tos(0x28);
        let used = apply_server_tcp(&server, &asked).unwrap();
        assert_eq!(used.as_deref(), Some("reno"));
        let sock = SockRef::from(&server);
        assert!(sock.tcp_nodelay().unwrap());
        assert_eq!(
            sock.tcp_user_timeout().unwrap(),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(sock.tos_v4().unwrap(), 0x28);
        // Linux doubles the size asked for, to leave room for its bookkeeping.
        assert_eq!(sock.recv_buffer_size().unwrap(), 256 * 1024);
        assert_eq!(sock.send_buffer_size().unwrap(), 256 * 1024);
    }
}
