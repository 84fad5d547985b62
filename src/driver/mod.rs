//! The `Driver` trait and the lifecycle engine around it.

mod connection;
#[allow(clippy::module_inception)]
mod driver;
mod hooks;
mod resource;
mod spec;
mod start_context;
mod supervisor;

pub use connection::ConnectionInfo;
pub use driver::Driver;
pub(crate) use driver::Unsupported;
pub(crate) use hooks::Hook;
pub use resource::Resource;
pub use spec::{DEFAULT_HOOK_TIMEOUT, DEFAULT_START_TIMEOUT, DEFAULT_STOP_TIMEOUT, DriverSpec};
pub use start_context::StartContext;
pub use supervisor::Supervisor;
