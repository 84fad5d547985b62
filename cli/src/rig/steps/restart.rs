use std::ops::Range;

use serde::Deserialize;
use testrig::{BoxError, Environment};
use toml::Spanned;

use super::{StepCheck, StepKind, StepRun};
use crate::progress::Notes;
use crate::rig::Problem;

/// `kind = "restart"`: stops a driver and starts it again (a TCP server keeps
/// its port), within the driver's stop and start timeouts.
///
/// ```toml
/// [[step]]
/// kind = "restart"
/// driver = "server"
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Restart {
    driver: Spanned<String>,
}

impl Restart {
    pub(crate) fn check(&self, check: &StepCheck) -> Result<(), Problem> {
        check.driver(&self.driver, &[])
    }

    pub(crate) async fn run(&self, env: &Environment) -> Result<String, BoxError> {
        env.resource(self.driver.get_ref())?.restart().await?;
        Ok(format!("restarted `{}`", self.driver.get_ref()))
    }
}

impl StepKind for Restart {
    fn check(&self, _table: Range<usize>, check: &StepCheck) -> Result<(), Problem> {
        Self::check(self, check)
    }

    fn run<'a>(&'a self, env: &'a Environment, _notes: Notes) -> StepRun<'a> {
        Box::pin(Self::run(self, env))
    }
}
