use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use testrig::process::Stream;
use testrig::{BoxError, Driver, DriverSpec};
use testrig_drivers::app::{App, AppError};

use super::{DriverKind, InvalidOption};
use crate::rig::fields::{Program, RigPath, RigRegex, StopSignal, TemplateText};

/// How much longer than an app's own `stop_timeout` the engine waits for its
/// stop: the time to kill the program with `SIGKILL` and reap it. The app's
/// timeout fires first, so an overrun is reported as the program needing
/// `SIGKILL`, never as a stop that hung.
pub(crate) const KILL_GRACE: Duration = Duration::from_secs(2);

/// `kind = "app"`: an [`App`], one program with the lifecycle of a driver.
/// Exports `pid` and every named group of its readiness regex.
///
/// `binary` (when a path) and `cwd` are taken from the rig file's directory
/// when relative; `ready_log_file.path` from the program's working directory,
/// where the program writes it.
///
/// ```toml
/// [[driver]]
/// name = "reporter"
/// kind = "app"
/// binary = "bash"                              # or: shell = "a /bin/sh script"
/// args = ["-c", "echo up on ${server.port}; exec sleep 600"]
/// env = { PORT = "${server.port}" }
/// ready_stdout = 'up on (?P<port>\d+)'        # exported: `port`
/// stop_signal = "SIGINT"
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AppOptions {
    binary: Option<Program>,
    shell: Option<TemplateText>,
    #[serde(default)]
    args: Vec<TemplateText>,
    #[serde(default)]
    env: BTreeMap<String, TemplateText>,
    cwd: Option<RigPath>,
    ready_stdout: Option<RigRegex>,
    ready_stderr: Option<RigRegex>,
    ready_output: Option<RigRegex>,
    ready_log_file: Option<LogFileReadiness>,
    expect_exit: Option<i64>,
    stop_signal: Option<StopSignal>,
}

/// `ready_log_file = { path = "app.log", regex = "..." }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogFileReadiness {
    path: RigPath,
    regex: RigRegex,
}

impl AppOptions {
    /// The driver; `stop_timeout` (the rig's key every driver has) is how long
    /// the program has to exit after its stop signal before `SIGKILL`;
    /// `rig_dir` is the directory of the rig file.
    pub(crate) fn spec(
        &self,
        name: &str,
        stop_timeout: Option<Duration>,
        rig_dir: &Path,
    ) -> Result<DriverSpec, InvalidOption> {
        let mut app = self.program(name, rig_dir)?;
        for (key, value) in &self.env {
            if key.is_empty() || key.contains(['=', '\0']) {
                return Err(InvalidOption::new(
                    format!("env.{key}"),
                    format!("`{key}` is not an environment variable name (empty, or with `=`)"),
                ));
            }
            app = app.env(key, value.0.to_string());
        }
        if let Some(cwd) = &self.cwd {
            app = app.working_dir(cwd.resolve(rig_dir));
        }
        self.check_log_file(rig_dir)?;
        let (app, readiness_key) = self.readiness(app)?;
        let mut app = app;
        if let Some(code) = self.expect_exit {
            let code = i32::try_from(code)
                .ok()
                .filter(|code| (0..=255).contains(code))
                .ok_or_else(|| {
                    InvalidOption::new(
                        "expect_exit",
                        format!("{code} is not an exit code (0 to 255)"),
                    )
                })?;
            app = app.expect_exit(code);
        }
        if let Some(signal) = self.stop_signal {
            app = app.stop_signal(signal.0);
        }
        if let Some(timeout) = stop_timeout {
            app = app.stop_timeout(timeout);
        }
        app.check()
            .map_err(|error| invalid_setting(error, readiness_key))?;
        Ok(DriverSpec::new(app))
    }

    /// The builder for `binary` and `args`, or for the `shell` script.
    fn program(&self, name: &str, rig_dir: &Path) -> Result<App, InvalidOption> {
        let args = self.args.iter().map(|arg| arg.0.to_string());
        match (&self.binary, &self.shell) {
            (Some(binary), None) => Ok(App::new(name, binary.resolve(rig_dir)).args(args)),
            (None, Some(_)) if !self.args.is_empty() => Err(InvalidOption::new(
                "args",
                "`args` go with a `binary`; a `shell` script takes its values from references in it, or from `env`",
            )),
            (None, Some(script)) => Ok(App::shell(name, script.0.to_string())),
            (Some(_), Some(_)) => Err(InvalidOption::new(
                "shell",
                "an app runs either a `binary` or a `shell` script, not both",
            )),
            (None, None) => Err(InvalidOption::new(
                "binary",
                "an app needs a `binary` to run (a path, or a name looked up in PATH), or a `shell` script",
            )),
        }
    }

    /// The app archives (renames) an existing `ready_log_file` before each
    /// run: where the path is known now (absolute, or under `cwd`), it must
    /// not be something else than a regular file — `/dev/zero` renamed to
    /// `/dev/zero.1` by a rig run as root is a broken machine.
    fn check_log_file(&self, rig_dir: &Path) -> Result<(), InvalidOption> {
        let Some(file) = &self.ready_log_file else {
            return Ok(());
        };
        let written = file.path.as_written();
        let path = match &self.cwd {
            _ if written.is_absolute() => written.to_owned(),
            Some(cwd) => cwd.resolve(rig_dir).join(written),
            // Under the driver's runpath, made fresh for the run.
            None => return Ok(()),
        };
        match std::fs::metadata(&path).map(|m| crate::rig::not_regular(m.file_type())) {
            Ok(Some(kind)) => Err(InvalidOption::new(
                "ready_log_file.path",
                format!(
                    "{} is {kind}, not a regular file: the app archives (renames) its log file before each run, so it must be a file the program writes",
                    path.display()
                ),
            )),
            Ok(None) | Err(_) => Ok(()),
        }
    }

