//! The throughput picture, checked as a picture (rendered with resvg: not blank, its series
//! drawn in their colors): of real iperf3 results (fixtures captured from 3.12), which are
//! drawn per interval, and of native tests, which short ones draw from fine samples.

mod iperf_support;

use std::time::Duration;

use testrig::testing::Picture;
use testrig_drivers::iperf::engine::NativeClient;
use testrig_drivers::iperf::{ClientOptions, IperfResult};

/// The sum's color, and the reverse sum's.
const SUM: (u8, u8, u8) = (0, 0, 0);
const REVERSE_SUM: (u8, u8, u8) = (217, 83, 79);

fn fixture(name: &str) -> IperfResult {
    let path = format!("{}/tests/fixtures/iperf/{name}", env!("CARGO_MANIFEST_DIR"));
    let json = std::fs::read_to_string(path).unwrap();
    IperfResult::from_iperf3_json(&json).unwrap()
}

fn texts(svg: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(svg).expect("well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    doc.descendants()
        .filter_map(|n| n.text())
        .map(|t| t.trim().to_owned())
        .collect()
}

/// The client's and the server's result of one native test on loopback.
async fn native(
    configure: impl FnOnce(ClientOptions) -> ClientOptions,
) -> (IperfResult, IperfResult) {
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

fn assert_fine_samples_are_a_timeline(result: &IperfResult) {
    let samples = &result.fine_samples;
    assert!(samples.len() >= 2, "{samples:?}");
    assert_eq!(samples[0].seconds, 0.0);
    assert!(samples.len() <= 1024, "{} samples", samples.len());
    assert!(
        samples
            .windows(2)
            .all(|w| w[0].seconds <= w[1].seconds && w[0].main_bytes <= w[1].main_bytes),
        "{samples:?}"
    );
}

#[test]
fn a_parallel_run_draws_a_line_per_stream_and_their_sum() {
    let svg = fixture("iperf3_parallel.json").throughput_svg("parallel");
    let texts = texts(&svg);
    let streams = texts.iter().filter(|t| t.starts_with("stream ")).count();
    assert!(streams >= 2, "a legend entry per stream: {texts:?}");
    assert!(texts.iter().any(|t| t == "sum"));
    assert!(texts.iter().any(|t| t.contains("bit/s")));
    let picture = Picture::render(&svg);
    assert!(picture.has_line_across(SUM));
    // Palette99's first colors, one per stream: each in the legend at least, and together
    // across the picture (streams at the same rate hide one another).
    let stream_colors = [(230, 25, 75), (60, 180, 75), (255, 225, 25)];
    let mut columns = std::collections::BTreeSet::new();
    for color in stream_colors {
        let seen = picture.columns_with(color);
        assert!(seen.len() >= 16, "{color:?} in {} columns", seen.len());
        columns.extend(seen);
    }
    assert!(
        columns.len() > 450,
        "stream lines in {} columns",
        columns.len()
    );
}

#[test]
fn a_bidirectional_run_also_draws_the_reverse_sum() {
    let svg = fixture("iperf3_bidir.json").throughput_svg("bidir");
    assert!(texts(&svg).iter().any(|t| t == "reverse sum"));
    let picture = Picture::render(&svg);
    assert!(picture.has_line_across(SUM));
    assert!(picture.has_line_across(REVERSE_SUM));
}

#[test]
fn a_result_without_intervals_or_samples_draws_its_summary_across_the_test() {
    let mut result = fixture("iperf3_parallel.json");
    result.intervals.clear();
    let svg = result.throughput_svg("summary only");
    assert!(texts(&svg).iter().any(|t| t == "sum"));
    assert!(Picture::render(&svg).has_line_across(SUM));
}

#[test]
fn the_iperf3_binarys_results_have_no_fine_samples_and_draw_their_intervals() {
    let result = fixture("iperf3_parallel.json");
    assert!(result.fine_samples.is_empty());
    let svg = result.throughput_svg("intervals");
    let lines = roxmltree::Document::parse(&svg)
        .unwrap()
        .descendants()
        .filter(|n| n.has_tag_name("polyline"))
        .count();
    assert!(lines > 2, "a line per stream and the sum: {lines}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_16_mib_transfer_of_milliseconds_draws_its_throughput_from_fine_samples() {
    let (client, server) = native(|b| b.bytes(16 << 20)).await;
    assert!(client.intervals.len() <= 1, "{:?}", client.intervals);
    for (side, result) in [("client", &client), ("server", &server)] {
        assert_fine_samples_are_a_timeline(result);
        let svg = result.throughput_svg(side);
        assert!(
            texts(&svg).iter().any(|t| t == "sum"),
            "{side}: a legend entry"
        );
        let picture = Picture::render(&svg);
        assert!(picture.has_line_across(SUM), "{side}: the sum is drawn");
    }
    assert_eq!(
        client.fine_samples.last().unwrap().main_bytes,
        client.bytes_sent()
    );
    let document = client.to_iperf3_json().to_string();
    assert!(!document.contains("fine"), "-J never shows the samples");
    assert!(!server.to_iperf3_json().to_string().contains("fine"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_second_test_keeps_its_one_interval_and_draws_from_fine_samples() {
    let (client, _server) = native(|b| b.duration(Duration::from_secs(1))).await;
    // iperf3's -i semantics stand: one interval of a second.
    assert_eq!(client.intervals.len(), 1, "{:?}", client.intervals);
    assert_fine_samples_are_a_timeline(&client);
    // About one sample a millisecond (fewer on a busy machine).
    assert!(
        client.fine_samples.len() > 100,
        "{}",
        client.fine_samples.len()
    );
    let last = client.fine_samples.last().unwrap();
    assert!((last.seconds - 1.0).abs() < 0.2, "{last:?}");
    assert_eq!(last.main_bytes, client.intervals[0].sum.bytes);
    let picture = Picture::render(&client.throughput_svg("1 s"));
    assert!(picture.has_line_across(SUM));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_bidirectional_test_shows_both_sums() {
    let (client, server) = native(|b| b.duration(Duration::from_millis(300)).bidirectional()).await;
    for (side, result) in [("client", &client), ("server", &server)] {
        assert_fine_samples_are_a_timeline(result);
        assert!(
            result
                .fine_samples
                .iter()
                .all(|s| s.reverse_bytes.is_some()),
            "{side}"
        );
        let svg = result.throughput_svg(side);
        let texts = texts(&svg);
        assert!(texts.iter().any(|t| t == "sum"), "{side}: {texts:?}");
        assert!(
            texts.iter().any(|t| t == "reverse sum"),
            "{side}: {texts:?}"
        );
        let picture = Picture::render(&svg);
        assert!(picture.has_line_across(SUM), "{side}: the sum");
        assert!(
            picture.has_line_across(REVERSE_SUM),
            "{side}: the reverse sum"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fine_samples_start_where_measuring_starts_after_an_omitted_warm_up() {
    let (client, _server) = native(|b| {
        b.duration(Duration::from_millis(300))
            .omit(Duration::from_secs(1))
    })
    .await;
    assert_fine_samples_are_a_timeline(&client);
    let last = client.fine_samples.last().unwrap();
    assert!(last.seconds < 0.6, "the warm-up is left out: {last:?}");
    assert_eq!(last.main_bytes, client.bytes_sent());
    assert!(Picture::render(&client.throughput_svg("omit")).has_line_across(SUM));
}
