//! The native server serves one test at a time and survives clients that misbehave.

mod iperf_support;

use std::net::SocketAddr;
use std::time::Duration;

use testrig_drivers::iperf::engine::{NativeClient, NativeServer, ServerConfig};
use testrig_drivers::iperf::{ClientOptions, IperfError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn client(server: &NativeServer, duration: Duration) -> NativeClient {
    NativeClient::new(
        "127.0.0.1",
        server.local_addr().port(),
        ClientOptions::new().duration(duration).interval(None),
    )
    .unwrap()
}

async fn strict_server() -> NativeServer {
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let config = ServerConfig::default().phase_timeout(Duration::from_millis(300));
    NativeServer::bind(addr, config).await.unwrap()
}

/// Starts a native client's test of `duration` and returns once it is surely running (it
/// reported an interval), with the task that finishes it.
async fn running_test(
    server: &NativeServer,
    duration: Duration,
) -> tokio::task::JoinHandle<Result<testrig_drivers::iperf::IperfResult, IperfError>> {
    let first = NativeClient::new(
        "127.0.0.1",
        server.local_addr().port(),
        ClientOptions::new()
            .duration(duration)
            .interval(Some(Duration::from_millis(100))),
    )
    .unwrap();
    let (going, mut is_going) = tokio::sync::mpsc::unbounded_channel();
    let running = tokio::spawn(async move {
        first
            .run_with_intervals(move |_| {
                let _ = going.send(());
            })
            .await
    });
    tokio::time::timeout(Duration::from_secs(10), is_going.recv())
        .await
        .expect("the test reports an interval within 10 s");
    running
}

/// A valid 37-byte cookie.
const COOKIE: &[u8; 37] = b"abcdefghijklmnopqrstuvwxyz234567abcd\0";

/// Proves the server is free again: a whole test runs.
async fn assert_serves_a_test(server: &mut NativeServer) {
    let result = client(server, Duration::from_millis(200)).run().await;
    let result = result.expect("the server serves the next test");
    assert!(result.bytes_received() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_client_is_denied_while_a_test_runs() {
    let server = iperf_support::native_server().await;
    let running = running_test(&server, Duration::from_secs(2)).await;
    let second = client(&server, Duration::from_millis(100)).run().await;
    assert!(
        matches!(second, Err(IperfError::AccessDenied)),
        "{second:?}"
    );
    let first = running.await.unwrap();
    assert!(first.is_ok(), "the first test is undisturbed: {first:?}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_iperf3_is_told_the_native_server_is_busy() {
    let binary = iperf3_or_skip!();
    let server = iperf_support::native_server().await;
    let running = running_test(&server, Duration::from_secs(2)).await;
    let output = tokio::process::Command::new(&binary)
        .args([
            "-c",
            "127.0.0.1",
            "-p",
            &server.local_addr().port().to_string(),
        ])
        .args(["-t", "1", "-J"])
        .output()
        .await
        .unwrap();
    let parsed = testrig_drivers::iperf::IperfResult::from_iperf3_json(&String::from_utf8_lossy(
        &output.stdout,
    ));
    match parsed {
        Err(testrig_drivers::iperf::IperfError::Iperf3Reported { message }) => {
            assert!(message.contains("busy"), "{message}");
        }
        other => panic!("expected iperf3 to report a busy server, got {other:?}"),
    }
    assert!(running.await.unwrap().is_ok());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_vanishes_mid_test_leaves_the_server_serving() {
    let mut server = strict_server().await;
    let running = running_test(&server, Duration::from_secs(5)).await;
    running.abort(); // drops the control connection and every data stream mid-test
    let _ = running.await;
    let served = server.next_test(Duration::from_secs(5)).await.unwrap();
    assert!(
        served.outcome.is_err(),
        "the vanished test is reported as failed"
    );
    assert_serves_a_test(&mut server).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_instead_of_parameters_is_refused_and_the_server_keeps_serving() {
    let mut server = strict_server().await;
    let mut garbage = TcpStream::connect(server.local_addr()).await.unwrap();
    garbage.write_all(COOKIE).await.unwrap();
    let mut state = [0u8; 1];
    garbage.read_exact(&mut state).await.unwrap();
    assert_eq!(state[0], 9, "PARAM_EXCHANGE");
    // A "length" of 2 GiB followed by noise: must not be allocated or waited for.
    garbage
        .write_all(&[0x7f, 0xff, 0xff, 0xff, b'{', b'x'])
        .await
        .unwrap();
    let served = server.next_test(Duration::from_secs(5)).await.unwrap();
    let error = served.outcome.unwrap_err().to_string();
    assert!(error.contains("exceeds"), "{error}");
    assert_serves_a_test(&mut server).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_parameters_get_an_iperf3_server_error() {
    let mut server = strict_server().await;
    let mut hostile = TcpStream::connect(server.local_addr()).await.unwrap();
    hostile.write_all(COOKIE).await.unwrap();
    let mut state = [0u8; 1];
    hostile.read_exact(&mut state).await.unwrap();
    let params = br#"{"tcp":true,"time":1,"parallel":100000}"#;
    hostile
        .write_all(&(params.len() as u32).to_be_bytes())
        .await
        .unwrap();
    hostile.write_all(params).await.unwrap();
    let mut reply = [0u8; 9];
    hostile.read_exact(&mut reply).await.unwrap();
    assert_eq!(reply[0] as i8, -2, "SERVER_ERROR");
    assert_eq!(
        i32::from_be_bytes(reply[1..5].try_into().unwrap()),
        6,
        "IENUMSTREAMS"
    );
    let served = server.next_test(Duration::from_secs(5)).await.unwrap();
    assert!(served.outcome.is_err());
    assert_serves_a_test(&mut server).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_connects_and_says_nothing_times_out() {
    let mut server = strict_server().await;
    let silent = TcpStream::connect(server.local_addr()).await.unwrap();
    let served = server.next_test(Duration::from_secs(5)).await.unwrap();
    assert!(
        matches!(served.outcome, Err(IperfError::Timeout { .. })),
        "{:?}",
        served.outcome
    );
    drop(silent);
    assert_serves_a_test(&mut server).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_opens_its_streams_times_out() {
    let mut server = strict_server().await;
    let mut lazy = TcpStream::connect(server.local_addr()).await.unwrap();
    lazy.write_all(COOKIE).await.unwrap();
    let mut state = [0u8; 1];
    lazy.read_exact(&mut state).await.unwrap();
    let params = br#"{"tcp":true,"time":1,"parallel":2}"#;
    lazy.write_all(&(params.len() as u32).to_be_bytes())
        .await
        .unwrap();
    lazy.write_all(params).await.unwrap();
    lazy.read_exact(&mut state).await.unwrap();
    assert_eq!(state[0], 10, "CREATE_STREAMS");
    let served = server.next_test(Duration::from_secs(5)).await.unwrap();
    assert!(served.outcome.is_err());
    assert_serves_a_test(&mut server).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_stops_listening() {
    let server = iperf_support::native_server().await;
    let addr = server.local_addr();
    server.shutdown().await;
    assert!(TcpStream::connect(addr).await.is_err());
}
