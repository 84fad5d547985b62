use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::time::Duration;

use super::case::Case;
use super::error::invalid_name;
use super::hook::{Hooks, Stage};
use super::step::Step;
use crate::env::Environment;
use crate::error::BoxError;
use crate::error::BuildError;

/// The default timeout of a case (and of a hook).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

pub(crate) type EnvironmentFactory = Box<dyn FnOnce() -> Result<Environment, BoxError> + Send>;

/// An environment plus the test cases that share it (testplan's MultiTest).
///
/// Run by [`run_suites`](super::run_suites) in a `harness = false` test target:
/// when at least one of its cases is selected, the environment is built and
/// started once, the selected cases run against it one after the other in the
/// order they were declared, and it stops once. Each case is a test named
/// `<suite>::<case>`, so `cargo test`, name filters, `--list`, `--exact`,
/// `--ignored` and `cargo nextest run` work as usual. A driver that fails
/// during a case and is still `Failed` at its end fails that case (as
/// [`Environment::run`] does), not the later ones.
///
/// Hooks run around the start and stop: `before_start` (drivers built, not
/// started), `after_start` (every driver started), `before_stop` (only if the
/// environment started) and `after_stop` (always, once the setup began, so it
/// can undo what `before_start` did). A hook fails by returning an error or
/// panicking: a failing setup hook marks the cases not run (and the
/// environment is still torn down), a failing teardown hook fails the last case
/// run. Hooks of one stage run in the order added.
///
/// # Examples
/// ```no_run
/// use std::time::Duration;
/// use testrig::suite::{Suite, run_suites};
/// use testrig::{Environment, Ref};
/// use testrig_drivers::tcp::{TcpClient, TcpServer};
///
/// fn echo_suite() -> Suite {
///     Suite::new("echo", || {
///         Environment::builder("echo")
///             .driver(TcpServer::new("server"))
///             .driver(TcpClient::new("client", Ref::export("server", "port")))
///             .build()
///     })
///     .after_start(|env| async move {
///         let client = env.get::<TcpClient>("client")?;
///         assert!(client.is_connected(), "the client connects at start");
///         Ok(())
///     })
///     .case("ping_pong", |env| async move {
///         let (server, client) = (env.get::<TcpServer>("server")?, env.get::<TcpClient>("client")?);
///         client.send(b"ping").await?;
///         let conn = server.accept_connection(Duration::from_secs(1)).await?;
///         assert_eq!(server.receive_exact(conn, 4, Duration::from_secs(1)).await?, b"ping");
///         Ok(())
///     })
/// }
///
/// fn main() -> std::process::ExitCode {
///     run_suites([echo_suite()])
/// }
/// ```
#[must_use]
pub struct Suite {
    pub(crate) name: String,
    pub(crate) environment: EnvironmentFactory,
    pub(crate) hooks: Hooks,
    pub(crate) cases: Vec<Case>,
    pub(crate) timeout: Duration,
}

impl Suite {
    /// A suite called `name` whose environment `environment` builds. The
    /// closure runs only when one of the suite's cases is selected; its error
    /// (e.g. a [`BuildError`](crate::BuildError)) fails the selected cases.
    pub fn new<F, E>(name: impl Into<String>, environment: F) -> Self
    where
        F: FnOnce() -> Result<Environment, E> + Send + 'static,
        E: Into<BoxError>,
    {
        Self {
            name: name.into(),
            environment: Box::new(move || environment().map_err(Into::into)),
            hooks: Hooks::default(),
            cases: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The timeout of each case that sets none, and of each hook
    /// (default [`DEFAULT_TIMEOUT`], 60 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Adds a case running `body` against the started environment.
    pub fn case<F, Fut>(self, name: impl Into<String>, body: F) -> Self
    where
        F: FnOnce(Environment) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        self.add_case(Case::new(name, body))
    }

    /// Adds a case built with [`Case`]: one with a timeout of its own (it fails,
    /// and is cancelled, when it runs longer), or ignored.
    pub fn add_case(mut self, case: Case) -> Self {
        self.cases.push(case);
        self
    }

    /// Runs `hook` after the drivers are built, before they start.
    pub fn before_start<F, Fut>(self, hook: F) -> Self
    where
        F: FnOnce(Environment) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        self.hook(Stage::BeforeStart, Step::new(hook))
    }

