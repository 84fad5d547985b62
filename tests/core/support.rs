use std::time::Duration;

use testrig::Error;

/// Milliseconds.
pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Whether a TCP connect to `127.0.0.1:port` is refused (nothing listens).
pub async fn refused(port: u16) -> bool {
    match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionRefused,
        Ok(_) => false,
    }
}

/// The start error inside `error`, or a panic saying what it was instead.
pub fn start_error(error: Error) -> testrig::error::StartError {
    match error {
        Error::Start(e) => e,
        other => panic!("expected a start error, got: {other}"),
    }
}
