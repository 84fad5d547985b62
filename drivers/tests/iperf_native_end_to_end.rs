//! The native client against the native server: every option, no binary needed.

mod iperf_support;

use std::time::Duration;

use testrig_drivers::iperf::engine::NativeClient;
use testrig_drivers::iperf::{ClientOptions, Direction, IperfResult, Protocol};

const BLOCK: u64 = 128 * 1024;

async fn run(configure: impl FnOnce(ClientOptions) -> ClientOptions) -> (IperfResult, IperfResult) {
    let mut server = iperf_support::native_server().await;
    let port = server.local_addr().port();
    let client = NativeClient::new("127.0.0.1", port, configure(ClientOptions::new()))
        .unwrap()
        .run()
        .await
        .expect("native test runs");
    let served = server.next_test(Duration::from_secs(5)).await.unwrap();
    server.shutdown().await;
    (client, served.outcome.expect("server side succeeded"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interval_reports_arrive_while_the_test_runs() {
    let mut server = iperf_support::native_server().await;
    let config = NativeClient::new(
        "127.0.0.1",
        server.local_addr().port(),
        ClientOptions::new()
            .duration(Duration::from_millis(650))
            .interval(Some(Duration::from_millis(200))),
    )
    .unwrap();
    let mut seen = Vec::new();
    let result = config
        .run_with_intervals(|i| seen.push(i.sum.bytes))
        .await
        .unwrap();
    // Three full intervals and the closing 50 ms one (which a badly delayed tick on a busy
    // machine can shrink below the 10 % threshold below which iperf3 drops it too).
    assert!((3..=4).contains(&seen.len()), "{seen:?}");
    assert_eq!(result.intervals.len(), seen.len());
    assert!(seen.iter().all(|&b| b > 0));
    let interval_total: u64 = seen.iter().sum();
    assert!(interval_total <= result.bytes_sent());
    if seen.len() == 4 {
        assert_eq!(interval_total, result.bytes_sent());
    }
    let _ = server.next_test(Duration::from_secs(5)).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_forward_counts_agree_on_both_sides() {
    let (client, server) = run(|b| b.duration(Duration::from_millis(300))).await;
    assert_eq!(client.bytes_received(), client.bytes_sent());
    assert_eq!(server.bytes_received(), client.bytes_received());
    assert_eq!(
        server.summary.streams[0].receiver.bytes,
        client.bytes_received()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_writes_without_zero_copy_are_counted_both_ways() {
    let (client, server) = run(|b| {
        b.duration(Duration::from_millis(300))
            .bidirectional()
            .zero_copy(false)
    })
    .await;
    assert!(client.bytes_sent() > 10 * BLOCK);
    assert_eq!(client.bytes_received(), client.bytes_sent());
    assert_eq!(server.bytes_received(), client.bytes_sent());
    // The server sends until TEST_END reaches it; the client counts what arrived by its end.
    let reverse = client.summary.bidir_reverse.as_ref().expect("bidir sums");
    iperf_support::assert_received_by_the_end(
        "reverse",
        reverse.sent.bytes,
        reverse.received.bytes,
        1,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_reverse_counts_what_arrived_by_the_clients_end() {
    let (client, server) = run(|b| b.duration(Duration::from_millis(300)).reverse()).await;
    assert_eq!(client.test.direction, Direction::Reverse);
    iperf_support::assert_received_by_the_end(
        "reverse",
        client.bytes_sent(),
        client.bytes_received(),
        1,
    );
    assert_eq!(server.bytes_sent(), client.bytes_sent());
    assert_eq!(server.bytes_received(), client.bytes_received());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bidirectional_with_parallel_streams_numbers_them_like_iperf3() {
    let (client, _server) = run(|b| {
        b.duration(Duration::from_millis(300))
            .bidirectional()
            .parallel(2)
    })
    .await;
    let ids: Vec<u32> = client.summary.streams.iter().map(|s| s.id).collect();
    assert_eq!(ids, [1, 3, 4, 5]);
    let reverse = client.summary.bidir_reverse.as_ref().unwrap();
    iperf_support::assert_close(
        "forward",
        client.bytes_sent(),
        client.bytes_received(),
        2 * BLOCK,
    );
    iperf_support::assert_received_by_the_end(
        "reverse",
        reverse.sent.bytes,
        reverse.received.bytes,
        2,
    );
    assert!(client.summary.main.sent.sender);
    assert!(!reverse.sent.sender);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_at_a_target_rate_reports_jitter_loss_and_packets() {
    let (client, server) = run(|b| {
        b.duration(Duration::from_millis(500))
            .protocol(Protocol::Udp)
            .bitrate(50_000_000)
            .block_size(1400)
    })
    .await;
    // Paced to the target, never above it; a saturated 2-core machine can hold the sender
    // back (it forgives stalls longer than 10 ms rather than burst), hence the low bound.
    let rate = client.sent_bits_per_second();
    assert!((25e6..55e6).contains(&rate), "{rate}");
    let received = &client.summary.main.received;
    assert_eq!(received.packets, client.summary.main.sent.packets);
    assert!(received.lost_percent.unwrap() < 5.0);
    assert!(received.out_of_order.is_some() || server.summary.main.received.out_of_order.is_some());
    assert!(received.jitter_ms.is_some());
    assert_eq!(client.test.blksize, 1400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_limited_test_stops_after_that_many_blocks() {
    let (client, _server) = run(|b| b.blocks(100).block_size(8192)).await;
    assert_eq!(client.bytes_sent(), 100 * 8192);
    assert_eq!(client.bytes_received(), 100 * 8192);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_byte_limited_reverse_test_stops_when_the_client_has_received_enough() {
    let (client, _server) = run(|b| b.bytes(4 * 1024 * 1024).reverse()).await;
    assert!(client.bytes_received() >= 4 * 1024 * 1024);
    assert_eq!(client.bytes_received(), client.bytes_sent());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn omitted_seconds_are_reported_as_omitted_and_not_counted() {
    let (client, _server) = run(|b| {
        b.duration(Duration::from_millis(300))
            .omit(Duration::from_secs(1))
            .interval(Some(Duration::from_millis(500)))
    })
    .await;
    let omitted: Vec<bool> = client
        .intervals
        .iter()
        .map(|i| i.sum.omitted == Some(true))
        .collect();
    assert_eq!(omitted.first(), Some(&true), "{omitted:?}");
    assert_eq!(omitted.last(), Some(&false), "{omitted:?}");
    let counted: u64 = client
        .intervals
        .iter()
        .filter(|i| i.sum.omitted == Some(false))
        .map(|i| i.sum.bytes)
        .sum();
    assert_eq!(counted, client.bytes_sent());
    assert!(client.summary.main.sent.seconds < 0.5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_names_the_address() {
    let closed = testrig::testing::ClosedPort::new();
    let port = closed.port();
    let config = NativeClient::new("127.0.0.1", port, ClientOptions::new()).unwrap();
    let error = config.run().await.unwrap_err();
    assert!(
        error.to_string().contains(&format!("127.0.0.1:{port}")),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_serialize_in_iperf3_layout_and_parse_back() {
    let (client, _server) = run(|b| b.duration(Duration::from_millis(200))).await;
    let json = serde_json::to_string(&client.to_iperf3_json()).unwrap();
    let parsed = IperfResult::from_iperf3_json(&json).unwrap();
    assert_eq!(parsed.bytes_sent(), client.bytes_sent());
    assert_eq!(parsed.bytes_received(), client.bytes_received());
    assert_eq!(parsed.intervals.len(), client.intervals.len());
    for (again, original) in parsed.summary.streams.iter().zip(&client.summary.streams) {
        assert_eq!(again.id, original.id);
        assert_eq!(again.sender.bytes, original.sender.bytes);
        assert_eq!(again.receiver.bytes, original.receiver.bytes);
        assert_eq!(again.sender.retransmits, original.sender.retransmits);
        // JSON floats may come back one ulp off.
        let ratio = again.receiver.bits_per_second / original.receiver.bits_per_second;
        assert!((ratio - 1.0).abs() < 1e-12, "{ratio}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_byte_limited_test_that_cannot_finish_times_out() {
    let mut server = iperf_support::native_server().await;
    let config = NativeClient::new(
        "127.0.0.1",
        server.local_addr().port(),
        ClientOptions::new()
            .bytes(u64::MAX / 2)
            .bitrate(1_000_000)
            .max_open_ended(Duration::from_millis(300)),
    )
    .unwrap();
    let error = config.run().await.unwrap_err();
    assert!(
        matches!(error, testrig_drivers::iperf::IperfError::Timeout { .. }),
        "{error}"
    );
    let served = server.next_test(Duration::from_secs(5)).await.unwrap();
    assert!(
        served.outcome.is_err(),
        "the server sees the client terminate"
    );
    server.shutdown().await;
}
