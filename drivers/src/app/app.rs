use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use testrig::process::{Command, Exit, Process, ProcessError};
use testrig::report::DriverReport;
use testrig::{BoxError, ConnectionInfo, Driver, Exports, RefKey, StartContext};
use tokio_util::sync::{CancellationToken, DropGuard};

use super::config::{Config, Settings};
use super::log_watch::LogFileWatch;
use super::readiness::Readiness;
use super::supervision::supervise;
use super::{AppError, Expectation, log_file};

/// How long the process layer is asked to wait for the readiness line: the driver's
/// start timeout, enforced by the lifecycle engine, ends the wait long before.
const UNBOUNDED: Duration = Duration::from_secs(365 * 24 * 3600);

/// A driver over one program (testplan `App`): binary, arguments and environment
/// (with `${driver.key}` placeholders filled in from other drivers' exports), working
/// directory, readiness by a regex on stdout, stderr or a log file the program
/// writes, named groups of that regex exported (e.g. a `port` the program prints),
/// an expected exit code for task-like programs, stop signal and stop timeout,
/// pause/resume.
///
/// The program runs in a process group of its own and, where cgroup v2 is writable,
/// in a cgroup of its own (see [`App::cgroup`]),
/// with stdout and stderr written to `<name>.stdout.log` / `<name>.stderr.log` in the
/// driver's runpath; a restart archives the previous run's files (`<name>.stdout.1.log`…).
/// It never outlives the test program, even one killed with `SIGKILL`.
///
/// - **Start** spawns the program; readiness waits for the regex (event-driven: the
///   line wakes the wait), under the driver's start timeout. A program that ends
///   before it is ready fails the start at once, with its exit status and output
///   tail — not at the deadline.
/// - **Exports** `pid` and every named group of the readiness regex;
///   [`export_keys`](Driver::export_keys) lists them before start, so references to
///   them are checked when the environment is built. With a `port` group the report
///   shows a listening TCP endpoint on the `host` group (default `127.0.0.1`).
/// - **Supervision**: once started, a program that ends otherwise than its
///   [`Expectation`](super::Expectation) says (a daemon that exits, a task with the wrong code) moves the
///   driver to `Failed`, with the reason and the log tail.
/// - **Stop** sends the stop signal to the process group and waits up to the stop
///   timeout; a program still running then is killed with `SIGKILL` and the stop
///   fails with [`AppError::StopTimedOut`]: the engine records it (the driver ends
///   `Failed`, the environment's stop reports it with the log tail). Use
///   `stop_signal(Signal::KILL)` for a program meant to be killed. Once the program
///   has ended, whatever it left running is killed: its whole cgroup
///   (`cgroup.kill`, which reaches descendants that left the process group with
///   `setsid`), or without a cgroup its process group — and then any descendant
///   still alive is named in the report's warnings.
/// - **Abort** kills the cgroup (or the process group) synchronously.
/// - **Pause/resume** freeze and thaw the cgroup (`cgroup.freeze`, resolving once
///   the kernel reports it done), or send `SIGSTOP`/`SIGCONT` to the process group.
/// - **Report**: the CPU time of the cgroup (the program and every descendant, over
///   all runs) and the warnings above.
///
/// # Examples
/// ```no_run
/// # async fn demo() -> testrig::Result<()> {
/// use testrig::Environment;
/// use testrig::process::Stream;
/// use testrig_drivers::app::App;
/// use testrig_drivers::tcp::{TcpClient, TcpServer};
///
/// let mut builder = Environment::builder("proxy");
/// builder.add(TcpServer::new("backend"));
/// let proxy = builder.add(
///     App::new("proxy", "my-proxy")
///         .args(["--listen=127.0.0.1:0", "--backend=127.0.0.1:${backend.port}"])
///         .ready_on(Stream::Stderr, r"listening on port (?P<port>\d+)"),
/// );
/// builder.add(TcpClient::new("client", proxy.export("port")));
/// let env = builder.build()?;
/// env.run(|env| async move {
///     let proxy = env.resource(&proxy)?;
///     proxy.pause().await?; // SIGSTOP: the proxy stops answering
///     proxy.resume().await?;
///     Ok::<_, testrig::Error>(())
/// })
/// .await
/// # }
/// ```
#[derive(Debug)]
pub struct App {
    name: String,
    pub(super) settings: Settings,
    /// The settings parsed, once they are valid.
    config: OnceLock<Config>,
    run: Mutex<Run>,
    /// The programs of earlier runs (before a restart), for the report.
    earlier: Mutex<Vec<Process>>,
}

