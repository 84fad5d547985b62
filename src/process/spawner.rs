//! The spawner: one thread, alive as long as the program, that forks every child.

use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::thread;
use std::time::Instant;

use tokio::process::{Child, Command};
use tokio::runtime::Handle;
use tokio::sync::oneshot;

use super::Signal;
use super::group::ProcessGroup;
use super::guardian;

/// A spawn to perform on the spawner thread.
struct Request {
    command: Command,
    /// The runtime the child's pipes and exit watch are registered with.
    runtime: Handle,
    reply: oneshot::Sender<io::Result<Spawned>>,
}

/// A child just spawned, and when it was forked.
pub(crate) struct Spawned {
    pub(crate) child: Child,
    pub(crate) forked_at: Instant,
}

/// Spawns `command` from the spawner thread and returns the child (its stdout and stderr are
/// registered with `runtime`).
///
/// Why a thread of its own: the parent-death signal (see `parent_death`) fires when the thread
/// that forked the child exits. Tokio's blocking-pool threads exit after being idle for a while,
/// and a `#[tokio::test]` thread exits at the end of its test; a child forked from either would
/// be killed long before the program ends. The spawner thread never returns, so the signal fires
/// only when the whole program dies.
pub(crate) async fn spawn(command: Command, runtime: Handle) -> io::Result<Spawned> {
    let (reply, receiver) = oneshot::channel();
    spawner()?
        .send(Request {
            command,
            runtime,
            reply,
        })
        .map_err(|_| spawner_gone())?;
    receiver.await.map_err(|_| spawner_gone())?
}

fn spawner() -> io::Result<&'static mpsc::Sender<Request>> {
    static SPAWNER: OnceLock<io::Result<mpsc::Sender<Request>>> = OnceLock::new();
    SPAWNER
        .get_or_init(|| {
            let (sender, requests) = mpsc::channel();
            thread::Builder::new()
                .name("testrig-spawner".into())
                .spawn(move || serve(requests))?;
            Ok(sender)
        })
        .as_ref()
        .map_err(|error| io::Error::new(error.kind(), error.to_string()))
}

/// The spawner thread's loop. The sender lives in a static, so `recv` never fails and the thread
/// never returns.
fn serve(requests: mpsc::Receiver<Request>) {
    while let Ok(mut request) = requests.recv() {
        // This thread must never die: its children would all get the parent-death signal.
        let spawned = panic::catch_unwind(AssertUnwindSafe(|| {
            let _runtime = request.runtime.enter();
            let forked_at = Instant::now();
            let child = request.command.spawn()?;
            // At once, so that the guardian kills the whole group if this program dies from
            // here on (grandchildren do not carry the parent-death signal).
            if let Some(pid) = child.id() {
                guardian::watch(ProcessGroup::led_by(pid));
            }
            Ok(Spawned { child, forked_at })
        }))
        .unwrap_or_else(|_| {
            Err(io::Error::other(
                "spawning panicked (is the runtime shut down?)",
            ))
        });
        if let Err(Ok(Spawned { child, .. })) = request.reply.send(spawned) {
            // The caller gave up waiting: nobody owns this child, end it with its group.
            // The leader is not reaped yet (tokio reaps it once `child` is dropped), so the group
            // id cannot have been recycled.
            if let Some(pid) = child.id() {
                let group = ProcessGroup::led_by(pid);
                let _ = group.signal(Signal::KILL);
                guardian::release(group);
            }
        }
    }
}

fn spawner_gone() -> io::Error {
    io::Error::other("testrig's spawner thread is gone")
}
