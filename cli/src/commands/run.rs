use std::path::Path;
use std::time::{Duration, Instant};

use testrig::Outcome as CaseOutcome;
use testrig::report::CaseReport;

use super::finish::finish;
use super::session::Session;
use crate::exit::Outcome;
use crate::progress::Style;
use crate::stderr;

/// `testrig run RIG`: starts the rig, runs its steps in order (the first
/// failure skips the rest), prints the summary, writes the reports, stops.
pub(crate) async fn run(
    path: &Path,
    report_dir: Option<&Path>,
    style: Style,
    began: Instant,
) -> Outcome {
    let mut session = match Session::start(path, report_dir, style, began, |session| {
        for step in &session.rig.steps {
            session
                .env
                .record_case(not_run(&step.name, "the rig did not start"));
        }
    })
    .await
    {
        Ok(session) => session,
        Err(outcome) => return outcome,
    };
    let env = session.env.clone();

    let total = session.rig.steps.len();
    let mut failed = false;
    for (index, step) in session.rig.steps.iter().enumerate() {
        if let Some(signal) = session.interrupted {
            env.record_case(not_run(&step.name, &format!("interrupted by {signal}")));
            continue;
        }
        if failed {
            env.record_case(not_run(&step.name, "an earlier step failed"));
            continue;
        }
        let number = index + 1;
        session
            .progress
            .step_started(number, total, &step.name, step.action.kind());
        let step_began = Instant::now();
        let result = tokio::select! {
            result = {
                let notes = session.progress.notes();
                session.progress.follow(step.action.run(&env, notes))
            } => result.map_err(|e| testrig::error::describe(&*e)),
            signal = session.signals.recv() => {
                session.interrupted = Some(signal);
                Err(format!("interrupted by {signal}"))
            }
        };
        // A driver that died during the step fails it, even if the step did not notice.
        let result = result.and_then(|detail| match env.failed().first() {
            Some(driver) => Err(format!("driver `{driver}` failed during the step")),
            None => Ok(detail),
        });
        let took = step_began.elapsed();
        session
            .progress
            .step_done(number, total, &step.name, took, &result);
        failed |= result.is_err();
        env.record_case(CaseReport {
            name: step.name.clone(),
            outcome: if result.is_ok() {
                CaseOutcome::Passed
            } else {
                CaseOutcome::Failed
            },
            duration: took,
            message: result.err(),
            started_at: None,
        });
    }

    let stopped = session.complete(env.stop()).await;
    if let Err(error) = &stopped {
        stderr::line(format_args!(
            "error: {}",
            testrig::error::full_message(error)
        ));
    }
    let reported = finish(&env, report_dir);
    if failed || stopped.is_err() || session.interrupted.is_some() || !reported {
        Outcome::Failed
    } else {
        Outcome::Passed
    }
}

fn not_run(name: &str, why: &str) -> CaseReport {
    CaseReport {
        name: name.to_owned(),
        outcome: CaseOutcome::NotRun,
        duration: Duration::ZERO,
        message: Some(why.to_owned()),
        started_at: None,
    }
}

#[cfg(test)]
mod tests {
    use testrig::error::describe as with_causes;

    #[derive(Debug, thiserror::Error)]
    #[error("driver `server`: receive failed")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn a_step_failure_shows_its_causes_once() {
        let error = Outer(std::io::Error::other("connection reset by peer"));
        assert_eq!(
            with_causes(&error),
            "driver `server`: receive failed\n  caused by: connection reset by peer"
        );
        let plain = std::io::Error::other("timed out");
        assert_eq!(with_causes(&plain), "timed out");
    }
}
