use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::Status;

/// One recorded change of a driver's status: an entry of its history, and what
/// [`Environment::events`](crate::Environment::events) announces.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    /// The driver.
    #[serde(default)]
    pub driver: String,
    /// The status before.
    pub from: Status,
    /// The status after.
    pub to: Status,
    /// Wall-clock time of the change.
    #[serde(with = "crate::report::rfc3339")]
    pub at: SystemTime,
    /// Time since the status tracker was created (monotonic).
    #[serde(with = "crate::report::seconds")]
    pub elapsed: Duration,
    /// Why, when there is something to say (an error, "restart", "failover").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}
