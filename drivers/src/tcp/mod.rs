//! TCP drivers (testplan `TCPServer` / `TCPClient` parity) with one receive
//! contract for both sides: an overall deadline; exact-n, up-to-n and
//! until-delimiter reads; bytes read before a timeout kept for the next call; peer
//! close a distinct error; whole sends.

mod client;
mod connection_index;
mod delivery;
mod error;
mod hangups;
mod options;
pub(crate) mod probe;
mod server;
mod stream;
mod transport;

use std::net::SocketAddr;
use std::time::Duration;

pub use client::{DEFAULT_CONNECT_TIMEOUT, TcpClient};
pub use connection_index::ConnectionIndex;
pub use delivery::{Loss, Sent};
pub use error::TcpError;
pub use options::SocketOptions;
pub use server::TcpServer;
pub use stream::DEFAULT_SEND_TIMEOUT;

/// The first address `host:port` resolves to.
async fn resolve(driver: &str, host: &str, port: u16) -> Result<SocketAddr, TcpError> {
    let resolve_error = |source| TcpError::Resolve {
        driver: driver.to_owned(),
        host: host.to_owned(),
        source,
    };
    let mut addresses = tokio::net::lookup_host((host, port))
        .await
        .map_err(resolve_error)?;
    addresses.next().ok_or_else(|| {
        resolve_error(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no addresses",
        ))
    })
}

/// How long a line `receive_line` takes may be.
const LINE_LIMIT: usize = 1 << 20;

/// A received line without its `\n` (and `\r`), as text.
fn line_text(mut bytes: Vec<u8>) -> String {
    if bytes.last() == Some(&b'\n') {
        bytes.pop();
    }
    if bytes.last() == Some(&b'\r') {
        bytes.pop();
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The instant `timeout` from now. A timeout too long for the clock (e.g.
/// `Duration::MAX`) means "effectively forever": a deadline 30 years away, as
/// tokio's own `timeout` does, never an overflow panic.
fn deadline_after(timeout: Duration) -> tokio::time::Instant {
    testrig::deadline::deadline(tokio::time::Instant::now(), timeout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timeout_too_long_for_the_clock_is_a_far_deadline_not_a_panic() {
        let before = tokio::time::Instant::now();
        let far = deadline_after(Duration::MAX);
        assert!(far >= before + Duration::from_secs(29 * 365 * 86_400));
        let near = deadline_after(Duration::from_secs(1));
        assert!(near >= before + Duration::from_secs(1) && near < far);
    }
}
