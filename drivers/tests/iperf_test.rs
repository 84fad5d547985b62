//! `IperfTest` end to end: server up, gate, client run, server down, in both directions and
//! on each engine.

mod iperf_support;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use testrig_drivers::iperf::{ClientOptions, Engine, Gate, IperfError, IperfTest, Peer};

const MIB: u64 = 1 << 20;

fn endpoints() -> (Peer, Peer) {
    (Peer::loopback("dut"), Peer::loopback("peer"))
}

fn bytes_test() -> IperfTest {
    IperfTest::new(ClientOptions::new().bytes(8 * MIB))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_directions_with_the_native_engine_return_both_results() {
    let (dut, peer) = endpoints();
    let both = bytes_test().both(&dut, &peer).await.unwrap();
    for result in [&both.upstream, &both.downstream] {
        assert!(result.bytes_sent() >= 8 * MIB, "{result:?}");
        assert!(result.bytes_received() > 0, "{result:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_directions_with_the_iperf3_engine_return_both_results() {
    let iperf3 = iperf3_or_skip!();
    let (dut, peer) = endpoints();
    let both = bytes_test()
        .engine(Engine::iperf3_at(iperf3))
        .both(&dut, &peer)
        .await
        .unwrap();
    for result in [&both.upstream, &both.downstream] {
        assert!(result.bytes_sent() >= 8 * MIB, "{result:?}");
        assert!(result.bytes_received() > 0, "{result:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_engines_measure_upstream_and_downstream() {
    let iperf3 = iperf3_or_skip!();
    let (dut, peer) = endpoints();
    let test = bytes_test().server_engine(Engine::iperf3_at(iperf3));
    let up = test.upstream(&dut, &peer).await.unwrap();
    let down = test.downstream(&dut, &peer).await.unwrap();
    assert!(up.bytes_received() > 0 && down.bytes_received() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_binds_the_senders_address_and_connects_to_the_receivers() {
    let (dut, peer) = endpoints();
    let result = bytes_test().upstream(&dut, &peer).await.unwrap();
    let stream = result.connected.first().expect("the stream is listed");
    assert_eq!(stream.local_host, "127.0.0.1");
    assert_eq!(stream.remote_host, "127.0.0.1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_waits_for_the_gate_after_the_server_is_up() {
    let (dut, peer) = endpoints();
    let passes = Arc::new(AtomicU32::new(0));
    let gate = Gate::new("shaper configured", Duration::from_secs(5), {
        let passes = passes.clone();
        move || {
            let passes = passes.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(100)).await;
                passes.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
    let began = Instant::now();
    bytes_test().gate(gate).both(&dut, &peer).await.unwrap();
    assert_eq!(passes.load(Ordering::SeqCst), 2, "once per measurement");
    assert!(began.elapsed() >= Duration::from_millis(200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gate_that_does_not_open_fails_naming_it_and_starts_no_client() {
    let (dut, peer) = endpoints();
    let (_never, closed) = tokio::sync::watch::channel(false);
    let began = Instant::now();
    let error = bytes_test()
        .gate(Gate::watch("link up", Duration::from_millis(200), closed))
        .downstream(&dut, &peer)
        .await
        .unwrap_err();
    assert!(
        began.elapsed() < Duration::from_secs(3),
        "took {:?}",
        began.elapsed()
    );
    assert!(matches!(error, IperfError::GateTimeout { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        "iperf test peer → dut: gate `link up` did not open within 200ms; the client was not started"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notified_gate_opens_on_a_permit_given_before_the_wait() {
    let (dut, peer) = endpoints();
    let notify = Arc::new(tokio::sync::Notify::new());
    notify.notify_one();
    let result = bytes_test()
        .gate(Gate::notified("ready", Duration::from_secs(5), notify))
        .upstream(&dut, &peer)
        .await
        .unwrap();
    assert!(result.bytes_received() > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_cannot_start_fails_the_test_naming_its_direction() {
    let (dut, _) = endpoints();
    // A peer whose address nothing can bind: the server cannot start.
    let unreachable = Peer::new("peer", "192.0.2.1".parse().unwrap());
    let error = bytes_test().upstream(&dut, &unreachable).await.unwrap_err();
    let text = testrig::error::full_message(&error);
    assert!(text.starts_with("iperf test dut → peer failed: "), "{text}");
    assert!(text.contains("cannot listen on 192.0.2.1"), "{text}");
}

/// A fresh directory for one test's measurements.
fn runpath(test: &str) -> PathBuf {
    let dir = std::env::temp_dir()
        .join("testrig-iperf-test")
        .join(format!("{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Everything the iperf3 servers under `dir` printed.
fn iperf3_server_output(dir: &Path) -> String {
    let mut text = String::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            text += &iperf3_server_output(&path);
        } else if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("iperf3-server")
        {
            text += &std::fs::read_to_string(&path).unwrap();
        }
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_past_its_deadline_fails_and_the_server_is_stopped() {
    let iperf3 = iperf3_or_skip!();
    let (dut, peer) = endpoints();
    let dir = runpath("deadline");
    let error = IperfTest::new(ClientOptions::new().duration(Duration::from_secs(5)))
        .server_engine(Engine::iperf3_at(iperf3))
        .deadline(Duration::from_millis(300))
        .runpath(&dir)
        .upstream(&dut, &peer)
        .await
        .unwrap_err();
    let error = testrig::error::full_message(&error);
    assert!(
        error.starts_with("iperf test dut → peer failed: driver `client`: the iperf measurement did not finish within 300ms"),
        "{error}"
    );
    let output = iperf3_server_output(&dir);
    assert!(output.contains("Server listening"), "{output}");
    assert!(
        output.contains("the server has terminated"),
        "stopped by the test: {output}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gate_timeout_still_stops_the_server_it_started() {
    let iperf3 = iperf3_or_skip!();
    let (dut, peer) = endpoints();
    let dir = runpath("gate_teardown");
    let (_never, closed) = tokio::sync::watch::channel(false);
    let error = bytes_test()
        .server_engine(Engine::iperf3_at(iperf3))
        .gate(Gate::watch("link up", Duration::from_millis(100), closed))
        .runpath(&dir)
        .upstream(&dut, &peer)
        .await
        .unwrap_err();
    assert!(matches!(error, IperfError::GateTimeout { .. }), "{error:?}");
    let output = iperf3_server_output(&dir);
    assert!(output.contains("the server has terminated"), "{output}");
}
