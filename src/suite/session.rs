use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::ending::{Ending, describe};
use super::hook::{Hooks, Stage};
use super::interrupt::Interrupt;
use super::step::Step;
use super::suite::{EnvironmentFactory, Suite};
use crate::env::{Environment, FailureWatch};
use crate::report::{CaseReport, Outcome};

/// One suite's run in this process: set up at its first selected case, torn
/// down after its last one.
#[derive(Debug)]
pub(crate) struct Session {
    name: String,
    state: State,
    cases: Vec<Slot>,
    hook_timeout: Duration,
    /// Selected cases not run yet; the one that brings it to zero tears down.
    remaining: usize,
    report_stem: String,
    report_dir: Option<PathBuf>,
    /// The report's terminal summary, kept when the suite did not pass.
    failure_summary: Option<String>,
}

#[derive(Debug)]
struct Slot {
    name: String,
    body: Option<Step>,
    timeout: Duration,
}

/// Where a suite's environment is.
enum State {
    /// No selected case ran yet: nothing is built.
    Pending {
        environment: EnvironmentFactory,
        hooks: Hooks,
    },
    /// Started; the cases run against it.
    Up { env: Environment, hooks: Hooks },
    /// The setup failed and whatever it started is torn down: the cases are
    /// not run, for `reason`. No environment when it could not be built.
    NotUp {
        env: Option<Environment>,
        reason: String,
    },
    /// Torn down and reported.
    Done,
}

/// How far a setup got, which decides what its teardown must undo.
#[derive(Clone, Copy, Debug)]
enum Reached {
    /// The drivers are built; `before_start` hooks may have run.
    Built,
    /// The environment started.
    Started,
}

impl Session {
    pub(crate) fn new(
        suite: Suite,
        selected: usize,
        report_stem: String,
        report_dir: Option<PathBuf>,
    ) -> Self {
        let cases = suite
            .cases
            .into_iter()
            .map(|case| Slot {
                name: case.name,
                body: Some(case.body),
                timeout: case.timeout.unwrap_or(suite.timeout),
            })
            .collect();
        Self {
            name: suite.name,
            state: State::Pending {
                environment: suite.environment,
                hooks: suite.hooks,
            },
            cases,
            hook_timeout: suite.timeout,
            remaining: selected,
            report_stem,
            report_dir,
            failure_summary: None,
        }
    }

    /// The terminal summary of its report, if the suite did not pass.
    pub(crate) fn take_failure_summary(&mut self) -> Option<String> {
        self.failure_summary.take()
    }

    /// Whether the suite still holds an environment to tear down.
    pub(crate) fn is_finished(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Runs case `index` (setting the suite up first if it is the first one),
    /// records it in the report, and tears the suite down after the last
    /// selected case or when a signal arrived. `Err` is the failure message.
    pub(crate) async fn run_case(
        &mut self,
        index: usize,
        interrupt: &mut Interrupt,
    ) -> Result<(), String> {
        if matches!(self.state, State::Pending { .. }) {
            self.set_up(interrupt).await;
        }
        let result = self.run_body(index, interrupt).await;
        self.remaining = self.remaining.saturating_sub(1);
        if self.remaining > 0 && interrupt.received().is_none() {
            return result;
        }
        let problems = self.finish().await;
        if problems.is_empty() {
            return result;
        }
        let teardown = problems.join("\n");
        Err(match result {
            Ok(()) => format!(
                "the case passed, but the teardown of suite `{}` after it failed:\n{teardown}",
                self.name
            ),
            Err(message) => format!(
                "{message}\nand the teardown of suite `{}` after it failed:\n{teardown}",
                self.name
            ),
        })
    }

    async fn run_body(&mut self, index: usize, interrupt: &mut Interrupt) -> Result<(), String> {
        let slot = &mut self.cases[index];
        match &self.state {
            State::Up { env, .. } => {
                let Some(body) = slot.body.take() else {
                    return Err(format!("case `{}` already ran in this process", slot.name));
                };
                let watch = FailureWatch::begin(env);
                let began = Instant::now();
                let ending = body.run(env.clone(), slot.timeout, Some(interrupt)).await;
                // A driver that failed during this case and is still failed fails
                // it; one that was already failed before it does not.
                let own = (!ending.passed()).then(|| ending.to_string());
                let message = watch.end(env).case_message(env.name(), own);
                env.record_case(CaseReport {
                    name: slot.name.clone(),
                    outcome: if message.is_none() {
                        Outcome::Passed
                    } else {
                        Outcome::Failed
                    },
                    duration: began.elapsed(),
                    message: message.clone(),
                    started_at: None,
                });
                message.map_or(Ok(()), Err)
            }
            State::NotUp { env, reason } => {
                if let Some(env) = env {
                    env.record_case(CaseReport {
                        name: slot.name.clone(),
                        outcome: Outcome::NotRun,
                        duration: Duration::ZERO,
                        message: Some(reason.clone()),
                        started_at: None,
                    });
                }
                Err(format!("not run: {reason}"))
            }
            State::Pending { .. } | State::Done => Err(format!(
                "not run: suite `{}` was already torn down",
                self.name
            )),
        }
    }

    /// Builds and starts the environment with its setup hooks; on a failure,
    /// tears down what was set up and remembers why.
    async fn set_up(&mut self, interrupt: &mut Interrupt) {
        let State::Pending {
            environment,
            mut hooks,
        } = std::mem::replace(&mut self.state, State::Done)
        else {
            return;
        };
        let built = std::panic::catch_unwind(std::panic::AssertUnwindSafe(environment));
        let env = match built {
            Ok(Ok(env)) => env,
            Ok(Err(error)) => {
                let reason = format!(
                    "the environment of suite `{}` could not be built: {}",
                    self.name,
                    describe(&*error)
                );
                self.state = State::NotUp { env: None, reason };
                return;
            }
            Err(payload) => {
                let reason = format!(
                    "building the environment of suite `{}` {}",
                    self.name,
                    Ending::panicked(&*payload)
                );
                self.state = State::NotUp { env: None, reason };
                return;
            }
        };
        let failure = 'setup: {
            let hooks_failed = self
                .run_hooks(Stage::BeforeStart, &env, &mut hooks, Some(&mut *interrupt))
                .await;
            if let Some(first) = hooks_failed.into_iter().next() {
                break 'setup Some((first, Reached::Built));
            }
            if let Err(error) = env.start().await {
                break 'setup Some((error.to_string(), Reached::Built));
            }
            let hooks_failed = self
                .run_hooks(Stage::AfterStart, &env, &mut hooks, Some(interrupt))
                .await;
            hooks_failed
                .into_iter()
                .next()
                .map(|first| (first, Reached::Started))
        };
        let Some((reason, reached)) = failure else {
            self.state = State::Up { env, hooks };
            return;
        };
        let problems = self.tear_down(&env, &mut hooks, reached).await;
        let reason = if problems.is_empty() {
            reason
        } else {
            format!(
                "{reason}\nand the teardown failed:\n{}",
                problems.join("\n")
            )
        };
        self.state = State::NotUp {
            env: Some(env),
            reason,
        };
    }

