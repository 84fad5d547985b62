//! `IperfServer` and `IperfClient` in an environment, for every pairing of engines: the
//! client's port is a reference to the server's export.

mod iperf_support;

use std::time::Duration;

use testrig::{Environment, Ref, Status};
use testrig_drivers::iperf::{
    ClientOptions, Engine, IperfClient, IperfError, IperfResult, IperfServer, Protocol,
};

const MIB: u64 = 1 << 20;
const RUN_DEADLINE: Duration = Duration::from_secs(20);

/// The drivers report their type names as their kinds (the `Driver` default).
#[test]
fn the_drivers_report_their_type_names_as_kinds() {
    use testrig::Driver;
    assert_eq!(IperfServer::new("server").kind(), "IperfServer");
    assert_eq!(IperfClient::new("client", 5201).kind(), "IperfClient");
}

/// Runs one measurement with `client` against a server on `server_engine`, in an
/// environment that starts and stops both.
async fn measure(server_engine: Engine, client: IperfClient) -> IperfResult {
    let env = Environment::builder("iperf-drivers")
        .driver(IperfServer::new("server").engine(server_engine))
        .driver(client)
        .build()
        .expect("the environment builds");
    env.run(|env| async move {
        let client = env.get::<IperfClient>("client")?;
        let result = client.run(RUN_DEADLINE).await?;
        assert_eq!(client.last_result().as_ref(), Some(&result));
        Ok::<_, testrig::Error>(result)
    })
    .await
    .expect("the measurement runs")
}

fn client(engine: Engine) -> IperfClient {
    IperfClient::new("client", Ref::export("server", "port")).engine(engine)
}

