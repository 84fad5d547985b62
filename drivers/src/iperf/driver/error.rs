//! What can go wrong in an iperf driver, naming the driver.

use std::time::Duration;

use crate::iperf::binary::Iperf3BinaryError;
use crate::iperf::error::IperfError;

/// An error of [`IperfServer`](super::IperfServer) or [`IperfClient`](super::IperfClient).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IperfDriverError {
    /// An option is out of range or inconsistent.
    #[error("driver `{driver}`: option `{field}` = {value}: {reason}")]
    InvalidOption {
        /// The driver.
        driver: String,
        /// The option (`parallel`, `block_size`, `port`…).
        field: &'static str,
        /// The value given.
        value: String,
        /// Why it is refused.
        reason: String,
    },
    /// The driver is not started.
    #[error("driver `{driver}` is not started")]
    NotStarted {
        /// The driver.
        driver: String,
    },
    /// The host does not resolve to an address.
    #[error("driver `{driver}`: host `{host}` does not resolve: {source}")]
    Resolve {
        /// The driver.
        driver: String,
        /// The host.
        host: String,
        /// The resolver's error.
        #[source]
        source: std::io::Error,
    },
    /// The native engine failed.
    #[error("driver `{driver}`: {source}")]
    Native {
        /// The driver.
        driver: String,
        /// The engine's error.
        #[source]
        source: IperfError,
    },
    /// The iperf3-binary engine failed.
    #[error("driver `{driver}`: {source}")]
    Binary {
        /// The driver.
        driver: String,
        /// The engine's error.
        #[source]
        source: Iperf3BinaryError,
    },
    /// A measurement did not finish within its deadline.
    #[error("driver `{driver}`: the iperf measurement did not finish within {after:?}")]
    Timeout {
        /// The driver.
        driver: String,
        /// The deadline.
        after: Duration,
    },
    /// The driver was stopped while a measurement ran.
    #[error("driver `{driver}`: the iperf measurement was cancelled because the driver stopped")]
    Cancelled {
        /// The driver.
        driver: String,
    },
    /// The engine cannot do this.
    #[error("driver `{driver}`: {what} is not available with the {engine} engine")]
    Unsupported {
        /// The driver.
        driver: String,
        /// What was asked.
        what: &'static str,
        /// The engine, e.g. "iperf3 binary `iperf3`".
        engine: String,
    },
}

impl IperfDriverError {
    /// The error of `driver` for an engine error, turning an invalid configuration into an
    /// invalid option.
    pub(crate) fn native(driver: &str, source: IperfError) -> Self {
        match source {
            IperfError::InvalidConfig {
                field,
                value,
                reason,
            } => Self::InvalidOption {
                driver: driver.to_owned(),
                field,
                value,
                reason,
            },
            source => Self::Native {
                driver: driver.to_owned(),
                source,
            },
        }
    }

    pub(crate) fn binary(driver: &str, source: Iperf3BinaryError) -> Self {
        Self::Binary {
            driver: driver.to_owned(),
            source,
        }
    }
}

impl From<IperfDriverError> for testrig::Error {
    fn from(error: IperfDriverError) -> Self {
        testrig::Error::other(error)
    }
}
