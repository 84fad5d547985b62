//! A fault-injecting TCP proxy (Toxiproxy's toxics, in-process, no root): put it
//! between a client and a server, then add latency, bandwidth limits, blackholes,
//! resets and more to either direction while the test runs.
//!
//! - [`FaultProxy`]: the driver, wired by reference like any other.
//! - [`ProxyEngine`]: the proxy itself, usable outside an environment.
//! - [`Toxic`], [`ToxicKind`], [`Stream`]: what to inject, with Toxiproxy's names,
//!   attributes and units.
//! - [`ConnectionStats`], [`ProxyEvent`]: what happened to each connection.
//! - [`ToxiproxyApi`], [`ProxyRegistry`]: Toxiproxy's HTTP API over a set of proxies,
//!   for the Toxiproxy clients of any language.
//!
//! The guide is `docs/fault-proxy.md`.

mod api;
mod chain;
mod connection;
mod counters;
mod driver;
mod engine;
mod error;
mod link;
mod pump;
mod random;
mod slot;
mod splice;
mod stats;
mod table;
mod toxic;

pub use api::{ProxyRegistry, ToxiproxyApi};
pub use counters::ProxyCounters;
pub use driver::FaultProxy;
pub use engine::ProxyEngine;
pub use error::FaultProxyError;
pub use stats::{ConnectionState, ConnectionStats, ProxyEvent, TimedEvent};
pub use toxic::{Stream, Toxic, ToxicKind};
