use std::path::PathBuf;
use std::time::Duration;

use testrig::Template;
use testrig::process::Signal;

use super::Expectation;
use super::readiness::Readiness;

/// An [`App`](super::App)'s validated settings, made by
/// [`AppBuilder::build`](super::AppBuilder::build).
#[derive(Debug)]
pub(super) struct Config {
    pub(super) binary: PathBuf,
    pub(super) args: Vec<Template>,
    pub(super) env: Vec<(String, Template)>,
    pub(super) working_dir: Option<PathBuf>,
    pub(super) readiness: Readiness,
    pub(super) expectation: Expectation,
    pub(super) stop_signal: Signal,
    pub(super) stop_timeout: Duration,
    pub(super) tail_lines: usize,
    pub(super) cgroup: bool,
}
