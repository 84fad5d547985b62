//! Concrete testrig drivers: TCP server and client, processes, iperf, a fault-injecting proxy.
#![deny(missing_docs)]
#![warn(missing_debug_implementations, unreachable_pub)]

pub mod app;
pub mod fault_proxy;
pub mod iperf;
pub mod tcp;

/// The TCP guide's code blocks, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/tcp.md")]
struct TcpGuideDoctests;

/// The iperf guide's code blocks, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/iperf.md")]
struct IperfGuideDoctests;
/// The processes guide's code blocks, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/processes.md")]
struct ProcessGuideDoctests;

/// The public API map's code blocks, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/api.md")]
struct ApiMapDoctests;

/// The fault proxy guide's code blocks, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/fault-proxy.md")]
struct FaultProxyGuideDoctests;
