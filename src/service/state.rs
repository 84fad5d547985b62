//! The states of a [`ClientService`](super::ClientService), as Twisted's `_ClientMachine`.

use std::fmt;

/// Where a [`ClientService`](super::ClientService) is in its life; the same states as
/// Twisted's `ClientService`.
///
/// ```text
///            start                 connected (and prepared)
///   Init ───────────► Connecting ─────────────────────────► Connected
///                      ▲   │ failed                            │ lost
///          retry timer │   ▼                                   │
///                      Waiting ◄───────────────────────────────┘
///
///   stop: Init/Connecting/Waiting ──► Stopped (at once, the attempt or timer cancelled)
///         Connected ──► Disconnecting ──lost──► Stopped
///   start while Disconnecting ──► Restarting ──lost──► Connecting (no backoff)
///   stop while Restarting ──► Disconnecting;   start while Stopped ──► Connecting
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ServiceState {
    /// Built, never started.
    Init,
    /// A connection attempt (connect, then `prepare_connection`) is in progress.
    Connecting,
    /// Waiting for the retry delay before the next attempt.
    Waiting,
    /// Connected; `when_connected` resolves at once.
    Connected,
    /// Stopping: the connection was asked to close and the service waits until it is gone.
    Disconnecting,
    /// Started again while disconnecting: reconnects, without backoff, once the old
    /// connection is gone.
    Restarting,
    /// Stopped: no connection, no attempt, no timer, no task.
    Stopped,
}

impl ServiceState {
    /// The state's name in lower case, as in Twisted (`"connecting"`).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Init => "init",
            Self::Connecting => "connecting",
            Self::Waiting => "waiting",
            Self::Connected => "connected",
            Self::Disconnecting => "disconnecting",
            Self::Restarting => "restarting",
            Self::Stopped => "stopped",
        }
    }
}

impl fmt::Display for ServiceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
