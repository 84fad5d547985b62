//! Errors: what went wrong, to which driver, and the tail of its logs.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::context::{RefKey, Value};
use crate::status::Status;

/// Any error a driver may return from its lifecycle methods.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// `Result` with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything testrig can report, from building an environment to tearing it down.
///
/// Its `Debug` form reads like its chain of causes (the message, then `Caused by:`
/// lines, as anyhow prints them), because that is what `main` and `#[tokio::test]`
/// print for an `Err`; `{:#?}` shows the structure. Its alternate `Display` (`{:#}`)
/// is the chain on one line, `message: cause: cause`, as anyhow prints it.
#[non_exhaustive]
pub enum Error {
    /// The environment description is invalid.
    Build(BuildError),
    /// The environment could not start. Everything that had started was stopped.
    Start {
        /// The environment.
        environment: String,
        /// Every driver that failed to start, in the order they failed (each
        /// error names its driver: [`LifecycleError::driver`]).
        failures: Vec<LifecycleError>,
        /// Drivers never started because of the failures.
        skipped: Vec<String>,
        /// Drivers that then failed to stop during the teardown.
        teardown: Vec<LifecycleError>,
    },
    /// Some drivers did not stop cleanly; each was aborted.
    Stop {
        /// The environment.
        environment: String,
        /// Every failure, in the order they happened.
        failures: Vec<LifecycleError>,
    },
    /// One driver's lifecycle operation failed.
    Lifecycle(LifecycleError),
    /// No driver of that name.
    UnknownDriver {
        /// The environment asked.
        environment: String,
        /// The name asked for.
        name: String,
    },
    /// A driver was asked for as the wrong type.
    WrongType {
        /// The driver.
        driver: String,
        /// The type asked for.
        requested: &'static str,
        /// The driver's kind.
        actual: &'static str,
    },
    /// A reference to a driver that has exported nothing (it is not started).
    NotStarted {
        /// The reference.
        reference: RefKey,
    },
    /// A reference to a key the (started) driver does not export.
    MissingValue {
        /// The reference.
        reference: RefKey,
        /// What the driver does export.
        available: Vec<String>,
    },
    /// A referenced value that does not convert to the type asked for.
    WrongValueType {
        /// The reference.
        reference: RefKey,
        /// The value found.
        value: Value,
        /// Why it does not fit.
        reason: String,
    },
    /// The test body did not finish in time; the environment was torn down.
    BodyTimeout {
        /// The environment.
        environment: String,
        /// The deadline that passed.
        after: Duration,
    },
    /// The test body (or suite case) succeeded, but drivers failed while it ran
    /// (died, or failed a restart or a stop) and were still `Failed` when it
    /// ended. Declare a deliberate failure with
    /// [`Environment::expect_failure`](crate::Environment::expect_failure).
    DriversFailed {
        /// The environment.
        environment: String,
        /// Each driver that failed, with why, in the order the drivers were added.
        drivers: Vec<FailedDriver>,
        /// Drivers that then did not stop cleanly during the teardown.
        teardown: Vec<LifecycleError>,
    },
    /// A signal interrupted the run; the environment was torn down.
    Interrupted {
        /// The environment.
        environment: String,
        /// `SIGINT` or `SIGTERM`.
        signal: &'static str,
    },
    /// The environment's network could not start or stop (when it failed to start, no
    /// driver was started).
    Network {
        /// The environment.
        environment: String,
        /// What went wrong.
        source: Box<crate::network::NetworkError>,
    },
    /// Writing a report failed.
    Report {
        /// Where the report was going.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Anything else, e.g. an error from a test body or a driver's own API.
    Other(BoxError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() {
            return f.write_str(&match self {
                // The log tail last, after the causes.
                Error::Lifecycle(e) => e.full_message(),
                other => full_message(other),
            });
        }
        match self {
            Error::Build(e) => fmt::Display::fmt(e, f),
            Error::Start {
                environment,
                failures,
                skipped,
                teardown,
            } => f.write_str(&start_error_message(
                environment,
                failures,
                skipped,
                teardown,
            )),
            Error::Stop {
                environment,
                failures,
            } => f.write_str(&stop_error_message(environment, failures)),
            Error::Lifecycle(e) => fmt::Display::fmt(e, f),
            Error::UnknownDriver { environment, name } => {
                write!(
                    f,
                    "environment `{environment}` has no driver named `{name}`"
                )
            }
            Error::WrongType {
                driver,
                requested,
                actual,
            } => write!(f, "driver `{driver}` is a {actual}, not a {requested}"),
            Error::NotStarted { reference } => write!(
                f,
                "cannot resolve `{reference}`: driver `{}` has not started",
                reference.driver
            ),
            Error::MissingValue {
                reference,
                available,
            } => write!(
                f,
                "cannot resolve `{reference}`: `{}` exports no `{}` (it exports: {})",
                reference.driver,
                reference.key,
                list(available)
            ),
            Error::WrongValueType {
                reference,
                value,
                reason,
            } => write!(f, "cannot resolve `{reference}`: value {value}: {reason}"),
            Error::BodyTimeout { environment, after } => write!(
                f,
                "the test body of environment `{environment}` did not finish within {after:?}"
            ),
            Error::DriversFailed {
                environment,
                drivers,
                teardown,
            } => f.write_str(&drivers_failed_message(environment, drivers, teardown)),
            Error::Interrupted {
                environment,
                signal,
            } => write!(f, "environment `{environment}` was interrupted by {signal}"),
            Error::Report { path, .. } => {
                write!(f, "cannot write report to {}", path.display())
            }
            Error::Network { environment, .. } => {
                write!(f, "environment `{environment}`: its network failed")
            }
            Error::Other(e) => fmt::Display::fmt(e, f),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            // Transparent: the wrapped error's own message is this one's.
            Error::Build(e) => e.source(),
            Error::Lifecycle(e) => e.source(),
            Error::Other(e) => e.source(),
            Error::Report { source, .. } => Some(source),
            Error::Network { source, .. } => Some(source),
            Error::Start { .. }
            | Error::Stop { .. }
            | Error::UnknownDriver { .. }
            | Error::WrongType { .. }
            | Error::NotStarted { .. }
            | Error::MissingValue { .. }
            | Error::WrongValueType { .. }
            | Error::BodyTimeout { .. }
            | Error::DriversFailed { .. }
            | Error::Interrupted { .. } => None,
        }
    }
}

impl From<BuildError> for Error {
    fn from(error: BuildError) -> Self {
        Error::Build(error)
    }
}

impl From<LifecycleError> for Error {
    fn from(error: LifecycleError) -> Self {
        Error::Lifecycle(error)
    }
}

/// A network operation of a test body (a fault: `env.network()`'s `link_down`…).
impl From<crate::network::NetworkError> for Error {
    fn from(error: crate::network::NetworkError) -> Self {
        Error::other(error)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() {
            return self.fmt_structure(f);
        }
        write!(f, "{self}")?;
        let causes: Vec<&(dyn std::error::Error + 'static)> =
            std::iter::successors(std::error::Error::source(self), |cause| cause.source())
                .collect();
        match causes.as_slice() {
            [] => Ok(()),
            [cause] => write!(
                f,
                "\n\nCaused by:\n    {}",
                indent_by(&cause.to_string(), 4)
            ),
            causes => {
                f.write_str("\n\nCaused by:")?;
                for (i, cause) in causes.iter().enumerate() {
                    write!(f, "\n    {i}: {}", indent_by(&cause.to_string(), 7))?;
                }
                Ok(())
            }
        }
    }
}

impl Error {
    /// The derived `Debug` output: the variant and its fields.
    fn fmt_structure(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Build(e) => f.debug_tuple("Build").field(e).finish(),
            Error::Start {
                environment,
                failures,
                skipped,
                teardown,
            } => f
                .debug_struct("Start")
                .field("environment", environment)
                .field("failures", failures)
                .field("skipped", skipped)
                .field("teardown", teardown)
                .finish(),
            Error::Stop {
                environment,
                failures,
            } => f
                .debug_struct("Stop")
                .field("environment", environment)
                .field("failures", failures)
                .finish(),
            Error::Lifecycle(e) => f.debug_tuple("Lifecycle").field(e).finish(),
            Error::UnknownDriver { environment, name } => f
                .debug_struct("UnknownDriver")
                .field("environment", environment)
                .field("name", name)
                .finish(),
            Error::WrongType {
                driver,
                requested,
                actual,
            } => f
                .debug_struct("WrongType")
                .field("driver", driver)
                .field("requested", requested)
                .field("actual", actual)
                .finish(),
            Error::NotStarted { reference } => f
                .debug_struct("NotStarted")
                .field("reference", reference)
                .finish(),
            Error::MissingValue {
                reference,
                available,
            } => f
                .debug_struct("MissingValue")
                .field("reference", reference)
                .field("available", available)
                .finish(),
            Error::WrongValueType {
                reference,
                value,
                reason,
            } => f
                .debug_struct("WrongValueType")
                .field("reference", reference)
                .field("value", value)
                .field("reason", reason)
                .finish(),
            Error::BodyTimeout { environment, after } => f
                .debug_struct("BodyTimeout")
                .field("environment", environment)
                .field("after", after)
                .finish(),
            Error::DriversFailed {
                environment,
                drivers,
                teardown,
            } => f
                .debug_struct("DriversFailed")
                .field("environment", environment)
                .field("drivers", drivers)
                .field("teardown", teardown)
                .finish(),
            Error::Interrupted {
                environment,
                signal,
            } => f
                .debug_struct("Interrupted")
                .field("environment", environment)
                .field("signal", signal)
                .finish(),
            Error::Report { path, source } => f
                .debug_struct("Report")
                .field("path", path)
                .field("source", source)
                .finish(),
            Error::Network {
                environment,
                source,
            } => f
                .debug_struct("Network")
                .field("environment", environment)
                .field("source", source)
                .finish(),
            Error::Other(e) => f.debug_tuple("Other").field(e).finish(),
        }
    }

