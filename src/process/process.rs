//! `Process`: a handle on one spawned program.

use std::fmt;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::control::{Control, ControlError};
use super::parts::Parts;
use super::spawn::spawn;
use super::state::{Event, Refusal};
use super::stats::ResourceUsage;
use super::{
    Captures, Command, Exit, Kind, Pattern, ProcessError, ProcessState, ProcessStats, Stream,
    Survivor, Tail,
};

/// How long the end of a process is awaited after `SIGKILL` before giving up on it.
const KILL_GRACE: Duration = Duration::from_secs(5);

/// How long a cgroup is given to report itself frozen or thawed after `pause` or `resume`.
const FREEZE_DEADLINE: Duration = Duration::from_secs(5);

/// A handle on one spawned program: its output, readiness, state, and the means to pause, resume,
/// stop and kill it.
///
/// The program runs in a process group of its own; every signal goes to the whole group, and
/// when the program ends, whatever it left running in its group is killed with it. Where cgroup
/// v2 is writable it also runs in a cgroup of its own (see [`Process::cgroup`]): pause freezes the
/// cgroup, kills and the program's end kill the whole cgroup — descendants that left the group
/// too — and its CPU time is measured. The program also dies if the program that spawned it
/// dies, even by `SIGKILL`.
///
/// Clones share the process. When the last clone is dropped, a process still running is killed
/// (synchronously, with `SIGKILL` to its group): stop it explicitly to give it a chance to end
/// cleanly.
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
/// use testrig::process::{Command, Exit, Pattern, Process};
///
/// # async fn run() -> Result<(), testrig::process::ProcessError> {
/// let server = Process::spawn(
///     Command::new("my-server")
///         .args(["--port", "0"])
///         .daemon()
///         .ready_when(Pattern::stdout(r"listening on port (?P<port>\d+)")?),
///     "/tmp/run",
/// )
/// .await?;
/// let port = server.ready(Duration::from_secs(5)).await?.get("port").unwrap().to_owned();
/// // … talk to the server on `port` …
/// let exit = server.stop(Duration::from_secs(1)).await?;
/// assert!(matches!(exit, Exit::Terminated(_) | Exit::ExitedOnStop(0)));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Process {
    inner: Arc<Inner>,
}

struct Inner {
    parts: Parts,
    started_at_wall: SystemTime,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The synchronous backstop: nothing async, nothing that can block.
        let _ = self.parts.control.apply(Event::Kill);
    }
}

impl Process {
    /// Spawns `command`, writing its output to log files in `runpath` (created if needed; see
    /// [`Process::log_file`]) while streaming it line by line to the command's callbacks and patterns.
    ///
    /// Must be called within a tokio runtime (with IO and time enabled). A missing program or
    /// working directory is an error naming it.
    pub async fn spawn(
        command: Command,
        runpath: impl AsRef<Path>,
    ) -> Result<Process, ProcessError> {
        spawn(command, runpath.as_ref()).await.map(Process::new)
    }

    fn new(parts: Parts) -> Process {
        Process {
            inner: Arc::new(Inner {
                started_at_wall: SystemTime::now() - parts.forked_at.elapsed(),
                parts,
            }),
        }
    }

    /// The name given to the command, else the program's file name.
    pub fn name(&self) -> &str {
        &self.inner.parts.name
    }

    /// The pid, which is also the id of the process group the program leads.
    ///
    /// For a program an SSH host's agent runs (see [`Command::host`](super::Command::host)),
    /// its pid *on that host* (and its process group's id there): no process of this machine.
    pub fn pid(&self) -> u32 {
        self.inner.parts.pid
    }

    /// Daemon or task.
    pub(crate) fn kind(&self) -> Kind {
        self.inner.parts.command.get_kind()
    }

    /// The command it was spawned from (spawn it again to restart).
    pub fn command(&self) -> &Command {
        &self.inner.parts.command
    }

    /// The log file receiving its `stream` (`<runpath>/<name>.stdout.log` or `….stderr.log`; the
    /// files of an earlier spawn under the same name are archived as `<name>.stdout.1.log`, …).
    pub fn log_file(&self, stream: Stream) -> &Path {
        match stream {
            Stream::Stdout => self.inner.parts.logs.stdout(),
            Stream::Stderr => self.inner.parts.logs.stderr(),
        }
    }

    /// Its state now. `Exited` appears once the output has been read to its end.
    pub fn state(&self) -> ProcessState {
        self.control().current()
    }

    /// The last lines it printed.
    pub fn tail(&self) -> Tail {
        self.inner.parts.hub.tail()
    }

    /// When its end was recorded (wall-clock time, for reports).
    fn ended_at(&self) -> Option<std::time::SystemTime> {
        let ended = self.control().ended_at()?;
        std::time::SystemTime::now().checked_sub(ended.elapsed())
    }

    /// How long it has run, from its fork until now, or until its end was recorded.
    pub(crate) fn run_time(&self) -> Duration {
        let end = self.control().ended_at().unwrap_or_else(Instant::now);
        end.saturating_duration_since(self.inner.parts.forked_at)
    }

