//! Suites that fail on purpose, to show (and test, from `tests/suite_runner.rs`)
//! what a failing case, a failing environment start and a failing hook look
//! like. The failing cases are ignored, so a plain `cargo test` passes; run
//! them with:
//!
//! ```text
//! cargo test --test sample_suite_failing -- --ignored --skip interrupted::
//! cargo nextest run --test sample_suite_failing --run-ignored all -E 'not test(interrupted::)'
//! ```
//!
//! (`interrupted::waits_for_a_signal` waits for SIGINT or SIGTERM; send one to
//! see the environment torn down.)

use std::process::ExitCode;
use std::time::Duration;

use testrig::suite::{Case, Suite, run_suites};
use testrig::{Environment, Ref};
use testrig_drivers::tcp::{TcpClient, TcpServer};

const WAIT: Duration = Duration::from_secs(2);

fn main() -> ExitCode {
    run_suites([failing(), broken_start(), failing_hook(), interrupted()])
}

fn echo_environment(name: &str) -> testrig::Result<Environment> {
    Ok(Environment::builder(name)
        .driver(TcpServer::new("server"))
        .driver(TcpClient::new("client", Ref::export("server", "port")))
        .build()?)
}

/// One case passes, the others fail in each way a case can.
fn failing() -> Suite {
    Suite::new("failing", || echo_environment("failing"))
        .after_start(|env| async move {
            env.get::<TcpServer>("server")?
                .accept_connection(WAIT)
                .await?;
            Ok(())
        })
        .case("passes", |env| async move {
            let server = env.get::<TcpServer>("server")?;
            env.get::<TcpClient>("client")?.send(b"ping").await?;
            let conn = latest_connection(&server);
            assert_eq!(server.receive_exact(conn, 4, WAIT).await?, b"ping");
            Ok(())
        })
        .add_case(
            Case::new("panics_on_a_wrong_reply", |env| async move {
                let server = env.get::<TcpServer>("server")?;
                env.get::<TcpClient>("client")?.send(b"ping").await?;
                let conn = latest_connection(&server);
                let got = server.receive_exact(conn, 4, WAIT).await?;
                assert_eq!(got, b"pong", "the client sent the wrong word");
                Ok(())
            })
            .ignored(),
        )
        .add_case(
            Case::new("returns_an_error", |env| async move {
                // Nothing was sent: the receive times out, and its error fails the case.
                let server = env.get::<TcpServer>("server")?;
                let conn = latest_connection(&server);
                server
                    .receive_exact(conn, 4, Duration::from_millis(50))
                    .await?;
                Ok(())
            })
            .ignored(),
        )
        .add_case(
            Case::new("outlives_its_timeout", |env| async move {
                // No second client ever connects: the case timeout cancels the wait.
                let server = env.get::<TcpServer>("server")?;
                server.accept_connection(Duration::from_secs(30)).await?;
                Ok(())
            })
            .timeout(Duration::from_millis(200))
            .ignored(),
        )
}

/// The second server binds the first one's port: the environment cannot
/// start, so no case runs, and the first server is stopped again.
fn broken_start() -> Suite {
    Suite::new("broken_start", || {
        Environment::builder("broken_start")
            .driver(TcpServer::new("first"))
            .driver(TcpServer::new("second").listen(Ref::export("first", "port")))
            .build()
    })
    .add_case(Case::new("never_runs", |_env| async { Ok(()) }).ignored())
    .add_case(Case::new("never_runs_either", |_env| async { Ok(()) }).ignored())
}

/// The `after_start` hook asserts something false: the cases do not run and
/// the started environment is stopped.
fn failing_hook() -> Suite {
    Suite::new("failing_hook", || echo_environment("failing_hook"))
        .after_start(|env| async move {
            let server = env.get::<TcpServer>("server")?;
            assert_eq!(server.connection_count(), 2, "expected two clients");
            Ok(())
        })
        .add_case(Case::new("never_runs", |_env| async { Ok(()) }).ignored())
}

/// The case waits until a signal cancels it; the environment is then torn down
/// and the run fails.
fn interrupted() -> Suite {
    Suite::new("interrupted", || echo_environment("interrupted")).add_case(
        Case::new("waits_for_a_signal", |env| async move {
            let server = env.get::<TcpServer>("server")?;
            server.accept_connection(WAIT).await?; // the client's
            println!("waiting for a signal");
            // No second client ever connects.
            server.accept_connection(Duration::from_secs(30)).await?;
            Ok(())
        })
        .ignored(),
    )
}

/// The index of the newest connection the server accepted (`after_start` made it).
fn latest_connection(server: &TcpServer) -> usize {
    let accepted = server.connection_count();
    accepted.checked_sub(1).expect("accepted by after_start")
}
