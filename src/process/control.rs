//! `Control`: the one place that changes a process's state and signals its group.

use std::io;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Instant;

use tokio::sync::watch;

use super::group::ProcessGroup;
use super::state::{Event, Refusal};
use super::{ProcessState, Signal};

/// Holds a process's state and applies events to it. Signals are sent while the state is locked,
/// so no signal can reach the group after the supervisor has recorded the leader's end (and
/// killed its leftovers): a recycled process-group id is never hit.
///
/// Observers see the state through a `watch` channel. `Exited` is published only once the
/// output has been read to its end (see the supervisor), so whoever wakes on the exit also sees
/// every line the program printed.
pub(crate) struct Control {
    group: ProcessGroup,
    state: Mutex<ProcessState>,
    published: watch::Sender<ProcessState>,
    ended_at: OnceLock<Instant>,
}

/// Why an event could not be applied.
#[derive(Debug)]
pub(crate) enum ControlError {
    /// The state refuses the event.
    Refused(Refusal),
    /// The OS refused a signal.
    Signal(Signal, io::Error),
}

impl Control {
    pub(crate) fn new(group: ProcessGroup) -> Control {
        Control {
            group,
            state: Mutex::new(ProcessState::Running),
            published: watch::Sender::new(ProcessState::Running),
            ended_at: OnceLock::new(),
        }
    }

    /// The process group the process leads.
    pub(crate) fn group(&self) -> ProcessGroup {
        self.group
    }

    /// Applies `event`: sends the signals its transition calls for and records the new state.
    pub(crate) fn apply(&self, event: Event) -> Result<ProcessState, ControlError> {
        let mut state = self.lock();
        let transition = state.on(event).map_err(ControlError::Refused)?;
        let sent = transition.signals.iter().try_for_each(|&signal| {
            self.group
                .signal(signal)
                .map_err(|error| ControlError::Signal(signal, error))
        });
        // The leader's end is a fact, whether or not its leftovers could be signalled.
        if sent.is_ok() || matches!(event, Event::Reaped(_)) {
            *state = transition.next;
            if transition.next.has_exited() {
                let _ = self.ended_at.set(Instant::now());
            } else {
                self.published.send_replace(transition.next);
            }
        }
        sent.map(|()| transition.next)
    }

    /// Publishes the recorded state once the supervisor is done with the exit.
    pub(crate) fn publish_exit(&self) {
        let state = *self.lock();
        self.published.send_replace(state);
    }

    /// When the leader's end was recorded.
    pub(crate) fn ended_at(&self) -> Option<Instant> {
        self.ended_at.get().copied()
    }

    /// The state as observers see it.
    pub(crate) fn current(&self) -> ProcessState {
        *self.published.borrow()
    }

    /// Follows the state as observers see it.
    pub(crate) fn subscribe(&self) -> watch::Receiver<ProcessState> {
        self.published.subscribe()
    }

    fn lock(&self) -> MutexGuard<'_, ProcessState> {
        // The state is a `Copy` value replaced in one assignment: a poisoned lock still holds a
        // consistent state.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
