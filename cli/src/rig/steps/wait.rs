use std::ops::Range;
use std::time::Duration;

use serde::Deserialize;
use testrig::{BoxError, Environment, Status};
use toml::Spanned;

use super::{StepCheck, StepKind, StepRun};
use crate::progress::Notes;
use crate::rig::Problem;
use crate::rig::fields::RigDuration;

/// How long a `wait` for a status waits when the step sets no `timeout`.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// `kind = "wait"`: waits for a fixed `duration`, or until `driver` reaches
/// `status` (woken by the change, failing after `timeout`, default 30 s).
///
/// ```toml
/// [[step]]
/// kind = "wait"
/// driver = "server"
/// status = "started"
/// timeout = "5s"
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Wait {
    duration: Option<Spanned<RigDuration>>,
    driver: Option<Spanned<String>>,
    status: Option<Spanned<Status>>,
    timeout: Option<Spanned<RigDuration>>,
}

/// What a `wait` step waits for, once its keys are checked.
enum Until<'a> {
    Elapsed(Duration),
    Status {
        driver: &'a str,
        status: Status,
        timeout: Duration,
    },
}

impl Wait {
    pub(crate) fn check(&self, table: Range<usize>, check: &StepCheck) -> Result<(), Problem> {
        if let Some(driver) = &self.driver {
            check.driver(driver, &[])?;
        }
        self.until()
            .map(drop)
            .map_err(|(span, message)| Problem::new(span.unwrap_or(table), message))
    }

    /// What to wait for, or the misplaced key's span (`None`: the table) and why.
    fn until(&self) -> Result<Until<'_>, (Option<Range<usize>>, &'static str)> {
        let timeout = self.timeout.as_ref().map(|t| t.get_ref().0);
        match (&self.duration, &self.driver, &self.status) {
            (Some(duration), None, None) if timeout.is_none() => {
                Ok(Until::Elapsed(duration.get_ref().0))
            }
            (Some(_), None, None) => Err((
                self.timeout.as_ref().map(Spanned::span),
                "`timeout` goes with `driver` and `status`; a wait for a `duration` has none",
            )),
            (None, Some(driver), Some(status)) => Ok(Until::Status {
                driver: driver.get_ref(),
                status: *status.get_ref(),
                timeout: timeout.unwrap_or(DEFAULT_TIMEOUT),
            }),
            (None, Some(_), None) => Err((
                self.driver.as_ref().map(Spanned::span),
                "a wait for a driver needs the `status` to wait for",
            )),
            (None, None, Some(_)) => Err((
                self.status.as_ref().map(Spanned::span),
                "a wait for a `status` needs the `driver`",
            )),
            (Some(_), _, _) => Err((
                self.duration.as_ref().map(Spanned::span),
                "a wait is either a `duration`, or a `driver` and a `status`, not both",
            )),
            (None, None, None) => Err((
                None,
                "a wait needs a `duration`, or a `driver` and a `status` to wait for",
            )),
        }
    }

    pub(crate) async fn run(&self, env: &Environment) -> Result<String, BoxError> {
        match self.until().map_err(|(_, message)| message)? {
            Until::Elapsed(duration) => {
                // The rig asks for this pause explicitly; nothing else to wait on.
                tokio::time::sleep(duration).await;
                Ok(format!("waited {duration:?}"))
            }
            Until::Status {
                driver,
                status,
                timeout,
            } => {
                env.resource(driver)?.wait(status, timeout).await?;
                Ok(format!("`{driver}` is {status}"))
            }
        }
    }
}

impl StepKind for Wait {
    fn check(&self, table: Range<usize>, check: &StepCheck) -> Result<(), Problem> {
        Self::check(self, table, check)
    }

    fn run<'a>(&'a self, env: &'a Environment, _notes: Notes) -> StepRun<'a> {
        Box::pin(Self::run(self, env))
    }
}
