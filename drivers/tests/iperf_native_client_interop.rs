//! The native client against the real `iperf3 -s`.

mod iperf_support;

use std::time::Duration;

use testrig_drivers::iperf::engine::NativeClient;
use testrig_drivers::iperf::{ClientOptions, Direction, IperfResult, Protocol, StreamOptions};

const BLOCK: u64 = 128 * 1024;

async fn run_against_iperf3(binary: &std::path::Path, options: ClientOptions) -> IperfResult {
    let server = iperf_support::Iperf3Server::start(&binary.to_path_buf()).await;
    NativeClient::new("127.0.0.1", server.port, options)
        .unwrap()
        .run()
        .await
        .expect("native client test against iperf3 -s")
}

/// A one-second test.
fn options() -> ClientOptions {
    ClientOptions::new().duration(Duration::from_secs(1))
}

/// UDP at 100 Mbit/s with 4 MiB socket buffers on both sides (`-w`, which iperf3 applies to
/// its own sockets too): a third of a second of datagrams, so a receiver descheduled on a
/// busy machine does not drop them (with the default buffer a loaded run lost 8 %).
fn udp_options() -> ClientOptions {
    options()
        .protocol(Protocol::Udp)
        .bitrate(100_000_000)
        .stream_options(StreamOptions::new().window(4 << 20))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_client_sends_tcp_to_iperf3_and_iperf3_counts_what_was_sent() {
    let binary = iperf3_or_skip!();
    let result = run_against_iperf3(&binary, options()).await;
    assert!(result.bytes_sent() > 10 * BLOCK, "{result:?}");
    // The client waits for iperf3 to read every byte before TEST_END, so iperf3 counts all.
    assert_eq!(result.bytes_received(), result.bytes_sent());
    assert_eq!(result.summary.streams.len(), 1);
    assert_eq!(result.summary.streams[0].id, 1);
    assert!(!result.intervals.is_empty());
    assert!(
        result.retransmits().is_some(),
        "linux reports TCP retransmits"
    );
    assert!(result.cpu.as_ref().is_some_and(|c| c.remote_total > 0.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_client_runs_four_parallel_streams_with_iperf3_ids() {
    let binary = iperf3_or_skip!();
    let result = run_against_iperf3(&binary, options().parallel(4)).await;
    let ids: Vec<u32> = result.summary.streams.iter().map(|s| s.id).collect();
    assert_eq!(ids, [1, 3, 4, 5]);
    for stream in &result.summary.streams {
        assert!(stream.sender.bytes > 0, "stream {} sent nothing", stream.id);
        assert_eq!(
            stream.receiver.bytes, stream.sender.bytes,
            "stream {}: iperf3 counts every byte sent",
            stream.id
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_client_receives_from_iperf3_in_reverse_and_counts_what_arrived_by_its_end() {
    let binary = iperf3_or_skip!();
    let result = run_against_iperf3(&binary, options().reverse()).await;
    assert_eq!(result.test.direction, Direction::Reverse);
    assert!(result.bytes_received() > 10 * BLOCK);
    // iperf3's server sends until TEST_END reaches it: what arrives after the client's end
    // is not counted, as by iperf3's client.
    iperf_support::assert_received_by_the_end(
        "reverse",
        result.bytes_sent(),
        result.bytes_received(),
        1,
    );
    assert!(
        !result.summary.main.received.sender,
        "the client is the receiver"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_client_runs_bidirectional_with_iperf3_and_both_directions_agree() {
    let binary = iperf3_or_skip!();
    let result = run_against_iperf3(&binary, options().bidirectional()).await;
    let reverse = result
        .summary
        .bidir_reverse
        .as_ref()
        .expect("bidir has a reverse sum");
    assert!(result.bytes_sent() > 0 && reverse.sent.bytes > 0);
    assert_eq!(result.bytes_received(), result.bytes_sent(), "forward");
    iperf_support::assert_received_by_the_end(
        "reverse",
        reverse.sent.bytes,
        reverse.received.bytes,
        1,
    );
    let ids: Vec<u32> = result.summary.streams.iter().map(|s| s.id).collect();
    assert_eq!(ids, [1, 3]);
    assert!(
        result
            .intervals
            .iter()
            .all(|i| i.sum_bidir_reverse.is_some())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_client_sends_udp_at_100_mbits_to_iperf3_with_jitter_and_loss() {
    let binary = iperf3_or_skip!();
    let result = run_against_iperf3(&binary, udp_options()).await;
    let rate = result.sent_bits_per_second();
    assert!((80e6..120e6).contains(&rate), "sent at {rate} bit/s");
    let received = &result.summary.main.received;
    assert!(received.jitter_ms.is_some_and(|j| j >= 0.0), "{received:?}");
    assert!(
        received.lost_percent.is_some_and(|l| l < 5.0),
        "{received:?}"
    );
    assert!(result.summary.main.sent.packets.is_some_and(|p| p > 100));
    iperf_support::assert_close(
        "udp bytes",
        result.bytes_sent(),
        result.bytes_received(),
        64 * 1024 * 8,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_client_receives_udp_from_iperf3_in_reverse() {
    let binary = iperf3_or_skip!();
    let result = run_against_iperf3(&binary, udp_options().reverse()).await;
    let received = &result.summary.main.received;
    assert!(received.bytes > 1_000_000, "{received:?}");
    assert!(received.jitter_ms.is_some());
    assert!(
        received.lost_percent.is_some_and(|l| l < 5.0),
        "{received:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_client_stops_after_the_requested_bytes() {
    let binary = iperf3_or_skip!();
    let result = run_against_iperf3(&binary, ClientOptions::new().bytes(10 * 1024 * 1024)).await;
    assert_eq!(
        result.bytes_sent(),
        10 * 1024 * 1024,
        "exactly the requested bytes"
    );
    assert_eq!(
        result.bytes_received(),
        10 * 1024 * 1024,
        "iperf3 counts them all"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_bounded_test_and_intervals_off_each_report_one_interval_as_iperf3_does() {
    let binary = iperf3_or_skip!();
    let server = iperf_support::Iperf3Server::start(&binary).await;
    // iperf3 itself: one interval for a test shorter than the interval, and for `-i 0`.
    let reference = iperf_support::iperf3_client(&binary, server.port, &["-n", "1M"]).await;
    assert_eq!(reference.intervals.len(), 1, "iperf3 -n 1M");
    server.listening_after(1, Duration::from_secs(10)).await;
    let reference =
        iperf_support::iperf3_client(&binary, server.port, &["-t", "1", "-i", "0"]).await;
    assert_eq!(reference.intervals.len(), 1, "iperf3 -i 0");

    let configs = [
        ClientOptions::new().bytes(1 << 20),
        options().interval(None),
    ];
    for (done, options) in configs.into_iter().enumerate() {
        server
            .listening_after(2 + done as u64, Duration::from_secs(10))
            .await;
        let result = NativeClient::new("127.0.0.1", server.port, options)
            .unwrap()
            .run()
            .await
            .unwrap();
        assert_eq!(result.intervals.len(), 1, "{:?}", result.test);
        assert_eq!(result.intervals[0].sum.bytes, result.bytes_sent());
    }
}