/// What the driver holds.
#[derive(Debug)]
enum Run {
    /// Never started.
    Idle,
    /// A program spawned by the last start and not stopped since (it may have died).
    Live {
        spawned: Spawned,
        /// Values extracted by the readiness regex (empty until ready).
        extracted: BTreeMap<String, String>,
        /// Ends the supervision task when the run ends (stop, abort, drop).
        _supervision: DropGuard,
    },
    /// Stopped or aborted: the last program, kept for its exit status and tail.
    Ended(Spawned),
}

#[derive(Debug, Clone)]
struct Spawned {
    process: Process,
    /// The log file readiness watches, resolved against the working directory.
    log_file: Option<PathBuf>,
}

impl App {
    pub(super) fn with_settings(name: String, settings: Settings) -> App {
        App {
            name,
            settings,
            config: OnceLock::new(),
            run: Mutex::new(Run::Idle),
            earlier: Mutex::new(Vec::new()),
        }
    }

    /// The settings parsed: placeholders and the readiness regex. Checked when the
    /// environment is built ([`Driver::check`]), so a start meets an error only
    /// outside an environment.
    fn config(&self) -> Result<&Config, AppError> {
        if let Some(config) = self.config.get() {
            return Ok(config);
        }
        let config = self.settings.parse(&self.name)?;
        Ok(self.config.get_or_init(|| config))
    }

    /// What the program is expected to do once started.
    pub fn expectation(&self) -> Expectation {
        self.settings.expectation
    }

    /// The program of the current run, or of the last one once stopped: its output
    /// tail, log files, state and statistics, how it ended
    /// ([`Process::exited`]), and waits on its output lines.
    pub fn process(&self) -> Option<Process> {
        self.spawned().map(|spawned| spawned.process)
    }

    /// A value the readiness regex extracted in the current run (a named group).
    pub fn extracted(&self, group: &str) -> Option<String> {
        match &*self.lock() {
            Run::Live { extracted, .. } => extracted.get(group).cloned(),
            _ => None,
        }
    }

    /// The log file readiness watches, resolved against the working directory (once
    /// started).
    pub fn log_file(&self) -> Option<PathBuf> {
        self.spawned().and_then(|spawned| spawned.log_file)
    }

    /// Waits up to `timeout` for the program to end and returns how it ended. An end
    /// its [`Expectation`](super::Expectation) does not accept is an error (with the output tail), and so
    /// is a program still running after `timeout`.
    pub async fn wait_exit(&self, timeout: Duration) -> Result<Exit, AppError> {
        let process = self.process().ok_or_else(|| self.not_started())?;
        let Ok(exit) = tokio::time::timeout(timeout, process.exited()).await else {
            return Err(AppError::StillRunning {
                driver: self.name.clone(),
                pid: process.pid(),
                waited: timeout,
                tail: process.tail(),
            });
        };
        if self.settings.expectation.accepts(exit) {
            return Ok(exit);
        }
        Err(AppError::UnexpectedExit {
            driver: self.name.clone(),
            pid: process.pid(),
            exit,
            expected: self.settings.expectation,
            tail: process.tail(),
        })
    }

    fn spawned(&self) -> Option<Spawned> {
        match &*self.lock() {
            Run::Idle => None,
            Run::Live { spawned, .. } | Run::Ended(spawned) => Some(spawned.clone()),
        }
    }

    fn live(&self) -> Result<Spawned, AppError> {
        match &*self.lock() {
            Run::Live { spawned, .. } => Ok(spawned.clone()),
            _ => Err(self.not_started()),
        }
    }

