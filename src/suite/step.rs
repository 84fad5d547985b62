use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use super::ending::Ending;
use super::interrupt::Interrupt;
use super::panic_capture::capturing;
use crate::env::Environment;
use crate::error::BoxError;

type StepFuture = Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send>>;

/// How long a cancelled step may take to let go before the harness moves on
/// (a body blocking its thread cannot be cancelled at once).
const RELEASE_GRACE: Duration = Duration::from_secs(1);

/// An async step run against the environment: a case body or a hook.
pub(crate) struct Step(Box<dyn FnOnce(Environment) -> StepFuture + Send>);

impl Step {
    pub(crate) fn new<F, Fut>(body: F) -> Self
    where
        F: FnOnce(Environment) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        Step(Box::new(move |env| Box::pin(body(env))))
    }

    /// Runs the step on its own task (so a panic is caught as a failure), and
    /// cancels it when `timeout` passes or, if given `interrupt`, a signal arrives
    /// (teardown steps are not interruptible: they are the cleanup).
    pub(crate) async fn run(
        self,
        env: Environment,
        timeout: Duration,
        interrupt: Option<&mut Interrupt>,
    ) -> Ending {
        let (panic_site, step) = capturing((self.0)(env));
        let mut task = tokio::spawn(step);
        let ending = tokio::select! {
            joined = &mut task => return match joined {
                Ok(result) => Ending::returned(result),
                Err(error) if error.is_panic() => {
                    let site = panic_site.lock().unwrap_or_else(|e| e.into_inner()).take();
                    Ending::panicked_at(&*error.into_panic(), site.unwrap_or_default())
                }
                Err(_) => Ending::Failed("its task was cancelled".to_owned()),
            },
            () = tokio::time::sleep(timeout) => Ending::TimedOut(timeout),
            signal = async {
                match interrupt {
                    Some(interrupt) => interrupt.recv().await,
                    None => std::future::pending().await,
                }
            } => Ending::Interrupted(signal),
        };
        task.abort();
        // Let the step drop what it holds (connections, guards) before teardown.
        let _ = tokio::time::timeout(RELEASE_GRACE, task).await;
        ending
    }
}

impl fmt::Debug for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Step(<async fn>)")
    }
}
