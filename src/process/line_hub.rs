//! `LineHub`: where every output line goes — the callbacks, the tail, the pattern watchers.

use std::mem;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Mutex, MutexGuard};

use tokio::sync::{oneshot, watch};

use super::command::LineCallback;
use super::tail::TailBuffer;
use super::{Captures, Command, Line, Pattern, Tail};

/// Receives every line of a process's output (from the tasks reading stdout and stderr) and hands
/// it to the callbacks, the tail and whoever waits for a pattern. Waiters are resolved by the line
/// itself, so a wait wakes up as soon as the line is read — nothing polls.
pub(crate) struct LineHub {
    callbacks: Vec<LineCallback>,
    state: Mutex<HubState>,
    ready: watch::Sender<Option<Captures>>,
}

struct HubState {
    tail: TailBuffer,
    /// The readiness pattern, until a line matches it.
    readiness: Option<Pattern>,
    /// Patterns awaited with `wait_for_line`, until a line matches or the waiter gives up.
    waiters: Vec<Waiter>,
}

struct Waiter {
    pattern: Pattern,
    reply: oneshot::Sender<Captures>,
}

impl LineHub {
    pub(crate) fn new(command: &Command) -> LineHub {
        LineHub {
            callbacks: command.callbacks().to_vec(),
            state: Mutex::new(HubState {
                tail: TailBuffer::new(command.get_tail_lines()),
                readiness: command.readiness().cloned(),
                waiters: Vec::new(),
            }),
            ready: watch::Sender::new(None),
        }
    }

    /// Hands one line to everyone interested.
    pub(crate) fn dispatch(&self, line: Line<'_>) {
        for callback in &self.callbacks {
            // A panicking callback must not stop the output from being read: the program would
            // block on a full pipe, or die of SIGPIPE. The panic is logged, the line goes on.
            if panic::catch_unwind(AssertUnwindSafe(|| callback(line.stream, line.text))).is_err() {
                tracing::error!(line = line.text, "an output line callback panicked");
            }
        }
        let mut state = self.lock();
        state.tail.push(line);
        if let Some(captures) = state.readiness.as_ref().and_then(|p| p.captures(line)) {
            state.readiness = None;
            self.ready.send_replace(Some(captures));
        }
        for waiter in mem::take(&mut state.waiters) {
            if waiter.reply.is_closed() {
                continue;
            }
            match waiter.pattern.captures(line) {
                Some(captures) => {
                    let _ = waiter.reply.send(captures);
                }
                None => state.waiters.push(waiter),
            }
        }
    }

    /// Resolves with the captures of the first line matching `pattern` from now on.
    pub(crate) fn wait_for(&self, pattern: Pattern) -> oneshot::Receiver<Captures> {
        let (reply, receiver) = oneshot::channel();
        self.lock().waiters.push(Waiter { pattern, reply });
        receiver
    }

    /// The readiness captures: `None` until a line matched the readiness pattern.
    pub(crate) fn readiness(&self) -> watch::Receiver<Option<Captures>> {
        self.ready.subscribe()
    }

    pub(crate) fn tail(&self) -> Tail {
        self.lock().tail.snapshot()
    }

    fn lock(&self) -> MutexGuard<'_, HubState> {
        // A panicking callback runs outside the lock, so poisoning cannot leave the state half-done.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
