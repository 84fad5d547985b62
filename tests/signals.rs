//! SIGINT/SIGTERM stop an environment cleanly. Its own binary: signal handlers
//! are process-wide.

use std::time::Duration;

use testrig::testing::{Event, Journal, ScriptedDriver};
use testrig::{Environment, Error, Status};

#[tokio::test]
async fn sigterm_during_the_body_tears_the_environment_down() {
    let journal = Journal::new();
    let env = Environment::builder("signalled")
        .driver(ScriptedDriver::new("server").listen().journal(&journal))
        .handle_signals()
        .build()
        .unwrap();
    let error = env
        .run(|_env| async move {
            // SAFETY: kill(2) on our own pid with a valid signal number has no
            // memory-safety preconditions.
            let rc = unsafe { libc::kill(libc::getpid(), libc::SIGTERM) };
            assert_eq!(rc, 0);
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok::<_, Error>(())
        })
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "environment `signalled` was interrupted by SIGTERM"
    );
    assert_eq!(env.status("server").unwrap(), Status::Stopped);
    assert_eq!(journal.count("server", Event::StopDone), 1);
}
