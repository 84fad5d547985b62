//! `ProcessMonitor`: runs daemons and tasks together and enforces their rules (dummynet parity).

use std::future::{Future, poll_fn};
use std::mem;
use std::path::PathBuf;
use std::pin::Pin;
use std::task::Poll;
use std::time::{Duration, Instant};

use super::{Command, Exit, Kind, Process, ProcessError, ProcessStats, rules};

/// Coordinates the processes of a test, as dummynet's `ProcessMonitor` does: **daemons** must keep
/// running for the whole test, **tasks** must exit with code 0 (within their timeout, if they
/// have one). [`keep_running`](ProcessMonitor::keep_running) waits — without polling — until the
/// tasks are done, a rule is broken, or a timeout passes; [`stop`](ProcessMonitor::stop) checks
/// the rules, then stops everything (stop signal, then `SIGKILL` after a timeout).
///
/// Dropping the monitor kills every process it still holds (synchronously, `SIGKILL` to each
/// process group).
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
/// use testrig::process::{Command, ProcessMonitor};
///
/// # async fn run() -> Result<(), testrig::process::ProcessError> {
/// let mut monitor = ProcessMonitor::new("/tmp/run");
/// monitor.run(Command::new("iperf3").arg("-s").daemon()).await?;
/// monitor
///     .run(Command::new("iperf3").args(["-c", "127.0.0.1", "-t", "1"]))
///     .await?;
/// let still_running = monitor.keep_running(Duration::from_secs(10)).await?;
/// assert!(!still_running, "the client task is done");
/// for process in monitor.stop(true, Duration::from_secs(1)).await? {
///     println!("{} {}", process.name, process.state);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ProcessMonitor {
    runpath: PathBuf,
    processes: Vec<Process>,
}

impl ProcessMonitor {
    /// A monitor writing its processes' logs to `runpath` (created on the first spawn).
    pub fn new(runpath: impl Into<PathBuf>) -> ProcessMonitor {
        ProcessMonitor {
            runpath: runpath.into(),
            processes: Vec::new(),
        }
    }

    /// Spawns `command` and watches it. A command without an explicit name that would clash with
    /// one already held gets a suffix (`sleep-2`); an explicit name of a process still running is
    /// refused.
    pub async fn run(&mut self, command: Command) -> Result<Process, ProcessError> {
        let command = self.unique_name(command)?;
        let process = Process::spawn(command, &self.runpath).await?;
        self.processes.push(process.clone());
        Ok(process)
    }

    fn unique_name(&self, command: Command) -> Result<Command, ProcessError> {
        let name = command.display_name();
        let held = |name: &str| self.processes.iter().any(|process| process.name() == name);
        if command.has_explicit_name() {
            let running =
                |process: &Process| process.name() == name && !process.state().has_exited();
            if self.processes.iter().any(running) {
                return Err(ProcessError::DuplicateName { name });
            }
            return Ok(command);
        }
        if !held(&name) {
            return Ok(command.name(name));
        }
        let free = (2..)
            .map(|n| format!("{name}-{n}"))
            .find(|candidate| !held(candidate))
            .expect("some suffix is free");
        Ok(command.name(free))
    }

    /// The processes held, in spawn order.
    pub fn processes(&self) -> &[Process] {
        &self.processes
    }

    /// Checks every process against the rules: no daemon has exited, no task has failed or run
    /// past its timeout. A task still running is fine.
    pub fn validate(&self) -> Result<(), ProcessError> {
        ProcessError::combine(self.violations()).map_or(Ok(()), Err)
    }

    fn violations(&self) -> Vec<ProcessError> {
        self.processes
            .iter()
            .filter_map(|process| rules::check(process).err())
            .collect()
    }

    /// Tells whether tasks are still running, as dummynet's `keep_running` does: waits until
    /// every task has exited with code 0 (`Ok(false)`) or `timeout` passes with tasks still
    /// running, all rules kept (`Ok(true)`). Fails as soon as a rule is
    /// broken — a daemon exits, a task fails or outlives its timeout — naming the process, how it
    /// ended and the tail of its output. With daemons but no task it fails at once: it could never
    /// finish.
    ///
    /// The wait is event-driven: it wakes on a process's end or a deadline, never polls.
    pub async fn keep_running(&mut self, timeout: Duration) -> Result<bool, ProcessError> {
        let end = crate::deadline::deadline(Instant::now(), timeout);
        loop {
            if let Some(broken) = self.violations().into_iter().next() {
                return Err(broken);
            }
            let is_task = |process: &&Process| matches!(process.kind(), Kind::Task { .. });
            if !self.processes.iter().any(|process| is_task(&process)) {
                let daemons: Vec<String> =
                    self.processes.iter().map(|p| p.name().to_owned()).collect();
                if daemons.is_empty() {
                    return Ok(false);
                }
                return Err(ProcessError::OnlyDaemons { daemons });
            }
            let mut running_tasks = self
                .processes
                .iter()
                .filter(is_task)
                .filter(|process| !process.state().has_exited());
            if running_tasks.next().is_none() {
                return Ok(false);
            }
            let wake = self
                .processes
                .iter()
                .filter_map(rules::task_deadline)
                .fold(end, Instant::min);
            tokio::select! {
                () = any_exit(&self.processes) => {}
                () = tokio::time::sleep_until(wake.into()) => {
                    if Instant::now() >= end {
                        return match self.violations().into_iter().next() {
                            Some(broken) => Err(broken),
                            None => Ok(true),
                        };
                    }
                }
            }
        }
    }

