//! The task that waits for a process to end and records how it ended.

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::process::Child;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::cgroup::Cgroup;
use super::control::{Aftermath, Control};
use super::group::ProcessGroup;
use super::state::Event;
use super::{Signal, Survivor, guardian, survivor};

/// How long a cgroup is given to empty after `cgroup.kill` (the kernel kills asynchronously).
const EMPTY_DEADLINE: Duration = Duration::from_secs(5);

/// How long removing an empty cgroup is tried again while the kernel still calls it busy.
const REMOVE_DEADLINE: Duration = Duration::from_secs(1);

/// How long the end of the output is awaited after the program ended. The program's leftovers
/// are killed when it ends, so the pipes close at once; only a grandchild that left the process
/// group (`setsid`) where no cgroup holds it, and kept the pipes open, can make this deadline
/// matter.
const DRAIN_DEADLINE: Duration = Duration::from_millis(500);

/// Starts supervising `child`: waits for its end (event-driven: tokio watches a pidfd), records
/// it — which kills whatever the program left in its process group, or its whole cgroup —
/// releases the group from the guardian, accounts for what is left (a cgroup's CPU time, its
/// removal once empty; without a cgroup, the descendants carrying `marker` still alive), waits
/// for the output to be read to its end, then publishes `Exited`.
pub(crate) fn supervise(
    child: Child,
    control: Arc<Control>,
    pumps: Vec<JoinHandle<()>>,
    marker: String,
) -> JoinHandle<()> {
    let group = control.group().expect("a local child leads a local group");
    let mut child = Unreaped {
        child: Some(child),
        group,
        cgroup: control.cgroup().cloned(),
    };
    tokio::spawn(async move {
        let status = child.reap().await.unwrap_or_else(|error| {
            // Only possible if someone else reaped our child; report it as a failure.
            tracing::error!(%error, "waiting for a child process failed");
            ExitStatus::from_raw(255 << 8)
        });
        if let Err(error) = control.apply(Event::Reaped(status)) {
            tracing::warn!(?error, "killing the leftovers of an ended process failed");
        }
        guardian::release(group);
        let accounting = control.clone();
        let aftermath = tokio::task::spawn_blocking(move || account(&accounting, group, &marker))
            .await
            .unwrap_or_default();
        control.set_aftermath(aftermath);
        let drained = async {
            for pump in pumps {
                let _ = pump.await;
            }
        };
        if tokio::time::timeout(DRAIN_DEADLINE, drained).await.is_err() {
            tracing::warn!("process output still open after its end; publishing the exit anyway");
        }
        control.publish_exit();
    })
}

/// Starts supervising a program an agent runs elsewhere: waits for the end the agent reports
/// (after the agent killed what the program left in its group there), records it, waits for
/// the output to be read to its end, then publishes `Exited`. A lost agent channel without a
/// word ends it with status 255, as `ssh` reports a lost connection.
pub(crate) fn supervise_remote(
    exit: oneshot::Receiver<ExitStatus>,
    control: Arc<Control>,
    pumps: Vec<JoinHandle<()>>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let status = exit
            .await
            .unwrap_or_else(|_| ExitStatus::from_raw(255 << 8));
        if let Err(error) = control.apply(Event::Reaped(status)) {
            tracing::debug!(?error, "asking the agent to kill the leftovers failed");
        }
        control.set_aftermath(Aftermath::default());
        let drained = async {
            for pump in pumps {
                let _ = pump.await;
            }
        };
        if tokio::time::timeout(DRAIN_DEADLINE, drained).await.is_err() {
            tracing::warn!("process output still open after its end; publishing the exit anyway");
        }
        control.publish_exit();
    })
}

/// What is left once the program ended and its leftovers were sent `SIGKILL`. Blocking.
///
/// With a cgroup: waits for it to empty, reads its CPU time, removes it; a process still in it
/// at the deadline is a survivor (the cgroup is then left for the guardian to remove). Without:
/// the descendants that left the process group, found by the spawn marker they inherited.
fn account(control: &Control, group: ProcessGroup, marker: &str) -> Aftermath {
    let Some(cgroup) = control.cgroup() else {
        let survivors = survivor::find(marker, group);
        if !survivors.is_empty() {
            tracing::warn!(
                group = group.id(),
                survivors = %list(&survivors),
                "descendants left the process group of a program that ended and are still alive \
                 (no cgroup holds them, so they were not killed)"
            );
        }
        return Aftermath {
            cpu_time: None,
            survivors,
        };
    };
    let empty = cgroup
        .wait_empty(Instant::now() + EMPTY_DEADLINE)
        .unwrap_or_else(|error| {
            tracing::warn!(cgroup = %cgroup.dir().display(), %error, "cannot read cgroup.events");
            false
        });
    let cpu_time = cgroup.cpu_time().ok();
    let survivors: Vec<Survivor> = match empty {
        true => Vec::new(),
        false => cgroup.pids().into_iter().map(Survivor::of).collect(),
    };
    if survivors.is_empty() {
        if let Err(error) = cgroup.remove(Instant::now() + REMOVE_DEADLINE) {
            tracing::warn!(cgroup = %cgroup.dir().display(), %error, "cannot remove a cgroup");
        }
    } else {
        tracing::warn!(
            cgroup = %cgroup.dir().display(),
            survivors = %list(&survivors),
            "processes still alive {EMPTY_DEADLINE:?} after cgroup.kill"
        );
    }
    Aftermath {
        cpu_time,
        survivors,
    }
}

fn list(survivors: &[Survivor]) -> String {
    let names: Vec<String> = survivors.iter().map(ToString::to_string).collect();
    names.join(", ")
}

/// The child until it is reaped.
///
/// Dropped unreaped — the runtime shut down while the supervisor waited — it sends `SIGKILL` to
/// the whole group (the leader is at worst a zombie, so the group id is still its own) and
/// releases the group from the guardian; tokio then reaps the leader in the background. Without
/// this, only the leader would be killed (`kill_on_drop`) and the group would stay with the
/// guardian, to be killed at the program's end under an id that may have been recycled by then.
struct Unreaped {
    child: Option<Child>,
    group: ProcessGroup,
    cgroup: Option<Arc<Cgroup>>,
}

impl Unreaped {
    /// Waits for the child's end and reaps it.
    async fn reap(&mut self) -> io::Result<ExitStatus> {
        let child = self.child.as_mut().expect("reaped only once");
        let status = child.wait().await;
        // No `.await` between the reaping and this: a drop cannot see a reaped child here.
        self.child = None;
        status
    }
}

impl Drop for Unreaped {
    fn drop(&mut self) {
        if self.child.take().is_some() {
            let _ = self.group.signal(Signal::KILL);
            if let Some(cgroup) = &self.cgroup {
                let _ = cgroup.kill();
            }
            guardian::release(self.group);
        }
    }
}
