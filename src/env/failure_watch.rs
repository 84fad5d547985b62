use super::Environment;
use crate::error::{FailedDriver, failed_drivers_list};
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

/// What a [`FailureWatch`] found.
#[derive(Debug)]
pub(crate) struct FailedDuring(pub(crate) Vec<FailedDriver>);

impl FailedDuring {
    /// Whether no driver failed unexpectedly.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A note to append to the message of a test that failed on its own
    /// (error, panic, timeout): the drivers that failed meanwhile, if any.
    pub(crate) fn note(&self) -> String {
        if self.0.is_empty() {
            return String::new();
        }
        format!(
            "\nmeanwhile, these drivers failed and were still failed at the end:{}",
            failed_drivers_list(&self.0)
        )
    }
}
