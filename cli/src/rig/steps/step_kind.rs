//! The trait every kind of step implements.

use std::fmt::Debug;
use std::future::Future;
use std::ops::Range;
use std::pin::Pin;

use testrig::{BoxError, Environment};

use super::check::StepCheck;
use crate::progress::Notes;
use crate::rig::Problem;

/// A step running: on success, a few words on what it did.
pub(crate) type StepRun<'a> = Pin<Box<dyn Future<Output = Result<String, BoxError>> + Send + 'a>>;

/// What every kind of step does. A kind implements it in its own file,
/// usually by boxing its own `async fn run`.
pub(crate) trait StepKind: Debug + Send + Sync {
    /// Checks the drivers and references the step names; `table` is the step's
    /// header, for problems that are about the whole step.
    fn check(&self, table: Range<usize>, check: &StepCheck) -> Result<(), Problem>;

    /// Runs the step.
    fn run<'a>(&'a self, env: &'a Environment, notes: Notes) -> StepRun<'a>;
}
