//! `Progress`: what [`ProcessMonitor::keep_running`](super::ProcessMonitor::keep_running) found.

/// What [`ProcessMonitor::keep_running`](super::ProcessMonitor::keep_running) found when it
/// returned without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Progress {
    /// Every task has exited with code 0 (daemons still running).
    TasksDone,
    /// The timeout passed with tasks still running, all rules kept.
    StillRunning,
}