    /// Wraps any error.
    pub fn other(error: impl Into<BoxError>) -> Self {
        Error::Other(error.into())
    }
}

/// An invalid description, found before anything runs: of an environment
/// ([`EnvironmentBuilder::build`](crate::EnvironmentBuilder::build)), of a template
/// ([`Template::parse`](crate::Template::parse)), of suites (the suite runner), of a
/// retry policy ([`RetryPolicy::exponential`](crate::service::RetryPolicy::exponential)).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// Two drivers share a name.
    #[error("environment `{environment}`: two drivers are named `{name}`")]
    DuplicateDriver {
        /// The environment.
        environment: String,
        /// The repeated name.
        name: String,
    },
    /// A name that cannot be used (empty, or not usable as a directory name).
    #[error("environment `{environment}`: driver name `{name}` is invalid: {reason}")]
    InvalidName {
        /// The environment.
        environment: String,
        /// The name.
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// A declared dependency on a driver that does not exist.
    #[error(
        "environment `{environment}`: driver `{driver}` depends on unknown driver `{dependency}`"
    )]
    UnknownDependency {
        /// The environment.
        environment: String,
        /// The dependent driver (or the unknown one, when the dependent is unknown).
        driver: String,
        /// The missing driver.
        dependency: String,
    },
    /// A driver placed on a host the environment does not have (neither its network's nor
    /// one declared with `EnvironmentBuilder::host`).
    #[error("environment `{environment}`: driver `{driver}`: host = `{host}`: {}", match hosts.is_empty() {
        true => "the environment has no host (declare a network with `EnvironmentBuilder::network`, or a host with `EnvironmentBuilder::host`)".to_owned(),
        false => format!("the environment has no such host (its hosts: {})", list(hosts)),
    })]
    UnknownHost {
        /// The environment.
        environment: String,
        /// The driver placed on it.
        driver: String,
        /// The host asked for.
        host: String,
        /// The hosts the environment has.
        hosts: Vec<String>,
    },
    /// A host is named like a driver (references `${name.key}` could not tell them apart),
    /// or two hosts (the network's and those declared by themselves) share a name.
    #[error("environment `{environment}`: {reason}")]
    InvalidNetwork {
        /// The environment.
        environment: String,
        /// What is wrong.
        reason: String,
    },
    /// A reference to a driver that does not exist.
    #[error("environment `{environment}`: driver `{driver}` references `{reference}`, but there is no driver `{}`", reference.driver)]
    UnknownReference {
        /// The environment.
        environment: String,
        /// The driver holding the reference.
        driver: String,
        /// The reference.
        reference: RefKey,
    },
    /// A reference to a value the target driver does not export.
    #[error("environment `{environment}`: driver `{driver}` references `{reference}`, but `{}` exports no `{}` (it exports: {})", reference.driver, reference.key, list(exported))]
    MissingExport {
        /// The environment.
        environment: String,
        /// The driver holding the reference.
        driver: String,
        /// The reference.
        reference: RefKey,
        /// What the target does export.
        exported: Vec<String>,
    },
    /// Drivers that depend on each other in a circle.
    #[error("environment `{environment}`: dependency cycle {}", cycle.join(" -> "))]
    Cycle {
        /// The environment.
        environment: String,
        /// The cycle, first driver repeated at the end: `a -> b -> a`.
        cycle: Vec<String>,
    },
    /// A driver refused its own configuration ([`Driver::check`](crate::Driver::check)):
    /// an invalid regex, a malformed placeholder…
    #[error("environment `{environment}`: driver `{driver}`: {reason}")]
    InvalidDriver {
        /// The environment.
        environment: String,
        /// The driver.
        driver: String,
        /// What is wrong, with its causes (the field and the value, as the driver
        /// says it).
        reason: String,
    },
    /// A template's `${` without a closing `}`.
    #[error("`{text}`: `${{` at byte {at} is never closed")]
    UnclosedPlaceholder {
        /// The whole template text.
        text: String,
        /// Byte offset of the `${`.
        at: usize,
    },
    /// A template's placeholder that is not `driver.key`.
    #[error("`{text}`: placeholder `${{{inner}}}` must be `${{driver.key}}`")]
    MalformedPlaceholder {
        /// The whole template text.
        text: String,
        /// What was inside the braces.
        inner: String,
    },
    /// A suite or case name that cannot be used in a test name.
    #[error("{what} name `{name}` is invalid: {reason}")]
    InvalidTestName {
        /// `"suite"` or `"case"` (with its suite: `"case of suite `echo`"`).
        what: String,
        /// The name.
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// Two suites of one binary share a name.
    #[error("two suites are named `{name}`")]
    DuplicateSuite {
        /// The repeated name.
        name: String,
    },
    /// Two cases of one suite share a name.
    #[error("suite `{suite}` has two cases named `{case}`")]
    DuplicateCase {
        /// The suite.
        suite: String,
        /// The repeated case name.
        case: String,
    },
    /// A driver's own stop deadline is not below the stop timeout the
    /// environment gives it: the environment would abort it mid-stop.
    #[error(
        "environment `{environment}`: driver `{driver}` has its own `{field}` of {own:?}, \
         not below its `DriverSpec::stop_timeout` of {spec:?}; \
         the environment would abort it mid-stop: lower the first or raise the second"
    )]
    StopTimeoutNotBelow {
        /// The environment.
        environment: String,
        /// The driver.
        driver: String,
        /// The driver's setting that holds its own stop deadline (`stop_timeout`).
        field: &'static str,
        /// The driver's own stop deadline.
        own: Duration,
        /// The stop timeout the environment gives the driver.
        spec: Duration,
    },
    /// A retry policy's duration, given in seconds, is negative, NaN, infinite or too
    /// large.
    #[error(
        "invalid retry policy: `{field}` must be a finite, non-negative number of seconds, got {value}"
    )]
    RetryPolicySeconds {
        /// The field: `initial`, `max` or `jitter`.
        field: &'static str,
        /// The rejected value, in seconds.
        value: f64,
    },
    /// A retry policy's growth factor is NaN, infinite or below 1.
    #[error("invalid retry policy: `factor` must be a finite number of at least 1, got {value}")]
    RetryPolicyFactor {
        /// The rejected factor.
        value: f64,
    },
    /// A retry policy's cap is below its first delay.
    #[error("invalid retry policy: `max` ({max:?}) must be at least `initial` ({initial:?})")]
    RetryPolicyMaxBelowInitial {
        /// The first delay.
        initial: Duration,
        /// The rejected cap.
        max: Duration,
    },
}

