//! The runner called from a test, with its arguments given: the order of hooks
//! and cases, teardown failures, refused definitions, and running from inside
//! a tokio runtime.

use std::path::Path;
use std::sync::{Arc, Mutex};

use testrig::BuildError;
use testrig::report::Outcome;
use testrig::suite::{Arguments, Runner, Suite};
use testrig::testing::{Event, Journal, ScriptedDriver};
use testrig::{Environment, Phase, Status};

use crate::support::{outcomes, read_report, report_dir};

/// libtest arguments that print into `<reports>/libtest.log` rather than over
/// the test's output.
fn args(reports: &Path) -> Arguments {
    let log = reports.join("libtest.log");
    Arguments::from_iter(["suite", "--logfile", log.to_str().expect("a UTF-8 path")])
}

/// What the hooks and cases saw, in order.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    /// Records `what` and the server's status at that moment.
    fn note(&self, what: &str, env: &Environment) {
        let status = env.resource("server").expect("a server driver").status();
        self.0
            .lock()
            .unwrap()
            .push(format!("{what}: server {status}"));
    }

    fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

/// A suite of one scripted server whose hooks and two cases note what they see.
fn logged_suite(name: &str, journal: &Journal, log: &Log, fail_start: bool) -> Suite {
    let server = ScriptedDriver::new("server").listen().journal(journal);
    let server = if fail_start {
        server.fail_in(Phase::Start)
    } else {
        server
    };
    let env_name = name.to_owned();
    let note = |what: &'static str| {
        let log = log.clone();
        move |env: Environment| async move {
            log.note(what, &env);
            Ok(())
        }
    };
    Suite::new(name, move || {
        Environment::builder(env_name).driver(server).build()
    })
    .before_start(note("before_start"))
    .after_start(note("after_start"))
    .before_stop(note("before_stop"))
    .after_stop(note("after_stop"))
    .case("first", note("first"))
    .case("second", note("second"))
}

#[test]
fn hooks_and_cases_run_in_order_around_one_start_and_one_stop() {
    let reports = report_dir("in-order");
    let (journal, log) = (Journal::new(), Log::default());
    let conclusion = Runner::new()
        .suites([logged_suite("ordered", &journal, &log, false)])
        .args(args(&reports))
        .handle_signals(false)
        .report_dir(&reports)
        .run()
        .expect("a valid suite");
    assert_eq!((conclusion.num_passed, conclusion.num_failed), (2, 0));
    assert_eq!(
        log.lines(),
        [
            "before_start: server idle",
            "after_start: server started",
            "first: server started",
            "second: server started",
            "before_stop: server started",
            "after_stop: server stopped",
        ]
    );
    assert_eq!(journal.count("server", Event::StartCalled), 1);
    assert_eq!(journal.count("server", Event::StopCalled), 1);
    let report = read_report(&reports, "ordered");
    assert_eq!(
        outcomes(&report),
        [("first", Outcome::Passed), ("second", Outcome::Passed)]
    );
}

#[test]
fn after_stop_runs_when_the_start_failed_and_before_stop_does_not() {
    let reports = report_dir("failed-start-hooks");
    let (journal, log) = (Journal::new(), Log::default());
    let conclusion = Runner::new()
        .suites([logged_suite("unstartable", &journal, &log, true)])
        .args(args(&reports))
        .handle_signals(false)
        .report_dir(&reports)
        .run()
        .expect("a valid suite");
    assert_eq!((conclusion.num_passed, conclusion.num_failed), (0, 2));
    assert_eq!(
        log.lines(),
        ["before_start: server idle", "after_stop: server failed"]
    );
    let report = read_report(&reports, "unstartable");
    assert_eq!(
        outcomes(&report),
        [("first", Outcome::NotRun), ("second", Outcome::NotRun)]
    );
}

#[test]
fn a_failing_teardown_hook_fails_the_last_case_run_and_the_report() {
    let reports = report_dir("teardown-hook");
    let suite = Suite::new("busy", || Environment::builder("busy").build())
        .case("a", |_env| async { Ok(()) })
        .case("b", |_env| async { Ok(()) })
        .before_stop(|_env| async { Err("still busy".into()) });
    let conclusion = Runner::new()
        .suites([suite])
        .args(args(&reports))
        .handle_signals(false)
        .report_dir(&reports)
        .run()
        .expect("a valid suite");
    assert_eq!((conclusion.num_passed, conclusion.num_failed), (1, 1));
    let log = std::fs::read_to_string(reports.join("libtest.log")).expect("the libtest log");
    assert!(
        log.contains("the case passed, but the teardown of suite `busy` after it failed:\nthe before_stop hook of suite `busy` failed: still busy"),
        "{log}"
    );
    let report = read_report(&reports, "busy");
    assert_eq!(report.outcome, Outcome::Failed);
    assert_eq!(
        report.errors,
        ["the before_stop hook of suite `busy` failed: still busy"]
    );
}

/// Makes driver `name` of `env` die, as its process or listener would.
fn kill(env: &Environment, name: &str, reason: &str) -> Result<(), testrig::Error> {
    assert!(
        env.get::<ScriptedDriver>(name)?.die(reason),
        "{name} was not supervised"
    );
    Ok(())
}

