//! Concrete testrig drivers: TCP server and client, processes, iperf.
#![deny(missing_docs)]
#![warn(missing_debug_implementations, unreachable_pub)]

pub mod app;
pub mod tcp;