    /// Runs `hook` once every driver started, before the first case.
    pub fn after_start<F, Fut>(self, hook: F) -> Self
    where
        F: FnOnce(Environment) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        self.hook(Stage::AfterStart, Step::new(hook))
    }

    /// Runs `hook` after the last case, before the environment stops (only if
    /// it started).
    pub fn before_stop<F, Fut>(self, hook: F) -> Self
    where
        F: FnOnce(Environment) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        self.hook(Stage::BeforeStop, Step::new(hook))
    }

    /// Runs `hook` after the environment stopped (also when the setup failed).
    pub fn after_stop<F, Fut>(self, hook: F) -> Self
    where
        F: FnOnce(Environment) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        self.hook(Stage::AfterStop, Step::new(hook))
    }

    fn hook(mut self, stage: Stage, step: Step) -> Self {
        self.hooks.add(stage, step);
        self
    }

    /// The test names of its cases, `<suite>::<case>`, in declaration order.
    #[cfg(test)]
    pub(crate) fn test_names(&self) -> Vec<String> {
        self.cases
            .iter()
            .map(|case| test_name(&self.name, &case.name))
            .collect()
    }

    /// Checks the suite's own name and its cases' names.
    pub(crate) fn validate(&self) -> Result<(), BuildError> {
        if let Some(reason) = invalid_name(&self.name) {
            return Err(BuildError::InvalidTestName {
                what: "suite".to_owned(),
                name: self.name.clone(),
                reason,
            });
        }
        let mut seen = HashSet::new();
        for case in &self.cases {
            if let Some(reason) = invalid_name(&case.name) {
                return Err(BuildError::InvalidTestName {
                    what: format!("case of suite `{}`", self.name),
                    name: case.name.clone(),
                    reason,
                });
            }
            if !seen.insert(case.name.as_str()) {
                return Err(BuildError::DuplicateCase {
                    suite: self.name.clone(),
                    case: case.name.clone(),
                });
            }
        }
        Ok(())
    }
}

/// The libtest name of a case.
pub(crate) fn test_name(suite: &str, case: &str) -> String {
    format!("{suite}::{case}")
}

impl fmt::Debug for Suite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Suite")
            .field("name", &self.name)
            .field("cases", &self.cases)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn empty(name: &str) -> Suite {
        Suite::new(name, || Environment::builder("empty").build())
    }

    async fn pass(_: Environment) -> Result<(), BoxError> {
        Ok(())
    }

    #[test]
    fn test_names_are_the_suite_then_the_case_in_declaration_order() {
        let suite = empty("echo").case("b", pass).case("a", pass);
        assert_eq!(suite.test_names(), ["echo::b", "echo::a"]);
    }

    #[test]
    fn two_cases_with_one_name_are_refused_naming_both() {
        let error = empty("echo")
            .case("ping", pass)
            .case("ping", pass)
            .validate();
        assert_eq!(
            error.unwrap_err().to_string(),
            "suite `echo` has two cases named `ping`"
        );
    }

    #[test]
    fn names_that_break_test_names_are_refused_with_the_reason() {
        let error = empty("a::b").validate().unwrap_err();
        assert!(error.to_string().contains("`::`"), "{error}");
        let error = empty("echo")
            .case("two words", pass)
            .validate()
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "case of suite `echo` name `two words` is invalid: it cannot contain whitespace (test names are command-line arguments)"
        );
        assert!(empty("").validate().is_err());
    }
}
