use std::sync::{Arc, Mutex};

use testrig::testing::{Event, Journal, ScriptedDriver, resource};
use testrig::{BoxError, DriverSpec, Environment, Error, LifecycleError, Phase, Status};

use crate::support::ms;

#[tokio::test]
async fn start_after_abort_is_refused() {
    let resource = resource(DriverSpec::new(ScriptedDriver::new("a")));
    resource.start().await.unwrap();
    resource.abort();
    assert_eq!(resource.status(), Status::Aborted);
    let error = resource.start().await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "driver `a`: illegal status change aborted -> starting"
    );
}

#[tokio::test]
async fn stop_of_an_idle_driver_is_a_no_op() {
    let journal = Journal::new();
    let resource = resource(DriverSpec::new(ScriptedDriver::new("a").journal(&journal)));
    resource.stop().await.unwrap();
    assert_eq!(resource.status(), Status::Idle);
    assert!(resource.report().transitions.is_empty());
    assert_eq!(journal.count("a", Event::StopCalled), 0);
}

#[tokio::test]
async fn starting_a_started_driver_is_an_illegal_transition() {
    let resource = resource(DriverSpec::new(ScriptedDriver::new("a")));
    resource.start().await.unwrap();
    let error = resource.start().await.unwrap_err();
    assert!(matches!(
        error,
        LifecycleError::IllegalTransition {
            from: Status::Started,
            to: Status::Starting,
            ..
        }
    ));
    resource.stop().await.unwrap();
}

#[tokio::test]
async fn restart_goes_through_stopped_and_gets_a_new_port() {
    let resource = resource(DriverSpec::new(ScriptedDriver::new("s").listen()));
    resource.start().await.unwrap();
    resource.restart().await.unwrap();
    let path: Vec<(Status, Status)> = resource
        .report()
        .transitions
        .iter()
        .map(|t| (t.from, t.to))
        .collect();
    assert_eq!(
        path,
        [
            (Status::Idle, Status::Starting),
            (Status::Starting, Status::Started),
            (Status::Started, Status::Stopping),
            (Status::Stopping, Status::Stopped),
            (Status::Stopped, Status::Starting),
            (Status::Starting, Status::Started),
        ]
    );
    assert_eq!(
        resource.report().transitions[2].note.as_deref(),
        Some("restart")
    );
    assert!(
        resource
            .driver()
            .downcast::<ScriptedDriver>()
            .unwrap()
            .port()
            .is_some()
    );
    resource.stop().await.unwrap();
}

#[tokio::test]
async fn pause_of_a_driver_without_pause_is_unsupported_and_changes_nothing() {
    let resource = resource(DriverSpec::new(ScriptedDriver::new("a")));
    resource.start().await.unwrap();
    let error = resource.pause().await.unwrap_err();
    assert_eq!(error.to_string(), "driver `a` does not support pause");
    assert_eq!(resource.status(), Status::Started);
    resource.stop().await.unwrap();
}

#[tokio::test]
async fn a_driver_that_dies_while_started_becomes_failed_and_the_environment_sees_it() {
    let env = Environment::builder("dies")
        .driver(ScriptedDriver::new("server").listen())
        .driver(ScriptedDriver::new("other"))
        .build()
        .unwrap();
    env.start().await.unwrap();
    let server = env.get::<ScriptedDriver>("server").unwrap();
    let watcher = {
        let env = env.clone();
        tokio::spawn(async move {
            env.wait_for_failure(std::time::Duration::from_secs(5))
                .await
        })
    };
    tokio::task::yield_now().await;
    assert!(server.die("listener closed"));
    assert_eq!(watcher.await.unwrap().as_deref(), Some("server"));
    assert_eq!(env.failed(), ["server"]);
    let report = env.report();
    let entry = report.drivers.iter().find(|d| d.name == "server").unwrap();
    assert_eq!(entry.status, Status::Failed);
    assert!(
        entry.errors[0]
            .message
            .starts_with("driver `server` died while started: listener closed")
    );
    env.stop().await.unwrap();
    assert_eq!(env.resource("other").unwrap().status(), Status::Stopped);
}

