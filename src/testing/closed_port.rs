//! A loopback port that refuses connections for as long as a test needs it to.

use std::net::{Ipv4Addr, SocketAddr};

use socket2::{Domain, Socket, Type};

/// A port on `127.0.0.1` that refuses connections while this value lives: a TCP socket bound
/// to it and never listening. Better than a port that was free a moment ago, which a test
/// running in parallel may have bound by the time it is dialled.
///
/// # Examples
///
/// ```
/// let closed = testrig::testing::ClosedPort::new();
/// assert!(std::net::TcpStream::connect(("127.0.0.1", closed.port())).is_err());
/// ```
#[derive(Debug)]
pub struct ClosedPort {
    port: u16,
    _held: Socket,
}

impl ClosedPort {
    /// Binds a port the kernel picks.
    ///
    /// # Panics
    /// When no TCP socket can be bound on `127.0.0.1`: a test cannot go on without one.
    #[must_use]
    pub fn new() -> Self {
        let held = Socket::new(Domain::IPV4, Type::STREAM, None).expect("a TCP socket");
        held.bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())
            .expect("bind 127.0.0.1:0");
        let port = held
            .local_addr()
            .ok()
            .and_then(|address| address.as_socket())
            .map(|address| address.port())
            .expect("the bound port");
        Self { port, _held: held }
    }

    /// The port.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Default for ClosedPort {
    fn default() -> Self {
        Self::new()
    }
}
