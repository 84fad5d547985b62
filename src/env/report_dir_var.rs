use std::path::PathBuf;

/// The environment variable naming the directory where reports are written when nothing
/// closer set one: [`EnvironmentBuilder::report_dir`](crate::EnvironmentBuilder::report_dir)
/// for [`Environment::run`](crate::Environment::run), the suite runner's `report_dir` for
/// suites.
pub const REPORT_DIR_VAR: &str = "TESTRIG_REPORT_DIR";

/// The directory `$TESTRIG_REPORT_DIR` names, when it is set and not empty.
///
/// Where reports go when nothing closer set a directory: the suite runner's
/// fallback after [`Runner::report_dir`](crate::suite::Runner::report_dir), and
/// [`Environment::run`](crate::Environment::run)'s after the builder's.
pub(crate) fn report_dir_from_var() -> Option<PathBuf> {
    std::env::var_os(REPORT_DIR_VAR)
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
}
