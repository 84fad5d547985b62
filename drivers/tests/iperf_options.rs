//! iperf3's test options against the real iperf3, both ways: what the native client asks
//! for shows on the real server's sockets, what a real client asks for shows on the native
//! server's sockets (read from the kernel with `ss`), and what iperf3 refuses is refused
//! with iperf3's words.

mod iperf_support;

use std::net::SocketAddr;
use std::time::Duration;

use iperf_support::{Iperf3Server, free_port, iperf3_client_output, native_server};
use testrig::{Environment, Ref};
use testrig_drivers::iperf::engine::{NativeClient, NativeServer, ServerConfig};
use testrig_drivers::iperf::{
    AddressFamily, ClientOptions, Engine, IperfClient, IperfError, IperfResult, IperfServer,
    StreamOptions,
};
use tokio::process::Command;

/// One socket as `ss` prints it (its line and its details line), polled until one matches
/// `wanted` or `deadline` passes.
async fn ss_socket(args: &[&str], filter: &str, wanted: impl Fn(&str) -> bool) -> String {
    let deadline = Duration::from_secs(5);
    let mut last = String::new();
    let found = tokio::time::timeout(deadline, async {
        loop {
            let output = Command::new("ss")
                .args(args)
                .arg(filter)
                .output()
                .await
                .expect("`ss` (iproute2) runs: these tests read socket options with it");
            last = String::from_utf8_lossy(&output.stdout).into_owned();
            let mut sockets = Vec::new();
            for line in last.lines().skip(1) {
                if line.starts_with(char::is_whitespace) {
                    if let Some(socket) = sockets.last_mut() {
                        *socket = format!("{socket} {}", line.trim());
                    }
                } else {
                    sockets.push(line.to_owned());
                }
            }
            if let Some(socket) = sockets.into_iter().find(|s| wanted(s)) {
                return socket;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    found.unwrap_or_else(|_| panic!("no socket matching within {deadline:?}; last `ss`:\n{last}"))
}

/// The number after `key` in an `ss` line (`mss:1188` → 1188).
fn ss_number(socket: &str, key: &str) -> u64 {
    let at = socket
        .find(key)
        .unwrap_or_else(|| panic!("{key} not in {socket}"));
    socket[at + key.len()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or_else(|_| panic!("{key} is not followed by a number in {socket}"))
}

/// Options without interval reports.
fn options() -> ClientOptions {
    ClientOptions::new().interval(None)
}

fn stream_options() -> StreamOptions {
    StreamOptions::new()
        .congestion("reno")
        .window(256 * 1024)
        .mss(1200)
        .no_delay(true)
        .tos(0x28)
}

#[tokio::test]
async fn what_the_native_client_asks_for_shows_on_the_real_iperf3_servers_socket() {
    let binary = iperf3_or_skip!();
    let server = Iperf3Server::start(&binary).await;
    let cport = free_port();
    let config = NativeClient::new(
        "127.0.0.1",
        server.port,
        options()
            .duration(Duration::from_secs(2))
            .bitrate(20_000_000)
            .stream_options(stream_options())
            .client_port(cport)
            .extra_data("run 7"),
    )
    .unwrap();
    let run = tokio::spawn(async move { config.run().await });

    // The real server's data socket: the one whose peer is our --cport. iperf3 sets the
    // congestion control after the accept and the TOS after that (when it makes the stream),
    // so the socket is polled until both show.
    let filter = format!("( sport = :{} and dport = :{cport} )", server.port);
    let socket = ss_socket(
        &["-tni", "--tos", "-m", "state", "established"],
        &filter,
        |s| s.contains("reno") && (s.contains("tclass:0x28") || s.contains("tos:0x28")),
    )
    .await;
    assert!(ss_number(&socket, " mss:") <= 1200, "{socket}");
    // Its own socket: the buffers asked for (the kernel doubles them) and TCP_NODELAY is
    // not shown by ss, but the congestion control and MSS are.
    let ours = ss_socket(
        &["-tni", "--tos", "-m", "state", "established"],
        &format!("( sport = :{cport} )"),
        |s| s.contains("reno") && s.contains("tos:0x28"),
    )
    .await;
    assert_eq!(ss_number(&ours, "rb"), 512 * 1024, "{ours}");
    assert_eq!(ss_number(&ours, "tb"), 512 * 1024, "{ours}");
    assert!(ours.contains("tos:0x28"), "{ours}");

    let result = run.await.unwrap().expect("the test runs");
    assert_eq!(result.sender_tcp_congestion.as_deref(), Some("reno"));
    assert_eq!(result.receiver_tcp_congestion.as_deref(), Some("reno"));
    assert_eq!(result.connected[0].local_port, cport);
    let doc = result.to_iperf3_json();
    assert_eq!(doc["extra_data"], "run 7");
    assert_eq!(doc["start"]["test_start"]["tos"], 0x28);
    assert_eq!(doc["start"]["sock_bufsize"], 256 * 1024);
    // As iperf3 with -M: the MSS asked for, instead of the default.
    assert_eq!(doc["start"]["tcp_mss"], 1200);
    assert!(
        doc["start"].get("tcp_mss_default").is_none(),
        "{}",
        doc["start"]
    );
}

#[tokio::test]
async fn what_a_real_iperf3_client_asks_for_shows_on_the_native_servers_socket() {
    let binary = iperf3_or_skip!();
    let mut server = native_server().await;
    let port = server.local_addr().port();
    let args = [
        "-t",
        "2",
        "-b",
        "20M",
        "-R",
        "-C",
        "reno",
        "-w",
        "256K",
        "-M",
        "1200",
        "-S",
        "0x28",
        "-N",
        "--extra-data",
        "from iperf3",
    ];
    let run = tokio::spawn(async move { iperf3_client_output(&binary, port, &args).await });

    // Polled until both the congestion control and the TOS show: a socket seen between
    // two setsockopt calls has one and not yet the other.
    let filter = format!("( sport = :{port} )");
    let socket = ss_socket(
        &["-tni", "--tos", "-m", "state", "established"],
        &filter,
        |s| s.contains("reno") && s.contains("tos:0x28"),
    )
    .await;
    assert!(ss_number(&socket, " mss:") <= 1200, "{socket}");
    // What the server advertised in its handshake: the MSS set on its listener.
    assert!(ss_number(&socket, "advmss:") <= 1200, "{socket}");
    assert_eq!(ss_number(&socket, "rb"), 512 * 1024, "{socket}");

    let output = run.await.unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let result = IperfResult::from_iperf3_json(&stdout).expect("iperf3 -c succeeds");
    // -b in reverse: the native server's sender holds 20 Mbit/s.
    let rate = result.summary.main.received.bits_per_second;
    assert!(
        (15e6..25e6).contains(&rate),
        "reverse -b 20M gave {rate} bit/s"
    );
    assert_eq!(result.sender_tcp_congestion.as_deref(), Some("reno"));
    let served = server.next_test(Duration::from_secs(10)).await.unwrap();
    let served = served.outcome.expect("the native server's test");
    let info = served.start_info.expect("start info");
    assert_eq!(info.extra_data.as_deref(), Some("from iperf3"));
    assert_eq!(info.tos, 0x28);
    server.shutdown().await;
}

#[tokio::test]
async fn bitrate_limits_the_native_servers_sender_in_a_bidirectional_test() {
    let binary = iperf3_or_skip!();
    let server = native_server().await;
    let port = server.local_addr().port();
    let output = iperf3_client_output(&binary, port, &["-t", "2", "--bidir", "-b", "20M"]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let result = IperfResult::from_iperf3_json(&stdout).expect("iperf3 -c --bidir succeeds");
    let reverse = result.summary.bidir_reverse.expect("a reverse direction");
    for (what, rate) in [
        (
            "client to server",
            result.summary.main.received.bits_per_second,
        ),
        ("server to client", reverse.received.bits_per_second),
    ] {
        assert!(
            (15e6..25e6).contains(&rate),
            "{what}: {rate} bit/s for -b 20M"
        );
    }
    server.shutdown().await;
}

#[tokio::test]
async fn an_unknown_congestion_algorithm_is_refused_with_iperf3s_message() {
    let binary = iperf3_or_skip!();
    let server = Iperf3Server::start(&binary).await;
    let output =
        iperf3_client_output(&binary, server.port, &["-n", "1M", "-C", "no-such-cc"]).await;
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let iperf3_says = doc["error"]
        .as_str()
        .expect("iperf3 reports an error")
        .to_owned();
    server.listening_after(1, Duration::from_secs(10)).await;

    let config = NativeClient::new(
        "127.0.0.1",
        server.port,
        options()
            .bytes(1 << 20)
            .stream_options(StreamOptions::new().congestion("no-such-cc")),
    )
    .unwrap();
    let error = config.run().await.unwrap_err();
    assert!(
        matches!(error, IperfError::SocketOption { code: 134, .. }),
        "{error:?}"
    );
    assert!(
        error.to_string().contains(&iperf3_says),
        "ours: {error}\niperf3: {iperf3_says}"
    );
}

#[tokio::test]
async fn a_window_the_kernel_will_not_grant_is_refused_as_iperf3_refuses_it() {
    let binary = iperf3_or_skip!();
    let server = Iperf3Server::start(&binary).await;
    // Far above net.core.{r,w}mem_max, which caps what even root gets with SO_RCVBUF.
    let output = iperf3_client_output(&binary, server.port, &["-n", "1M", "-w", "400M"]).await;
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let iperf3_says = doc["error"]
        .as_str()
        .expect("iperf3 reports an error")
        .to_owned();
    server.listening_after(1, Duration::from_secs(10)).await;

    let config = NativeClient::new(
        "127.0.0.1",
        server.port,
        options()
            .bytes(1 << 20)
            .stream_options(StreamOptions::new().window(400 << 20)),
    )
    .unwrap();
    let error = config.run().await.unwrap_err();
    assert!(
        error.to_string().contains(&iperf3_says),
        "ours: {error}\niperf3: {iperf3_says}"
    );
}

/// A file for iperf3's `-F` in the temporary directory, removed when dropped.
struct ReceivedFile(std::path::PathBuf);

impl ReceivedFile {
    fn new() -> Self {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Self(std::env::temp_dir().join(format!("testrig-iperf-options-{}-{n}", std::process::id())))
    }
}

impl Drop for ReceivedFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Checks that `bytes` is iperf3's repeating payload throughout.
fn assert_repeating(what: &str, bytes: &[u8]) {
    assert!(bytes.len() >= 1000, "{what}: only {} bytes", bytes.len());
    let first_bad = bytes
        .iter()
        .enumerate()
        .position(|(i, &b)| b != b'0' + (i % 10) as u8);
    assert_eq!(first_bad, None, "{what}: {:?}", &bytes[..40]);
}

#[tokio::test]
async fn the_native_server_sends_the_repeating_payload_a_real_client_asks_for() {
    let binary = iperf3_or_skip!();
    let server = native_server().await;
    let port = server.local_addr().port();
    let file = ReceivedFile::new();
    let file_arg = file.0.to_string_lossy().into_owned();
    // With -R and -F, the real client writes what it receives to the file.
    let args = [
        "-R",
        "-n",
        "200K",
        "-l",
        "1000",
        "--repeating-payload",
        "-F",
        &file_arg,
    ];
    let output = iperf3_client_output(&binary, port, &args).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert_repeating("what iperf3 received", &std::fs::read(&file.0).unwrap());
    server.shutdown().await;
}

#[tokio::test]
async fn the_native_client_sends_the_repeating_payload() {
    let binary = iperf3_or_skip!();
    let file = ReceivedFile::new();
    let file_arg = file.0.to_string_lossy().into_owned();
    // With -F, the real server writes what it receives to the file.
    let server = Iperf3Server::start_with(&binary, &["-1", "-F", &file_arg]).await;
    let config = NativeClient::new(
        "127.0.0.1",
        server.port,
        options()
            .bytes(200 * 1000)
            .block_size(1000)
            .stream_options(StreamOptions::new().repeating_payload(true)),
    )
    .unwrap();
    config.run().await.expect("the test runs");
    assert_repeating("what iperf3 received", &std::fs::read(&file.0).unwrap());
}

#[tokio::test]
async fn udp_streams_carry_tos_dont_fragment_and_64_bit_counters_to_a_real_server() {
    let binary = iperf3_or_skip!();
    let server = Iperf3Server::start(&binary).await;
    let cport = free_port();
    let config = NativeClient::new(
        "127.0.0.1",
        server.port,
        options()
            .udp()
            .bitrate(10_000_000)
            .duration(Duration::from_secs(1))
            .client_port(cport)
            .udp_counters_64bit(true)
            // 4 MiB buffers (iperf3 applies `-w` to its side too): no datagram is lost
            // to a receiver descheduled on a busy machine, so a loss can only be a
            // miscounted sequence number.
            .stream_options(
                StreamOptions::new()
                    .tos(0x10)
                    .dont_fragment(true)
                    .window(4 << 20),
            ),
    )
    .unwrap();
    let run = tokio::spawn(async move { config.run().await });
    let socket = ss_socket(&["-uni", "--tos"], &format!("( sport = :{cport} )"), |s| {
        s.contains("tos:0x10")
    })
    .await;
    assert!(socket.contains(&format!(":{}", server.port)), "{socket}");
    let result = run.await.unwrap().expect("the UDP test runs");
    let received = &result.summary.main.received;
    assert!(received.packets.unwrap_or(0) > 0, "{received:?}");
    assert_eq!(received.lost_packets, Some(0), "{received:?}");
}

#[tokio::test]
async fn fq_rate_caps_the_pacing_rate_of_the_native_clients_socket() {
    let binary = iperf3_or_skip!();
    let server = Iperf3Server::start(&binary).await;
    let cport = free_port();
    let config = NativeClient::new(
        "127.0.0.1",
        server.port,
        options()
            .duration(Duration::from_secs(1))
            .client_port(cport)
            .stream_options(StreamOptions::new().fq_rate(8_000_000)),
    )
    .unwrap();
    let run = tokio::spawn(async move { config.run().await });
    let socket = ss_socket(
        &["-tni", "state", "established"],
        &format!("( sport = :{cport} )"),
        |s| s.contains("pacing_rate"),
    )
    .await;
    assert_eq!(ss_number(&socket, "pacing_rate "), 8_000_000, "{socket}");
    run.await.unwrap().expect("the test runs");
}

#[tokio::test]
async fn a_burst_and_a_pacing_timer_are_accepted_by_a_real_server_and_hold_the_rate() {
    let binary = iperf3_or_skip!();
    let server = Iperf3Server::start(&binary).await;
    let config = NativeClient::new(
        "127.0.0.1",
        server.port,
        options()
            .duration(Duration::from_secs(1))
            .bitrate(20_000_000)
            // Small blocks: a burst may run ahead of the schedule by its size.
            .block_size(16 * 1024)
            .stream_options(
                StreamOptions::new()
                    .burst(4)
                    .pacing_timer(Duration::from_millis(5)),
            ),
    )
    .unwrap();
    let result = config.run().await.expect("the test runs");
    let rate = result.summary.main.sent.bits_per_second;
    assert!((15e6..25e6).contains(&rate), "{rate} bit/s for -b 20M/4");
}

#[tokio::test]
async fn version4_and_version6_choose_the_address_family() {
    let server = NativeServer::bind(
        "[::]:0".parse::<SocketAddr>().unwrap(),
        ServerConfig::default(),
    )
    .await
    .expect("binds [::]");
    let port = server.local_addr().port();
    let run = |host: &str, family| {
        let config = NativeClient::new(
            host,
            port,
            ClientOptions::new()
                .interval(None)
                .bytes(64 * 1024)
                .family(family),
        )
        .unwrap();
        async move { config.run().await }
    };
    let v6 = run("::1", AddressFamily::V6).await.expect("-6 to ::1");
    assert_eq!(v6.connected[0].remote_host, "::1");
    let v4 = run("127.0.0.1", AddressFamily::V4)
        .await
        .expect("-4 to 127.0.0.1");
    assert_eq!(v4.connected[0].remote_host, "127.0.0.1");
    let error = run("::1", AddressFamily::V4).await.unwrap_err();
    let error = testrig::error::full_message(&error);
    assert!(
        error.contains("cannot resolve server \"::1\": Address family for hostname not supported"),
        "{error}"
    );
    server.shutdown().await;
}

/// One measurement by an `IperfClient` driver on `client_engine` against an `IperfServer`
/// driver on `server_engine`, with the stream options and extra data set on the driver.
async fn driver_measurement(client_engine: Engine, server_engine: Engine) -> IperfResult {
    let client = IperfClient::new("client", Ref::export("server", "port"))
        .options(
            ClientOptions::new()
                .bytes(4 << 20)
                .stream_options(
                    StreamOptions::new()
                        .congestion("reno")
                        .tos(0x28)
                        .window(256 * 1024),
                )
                .extra_data("via the driver"),
        )
        .engine(client_engine);
    let env = Environment::builder("iperf-options")
        .driver(IperfServer::new("server").engine(server_engine))
        .driver(client)
        .build()
        .expect("the environment builds");
    env.run(|env| async move {
        let client = env.get::<IperfClient>("client")?;
        Ok::<_, testrig::Error>(client.run(Duration::from_secs(20)).await?)
    })
    .await
    .expect("the measurement runs")
}

fn assert_driver_options_applied(engines: &str, result: &IperfResult) {
    assert_eq!(
        result.sender_tcp_congestion.as_deref(),
        Some("reno"),
        "{engines}"
    );
    assert_eq!(
        result.receiver_tcp_congestion.as_deref(),
        Some("reno"),
        "{engines}"
    );
    let info = result.start_info.as_ref().expect("start info");
    assert_eq!(
        info.extra_data.as_deref(),
        Some("via the driver"),
        "{engines}"
    );
    assert_eq!(info.tos, 0x28, "{engines}");
    assert_eq!(info.sock_bufsize, 256 * 1024, "{engines}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_options_set_on_the_driver_reach_both_engines() {
    let iperf3 = Engine::iperf3_at(iperf3_or_skip!());
    let native_to_iperf3 = driver_measurement(Engine::Native, iperf3.clone()).await;
    assert_driver_options_applied("native client, iperf3 server", &native_to_iperf3);
    let iperf3_to_native = driver_measurement(iperf3, Engine::Native).await;
    assert_driver_options_applied("iperf3 client, native server", &iperf3_to_native);
}

#[tokio::test]
async fn a_client_asking_to_pin_the_native_server_to_a_cpu_is_refused_with_iperf3s_error() {
    let binary = iperf3_or_skip!();
    let mut server = native_server().await;
    let port = server.local_addr().port();
    let output = iperf3_client_output(&binary, port, &["-n", "1M", "-A", "0,0"]).await;
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        doc["error"].as_str(),
        Some("unable to set CPU affinity: Operation not permitted"),
        "{doc}"
    );
    let served = server.next_test(Duration::from_secs(10)).await.unwrap();
    let error = served.outcome.unwrap_err().to_string();
    assert!(error.contains("pin the server to CPU 0"), "{error}");
    server.shutdown().await;
}

#[tokio::test]
async fn the_native_server_sets_the_tos_a_real_udp_client_asks_for() {
    let binary = iperf3_or_skip!();
    let server = native_server().await;
    let port = server.local_addr().port();
    let args = [
        "-u",
        "-b",
        "10M",
        "-t",
        "1",
        "-S",
        "0x10",
        "--dont-fragment",
    ];
    let run = tokio::spawn(async move { iperf3_client_output(&binary, port, &args).await });
    let socket = ss_socket(&["-uni", "--tos"], &format!("( sport = :{port} )"), |s| {
        s.contains("tos:0x10")
    })
    .await;
    // A stream socket, connected to the client (not the shared listening one).
    assert!(!socket.contains("*:*"), "{socket}");
    let output = run.await.unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let result = IperfResult::from_iperf3_json(&stdout).expect("iperf3 -c -u succeeds");
    assert!(result.summary.main.received.packets.unwrap_or(0) > 0);
    server.shutdown().await;
}

#[tokio::test]
async fn the_mss_one_test_asks_for_does_not_stay_on_the_native_servers_listener() {
    let binary = iperf3_or_skip!();
    let server = native_server().await;
    let port = server.local_addr().port();
    let first = iperf3_client_output(&binary, port, &["-n", "1M", "-M", "1200"]).await;
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stdout)
    );
    // The next test asks for no MSS; reno marks its data socket for `ss`.
    let args = ["-t", "1", "-b", "10M", "-C", "reno"];
    let run = tokio::spawn(async move { iperf3_client_output(&binary, port, &args).await });
    let socket = ss_socket(
        &["-tni", "state", "established"],
        &format!("( sport = :{port} )"),
        |s| s.contains("reno"),
    )
    .await;
    assert!(ss_number(&socket, "advmss:") > 1200, "{socket}");
    assert!(run.await.unwrap().status.success());
    server.shutdown().await;
}

#[tokio::test]
async fn a_receiving_client_gives_up_on_idle_streams_as_iperf3_does() {
    let binary = iperf3_or_skip!();
    let server = Iperf3Server::start(&binary).await;
    // -b 1 bit/s in reverse: the server sends one block, then nothing for ages.
    let args = ["-R", "-b", "1", "-t", "10", "--rcv-timeout", "1000"];
    let output = iperf3_client_output(&binary, server.port, &args).await;
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let iperf3_says = doc["error"].as_str().expect("iperf3 gives up").to_owned();
    server.listening_after(1, Duration::from_secs(10)).await;

    let config = NativeClient::new(
        "127.0.0.1",
        server.port,
        options()
            .reverse()
            .bitrate(1)
            .duration(Duration::from_secs(10))
            .stream_options(StreamOptions::new().receive_timeout(Duration::from_secs(1))),
    )
    .unwrap();
    let started = std::time::Instant::now();
    let error = config.run().await.unwrap_err();
    assert!(matches!(error, IperfError::ReceiveIdle { .. }), "{error:?}");
    assert!(
        error.to_string().contains(&iperf3_says),
        "ours: {error}\niperf3: {iperf3_says}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_receiving_native_server_gives_up_on_idle_streams() {
    let binary = iperf3_or_skip!();
    let config = ServerConfig::default().receive_timeout(Duration::from_secs(1));
    let mut server = NativeServer::bind("127.0.0.1:0".parse().unwrap(), config)
        .await
        .unwrap();
    let port = server.local_addr().port();
    let started = std::time::Instant::now();
    let run =
        tokio::spawn(
            async move { iperf3_client_output(&binary, port, &["-b", "1", "-t", "10"]).await },
        );
    let served = server.next_test(Duration::from_secs(10)).await.unwrap();
    let error = served.outcome.unwrap_err();
    assert!(matches!(error, IperfError::ReceiveIdle { .. }), "{error:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // What a real iperf3 client says when the real iperf3 server gives up the same way.
    let output = run.await.unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        doc["error"].as_str(),
        Some("control socket has closed unexpectedly"),
        "{doc}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn bind_device_binds_the_native_clients_and_servers_sockets_to_the_interface() {
    let binary = iperf3_or_skip!();
    // The client: control and data sockets on `lo`.
    let server = Iperf3Server::start(&binary).await;
    let config = NativeClient::new(
        "127.0.0.1",
        server.port,
        options()
            .duration(Duration::from_secs(1))
            .bitrate(5_000_000)
            .bind_device("lo"),
    )
    .unwrap();
    let run = tokio::spawn(async move { config.run().await });
    let filter = format!("( dport = :{} )", server.port);
    let socket = ss_socket(&["-tn", "state", "established"], &filter, |s| {
        s.contains("%lo:")
    })
    .await;
    assert!(socket.contains("127.0.0.1%lo:"), "{socket}");
    run.await.unwrap().expect("the test runs");

    // The server: its listener, so the streams it accepts, on `lo`.
    let config = ServerConfig::default().bind_device("lo");
    let server = NativeServer::bind("127.0.0.1:0".parse().unwrap(), config)
        .await
        .unwrap();
    let port = server.local_addr().port();
    let listening = ss_socket(&["-tln"], &format!("( sport = :{port} )"), |s| {
        s.contains("%lo:")
    })
    .await;
    assert!(listening.contains("127.0.0.1%lo:"), "{listening}");
    let output = iperf3_client_output(&binary, port, &["-n", "1M"]).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    server.shutdown().await;
}

/// The server's own options set on the `IperfServer` driver reach either engine: its
/// listener is bound to the device (read back with `ss`) and a test still runs.
async fn server_options_on_the_driver(engine: Engine, binary: &std::path::Path) {
    let env = Environment::builder("iperf-server-options")
        .driver(
            IperfServer::new("server").engine(engine).config(
                ServerConfig::default()
                    .bind_device("lo")
                    .receive_timeout(Duration::from_secs(30))
                    .send_timeout(Duration::from_secs(5)),
            ),
        )
        .build()
        .expect("the environment builds");
    let binary = binary.to_owned();
    env.run(|env| async move {
        let server = env.get::<IperfServer>("server")?;
        let port = server.local_addr().expect("started").port();
        let listening = ss_socket(&["-tln"], &format!("( sport = :{port} )"), |s| {
            s.contains("%lo:")
        })
        .await;
        assert!(listening.contains("%lo:"), "{listening}");
        if let Some(pid) = server.pid() {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            for flag in ["--snd-timeout 5000", "--rcv-timeout 30000", "--bind-dev lo"] {
                assert!(cmdline.contains(flag), "iperf3 -s gets {flag}: {cmdline}");
            }
        }
        let output = iperf3_client_output(&binary, port, &["-n", "1M"]).await;
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stdout)
        );
        Ok::<_, testrig::Error>(())
    })
    .await
    .expect("the server serves");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_options_set_on_the_driver_reach_both_engines() {
    let binary = iperf3_or_skip!();
    server_options_on_the_driver(Engine::Native, &binary).await;
    server_options_on_the_driver(Engine::iperf3_at(binary.clone()), &binary).await;
}

/// The keys after `end` in a document, in order.
fn keys_after_end(doc: &serde_json::Value) -> Vec<String> {
    let keys: Vec<String> = doc.as_object().unwrap().keys().cloned().collect();
    let end = keys.iter().position(|k| k == "end").expect("an end");
    keys[end + 1..].to_vec()
}

#[tokio::test]
async fn a_title_reaches_both_sides_documents_after_end_as_iperf3_writes_it() {
    let binary = iperf3_or_skip!();
    // A real client's -T and --extra-data, in the native server's document.
    let mut server = native_server().await;
    let port = server.local_addr().port();
    let output = iperf3_client_output(
        &binary,
        port,
        &["-n", "1M", "-T", "real client", "--extra-data", "ed"],
    )
    .await;
    assert!(output.status.success(), "{output:?}");
    let served = server.next_test(Duration::from_secs(10)).await.unwrap();
    let doc = served.outcome.expect("served").to_iperf3_json();
    assert_eq!(doc["title"], "real client");
    assert_eq!(keys_after_end(&doc), ["title", "extra_data"]);
    server.shutdown().await;

    // The native client's title, in the real server's document and in its own.
    let port = free_port();
    let real = Command::new(&binary)
        .args(["-s", "-1", "-J", "-p", &port.to_string()])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let config = NativeClient::new(
        "127.0.0.1",
        port,
        options().bytes(1 << 20).title("native client"),
    )
    .unwrap();
    let mut result = None;
    for _ in 0..100 {
        // The real server listens a moment after it is spawned.
        match config.clone().run().await {
            Ok(done) => {
                result = Some(done);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    let ours = result.expect("the native client ran").to_iperf3_json();
    assert_eq!(ours["title"], "native client");
    assert_eq!(keys_after_end(&ours), ["title"]);
    let output = tokio::time::timeout(Duration::from_secs(10), real.wait_with_output())
        .await
        .expect("the one-off server ends")
        .unwrap();
    let theirs: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(theirs["title"], "native client");
}
