//! The verdict of `run` when drivers die while the body runs: a dead driver
//! fails a body that returned `Ok`, unless the test restored it or declared it
//! expected.

use std::time::Duration;

use testrig::process::Stream;
use testrig::report::Outcome;
use testrig::testing::{Event, Journal, ProcessTracker, ScratchDir, ScriptedDriver};
use testrig::{Environment, Error, Phase, Status};
use testrig_drivers::app::App;

use crate::support::refused;

const T: Duration = Duration::from_secs(5);

/// A listening `server` and a `client` connected to it.
fn server_and_client(journal: &Journal) -> Environment {
    Environment::builder("dead")
        .driver(ScriptedDriver::new("server").listen().journal(journal))
        .driver(
            ScriptedDriver::new("client")
                .connect_to(testrig::Ref::export("server", "port"))
                .journal(journal),
        )
        .build()
        .unwrap()
}

/// Makes `name` die while started, as its process or listener would.
fn kill(env: &Environment, name: &str, reason: &str) {
    let driver = env.get::<ScriptedDriver>(name).unwrap();
    assert!(driver.die(reason), "{name} was not supervised");
    assert_eq!(env.resource(name).unwrap().status(), Status::Failed);
}

/// The failed drivers of a `DriversFailed` error, or a panic saying what it was.
fn dead_drivers(error: &Error) -> Vec<(&str, &str)> {
    match error {
        Error::DriversFailed { drivers, .. } => drivers
            .iter()
            .map(|d| (d.driver.as_str(), d.error.as_str()))
            .collect(),
        other => panic!("expected DriversFailed, got: {other}"),
    }
}

#[tokio::test]
async fn a_driver_that_dies_while_the_body_runs_fails_a_run_whose_body_returned_ok() {
    let journal = Journal::new();
    let env = server_and_client(&journal);
    let error = env
        .run(|env| async move {
            kill(&env, "server", "listener closed");
            Ok::<_, Error>(())
        })
        .await
        .unwrap_err();
    let dead = dead_drivers(&error);
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].0, "server");
    assert!(
        dead[0]
            .1
            .starts_with("driver `server` died while started: listener closed"),
        "{}",
        dead[0].1
    );
    let text = error.to_string();
    assert!(
        text.starts_with(
            "environment `dead`: the test returned Ok, but driver `server` failed while it ran \
             and was still failed when it ended:\n- driver `server` died while started: listener closed"
        ),
        "{text}"
    );
    assert!(text.contains("env.expect_failure(\"<driver>\")"), "{text}");

    let report = env.report();
    assert_eq!(report.outcome, Outcome::Failed);
    assert_eq!(report.cases[0].outcome, Outcome::Failed);
    assert_eq!(report.cases[0].message.as_deref(), Some(text.as_str()));
    // Torn down as always: the client stopped, the dead server released its port.
    assert_eq!(env.resource("client").unwrap().status(), Status::Stopped);
    assert_eq!(env.resource("server").unwrap().status(), Status::Failed);
    assert_eq!(journal.count("client", Event::StopDone), 1);
    let port: u16 = env.resource("server").unwrap().report().exports["port"]
        .to_string()
        .parse()
        .unwrap();
    assert!(refused(port).await);
}

#[tokio::test]
async fn every_driver_still_failed_at_the_end_is_named() {
    let journal = Journal::new();
    let env = server_and_client(&journal);
    let error = env
        .run(|env| async move {
            kill(&env, "client", "connection reset");
            kill(&env, "server", "listener closed");
            Ok::<_, Error>(())
        })
        .await
        .unwrap_err();
    let names: Vec<&str> = dead_drivers(&error).iter().map(|d| d.0).collect();
    assert_eq!(names, ["server", "client"], "in the order they were added");
    let text = error.to_string();
    assert!(
        text.contains("drivers `server`, `client` failed while it ran and were still failed"),
        "{text}"
    );
    assert!(text.contains("connection reset"), "{text}");
}

#[tokio::test]
async fn a_failure_declared_expected_does_not_fail_the_run_but_is_still_reported() {
    let journal = Journal::new();
    let env = server_and_client(&journal);
    env.run(|env| async move {
        env.expect_failure("server")?;
        kill(&env, "server", "killed by the test");
        assert_eq!(env.wait_for_failure(T).await.as_deref(), Some("server"));
        Ok::<_, Error>(())
    })
    .await
    .unwrap();
    let report = env.report();
    assert_eq!(report.outcome, Outcome::Passed);
    assert_eq!(report.cases[0].outcome, Outcome::Passed);
    let server = &report.drivers[0];
    assert_eq!(server.status, Status::Failed);
    assert_eq!(server.errors.len(), 1);
    assert_eq!(server.errors[0].phase, Phase::Run);
}

#[tokio::test]
async fn expecting_one_failure_does_not_excuse_another_driver() {
    let journal = Journal::new();
    let env = server_and_client(&journal);
    let error = env
        .run(|env| async move {
            env.expect_failure("server")?;
            kill(&env, "server", "killed by the test");
            kill(&env, "client", "connection reset");
            Ok::<_, Error>(())
        })
        .await
        .unwrap_err();
    let names: Vec<&str> = dead_drivers(&error).iter().map(|d| d.0).collect();
    assert_eq!(names, ["client"]);
}