    fn not_started(&self) -> AppError {
        AppError::NotStarted {
            driver: self.name.clone(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Run> {
        self.run.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn earlier_runs(&self) -> MutexGuard<'_, Vec<Process>> {
        self.earlier.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The programs of every run, earliest first.
    fn every_run(&self) -> Vec<Process> {
        let mut processes = self.earlier_runs().clone();
        processes.extend(self.process());
        processes
    }

    /// What the report points out: a program held by its process group only, and
    /// descendants still alive after it ended.
    fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        for process in self.every_run() {
            if let Err(why) = process.cgroup()
                && self.settings.cgroup
            {
                let warning = format!(
                    "held by its process group only ({why}): a descendant that leaves \
                     the group (setsid) is not killed with it"
                );
                if !warnings.contains(&warning) {
                    warnings.push(warning);
                }
            }
            let why = match process.cgroup() {
                Ok(_) => "even cgroup.kill did not end it in time",
                Err(_) => "it left the process group and no cgroup holds it",
            };
            for survivor in process.stats().survivors {
                warnings.push(format!(
                    "{survivor}, started by the program (pid {}), is still alive after \
                     the program ended: {why}",
                    process.pid()
                ));
            }
        }
        warnings
    }

    fn process_error(&self, source: ProcessError) -> AppError {
        AppError::Process {
            driver: self.name.clone(),
            source,
        }
    }

    /// The command of one run: placeholders filled in, paths settled.
    fn command(&self, ctx: &StartContext, cwd: Option<&Path>) -> Result<Command, AppError> {
        let driver = &self.name;
        let render = |field: String, template: &testrig::Template| {
            ctx.render(template).map_err(|source| AppError::Unresolved {
                driver: driver.clone(),
                field,
                value: template.to_string(),
                source: Box::new(source),
            })
        };
        let settings = &self.settings;
        let config = self.config()?;
        // A relative path with a `/` would otherwise be looked up from the working
        // directory, which is the runpath by default.
        let binary = if settings.binary.is_relative()
            && settings.binary.components().count() > 1
            && !ctx.host().is_ssh()
        {
            std::path::absolute(&settings.binary).unwrap_or_else(|_| settings.binary.clone())
        } else {
            settings.binary.clone()
        };
        let mut command = Command::new(binary).name(driver.clone());
        if let Some(cwd) = cwd {
            command = command.cwd(cwd);
        }
        let mut command = command
            .kind(settings.expectation.kind())
            .stop_signal(settings.stop_signal)
            .tail_lines(settings.tail_lines)
            .cgroup(settings.cgroup)
            .host(ctx.host().clone());
        for (i, arg) in config.args.iter().enumerate() {
            command = command.arg(render(format!("arg {}", i + 1), arg)?);
        }
        for (key, value) in &config.env {
            command = command.env(key, render(format!("env {key}"), value)?);
        }
        if let Some(pattern) = config.readiness.output_pattern() {
            command = command.ready_when(pattern);
        }
        Ok(command)
    }

    /// Prepares the log file readiness watches: its directory exists, and a file
    /// left by an earlier run is archived.
    fn prepare_log_file(&self, path: &Path) -> Result<(), AppError> {
        let file_error = |action, path: &Path| {
            let driver = self.name.clone();
            let path = path.to_path_buf();
            move |source| AppError::File {
                driver,
                action,
                path,
                source,
            }
        };
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(file_error("create the log file's directory", dir))?;
        }
        log_file::archive(path).map_err(file_error("archive the previous log file", path))?;
        Ok(())
    }

    /// Waits for the readiness regex in the log file, or for the program's end.
    async fn log_file_ready(
        &self,
        spawned: &Spawned,
        regex: &regex::Regex,
    ) -> Result<BTreeMap<String, String>, AppError> {
        let path = spawned
            .log_file
            .clone()
            .expect("log file readiness has a log file");
        let read_error = |source| AppError::File {
            driver: self.name.clone(),
            action: "read the log file",
            path: path.clone(),
            source,
        };
        let mut watch = LogFileWatch::new(path.clone());
        let exit = tokio::select! {
            biased;
            found = watch.matching(regex) => return found.map_err(read_error),
            exit = spawned.process.exited() => exit,
        };
        // What it wrote just before its end still counts.
        match watch.check(regex).map_err(read_error)? {
            Some(groups) => Ok(groups),
            None => Err(self.exited_while_starting(spawned, exit)),
        }
    }

    fn exited_while_starting(&self, spawned: &Spawned, exit: Exit) -> AppError {
        AppError::ExitedWhileStarting {
            driver: self.name.clone(),
            pid: spawned.process.pid(),
            exit,
            readiness: self
                .config()
                .map(|config| config.readiness.describe(spawned.log_file.as_deref()))
                .unwrap_or_default(),
        }
    }
}

#[async_trait]
impl Driver for App {
    fn name(&self) -> &str {
        &self.name
    }

    fn references(&self) -> Vec<RefKey> {
        let Ok(config) = self.config() else {
            return Vec::new();
        };
        config
            .args
            .iter()
            .chain(config.env.iter().map(|(_, value)| value))
            .flat_map(testrig::Template::references)
            .collect()
    }

    fn export_keys(&self) -> Vec<String> {
        let mut keys = vec!["pid".to_owned()];
        if let Ok(config) = self.config() {
            keys.extend(config.readiness.groups());
        }
        keys
    }

    fn check(&self) -> Result<(), BoxError> {
        self.config()?;
        Ok(())
    }

    async fn start(&self, ctx: &StartContext) -> Result<(), BoxError> {
        let runpath = ctx.runpath().map_err(|source| AppError::File {
            driver: self.name.clone(),
            action: "create the runpath directory of driver",
            path: PathBuf::from(ctx.driver()),
            source,
        })?;
        // On an SSH host the program runs in its own directory of the host's remote runpath
        // unless a (remote) working directory is given; here, in the driver's runpath.
        let remote = ctx.host().is_ssh();
        let cwd = match (&self.settings.working_dir, remote) {
            (Some(dir), _) => Some(dir.clone()),
            (None, false) => Some(runpath.to_path_buf()),
            (None, true) => None,
        };
        let command = self.command(ctx, cwd.as_deref())?;
        let log_file = self
            .config()?
            .readiness
            .log_file(cwd.as_deref().unwrap_or(runpath));
        if let Some(path) = &log_file {
            self.prepare_log_file(path)?;
        }
        let process = Process::spawn(command, runpath)
            .await
            .map_err(|error| match error {
                ProcessError::ProgramNotFound { program, .. } => AppError::BinaryNotFound {
                    driver: self.name.clone(),
                    binary: program,
                },
                ProcessError::WorkingDirectory { cwd, .. } => AppError::WorkingDir {
                    driver: self.name.clone(),
                    dir: cwd,
                },
                other => self.process_error(other),
            })?;
        tracing::debug!(driver = %self.name, pid = process.pid(), "spawned");
        let cancel = CancellationToken::new();
        supervise(
            process.clone(),
            self.settings.expectation,
            ctx.supervisor(),
            cancel.clone(),
        );
        let previous = std::mem::replace(
            &mut *self.lock(),
            Run::Live {
                spawned: Spawned { process, log_file },
                extracted: BTreeMap::new(),
                _supervision: cancel.drop_guard(),
            },
        );
        if let Run::Live { spawned, .. } | Run::Ended(spawned) = previous {
            self.earlier_runs().push(spawned.process);
        }
        Ok(())
    }

    async fn ready(&self, _ctx: &StartContext) -> Result<(), BoxError> {
        let spawned = self.live()?;
        let process = &spawned.process;
        let extracted = match &self.config()?.readiness {
            Readiness::Immediate => BTreeMap::new(),
            Readiness::Line { .. } => match process.ready(UNBOUNDED).await {
                Ok(captures) => captures.groups,
                Err(ProcessError::ExitedBeforeLine { exit, .. }) => {
                    return Err(self.exited_while_starting(&spawned, exit).into());
                }
                Err(other) => return Err(self.process_error(other).into()),
            },
            Readiness::LogFile { regex, .. } => self.log_file_ready(&spawned, regex).await?,
        };
        // A program that printed its line and died at once is not started.
        if let Some(exit) = process.state().exit()
            && !self.settings.expectation.accepts(exit)
        {
            return Err(self.exited_while_starting(&spawned, exit).into());
        }
        if let Run::Live {
            extracted: slot, ..
        } = &mut *self.lock()
        {
            *slot = extracted;
        }
        Ok(())
    }

    fn readiness(&self) -> String {
        let spawned = self.spawned();
        let log_file = spawned
            .as_ref()
            .and_then(|spawned| spawned.log_file.clone());
        let config = match self.config() {
            Ok(config) => config,
            Err(error) => return error.to_string(),
        };
        let waited_for = config.readiness.describe(log_file.as_deref());
        let (Readiness::Line { stream, .. }, Some(spawned)) = (&config.readiness, spawned) else {
            return waited_for;
        };
        // What was seen on the watched stream(s) says why nothing matched.
        let tail = spawned.process.tail();
        let seen = tail
            .lines()
            .filter(|(seen, _)| stream.is_none_or(|watched| *seen == watched))
            .count();
        let watched = match stream {
            Some(stream) => stream.to_string(),
            None => "stdout or stderr".to_owned(),
        };
        let elsewhere = tail.lines().len() - seen;
        if seen == 0 && elsewhere > 0 {
            format!(
                "{waited_for}, and it printed nothing on {watched} in that time (only on the \
                 other stream, below)"
            )
        } else if seen == 0 {
            format!(
                "{waited_for}, and it printed nothing on {watched} in that time: is its output \
                 block-buffered when not on a terminal? (Python: set PYTHONUNBUFFERED=1; \
                 C stdio programs: run them under `stdbuf -oL`)"
            )
        } else {
            format!("{waited_for}; the lines it printed (below) did not match")
        }
    }

    async fn stop(&self) -> Result<(), BoxError> {
        let spawned = {
            let mut run = self.lock();
            match std::mem::replace(&mut *run, Run::Idle) {
                // Dropping the guard ends supervision before the stop signal is sent:
                // a deliberate stop is never reported as a death.
                Run::Live { spawned, .. } => {
                    *run = Run::Ended(spawned.clone());
                    spawned
                }
                other => {
                    *run = other;
                    return Ok(());
                }
            }
        };
        let process = &spawned.process;
        let exit = process
            .stop(self.settings.stop_timeout)
            .await
            .map_err(|e| self.process_error(e))?;
        if exit == Exit::Killed {
            return Err(AppError::StopTimedOut {
                driver: self.name.clone(),
                pid: process.pid(),
                signal: self.settings.stop_signal,
                after: self.settings.stop_timeout,
            }
            .into());
        }
        tracing::debug!(driver = %self.name, pid = process.pid(), %exit, "stopped");
        Ok(())
    }

    fn own_stop_timeout(&self) -> Option<(&'static str, Duration)> {
        Some(("stop_timeout", self.settings.stop_timeout))
    }

    fn abort(&self) {
        let mut run = self.lock();
        let spawned = match std::mem::replace(&mut *run, Run::Idle) {
            Run::Idle => return,
            Run::Live { spawned, .. } | Run::Ended(spawned) => spawned,
        };
        // Synchronous: SIGKILL to the process group; a program already gone is left alone.
        let _ = spawned.process.kill();
        *run = Run::Ended(spawned);
    }

    async fn pause(&self) -> Result<(), BoxError> {
        let spawned = self.live()?;
        spawned
            .process
            .pause()
            .await
            .map_err(|e| self.process_error(e))?;
        Ok(())
    }

    async fn resume(&self) -> Result<(), BoxError> {
        let spawned = self.live()?;
        spawned
            .process
            .resume()
            .await
            .map_err(|e| self.process_error(e))?;
        Ok(())
    }

    fn exports(&self) -> Exports {
        let mut exports = Exports::new();
        if let Run::Live {
            spawned, extracted, ..
        } = &*self.lock()
        {
            exports.insert("pid".to_owned(), spawned.process.pid().into());
            for (group, value) in extracted {
                exports.insert(group.clone(), value.clone().into());
            }
        }
        exports
    }

    fn connections(&self) -> Vec<ConnectionInfo> {
        let run = self.lock();
        let Run::Live { extracted, .. } = &*run else {
            return Vec::new();
        };
        let Some(port) = extracted.get("port") else {
            return Vec::new();
        };
        let host = extracted.get("host").map_or("127.0.0.1", String::as_str);
        let address = match host.contains(':') {
            true => format!("[{host}]:{port}"),
            false => format!("{host}:{port}"),
        };
        vec![ConnectionInfo::listening("tcp", address)]
    }

    fn report(&self, report: &mut DriverReport) {
        report.cpu_time = self
            .every_run()
            .iter()
            .filter_map(|process| process.stats().cpu_time)
            .reduce(|total, run| total + run);
        report.warnings = self.warnings();
        // A task that exited as expected stays started: its end is when its work ended.
        report.finished_at = self.process().and_then(|process| process.stats().ended_at);
    }

    fn log_tail(&self) -> Vec<String> {
        let Some(spawned) = self.spawned() else {
            return Vec::new();
        };
        let mut lines: Vec<String> = spawned
            .process
            .tail()
            .lines()
            .map(|(stream, text)| format!("{stream}| {text}"))
            .collect();
        if let Some(path) = &spawned.log_file {
            let label = path.file_name().unwrap_or_default().to_string_lossy();
            lines.extend(
                log_file::last_lines(path, self.settings.tail_lines)
                    .into_iter()
                    .map(|line| format!("{label}| {line}")),
            );
        }
        lines
    }
}
