use tokio::signal::unix::{Signal, SignalKind, signal};

/// The signals that ask a run to stop: SIGINT (Ctrl-C), SIGTERM, and SIGHUP (the terminal
/// was closed), listened for together from the moment [`listen`](Self::listen) returns (so
/// a signal sent right after, say, a rig said it is up is caught).
///
/// Once tokio listens for these signals they no longer kill the process: the program
/// should stop what it runs and exit when one arrives. The `testrig` command line listens
/// with it while a rig is up; [`EnvironmentBuilder::handle_signals`](crate::EnvironmentBuilder::handle_signals)
/// does it for an environment's run.
#[derive(Debug)]
pub struct StopSignals {
    interrupt: Signal,
    terminate: Signal,
    hangup: Signal,
}

impl StopSignals {
    /// Starts listening; must be called inside the tokio runtime.
    pub fn listen() -> std::io::Result<Self> {
        Ok(Self {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
            hangup: signal(SignalKind::hangup())?,
        })
    }

    /// Resolves with the name of the next one received (`"SIGINT"`, `"SIGTERM"` or
    /// `"SIGHUP"`).
    pub async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.interrupt.recv() => "SIGINT",
            _ = self.terminate.recv() => "SIGTERM",
            _ = self.hangup.recv() => "SIGHUP",
        }
    }
}

/// Resolves with the name of the first SIGINT, SIGTERM or SIGHUP received.
///
/// Note that once listened for, tokio keeps these signals handled for the rest of
/// the process: they no longer kill it by default. Programs that use this should
/// exit after their teardown.
pub(crate) async fn shutdown_signal() -> &'static str {
    match StopSignals::listen() {
        Ok(mut signals) => signals.recv().await,
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGINT/SIGTERM/SIGHUP; signals will not stop the environment");
            std::future::pending().await
        }
    }
}
