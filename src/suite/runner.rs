use std::collections::HashSet;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, MutexGuard};

use libtest_mimic::{Arguments, Conclusion, Trial};
use tokio::runtime::Runtime;

use super::harness::Harness;
use super::report_stem::report_stem;
use super::session::Session;
use super::suite::{Suite, test_name};
use crate::error::BuildError;

/// The environment variable naming the directory where suites write their
/// reports (when [`Runner::report_dir`] is not set).
pub use crate::env::REPORT_DIR_VAR;

/// Runs `suites` as the tests of this binary, with the command line's libtest
/// arguments, and returns the exit code for `main`: the body of a
/// `harness = false` test target.
///
/// Prints the error and fails when the suites are ill-defined (a duplicate or
/// unusable name). See [`Runner`] for the options.
///
/// # Examples
/// ```no_run
/// use testrig::suite::{Suite, run_suites};
/// use testrig::Environment;
///
/// fn main() -> std::process::ExitCode {
///     run_suites([Suite::new("empty", || Environment::builder("empty").build())
///         .case("nothing_to_see", |_env| async { Ok(()) })])
/// }
/// ```
pub fn run_suites(suites: impl IntoIterator<Item = Suite>) -> ExitCode {
    match Runner::new().suites(suites).run() {
        Ok(conclusion) => conclusion.exit_code(),
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(101)
        }
    }
}

/// Runs suites as libtest-compatible tests, with options.
///
/// Each case is a test named `<suite>::<case>`. The cases run one at a time
/// (whatever `--test-threads` says), suite after suite, in declaration order.
/// A suite's environment starts only when at least one of its cases is
/// selected (by the name filter, `--exact`, `--skip`, `--ignored`), so
/// `cargo nextest run`, which runs each test in its own process, starts and
/// stops the environment around each case.
///
/// Reports go to [`report_dir`](Self::report_dir), else to
/// `$TESTRIG_REPORT_DIR`, else to the environment builder's report directory;
/// a run that selected only some cases names its files after them
/// (`echo.ping_pong.json`).
///
/// Safe to call from inside a tokio runtime (an `async fn main`): the tests
/// then run on a thread of their own.
///
/// # Examples
/// ```no_run
/// use testrig::suite::{Arguments, Runner, Suite};
/// use testrig::Environment;
///
/// let suite = Suite::new("empty", || Environment::builder("empty").build())
///     .case("nothing_to_see", |_env| async { Ok(()) });
/// let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
/// let conclusion = Runner::new()
///     .suites([suite])
///     .args(Arguments::from_iter(["suite-binary", "--exact", "empty::nothing_to_see"]))
///     .report_dir("target/testrig-reports")
///     .runtime(runtime)
///     .run()?;
/// assert_eq!(conclusion.num_passed, 1);
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
#[must_use]
#[derive(Debug)]
pub struct Runner {
    suites: Vec<Suite>,
    args: Option<Arguments>,
    report_dir: Option<PathBuf>,
    runtime: Option<Runtime>,
    handle_signals: bool,
}

impl Default for Runner {
    fn default() -> Self {
        Self::new()
    }
}

impl Runner {
    /// A runner with no suites, reading the command line's arguments,
    /// handling SIGINT and SIGTERM.
    pub fn new() -> Self {
        Self {
            suites: Vec::new(),
            args: None,
            report_dir: None,
            runtime: None,
            handle_signals: true,
        }
    }

    /// Adds suites.
    pub fn suites(mut self, suites: impl IntoIterator<Item = Suite>) -> Self {
        self.suites.extend(suites);
        self
    }

    /// Uses these libtest arguments instead of the command line's.
    pub fn args(mut self, args: Arguments) -> Self {
        self.args = Some(args);
        self
    }

    /// Writes each suite's JSON and JUnit reports (and timeline) into `dir`.
    pub fn report_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.report_dir = Some(dir.into());
        self
    }

    /// Runs the cases on `runtime` (default: a multi-threaded runtime with
    /// every driver enabled, built when the first case runs).
    pub fn runtime(mut self, runtime: Runtime) -> Self {
        self.runtime = Some(runtime);
        self
    }

    /// Whether a SIGINT or SIGTERM cancels the running case, tears its suite
    /// down and marks every remaining case not run (default `true`). Once
    /// handled, these signals no longer kill the process, for as long as it
    /// lives: turn this off when the runner is part of a longer-lived program.
    pub fn handle_signals(mut self, handle: bool) -> Self {
        self.handle_signals = handle;
        self
    }

    /// Runs the selected cases (or lists them with `--list`) and prints the
    /// results as libtest does. Refuses ill-defined suites before running any.
    pub fn run(self) -> Result<Conclusion, BuildError> {
        let mut names = HashSet::new();
        for suite in &self.suites {
            suite.validate()?;
            if !names.insert(suite.name.as_str()) {
                return Err(BuildError::DuplicateSuite {
                    name: suite.name.clone(),
                });
            }
        }
        let mut args = self.args.unwrap_or_else(Arguments::from_args);
        // The cases of a suite share its environment: they run one at a time.
        args.test_threads = Some(1);
        let report_dir = self.report_dir.or_else(crate::env::report_dir_from_var);

        let harness = Arc::new(Mutex::new(Harness::new(self.runtime, self.handle_signals)));
        let mut trials = Vec::new();
        let mut sessions = Vec::new();
        for (s, suite) in self.suites.into_iter().enumerate() {
            let first = trials.len();
            for (c, case) in suite.cases.iter().enumerate() {
                let shared = Arc::clone(&harness);
                let trial = Trial::test(test_name(&suite.name, &case.name), move || {
                    lock(&shared).run_case(s, c).map_err(Into::into)
                });
                trials.push(trial.with_ignored_flag(case.ignored));
            }
            let suite_trials = &trials[first..];
            let selected: Vec<&str> = suite
                .cases
                .iter()
                .zip(suite_trials)
                .filter(|(_, t)| !args.is_filtered_out(t) && !args.is_ignored(t))
                .map(|(case, _)| case.name.as_str())
                .collect();
            let cases: Vec<&str> = suite.cases.iter().map(|case| case.name.as_str()).collect();
            let default_cases: Vec<&str> = suite
                .cases
                .iter()
                .filter(|case| !case.ignored)
                .map(|case| case.name.as_str())
                .collect();
            let stem = report_stem(&suite.name, &cases, &default_cases, &selected);
            let count = selected.len();
            sessions.push(Session::new(suite, count, stem, report_dir.clone()));
        }
        lock(&harness).sessions = sessions;

        let execute = move || {
            // A case's panic goes under `failures:` with its location, not in the middle
            // of the `test … FAILED` line.
            let hook = super::panic_capture::Hook::install();
            let conclusion = libtest_mimic::run(&args, trials);
            drop(hook);
            let mut harness_now = lock(&harness);
            for problem in harness_now.finish_all() {
                eprintln!("error: {problem}");
            }
            // After libtest's own lines, what a person needs to debug a failed suite.
            for summary in harness_now.failure_summaries() {
                eprintln!("{summary}");
            }
            drop(harness_now);
            // The runtime is dropped here, on the harness's thread.
            drop(harness);
            conclusion
        };
        if tokio::runtime::Handle::try_current().is_err() {
            return Ok(execute());
        }
        // Inside a runtime (async main), blocking on another runtime would
        // panic: run the tests on a thread of their own.
        let joined = std::thread::scope(|scope| scope.spawn(execute).join());
        Ok(joined.unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
    }
}

fn lock(harness: &Mutex<Harness>) -> MutexGuard<'_, Harness> {
    harness
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
