use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

/// A fresh directory name for a run of `name`: under `$TESTRIG_RUNPATH` when
/// set, else under the system temp directory; unique per process and run.
pub(crate) fn default_runpath_root(name: &str) -> PathBuf {
    static RUNS: AtomicU64 = AtomicU64::new(0);
    let base = std::env::var_os("TESTRIG_RUNPATH")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("testrig"));
    let run = RUNS.fetch_add(1, Ordering::Relaxed);
    base.join(format!("{name}-{}-{run}", std::process::id()))
}

/// `$TESTRIG_KEEP_RUNS` set to anything but empty or `0`: keep every run directory.
pub(crate) fn keep_runs_from_var() -> bool {
    std::env::var_os("TESTRIG_KEEP_RUNS").is_some_and(|value| !value.is_empty() && value != "0")
}
