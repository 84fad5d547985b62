use tokio::signal::unix::{Signal, SignalKind, signal};

/// SIGINT, SIGTERM and SIGHUP, listened for from the moment
/// [`Signals::install`] returns, so a signal sent right after the rig says it
/// is up is caught (the core's `shutdown_signal` only starts listening when
/// first polled). SIGHUP is what a closed terminal sends: it stops the rig as
/// SIGTERM does, with the teardown and the reports, instead of killing
/// `testrig` on the spot.
#[derive(Debug)]
pub(crate) struct Signals {
    interrupt: Signal,
    terminate: Signal,
    hangup: Signal,
}

impl Signals {
    /// Starts listening. Must run inside the tokio runtime.
    pub(crate) fn install() -> std::io::Result<Self> {
        Ok(Self {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
            hangup: signal(SignalKind::hangup())?,
        })
    }

    /// Resolves with the name of the next SIGINT, SIGTERM or SIGHUP.
    pub(crate) async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.interrupt.recv() => "SIGINT",
            _ = self.terminate.recv() => "SIGTERM",
            _ = self.hangup.recv() => "SIGHUP",
        }
    }
}
