//! `StopReport`: how each process of a monitor ended when it was stopped.

use std::time::Duration;

use super::{Exit, Kind, Process, Survivor};

/// How each process of a [`ProcessMonitor`](super::ProcessMonitor) ended, in spawn order.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct StopReport {
    processes: Vec<StoppedProcess>,
}

/// One process in a [`StopReport`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StoppedProcess {
    /// Its name.
    pub name: String,
    /// Its pid.
    pub pid: u32,
    /// Daemon or task.
    pub kind: Kind,
    /// How it ended.
    pub exit: Exit,
    /// How long it ran.
    pub run_time: Duration,
    /// The CPU time of everything that ran in its cgroup (`None` without a cgroup).
    pub cpu_time: Option<Duration>,
    /// Descendants still alive after it ended (see [`Process::survivors`]).
    pub survivors: Vec<Survivor>,
}

impl StopReport {
    pub(crate) fn push(&mut self, process: &Process, exit: Exit) {
        self.processes.push(StoppedProcess {
            name: process.name().to_owned(),
            pid: process.pid(),
            kind: process.kind(),
            exit,
            run_time: process.run_time(),
            cpu_time: process.cpu_time(),
            survivors: process.survivors(),
        });
    }

    /// Every stopped process, in spawn order.
    pub fn processes(&self) -> &[StoppedProcess] {
        &self.processes
    }

    /// How the process named `name` ended.
    pub fn exit_of(&self, name: &str) -> Option<Exit> {
        self.processes
            .iter()
            .find(|process| process.name == name)
            .map(|process| process.exit)
    }
}
