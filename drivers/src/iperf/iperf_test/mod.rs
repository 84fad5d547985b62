//! `IperfTest`: one measurement end to end, as apetools' `IperfTest` and tuna's `Iperf` do
//! it — server up, optional gate, client run, server stopped — without their flaws.

mod both;
mod endpoint;
mod error;
mod gate;
#[allow(clippy::module_inception)]
mod iperf_test;

pub use both::BothDirections;
pub use endpoint::Endpoint;
pub use error::IperfTestError;
pub use gate::Gate;
pub use iperf_test::IperfTest;
