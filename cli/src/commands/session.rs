use std::future::Future;
use std::path::Path;
use std::time::Instant;
use testrig::env::StopSignals;

use testrig::Environment;

use super::finish::finish;
use super::report_dir::prepare_report_dir;
use crate::exit::Outcome;
use crate::progress::{Progress, Style};
use crate::rig::Rig;
use crate::stderr;

/// A loaded rig with its environment, its progress display and its signal
/// listener: what `up` and `run` share.
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) rig: Rig,
    pub(crate) env: Environment,
    pub(crate) progress: Progress,
    pub(crate) signals: StopSignals,
    /// The first SIGINT, SIGTERM or SIGHUP seen while something could not be abandoned.
    pub(crate) interrupted: Option<&'static str>,
}

impl Session {
    /// What `run` and `up` do first: prepares the report directory, loads the
    /// rig at `path` and starts it. When the start fails, prints why, lets
    /// `not_started` record what the command reports then (`run`: its steps as
    /// not run), writes the reports and returns `StartFailed` (exit code 2,
    /// written reports or not); on any other failure, the exit outcome.
    pub(crate) async fn start(
        path: &Path,
        report_dir: Option<&Path>,
        style: Style,
        began: Instant,
        not_started: impl FnOnce(&Self),
    ) -> Result<Self, Outcome> {
        if let Some(dir) = report_dir {
            prepare_report_dir(dir)?;
        }
        let mut session = Self::open(path, report_dir, style, began)?;
        let env = session.env.clone();
        if let Err(error) = session.complete(env.start()).await {
            // The cause is the error's source for some (the network's failure).
            stderr::line(format_args!(
                "error: rig `{}` could not start:\n{}",
                session.rig.name,
                testrig::error::full_message(&error)
            ));
            not_started(&session);
            let _ = finish(&env, report_dir);
            return Err(Outcome::StartFailed);
        }
        Ok(session)
    }

    /// Loads the rig at `path` and builds its environment; on failure prints
    /// why and returns the exit outcome.
    ///
    /// `report_dir`: where the reports and step results go (else the run's
    /// directory, which is then kept).
    fn open(
        path: &Path,
        report_dir: Option<&Path>,
        style: Style,
        began: Instant,
    ) -> Result<Self, Outcome> {
        let loaded =
            Rig::load(path).and_then(|rig| rig.environment(report_dir).map(|env| (rig, env)));
        let (rig, env) = loaded.map_err(|error| {
            stderr::line(format_args!("error: {}", error.render()));
            Outcome::BadRig
        })?;
        let signals = StopSignals::listen().map_err(|error| {
            stderr::line(format_args!(
                "error: cannot listen for SIGINT, SIGTERM and SIGHUP: {error}"
            ));
            Outcome::StartFailed
        })?;
        let progress = Progress::new(&env, style, began);
        progress.note(&format!(
            "rig `{}` from {}: {} driver(s), {} step(s)",
            rig.name,
            path.display(),
            rig.drivers.len(),
            rig.steps.len()
        ));
        if let Some(description) = &rig.description {
            progress.note(description);
        }
        Ok(Self {
            rig,
            env,
            progress,
            signals,
            interrupted: None,
        })
    }

    /// Runs `work` (a start or a stop) to its end while printing progress.
    /// Those have their own deadlines and cannot be abandoned halfway, so a
    /// signal meanwhile is only remembered, for the caller to act on after.
    pub(crate) async fn complete<F: Future>(&mut self, work: F) -> F::Output {
        let mut work = std::pin::pin!(work);
        loop {
            tokio::select! {
                output = self.progress.follow(&mut work) => return output,
                signal = self.signals.recv(), if self.interrupted.is_none() => {
                    self.interrupted = Some(signal);
                    self.progress.note(&format!("{signal} received: stopping as soon as this finishes"));
                }
            }
        }
    }
}
