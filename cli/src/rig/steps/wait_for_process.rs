use std::future::{Future, poll_fn};
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::task::Poll;
use std::time::Duration;

use regex::Regex;
use serde::Deserialize;
use testrig::process::{Exit, Pattern, Process, Stream, Tail};
use testrig::{BoxError, Environment};
use testrig_drivers::app::{App, Expectation};
use toml::Spanned;

use super::{StepCheck, StepKind, StepRun};
use crate::progress::Notes;
use crate::rig::Problem;
use crate::rig::fields::{RegexTemplate, RegexTemplateError, RigDuration};

/// How long the step waits when it sets no `timeout`.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// `kind = "wait_for_process"`: waits for an `app` driver's program.
///
/// - An app with `expect_exit` (a task): waits up to `timeout` for its end,
///   which must be an exit with that code (`exit_code` may restate it); with
///   `expect_output`, a line of its whole output must match the regex.
/// - An app without (a daemon, which must keep running): waits up to `timeout`
///   for a line of its output matching `expect_output` (one printed before the
///   step counts too).
///
/// `expect_output` may hold `${driver.key}` references, filled in when the step
/// runs with each value escaped, so the value matches literally.
///
/// ```toml
/// [[step]]
/// kind = "wait_for_process"
/// driver = "migrate"
/// timeout = "10s"
/// exit_code = 0
/// expect_output = 'applied \d+ migrations'
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WaitForProcess {
    driver: Spanned<String>,
    timeout: Option<RigDuration>,
    exit_code: Option<Spanned<i64>>,
    expect_output: Option<Spanned<RegexTemplate>>,
}

/// Why the program did not do what the step waited for (the other failures
/// are the app's own errors, which carry the same details).
#[derive(Debug, thiserror::Error)]
enum WaitError {
    #[error(
        "driver `{driver}`: the program (pid {pid}) {exit} before it exited on its own; expected: it exits with code {expected}"
    )]
    EndedByTestrig {
        driver: String,
        pid: u32,
        exit: Exit,
        expected: i32,
    },
    #[error(
        "driver `{driver}`: the program (pid {pid}) exited with code {code} but printed no line matching `{regex}`\n{tail}"
    )]
    NoMatchingLine {
        driver: String,
        pid: u32,
        code: i32,
        regex: String,
        tail: Tail,
    },
    #[error("driver `{driver}`: cannot read the program's output in {}", path.display())]
    Output {
        driver: String,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("driver `{driver}`: cannot build `expect_output`: {source}")]
    Pattern {
        driver: String,
        #[source]
        source: RegexTemplateError,
    },
    #[error("driver `{driver}` has no program: it was never started")]
    NeverStarted { driver: String },
}

impl WaitForProcess {
    pub(crate) fn check(&self, check: &StepCheck) -> Result<(), Problem> {
        check.driver(&self.driver, &["app"])?;
        if let Some(pattern) = &self.expect_output {
            check.references(&pattern.get_ref().references(), pattern.span())?;
        }
        let name = self.driver.get_ref();
        let Some(app) = check.get::<App>(name) else {
            return Ok(());
        };
        match (app.expectation(), &self.exit_code, &self.expect_output) {
            (Expectation::ExitsWith(expected), Some(code), _)
                if *code.get_ref() != i64::from(expected) =>
            {
                Err(Problem::new(
                    code.span(),
                    format!(
                        "`{name}` is expected to exit with code {expected} (its `expect_exit`); an exit with {} would fail the driver, so the two must agree",
                        code.get_ref()
                    ),
                ))
            }
            (Expectation::ExitsWith(_), ..) => Ok(()),
            (_, Some(code), _) => Err(Problem::new(
                code.span(),
                format!(
                    "`{name}` has no `expect_exit`: it keeps running until stopped, so it has no exit code to wait for; give the driver `expect_exit = {}`",
                    code.get_ref()
                ),
            )),
            (_, None, None) => Err(Problem::new(
                self.driver.span(),
                format!(
                    "`{name}` has no `expect_exit`: it keeps running until stopped, so waiting for its end can only fail; give the driver `expect_exit`, or this step an `expect_output` to wait for"
                ),
            )),
            (_, None, Some(_)) => Ok(()),
        }
    }

