use std::path::PathBuf;

use crate::suite::REPORT_DIR_VAR;

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