#[tokio::test]
async fn a_driver_the_body_restarted_after_it_died_does_not_fail_the_run() {
    let journal = Journal::new();
    let env = server_and_client(&journal);
    env.run(|env| async move {
        kill(&env, "server", "listener closed");
        env.resource("server")?.restart().await?;
        assert_eq!(env.resource("server")?.status(), Status::Started);
        Ok::<_, Error>(())
    })
    .await
    .unwrap();
    assert_eq!(env.report().cases[0].outcome, Outcome::Passed);
    assert_eq!(journal.count("server", Event::StartCalled), 2);
}

#[tokio::test]
async fn an_expected_failure_does_not_carry_over_to_the_next_run() {
    let journal = Journal::new();
    let env = server_and_client(&journal);
    env.run(|env| async move {
        env.expect_failure("server")?;
        kill(&env, "server", "killed on purpose");
        Ok::<_, Error>(())
    })
    .await
    .unwrap();
    // The same environment, run again: the server starts again and dies again.
    let error = env
        .run(|env| async move {
            kill(&env, "server", "died on its own");
            Ok::<_, Error>(())
        })
        .await
        .unwrap_err();
    let dead = dead_drivers(&error);
    assert_eq!(dead.len(), 1);
    assert!(
        dead[0]
            .1
            .starts_with("driver `server` died while started: died on its own"),
        "{}",
        dead[0].1
    );
    let outcomes: Vec<Outcome> = env.report().cases.iter().map(|c| c.outcome).collect();
    assert_eq!(outcomes, [Outcome::Passed, Outcome::Failed]);
}

#[tokio::test]
async fn expecting_the_failure_of_an_unknown_driver_is_an_error() {
    let env = server_and_client(&Journal::new());
    let error = env.expect_failure("nobody").unwrap_err();
    assert_eq!(
        error.to_string(),
        "environment `dead` has no driver named `nobody`"
    );
}

#[tokio::test]
async fn the_body_error_wins_over_a_dead_driver_and_the_report_names_both() {
    let env = server_and_client(&Journal::new());
    let error = env
        .run(|env| async move {
            kill(&env, "server", "listener closed");
            Err::<(), _>(Error::other("no reply from the server"))
        })
        .await
        .unwrap_err();
    assert_eq!(error.to_string(), "no reply from the server");
    let message = env.report().cases[0].message.clone().unwrap();
    assert!(
        message.starts_with(
            "no reply from the server\nmeanwhile, these drivers failed and were still failed \
             at the end:\n- driver `server` died while started: listener closed"
        ),
        "{message}"
    );
}

#[tokio::test]
async fn a_dead_driver_comes_first_and_a_failed_teardown_is_added_to_it() {
    let env = Environment::builder("both")
        .driver(ScriptedDriver::new("server").listen())
        .driver(ScriptedDriver::new("stubborn").fail_in(Phase::Stop))
        .build()
        .unwrap();
    let error = env
        .run(|env| async move {
            kill(&env, "server", "listener closed");
            Ok::<_, Error>(())
        })
        .await
        .unwrap_err();
    let Error::DriversFailed {
        drivers, teardown, ..
    } = &error
    else {
        panic!("expected DriversFailed, got: {error}");
    };
    assert_eq!(drivers.len(), 1);
    assert_eq!(drivers[0].driver, "server");
    assert_eq!(teardown.len(), 1);
    assert_eq!(teardown[0].driver(), "stubborn");
    let text = error.to_string();
    assert!(
        text.contains("\nand the teardown failed too:\n- driver `stubborn` failed in stop"),
        "{text}"
    );
    // The report has both: the failed case and the teardown's error.
    let report = env.report();
    assert_eq!(report.cases[0].outcome, Outcome::Failed);
    assert_eq!(report.errors.len(), 1);
    assert!(report.errors[0].contains("did not stop cleanly"));
}

#[tokio::test]
async fn a_real_process_that_exits_during_the_body_fails_the_run_with_its_exit() {
    let scratch = ScratchDir::new(
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("core"),
        "dead_process",
    );
    let pids = ProcessTracker::new();
    let app = App::shell("app", "echo serving; sleep 0.1; echo bye; exit 3")
        .ready_on(Stream::Stdout, "^serving$");
    let env = Environment::builder("process")
        .runpath(scratch.path())
        .driver(app)
        .build()
        .unwrap();
    let tracked = pids.clone();
    let error = env
        .run(|env| async move {
            tracked.track(
                env.get::<App>("app")?
                    .process()
                    .expect("a started app")
                    .pid(),
            );
            assert_eq!(env.wait_for_failure(T).await.as_deref(), Some("app"));
            Ok::<_, Error>(())
        })
        .await
        .unwrap_err();
    let dead = dead_drivers(&error);
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].0, "app");
    assert!(dead[0].1.contains("died while started"), "{}", dead[0].1);
    assert!(dead[0].1.contains("exited with code 3"), "{}", dead[0].1);
    assert!(dead[0].1.contains("stdout| bye"), "{}", dead[0].1);
    assert_eq!(env.report().cases[0].outcome, Outcome::Failed);
    pids.assert_all_gone(T).await;
}