/// One driver's lifecycle failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LifecycleError {
    /// A status change the transition table forbids.
    #[error("driver `{driver}`: illegal status change {from} -> {to}")]
    IllegalTransition {
        /// The driver.
        driver: String,
        /// The status it was in.
        from: Status,
        /// The status asked for.
        to: Status,
    },
    /// `wait(status, timeout)` gave up.
    #[error("driver `{driver}` did not reach status {wanted} within {after:?} (it is {current})")]
    WaitTimeout {
        /// The driver.
        driver: String,
        /// The status waited for.
        wanted: Status,
        /// The status when the wait gave up.
        current: Status,
        /// How long it waited.
        after: Duration,
    },
    /// `start`, readiness or a start hook returned an error.
    #[error("driver `{driver}` failed in {phase}{}", Tail(log_tail))]
    StartFailed {
        /// The driver.
        driver: String,
        /// Where it failed.
        phase: Phase,
        /// The driver's error.
        #[source]
        source: BoxError,
        /// The end of the driver's logs.
        log_tail: Vec<String>,
    },
    /// `start` + readiness did not finish within the start timeout.
    #[error(
        "driver `{driver}` timed out after {after:?} waiting for {waited_for}{}",
        Tail(log_tail)
    )]
    StartTimeout {
        /// The driver.
        driver: String,
        /// What it was waiting for ("start", or the readiness description).
        waited_for: String,
        /// The start timeout.
        after: Duration,
        /// The end of the driver's logs.
        log_tail: Vec<String>,
    },
    /// `stop` or a stop hook returned an error; the driver was aborted.
    #[error("driver `{driver}` failed in {phase}{}", Tail(log_tail))]
    StopFailed {
        /// The driver.
        driver: String,
        /// Where it failed.
        phase: Phase,
        /// The driver's error.
        #[source]
        source: BoxError,
        /// The end of the driver's logs.
        log_tail: Vec<String>,
    },
    /// `stop` overran the stop timeout; the driver was aborted (killed).
    #[error(
        "driver `{driver}` did not stop within {after:?} and was aborted{}",
        Tail(log_tail)
    )]
    StopTimeout {
        /// The driver.
        driver: String,
        /// The stop timeout.
        after: Duration,
        /// The end of the driver's logs.
        log_tail: Vec<String>,
    },
    /// A hook did not finish in time.
    #[error("driver `{driver}`: {phase} did not finish within {after:?}")]
    HookTimeout {
        /// The driver.
        driver: String,
        /// Which hook.
        phase: Phase,
        /// The hook timeout.
        after: Duration,
    },
    /// The driver died while started (its process exited, its listener failed).
    #[error("driver `{driver}` died while started: {reason}{}", Tail(log_tail))]
    Died {
        /// The driver.
        driver: String,
        /// What the driver reported.
        reason: String,
        /// The end of the driver's logs.
        log_tail: Vec<String>,
    },
    /// The driver reported its death after it was ready but before it was
    /// `Started`: the start fails.
    #[error(
        "driver `{driver}` died while starting, after it was ready: {reason}{}",
        Tail(log_tail)
    )]
    DiedStarting {
        /// The driver.
        driver: String,
        /// What the driver reported.
        reason: String,
        /// The end of the driver's logs.
        log_tail: Vec<String>,
    },
    /// The driver does not support the operation (e.g. `pause`).
    #[error("driver `{driver}` does not support {operation}")]
    Unsupported {
        /// The driver.
        driver: String,
        /// The operation.
        operation: &'static str,
    },
    /// `pause` or `resume` returned an error.
    #[error("driver `{driver}` failed in {operation}")]
    OperationFailed {
        /// The driver.
        driver: String,
        /// The operation.
        operation: &'static str,
        /// The driver's error.
        #[source]
        source: BoxError,
    },
    /// The driver's lifecycle task panicked.
    #[error("driver `{driver}` panicked in {phase}: {message}")]
    Panicked {
        /// The driver.
        driver: String,
        /// Where.
        phase: Phase,
        /// The panic message.
        message: String,
    },
}

