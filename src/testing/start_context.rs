use std::path::PathBuf;

use crate::driver::StartContext;

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
