//! Driver lifecycle events in `tracing`: each status change is an event in the driver's
//! span (`driver{name, kind}`), a failure at error level, and a reconnecting client's
//! retries are in its driver's span, not just named by address.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use testrig::service::RetryPolicy;
use testrig::testing::ScriptedDriver;
use testrig::{Environment, Error, Phase, Ref};
use testrig_drivers::tcp::{TcpClient, TcpServer};

/// What the subscriber printed, one line per event, without colors.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn lines(&self) -> Vec<String> {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A subscriber for this thread (the test's current-thread runtime runs every task).
fn capture() -> (Captured, tracing::subscriber::DefaultGuard) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .without_time()
        .with_writer(move || writer.clone())
        .finish();
    (captured, tracing::subscriber::set_default(subscriber))
}

fn find<'a>(lines: &'a [String], parts: &[&str]) -> Option<&'a String> {
    lines
        .iter()
        .find(|line| parts.iter().all(|part| line.contains(part)))
}

#[tokio::test]
async fn each_status_change_is_an_event_in_the_drivers_span_and_a_failure_is_an_error() {
    let (captured, _guard) = capture();
    let env = Environment::builder("traced")
        .driver(TcpServer::new("server"))
        .driver(ScriptedDriver::new("flaky").fail_in(Phase::Stop))
        .build()
        .unwrap();
    env.run(|_env| async move { Ok::<_, Error>(()) })
        .await
        .unwrap_err();

    let lines = captured.lines();
    let all = lines.join("\n");
    for status in ["starting", "started", "stopping", "stopped"] {
        assert!(
            find(
                &lines,
                &[" INFO ", "driver{name=server kind=TcpServer}", status]
            )
            .is_some(),
            "no `{status}` event in the server's span:\n{all}"
        );
    }
    let failed = find(&lines, &["ERROR", "driver{name=flaky", "failed"])
        .unwrap_or_else(|| panic!("the failure is an error event in the driver's span:\n{all}"));
    assert!(failed.contains("from=stopping"), "{failed}");
    assert!(failed.contains("note="), "the failure's message: {failed}");
}

#[tokio::test]
async fn a_reconnecting_clients_retries_are_in_its_drivers_span() {
    let (captured, _guard) = capture();
    let env = Environment::builder("reconnecting")
        .driver(TcpServer::new("server"))
        .driver(
            TcpClient::new("client", Ref::export("server", "port"))
                .auto_reconnect(|| RetryPolicy::constant(Duration::from_millis(10))),
        )
        .build()
        .unwrap();
    env.run(|env| async move {
        let client = env.get::<TcpClient>("client")?;
        client.when_connected(Duration::from_secs(5)).await?;
        env.resource("server")?.restart().await?;
        client.send(b"after the restart").await?;
        client.when_connected(Duration::from_secs(5)).await?;
        Ok::<_, Error>(())
    })
    .await
    .unwrap();

    let lines = captured.lines();
    let all = lines.join("\n");
    let lost = find(
        &lines,
        &["driver{name=client kind=TcpClient}", "connection lost"],
    )
    .unwrap_or_else(|| panic!("the client's lost connection is in its span:\n{all}"));
    assert!(
        lost.contains("service="),
        "the address is still there: {lost}"
    );
}

#[tokio::test]
async fn a_running_iperf_measurement_logs_each_interval_as_it_closes() {
    use testrig_drivers::iperf::{ClientOptions, IperfClient, IperfServer};
    let (captured, _guard) = capture();
    let env = Environment::builder("iperf-progress")
        .driver(IperfServer::new("server"))
        .driver(
            IperfClient::new("client", Ref::export("server", "port")).options(
                ClientOptions::new()
                    .duration(Duration::from_millis(300))
                    .interval(Some(Duration::from_millis(100)))
                    .bitrate(50_000_000),
            ),
        )
        .build()
        .unwrap();
    env.run(|env| async move {
        env.get::<IperfClient>("client")?
            .run(Duration::from_secs(10))
            .await?;
        Ok::<_, Error>(())
    })
    .await
    .unwrap();
    let lines = captured.lines();
    let intervals: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("iperf interval") && l.contains("driver=\"client\""))
        .collect();
    assert!(
        intervals.len() >= 2,
        "an event per interval:\n{}",
        lines.join("\n")
    );
}