impl LifecycleError {
    /// The message with the driver's error inline (`…: cause`) and the log tail last:
    /// how lists of failures and reports show it.
    pub(crate) fn full_message(&self) -> String {
        match self {
            LifecycleError::StartFailed {
                driver,
                phase,
                source,
                log_tail,
            }
            | LifecycleError::StopFailed {
                driver,
                phase,
                source,
                log_tail,
            } => format!(
                "driver `{driver}` failed in {phase}: {}{}",
                full_message(&**source),
                Tail(log_tail)
            ),
            LifecycleError::OperationFailed {
                driver,
                operation,
                source,
            } => format!(
                "driver `{driver}` failed in {operation}: {}",
                full_message(&**source)
            ),
            other => full_message(other),
        }
    }

    /// The driver this error is about.
    pub fn driver(&self) -> &str {
        match self {
            LifecycleError::IllegalTransition { driver, .. }
            | LifecycleError::WaitTimeout { driver, .. }
            | LifecycleError::StartFailed { driver, .. }
            | LifecycleError::StartTimeout { driver, .. }
            | LifecycleError::StopFailed { driver, .. }
            | LifecycleError::StopTimeout { driver, .. }
            | LifecycleError::HookTimeout { driver, .. }
            | LifecycleError::Died { driver, .. }
            | LifecycleError::DiedStarting { driver, .. }
            | LifecycleError::Unsupported { driver, .. }
            | LifecycleError::OperationFailed { driver, .. }
            | LifecycleError::Panicked { driver, .. } => driver,
        }
    }
}

