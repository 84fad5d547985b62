//! testrig: run real things — TCP servers and clients, processes, iperf traffic —
//! while your tests run, wire their runtime values together, and always tear them down.
#![deny(missing_docs)]
#![warn(missing_debug_implementations, unreachable_pub)]

pub mod process;
pub mod service;
