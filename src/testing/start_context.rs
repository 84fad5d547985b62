use std::path::PathBuf;

use crate::Host;
use crate::driver::{DriverSpec, Resource, StartContext};

/// A [`StartContext`] outside any environment, to unit-test a driver: no
/// reference resolves, and a reported death goes nowhere.
///
/// # Examples
/// ```
/// let ctx = testrig::testing::start_context("server", std::env::temp_dir().join("server"));
/// assert_eq!(ctx.driver(), "server");
/// ```
pub fn start_context(driver: impl Into<String>, runpath: impl Into<PathBuf>) -> StartContext {
    StartContext::detached(driver.into(), runpath.into())
}

/// A lifecycle engine for one driver outside any environment (its runpath under
/// the system temp directory), to test a driver's or the engine's behaviour alone.
///
/// # Examples
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use testrig::{DriverSpec, Status};
/// use testrig::testing::{ScriptedDriver, resource};
///
/// let server = resource(DriverSpec::new(ScriptedDriver::new("server")));
/// server.start().await.unwrap();
/// assert_eq!(server.status(), Status::Started);
/// server.stop().await.unwrap();
/// # }
/// ```
pub fn resource(spec: impl Into<DriverSpec>) -> Resource {
    spec.into().into_resource()
}

/// [`resource`] placed on `host`: the driver makes its sockets and processes there, as
/// one an environment placed on a host of its network.
pub fn resource_on(spec: impl Into<DriverSpec>, host: Host) -> Resource {
    let resource = resource(spec);
    resource.place(host);
    resource
}
