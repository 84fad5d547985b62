//! testrig: run real things — TCP servers and clients, processes, iperf traffic —
//! while your tests run, wire their runtime values together, and always tear them down.
//!
//! An [`Environment`] holds [`Driver`]s. It starts them in dependency order (a
//! [`Ref`] to another driver's exported value is a dependency), the independent
//! ones concurrently; [`Environment::run`] tears everything down whatever the test
//! body does, and a [`Report`] tells what happened.
//!
//! # Examples
//! ```
//! use async_trait::async_trait;
//! use testrig::{BoxError, Driver, Environment, Exports, Param, Ref, RefKey, StartContext};
//!
//! #[derive(Debug)]
//! struct Server;
//! #[async_trait]
//! impl Driver for Server {
//!     fn name(&self) -> &str { "server" }
//!     fn export_keys(&self) -> Vec<String> { vec!["port".into()] }
//!     async fn start(&self, _: &StartContext) -> Result<(), BoxError> { Ok(()) }
//!     async fn stop(&self) -> Result<(), BoxError> { Ok(()) }
//!     fn exports(&self) -> Exports { [("port".to_owned(), 4000u16.into())].into() }
//! }
//!
//! #[derive(Debug)]
//! struct Client { port: Param<u16>, seen: std::sync::Mutex<Option<u16>> }
//! #[async_trait]
//! impl Driver for Client {
//!     fn name(&self) -> &str { "client" }
//!     fn references(&self) -> Vec<RefKey> { self.port.references() }
//!     async fn start(&self, ctx: &StartContext) -> Result<(), BoxError> {
//!         *self.seen.lock().unwrap() = Some(ctx.param(&self.port)?);
//!         Ok(())
//!     }
//!     async fn stop(&self) -> Result<(), BoxError> { Ok(()) }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> testrig::Result<()> {
//! let env = Environment::builder("quick")
//!     .driver(Server)
//!     .driver(Client { port: Ref::export("server", "port").into(), seen: Default::default() })
//!     .build()?;
//! env.run(|env| async move {
//!     let client = env.get::<Client>("client")?;
//!     assert_eq!(*client.seen.lock().unwrap(), Some(4000));
//!     Ok::<_, testrig::Error>(())
//! }).await?;
//! println!("{}", env.report().summary());
//! # Ok(()) }
//! ```
//!
//! # Cargo features
//! - `suite` (default): `testrig::suite`, test suites run by a `harness = false` test target.
//! - `testing`: `testrig::testing`, helpers for tests (scripted drivers, process trackers,
//!   scratch directories); turn it on under `[dev-dependencies]`.
#![deny(missing_docs)]
#![warn(missing_debug_implementations, unreachable_pub)]

pub mod context;
pub mod deadline;
pub mod driver;
pub mod env;
pub mod error;
pub mod host;
pub mod network;
pub mod process;
pub mod report;
pub mod service;
pub mod status;
#[cfg(feature = "suite")]
pub mod suite;
#[cfg(feature = "testing")]
pub mod testing;

pub use context::{Endpoint, Exports, FromValue, Param, Ref, RefKey, Template, Value, ValueTable};
pub use driver::{ConnectionInfo, Driver, DriverSpec, Resource, StartContext, Supervisor};
pub use env::{DriverName, Environment, EnvironmentBuilder, Handle};
pub use error::{BoxError, BuildError, Error, LifecycleError, Phase, Result};
pub use host::Host;
pub use report::{Outcome, Report};
pub use status::Status;

/// The README's code blocks, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// The concepts guide's code blocks, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../docs/concepts.md")]
struct ConceptsGuideDoctests;

/// The reconnect guide's code blocks, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../docs/reconnect.md")]
struct ReconnectGuideDoctests;

/// The driver-writing guide's code blocks, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../docs/writing-a-driver.md")]
struct DriverGuideDoctests;

/// The networks guide's code blocks, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../docs/networks.md")]
struct NetworksGuideDoctests;

/// The remote hosts guide's code blocks, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../docs/remote.md")]
struct RemoteGuideDoctests;

/// The suites guide's code blocks, compiled as doctests.
#[cfg(all(doctest, feature = "suite"))]
#[doc = include_str!("../docs/suites.md")]
struct SuitesGuideDoctests;
