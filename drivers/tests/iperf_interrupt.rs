//! Interrupted tests against the real iperf3 3.12: the native client ended early as iperf3's
//! client ends on a signal, and the native server when a real client is interrupted.

mod iperf_support;

use std::process::Stdio;
use std::time::Duration;

use testrig_drivers::iperf::engine::{ClientProgress, NativeClient};
use testrig_drivers::iperf::{ClientOptions, IperfError};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// How long any one step of these tests may take.
const STEP: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_native_client_tells_the_iperf3_server_and_hands_back_the_partial_result() {
    let binary = iperf3_or_skip!();
    assert_interrupted_as_iperf3_is(
        &binary,
        ClientOptions::new().duration(Duration::from_secs(10)),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_native_client_run_until_interrupted_ends_as_an_interrupted_timed_one() {
    let binary = iperf3_or_skip!();
    assert_interrupted_as_iperf3_is(&binary, ClientOptions::new().until_interrupted()).await;
    // Without an interrupt such a test would never end: refused before connecting.
    let error = NativeClient::new("127.0.0.1", 9, ClientOptions::new().until_interrupted())
        .expect("valid options")
        .run()
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "iperf: invalid duration \"until interrupted\": only run_with_interrupt can end such \
         a test; give it a duration, a byte count or a block count"
    );
}

/// A native client with `options` (intervals of 0.2 s) against a real `iperf3 -s -1`,
/// interrupted once its first interval closed: it hands back the partial result, and the
/// server hears CLIENT_TERMINATE.
async fn assert_interrupted_as_iperf3_is(binary: &std::path::PathBuf, options: ClientOptions) {
    let server = iperf_support::Iperf3Server::start_with(binary, &["-1"]).await;
    let port = server.port;

    let (interrupt, interrupted) = tokio::sync::oneshot::channel::<()>();
    let mut interrupt = Some(interrupt);
    let options = options.interval(Some(Duration::from_millis(200)));
    let client = NativeClient::new("127.0.0.1", port, options).expect("valid options");
    let outcome = tokio::time::timeout(
        STEP,
        client.run_with_interrupt(
            async {
                let _ = interrupted.await;
            },
            |progress| {
                // The interrupt comes after the first interval closed.
                if let ClientProgress::Interval(_) = progress
                    && let Some(interrupt) = interrupt.take()
                {
                    let _ = interrupt.send(());
                }
            },
        ),
    )
    .await
    .expect("the interrupted run ends at once, not after its planned end");
    let partial = match outcome {
        Err(IperfError::Interrupted {
            partial: Some(partial),
            ..
        }) => partial,
        other => panic!("expected an interrupted run with its partial result, got {other:?}"),
    };
    assert!(
        partial.intervals.len() >= 2,
        "the first interval and the partial last one: {:?}",
        partial.intervals
    );
    let last = partial.intervals.last().expect("intervals");
    let main = &partial.summary.main;
    assert!(main.sent.bytes > 0, "what was sent is summed: {main:?}");
    assert_eq!(
        main.received.bytes, 0,
        "the peer's counts are never exchanged"
    );
    assert!(
        (main.sent.seconds - last.sum.end).abs() < 0.05,
        "the summary runs to the partial interval's end: {} vs {}",
        main.sent.seconds,
        last.sum.end
    );
    assert!(
        partial.cpu.is_some(),
        "the CPU figures are there, the peer's 0"
    );

    let (status, stderr) = server.exited(STEP).await;
    assert!(
        stderr.contains("iperf3: the client has terminated"),
        "iperf3 heard CLIENT_TERMINATE: {stderr}"
    );
    assert!(
        status.success(),
        "a terminated test is no error for iperf3 -s -1: {status:?} {stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_native_server_reports_a_test_an_interrupted_iperf3_client_terminated() {
    let binary = iperf3_or_skip!();
    let mut server = iperf_support::native_server().await;
    let port = server.local_addr().port();
    let mut client = Command::new(&binary)
        .args(["-c", "127.0.0.1", "-p", &port.to_string()])
        .args(["-t", "10", "-i", "0.2", "--forceflush"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("iperf3 -c spawns");
    let mut out = BufReader::new(client.stdout.take().expect("piped stdout")).lines();
    tokio::time::timeout(STEP, async {
        while let Some(line) = out.next_line().await.expect("iperf3 -c output") {
            if line.contains(" sec ") {
                return;
            }
        }
        panic!("iperf3 -c ended before its first interval");
    })
    .await
    .expect("iperf3 -c prints an interval in time");
    let pid = client.id().expect("iperf3 -c runs") as i32;
    // SAFETY: kill(2) on the child this test spawned and has not reaped.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);

    let served = server
        .next_test(STEP)
        .await
        .expect("the native server reports the test");
    let partial = match served.outcome {
        Err(IperfError::ClientTerminated {
            partial: Some(partial),
            ..
        }) => partial,
        other => panic!("expected a terminated test with its partial result, got {other:?}"),
    };
    assert!(
        partial.summary.main.received.bytes > 0,
        "the server's own count so far: {:?}",
        partial.summary.main
    );
    assert_eq!(
        partial.summary.main.sent.bytes, 0,
        "the client's never came"
    );
    let status = tokio::time::timeout(STEP, client.wait())
        .await
        .expect("iperf3 -c exits on SIGINT")
        .expect("iperf3 -c status");
    assert_eq!(status.code(), Some(1), "iperf3's interrupted client");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupt_before_the_test_runs_ends_the_run_without_a_partial_result() {
    let server = iperf_support::native_server().await;
    let port = server.local_addr().port();
    let options = ClientOptions::new().duration(Duration::from_secs(10));
    let client = NativeClient::new("127.0.0.1", port, options).expect("valid options");
    // An interrupt that has already happened.
    let outcome = tokio::time::timeout(STEP, client.run_with_interrupt(async {}, |_| {}))
        .await
        .expect("the interrupted run ends at once");
    assert!(
        matches!(outcome, Err(IperfError::Interrupted { partial: None, .. })),
        "no test ran, so no partial result: {outcome:?}"
    );
    server.shutdown().await;
}
