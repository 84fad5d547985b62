//! The real `iperf3 -c` against the native server.

mod iperf_support;

use std::time::Duration;

use testrig_drivers::iperf::engine::NativeServer;
use testrig_drivers::iperf::{Direction, IperfResult, Protocol};

const BLOCK: u64 = 128 * 1024;

/// Runs `iperf3 -c` with `args` against a fresh native server; returns both views.
async fn iperf3_against_native(
    binary: &std::path::Path,
    args: &[&str],
) -> (IperfResult, IperfResult) {
    let mut server: NativeServer = iperf_support::native_server().await;
    let client = iperf_support::iperf3_client(binary, server.local_addr().port(), args).await;
    let served = server
        .next_test(Duration::from_secs(10))
        .await
        .expect("the native server reports the test");
    let server_view = served.outcome.expect("the native server served the test");
    server.shutdown().await;
    (client, server_view)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iperf3_client_sends_tcp_to_the_native_server_which_counts_what_arrived_by_test_end() {
    let binary = iperf3_or_skip!();
    let (client, server) = iperf3_against_native(&binary, &["-t", "1"]).await;
    assert!(client.bytes_sent() > 10 * BLOCK);
    // iperf3's client sends TEST_END without waiting for its data to arrive; what had not
    // arrived by then is not counted, as by iperf3's server.
    iperf_support::assert_received_by_the_end(
        "forward",
        client.bytes_sent(),
        client.bytes_received(),
        1,
    );
    assert_eq!(server.bytes_received(), client.bytes_received());
    assert_eq!(server.bytes_sent(), client.bytes_sent());
    assert!(!server.intervals.is_empty());
    assert!(client.cpu.as_ref().is_some_and(|c| c.remote_total > 0.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iperf3_client_runs_four_parallel_streams_against_the_native_server() {
    let binary = iperf3_or_skip!();
    let (client, server) = iperf3_against_native(&binary, &["-t", "1", "-P", "4"]).await;
    assert_eq!(client.summary.streams.len(), 4);
    let ids: Vec<u32> = server.summary.streams.iter().map(|s| s.id).collect();
    assert_eq!(ids, [1, 3, 4, 5]);
    // iperf3's client sends TEST_END without draining its streams: each stream's count is
    // what arrived by then, short of what was sent by at most what one stream holds in flight.
    for stream in &server.summary.streams {
        iperf_support::assert_received_by_the_end(
            &format!("stream {}", stream.id),
            stream.sender.bytes,
            stream.receiver.bytes,
            1,
        );
    }
    assert_eq!(server.bytes_received(), client.bytes_received());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iperf3_client_receives_from_the_native_server_in_reverse() {
    let binary = iperf3_or_skip!();
    let (client, server) = iperf3_against_native(&binary, &["-t", "1", "-R"]).await;
    assert_eq!(server.test.direction, Direction::Reverse);
    assert!(client.bytes_received() > 10 * BLOCK);
    assert_eq!(server.bytes_sent(), client.bytes_sent());
    iperf_support::assert_received_by_the_end(
        "reverse",
        client.bytes_sent(),
        client.bytes_received(),
        1,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iperf3_client_runs_bidirectional_against_the_native_server() {
    let binary = iperf3_or_skip!();
    let (client, server) = iperf3_against_native(&binary, &["-t", "1", "--bidir"]).await;
    let client_reverse = client
        .summary
        .bidir_reverse
        .as_ref()
        .expect("client bidir sums");
    let server_reverse = server
        .summary
        .bidir_reverse
        .as_ref()
        .expect("server bidir sums");
    iperf_support::assert_received_by_the_end(
        "forward",
        client.bytes_sent(),
        client.bytes_received(),
        1,
    );
    assert_eq!(server.bytes_received(), client.bytes_received());
    iperf_support::assert_received_by_the_end(
        "reverse",
        client_reverse.sent.bytes,
        client_reverse.received.bytes,
        1,
    );
    assert_eq!(server_reverse.sent.bytes, client_reverse.sent.bytes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iperf3_client_sends_udp_at_100_mbits_to_the_native_server() {
    let binary = iperf3_or_skip!();
    // 4 MiB socket buffers (`-w`, both sides): a receiver descheduled on a busy machine
    // does not drop datagrams.
    let (client, server) =
        iperf3_against_native(&binary, &["-t", "1", "-u", "-b", "100M", "-w", "4M"]).await;
    assert_eq!(server.test.protocol, Protocol::Udp);
    let received = &client.summary.main.received;
    assert!(received.bytes > 5_000_000, "{received:?}");
    assert!(
        received.lost_percent.is_some_and(|l| l < 5.0),
        "{received:?}"
    );
    assert!(received.jitter_ms.is_some_and(|j| j >= 0.0));
    let server_received = &server.summary.main.received;
    assert_eq!(server_received.bytes, received.bytes);
    iperf_support::assert_close("udp", client.bytes_sent(), received.bytes, 64 * 1024 * 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iperf3_client_receives_udp_from_the_native_server_in_reverse() {
    let binary = iperf3_or_skip!();
    // 4 MiB socket buffers, as in the forward test: iperf3 descheduled on a busy machine
    // does not drop datagrams.
    let (client, _server) =
        iperf3_against_native(&binary, &["-t", "1", "-u", "-b", "100M", "-R", "-w", "4M"]).await;
    let received = &client.summary.main.received;
    let rate = received.bits_per_second;
    assert!((80e6..120e6).contains(&rate), "received at {rate} bit/s");
    assert!(
        received.lost_percent.is_some_and(|l| l < 5.0),
        "{received:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iperf3_client_sends_a_byte_count_to_the_native_server() {
    let binary = iperf3_or_skip!();
    let (client, server) = iperf3_against_native(&binary, &["-n", "8M", "-P", "2"]).await;
    assert!(client.bytes_sent() >= 8 * 1024 * 1024);
    assert_eq!(server.test.bytes, 8 * 1024 * 1024);
    assert_eq!(server.bytes_received(), client.bytes_sent());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_native_server_sends_exactly_the_bytes_a_reverse_client_asks_for() {
    // (arguments, bytes asked for, bytes the server sends: whole blocks, as iperf3's).
    for (args, asked, total) in [
        (&["-R", "-n", "10M"][..], 10 << 20, 10 * 1024 * 1024),
        (&["-R", "-P", "2", "-n", "8M"][..], 8 << 20, 8 * 1024 * 1024),
        (
            &["-R", "-n", "1000000"][..],
            1_000_000,
            1_000_000u64.div_ceil(BLOCK) * BLOCK,
        ),
    ] {
        let binary = iperf3_or_skip!();
        let (client, server) = iperf3_against_native(&binary, args).await;
        assert_eq!(
            server.bytes_sent(),
            total,
            "{args:?}: the server's own count"
        );
        assert_eq!(client.bytes_sent(), total, "{args:?}: what iperf3 was told");
        // iperf3's client ends the test as soon as it has read what it asked for, so of a
        // last block it may leave the tail unread.
        let read = client.bytes_received();
        assert!(
            (asked..=total).contains(&read),
            "{args:?}: iperf3 read {read}, between {asked} and {total} expected"
        );
    }
}
