use testrig::testing::{Event, Journal, ScriptedDriver};
use testrig::{DriverSpec, Environment, Error, LifecycleError, Phase, Ref, Status};

use crate::support::{ms, refused, start_error};

/// `a` ← `b` (fails in `phase`) ← `c`, and an independent slow `d` still
/// starting when `b` fails.
async fn one_failure_in(phase: Phase) -> (Environment, Journal, Error) {
    let journal = Journal::new();
    let env = Environment::builder("failing")
        .driver(ScriptedDriver::new("a").listen().journal(&journal))
        .driver(
            ScriptedDriver::new("b")
                .listen()
                .fail_in(phase)
                .journal(&journal),
        )
        .driver(ScriptedDriver::new("c").journal(&journal))
        .driver(
            ScriptedDriver::new("d")
                .listen()
                .start_delay(ms(150))
                .journal(&journal),
        )
        .depends_on("b", "a")
        .depends_on("c", "b")
        .build()
        .unwrap();
    let error = env.start().await.unwrap_err();
    (env, journal, error)
}

fn statuses(env: &Environment) -> Vec<(String, Status)> {
    env.resources()
        .iter()
        .map(|r| (r.name().to_owned(), r.status()))
        .collect()
}

async fn assert_everything_started_was_stopped(env: &Environment, journal: &Journal) {
    for name in ["a", "b", "d"] {
        let driver = env.get::<ScriptedDriver>(name).unwrap();
        assert!(!driver.holds_sockets(), "{name} still holds sockets");
        assert!(
            journal.count(name, Event::StopCalled) >= 1,
            "{name} was never stopped"
        );
    }
    assert_eq!(journal.count("c", Event::StartCalled), 0);
    // `a` listened on a real port; nothing listens there now.
    let a_port = env.resource("a").unwrap().report().exports["port"].to_string();
    assert!(refused(a_port.parse().unwrap()).await);
}

#[tokio::test]
async fn a_failure_in_start_stops_everything_started_and_skips_dependents() {
    let (env, journal, error) = one_failure_in(Phase::Start).await;
    let text = error.to_string();
    let error = start_error(error);
    assert_eq!(error.failures.len(), 1);
    assert_eq!(error.failures[0].driver(), "b");
    assert_eq!(error.skipped, ["c"]);
    assert!(
        text.contains("driver `b` failed in start: scripted failure in start"),
        "{text}"
    );
    assert!(text.contains("skipped (not started): c"), "{text}");
    assert!(
        text.contains("| b: scripted failure in start"),
        "log tail missing: {text}"
    );
    assert_eq!(
        statuses(&env),
        [
            ("a".into(), Status::Stopped),
            ("b".into(), Status::Failed),
            ("c".into(), Status::Idle),
            ("d".into(), Status::Stopped),
        ]
    );
    // The in-flight start of `d` finished before the teardown.
    assert!(
        journal.time_of("d", Event::Ready).unwrap()
            <= journal.time_of("d", Event::StopCalled).unwrap()
    );
    assert_everything_started_was_stopped(&env, &journal).await;
}

#[tokio::test]
async fn a_failure_in_readiness_stops_everything_started_and_skips_dependents() {
    let (env, journal, error) = one_failure_in(Phase::Ready).await;
    let text = error.to_string();
    let error = start_error(error);
    assert_eq!(error.failures[0].driver(), "b");
    assert!(matches!(
        error.failures[0],
        LifecycleError::StartFailed {
            phase: Phase::Ready,
            ..
        }
    ));
    assert!(
        text.contains("driver `b` failed in readiness: scripted failure in readiness"),
        "{text}"
    );
    assert_eq!(error.skipped, ["c"]);
    assert_eq!(env.resource("b").unwrap().status(), Status::Failed);
    assert_eq!(env.resource("a").unwrap().status(), Status::Stopped);
    assert_eq!(env.resource("d").unwrap().status(), Status::Stopped);
    assert_everything_started_was_stopped(&env, &journal).await;
}