    /// Tears down (if still up), writes the report; returns what went wrong.
    pub(crate) async fn finish(&mut self) -> Vec<String> {
        match std::mem::replace(&mut self.state, State::Done) {
            State::Up { env, mut hooks } => {
                let mut problems = self.tear_down(&env, &mut hooks, Reached::Started).await;
                problems.extend(self.report(&env));
                problems
            }
            State::NotUp { env: Some(env), .. } => self.report(&env).into_iter().collect(),
            State::NotUp { env: None, .. } | State::Pending { .. } | State::Done => Vec::new(),
        }
    }

    /// Undoes a setup that got as far as `reached`: `before_stop` hooks and the
    /// stop only if it started, `after_stop` hooks always. Best effort: every
    /// step runs, every failure is returned.
    async fn tear_down(
        &self,
        env: &Environment,
        hooks: &mut Hooks,
        reached: Reached,
    ) -> Vec<String> {
        let mut problems = Vec::new();
        if let Reached::Started = reached {
            problems.extend(self.run_hooks(Stage::BeforeStop, env, hooks, None).await);
            if let Err(error) = env.stop().await {
                problems.push(error.to_string());
            }
        }
        problems.extend(self.run_hooks(Stage::AfterStop, env, hooks, None).await);
        problems
    }

    /// Runs the hooks of `stage` in order. Setup stages stop at the first
    /// failure; teardown stages run every hook. Each failure is also recorded
    /// in the environment's report.
    async fn run_hooks(
        &self,
        stage: Stage,
        env: &Environment,
        hooks: &mut Hooks,
        mut interrupt: Option<&mut Interrupt>,
    ) -> Vec<String> {
        let steps = hooks.take(stage);
        let count = steps.len();
        let stop_at_first = stage.is_setup();
        let mut failures = Vec::new();
        for (i, step) in steps.into_iter().enumerate() {
            let ending = step
                .run(env.clone(), self.hook_timeout, interrupt.as_deref_mut())
                .await;
            if ending.passed() {
                continue;
            }
            let which = if count > 1 {
                format!("{stage} hook #{}", i + 1)
            } else {
                format!("{stage} hook")
            };
            let failure = format!("the {which} of suite `{}` failed: {ending}", self.name);
            env.inner.state().errors.push(failure.clone());
            failures.push(failure);
            if stop_at_first {
                break;
            }
        }
        failures
    }

    /// Keeps the summary when something failed; writes the report files when
    /// a directory is set (the runner's, else the environment builder's).
    fn report(&mut self, env: &Environment) -> Option<String> {
        let report = env.report();
        if report.outcome != Outcome::Passed {
            self.failure_summary = Some(report.summary().to_string());
        }
        let dir = self
            .report_dir
            .clone()
            .or_else(|| env.report_dir().map(ToOwned::to_owned))?;
        match report.write_named(&dir, &self.report_stem) {
            Ok(_) => None,
            Err(error) => Some(error.to_string()),
        }
    }
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            State::Pending { .. } => f.write_str("Pending"),
            State::Up { env, .. } => f.debug_tuple("Up").field(&env.name()).finish(),
            State::NotUp { reason, .. } => f.debug_tuple("NotUp").field(reason).finish(),
            State::Done => f.write_str("Done"),
        }
    }
}
