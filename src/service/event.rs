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
}
