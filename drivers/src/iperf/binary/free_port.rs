//! Choosing a port for a program that refuses port 0.

use std::io;
use std::net::{IpAddr, SocketAddr};

use testrig::Host;

/// A TCP port on `ip` of `host` that was free a moment ago: binds `ip:0` there, reads the
/// port the kernel chose, and closes the socket. Another program may take it before it is
/// used, so a caller retries on "address in use".
///
/// The probe is made on the host the program will run on: a port free on this machine says
/// nothing of an emulated host's ports, and this machine may not even have `ip`.
pub(crate) async fn pick_free_port(host: &Host, ip: IpAddr) -> io::Result<u16> {
    let address = SocketAddr::new(ip, 0);
    let socket = host.tcp_socket(address).await?;
    // As `std::net::TcpListener::bind` sets it: the port is free again the moment the
    // probe closes. Binding alone reserves the port; no need to listen.
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    Ok(socket.local_addr()?.port())
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
}
