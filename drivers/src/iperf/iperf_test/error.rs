//! What can go wrong in an iperf test, naming its direction.

use std::time::Duration;

use crate::iperf::driver::IperfDriverError;

/// An [`IperfTest`](super::IperfTest) failure. Each names the sending and the receiving
/// endpoint; whatever the test started was stopped before it was returned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IperfTestError {
    /// The gate did not open in time; the client was not started.
    #[error(
        "iperf test {sender} → {receiver}: gate `{gate}` did not open within {after:?}; \
         the client was not started"
    )]
    GateTimeout {
        /// The sending peer's name.
        sender: String,
        /// The receiving peer's name.
        receiver: String,
        /// The gate's name.
        gate: String,
        /// Its deadline.
        after: Duration,
    },
    /// The measurement failed.
    #[error("iperf test {sender} → {receiver}: {source}")]
    Measurement {
        /// The sending peer's name.
        sender: String,
        /// The receiving peer's name.
        receiver: String,
        /// The client's error.
        #[source]
        source: IperfDriverError,
    },
    /// The server or the client could not be built, started or stopped.
    #[error("iperf test {sender} → {receiver}: {source}")]
    Environment {
        /// The sending peer's name.
        sender: String,
        /// The receiving peer's name.
        receiver: String,
        /// The environment's error (with every driver's failure and log tail).
        #[source]
        source: testrig::Error,
    },
}

/// A failure inside one measurement, before the peers' names are added.
#[derive(Debug, thiserror::Error)]
pub(super) enum Failure {
    #[error("gate `{gate}` did not open within {after:?}")]
    Gate { gate: String, after: Duration },
    #[error(transparent)]
    Measurement(#[from] IperfDriverError),
    #[error(transparent)]
    Environment(#[from] testrig::Error),
}

impl Failure {
    pub(super) fn named(self, sender: &str, receiver: &str) -> IperfTestError {
        let (sender, receiver) = (sender.to_owned(), receiver.to_owned());
        match self {
            Failure::Gate { gate, after } => IperfTestError::GateTimeout {
                sender,
                receiver,
                gate,
                after,
            },
            Failure::Measurement(source) => IperfTestError::Measurement {
                sender,
                receiver,
                source,
            },
            Failure::Environment(source) => IperfTestError::Environment {
                sender,
                receiver,
                source,
            },
        }
    }
}

impl From<IperfTestError> for testrig::Error {
    fn from(error: IperfTestError) -> Self {
        testrig::Error::other(error)
    }
}
