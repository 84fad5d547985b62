//! Real `iperf3 -J` output (3.12, captured on loopback) parsed into the typed results.

use testrig_drivers::iperf::{Direction, IperfError, IperfResult, Protocol, Role};

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/iperf/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn parse(name: &str) -> IperfResult {
    IperfResult::from_iperf3_json(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn a_tcp_client_run_parses_with_intervals_sums_and_retransmits() {
    let r = parse("iperf3_tcp.json");
    assert_eq!(r.role, Role::Client);
    assert_eq!(r.test.protocol, Protocol::Tcp);
    assert_eq!(r.test.direction, Direction::Forward);
    assert_eq!(r.test.blksize, 131072);
    assert_eq!(r.intervals.len(), 2);
    assert_eq!(r.intervals[0].streams[0].id, 5);
    assert_eq!(r.intervals[0].sum.bytes, 1_855_979_520);
    assert_eq!(r.intervals[0].sum.omitted, Some(false));
    assert_eq!(r.bytes_sent(), 3_650_355_200);
    assert_eq!(r.bytes_received(), 3_650_355_200);
    assert_eq!(r.retransmits(), Some(0));
    assert!((r.received_bits_per_second() - 29_195_104_897.2).abs() < 1.0);
    let cpu = r.cpu.as_ref().unwrap();
    assert!(cpu.host_total > 99.0 && cpu.remote_total > 79.0);
    assert_eq!(r.sender_tcp_congestion.as_deref(), Some("bbr"));
    assert_eq!(r.timestamp, Some(1_795_316_154));
    assert_eq!(r.connected[0].remote_port, 5301);
    let start = r
        .start_info
        .as_ref()
        .expect("iperf3 3.12 writes its start facts");
    assert_eq!(start.cookie, "bdimnjjbsn5hpzoe54kukjlxz7oh42y27uzz");
    assert!(
        start.system_info.starts_with("Linux "),
        "{}",
        start.system_info
    );
    assert_eq!(start.tcp_mss_default, Some(32768));
    assert_eq!((start.sndbuf_actual, start.rcvbuf_actual), (16384, 131072));
    assert_eq!((start.target_bitrate, start.sock_bufsize), (0, 0));
}

#[test]
fn a_udp_run_parses_jitter_loss_and_packets() {
    let r = parse("iperf3_udp.json");
    assert_eq!(r.test.protocol, Protocol::Udp);
    assert_eq!(r.test.target_bitrate, 100_000_000);
    let received = &r.summary.main.received;
    assert_eq!(received.packets, Some(382));
    assert_eq!(received.lost_packets, Some(0));
    assert_eq!(received.lost_percent, Some(0.0));
    assert!((r.jitter_ms().unwrap() - 0.0259).abs() < 1e-3);
    assert_eq!(r.intervals[0].sum.packets, Some(191));
    let stream = &r.summary.streams[0];
    assert_eq!(stream.receiver.out_of_order, Some(0));
    assert_eq!(stream.sender.jitter_ms, None);
    assert_eq!(stream.sender.bytes, 12_517_376);
}

#[test]
fn a_reverse_run_parses_as_reverse_with_the_server_as_sender() {
    let r = parse("iperf3_reverse.json");
    assert_eq!(r.test.direction, Direction::Reverse);
    assert!(!r.summary.main.sent.sender);
    assert_eq!(r.bytes_sent(), 3_727_687_680);
    assert_eq!(r.bytes_received(), 3_727_556_608);
    assert_eq!(r.retransmits(), Some(2));
}

#[test]
fn a_udp_reverse_run_parses() {
    let r = parse("iperf3_udp_reverse.json");
    assert_eq!(
        (r.test.protocol, r.test.direction),
        (Protocol::Udp, Direction::Reverse)
    );
    assert_eq!(r.summary.main.received.packets, Some(382));
}

#[test]
fn a_parallel_run_parses_every_stream_and_the_sums() {
    let r = parse("iperf3_parallel.json");
    assert_eq!(r.test.num_streams, 3);
    assert_eq!(r.summary.streams.len(), 3);
    assert_eq!(r.intervals[0].streams.len(), 3);
    let total: u64 = r.summary.streams.iter().map(|s| s.sender.bytes).sum();
    assert_eq!(total, r.bytes_sent());
}

#[test]
fn a_bidirectional_run_parses_both_directions() {
    let r = parse("iperf3_bidir.json");
    assert_eq!(r.test.direction, Direction::Bidirectional);
    let reverse = r.summary.bidir_reverse.as_ref().unwrap();
    assert_eq!(reverse.sent.bytes, 374_865_920);
    assert_eq!(reverse.received.bytes, 370_239_488);
    assert!(r.intervals[0].sum_bidir_reverse.is_some());
}

#[test]
fn a_byte_limited_run_parses() {
    let r = parse("iperf3_bytes.json");
    assert_eq!(r.test.bytes, 10 * 1024 * 1024);
    assert_eq!(r.test.duration, 0.0);
    assert_eq!(r.bytes_sent(), 10 * 1024 * 1024);
}

#[test]
fn a_server_side_run_parses_as_the_server_view() {
    let r = parse("iperf3_server_tcp.json");
    assert_eq!(r.role, Role::Server);
    assert!(r.bytes_received() > 0);
}

#[test]
fn an_error_run_is_an_error_quoting_iperf3() {
    let error = IperfResult::from_iperf3_json(&fixture("iperf3_error.json")).unwrap_err();
    match &error {
        IperfError::Iperf3Reported { message } => {
            assert_eq!(message, "unable to connect to server: Connection refused");
        }
        other => panic!("expected Reported, got {other:?}"),
    }
    assert!(error.to_string().contains("Connection refused"));
}

#[test]
fn truncated_output_is_reported_as_truncated() {
    let text = fixture("iperf3_tcp.json");
    let error = IperfResult::from_iperf3_json(&text[..text.len() / 2]).unwrap_err();
    assert!(
        matches!(error, IperfError::TruncatedOutput { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("truncated"));
}

#[test]
fn garbage_output_is_reported_with_its_start() {
    let error = IperfResult::from_iperf3_json("iperf3: error - the server is busy").unwrap_err();
    assert!(matches!(error, IperfError::NotJson { .. }));
    assert!(
        error.to_string().contains("iperf3: error - the server"),
        "{error}"
    );
}

#[test]
fn json_without_the_sums_names_the_missing_key() {
    let text = r#"{"start":{"test_start":{"protocol":"TCP"}},"intervals":[],"end":{"streams":[]}}"#;
    let error = IperfResult::from_iperf3_json(text).unwrap_err();
    assert!(error.to_string().contains("end.sum_sent"), "{error}");
}

#[test]
fn every_fixture_survives_a_round_trip_through_the_iperf3_layout() {
    for name in [
        "iperf3_tcp.json",
        "iperf3_udp.json",
        "iperf3_reverse.json",
        "iperf3_parallel.json",
        "iperf3_bidir.json",
        "iperf3_udp_reverse.json",
    ] {
        let original = parse(name);
        let written = serde_json::to_string(&original.to_iperf3_json()).unwrap();
        let again = IperfResult::from_iperf3_json(&written).unwrap();
        assert_eq!(again.summary.main, original.summary.main, "{name}");
        assert_eq!(again.intervals, original.intervals, "{name}");
        assert_eq!(again.test.direction, original.test.direction, "{name}");
    }
}