#[tokio::test]
async fn a_failure_in_stop_aborts_that_driver_and_stops_the_rest() {
    let journal = Journal::new();
    let env = Environment::builder("bad-stop")
        .driver(ScriptedDriver::new("a").journal(&journal))
        .driver(
            ScriptedDriver::new("b")
                .fail_in(Phase::Stop)
                .journal(&journal),
        )
        .driver(ScriptedDriver::new("c").journal(&journal))
        .depends_on("b", "a")
        .build()
        .unwrap();
    env.start().await.unwrap();
    let error = env.stop().await.unwrap_err();
    let text = error.to_string();
    assert!(
        text.starts_with("environment `bad-stop`: 1 driver(s) did not stop cleanly"),
        "{text}"
    );
    assert!(
        text.contains("driver `b` failed in stop: scripted failure in stop"),
        "{text}"
    );
    assert_eq!(env.resource("a").unwrap().status(), Status::Stopped);
    assert_eq!(env.resource("b").unwrap().status(), Status::Failed);
    assert_eq!(env.resource("c").unwrap().status(), Status::Stopped);
    assert_eq!(journal.count("b", Event::Aborted), 1);
    // Its dependency still stopped, after it.
    assert!(
        journal.time_of("a", Event::StopCalled).unwrap()
            >= journal.time_of("b", Event::Aborted).unwrap()
    );
    // The failure is in the report.
    let report = env.report();
    let b = report.drivers.iter().find(|d| d.name == "b").unwrap();
    assert_eq!(b.errors[0].phase, Phase::Stop);
}

#[tokio::test]
async fn two_independent_failures_are_both_reported() {
    let env = Environment::builder("two")
        .driver(ScriptedDriver::new("x").fail_in(Phase::Start))
        .driver(
            ScriptedDriver::new("y")
                .start_delay(ms(20))
                .fail_in(Phase::Ready),
        )
        .driver(ScriptedDriver::new("z"))
        .build()
        .unwrap();
    let error = start_error(env.start().await.unwrap_err());
    let mut failed: Vec<&str> = error.failures.iter().map(|f| f.driver()).collect();
    failed.sort();
    assert_eq!(failed, ["x", "y"]);
    assert!(error.to_string().contains("2 driver(s) failed"));
    assert_eq!(env.resource("z").unwrap().status(), Status::Stopped);
}

#[tokio::test(start_paused = true)]
async fn a_readiness_after_the_deadline_is_a_failure_not_a_late_success() {
    let journal = Journal::new();
    let env = Environment::builder("late")
        .driver(
            DriverSpec::new(
                ScriptedDriver::new("late")
                    .ready_delay(ms(500))
                    .journal(&journal),
            )
            .start_timeout(ms(100)),
        )
        .build()
        .unwrap();
    let error = start_error(env.start().await.unwrap_err());
    assert!(matches!(
        error.failures[0],
        LifecycleError::StartTimeout { .. }
    ));
    assert_eq!(
        error.failures[0].to_string().lines().next().unwrap(),
        "driver `late` timed out after 100ms waiting for scripted readiness (500ms)"
    );
    tokio::time::sleep(ms(1000)).await;
    assert_eq!(env.resource("late").unwrap().status(), Status::Failed);
    assert_eq!(journal.count("late", Event::Ready), 0);
}

#[tokio::test(start_paused = true)]
async fn a_stop_that_overruns_its_timeout_is_aborted_and_recorded() {
    let journal = Journal::new();
    let env = Environment::builder("overrun")
        .driver(
            DriverSpec::new(
                ScriptedDriver::new("slow")
                    .stop_delay(ms(5000))
                    .journal(&journal),
            )
            .stop_timeout(ms(50)),
        )
        .build()
        .unwrap();
    env.start().await.unwrap();
    let error = env.stop().await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("driver `slow` did not stop within 50ms and was aborted"),
        "{error}"
    );
    assert_eq!(journal.count("slow", Event::Aborted), 1);
    assert_eq!(env.resource("slow").unwrap().status(), Status::Failed);
    let recorded = env.resource("slow").unwrap().report().errors;
    assert_eq!(recorded[0].phase, Phase::Stop);
}

#[tokio::test]
async fn a_failure_in_a_second_start_lists_the_dependents_stopped_by_the_first_as_skipped() {
    // `a` connects to a port the test listens on: its first start succeeds,
    // and once the listener is gone its second start is refused.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let env = Environment::builder("second-start")
        .driver(ScriptedDriver::new("a").connect_to(port).export("k", 1))
        .driver(ScriptedDriver::new("b").needs(Ref::export("a", "k")))
        .build()
        .unwrap();
    env.start().await.unwrap();
    env.stop().await.unwrap();
    assert_eq!(env.resource("b").unwrap().status(), Status::Stopped);
    // The port stays taken, by a socket bound and never listening: neither a parallel
    // test's listener nor a connect from the port to itself (TCP's simultaneous open, which
    // a free port in the ephemeral range allows) can let the second start through.
    drop(listener);
    let held = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    held.set_reuse_address(true).unwrap();
    held.bind(&std::net::SocketAddr::from(([127, 0, 0, 1], port)).into())
        .unwrap();

    let error = start_error(env.start().await.unwrap_err());
    assert_eq!(error.failures.len(), 1);
    assert_eq!(error.failures[0].driver(), "a");
    assert_eq!(error.skipped, ["b"]);
    assert_eq!(env.resource("b").unwrap().status(), Status::Stopped);
    drop(held);
}
