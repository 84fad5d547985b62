use std::path::PathBuf;
use std::time::Duration;

use testrig::Template;
use testrig::process::{DEFAULT_TAIL_LINES, Signal, Stream};

use super::config::Config;
use super::readiness::ReadinessSpec;
use super::{App, AppError, Expectation};

/// How long a program has to exit after the stop signal before it is killed,
/// unless set with [`AppBuilder::stop_timeout`].
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// Builds an [`App`]; [`build`](Self::build) validates every setting (regexes,
/// placeholders) and names the driver, the field and the value when one is wrong.
///
/// Obtained from [`App::builder`] or [`App::shell`].
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use testrig::Driver;
/// use testrig::process::Signal;
/// use testrig_drivers::app::App;
///
/// let app = App::builder("web", "my-server")
///     .args(["--port=0", "--upstream=${db.address}"])
///     .env("RUST_LOG", "debug")
///     .ready_on_stdout(r"listening on port (?P<port>\d+)")
///     .stop_signal(Signal::INT)
///     .stop_timeout(Duration::from_secs(2))
///     .build()?;
/// assert_eq!(app.export_keys(), ["pid", "port"]);
///
/// let error = App::builder("web", "my-server").ready_on_stdout("port (").build().unwrap_err();
/// assert!(error.to_string().starts_with("driver `web`: readiness on stdout `port (` is not a valid regex"));
/// # Ok::<(), testrig_drivers::app::AppError>(())
/// ```
#[derive(Debug)]
#[must_use]
pub struct AppBuilder {
    name: String,
    binary: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    working_dir: Option<PathBuf>,
    readiness: ReadinessSpec,
    expectation: Expectation,
    stop_signal: Signal,
    stop_timeout: Duration,
    tail_lines: usize,
    cgroup: bool,
}

// Here rather than in app.rs, so that the builder depends on the driver and not the
// other way round.
impl App {
    /// Starts building a driver named `name` that runs `binary` (a path, or a name
    /// looked up in `PATH`; a relative path with a `/` is taken from the test's
    /// working directory).
    pub fn builder(name: impl Into<String>, binary: impl Into<PathBuf>) -> AppBuilder {
        AppBuilder::new(name.into(), binary.into())
    }

    /// Starts building a driver that runs `script` with `/bin/sh -c`: the only way
    /// an `App` involves a shell. The script may hold `${driver.key}` placeholders;
    /// write `$$` for a literal `$` (so the shell's `$$` is `$$$$`).
    pub fn shell(name: impl Into<String>, script: impl Into<String>) -> AppBuilder {
        App::builder(name, "/bin/sh").arg("-c").arg(script)
    }
}

impl AppBuilder {
    fn new(name: String, binary: PathBuf) -> AppBuilder {
        AppBuilder {
            name,
            binary,
            args: Vec::new(),
            env: Vec::new(),
            working_dir: None,
            readiness: ReadinessSpec::Immediate,
            expectation: Expectation::KeepsRunning,
            stop_signal: Signal::TERM,
            stop_timeout: DEFAULT_STOP_TIMEOUT,
            tail_lines: DEFAULT_TAIL_LINES,
            cgroup: true,
        }
    }

    /// Appends one argument, passed to the program as is (no shell). It may hold
    /// `${driver.key}` placeholders, filled in from other drivers' exports when the
    /// app starts (each one makes the app depend on that driver); write `$$` for a
    /// literal `$`.
    pub fn arg(mut self, arg: impl Into<String>) -> AppBuilder {
        self.args.push(arg.into());
        self
    }

    /// Appends arguments; see [`arg`](Self::arg).
    pub fn args<I>(mut self, args: I) -> AppBuilder
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable for the program (the rest is inherited). The
    /// value may hold `${driver.key}` placeholders, as arguments may.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> AppBuilder {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Runs the program in `dir`, which must exist (default: the driver's runpath,
    /// so files the program writes land next to its logs).
    pub fn working_dir(mut self, dir: impl Into<PathBuf>) -> AppBuilder {
        self.working_dir = Some(dir.into());
        self
    }

    /// Ready when a line on stdout matches `regex`; its named groups are exported.
    /// Replaces any readiness set before.
    pub fn ready_on_stdout(self, regex: impl Into<String>) -> AppBuilder {
        self.ready_on_line(regex.into(), Some(Stream::Stdout))
    }

