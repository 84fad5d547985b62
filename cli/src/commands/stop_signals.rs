use tokio::signal::unix::{Signal, SignalKind, signal};

/// The signals that ask a run to stop: SIGINT (Ctrl-C), SIGTERM, and SIGHUP (the terminal
/// was closed), listened for together from the moment [`listen`](Self::listen) returns (so
/// a signal sent right after, say, a rig said it is up is caught).
///
/// Once tokio listens for these signals they no longer kill the process: the command
/// stops what it runs and exits when one arrives.
#[derive(Debug)]
pub(crate) struct StopSignals {
    interrupt: Signal,
    terminate: Signal,
    hangup: Signal,
}

impl StopSignals {
    /// Starts listening; must be called inside the tokio runtime.
    pub(crate) fn listen() -> std::io::Result<Self> {
        Ok(Self {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
            hangup: signal(SignalKind::hangup())?,
        })
    }

    /// Resolves with the name of the next one received (`"SIGINT"`, `"SIGTERM"` or
    /// `"SIGHUP"`).
    pub(crate) async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.interrupt.recv() => "SIGINT",
            _ = self.terminate.recv() => "SIGTERM",
            _ = self.hangup.recv() => "SIGHUP",
        }
    }
}
