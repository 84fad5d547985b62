//! A fault-injecting TCP proxy (Toxiproxy's toxics, in-process, no root): put it
//! between a client and a server, then add latency, bandwidth limits, blackholes,
//! resets and more to either direction while the test runs.
//!
//! - [`FaultProxy`]: the driver, wired by reference like any other.
//! - [`ProxyEngine`]: the proxy itself, usable outside an environment.
//! - [`Toxic`], [`ToxicKind`], [`Stream`]: what to inject, with Toxiproxy's names,
//!   attributes and units.
//! - [`ConnectionStats`], [`ProxyEvent`]: what happened to each connection.
//!
//! The guide is `docs/fault-proxy.md`.

mod chain;
mod connection;
mod driver;
mod engine;
mod error;
mod link;
mod pump;
mod random;
mod splice;
mod stats;
mod table;
mod toxic;

pub use driver::FaultProxy;
pub use engine::ProxyEngine;
pub use error::FaultProxyError;
pub use stats::{ConnectionState, ConnectionStats, ProxyEvent, TimedEvent};
pub use toxic::{Stream, Toxic, ToxicKind};
