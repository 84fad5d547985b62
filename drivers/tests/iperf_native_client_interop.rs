//! The native client against the real `iperf3 -s`.

mod iperf_support;

use std::time::Duration;

use testrig_drivers::iperf::{ClientConfig, Direction, IperfResult, NativeClient, Protocol};

const BLOCK: u64 = 128 * 1024;

async fn run_against_iperf3(configure: impl FnOnce(u16) -> ClientConfig) -> Option<IperfResult> {
    let binary = iperf_support::iperf3()?;
    let server = iperf_support::Iperf3Server::start(&binary).await;
    let result = NativeClient::new(configure(server.port))
        .run()
        .await
        .expect("native client test against iperf3 -s");
    Some(result)
}

fn config(port: u16) -> testrig_drivers::iperf::ClientConfigBuilder {
    ClientConfig::builder("127.0.0.1", port).duration(Duration::from_secs(1))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_client_sends_tcp_to_iperf3_and_both_count_the_same_bytes() {
    let Some(result) = run_against_iperf3(|p| config(p).build().unwrap()).await else {
        return;
    };
    assert!(result.bytes_sent() > 10 * BLOCK, "{result:?}");
    iperf_support::assert_close(
        "sent vs received",
        result.bytes_sent(),
        result.bytes_received(),
        BLOCK,
    );
    assert_eq!(result.summary.streams.len(), 1);
    assert_eq!(result.summary.streams[0].id, 1);
    assert!(!result.intervals.is_empty());
    assert!(
        result.retransmits().is_some(),
        "linux reports TCP retransmits"
    );
    assert!(result.cpu.as_ref().is_some_and(|c| c.remote_total > 0.0));
}