/// A step of a driver's lifecycle, for error messages and reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Phase {
    /// The pre-start hook.
    PreStart,
    /// `Driver::start`.
    Start,
    /// `Driver::ready`.
    Ready,
    /// The post-start hook.
    PostStart,
    /// While started (supervision).
    Run,
    /// The pre-stop hook.
    PreStop,
    /// `Driver::stop`.
    Stop,
    /// The post-stop hook.
    PostStop,
    /// The failover replacement's start.
    Failover,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::PreStart => "pre-start hook",
            Phase::Start => "start",
            Phase::Ready => "readiness",
            Phase::PostStart => "post-start hook",
            Phase::Run => "running",
            Phase::PreStop => "pre-stop hook",
            Phase::Stop => "stop",
            Phase::PostStop => "post-stop hook",
            Phase::Failover => "failover",
        })
    }
}

/// The last lines of a driver's logs, shown under an error message.
struct Tail<'a>(&'a [String]);

impl fmt::Display for Tail<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return Ok(());
        }
        let heading = crate::process::tail::last_lines(self.0.len());
        write!(f, "\n  {heading} of its log:")?;
        for line in self.0 {
            write!(f, "\n    | {line}")?;
        }
        Ok(())
    }
}

/// A driver that failed while a test body or case ran and was still `Failed`
/// when it ended.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FailedDriver {
    /// The driver.
    pub driver: String,
    /// Why it failed: the error recorded for it (which names it, and carries
    /// the tail of its logs when there is one).
    pub error: String,
}

