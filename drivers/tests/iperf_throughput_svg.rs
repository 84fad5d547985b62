//! The throughput picture of real iperf3 results (fixtures captured from 3.12).

use testrig_drivers::iperf::IperfResult;

fn picture(fixture: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/iperf/{fixture}",
        env!("CARGO_MANIFEST_DIR")
    );
    let json = std::fs::read_to_string(path).unwrap();
    IperfResult::from_iperf3_json(&json)
        .unwrap()
        .throughput_svg(fixture)
}

#[test]
fn a_parallel_run_draws_a_line_per_stream_and_their_sum() {
    let svg = picture("iperf3_parallel.json");
    let doc = roxmltree::Document::parse(&svg).expect("well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let texts: Vec<&str> = doc
        .descendants()
        .filter_map(|n| n.text())
        .map(str::trim)
        .collect();
    let streams = texts.iter().filter(|t| t.starts_with("stream ")).count();
    assert!(streams >= 2, "a legend entry per stream: {texts:?}");
    assert!(texts.contains(&"sum"));
    assert!(texts.iter().any(|t| t.contains("bit/s")));
    let lines = doc
        .descendants()
        .filter(|n| n.has_tag_name("polyline"))
        .count();
    assert!(
        lines > streams,
        "{lines} polylines for {streams} streams and the sum"
    );
}

#[test]
fn a_bidirectional_run_also_draws_the_reverse_sum() {
    let svg = picture("iperf3_bidir.json");
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let texts: Vec<&str> = doc
        .descendants()
        .filter_map(|n| n.text())
        .map(str::trim)
        .collect();
    assert!(texts.contains(&"reverse sum"), "{texts:?}");
}
