//! Why a [`ClientService`](super::ClientService) could not hand out a connection.

use std::error::Error;
use std::sync::Arc;
use std::time::Duration;

/// A shared error cause: one failure is delivered to every waiter it concerns.
pub type SharedError = Arc<dyn Error + Send + Sync>;

/// Why [`when_connected`](super::ClientService::when_connected) failed.
///
/// Cheap to clone: one failure is handed to every waiter whose limit it reached.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// A connection attempt failed.
    #[error("connecting to {target} failed (consecutive failure {failures})")]
    ConnectFailed {
        /// What the service connects to.
        target: Arc<str>,
        /// Consecutive failed attempts, this one included.
        failures: u32,
        /// The connector's error.
        #[source]
        source: SharedError,
    },
    /// A connection attempt (connect and `prepare_connection`) did not finish in time.
    #[error(
        "connecting to {target} timed out after {after:?} (connect and prepare_connection; consecutive failure {failures})"
    )]
    ConnectTimedOut {
        /// What the service connects to.
        target: Arc<str>,
        /// Consecutive failed attempts, this one included.
        failures: u32,
        /// The connect timeout.
        after: Duration,
    },
    /// `prepare_connection` returned an error: the connection was closed and the attempt
    /// counts as failed.
    #[error(
        "prepare_connection rejected the connection to {target} (consecutive failure {failures})"
    )]
    PrepareFailed {
        /// What the service connects to.
        target: Arc<str>,
        /// Consecutive failed attempts, this one included.
        failures: u32,
        /// The hook's error.
        #[source]
        source: SharedError,
    },
    /// The live connection was lost (only reported in events; waiters are not failed by
    /// a loss, they wait for the reconnection).
    #[error("the connection to {target} was lost")]
    ConnectionLost {
        /// What the service connects to.
        target: Arc<str>,
    },
    /// The retry policy gave up after the failure it carries; the service is stopped.
    #[error("gave up connecting to {target}: the retry policy allows no further attempt")]
    GaveUp {
        /// What the service connects to.
        target: Arc<str>,
        /// The last failure.
        #[source]
        last: Box<ServiceError>,
    },
    /// The service was stopped (or dropped) before a connection was made, or is stopped.
    #[error("the client service for {target} was stopped before a connection was made")]
    Cancelled {
        /// What the service connects to.
        target: Arc<str>,
    },
}