    /// A snapshot of it: name, pid, kind, state, times, CPU and memory use (read from its cgroup
    /// and `/proc` while it runs), survivors once it has ended.
    pub fn stats(&self) -> ProcessStats {
        let state = self.state();
        let usage = if state.has_exited() || self.control().is_remote() {
            None
        } else {
            ResourceUsage::of_pid(self.pid()).ok()
        };
        ProcessStats {
            name: self.name().to_owned(),
            pid: self.pid(),
            kind: self.kind(),
            state,
            started_at: self.inner.started_at_wall,
            ended_at: self.ended_at(),
            run_time: self.run_time(),
            cpu_time: self.cpu_time(),
            user_cpu: usage.map(|usage| usage.user_cpu),
            system_cpu: usage.map(|usage| usage.system_cpu),
            rss_bytes: usage.map(|usage| usage.rss_bytes),
            survivors: self.survivors(),
        }
    }

    /// What holds it and everything it starts: `Ok` with the directory of a cgroup v2 of its
    /// own, or `Err` with why it is held by its process group only (cgroups not writable,
    /// [`Command::cgroup(false)`](super::Command::cgroup), `TESTRIG_CGROUP=0`).
    ///
    /// With a cgroup, stop and kill reach every descendant (`cgroup.kill`), even one that left
    /// the process group with `setsid`; pause freezes them all (`cgroup.freeze`); the CPU time of
    /// the whole tree is measured. With its process group only, a descendant that leaves the
    /// group survives: it is listed in [`ProcessStats::survivors`] after the program ends.
    pub fn cgroup(&self) -> Result<&Path, &str> {
        self.inner.parts.containment.cgroup()
    }

    fn cpu_time(&self) -> Option<Duration> {
        if let Some(aftermath) = self.control().aftermath() {
            return aftermath.cpu_time;
        }
        self.control()
            .cgroup()
            .and_then(|cgroup| cgroup.cpu_time().ok())
    }

    fn survivors(&self) -> Vec<Survivor> {
        self.control()
            .aftermath()
            .map(|aftermath| aftermath.survivors.clone())
            .unwrap_or_default()
    }

    /// Waits until a line matches the readiness pattern set with
    /// [`Command::ready_when`](super::Command::ready_when), and returns what it extracted.
    /// Resolves at once if the line was already seen, or if no pattern was set (empty captures).
    ///
    /// Fails after `timeout`, or as soon as the process ends without having printed the line
    /// (with its exit status and output tail) — not at the deadline.
    pub async fn ready(&self, timeout: Duration) -> Result<Captures, ProcessError> {
        let Some(pattern) = self.command().readiness() else {
            return Ok(Captures::default());
        };
        let mut readiness = self.inner.parts.hub.readiness();
        let matched = async move {
            let captures = readiness.wait_for(Option::is_some).await.ok()?;
            captures.clone()
        };
        self.await_line(pattern, timeout, matched).await
    }

    /// Waits until a line printed from now on matches `pattern`, and returns what it extracted.
    /// Lines printed before the call are not looked at (use [`Command::ready_when`] for a line
    /// that may come early).
    ///
    /// Fails after `timeout`, or as soon as the process ends.
    ///
    /// [`Command::ready_when`]: super::Command::ready_when
    pub async fn wait_for_line(
        &self,
        pattern: Pattern,
        timeout: Duration,
    ) -> Result<Captures, ProcessError> {
        let receiver = self.inner.parts.hub.wait_for(pattern.clone());
        self.await_line(&pattern, timeout, async move { receiver.await.ok() })
            .await
    }

    async fn await_line(
        &self,
        pattern: &Pattern,
        timeout: Duration,
        matched: impl Future<Output = Option<Captures>>,
    ) -> Result<Captures, ProcessError> {
        let mut state = self.control().subscribe();
        // `biased`: a line printed just before the end wins over the end, which is published
        // only after the last line was dispatched.
        tokio::select! {
            biased;
            Some(captures) = matched => Ok(captures),
            ended = state.wait_for(|state| state.has_exited()) => {
                let exit = ended
                    .ok()
                    .and_then(|state| state.exit())
                    .expect("the state sender lives as long as the process");
                Err(ProcessError::ExitedBeforeLine {
                    name: self.name().to_owned(),
                    pid: self.pid(),
                    pattern: pattern.to_string(),
                    exit,
                    tail: self.tail(),
                })
            }
            () = tokio::time::sleep(timeout) => Err(ProcessError::LineTimeout {
                name: self.name().to_owned(),
                pid: self.pid(),
                pattern: pattern.to_string(),
                waited: timeout,
                tail: self.tail(),
            }),
        }
    }

    /// Resolves when the process has ended (and its output has been read), with how it ended.
    /// Cancel-safe; meant for supervision (`select!` on it while the process should run).
    pub async fn exited(&self) -> Exit {
        let mut state = self.control().subscribe();
        let ended = state.wait_for(|state| state.has_exited()).await;
        ended
            .ok()
            .and_then(|state| state.exit())
            .expect("the state sender lives as long as the process")
    }

