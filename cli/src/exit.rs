use std::process::ExitCode;

/// How a `testrig` command ended; each has its own exit code, so a script or
/// CI can tell a failing step from a rig that could not start from a bad file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// 0: everything passed (or `up` was stopped by a signal and tore down cleanly).
    Passed,
    /// 1: a step failed, a driver failed while the rig was up, the run was
    /// interrupted, the teardown failed, or the reports could not be written.
    Failed,
    /// 2: the rig could not start (every failure and skipped driver is printed).
    StartFailed,
    /// 3: the rig file cannot be read or is invalid.
    BadRig,
    /// 4: the command line is wrong, including a `--report-dir` the reports
    /// cannot be written to.
    Usage,
}

impl Outcome {
    pub(crate) fn code(self) -> u8 {
        match self {
            Outcome::Passed => 0,
            Outcome::Failed => 1,
            Outcome::StartFailed => 2,
            Outcome::BadRig => 3,
            Outcome::Usage => 4,
        }
    }
}

impl From<Outcome> for ExitCode {
    fn from(outcome: Outcome) -> Self {
        ExitCode::from(outcome.code())
    }
}

/// The exit codes, for `--help`.
pub(crate) const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  ok (for `up`: stopped by Ctrl-C, SIGTERM or SIGHUP and torn down cleanly)
  1  a step failed, a driver failed while up, the run was interrupted, teardown failed,
     or the reports could not be written
  2  the rig could not start
  3  bad rig file (unreadable, invalid TOML, unknown key, wrong type, bad reference…)
  4  bad command line (including a --report-dir the reports cannot be written to)";
