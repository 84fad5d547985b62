//! `Command`: what to run and how — program, arguments, environment, kind, output handling.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::{Kind, Pattern, Signal, Stream};
use crate::host::Host;

/// A callback that sees every output line.
pub(crate) type LineCallback = Arc<dyn Fn(Stream, &str) + Send + Sync>;

/// How many output lines a process keeps in memory for error messages unless told otherwise.
pub const DEFAULT_TAIL_LINES: usize = 50;

/// A description of a process to spawn: a program and its arguments (never through a shell
/// unless [`Command::shell`] is used), working directory, environment, [`Kind`], a readiness
/// [`Pattern`], line callbacks, stop signal and tail length.
///
/// It is cheap to clone, so the same command can be spawned again (a restart).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use testrig::process::{Command, Pattern};
///
/// let server = Command::new("python3")
///     .args(["-m", "http.server", "0"])
///     .name("web")
///     .env("PYTHONUNBUFFERED", "1")
///     .daemon()
///     .ready_when(Pattern::stdout(r"port (?P<port>\d+)")?);
/// let client = Command::shell("curl -s localhost:8000 | grep -q html")
///     .task_timeout(Duration::from_secs(10));
/// # let _ = (server, client);
/// # Ok::<(), testrig::process::ProcessError>(())
/// ```
#[derive(Clone)]
#[must_use]
pub struct Command {
    program: PathBuf,
    args: Vec<OsString>,
    name: Option<String>,
    cwd: Option<PathBuf>,
    env: Vec<(OsString, Option<OsString>)>,
    kind: Kind,
    readiness: Option<Pattern>,
    callbacks: Vec<LineCallback>,
    stop_signal: Signal,
    tail_lines: usize,
    cgroup: bool,
    host: Host,
}

impl Command {
    /// Runs `program` (a path, or a name looked up in `PATH`) with no arguments yet.
    pub fn new(program: impl Into<PathBuf>) -> Command {
        Command {
            program: program.into(),
            args: Vec::new(),
            name: None,
            cwd: None,
            env: Vec::new(),
            kind: Kind::default(),
            readiness: None,
            callbacks: Vec::new(),
            stop_signal: Signal::TERM,
            tail_lines: DEFAULT_TAIL_LINES,
            cgroup: true,
            host: Host::local(),
        }
    }

    /// Runs `script` with `/bin/sh -c`; the only way testrig involves a shell.
    pub fn shell(script: impl Into<OsString>) -> Command {
        Command::new("/bin/sh").arg("-c").arg(script)
    }

    /// Appends one argument, passed to the program as is (no splitting, no expansion).
    pub fn arg(mut self, arg: impl Into<OsString>) -> Command {
        self.args.push(arg.into());
        self
    }