    /// Stops one process (stop signal, `SIGKILL` after `timeout`) and forgets it, so its end
    /// breaks no rule. Returns how it ended.
    pub async fn stop_process(
        &mut self,
        process: &Process,
        timeout: Duration,
    ) -> Result<Exit, ProcessError> {
        self.processes.retain(|held| !held.is_same(process));
        process.stop(timeout).await
    }

    /// Stops `process` and spawns its command again under the same name; the previous log files
    /// are archived (see [`Process::log_file`](super::Process::log_file)).
    pub async fn restart(
        &mut self,
        process: &Process,
        timeout: Duration,
    ) -> Result<Process, ProcessError> {
        self.stop_process(process, timeout).await?;
        self.run(process.command().clone()).await
    }

    /// Stops every process: if `validate`, checks the rules first — but reports what it found
    /// only after everything is stopped — then sends each process group its stop signal at once,
    /// waits up to `timeout` for them, and kills those still running with `SIGKILL`.
    ///
    /// Returns how each process ended, in spawn order: its [`ProcessStats`], whose `state` is
    /// `Exited` with how it ended. The monitor is empty afterwards.
    pub async fn stop(
        &mut self,
        validate: bool,
        timeout: Duration,
    ) -> Result<Vec<ProcessStats>, ProcessError> {
        let mut errors = if validate {
            self.violations()
        } else {
            Vec::new()
        };
        let processes = mem::take(&mut self.processes);
        let deadline = crate::deadline::deadline(Instant::now(), timeout);
        for process in &processes {
            if let Err(error) = process.request_stop() {
                errors.push(error);
            }
        }
        let mut report = Vec::with_capacity(processes.len());
        for process in &processes {
            match process.finish_stop(deadline).await {
                Ok(_) => report.push(process.stats()),
                Err(error) => errors.push(error),
            }
        }
        ProcessError::combine(errors).map_or(Ok(report), Err)
    }

    /// Kills every process held, now, with `SIGKILL` to each group, and forgets them. Synchronous:
    /// the backstop for `Drop`.
    fn kill_all(&mut self) {
        for process in self.processes.drain(..) {
            if let Err(error) = process.kill() {
                tracing::warn!(%error, "killing a process failed");
            }
        }
    }
}

impl Drop for ProcessMonitor {
    fn drop(&mut self) {
        self.kill_all();
    }
}

/// Resolves when any process that has not ended yet ends; never, if all have ended.
async fn any_exit(processes: &[Process]) {
    let mut exits: Vec<Pin<Box<dyn Future<Output = Exit> + Send + '_>>> = processes
        .iter()
        .filter(|process| !process.state().has_exited())
        .map(|process| Box::pin(process.exited()) as Pin<Box<dyn Future<Output = Exit> + Send>>)
        .collect();
    poll_fn(|context| {
        for exit in &mut exits {
            if exit.as_mut().poll(context).is_ready() {
                return Poll::Ready(());
            }
        }
        Poll::Pending
    })
    .await
}

/// Compile-time check: handles and the futures of their async methods can move between threads
/// (a driver spawns them on a multi-threaded runtime).
#[allow(dead_code)]
fn handles_and_futures_are_send(process: &Process, monitor: &mut ProcessMonitor) {
    fn is_send<T: Send + Sync>(_: &T) {}
    fn future_is_send<T: Send>(_: &T) {}
    is_send(process);
    future_is_send(&process.ready(Duration::ZERO));
    future_is_send(&process.stop(Duration::ZERO));
    future_is_send(&process.exited());
    future_is_send(&Process::spawn(Command::new("true"), "/"));
    future_is_send(&monitor.keep_running(Duration::ZERO));
    future_is_send(&monitor.stop(true, Duration::ZERO));
}
