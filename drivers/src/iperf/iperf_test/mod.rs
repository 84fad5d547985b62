//! `IperfTest`: one measurement end to end, as apetools' `IperfTest` and tuna's `Iperf` do
//! it — server up, optional gate, client run, server stopped — without their flaws.

mod both;
mod error;
mod gate;
#[allow(clippy::module_inception)]
mod iperf_test;
mod peer;

pub use both::BothDirections;
pub use gate::Gate;
pub use iperf_test::IperfTest;
pub use peer::Peer;
