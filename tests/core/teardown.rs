use std::time::Duration;

use testrig::testing::{Event, Journal, ScriptedDriver};
use testrig::{Environment, Error, Status};

use crate::support::{ms, refused};

fn listening_env(journal: &Journal) -> Environment {
    Environment::builder("teardown")
        .driver(ScriptedDriver::new("server").listen().journal(journal))
        .driver(
            ScriptedDriver::new("client")
                .connect_to(testrig::Ref::export("server", "port"))
                .journal(journal),
        )
        .build()
        .unwrap()
}

#[tokio::test]
async fn teardown_happens_after_a_panicking_body_and_the_panic_goes_on() {
    let journal = Journal::new();
    let env = listening_env(&journal);
    let run = {
        let env = env.clone();
        tokio::spawn(async move {
            env.run(|_env| async move {
                if true {
                    panic!("the body panicked");
                }
                Ok::<_, Error>(())
            })
            .await
        })
    };
    let joined = run.await.unwrap_err();
    assert!(joined.is_panic());
    let payload = joined.into_panic();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"the body panicked"));
    assert_eq!(env.resource("server").unwrap().status(), Status::Stopped);
    assert_eq!(env.resource("client").unwrap().status(), Status::Stopped);
    let port: u16 = env.resource("server").unwrap().report().exports["port"]
        .to_string()
        .parse()
        .unwrap();
    assert!(refused(port).await);
    let report = env.report();
    assert_eq!(
        report.cases[0].message.as_deref(),
        Some("panicked: the body panicked")
    );
}

#[tokio::test]
async fn teardown_happens_after_a_body_timeout() {
    let journal = Journal::new();
    let env = listening_env(&journal);
    let error = env
        .run_with_timeout(ms(100), |_env| async move {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok::<_, Error>(())
        })
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "the test body of environment `teardown` did not finish within 100ms"
    );
    assert_eq!(env.resource("server").unwrap().status(), Status::Stopped);
    assert_eq!(journal.order_of(Event::StopDone), ["client", "server"]);
}

#[tokio::test]
async fn teardown_happens_after_a_body_error_and_the_error_is_returned() {
    let journal = Journal::new();
    let env = listening_env(&journal);
    let error = env
        .run(|_env| async move { Err::<(), _>(Error::other("assertion went wrong")) })
        .await
        .unwrap_err();
    assert_eq!(error.to_string(), "assertion went wrong");
    assert_eq!(journal.count("server", Event::StopDone), 1);
}

#[tokio::test]
async fn dropping_a_started_environment_without_stop_kills_its_drivers() {
    let journal = Journal::new();
    let env = listening_env(&journal);
    env.start().await.unwrap();
    let server = env.get::<ScriptedDriver>("server").unwrap();
    let port = server.port().unwrap();
    assert!(!refused(port).await);
    drop(env);
    assert_eq!(journal.count("server", Event::Aborted), 1);
    assert_eq!(journal.count("client", Event::Aborted), 1);
    assert!(!server.holds_sockets());
    assert!(refused(port).await);
}

#[tokio::test]
async fn dropping_a_stopped_environment_aborts_nothing() {
    let journal = Journal::new();
    let env = listening_env(&journal);
    env.start().await.unwrap();
    env.stop().await.unwrap();
    drop(env);
    assert_eq!(journal.count("server", Event::Aborted), 0);
}