    /// Sets the readiness, of which there is at most one; returns its key.
    fn readiness(&self, app: App) -> Result<(App, Option<&'static str>), InvalidOption> {
        let set = [
            ("ready_stdout", self.ready_stdout.is_some()),
            ("ready_stderr", self.ready_stderr.is_some()),
            ("ready_output", self.ready_output.is_some()),
            ("ready_log_file", self.ready_log_file.is_some()),
        ];
        let mut keys = set
            .iter()
            .filter(|(_, is_set)| *is_set)
            .map(|(key, _)| *key);
        let first = keys.next();
        if let (Some(first), Some(second)) = (first, keys.next()) {
            return Err(InvalidOption::new(
                second,
                format!("an app has one readiness, and `{first}` is already set"),
            ));
        }
        let app = match (
            &self.ready_stdout,
            &self.ready_stderr,
            &self.ready_output,
            &self.ready_log_file,
        ) {
            (Some(regex), ..) => app.ready_on(Stream::Stdout, regex.0.as_str()),
            (_, Some(regex), ..) => app.ready_on(Stream::Stderr, regex.0.as_str()),
            (_, _, Some(regex), _) => app.ready_on(None, regex.0.as_str()),
            // The program writes it, so it is where the program's relative paths
            // point: its working directory.
            (.., Some(file)) => {
                app.ready_on_log_file(file.path.as_written(), file.regex.0.as_str())
            }
            (None, None, None, None) => app,
        };
        let key = match first {
            Some("ready_log_file") => Some("ready_log_file.regex"),
            other => other,
        };
        Ok((app, key))
    }
}

/// An error of the app's [`Driver::check`], on the key that causes it. Regexes
/// and placeholders were checked when the file was read, so what is left is a
/// readiness group the driver exports itself (`pid`).
fn invalid_setting(error: BoxError, readiness_key: Option<&'static str>) -> InvalidOption {
    let key = readiness_key.unwrap_or("kind");
    match error.downcast::<AppError>().map(|error| *error) {
        Ok(AppError::ReservedGroup { value, group, .. }) => InvalidOption::new(
            key,
            format!(
                "`{value}` has a group named `{group}`, which the app exports itself; name the group otherwise"
            ),
        ),
        Ok(other) => InvalidOption::new(key, other.to_string()),
        Err(other) => InvalidOption::new(key, other.to_string()),
    }
}

impl DriverKind for AppOptions {
    fn spec(
        &self,
        name: &str,
        stop_timeout: Option<Duration>,
        rig_dir: &Path,
    ) -> Result<DriverSpec, InvalidOption> {
        Self::spec(self, name, stop_timeout, rig_dir)
    }

    fn stop_deadline(&self, stop_timeout: Duration) -> Duration {
        stop_timeout.saturating_add(KILL_GRACE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(text: &str) -> AppOptions {
        toml::from_str(text).unwrap()
    }

    fn spec(text: &str) -> Result<DriverSpec, InvalidOption> {
        options(text).spec("web", None, Path::new("/rigs"))
    }

    fn invalid(text: &str) -> InvalidOption {
        spec(text).unwrap_err()
    }

    #[test]
    fn named_groups_of_the_readiness_regex_are_exported_with_the_pid() {
        let web =
            spec("binary = 'sh'\nready_stdout = 'port (?P<port>\\d+) (?P<host>\\S+)'").unwrap();
        assert_eq!(testrig::testing::resource(web).name(), "web");
        let app = testrig::testing::resource(spec("shell = 'echo ${server.port}'\nready_log_file = { path = 'a.log', regex = '(?P<token>\\w+)' }")
            .unwrap())
            .driver();
        assert_eq!(app.export_keys(), ["pid", "token"]);
        assert_eq!(app.references()[0].to_string(), "server.port");
    }

    #[test]
    fn an_app_runs_a_binary_or_a_shell_script_and_args_go_with_the_binary() {
        assert_eq!(invalid("cwd = '/tmp'").key, "binary");
        assert_eq!(invalid("binary = 'sh'\nshell = 'true'").key, "shell");
        assert_eq!(invalid("shell = 'true'\nargs = ['x']").key, "args");
        assert_eq!(
            invalid("binary = 'sh'\nenv = { 'A=B' = 'x' }").key,
            "env.A=B"
        );
    }

    #[test]
    fn a_second_readiness_a_reserved_group_and_a_bad_exit_code_name_their_key() {
        let second = invalid(
            "binary = 'sh'\nready_stdout = 'a'\nready_log_file = { path = 'x', regex = 'b' }",
        );
        assert_eq!(second.key, "ready_log_file");
        assert!(second.message.contains("`ready_stdout` is already set"));
        let reserved =
            invalid("binary = 'sh'\nready_log_file = { path = 'x', regex = '(?P<pid>\\d+)' }");
        assert_eq!(reserved.key, "ready_log_file.regex");
        assert!(
            reserved.message.contains("group named `pid`"),
            "{}",
            reserved.message
        );
        let code = invalid("binary = 'sh'\nexpect_exit = 256");
        assert_eq!(
            (code.key.as_str(), code.message.as_str()),
            ("expect_exit", "256 is not an exit code (0 to 255)")
        );
    }
}
