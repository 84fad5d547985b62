//! The task that waits for a process to end and records how it ended.

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::sync::Arc;
use std::time::Duration;

use tokio::process::Child;
use tokio::task::JoinHandle;

use super::control::Control;
use super::state::Event;

/// How long the end of the output is awaited after the program ended. The program's leftovers
/// are killed when it ends, so the pipes close at once; only a grandchild that left the process
/// group (`setsid`) and kept the pipes open can make this deadline matter.
const DRAIN_DEADLINE: Duration = Duration::from_millis(500);

/// Starts supervising `child`: waits for its end (event-driven: tokio watches a pidfd), records
/// it — which kills whatever the program left in its process group — waits for the output to be
/// read to its end, then publishes `Exited`.
pub(crate) fn supervise(
    mut child: Child,
    control: Arc<Control>,
    pumps: Vec<JoinHandle<()>>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let status = child.wait().await.unwrap_or_else(|error| {
            // Only possible if someone else reaped our child; report it as a failure.
            tracing::error!(%error, "waiting for a child process failed");
            ExitStatus::from_raw(255 << 8)
        });
        if let Err(error) = control.apply(Event::Reaped(status)) {
            tracing::warn!(?error, "killing the leftovers of an ended process failed");
        }
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
