use std::fmt::Display;
use std::future::Future;
use std::time::{Duration, Instant};

use super::environment::payload_message;
use super::{Environment, FailureWatch};
use crate::error::Error;
use crate::report::{CaseReport, Outcome};

/// How a test body ended.
enum Ending<T, E> {
    Returned(Result<T, E>),
    Panicked(Box<dyn std::any::Any + Send>),
    TimedOut(Duration),
    Interrupted(&'static str),
}

impl Environment {
    /// Starts the environment, runs `body`, and stops the environment whatever the
    /// body does: returns, errors or panics (the panic is resumed after teardown).
    /// Writes the reports when a report directory is set: the builder's
    /// [`report_dir`](crate::EnvironmentBuilder::report_dir), else
    /// `$TESTRIG_REPORT_DIR` (as suites do).
    ///
    /// A driver that fails while the body runs (dies, or fails a restart or a
    /// stop) and is still `Failed` when the body ends fails the run, even when
    /// the body returned `Ok`: the body's case in the report is `Failed`, and
    /// `run` returns [`Error::DriversFailed`] naming each such driver and why.
    /// A driver the body restarted successfully is fine, and so is one declared
    /// with [`expect_failure`](Self::expect_failure) (fault injection).
    ///
    /// Returns the body's error when it failed (an error, a panic, a timeout
    /// win over failed drivers, which the report's case message then also
    /// lists); else [`Error::DriversFailed`], which also carries the teardown's
    /// failures if any; else the teardown error if the teardown failed; else
    /// the body's value.
    ///
    /// # Examples
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> testrig::Result<()> {
    /// use testrig::Environment;
    ///
    /// let env = Environment::builder("empty").build()?;
    /// let answer = env.run(|env| async move {
    ///     assert!(env.resources().is_empty());
    ///     Ok::<_, testrig::Error>(42)
    /// }).await?;
    /// assert_eq!(answer, 42);
    /// # Ok(()) }
    /// ```
    pub async fn run<F, Fut, T, E>(&self, body: F) -> Result<T, E>
    where
        F: FnOnce(Environment) -> Fut,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: From<Error> + Display + Send + 'static,
    {
        self.run_inner(None, body).await
    }

    /// Like [`run`](Self::run), and a body still running after `timeout` is
    /// cancelled; the environment is torn down and
    /// [`Error::BodyTimeout`] returned. Reports go where `run` writes them.
    pub async fn run_with_timeout<F, Fut, T, E>(&self, timeout: Duration, body: F) -> Result<T, E>
    where
        F: FnOnce(Environment) -> Fut,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: From<Error> + Display + Send + 'static,
    {
        self.run_inner(Some(timeout), body).await
    }

    async fn run_inner<F, Fut, T, E>(&self, timeout: Option<Duration>, body: F) -> Result<T, E>
    where
        F: FnOnce(Environment) -> Fut,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: From<Error> + Display + Send + 'static,
    {
        // One listener for the whole run: a signal during the start cancels it,
        // one during the body ends it.
        let mut signal = std::pin::pin!(async {
            if self.inner.run.handle_signals {
                super::shutdown_signal().await
            } else {
                std::future::pending().await
            }
        });
        if let Err(error) = self.start_unless(&mut signal).await {
            // The expectations were for this run.
            self.inner.state().expected_failures.clear();
            self.write_report_if_asked();
            return Err(error.into());
        }
        let watch = FailureWatch::begin(self);
        let began = Instant::now();
        let mut task = tokio::spawn(body(self.clone()));
        let deadline = async {
            match timeout {
                Some(after) => {
                    tokio::time::sleep(after).await;
                    after
                }
                None => std::future::pending().await,
            }
        };
        let ending = tokio::select! {
            joined = &mut task => match joined {
                Ok(result) => Ending::Returned(result),
                Err(e) if e.is_panic() => Ending::Panicked(e.into_panic()),
                Err(e) => Ending::Returned(Err(Error::other(e).into())),
            },
            after = deadline => Ending::TimedOut(after),
            signal = &mut signal => Ending::Interrupted(signal),
        };
        if matches!(ending, Ending::TimedOut(_) | Ending::Interrupted(_)) {
            task.abort();
            // Let the body's future be dropped (releasing what it holds) before teardown.
            let _ = task.await;
        }

        let failed = watch.end(self);
        let name = self.name().to_owned();
        let own_failure = match &ending {
            Ending::Returned(Ok(_)) => None,
            Ending::Returned(Err(e)) => Some(body_error_message(e)),
            Ending::Panicked(payload) => Some(format!("panicked: {}", payload_message(&**payload))),
            Ending::TimedOut(after) => Some(format!("timed out after {after:?}")),
            Ending::Interrupted(signal) => Some(format!("interrupted by {signal}")),
        };
        let message = failed.case_message(&name, own_failure);
        self.record_case(CaseReport {
            name: self.case_name(),
            outcome: if message.is_some() {
                Outcome::Failed
            } else {
                Outcome::Passed
            },
            duration: began.elapsed(),
            message,
            started_at: None,
        });

        let stopped = self.stop().await;
        self.write_report_if_asked();
        match ending {
            Ending::Returned(Ok(_)) if !failed.is_empty() => {
                let teardown = match stopped {
                    Err(Error::Stop { failures, .. }) => failures,
                    _ => Vec::new(),
                };
                Err(failed.to_error(&name, teardown).into())
            }
            Ending::Returned(Ok(value)) => stopped.map(|()| value).map_err(E::from),
            Ending::Returned(Err(error)) => Err(error),
            Ending::Panicked(payload) => std::panic::resume_unwind(payload),
            Ending::TimedOut(after) => Err(Error::BodyTimeout {
                environment: name,
                after,
            }
            .into()),
            Ending::Interrupted(signal) => Err(Error::Interrupted {
                environment: name,
                signal,
            }
            .into()),
        }
    }

    /// The body's case name: the builder's, else the running test's, else the
    /// environment's.
    fn case_name(&self) -> String {
        if let Some(name) = &self.inner.run.case_name {
            return name.clone();
        }
        // libtest runs each test on a thread named after it; a runtime's own
        // threads and `main` are not test names.
        match std::thread::current().name() {
            Some(thread) if thread != "main" && !thread.starts_with("tokio-runtime") => {
                thread.to_owned()
            }
            _ => self.name().to_owned(),
        }
    }

    /// Writes the report to the builder's report directory, else to
    /// `$TESTRIG_REPORT_DIR`; neither set, writes nothing.
    fn write_report_if_asked(&self) {
        let dir = self
            .inner
            .run
            .report_dir
            .clone()
            .or_else(super::report_dir_from_var);
        if let Some(dir) = dir
            && let Err(error) = self.report().write_to(&dir)
        {
            tracing::warn!(environment = %self.name(), error = format_args!("{error:#}"), "cannot write the report");
        }
    }
}

/// A body's error with its causes, as the report shows it: a boxed error with each
/// cause its message does not already show; others (testrig's, anyhow's, eyre's) as
/// their alternate form prints them, which is their chain on one line.
fn body_error_message<E: Display + 'static>(error: &E) -> String {
    let any: &dyn std::any::Any = error;
    match any.downcast_ref::<crate::BoxError>() {
        Some(error) => crate::error::full_message(&**error),
        None => format!("{error:#}"),
    }
}
