//! `ProcessState`: where a process is in its life, and the transitions between states.

use std::fmt;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use super::{Exit, Signal};

/// Where a spawned process is in its life.
///
/// ```text
///            pause              stop(signal)              reaped
/// Running ─────────▶ Paused ──────────────▶ Stopping ──────────────▶ Exited
///    ▲  ◀───────────   │                       │ kill (timeout)         ▲
///    │     resume      │ kill                  ▼                        │
///    │                 └──────────────────▶ Killing ────────────────────┘
///    └─────────── (any state but Exited) ── exits on its own ──────────▶ Exited
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub enum ProcessState {
    /// Running (as far as testrig knows).
    Running,
    /// Frozen with `SIGSTOP` by [`Process::pause`](super::Process::pause).
    Paused,
    /// The stop signal was sent; waiting for the program to end.
    Stopping {
        /// The signal that was sent.
        signal: Signal,
    },
    /// `SIGKILL` was sent; waiting for the kernel to report the end.
    Killing {
        /// The stop signal sent before, if the kill follows a stop that timed out.
        stop_signal: Option<Signal>,
    },
    /// The program ended; its process group is never signalled again.
    Exited(Exit),
}

impl ProcessState {
    /// How the process ended, once it has.
    pub fn exit(self) -> Option<Exit> {
        match self {
            ProcessState::Exited(exit) => Some(exit),
            _ => None,
        }
    }

    /// Whether the process has ended.
    pub(crate) fn has_exited(self) -> bool {
        matches!(self, ProcessState::Exited(_))
    }

    /// The next state and the signals to send to the process group for `event`, or why the event
    /// is refused in this state.
    pub(crate) fn on(self, event: Event) -> Result<Transition, Refusal> {
        use ProcessState::*;
        let transition = match (self, event) {
            (Running, Event::Pause) => Transition::to(Paused).sending(&[Signal::STOP]),
            (Paused, Event::Pause) | (Running, Event::Resume) => Transition::to(self),
            (Paused, Event::Resume) => Transition::to(Running).sending(&[Signal::CONT]),
            (Stopping { .. } | Killing { .. }, Event::Pause | Event::Resume) => {
                return Err(Refusal::Ending);
            }
            (Exited(exit), Event::Pause | Event::Resume) => return Err(Refusal::Exited(exit)),

            (Running, Event::Stop(signal)) => {
                Transition::to(Stopping { signal }).sending(&[signal])
            }
            // A frozen process cannot act on the stop signal until it is woken up.
            (Paused, Event::Stop(signal)) => {
                Transition::to(Stopping { signal }).sending(&[signal, Signal::CONT])
            }
            (Stopping { .. } | Killing { .. } | Exited(_), Event::Stop(_)) => Transition::to(self),

            (Running | Paused, Event::Kill) => {
                Transition::to(Killing { stop_signal: None }).sending(&[Signal::KILL])
            }
            (Stopping { signal }, Event::Kill) => Transition::to(Killing {
                stop_signal: Some(signal),
            })
            .sending(&[Signal::KILL]),
            (Killing { .. } | Exited(_), Event::Kill) => Transition::to(self),

            // The leader is gone: whatever it left in its group dies with it, now, while the group
            // id cannot have been recycled yet.
            (Running | Paused | Stopping { .. } | Killing { .. }, Event::Reaped(status)) => {
                Transition::to(Exited(self.classify(status))).sending(&[Signal::KILL])
            }
            (Exited(_), Event::Reaped(_)) => Transition::to(self),
        };
        Ok(transition)
    }

    /// How a process in this state ended, given the status the kernel reported.
    fn classify(self, status: ExitStatus) -> Exit {
        let (asked, stop_signal) = match self {
            ProcessState::Stopping { signal } => (true, Some(signal)),
            ProcessState::Killing { stop_signal } => (true, stop_signal),
            _ => (false, None),
        };
        let killing = matches!(self, ProcessState::Killing { .. });
        match (status.code(), status.signal().map(Signal::from_raw)) {
            (Some(code), _) if asked => Exit::ExitedOnStop(code),
            (Some(code), _) => Exit::Code(code),
            (None, Some(Signal::KILL)) if killing => Exit::Killed,
            (None, Some(signal)) if Some(signal) == stop_signal => Exit::Terminated(signal),
            (None, Some(signal)) => Exit::Signaled(signal),
            // `wait` without WUNTRACED reports only exits and deaths by signal.
            (None, None) => Exit::Code(status.into_raw()),
        }
    }
}

impl fmt::Display for ProcessState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProcessState::Running => f.write_str("running"),
            ProcessState::Paused => f.write_str("paused"),
            ProcessState::Stopping { signal } => write!(f, "stopping (sent {signal})"),
            ProcessState::Killing { .. } => f.write_str("being killed"),
            ProcessState::Exited(exit) => write!(f, "{exit}"),
        }
    }
}