#[tokio::test]
async fn a_death_reported_by_an_earlier_run_is_ignored_after_a_restart() {
    let resource = resource(DriverSpec::new(ScriptedDriver::new("s")));
    resource.start().await.unwrap();
    let driver = resource.driver().downcast::<ScriptedDriver>().unwrap();
    let first_run = driver
        .supervisor()
        .expect("a started driver keeps its supervisor");
    resource.restart().await.unwrap();
    assert!(!first_run.died("stale"));
    assert_eq!(resource.status(), Status::Started);
    assert!(driver.die("current"));
    assert_eq!(resource.status(), Status::Failed);
}

#[tokio::test]
async fn hooks_run_in_order_and_a_failing_post_start_hook_fails_the_start() {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let hook = |label: &'static str| {
        let calls = calls.clone();
        move |driver: Arc<dyn testrig::Driver>| {
            let calls = calls.clone();
            async move {
                calls
                    .lock()
                    .unwrap()
                    .push(format!("{label} {}", driver.name()));
                assert!(driver.clone().downcast::<ScriptedDriver>().is_some());
                Ok::<_, BoxError>(())
            }
        }
    };
    let spec = DriverSpec::new(ScriptedDriver::new("h"))
        .pre_start(hook("pre_start"))
        .post_start(hook("post_start"))
        .pre_stop(hook("pre_stop"))
        .post_stop(hook("post_stop"));
    let resource = resource(spec);
    resource.start().await.unwrap();
    resource.stop().await.unwrap();
    assert_eq!(
        *calls.lock().unwrap(),
        ["pre_start h", "post_start h", "pre_stop h", "post_stop h"]
    );

    let journal = Journal::new();
    let failing = testrig::testing::resource(
        DriverSpec::new(ScriptedDriver::new("f").listen().journal(&journal))
            .post_start(|_| async { Err::<(), _>("handshake refused") }),
    );
    let error = failing.start().await.unwrap_err();
    // What failed, then why (the hook's error, as the error's source).
    assert_eq!(error.to_string(), "driver `f` failed in post-start hook");
    assert_eq!(
        std::error::Error::source(&error).unwrap().to_string(),
        "handshake refused"
    );
    assert_eq!(failing.status(), Status::Failed);
    assert!(
        !failing
            .driver()
            .downcast::<ScriptedDriver>()
            .unwrap()
            .holds_sockets()
    );
}

#[tokio::test]
async fn a_failed_start_fails_over_to_the_replacement_under_the_same_name() {
    let journal = Journal::new();
    let replacement_journal = journal.clone();
    let env = Environment::builder("failover")
        .driver(
            DriverSpec::new(
                ScriptedDriver::new("primary")
                    .listen()
                    .fail_in(Phase::Start)
                    .journal(&journal),
            )
            .failover(move || {
                Box::new(
                    ScriptedDriver::new("primary")
                        .listen()
                        .journal(&replacement_journal),
                )
            }),
        )
        .driver(ScriptedDriver::new("client").connect_to(testrig::Ref::export("primary", "port")))
        .build()
        .unwrap();
    env.run(|env| async move {
        let primary = env.get::<ScriptedDriver>("primary")?;
        let client = env.get::<ScriptedDriver>("client")?;
        assert_eq!(client.connected_port(), primary.port());
        let history = env.resource("primary")?.report().transitions;
        let statuses: Vec<Status> = history.iter().map(|t| t.to).collect();
        assert_eq!(
            statuses,
            [
                Status::Starting,
                Status::Failed,
                Status::Starting,
                Status::Started
            ]
        );
        assert!(
            history[2].note.as_deref().unwrap().starts_with(
                "failover to a ScriptedDriver after: driver `primary` failed in start"
            )
        );
        Ok::<_, Error>(())
    })
    .await
    .unwrap();
    assert_eq!(journal.count("primary", Event::StartCalled), 2);
}

