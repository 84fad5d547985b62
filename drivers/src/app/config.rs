use std::path::PathBuf;
use std::time::Duration;

use testrig::Template;
use testrig::process::{DEFAULT_TAIL_LINES, Signal};

use super::readiness::{Readiness, ReadinessSpec};
use super::{AppError, Expectation};

/// How long a program has to exit after the stop signal before it is killed,
/// unless set with [`App::stop_timeout`](super::App::stop_timeout).
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// An [`App`](super::App)'s settings as given (regexes and placeholders not
/// parsed yet).
#[derive(Debug)]
pub(super) struct Settings {
    pub(super) binary: PathBuf,
    pub(super) args: Vec<String>,
    pub(super) env: Vec<(String, String)>,
    pub(super) working_dir: Option<PathBuf>,
    pub(super) readiness: ReadinessSpec,
    pub(super) expectation: Expectation,
    pub(super) stop_signal: Signal,
    pub(super) stop_timeout: Duration,
    pub(super) tail_lines: usize,
    pub(super) cgroup: bool,
}

/// The parsed part of the settings: what [`Settings::parse`] validates.
#[derive(Debug)]
pub(super) struct Config {
    pub(super) args: Vec<Template>,
    pub(super) env: Vec<(String, Template)>,
    pub(super) readiness: Readiness,
}

impl Settings {
    pub(super) fn new(binary: PathBuf) -> Self {
        Self {
            binary,
            args: Vec::new(),
            env: Vec::new(),
            working_dir: None,
            readiness: ReadinessSpec::Immediate,
            expectation: Expectation::KeepsRunning,
            stop_signal: Signal::TERM,
            stop_timeout: DEFAULT_STOP_TIMEOUT,
            tail_lines: DEFAULT_TAIL_LINES,
            cgroup: true,
        }
    }

    /// Parses the placeholders and the readiness regex; an error names `driver`,
    /// the field and the value.
    pub(super) fn parse(&self, driver: &str) -> Result<Config, AppError> {
        let template = |field: String, text: &str| {
            Template::parse(text).map_err(|source| AppError::InvalidTemplate {
                driver: driver.to_owned(),
                field,
                source: Box::new(source),
            })
        };
        let args = self
            .args
            .iter()
            .enumerate()
            .map(|(i, arg)| template(format!("arg {}", i + 1), arg))
            .collect::<Result<_, _>>()?;
        let env = self
            .env
            .iter()
            .map(|(key, value)| Ok((key.clone(), template(format!("env {key}"), value)?)))
            .collect::<Result<_, AppError>>()?;
        let readiness = self.readiness.parse(driver)?;
        Ok(Config {
            args,
            env,
            readiness,
        })
    }
}
