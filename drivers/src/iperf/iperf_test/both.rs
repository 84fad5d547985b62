//! The results of a measurement in each direction.

use serde::{Deserialize, Serialize};

use crate::iperf::result::IperfResult;

/// The two results of [`IperfTest::both`](super::IperfTest::both).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BothDirections {
    /// The device under test sent (it ran the client).
    pub upstream: IperfResult,
    /// The device under test received (it ran the server).
    pub downstream: IperfResult,
}