    /// Ready when a line on stderr matches `regex`; its named groups are exported.
    /// Replaces any readiness set before.
    pub fn ready_on_stderr(self, regex: impl Into<String>) -> AppBuilder {
        self.ready_on_line(regex.into(), Some(Stream::Stderr))
    }

    /// Ready when a line on stdout or stderr matches `regex`; its named groups are
    /// exported. Replaces any readiness set before.
    pub fn ready_on_output(self, regex: impl Into<String>) -> AppBuilder {
        self.ready_on_line(regex.into(), None)
    }

    fn ready_on_line(mut self, regex: String, stream: Option<Stream>) -> AppBuilder {
        self.readiness = ReadinessSpec::Line { regex, stream };
        self
    }

    /// Ready when a line the program writes to the file `path` (relative to the
    /// working directory) matches `regex`; its named groups are exported. Replaces
    /// any readiness set before.
    ///
    /// The file is read incrementally as inotify reports writes to it (never re-read
    /// from its start). Before each run an existing file is archived like the
    /// stdout/stderr logs (`app.log` → `app.1.log`), so a line from an earlier run
    /// never counts, and its directory is created if missing. Only complete lines
    /// (ended by a newline) are matched.
    pub fn ready_on_log_file(
        mut self,
        path: impl Into<PathBuf>,
        regex: impl Into<String>,
    ) -> AppBuilder {
        self.readiness = ReadinessSpec::LogFile {
            regex: regex.into(),
            path: path.into(),
        };
        self
    }

    /// The program is a task expected to exit on its own with `code` (default: a
    /// daemon that must keep running until stopped). See [`Expectation`].
    pub fn expect_exit(mut self, code: i32) -> AppBuilder {
        self.expectation = Expectation::ExitsWith(code);
        self
    }

    /// The signal sent to the program's process group to stop it (default `SIGTERM`).
    /// `Signal::KILL` kills it at once, which then counts as a normal stop.
    pub fn stop_signal(mut self, signal: Signal) -> AppBuilder {
        self.stop_signal = signal;
        self
    }

    /// How long the program has to exit after the stop signal (default 5 s); after
    /// that it is killed with `SIGKILL` and the stop fails with
    /// [`AppError::StopTimedOut`]. It must be below the driver's stop timeout in
    /// its [`DriverSpec`](testrig::DriverSpec) (default 10 s), else the
    /// environment would abort the app mid-stop: the environment's `build` then
    /// fails with [`BuildError::StopTimeoutNotBelow`](testrig::error::BuildError::StopTimeoutNotBelow)
    /// naming the driver, `stop_timeout` and both values.
    pub fn stop_timeout(mut self, timeout: Duration) -> AppBuilder {
        self.stop_timeout = timeout;
        self
    }

    /// How many of the last output lines (and log file lines) are kept for errors
    /// (default 50).
    pub fn tail_lines(mut self, lines: usize) -> AppBuilder {
        self.tail_lines = lines;
        self
    }

    /// Whether to run the program in a cgroup v2 of its own where one can be
    /// created (default `true`): stop and abort then kill every descendant
    /// (`cgroup.kill`), even one that left the process group with `setsid`, pause
    /// freezes them all, and the report shows their CPU time. `false` holds the
    /// program by its process group only, as where cgroups are not available; a
    /// descendant still alive after the program ended is then named in the report's
    /// warnings. See [`Process::cgroup`](testrig::process::Process::cgroup).
    pub fn cgroup(mut self, enabled: bool) -> AppBuilder {
        self.cgroup = enabled;
        self
    }

    /// Validates the settings and builds the driver.
    pub fn build(self) -> Result<App, AppError> {
        let name = self.name;
        let template = |field: String, text: &str| {
            Template::parse(text).map_err(|source| AppError::InvalidTemplate {
                driver: name.clone(),
                field,
                source,
            })
        };
        let args = self
            .args
            .iter()
            .enumerate()
            .map(|(i, arg)| template(format!("arg {}", i + 1), arg))
            .collect::<Result<_, _>>()?;
        let env = self
            .env
            .iter()
            .map(|(key, value)| Ok((key.clone(), template(format!("env {key}"), value)?)))
            .collect::<Result<_, AppError>>()?;
        let readiness = self.readiness.build(&name)?;
        let config = Config {
            binary: self.binary,
            args,
            env,
            working_dir: self.working_dir,
            readiness,
            expectation: self.expectation,
            stop_signal: self.stop_signal,
            stop_timeout: self.stop_timeout,
            tail_lines: self.tail_lines,
            cgroup: self.cgroup,
        };
        Ok(App::from_config(name, config))
    }
}