    pub(crate) async fn run(&self, env: &Environment) -> Result<String, BoxError> {
        let name = self.driver.get_ref();
        let app = env.get::<App>(name)?;
        let timeout = self.timeout.map_or(DEFAULT_TIMEOUT, |t| t.0);
        let regex = self
            .expect_output
            .as_ref()
            .map(|pattern| pattern.get_ref().regex(env.values()))
            .transpose()
            .map_err(|source| WaitError::Pattern {
                driver: name.clone(),
                source,
            })?;
        let regex = regex.as_ref();
        let Expectation::ExitsWith(expected) = app.expectation() else {
            let regex = regex.ok_or("a wait for a daemon needs `expect_output` (checked)")?;
            let process = app.process().ok_or_else(|| never_started(name))?;
            let line = wait_for_output(&process, regex, timeout).await?;
            return Ok(format!("`{name}` printed {line:?}"));
        };
        let exit = app.wait_exit(timeout).await?;
        let process = app.process().ok_or_else(|| never_started(name))?;
        if exit != Exit::Code(expected) {
            return Err(WaitError::EndedByTestrig {
                driver: name.clone(),
                pid: process.pid(),
                exit,
                expected,
            }
            .into());
        }
        let Some(regex) = regex else {
            return Ok(format!("`{name}` exited with code {expected}"));
        };
        match printed_line(&process, regex, true)? {
            Some(line) => Ok(format!(
                "`{name}` exited with code {expected} and printed {line:?}"
            )),
            None => Err(WaitError::NoMatchingLine {
                driver: name.clone(),
                pid: process.pid(),
                code: expected,
                regex: regex.as_str().to_owned(),
                tail: process.tail(),
            }
            .into()),
        }
    }
}

fn never_started(driver: &str) -> WaitError {
    WaitError::NeverStarted {
        driver: driver.to_owned(),
    }
}

/// Waits up to `timeout` for a line of `process`'s output (either stream)
/// matching `regex`, counting the lines printed before the call; returns it.
async fn wait_for_output(
    process: &Process,
    regex: &Regex,
    timeout: Duration,
) -> Result<String, BoxError> {
    let wait = process.wait_for_line(Pattern::from_regex(regex.clone(), None), timeout);
    let mut wait = std::pin::pin!(wait);
    // The first poll registers the wait: a line printed from then on reaches it,
    // and one printed before is already in the log files (written before the
    // line is handed out), so no line falls between the two.
    let first = poll_fn(|cx| Poll::Ready(wait.as_mut().poll(cx))).await;
    if let Poll::Ready(Ok(captures)) = &first {
        return Ok(captures.line.clone());
    }
    let ended = process.state().exit().is_some();
    if let Some(line) = printed_line(process, regex, ended)? {
        return Ok(line);
    }
    match first {
        Poll::Ready(result) => Ok(result?.line),
        Poll::Pending => Ok(wait.await?.line),
    }
}

/// The first line of `process`'s log files (stdout, then stderr) matching
/// `regex`. While it runs (`ended` false), a last line still being written is
/// left out, so a half-written line never counts.
fn printed_line(
    process: &Process,
    regex: &Regex,
    ended: bool,
) -> Result<Option<String>, WaitError> {
    for stream in [Stream::Stdout, Stream::Stderr] {
        let path = process.log_file(stream);
        if let Some(line) =
            matching_line(path, regex, ended).map_err(|source| WaitError::Output {
                driver: process.name().to_owned(),
                path: path.to_owned(),
                source,
            })?
        {
            return Ok(Some(line));
        }
    }
    Ok(None)
}

fn matching_line(path: &Path, regex: &Regex, ended: bool) -> io::Result<Option<String>> {
    let bytes = std::fs::read(path)?;
    let text = String::from_utf8_lossy(&bytes);
    let complete = match (ended, text.rfind('\n')) {
        (true, _) => &text[..],
        (false, Some(end)) => &text[..=end],
        (false, None) => "",
    };
    Ok(complete
        .lines()
        .find(|line| regex.is_match(line))
        .map(str::to_owned))
}

impl StepKind for WaitForProcess {
    fn check(&self, _table: Range<usize>, check: &StepCheck) -> Result<(), Problem> {
        Self::check(self, check)
    }

    fn run<'a>(&'a self, env: &'a Environment, _notes: Notes) -> StepRun<'a> {
        Box::pin(Self::run(self, env))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_still_being_written_counts_only_once_the_program_ended() {
        let dir = std::env::temp_dir().join(format!("testrig-cli-lines-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("out.log");
        std::fs::write(&path, "starting\r\nlistening on port 80").unwrap();
        let regex = Regex::new(r"port \d+|starting").unwrap();
        assert_eq!(
            matching_line(&path, &Regex::new("port").unwrap(), false).unwrap(),
            None
        );
        assert_eq!(
            matching_line(&path, &regex, false).unwrap().as_deref(),
            Some("starting")
        );
        assert_eq!(
            matching_line(&path, &Regex::new("port").unwrap(), true)
                .unwrap()
                .as_deref(),
            Some("listening on port 80")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
