//! The iperf3-binary engine: its errors (missing program, unusable output, iperf3's own
//! errors, deadlines) and its port choice (iperf3 refuses port 0; the retries on a taken
//! free port are unit tests of `binary/server.rs`).

mod iperf_support;

use std::net::{IpAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::time::Duration;

use testrig::Environment;
use testrig_drivers::iperf::engine::{Iperf3Client, Iperf3Server, ServerConfig};
use testrig_drivers::iperf::{ClientOptions, Engine, IperfClient, IperfError, IperfServer};

const LOCALHOST: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

/// A fresh directory for one test's files.
fn runpath(test: &str) -> PathBuf {
    let dir = std::env::temp_dir()
        .join("testrig-iperf-binary")
        .join(format!("{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// An executable script standing in for iperf3: it ignores its arguments and runs `body`.
fn fake_iperf3(dir: &Path, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("fake-iperf3");
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn options() -> ClientOptions {
    ClientOptions::new().bytes(1 << 20)
}

/// A client of the real iperf3's engine against `127.0.0.1:port`.
fn client(port: u16) -> Iperf3Client {
    Iperf3Client::new("127.0.0.1", port, options()).unwrap()
}

async fn run_fake(test: &str, body: &str) -> IperfError {
    let dir = runpath(test);
    let program = fake_iperf3(&dir, body);
    client(5201)
        .program(program)
        .run(&dir, Duration::from_secs(10))
        .await
        .unwrap_err()
}

#[tokio::test]
async fn a_missing_program_says_to_install_the_iperf3_package() {
    let dir = runpath("missing");
    let error = client(5201)
        .program("/nonexistent/iperf3")
        .run(&dir, Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(
        matches!(error, IperfError::NotInstalled { .. }),
        "{error:?}"
    );
    let text = error.to_string();
    assert!(
        text.contains("`/nonexistent/iperf3` was not found"),
        "{text}"
    );
    assert!(text.contains("install the `iperf3` package"), "{text}");

    let error = Iperf3Server::start(
        "/nonexistent/iperf3",
        (LOCALHOST, 0).into(),
        &ServerConfig::default(),
        &dir,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(error, IperfError::NotInstalled { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn drivers_with_a_missing_program_fail_their_start_naming_the_driver() {
    let missing = Engine::iperf3_at("/nonexistent/iperf3");
    let env = Environment::builder("missing-iperf3")
        .driver(IperfServer::new("server").engine(missing.clone()))
        .driver(IperfClient::new("client", 5201).engine(missing))
        .build()
        .unwrap();
    let error = env.start().await.unwrap_err().to_string();
    for driver in ["server", "client"] {
        assert!(
            error.contains(&format!("driver `{driver}` failed: the iperf3 program `/nonexistent/iperf3` was not found: install the `iperf3` package")),
            "{error}"
        );
    }
}

#[tokio::test]
async fn garbage_output_is_an_error_quoting_it() {
    let error = run_fake("garbage", "echo 'Segmentation fault in the matrix'").await;
    assert!(
        matches!(
            error,
            IperfError::Output { ref source, .. } if matches!(**source, IperfError::NotJson { .. })
        ),
        "{error:?}"
    );
    let text = testrig::error::full_message(&error);
    assert!(text.contains("is not JSON"), "{text}");
    assert!(text.contains("Segmentation fault in the matrix"), "{text}");
}

#[tokio::test]
async fn truncated_output_is_an_error_saying_so_with_the_stderr_lines() {
    let error = run_fake(
        "truncated",
        r#"printf '{\n"start": {\n"connected": ['; echo 'iperf3: interrupt - the client has terminated' >&2; exit 1"#,
    )
    .await;
    assert!(
        matches!(
            error,
            IperfError::Output { ref source, .. } if matches!(**source, IperfError::TruncatedOutput { .. })
        ),
        "{error:?}"
    );
    let text = testrig::error::full_message(&error);
    assert!(text.contains("iperf3 client exited with code 1"), "{text}");
    assert!(text.contains("truncated"), "{text}");
    assert!(
        text.contains("stderr| iperf3: interrupt - the client has terminated"),
        "{text}"
    );
}

#[tokio::test]
async fn empty_output_is_an_error() {
    let error = run_fake("empty", "exit 0").await;
    assert!(
        matches!(
            error,
            IperfError::Output { ref source, .. } if matches!(**source, IperfError::EmptyOutput)
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn an_error_key_is_an_error_with_iperf3s_text() {
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/iperf/iperf3_error.json");
    let error = run_fake("error_key", &format!("cat '{}'; exit 1", fixture.display())).await;
    let IperfError::Output { source, .. } = &error else {
        panic!("expected iperf3's reported error, got {error:?}");
    };
    let IperfError::Iperf3Reported { message } = &**source else {
        panic!("expected iperf3's reported error, got {error:?}");
    };
    assert_eq!(message, "unable to connect to server: Connection refused");
    assert!(
        testrig::error::full_message(&error)
            .contains(&format!("iperf3 reported an error: {message}"))
    );
}

#[tokio::test]
async fn the_real_iperf3_reports_a_refused_connection_through_its_error_key() {
    let binary = iperf3_or_skip!();
    let dir = runpath("refused");
    let closed = testrig::testing::ClosedPort::new();
    let error = client(closed.port())
        .program(binary)
        .run(&dir, Duration::from_secs(10))
        .await
        .unwrap_err();
    let text = testrig::error::full_message(&error);
    assert!(
        text.contains("iperf3 reported an error: unable to connect to server"),
        "{text}"
    );
}

#[tokio::test]
async fn a_client_past_its_deadline_is_stopped_and_the_run_fails() {
    let dir = runpath("deadline");
    let program = fake_iperf3(&dir, "echo started; exec sleep 30");
    let began = std::time::Instant::now();
    let error = client(5201)
        .program(program)
        // Long enough for the program to have printed its line on a busy machine.
        .run(&dir, Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(
        began.elapsed() < Duration::from_secs(3),
        "took {:?}",
        began.elapsed()
    );
    let text = error.to_string();
    assert!(
        text.contains("did not finish within 1s; it was stopped"),
        "{text}"
    );
    assert!(text.contains("stdout| started"), "{text}");
}

#[tokio::test]
async fn a_given_port_in_use_is_an_error_naming_it() {
    let binary = iperf3_or_skip!();
    let dir = runpath("given_port");
    let occupied = TcpListener::bind((LOCALHOST, 0)).unwrap();
    let taken = occupied.local_addr().unwrap().port();
    let error = Iperf3Server::start(
        binary,
        (LOCALHOST, taken).into(),
        &ServerConfig::default(),
        &dir,
    )
    .await
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "iperf3 server could not listen on 127.0.0.1: port {taken} was already in use (1 attempt(s))"
        )
    );
}
