//! Choosing a port for a program that refuses port 0.

use std::io;
use std::net::{IpAddr, SocketAddr, TcpListener};

/// A TCP port on `ip` that was free a moment ago: binds `ip:0`, reads the port the kernel
/// chose, and closes the socket. Another program may take it before it is used, so a caller
/// retries on "address in use".
pub(crate) fn pick_free_port(ip: IpAddr) -> io::Result<u16> {
    let listener = TcpListener::bind(SocketAddr::new(ip, 0))?;
    Ok(listener.local_addr()?.port())
}