#[tokio::test]
async fn wait_for_a_status_is_woken_by_the_change() {
    let resource = resource(DriverSpec::new(
        ScriptedDriver::new("w").start_delay(ms(50)),
    ));
    let starter = {
        let resource = resource.clone();
        tokio::spawn(async move { resource.start().await })
    };
    resource.wait(Status::Started, ms(2000)).await.unwrap();
    starter.await.unwrap().unwrap();
    resource.stop().await.unwrap();
}

#[tokio::test]
async fn pause_and_resume_move_between_started_and_paused() {
    let journal = Journal::new();
    let env = Environment::builder("pausing")
        .driver(ScriptedDriver::new("p").pausable().journal(&journal))
        .build()
        .unwrap();
    env.start().await.unwrap();
    env.resource("p").unwrap().pause().await.unwrap();
    assert_eq!(env.resource("p").unwrap().status(), Status::Paused);
    let error = env.resource("p").unwrap().pause().await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "driver `p`: illegal status change paused -> paused"
    );
    env.resource("p").unwrap().resume().await.unwrap();
    assert_eq!(env.resource("p").unwrap().status(), Status::Started);
    env.resource("p").unwrap().pause().await.unwrap();
    env.stop().await.unwrap();
    assert_eq!(env.resource("p").unwrap().status(), Status::Stopped);
    assert_eq!(journal.count("p", Event::Paused), 2);
    assert_eq!(journal.count("p", Event::Resumed), 1);
}

#[tokio::test]
async fn each_driver_gets_its_own_runpath_under_the_environments() {
    let root = std::env::temp_dir().join(format!("testrig-runpath-{}", std::process::id()));
    let env = Environment::builder("paths")
        .driver(ScriptedDriver::new("one").writes_files())
        .driver(ScriptedDriver::new("two").writes_files())
        .runpath(&root)
        .build()
        .unwrap();
    env.start().await.unwrap();
    for name in ["one", "two"] {
        let path = env.resource(name).unwrap().report().runpath;
        assert_eq!(path, root.join(name));
        assert_eq!(
            std::fs::read_to_string(path.join("started")).unwrap(),
            "started\n"
        );
    }
    env.stop().await.unwrap();
    std::fs::remove_dir_all(&root).unwrap();
}

#[tokio::test]
async fn a_driver_that_writes_no_files_gets_no_runpath_directory() {
    let root = std::env::temp_dir().join(format!("testrig-no-runpath-{}", std::process::id()));
    let env = Environment::builder("no-files")
        .driver(ScriptedDriver::new("quiet"))
        .runpath(&root)
        .build()
        .unwrap();
    env.start().await.unwrap();
    assert!(
        !root.exists(),
        "nothing asked for a directory, so none was made: {}",
        root.display()
    );
    env.stop().await.unwrap();
}

#[tokio::test]
async fn a_death_reported_while_starting_fails_the_start_instead_of_being_lost() {
    // `ready` of the scripted driver takes 100 ms; the death comes during it.
    let resource = resource(DriverSpec::new(
        ScriptedDriver::new("d").ready_delay(ms(100)),
    ));
    let starting = {
        let resource = resource.clone();
        tokio::spawn(async move { resource.start().await })
    };
    resource.wait(Status::Starting, ms(1000)).await.unwrap();
    let driver = resource.driver().downcast::<ScriptedDriver>().unwrap();
    // The supervisor is handed out at the top of `start`; wait until it is there.
    let supervisor = loop {
        if let Some(s) = driver.supervisor() {
            break s;
        }
        tokio::task::yield_now().await;
    };
    assert!(supervisor.died("exited right after its ready line"));
    let error = starting.await.unwrap().unwrap_err();
    assert!(
        error.to_string().starts_with(
            "driver `d` died while starting, after it was ready: exited right after its ready line"
        ),
        "{error}"
    );
    assert_eq!(resource.status(), Status::Failed);
}