    /// Waits up to `timeout` for the process to end by itself.
    pub async fn wait(&self, timeout: Duration) -> Result<Exit, ProcessError> {
        tokio::time::timeout(timeout, self.exited())
            .await
            .map_err(|_| ProcessError::StillRunning {
                name: self.name().to_owned(),
                pid: self.pid(),
                waited: timeout,
                tail: self.tail(),
            })
    }

    /// Stops the process: sends the stop signal (`SIGTERM` unless the command says otherwise) to
    /// its group, waits up to `timeout` for the end, then sends `SIGKILL`. Returns how it ended;
    /// for a process that had already ended, how it ended then.
    pub async fn stop(&self, timeout: Duration) -> Result<Exit, ProcessError> {
        let deadline = crate::deadline::deadline(Instant::now(), timeout);
        self.request_stop()?;
        self.finish_stop(deadline).await
    }

    /// Sends the stop signal (the first half of [`Process::stop`]).
    pub(crate) fn request_stop(&self) -> Result<(), ProcessError> {
        self.apply(Event::Stop(self.command().get_stop_signal()), "stop")
    }

    /// Waits for the end until `deadline`, then kills (the second half of [`Process::stop`]).
    pub(crate) async fn finish_stop(&self, deadline: Instant) -> Result<Exit, ProcessError> {
        if let Ok(exit) = tokio::time::timeout_at(deadline.into(), self.exited()).await {
            return Ok(exit);
        }
        self.kill()?;
        tokio::time::timeout(KILL_GRACE, self.exited())
            .await
            .map_err(|_| ProcessError::Unkillable {
                name: self.name().to_owned(),
                pid: self.pid(),
                waited: KILL_GRACE,
            })
    }

    /// Kills the process group with `SIGKILL`, now, without waiting: usable from `Drop`.
    /// [`Process::exited`] tells when the end has been recorded.
    pub fn kill(&self) -> Result<(), ProcessError> {
        self.apply(Event::Kill, "kill")
    }

    /// Freezes the program and everything it started (handy to make a server unresponsive in a
    /// fault test): its cgroup with `cgroup.freeze`, resolving once the kernel reports it frozen
    /// (within 5 s, else [`ProcessError::FreezeTimeout`]), or without a cgroup its process group
    /// with `SIGSTOP`. Pausing a paused process does nothing.
    pub async fn pause(&self) -> Result<(), ProcessError> {
        self.apply(Event::Pause, "pause")?;
        self.wait_frozen(true, "pause").await
    }

    /// Lets a paused program continue: thaws its cgroup (resolving once the kernel reports it
    /// thawed), or sends `SIGCONT` to its process group. Resuming a running process does nothing.
    pub async fn resume(&self) -> Result<(), ProcessError> {
        self.apply(Event::Resume, "resume")?;
        self.wait_frozen(false, "resume").await
    }

    /// Waits until the cgroup reports the freezer state `frozen` (at once without a cgroup).
    async fn wait_frozen(&self, frozen: bool, action: &'static str) -> Result<(), ProcessError> {
        let Some(cgroup) = self.control().cgroup().cloned() else {
            return Ok(());
        };
        let deadline = Instant::now() + FREEZE_DEADLINE;
        let dir = cgroup.dir().to_path_buf();
        let waited = tokio::task::spawn_blocking(move || cgroup.wait_frozen(frozen, deadline))
            .await
            .unwrap_or_else(|error| Err(std::io::Error::other(error)));
        match waited {
            Ok(true) => Ok(()),
            Ok(false) => Err(ProcessError::FreezeTimeout {
                name: self.name().to_owned(),
                pid: self.pid(),
                action,
                waited: FREEZE_DEADLINE,
            }),
            Err(source) => Err(ProcessError::Cgroup {
                name: self.name().to_owned(),
                pid: self.pid(),
                action,
                cgroup: dir,
                source,
            }),
        }
    }

    fn apply(&self, event: Event, action: &'static str) -> Result<(), ProcessError> {
        let name = || self.name().to_owned();
        let pid = self.pid();
        match self.control().apply(event) {
            Ok(_) => Ok(()),
            Err(ControlError::Refused(Refusal::Exited(exit))) => Err(ProcessError::NotRunning {
                name: name(),
                pid,
                action,
                exit,
            }),
            Err(ControlError::Refused(Refusal::Ending)) => Err(ProcessError::Ending {
                name: name(),
                pid,
                action,
            }),
            Err(ControlError::Signal(signal, source)) => Err(ProcessError::Signal {
                name: name(),
                pid,
                signal,
                source,
            }),
            Err(ControlError::Cgroup(action, source)) => Err(ProcessError::Cgroup {
                name: name(),
                pid,
                action,
                cgroup: self.cgroup().map(Path::to_path_buf).unwrap_or_default(),
                source,
            }),
        }
    }

    /// Whether `self` and `other` are handles on the same spawn.
    pub(crate) fn is_same(&self, other: &Process) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    fn control(&self) -> &Control {
        &self.inner.parts.control
    }
}

impl fmt::Debug for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Process")
            .field("name", &self.name())
            .field("pid", &self.pid())
            .field("kind", &self.kind())
            .field("state", &self.state())
            .finish()
    }
}
