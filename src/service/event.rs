//! What a [`ClientService`](super::ClientService) reports to its subscribers.

use std::time::Duration;

use super::{ServiceError, ServiceState};

/// One thing that happened to a [`ClientService`](super::ClientService), in order, from
/// [`subscribe`](super::ClientService::subscribe).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ServiceEvent {
    /// The service moved from one state to another.
    StateChanged {
        /// The state it left.
        from: ServiceState,
        /// The state it entered.
        to: ServiceState,
    },
    /// A connection attempt failed (connect error, timeout, or `prepare_connection`
    /// rejected it), or a live connection was lost.
    AttemptFailed {
        /// Why.
        error: ServiceError,
        /// When the next attempt starts; `None` when the policy gave up.
        retry_in: Option<Duration>,
    },
    /// The live connection was lost (closed or reset by the peer, or failed), before
    /// the service closed it on its side. Sent before the [`AttemptFailed`] that
    /// schedules the reconnection.
    ///
    /// [`AttemptFailed`]: ServiceEvent::AttemptFailed
    ConnectionLost {
        /// Which connection: the service numbers its attempts 1, 2, 3… and a
        /// connection carries the number of the attempt that made it.
        generation: u64,
        /// Bytes written to it that the peer had not acknowledged when the loss was
        /// noticed ([`Connection::unacknowledged_bytes`]); `Some(0)` means nothing
        /// was in flight. `None` when the transport cannot tell.
        ///
        /// [`Connection::unacknowledged_bytes`]: super::Connection::unacknowledged_bytes
        unacknowledged_bytes: Option<u64>,
    },
}
