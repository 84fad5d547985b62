//! `Control`: the one place that changes a process's state and signals its group.

use std::io;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::cgroup::Cgroup;
use super::group::ProcessGroup;
use super::relay::Relay;
use super::state::{Event, Refusal};
use super::{ProcessState, Signal, Survivor};

/// Sends signals to one remote program's group, through its agent. Never blocks (usable from
/// `Drop`).
pub(crate) trait RemoteSignals: Send + Sync {
    /// Asks for `signal` to be sent to the program's group.
    fn signal(&self, signal: Signal) -> io::Result<()>;
}

/// Holds a process's state and applies events to it. Signals are sent while the state is locked,
/// so no signal can reach the group after the supervisor has recorded the leader's end (and
/// killed its leftovers): a recycled process-group id is never hit.
///
/// With a cgroup, the signals that act on the whole tree go through it instead of the process
/// group: `SIGSTOP`/`SIGCONT` freeze and thaw the cgroup, `SIGKILL` is `cgroup.kill`, which also
/// reaches the descendants that left the group. Other signals (the stop signal) go to the group.
///
/// A program run on an SSH host is signalled through its [`Relay`]: every signal but `SIGKILL` is
/// forwarded to the remote supervisor; `SIGKILL` (and a signal the relay could not forward)
/// reaches the local `ssh` client's group, which closes the channel, and the remote supervisor
/// kills the remote group.
///
/// A program run by an SSH host's agent has no local group: every signal is a request to the
/// agent ([`RemoteSignals`]), which sends it to the program's group there.
///
/// Observers see the state through a `watch` channel. `Exited` is published only once the
/// output has been read to its end (see the supervisor), so whoever wakes on the exit also sees
/// every line the program printed.
pub(crate) struct Control {
    target: Target,
    state: Mutex<ProcessState>,
    published: watch::Sender<ProcessState>,
    ended_at: OnceLock<Instant>,
    aftermath: OnceLock<Aftermath>,
}

/// Where the signals go.
enum Target {
    /// A local child: its process group, its cgroup if it has one, and for the `ssh` client of a
    /// program on an SSH host, the relay to the remote supervisor.
    Local {
        group: ProcessGroup,
        cgroup: Option<Arc<Cgroup>>,
        relay: Option<Relay>,
    },
    /// A program an agent runs elsewhere.
    Remote(Box<dyn RemoteSignals>),
}

/// What the supervisor found once the program ended and its leftovers were killed.
#[derive(Debug, Clone, Default)]
pub(crate) struct Aftermath {
    /// The CPU time of everything that ran in the cgroup (none without a cgroup).
    pub(crate) cpu_time: Option<Duration>,
    /// Descendants still alive.
    pub(crate) survivors: Vec<Survivor>,
}

/// Why an event could not be applied.
#[derive(Debug)]
pub(crate) enum ControlError {
    /// The state refuses the event.
    Refused(Refusal),
    /// The OS refused a signal.
    Signal(Signal, io::Error),
    /// Writing to the cgroup failed (`freeze`, `thaw`, `kill`).
    Cgroup(&'static str, io::Error),
}

impl Control {
    pub(crate) fn new(group: ProcessGroup, cgroup: Option<Cgroup>) -> Control {
        Control::with_target(Target::Local {
            group,
            cgroup: cgroup.map(Arc::new),
            relay: None,
        })
    }

    /// The control of a program an agent runs elsewhere, signalled through `signals`.
    pub(crate) fn remote(signals: Box<dyn RemoteSignals>) -> Control {
        Control::with_target(Target::Remote(signals))
    }

    fn with_target(target: Target) -> Control {
        Control {
            target,
            state: Mutex::new(ProcessState::Running),
            published: watch::Sender::new(ProcessState::Running),
            ended_at: OnceLock::new(),
            aftermath: OnceLock::new(),
        }
    }

    /// Signals go through `relay` to a remote supervisor (see [`Relay`]).
    pub(crate) fn with_relay(mut self, relay: Relay) -> Control {
        if let Target::Local { relay: slot, .. } = &mut self.target {
            *slot = Some(relay);
        }
        self
    }

    /// The program's cgroup, if it has one.
    pub(crate) fn cgroup(&self) -> Option<&Arc<Cgroup>> {
        match &self.target {
            Target::Local { cgroup, .. } => cgroup.as_ref(),
            Target::Remote(_) => None,
        }
    }

    /// Whether an agent runs the program elsewhere (its pid is not a local process).
    pub(crate) fn is_remote(&self) -> bool {
        matches!(self.target, Target::Remote(_))
    }

    /// Records what was found after the end (once; before the exit is published).
    pub(crate) fn set_aftermath(&self, aftermath: Aftermath) {
        let _ = self.aftermath.set(aftermath);
    }

    /// What was found after the end, once the exit is published.
    pub(crate) fn aftermath(&self) -> Option<&Aftermath> {
        self.aftermath.get()
    }

    /// The local process group the process leads; none for a program an agent runs elsewhere.
    pub(crate) fn group(&self) -> Option<ProcessGroup> {
        match &self.target {
            Target::Local { group, .. } => Some(*group),
            Target::Remote(_) => None,
        }
    }

    /// Applies `event`: sends the signals its transition calls for and records the new state.
    pub(crate) fn apply(&self, event: Event) -> Result<ProcessState, ControlError> {
        let mut state = self.lock();
        let transition = state.on(event).map_err(ControlError::Refused)?;
        let sent = transition
            .signals
            .iter()
            .try_for_each(|&signal| self.send(signal));
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

    /// Sends `signal` to the process group, or does what it means to the cgroup.
    fn send(&self, signal: Signal) -> Result<(), ControlError> {
        let through_cgroup = |action, result: io::Result<()>| {
            result.map_err(|error| ControlError::Cgroup(action, error))
        };
        let (group, cgroup, relay) = match &self.target {
            Target::Remote(agent) => {
                return agent
                    .signal(signal)
                    .map_err(|error| ControlError::Signal(signal, error));
            }
            Target::Local {
                group,
                cgroup,
                relay,
            } => (group, cgroup, relay),
        };
        // SIGKILL is never relayed: it ends the local client, whose channel closes, and the
        // remote supervisor kills the group; a relayed one could make the program end by a
        // code of its own before the local kill lands.
        if let Some(relay) = relay
            && signal != Signal::KILL
            && relay.forward(signal).is_ok()
        {
            return Ok(());
        }
        match (cgroup, signal) {
            (Some(cgroup), Signal::STOP) => through_cgroup("freeze", cgroup.freeze(true)),
            (Some(cgroup), Signal::CONT) => through_cgroup("thaw", cgroup.freeze(false)),
            (Some(cgroup), Signal::KILL) => through_cgroup("kill", cgroup.kill()),
            _ => group
                .signal(signal)
                .map_err(|error| ControlError::Signal(signal, error)),
        }
    }

    /// Kills a program run through an `ssh` client where it runs first: `KILL` goes through the
    /// relay to its remote supervisor, which kills the program's group there and only then
    /// exits, so the client's end (its `Exited`) comes after the remote group's. Without a
    /// relay, or when it is gone, the local group is killed (the remote group then dies when
    /// the channel's end reaches the supervisor). Nothing once the program has ended.
    pub(crate) fn kill_there_first(&self) {
        let state = self.lock();
        if state.has_exited() {
            return;
        }
        if let Target::Local { group, relay, .. } = &self.target {
            let relayed = relay
                .as_ref()
                .is_some_and(|relay| relay.forward(Signal::KILL).is_ok());
            if !relayed {
                let _ = group.signal(Signal::KILL);
            }
        }
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