impl FailedDriver {
    pub(crate) fn new(driver: impl Into<String>, error: impl Into<String>) -> Self {
        Self {
            driver: driver.into(),
            error: error.into(),
        }
    }
}

fn start_error_message(
    environment: &str,
    failures: &[LifecycleError],
    skipped: &[String],
    teardown: &[LifecycleError],
) -> String {
    let mut out = format!(
        "environment `{environment}` failed to start: {} driver(s) failed",
        failures.len()
    );
    for failure in failures {
        out.push_str(&format!("\n- {}", indent(&failure.full_message())));
    }
    if !skipped.is_empty() {
        out.push_str(&format!("\nskipped (not started): {}", skipped.join(", ")));
    }
    if !teardown.is_empty() {
        out.push_str("\nteardown problems:");
        for failure in teardown {
            out.push_str(&format!("\n- {}", indent(&failure.full_message())));
        }
    }
    out
}

fn stop_error_message(environment: &str, failures: &[LifecycleError]) -> String {
    let mut out = format!(
        "environment `{environment}`: {} driver(s) did not stop cleanly",
        failures.len()
    );
    for failure in failures {
        out.push_str(&format!("\n- {}", indent(&failure.full_message())));
    }
    out
}

fn drivers_failed_message(
    environment: &str,
    drivers: &[FailedDriver],
    teardown: &[LifecycleError],
) -> String {
    let names: Vec<String> = drivers.iter().map(|d| format!("`{}`", d.driver)).collect();
    let mut out = format!(
        "environment `{environment}`: the test returned Ok, but {} failed while it ran \
         and {} still failed when it ended:{}",
        if drivers.len() == 1 {
            format!("driver {}", names.join(""))
        } else {
            format!("drivers {}", names.join(", "))
        },
        if drivers.len() == 1 { "was" } else { "were" },
        failed_drivers_list(drivers),
    );
    out.push_str(
        "\n(if the test made a driver fail on purpose, declare it with \
         `env.expect_failure(\"<driver>\")`)",
    );
    if !teardown.is_empty() {
        out.push_str("\nand the teardown failed too:");
        for failure in teardown {
            out.push_str(&format!("\n- {}", indent(&failure.full_message())));
        }
    }
    out
}