    /// Appends arguments, each passed as is.
    pub fn args<I>(mut self, args: I) -> Command
    where
        I: IntoIterator,
        I::Item: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Names the process in errors, reports and log file names (default: the program's file name).
    pub fn name(mut self, name: impl Into<String>) -> Command {
        self.name = Some(name.into());
        self
    }

    /// Runs the program in `dir` (default: the current directory). A missing directory is an
    /// error at spawn.
    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Command {
        self.cwd = Some(dir.into());
        self
    }

    /// Sets an environment variable for the program (the rest is inherited).
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Command {
        self.env.push((key.into(), Some(value.into())));
        self
    }

    /// Removes an inherited environment variable.
    pub fn env_remove(mut self, key: impl Into<OsString>) -> Command {
        self.env.push((key.into(), None));
        self
    }

    /// Sets what a monitor expects of the process (default: [`Kind::TASK`], a task with no time
    /// limit, expected to exit with code 0).
    pub fn kind(mut self, kind: Kind) -> Command {
        self.kind = kind;
        self
    }

    /// A daemon: must keep running for the whole test.
    pub fn daemon(self) -> Command {
        self.kind(Kind::Daemon)
    }

    /// A task that must exit with code 0 within `timeout` of its spawn.
    pub fn task_timeout(self, timeout: Duration) -> Command {
        self.kind(Kind::Task {
            timeout: Some(timeout),
        })
    }

    /// The process is ready when a line matches `pattern`; see [`Process::ready`](super::Process::ready).
    /// The pattern sees every line from the very first, because it is set before the spawn.
    pub fn ready_when(mut self, pattern: Pattern) -> Command {
        self.readiness = Some(pattern);
        self
    }

    /// Calls `callback` with every output line — its stream and its text, without the line
    /// ending (`\n` or `\r\n`), decoded as UTF-8 (invalid bytes become `U+FFFD`; the log files
    /// keep the exact bytes) — as it arrives, on the task reading the output.
    /// Keep it quick: the program's output is not read while a callback runs. A callback that
    /// panics is logged (`tracing` error) and the output keeps flowing.
    pub fn on_line(mut self, callback: impl Fn(Stream, &str) + Send + Sync + 'static) -> Command {
        self.callbacks.push(Arc::new(callback));
        self
    }

    /// The signal [`Process::stop`](super::Process::stop) sends first (default `SIGTERM`).
    pub fn stop_signal(mut self, signal: Signal) -> Command {
        self.stop_signal = signal;
        self
    }

    /// How many of the last output lines to keep in memory for errors (default 50).
    pub fn tail_lines(mut self, lines: usize) -> Command {
        self.tail_lines = lines;
        self
    }

    /// Whether to run the program in a cgroup v2 of its own where one can be created (the
    /// default: `true`). `false` holds it by its process group only, as where cgroups are not
    /// available; see [`Process::cgroup`](super::Process::cgroup).
    pub fn cgroup(mut self, enabled: bool) -> Command {
        self.cgroup = enabled;
        self
    }

    /// Runs the program on `host` (default: [`Host::local`], this machine). On a host of an
    /// emulated [`Network`](crate::network::Network), the program enters the host's network
    /// namespace before it runs, and so do its children; spawning it once the network is
    /// stopped fails with [`ProcessError::Spawn`](super::ProcessError::Spawn).
    pub fn host(mut self, host: Host) -> Command {
        self.host = host;
        self
    }

    /// Whether the program is to run in a cgroup of its own where one can be created.
    pub(crate) fn get_cgroup(&self) -> bool {
        self.cgroup
    }

    /// Where the program runs.
    pub(crate) fn get_host(&self) -> &Host {
        &self.host
    }

    /// The name used in errors and log files: the one given, else the program's file name.
    pub(crate) fn display_name(&self) -> String {
        if let Some(name) = &self.name {
            return name.clone();
        }
        let file_name = self.program.file_name().unwrap_or(self.program.as_os_str());
        file_name.to_string_lossy().into_owned()
    }

    /// Whether a name was given with [`Command::name`].
    pub(crate) fn has_explicit_name(&self) -> bool {
        self.name.is_some()
    }

    /// The program to run.
    pub(crate) fn program(&self) -> &Path {
        &self.program
    }

    /// The arguments.
    pub(crate) fn get_args(&self) -> impl Iterator<Item = &OsStr> {
        self.args.iter().map(OsString::as_os_str)
    }

    /// The working directory, if one was set.
    pub(crate) fn get_cwd(&self) -> Option<&Path> {
        self.cwd.as_deref()
    }

    /// The environment changes in order: `Some(value)` sets, `None` removes.
    pub(crate) fn get_env(&self) -> impl Iterator<Item = (&OsStr, Option<&OsStr>)> {
        self.env
            .iter()
            .map(|(key, value)| (key.as_os_str(), value.as_deref()))
    }

    /// What a monitor expects of the process.
    pub(crate) fn get_kind(&self) -> Kind {
        self.kind
    }

    /// The readiness pattern, if one was set.
    pub(crate) fn readiness(&self) -> Option<&Pattern> {
        self.readiness.as_ref()
    }

    /// The signal `stop` sends first.
    pub(crate) fn get_stop_signal(&self) -> Signal {
        self.stop_signal
    }

    /// How many output lines are kept in memory.
    pub(crate) fn get_tail_lines(&self) -> usize {
        self.tail_lines
    }

    pub(crate) fn callbacks(&self) -> &[LineCallback] {
        &self.callbacks
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Command")
            .field("program", &self.program)
            .field("args", &self.args)
            .field("name", &self.name)
            .field("cwd", &self.cwd)
            .field("env", &self.env)
            .field("kind", &self.kind)
            .field("readiness", &self.readiness)
            .field("callbacks", &self.callbacks.len())
            .field("stop_signal", &self.stop_signal)
            .field("tail_lines", &self.tail_lines)
            .field("cgroup", &self.cgroup)
            .field("host", &self.host.name())
            .finish()
    }
}
