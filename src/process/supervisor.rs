//! The task that waits for a process to end and records how it ended.

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::sync::Arc;
use std::time::Duration;

use tokio::process::Child;
use tokio::task::JoinHandle;

use super::Signal;
use super::control::Control;
use super::group::ProcessGroup;
use super::guardian;
use super::state::Event;

/// How long the end of the output is awaited after the program ended. The program's leftovers
/// are killed when it ends, so the pipes close at once; only a grandchild that left the process
/// group (`setsid`) and kept the pipes open can make this deadline matter.
const DRAIN_DEADLINE: Duration = Duration::from_millis(500);

/// Starts supervising `child`: waits for its end (event-driven: tokio watches a pidfd), records
/// it — which kills whatever the program left in its process group — releases the group from the
/// guardian, waits for the output to be read to its end, then publishes `Exited`.
pub(crate) fn supervise(
    child: Child,
    control: Arc<Control>,
    pumps: Vec<JoinHandle<()>>,
) -> JoinHandle<()> {
    let mut child = Unreaped {
        child: Some(child),
        group: control.group(),
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
        guardian::release(control.group());
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
            guardian::release(self.group);
        }
    }
}
