use crate::env::StopSignals;

/// SIGINT, SIGTERM and SIGHUP, listened for from the first setup of a run to its end, so
/// a signal that arrives between two cases is seen by the next wait.
///
/// Once tokio listens for these signals they no longer kill the process: the
/// harness cancels the running step, tears the suite down and reports every
/// remaining case as not run.
#[derive(Debug)]
pub(crate) struct Interrupt {
    signals: Option<StopSignals>,
    received: Option<&'static str>,
}

impl Interrupt {
    /// Starts listening; must be called inside the runtime.
    pub(crate) fn listen() -> Self {
        let signals = match StopSignals::listen() {
            Ok(signals) => Some(signals),
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGINT/SIGTERM/SIGHUP; a signal will kill the suite without teardown");
                None
            }
        };
        Self {
            signals,
            received: None,
        }
    }

    /// The signal received so far, if any.
    pub(crate) fn received(&self) -> Option<&'static str> {
        self.received
    }

    /// Never interrupted: signals keep their default effect.
    pub(crate) fn ignore_signals() -> Self {
        Self {
            signals: None,
            received: None,
        }
    }

    /// Resolves with the name of the first SIGINT, SIGTERM or SIGHUP (at once if one
    /// was already received; never, when not listening).
    pub(crate) async fn recv(&mut self) -> &'static str {
        if let Some(signal) = self.received {
            return signal;
        }
        let signal = match &mut self.signals {
            Some(signals) => signals.recv().await,
            None => std::future::pending().await,
        };
        self.received = Some(signal);
        signal
    }
}
