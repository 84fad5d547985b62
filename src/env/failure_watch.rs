use super::Environment;
use crate::error::{Error, FailedDriver, LifecycleError, failed_drivers_list};
use crate::status::Status;

/// Watches the drivers of an environment while one test body (or suite case)
/// runs, to tell which of them failed during it and were not restored.
///
/// A driver counts when it moved to `Failed` after [`begin`](Self::begin) and is
/// still `Failed` at [`end`](Self::end), unless the test declared it with
/// [`Environment::expect_failure`]. A driver that was already `Failed` when the
/// watch began and did not fail again does not count; neither does one the test
/// restarted successfully.
#[derive(Debug)]
pub(crate) struct FailureWatch {
    /// Per driver, in the environment's order: how many transitions and errors
    /// it had recorded when the watch began.
    marks: Vec<Mark>,
}

#[derive(Debug, Clone, Copy)]
struct Mark {
    transitions: usize,
    errors: usize,
}

impl FailureWatch {
    /// Starts watching `env`'s drivers from now on.
    pub(crate) fn begin(env: &Environment) -> Self {
        let marks = env
            .resources()
            .iter()
            .map(|r| Mark {
                transitions: r.history().len(),
                errors: r.errors().len(),
            })
            .collect();
        Self { marks }
    }

    /// The drivers that failed since the watch began, are still `Failed`, and
    /// were not expected to; ends the expectations declared for this run.
    pub(crate) fn end(self, env: &Environment) -> FailedDuring {
        let expected = std::mem::take(&mut env.inner.state().expected_failures);
        let drivers = env
            .resources()
            .iter()
            .zip(self.marks)
            .filter(|(r, _)| r.status() == Status::Failed && !expected.contains(r.name()))
            .filter_map(|(r, mark)| {
                let history = r.history();
                let failing = history
                    .get(mark.transitions..)
                    .unwrap_or_default()
                    .iter()
                    .rfind(|t| t.to == Status::Failed)?;
                // The error recorded with the failure says why; the transition's
                // note is the fallback for a failure recorded without one.
                let error = r
                    .errors()
                    .get(mark.errors..)
                    .and_then(<[_]>::last)
                    .map(|e| e.message.clone())
                    .unwrap_or_else(|| match &failing.note {
                        Some(note) => format!("driver `{}` failed: {note}", r.name()),
                        None => format!("driver `{}` failed (no reason recorded)", r.name()),
                    });
                Some(FailedDriver::new(r.name(), error))
            })
            .collect();
        FailedDuring(drivers)
    }
}

/// What a [`FailureWatch`] found: the drivers that failed, in the
/// environment's order.
#[derive(Debug)]
pub(crate) struct FailedDuring(Vec<FailedDriver>);

impl FailedDuring {
    /// Whether no driver failed unexpectedly.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The failure message of the test's case in the report, given how the
    /// test ended on its own (`None`: it returned `Ok`). Its own failure comes
    /// first, with the failed drivers noted after it; `None` when it passed.
    pub(crate) fn case_message(&self, environment: &str, own: Option<String>) -> Option<String> {
        match own {
            Some(own) if self.0.is_empty() => Some(own),
            Some(own) => Some(format!(
                "{own}\nmeanwhile, these drivers failed and were still failed at the end:{}",
                failed_drivers_list(&self.0)
            )),
            None if self.0.is_empty() => None,
            None => Some(self.to_error(environment, Vec::new()).to_string()),
        }
    }

    /// The error of a test that returned `Ok` while these drivers failed, with
    /// the teardown's failures.
    pub(crate) fn to_error(&self, environment: &str, teardown: Vec<LifecycleError>) -> Error {
        Error::DriversFailed {
            environment: environment.to_owned(),
            drivers: self.0.clone(),
            teardown,
        }
    }
}
