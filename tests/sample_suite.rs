//! A sample suite: real TCP servers and clients shared by the cases of each
//! suite. It runs under `cargo test` and `cargo nextest run` like any test:
//!
//! ```text
//! cargo test --test sample_suite                    # every case
//! cargo test --test sample_suite -- ping            # the cases whose name contains `ping`
//! cargo test --test sample_suite -- --list          # list them
//! cargo nextest run --test sample_suite             # each case in its own process
//! TESTRIG_REPORT_DIR=target/reports cargo test --test sample_suite   # JSON + JUnit reports
//! ```
//!
//! The environment of a suite starts once, before its first selected case,
//! and stops after its last one. Cases must not depend on each other: under
//! nextest each one gets a fresh environment. The `after_start` hook does the
//! common setup (here: accepting the client's connection) in both modes.

use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use testrig::suite::{Case, Suite, run_suites};
use testrig::{Environment, Ref};
use testrig_drivers::tcp::{TcpClient, TcpServer};

const WAIT: Duration = Duration::from_secs(2);

fn main() -> ExitCode {
    run_suites([echo(), two_clients()])
}

/// A server and a client connected to it.
fn echo() -> Suite {
    Suite::new("echo", || {
        Environment::builder("echo")
            .driver(TcpServer::new("server"))
            .driver(TcpClient::new("client", Ref::export("server", "port")))
            .build()
    })
    .timeout(Duration::from_secs(10))
    .after_start(|env| async move {
        // The client connected during its start; take the connection on the server side.
        let server = env.get::<TcpServer>("server")?;
        server.accept_connection(WAIT).await?;
        assert!(env.get::<TcpClient>("client")?.is_connected());
        Ok(())
    })
    .case("ping_pong", |env| async move {
        let (server, client) = (
            env.get::<TcpServer>("server")?,
            env.get::<TcpClient>("client")?,
        );
        let conn = latest_connection(&server);
        client.send(b"ping").await?;
        assert_eq!(server.receive_exact(conn, 4, WAIT).await?, b"ping");
        server.send(conn, b"pong").await?;
        assert_eq!(client.receive_exact(4, WAIT).await?, b"pong");
        Ok(())
    })
    .case("lines_arrive_one_by_one", |env| async move {
        let (server, client) = (
            env.get::<TcpServer>("server")?,
            env.get::<TcpClient>("client")?,
        );
        let conn = latest_connection(&server);
        client.send(b"hello\nworld\n").await?;
        assert_eq!(server.receive_line(conn, WAIT).await?, "hello");
        assert_eq!(server.receive_line(conn, WAIT).await?, "world");
        Ok(())
    })
    .add_case(
        Case::new("a_late_reply_within_the_case_timeout", |env| async move {
            let (server, client) = (
                env.get::<TcpServer>("server")?,
                env.get::<TcpClient>("client")?,
            );
            let conn = latest_connection(&server);
            let reply = tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                server.send(conn, b"late").await
            });
            assert_eq!(client.receive_exact(4, WAIT).await?, b"late");
            reply.await.expect("the reply task")?;
            Ok(())
        })
        .timeout(Duration::from_secs(2)),
    )
}

/// A server and two clients, connecting in a known order; the hooks check the
/// connections while the environment is up and that nothing listens after it
/// stopped.
fn two_clients() -> Suite {
    let port = Arc::new(Mutex::new(None::<u16>));
    let (port_seen, port_checked) = (Arc::clone(&port), port);
    Suite::new("two_clients", || {
        Environment::builder("two_clients")
            .driver(TcpServer::new("server"))
            .driver(TcpClient::new("first", Ref::export("server", "port")))
            .driver(TcpClient::new("second", Ref::export("server", "port")))
            // `second` connects after `first`: connection 0 is first's.
            .depends_on("second", "first")
            .build()
    })
    .after_start(move |env| async move {
        let server = env.get::<TcpServer>("server")?;
        *port_seen.lock().unwrap() = server.local_addr().map(|a| a.port());
        assert_eq!(server.accept_connection(WAIT).await?, 0);
        assert_eq!(server.accept_connection(WAIT).await?, 1);
        Ok(())
    })
    .case("the_server_tells_the_clients_apart", |env| async move {
        let server = env.get::<TcpServer>("server")?;
        env.get::<TcpClient>("second")?.send(b"2").await?;
        env.get::<TcpClient>("first")?.send(b"1").await?;
        assert_eq!(server.receive_exact(0, 1, WAIT).await?, b"1");
        assert_eq!(server.receive_exact(1, 1, WAIT).await?, b"2");
        Ok(())
    })
    .case("the_server_replies_to_each_client", |env| async move {
        let server = env.get::<TcpServer>("server")?;
        server.send(1, b"to second").await?;
        server.send(0, b"to first").await?;
        let first = env.get::<TcpClient>("first")?;
        let second = env.get::<TcpClient>("second")?;
        assert_eq!(first.receive_exact(8, WAIT).await?, b"to first");
        assert_eq!(second.receive_exact(9, WAIT).await?, b"to second");
        Ok(())
    })
    .before_stop(|env| async move {
        let server = env.get::<TcpServer>("server")?;
        assert_eq!(server.connection_count(), 2, "no connection was lost");
        Ok(())
    })
    .after_stop(move |_env| async move {
        let port = port_checked
            .lock()
            .unwrap()
            .expect("after_start saw the port");
        let refused = tokio::net::TcpStream::connect(("127.0.0.1", port)).await;
        assert!(refused.is_err(), "nothing listens on {port} after the stop");
        Ok(())
    })
}

/// The index of the newest connection the server accepted (`after_start` made it).
fn latest_connection(server: &TcpServer) -> usize {
    let accepted = server.connection_count();
    accepted.checked_sub(1).expect("accepted by after_start")
}