/// One line (`\n- …`) per failed driver: its recorded error, indented.
pub(crate) fn failed_drivers_list(drivers: &[FailedDriver]) -> String {
    drivers
        .iter()
        .map(|d| format!("\n- {}", indent(&d.error)))
        .collect()
}

/// An error's message followed by each cause its message does not already show, one
/// `caused by:` line each: what a person reads when only the text of an error is kept
/// (a report, a step's failure line).
///
/// ```
/// let error = std::io::Error::other("connection reset");
/// assert_eq!(testrig::error::describe(&error), "connection reset");
/// ```
pub fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str("\n  caused by: ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

fn indent(text: &str) -> String {
    indent_by(text, 2)
}

fn indent_by(text: &str, spaces: usize) -> String {
    text.replace('\n', &format!("\n{:spaces$}", ""))
}

/// An error's message followed by each cause its message does not already show, as
/// `message: cause: cause`: the one-line form lists of failures and reports use, and
/// what to match when a test checks an error's whole story.
///
/// # Examples
/// ```
/// use std::io;
/// #[derive(Debug, thiserror::Error)]
/// #[error("cannot read the config")]
/// struct ReadConfig(#[source] io::Error);
///
/// let error = ReadConfig(io::Error::other("disk on fire"));
/// assert_eq!(error.to_string(), "cannot read the config");
/// assert_eq!(testrig::error::full_message(&error), "cannot read the config: disk on fire");
/// ```
pub fn full_message(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "nothing".to_owned()
    } else {
        items.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start_failed(source: BoxError) -> LifecycleError {
        LifecycleError::StartFailed {
            driver: "server".into(),
            phase: Phase::Start,
            source,
            log_tail: vec!["listening".into()],
        }
    }

    #[test]
    fn debug_of_the_error_reads_like_its_chain() {
        let error = Error::from(start_failed(Box::new(std::io::Error::other("port taken"))));
        assert_eq!(
            format!("{error:?}"),
            "driver `server` failed in start\n  last line of its log:\n    | listening\n\n\
             Caused by:\n    port taken"
        );
    }

    #[test]
    fn debug_numbers_the_causes_when_there_are_several() {
        let lost = crate::service::ServiceError::ConnectFailed {
            target: "127.0.0.1:1".into(),
            failures: 2,
            source: std::sync::Arc::new(std::io::Error::other("refused")),
        };
        let error = Error::other(crate::service::ServiceError::GaveUp {
            target: "127.0.0.1:1".into(),
            last: Box::new(lost),
        });
        assert_eq!(
            format!("{error:?}"),
            "gave up connecting to 127.0.0.1:1: the retry policy allows no further attempt\n\n\
             Caused by:\n    \
             0: connecting to 127.0.0.1:1 failed (consecutive failure 2)\n    \
             1: refused"
        );
    }

    #[test]
    fn alternate_display_is_the_chain_on_one_line() {
        let error = Error::Report {
            path: "/nowhere/report.json".into(),
            source: std::io::Error::other("read-only file system"),
        };
        assert_eq!(
            error.to_string(),
            "cannot write report to /nowhere/report.json"
        );
        assert_eq!(
            format!("{error:#}"),
            "cannot write report to /nowhere/report.json: read-only file system"
        );
    }

    #[test]
    fn alternate_debug_shows_the_structure() {
        let error = Error::UnknownDriver {
            environment: "env".into(),
            name: "nope".into(),
        };
        assert!(format!("{error:#?}").starts_with("UnknownDriver {"));
    }

    #[test]
    fn each_cause_is_printed_once() {
        let error = start_failed(Box::new(std::io::Error::other("port taken")));
        let display = error.to_string();
        let source = std::error::Error::source(&error)
            .expect("a source")
            .to_string();
        assert!(!display.contains(&source), "{display}");
        // Lists of failures and reports show it inline, with the log tail last.
        assert_eq!(
            error.full_message(),
            "driver `server` failed in start: port taken\n  last line of its log:\n    | listening"
        );
    }
}
