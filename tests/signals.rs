//! SIGINT/SIGTERM/SIGHUP stop an environment cleanly. Its own binary: signal handlers
//! are process-wide, and its tests take turns (a signal reaches every listener).

use std::time::Duration;

use testrig::testing::{Event, Journal, ScratchDir, ScriptedDriver};
use testrig::{Environment, Error, Status};

/// Held by each test for its whole run: one signal, one environment.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn send_sigterm_to_self() {
    send_to_self(libc::SIGTERM);
}

fn send_to_self(signal: libc::c_int) {
    // SAFETY: kill(2) on our own pid with a valid signal number has no
    // memory-safety preconditions.
    let rc = unsafe { libc::kill(libc::getpid(), signal) };
    assert_eq!(rc, 0);
}

/// Sends `signal` to this process during the body of a run with `handle_signals`, and
/// checks the environment was torn down and the run says which signal stopped it.
async fn a_signal_during_the_body_tears_down(signal: libc::c_int, name: &str) {
    let _turn = ONE_AT_A_TIME.lock().await;
    let journal = Journal::new();
    let env = Environment::builder("signalled")
        .driver(ScriptedDriver::new("server").listen().journal(&journal))
        .handle_signals()
        .build()
        .unwrap();
    let error = env
        .run(|_env| async move {
            send_to_self(signal);
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok::<_, Error>(())
        })
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("environment `signalled` was interrupted by {name}")
    );
    assert_eq!(env.resource("server").unwrap().status(), Status::Stopped);
    assert_eq!(journal.count("server", Event::StopDone), 1);
}

#[tokio::test]
async fn sigterm_during_the_body_tears_the_environment_down() {
    a_signal_during_the_body_tears_down(libc::SIGTERM, "SIGTERM").await;
}

#[tokio::test]
async fn sighup_the_terminal_closing_tears_the_environment_down_too() {
    a_signal_during_the_body_tears_down(libc::SIGHUP, "SIGHUP").await;
}

/// Runs an environment whose `slow` driver takes an hour to start, sends
/// SIGTERM once `slow` is starting, and returns what `run` returned.
async fn sigterm_while_starting(env: &Environment) -> Error {
    let mut events = env.events();
    let signaller = tokio::spawn(async move {
        while let Ok(event) = events.recv().await {
            if event.driver == "slow" && event.to == Status::Starting {
                send_sigterm_to_self();
                return;
            }
        }
    });
    let outcome = tokio::time::timeout(
        Duration::from_secs(10),
        env.run(|_env| async move { Ok::<_, Error>(()) }),
    )
    .await
    .expect("the signal did not cancel the start");
    signaller.await.unwrap();
    outcome.unwrap_err()
}

#[tokio::test]
async fn sigterm_during_the_start_cancels_it_tears_down_and_writes_the_report() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let scratch = ScratchDir::new(env!("CARGO_TARGET_TMPDIR"), "sigterm_during_the_start");
    let journal = Journal::new();
    let env = Environment::builder("starting")
        .driver(ScriptedDriver::new("fast").listen().journal(&journal))
        .driver(
            ScriptedDriver::new("slow")
                .needs(testrig::Ref::export("fast", "port"))
                .start_delay(Duration::from_secs(3600))
                .journal(&journal),
        )
        .report_dir(scratch.path())
        .handle_signals()
        .build()
        .unwrap();

    // Twice: the second run in the same process must see its signal too.
    for _ in 0..2 {
        let error = sigterm_while_starting(&env).await;
        assert!(
            matches!(&error, Error::Interrupted { environment, signal: "SIGTERM" } if environment == "starting"),
            "{error}"
        );
        assert_eq!(env.resource("fast").unwrap().status(), Status::Stopped);
        // Its start was cancelled midway.
        assert_eq!(env.resource("slow").unwrap().status(), Status::Failed);
        assert!(journal.count("slow", Event::StartDone) == 0);
    }
    assert_eq!(journal.count("fast", Event::StopDone), 2);
    let report = std::fs::read_to_string(scratch.path().join("starting.json")).unwrap();
    assert!(
        report.contains("interrupted by SIGTERM while starting"),
        "{report}"
    );
}