#[test]
fn a_driver_that_dies_in_a_case_fails_that_case_only_unless_the_case_expected_it() {
    let reports = report_dir("dead-driver");
    let suite = Suite::new("dying", || {
        Environment::builder("dying")
            .driver(ScriptedDriver::new("server").listen())
            .build()
    })
    .case("kills_the_server", |env| async move {
        Ok(kill(&env, "server", "listener closed")?)
    })
    .case("finds_it_dead", |env| async move {
        // Already failed before this case: not this case's failure.
        assert_eq!(env.resource("server")?.status(), Status::Failed);
        Ok(())
    })
    .case("kills_it_on_purpose", |env| async move {
        env.resource("server")?.restart().await?;
        env.expect_failure("server")?;
        Ok(kill(&env, "server", "fault injected")?)
    })
    .case("kills_it_again", |env| async move {
        // The expectation of the case before ended with it.
        env.resource("server")?.restart().await?;
        Ok(kill(&env, "server", "died again")?)
    });
    let conclusion = Runner::new()
        .suites([suite])
        .args(args(&reports))
        .handle_signals(false)
        .report_dir(&reports)
        .run()
        .expect("a valid suite");
    assert_eq!((conclusion.num_passed, conclusion.num_failed), (2, 2));
    let report = read_report(&reports, "dying");
    assert_eq!(
        outcomes(&report),
        [
            ("kills_the_server", Outcome::Failed),
            ("finds_it_dead", Outcome::Passed),
            ("kills_it_on_purpose", Outcome::Passed),
            ("kills_it_again", Outcome::Failed),
        ]
    );
    let first = report.cases[0].message.as_deref().unwrap_or_default();
    assert!(
        first.starts_with(
            "environment `dying`: the test returned Ok, but driver `server` failed while it ran \
             and was still failed when it ended:\n- driver `server` died while started: listener closed"
        ),
        "{first}"
    );
    let last = report.cases[3].message.as_deref().unwrap_or_default();
    assert!(last.contains("died while started: died again"), "{last}");
    let log = std::fs::read_to_string(reports.join("libtest.log")).expect("the libtest log");
    assert!(log.contains("failed while it ran"), "{log}");
}

#[test]
fn an_environment_that_does_not_build_fails_its_cases_with_the_build_error() {
    let reports = report_dir("no-build");
    let suite = Suite::new("unbuildable", || {
        Environment::builder("unbuildable")
            .driver(ScriptedDriver::new("client"))
            .depends_on("client", "nobody")
            .build()
    })
    .case("a", |_env| async { Ok(()) });
    let conclusion = Runner::new()
        .suites([suite])
        .args(args(&reports))
        .handle_signals(false)
        .run()
        .expect("a valid suite");
    assert_eq!(conclusion.num_failed, 1);
    let log = std::fs::read_to_string(reports.join("libtest.log")).expect("the libtest log");
    assert!(
        log.contains("not run: the environment of suite `unbuildable` could not be built: environment `unbuildable`: driver `client` depends on unknown driver `nobody`"),
        "{log}"
    );
}

#[test]
fn a_panicking_environment_factory_fails_the_cases_with_its_message() {
    let reports = report_dir("factory-panics");
    let suite = Suite::new("panicky", || -> testrig::Result<Environment> {
        panic!("no config file")
    })
    .case("a", |_env| async { Ok(()) })
    .case("b", |_env| async { Ok(()) });
    let conclusion = Runner::new()
        .suites([suite])
        .args(args(&reports))
        .handle_signals(false)
        .run()
        .expect("a valid suite");
    assert_eq!(conclusion.num_failed, 2);
    let log = std::fs::read_to_string(reports.join("libtest.log")).expect("the libtest log");
    let message = "not run: building the environment of suite `panicky` panicked: no config file";
    assert_eq!(log.matches(message).count(), 2, "{log}");
}

#[test]
fn two_suites_with_one_name_are_refused_before_anything_runs() {
    let empty = || Suite::new("twice", || Environment::builder("twice").build());
    let refused = Runner::new()
        .suites([empty(), empty()])
        .args(Arguments::from_iter(["suite", "--list"]))
        .run();
    assert_eq!(
        refused.unwrap_err(),
        BuildError::DuplicateSuite {
            name: "twice".to_owned()
        }
    );
}

#[tokio::test]
async fn a_runner_called_inside_a_runtime_runs_its_suites_on_a_thread_of_its_own() {
    let reports = report_dir("inside-runtime");
    let suite = Suite::new("nested", || {
        Environment::builder("nested")
            .driver(ScriptedDriver::new("server").listen())
            .build()
    })
    .case("sees_the_server", |env| async move {
        assert_eq!(env.resource("server")?.status(), Status::Started);
        let port = env
            .get::<ScriptedDriver>("server")?
            .port()
            .expect("listening");
        tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        Ok(())
    });
    let conclusion = Runner::new()
        .suites([suite])
        .args(args(&reports))
        .handle_signals(false)
        .run()
        .expect("a valid suite");
    assert_eq!((conclusion.num_passed, conclusion.num_failed), (1, 0));
}
