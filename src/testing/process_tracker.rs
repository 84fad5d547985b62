use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::ProcessIdentity;

/// The processes a test started, so that it can end by asserting that none is left alive.
///
/// Clones share the list, so a test body run by
/// [`Environment::run`](crate::Environment::run) can record pids too. Track every process the
/// test starts, including the ones its programs start (a grandchild whose pid a script printed):
/// testrig promises that none outlives its test, and this is how a test holds it to that.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use testrig::process::{Command, Process};
/// use testrig::testing::ProcessTracker;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let started = ProcessTracker::new();
/// let runpath = std::env::temp_dir().join("process-tracker-example");
/// let sleeper = Process::spawn(Command::new("sleep").arg("1000"), &runpath).await.unwrap();
/// started.track(sleeper.pid());
///
/// sleeper.stop(Duration::from_secs(1)).await.unwrap();
/// started.assert_all_gone(Duration::from_secs(5)).await;
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct ProcessTracker {
    /// `None` for a process that had already ended when it was tracked: nothing to check, but
    /// it counts as tracked.
    started: Arc<Mutex<Vec<Option<ProcessIdentity>>>>,
}

impl ProcessTracker {
    /// An empty list.
    pub fn new() -> ProcessTracker {
        ProcessTracker::default()
    }

    /// Records the process `pid` (by its [`ProcessIdentity`], so a recycled pid is not mistaken
    /// for it), to check at the end that it is gone. One already gone is recorded as such.
    pub fn track(&self, pid: u32) {
        self.lock().push(ProcessIdentity::of(pid));
    }

    /// Whether no process is tracked (none since the start, or since the last
    /// [`assert_all_gone`](ProcessTracker::assert_all_gone)).
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Asserts that every tracked process is gone, waiting up to `within` overall for those
    /// just stopped or killed; then the list is empty again.
    ///
    /// # Panics
    /// When a tracked process is still alive after `within`, naming every such pid.
    pub async fn assert_all_gone(&self, within: Duration) {
        let started = std::mem::take(&mut *self.lock());
        let give_up = Instant::now() + within;
        let mut alive = Vec::new();
        for process in started.into_iter().flatten() {
            let left = give_up.saturating_duration_since(Instant::now());
            if !process.wait_gone(left).await {
                alive.push(process.pid().to_string());
            }
        }
        assert!(
            alive.is_empty(),
            "processes the test started are still alive {within:?} after it ended them: {}",
            alive.join(", ")
        );
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Option<ProcessIdentity>>> {
        self.started.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_process_that_ended_before_it_was_tracked_counts_and_passes_the_check() {
        let ended = std::process::Command::new("true").spawn().unwrap();
        let pid = ended.id();
        ended.wait_with_output().unwrap();
        let started = ProcessTracker::new();
        started.track(pid);
        assert!(!started.is_empty());
        started.assert_all_gone(Duration::ZERO).await;
        assert!(started.is_empty());
    }

    #[tokio::test]
    #[should_panic(expected = "still alive")]
    async fn a_process_still_running_fails_the_check() {
        let started = ProcessTracker::new();
        started.track(std::process::id());
        started.assert_all_gone(Duration::from_millis(20)).await;
    }
}
