//! The rules a monitored process must follow: daemons keep running, tasks succeed in time.

use std::time::{Duration, Instant};

use super::{Kind, Process, ProcessError, ProcessState};

/// Checks `process` against the rules of its kind, as of now. An end that testrig asked for
/// (stop, kill) breaks no rule.
pub(crate) fn check(process: &Process) -> Result<(), ProcessError> {
    let name = || process.name().to_owned();
    match (process.kind(), process.state()) {
        (Kind::Daemon, ProcessState::Exited(exit)) if !exit.was_requested() => {
            Err(ProcessError::DaemonExited {
                name: name(),
                pid: process.pid(),
                exit,
                tail: process.tail(),
            })
        }
        (Kind::Task { .. }, ProcessState::Exited(exit))
            if !exit.is_success() && !exit.was_requested() =>
        {
            Err(ProcessError::TaskFailed {
                name: name(),
                pid: process.pid(),
                exit,
                tail: process.tail(),
            })
        }
        (
            Kind::Task {
                timeout: Some(timeout),
            },
            state,
        ) if !state.has_exited() && process.run_time() >= timeout => {
            Err(ProcessError::TaskTimedOut {
                name: name(),
                pid: process.pid(),
                timeout,
                tail: process.tail(),
            })
        }
        _ => Ok(()),
    }
}

/// When a running task will break its time limit, if it has one.
pub(crate) fn task_deadline(process: &Process) -> Option<Instant> {
    match (process.kind(), process.state().has_exited()) {
        (
            Kind::Task {
                timeout: Some(timeout),
            },
            false,
        ) => {
            let left = timeout.saturating_sub(process.run_time());
            Some(crate::deadline::deadline(
                Instant::now(),
                left.saturating_add(Duration::from_micros(1)),
            ))
        }
        _ => None,
    }
}
