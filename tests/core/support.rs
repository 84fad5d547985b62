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

/// What [`Error::Start`] says: the drivers that failed and those skipped.
pub struct StartFailure {
    pub failures: Vec<testrig::LifecycleError>,
    pub skipped: Vec<String>,
    message: String,
}

impl std::fmt::Display for StartFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// The start error inside `error`, or a panic saying what it was instead.
pub fn start_error(error: Error) -> StartFailure {
    let message = error.to_string();
    match error {
        Error::Start {
            failures, skipped, ..
        } => StartFailure {
            failures,
            skipped,
            message,
        },
        other => panic!("expected a start error, got: {other}"),
    }
}
