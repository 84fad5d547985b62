//! The settings of an [`App`], set by consuming methods on the driver itself and
//! checked by [`EnvironmentBuilder::build`](testrig::EnvironmentBuilder::build).

use std::path::PathBuf;
use std::time::Duration;

use testrig::process::{Signal, Stream};

use super::config::Settings;
use super::readiness::ReadinessSpec;
use super::{App, Expectation};

impl App {
    /// A driver named `name` that runs `binary` (a path, or a name looked up in
    /// `PATH`; a relative path with a `/` is taken from the test's working
    /// directory).
    ///
    /// The settings below are checked when the environment is built:
    /// [`EnvironmentBuilder::build`](testrig::EnvironmentBuilder::build) fails with
    /// [`BuildError::InvalidDriver`](testrig::BuildError::InvalidDriver) naming the
    /// driver, the field and the value of a wrong one (an invalid regex, a malformed
    /// placeholder), and [`Driver::check`](testrig::Driver::check) returns the
    /// [`AppError`](super::AppError) itself.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use testrig::{BuildError, Driver, Environment};
    /// use testrig::process::{Signal, Stream};
    /// use testrig_drivers::app::App;
    ///
    /// let app = App::new("web", "my-server")
    ///     .args(["--port=0"])
    ///     .env("RUST_LOG", "debug")
    ///     .ready_on(Stream::Stdout, r"listening on port (?P<port>\d+)")
    ///     .stop_signal(Signal::INT)
    ///     .stop_timeout(Duration::from_secs(2));
    /// assert_eq!(app.export_keys(), ["pid", "port"]);
    ///
    /// let wrong = App::new("web", "my-server").ready_on(Stream::Stdout, "port (");
    /// let error = Environment::builder("demo").driver(wrong).build().unwrap_err();
    /// assert!(matches!(&error, BuildError::InvalidDriver { driver, .. } if driver == "web"));
    /// assert!(error.to_string().contains("readiness on stdout `port (` is not a valid regex"));
    /// ```
    #[must_use]
    pub fn new(name: impl Into<String>, binary: impl Into<PathBuf>) -> App {
        App::with_settings(name.into(), Settings::new(binary.into()))
    }

    /// A driver that runs `script` with `/bin/sh -c`: the only way an `App`
    /// involves a shell. The script may hold `${driver.key}` placeholders; write
    /// `$$` for a literal `$` (so the shell's `$$` is `$$$$`).
    #[must_use]
    pub fn shell(name: impl Into<String>, script: impl Into<String>) -> App {
        App::new(name, "/bin/sh").args(["-c".to_owned(), script.into()])
    }

    /// Appends arguments, each passed to the program as is (no shell). An
    /// argument may hold `${driver.key}` placeholders, filled in from other
    /// drivers' exports when the app starts (each one makes the app depend on that
    /// driver); write `$$` for a literal `$`.
    #[must_use]
    pub fn args<I>(mut self, args: I) -> App
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.settings.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable for the program (the rest is inherited). The
    /// value may hold `${driver.key}` placeholders, as arguments may.
    #[must_use]
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> App {
        self.settings.env.push((key.into(), value.into()));
        self
    }

    /// Runs the program in `dir`, which must exist (default: the driver's runpath,
    /// so files the program writes land next to its logs).
    #[must_use]
    pub fn working_dir(mut self, dir: impl Into<PathBuf>) -> App {
        self.settings.working_dir = Some(dir.into());
        self
    }

    /// Ready when a line of the program's output matches `regex`: a line on
    /// `Stream::Stdout` or `Stream::Stderr`, or on either with `None`. The regex's
    /// named groups are exported. Replaces any readiness set before.
    #[must_use]
    pub fn ready_on(mut self, stream: impl Into<Option<Stream>>, regex: impl Into<String>) -> App {
        self.settings.readiness = ReadinessSpec::Line {
            regex: regex.into(),
            stream: stream.into(),
        };
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
    #[must_use]
    pub fn ready_on_log_file(mut self, path: impl Into<PathBuf>, regex: impl Into<String>) -> App {
        self.settings.readiness = ReadinessSpec::LogFile {
            regex: regex.into(),
            path: path.into(),
        };
        self
    }

    /// The program is a task expected to exit on its own with `code` (default: a
    /// daemon that must keep running until stopped). See [`Expectation`].
    #[must_use]
    pub fn expect_exit(mut self, code: i32) -> App {
        self.settings.expectation = Expectation::ExitsWith(code);
        self
    }

    /// The signal sent to the program's process group to stop it (default `SIGTERM`).
    /// `Signal::KILL` kills it at once, which then counts as a normal stop.
    #[must_use]
    pub fn stop_signal(mut self, signal: Signal) -> App {
        self.settings.stop_signal = signal;
        self
    }

    /// How long the program has to exit after the stop signal (default 5 s); after
    /// that it is killed with `SIGKILL` and the stop fails with
    /// [`AppError::StopTimedOut`](super::AppError::StopTimedOut). It must be below
    /// the driver's stop timeout in its [`DriverSpec`](testrig::DriverSpec)
    /// (default 10 s), else the environment would abort the app mid-stop: the
    /// environment's `build` then fails with
    /// [`BuildError::StopTimeoutNotBelow`](testrig::error::BuildError::StopTimeoutNotBelow)
    /// naming the driver, `stop_timeout` and both values.
    #[must_use]
    pub fn stop_timeout(mut self, timeout: Duration) -> App {
        self.settings.stop_timeout = timeout;
        self
    }

    /// How many of the last output lines (and log file lines) are kept for errors
    /// (default 50).
    #[must_use]
    pub fn tail_lines(mut self, lines: usize) -> App {
        self.settings.tail_lines = lines;
        self
    }

    /// Whether to run the program in a cgroup v2 of its own where one can be
    /// created (default `true`): stop and abort then kill every descendant
    /// (`cgroup.kill`), even one that left the process group with `setsid`, pause
    /// freezes them all, and the report shows their CPU time. `false` holds the
    /// program by its process group only, as where cgroups are not available; a
    /// descendant still alive after the program ended is then named in the report's
    /// warnings. See [`Process::cgroup`](testrig::process::Process::cgroup).
    #[must_use]
    pub fn cgroup(mut self, enabled: bool) -> App {
        self.settings.cgroup = enabled;
        self
    }
}
