//! What can go wrong in an iperf test, naming its direction.

use std::time::Duration;

use crate::iperf::error::IperfError;

/// Why an [`IperfTest`](super::IperfTest) failed, before it is named by its direction.
#[derive(Debug, thiserror::Error)]
pub(super) enum Failure {
    #[error("gate `{gate}` did not open within {after:?}")]
    Gate { gate: String, after: Duration },
    #[error(transparent)]
    Measurement(#[from] IperfError),
    #[error(transparent)]
    Environment(#[from] testrig::Error),
}

impl Failure {
    pub(super) fn named(self, sender: &str, receiver: &str) -> IperfError {
        let (sender, receiver) = (sender.to_owned(), receiver.to_owned());
        match self {
            Failure::Gate { gate, after } => IperfError::GateTimeout {
                sender,
                receiver,
                gate,
                after,
            },
            Failure::Measurement(source) => IperfError::Test {
                sender,
                receiver,
                source: Box::new(source),
            },
            Failure::Environment(source) => IperfError::Environment {
                sender,
                receiver,
                source: Box::new(source),
            },
        }
    }
}