fn assert_tcp_bytes(result: &IperfResult, at_least: u64) {
    assert_eq!(result.test.protocol, Protocol::Tcp);
    assert!(result.bytes_sent() >= at_least, "{result:?}");
    assert!(result.bytes_received() > 0, "{result:?}");
    assert!(result.bytes_received() <= result.bytes_sent(), "{result:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_client_measures_a_native_server_whose_port_it_references() {
    let result = measure(
        Engine::Native,
        client(Engine::Native).options(ClientOptions::new().duration(Duration::from_millis(500))),
    )
    .await;
    assert_tcp_bytes(&result, MIB);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_client_measures_an_iperf3_server() {
    let iperf3 = Engine::iperf3_at(iperf3_or_skip!());
    let result = measure(
        iperf3,
        client(Engine::Native).options(ClientOptions::new().bytes(20 * MIB)),
    )
    .await;
    assert_tcp_bytes(&result, 20 * MIB);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iperf3_client_measures_a_native_server() {
    let iperf3 = Engine::iperf3_at(iperf3_or_skip!());
    let result = measure(
        Engine::Native,
        client(iperf3).options(ClientOptions::new().bytes(20 * MIB)),
    )
    .await;
    assert_tcp_bytes(&result, 20 * MIB);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iperf3_client_measures_an_iperf3_server() {
    let iperf3 = Engine::iperf3_at(iperf3_or_skip!());
    let result = measure(
        iperf3.clone(),
        client(iperf3).options(ClientOptions::new().bytes(20 * MIB).parallel(2)),
    )
    .await;
    assert_tcp_bytes(&result, 20 * MIB);
    assert_eq!(result.test.num_streams, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iperf3_client_sends_udp_at_its_bitrate_to_a_native_server() {
    let iperf3 = Engine::iperf3_at(iperf3_or_skip!());
    let result = measure(
        Engine::Native,
        client(iperf3).options(
            ClientOptions::new()
                .udp()
                .bitrate(20_000_000)
                .duration(Duration::from_secs(1)),
        ),
    )
    .await;
    assert_eq!(result.test.protocol, Protocol::Udp);
    let sent = result.sent_bits_per_second();
    assert!(
        (14e6..26e6).contains(&sent),
        "sent {sent} bit/s, asked 20 Mbit/s"
    );
    assert!(
        result.lost_percent().is_some_and(|loss| loss < 5.0),
        "{result:?}"
    );
    assert!(result.jitter_ms().is_some(), "{result:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_native_server_hands_out_its_view_of_each_test() {
    let env = Environment::builder("served")
        .driver(IperfServer::new("server"))
        .driver(client(Engine::Native).options(ClientOptions::new().bytes(4 * MIB).reverse()))
        .build()
        .unwrap();
    env.run(|env| async move {
        let (server, client) = (
            env.get::<IperfServer>("server")?,
            env.get::<IperfClient>("client")?,
        );
        let result = client.run(RUN_DEADLINE).await?;
        let served = server.next_test(Duration::from_secs(5)).await?;
        let view = served.outcome.expect("the server's side succeeded");
        assert_eq!(
            view.bytes_sent(),
            result.bytes_sent(),
            "the server sent with -R"
        );
        assert_eq!(
            env.resource("server")?.report().exports["port"],
            env.resource("client")?.report().exports["port"]
        );
        Ok::<_, testrig::Error>(())
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_listens_on_the_same_port_and_serves_again() {
    let env = Environment::builder("restart")
        .driver(IperfServer::new("server"))
        .driver(client(Engine::Native).options(ClientOptions::new().bytes(MIB)))
        .build()
        .unwrap();
    env.run(|env| async move {
        let server = env.get::<IperfServer>("server")?;
        let before = server.local_addr();
        env.resource("server")?.restart().await?;
        assert_eq!(server.local_addr(), before);
        let result = env.get::<IperfClient>("client")?.run(RUN_DEADLINE).await?;
        assert!(result.bytes_received() > 0);
        Ok::<_, testrig::Error>(())
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_iperf3_server_that_dies_while_started_fails_the_driver() {
    let iperf3 = Engine::iperf3_at(iperf3_or_skip!());
    let env = Environment::builder("dies")
        .driver(IperfServer::new("server").engine(iperf3))
        .build()
        .unwrap();
    env.start().await.unwrap();
    let server = env.get::<IperfServer>("server").unwrap();
    let pid = server.pid().expect("a binary server has a pid");
    assert_eq!(
        env.resource("server").unwrap().report().exports["pid"],
        pid.into()
    );
    // SAFETY: kill(2) on the pid of the iperf3 child this test started.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
    let resource = env.resource("server").unwrap();
    resource
        .wait(Status::Failed, Duration::from_secs(5))
        .await
        .expect("the driver fails when its iperf3 dies");
    let history = resource.report().transitions;
    let failed = history.last().expect("the failure is recorded");
    let message = failed.note.as_deref().unwrap_or_default();
    assert!(
        message.contains(&format!("the iperf3 server (pid {pid})")),
        "{message}"
    );
    assert!(message.contains("SIGKILL"), "{message}");
    env.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_the_client_cancels_a_measurement_in_progress() {
    let env = Environment::builder("cancel")
        .driver(IperfServer::new("server"))
        .driver(
            client(Engine::Native).options(ClientOptions::new().duration(Duration::from_secs(30))),
        )
        .build()
        .unwrap();
    env.start().await.unwrap();
    let client = env.get::<IperfClient>("client").unwrap();
    // Stopped once the measurement has reported its first interval: in progress.
    let (first, measuring) = tokio::sync::oneshot::channel();
    let running = tokio::spawn({
        let client = client.clone();
        let mut first = Some(first);
        async move {
            client
                .run_with_intervals(Duration::from_secs(60), move |_| {
                    if let Some(first) = first.take() {
                        let _ = first.send(());
                    }
                })
                .await
        }
    });
    tokio::time::timeout(Duration::from_secs(10), measuring)
        .await
        .expect("a first interval within 10 s")
        .expect("the measurement reports an interval");
    env.resource("client").unwrap().stop().await.unwrap();
    let outcome = tokio::time::timeout(Duration::from_secs(5), running)
        .await
        .expect("the measurement ends at once")
        .unwrap();
    assert!(
        matches!(outcome, Err(IperfError::Cancelled { ref driver }) if driver == "client"),
        "{outcome:?}"
    );
    // The client told the server, as iperf3 does on SIGTERM, and the server kept what it
    // had measured.
    let server = env.get::<IperfServer>("server").unwrap();
    let served = server.next_test(Duration::from_secs(5)).await.unwrap();
    match served.outcome {
        Err(IperfError::ClientTerminated {
            partial: Some(partial),
            ..
        }) => assert!(partial.bytes_received() > 0, "{partial:?}"),
        other => panic!("expected the test the client terminated, got {other:?}"),
    }
    env.stop().await.unwrap();
}

#[tokio::test]
async fn an_invalid_option_fails_the_start_naming_the_driver_option_and_value() {
    let env = Environment::builder("invalid")
        .driver(IperfServer::new("server"))
        .driver(client(Engine::Native).options(ClientOptions::new().parallel(0)))
        .build()
        .unwrap();
    let error = env.start().await.unwrap_err().to_string();
    assert!(
        error.contains("driver `client`: option `parallel` = 0: must be 1 to 128 streams"),
        "{error}"
    );
    assert!(ClientOptions::new().block_size(0).check().is_err());
}

#[tokio::test]
async fn a_test_that_only_ends_when_interrupted_fails_the_start_naming_the_driver() {
    for engine in [Engine::Native, Engine::iperf3()] {
        let env = Environment::builder("until-interrupted")
            .driver(IperfServer::new("server"))
            .driver(client(engine).options(ClientOptions::new().until_interrupted()))
            .build()
            .unwrap();
        let error = env.start().await.unwrap_err().to_string();
        assert!(
            error.contains(
                "driver `client`: option `duration` = until interrupted: an IperfClient driver \
                 cannot interrupt its measurement; give it a duration, a byte count or a block \
                 count"
            ),
            "{error}"
        );
    }
}

#[tokio::test]
async fn a_measurement_before_start_says_the_driver_is_not_started() {
    let error = client(Engine::Native).run(RUN_DEADLINE).await.unwrap_err();
    assert_eq!(error.to_string(), "driver `client` is not started");
}

#[tokio::test]
async fn an_iperf3_server_does_not_read_its_results_and_says_so() {
    let server = IperfServer::new("server").engine(Engine::iperf3());
    let error = server
        .next_test(Duration::from_millis(10))
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "driver `server`: reading the server's test results is not available with the \
         iperf3 binary `iperf3` engine"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_native_client_reports_each_interval_as_it_closes() {
    let env = Environment::builder("intervals")
        .driver(IperfServer::new("server"))
        .driver(
            client(Engine::Native).options(
                ClientOptions::new()
                    .duration(Duration::from_millis(600))
                    .interval(Some(Duration::from_millis(200))),
            ),
        )
        .build()
        .unwrap();
    env.run(|env| async move {
        let client = env.get::<IperfClient>("client")?;
        let began = std::time::Instant::now();
        let mut seen = Vec::new();
        let result = client
            .run_with_intervals(RUN_DEADLINE, |interval| {
                seen.push((began.elapsed(), interval.sum.end));
            })
            .await?;
        let ended = began.elapsed();
        assert_eq!(seen.len(), result.intervals.len(), "{seen:?}");
        assert!(seen.len() >= 3, "{seen:?}");
        // The first came while the test still ran (two more 200 ms intervals to go), not
        // after it.
        assert!(
            seen[0].0 + Duration::from_millis(200) <= ended,
            "{seen:?}, ended at {ended:?}"
        );
        Ok::<_, testrig::Error>(())
    })
    .await
    .unwrap();
}