/// Something that happens to a process.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Event {
    /// `pause` was called.
    Pause,
    /// `resume` was called.
    Resume,
    /// `stop` was called; it sends this signal.
    Stop(Signal),
    /// `kill` was called, or a stop timed out.
    Kill,
    /// The kernel reported the leader's end.
    Reaped(ExitStatus),
}

/// The outcome of an accepted event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Transition {
    /// The state after the event.
    pub(crate) next: ProcessState,
    /// The signals to send to the process group, in order.
    pub(crate) signals: Vec<Signal>,
}

impl Transition {
    fn to(next: ProcessState) -> Transition {
        Transition {
            next,
            signals: Vec::new(),
        }
    }

    fn sending(mut self, signals: &[Signal]) -> Transition {
        self.signals.extend_from_slice(signals);
        self
    }
}

/// Why an event is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The process is being stopped or killed.
    Ending,
    /// The process has already ended.
    Exited(Exit),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exited_with(code: i32) -> ExitStatus {
        ExitStatus::from_raw(code << 8)
    }

    fn died_of(signal: Signal) -> ExitStatus {
        ExitStatus::from_raw(signal.as_raw())
    }

    fn apply(state: ProcessState, event: Event) -> Transition {
        state.on(event).expect("the event is accepted")
    }

    #[test]
    fn pausing_sends_sigstop_and_resuming_sends_sigcont() {
        let paused = apply(ProcessState::Running, Event::Pause);
        assert_eq!(paused.next, ProcessState::Paused);
        assert_eq!(paused.signals, [Signal::STOP]);
        let resumed = apply(ProcessState::Paused, Event::Resume);
        assert_eq!(resumed.next, ProcessState::Running);
        assert_eq!(resumed.signals, [Signal::CONT]);
    }

    #[test]
    fn pausing_twice_or_resuming_a_running_process_sends_nothing() {
        assert!(apply(ProcessState::Paused, Event::Pause).signals.is_empty());
        assert!(
            apply(ProcessState::Running, Event::Resume)
                .signals
                .is_empty()
        );
    }

    #[test]
    fn stopping_a_paused_process_wakes_it_after_the_stop_signal() {
        let stopping = apply(ProcessState::Paused, Event::Stop(Signal::TERM));
        assert_eq!(stopping.signals, [Signal::TERM, Signal::CONT]);
    }

    #[test]
    fn pause_is_refused_while_stopping_and_after_the_exit() {
        let stopping = ProcessState::Stopping {
            signal: Signal::TERM,
        };
        assert_eq!(stopping.on(Event::Pause), Err(Refusal::Ending));
        let exited = ProcessState::Exited(Exit::Code(1));
        assert_eq!(
            exited.on(Event::Resume),
            Err(Refusal::Exited(Exit::Code(1)))
        );
    }

    #[test]
    fn an_exited_process_is_never_signalled_again() {
        let exited = ProcessState::Exited(Exit::Code(0));
        for event in [
            Event::Stop(Signal::TERM),
            Event::Kill,
            Event::Reaped(exited_with(0)),
        ] {
            let transition = apply(exited, event);
            assert_eq!(transition.next, exited);
            assert!(transition.signals.is_empty());
        }
    }

    #[test]
    fn the_reaped_leader_takes_the_rest_of_its_group_along() {
        let transition = apply(ProcessState::Running, Event::Reaped(exited_with(0)));
        assert_eq!(transition.next, ProcessState::Exited(Exit::Code(0)));
        assert_eq!(transition.signals, [Signal::KILL]);
    }

    #[test]
    fn the_exit_tells_apart_what_testrig_asked_for() {
        let stopping = ProcessState::Stopping {
            signal: Signal::TERM,
        };
        let cases = [
            (ProcessState::Running, exited_with(3), Exit::Code(3)),
            (
                ProcessState::Running,
                died_of(Signal::TERM),
                Exit::Signaled(Signal::TERM),
            ),
            (
                ProcessState::Paused,
                died_of(Signal::KILL),
                Exit::Signaled(Signal::KILL),
            ),
            (stopping, exited_with(0), Exit::ExitedOnStop(0)),
            (
                stopping,
                died_of(Signal::TERM),
                Exit::Terminated(Signal::TERM),
            ),
            (
                stopping,
                died_of(Signal::SEGV),
                Exit::Signaled(Signal::SEGV),
            ),
            (
                ProcessState::Killing {
                    stop_signal: Some(Signal::TERM),
                },
                died_of(Signal::TERM),
                Exit::Terminated(Signal::TERM),
            ),
            (
                ProcessState::Killing { stop_signal: None },
                died_of(Signal::KILL),
                Exit::Killed,
            ),
        ];
        for (state, status, expected) in cases {
            assert_eq!(
                apply(state, Event::Reaped(status)).next,
                ProcessState::Exited(expected),
                "{state:?} then {status:?}"
            );
        }
    }
}
