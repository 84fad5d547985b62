//! iperf between hosts of an emulated network: one test process drives a server on host `b`
//! and a client on host `a`, joined by a veth pair shaped to 100 Mbit/s, on either engine
//! and across engines; the engines' own binding options (`-B`, `--cport`, `--bind-dev`)
//! inside a host; nothing left once the environment stops.
//!
//! These need network namespaces (root, or a user namespace): where they cannot be built,
//! each test prints a skip line, and fails when `CI` is set.

mod iperf_support;

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use testrig::network::{Link, Network};
use testrig::{Endpoint, Environment};
use testrig_drivers::iperf::engine::{NativeClient, NativeServer, ServerConfig};
use testrig_drivers::iperf::{
    ClientOptions, Direction, Engine, IperfClient, IperfResult, IperfServer, IperfTest, Peer,
    StreamOptions,
};

/// Every wait here is bounded by this, or less.
const DEADLINE: Duration = Duration::from_secs(20);

/// The link's rate, and the band a 2 s TCP test across it must land in.
///
/// What TCP carries over a 100 Mbit/s link is ~95.7 Mbit/s of payload (1448 bytes in each
/// 1514-byte frame), and that is what a receiver counts, iperf3's or the native one
/// (measured here: 93.6–96.1, either way, any pairing of the engines). No receiver may count
/// more than the link carries: not the tail still queued in the shaper (up to its 100 ms
/// latency, 1.25 MB) or in the sender's socket buffer when the test ends, which arrives
/// after the measured seconds (counted over them it read 100.1–103.3). The floor is wide
/// because the machine is shared with builds: a sender starved of CPU for a few hundred
/// milliseconds still shows the shaping.
const RATE: &str = "100mbit";
const LOW_MBIT: f64 = 60.0;
const HIGH_MBIT: f64 = 100.0;

/// A 2 s TCP test, intervals off (only the summary matters here).
fn two_seconds() -> ClientOptions {
    ClientOptions::new()
        .duration(Duration::from_secs(2))
        .interval(None)
}

/// Whether networks can be built here; when not, prints `skip: <what is missing>`, or
/// panics when `CI` is set (CI must run these tests).
fn networks_available() -> bool {
    match testrig::network::availability().missing() {
        None => true,
        Some(missing) if std::env::var_os("CI").is_some() => {
            panic!("CI is set and networks cannot be built here: {missing}")
        }
        Some(missing) => {
            eprintln!("skip: {missing}");
            false
        }
    }
}

/// Hosts `a` (10.N.0.1) and `b` (10.N.0.2) joined by a link limited to [`RATE`] each way.
fn shaped_pair(name: &str, subnet: &str) -> Network {
    Network::builder(name)
        .host("a")
        .host("b")
        .link(Link::new("a", "b").subnet(subnet).rate(RATE))
        .build()
        .expect("a valid network")
}

/// The inodes of every network namespace some thread of some process is in now.
fn live_network_namespaces() -> HashSet<u64> {
    let mut inodes = HashSet::new();
    for process in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(tasks) = std::fs::read_dir(process.path().join("task")) else {
            continue;
        };
        for task in tasks.flatten() {
            if let Some(inode) = namespace_of(&task.path()) {
                inodes.insert(inode);
            }
        }
    }
    inodes
}

/// The network namespace inode of the process or task at `proc_path` (`/proc/PID`).
fn namespace_of(proc_path: &std::path::Path) -> Option<u64> {
    let link = std::fs::read_link(proc_path.join("ns/net")).ok()?;
    let text = link.to_string_lossy().into_owned();
    text.strip_prefix("net:[")?.strip_suffix(']')?.parse().ok()
}

/// Waits (bounded) until none of `inodes` is a live namespace; returns those still alive.
async fn wait_gone(inodes: &[u64], within: Duration) -> Vec<u64> {
    let started = Instant::now();
    loop {
        let live = live_network_namespaces();
        let left: Vec<u64> = inodes
            .iter()
            .copied()
            .filter(|i| live.contains(i))
            .collect();
        if left.is_empty() || started.elapsed() > within {
            return left;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn mbit(bits_per_second: f64) -> f64 {
    bits_per_second / 1e6
}

/// The received rate is the shaped link's, and every data connection left from `a` for `b`.
fn assert_across_the_link(what: &str, result: &IperfResult, a: IpAddr, b: IpAddr) {
    let received = mbit(result.received_bits_per_second());
    assert!(
        (LOW_MBIT..=HIGH_MBIT).contains(&received),
        "{what}: {received:.1} Mbit/s received across a link limited to {RATE} \
         (expected {LOW_MBIT}-{HIGH_MBIT}); sent {:.1} Mbit/s",
        mbit(result.sent_bits_per_second())
    );
    assert!(
        result.bytes_received() <= result.bytes_sent(),
        "{what}: received {} bytes of {} sent",
        result.bytes_received(),
        result.bytes_sent()
    );
    assert!(!result.connected.is_empty(), "{what}: no data connection");
    for connection in &result.connected {
        assert_eq!(
            connection.local_host,
            a.to_string(),
            "{what}: the client ran in a"
        );
        assert_eq!(
            connection.remote_host,
            b.to_string(),
            "{what}: the server ran in b"
        );
    }
}

/// An environment of `network` with an iperf server on `b` (listening on b's address, the
/// default) and a client on `a` targeting it.
fn environment(network: Network, server: Engine, client: Engine) -> Environment {
    environment_with(network, server, client, two_seconds())
}

/// [`environment`] with the client's options given.
fn environment_with(
    network: Network,
    server: Engine,
    client: Engine,
    options: ClientOptions,
) -> Environment {
    let mut builder = Environment::builder("iperf-hosts").network(network);
    builder.add_on("b", IperfServer::new("server").engine(server));
    builder.add_on(
        "a",
        IperfClient::new("client", Endpoint::of("server"))
            .engine(client)
            .options(options),
    );
    builder.build().expect("a valid environment")
}

/// Starts `env`, runs one measurement from a to b and checks it, checks where the server
/// ran, stops `env` and checks that its namespaces are gone. Returns the client's result
/// and, of a native server, the server's own.
async fn measure_across(env: Environment, what: &str) -> (IperfResult, Option<IperfResult>) {
    env.start().await.expect("the environment starts");
    let network = env.network().expect("a network");
    let (a, b) = (network.host("a").unwrap(), network.host("b").unwrap());
    let inodes = network.namespace_inodes().unwrap();

    let server = env.get::<IperfServer>("server").unwrap();
    let exported = env.resource("server").unwrap().report().exports;
    assert_eq!(
        exported["host"].to_string(),
        b.address().to_string(),
        "{what}: the server listens on b's address"
    );
    if let Some(pid) = server.pid() {
        assert_eq!(
            namespace_of(&std::path::Path::new("/proc").join(pid.to_string())),
            b.namespace_inode(),
            "{what}: iperf3 -s runs in b's namespace"
        );
    }
    let client = env.get::<IperfClient>("client").unwrap();
    let result = client.run(DEADLINE).await;
    // The native server's own view (the iperf3 binary's is not read): who it served.
    let served = match (&result, server.pid()) {
        (Ok(_), None) => Some(
            server
                .next_test(DEADLINE)
                .await
                .unwrap_or_else(|error| panic!("{what}: the server's view: {error}")),
        ),
        _ => None,
    };
    env.stop().await.expect("the environment stops");
    let result = result.unwrap_or_else(|error| panic!("{what}: {}", chain(&error)));
    eprintln!(
        "{what}: received {:.1} Mbit/s, sent {:.1} Mbit/s",
        mbit(result.received_bits_per_second()),
        mbit(result.sent_bits_per_second())
    );
    assert_across_the_link(what, &result, a.address(), b.address());
    let server_view = served.map(|served| {
        assert_eq!(
            served.peer.ip(),
            a.address(),
            "{what}: the native server was reached from a"
        );
        let view = served
            .outcome
            .unwrap_or_else(|error| panic!("{what}: the native server: {error}"));
        if view.test.direction == Direction::Forward {
            // Its intervals add up to what it received, as iperf3's do.
            let intervals: u64 = view.intervals.iter().map(|i| i.sum.bytes).sum();
            assert_eq!(
                intervals,
                view.bytes_received(),
                "{what}: the native server's intervals"
            );
        }
        view
    });

    assert!(
        network.namespace_inodes().is_err(),
        "{what}: the network is stopped"
    );
    let left = wait_gone(&inodes, DEADLINE).await;
    assert!(
        left.is_empty(),
        "{what}: namespaces {left:?} outlived the environment"
    );
    (result, server_view)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_native_client_on_a_measures_the_shaped_link_to_a_native_server_on_b() {
    if !networks_available() {
        return;
    }
    let env = environment(
        shaped_pair("iperf-native", "10.81.0.0/24"),
        Engine::Native,
        Engine::Native,
    );
    measure_across(env, "native to native").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iperf3_on_both_hosts_measures_the_shaped_link() {
    if !networks_available() {
        return;
    }
    let binary = iperf3_or_skip!();
    let engine = Engine::iperf3_at(binary);
    let env = environment(
        shaped_pair("iperf-binary", "10.82.0.0/24"),
        engine.clone(),
        engine,
    );
    measure_across(env, "iperf3 to iperf3").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_native_client_on_a_measures_against_iperf3_on_b() {
    if !networks_available() {
        return;
    }
    let binary = iperf3_or_skip!();
    let env = environment(
        shaped_pair("iperf-interop", "10.83.0.0/24"),
        Engine::iperf3_at(binary),
        Engine::Native,
    );
    measure_across(env, "native client to iperf3 -s").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_native_server_counts_udp_from_iperf3_across_a_shaped_link_as_iperf3_reports_it() {
    if !networks_available() {
        return;
    }
    let binary = iperf3_or_skip!();
    // Twice what the link carries, from a send buffer larger than the shaper's queue: the
    // datagrams still queued when the sender stops arrive after its seconds, and the last
    // ones may never arrive.
    let env = environment_with(
        shaped_pair("iperf-udp-shaped", "10.91.0.0/24"),
        Engine::Native,
        Engine::iperf3_at(binary),
        two_seconds()
            .protocol(testrig_drivers::iperf::Protocol::Udp)
            .bitrate(200_000_000)
            .stream_options(StreamOptions::new().window(2 << 20)),
    );
    let (theirs, ours) = measure_across(env, "iperf3 -c -u to native server").await;
    let ours = ours.expect("the native server's view");
    let (their_received, our_received) =
        (&theirs.summary.main.received, &ours.summary.main.received);
    // iperf3's client reports the server's own counts, exchanged: the datagrams it expected
    // (the highest sequence number it saw, not what was sent) and those it missed. The
    // native server's own result says the same.
    assert_eq!(our_received.packets, their_received.packets);
    assert_eq!(our_received.lost_packets, their_received.lost_packets);
    let sent = theirs
        .summary
        .main
        .sent
        .packets
        .expect("iperf3 counts what it sent");
    assert!(
        our_received.packets <= Some(sent),
        "{our_received:?} of {sent}"
    );
    // The loss share is of what the client sent, as iperf3's is.
    let lost = our_received
        .lost_packets
        .expect("a UDP receiver counts losses");
    let share = 100.0 * lost as f64 / sent as f64;
    for (whose, received) in [("ours", our_received), ("iperf3's", their_received)] {
        let percent = received.lost_percent.expect("a loss share");
        assert!(
            (percent - share).abs() < 1e-6,
            "{whose}: {percent}% lost, expected {share}% ({lost} of {sent})"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iperf3_on_a_measures_against_a_native_server_on_b() {
    if !networks_available() {
        return;
    }
    let binary = iperf3_or_skip!();
    let env = environment(
        shaped_pair("iperf-interop-back", "10.84.0.0/24"),
        Engine::Native,
        Engine::iperf3_at(binary),
    );
    measure_across(env, "iperf3 -c to native server").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_native_client_on_a_measures_the_shaped_link_back_from_a_native_server_on_b() {
    if !networks_available() {
        return;
    }
    let env = environment_with(
        shaped_pair("iperf-native-rev", "10.86.0.0/24"),
        Engine::Native,
        Engine::Native,
        two_seconds().reverse(),
    );
    measure_across(env, "native client from native server, reverse").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_native_client_on_a_measures_the_shaped_link_back_from_iperf3_on_b() {
    if !networks_available() {
        return;
    }
    let binary = iperf3_or_skip!();
    let env = environment_with(
        shaped_pair("iperf-interop-rev", "10.87.0.0/24"),
        Engine::iperf3_at(binary),
        Engine::Native,
        two_seconds().reverse(),
    );
    measure_across(env, "native client from iperf3 -s, reverse").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iperf3_on_a_measures_the_shaped_link_back_from_a_native_server_on_b() {
    if !networks_available() {
        return;
    }
    let binary = iperf3_or_skip!();
    let env = environment_with(
        shaped_pair("iperf-interop-back-rev", "10.88.0.0/24"),
        Engine::Native,
        Engine::iperf3_at(binary),
        two_seconds().reverse(),
    );
    measure_across(env, "iperf3 -c from native server, reverse").await;
}

/// A byte-bounded test is over when its bytes have arrived: the native server counts all
/// that `iperf3 -c` sent, though much of it was still on its way at `TEST_END`, and over
/// the seconds until the last of it arrived, so the rate is still the link's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iperf3_on_a_sends_a_byte_count_that_a_native_server_on_b_counts_whole() {
    if !networks_available() {
        return;
    }
    let binary = iperf3_or_skip!();
    const BYTES: u64 = 16 << 20;
    let env = environment_with(
        shaped_pair("iperf-interop-bytes", "10.89.0.0/24"),
        Engine::Native,
        Engine::iperf3_at(binary),
        ClientOptions::new().bytes(BYTES).interval(None),
    );
    let (result, server) = measure_across(env, "iperf3 -c -n to native server").await;
    assert_eq!(result.bytes_sent(), BYTES);
    assert_eq!(
        result.bytes_received(),
        BYTES,
        "the native server counts it all"
    );
    // Its seconds, and its last interval, run to the last byte.
    let server = server.expect("the native server's view");
    let seconds = server.summary.main.received.seconds;
    let last_end = server.intervals.last().expect("an interval").sum.end;
    assert!(
        (last_end - seconds).abs() < 0.01,
        "the last interval ends at {last_end} s, the test at {seconds} s"
    );
}

/// `IperfTest` with its peers on the network's hosts: upstream a sends to a server on b,
/// downstream b sends to a server on a, each across the shaped link; the network, which
/// the test runs itself, is left as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_iperf_test_between_two_hosts_measures_the_link_both_ways() {
    if !networks_available() {
        return;
    }
    let network = shaped_pair("iperf-test-hosts", "10.90.0.0/24");
    network.start().await.unwrap();
    let (a, b) = (network.host("a").unwrap(), network.host("b").unwrap());
    let both = IperfTest::new(two_seconds())
        .both(&Peer::on(&a), &Peer::on(&b))
        .await
        .unwrap_or_else(|error| panic!("{}", chain(&error)));
    for (what, result, from, to) in [
        ("upstream", &both.upstream, &a, &b),
        ("downstream", &both.downstream, &b, &a),
    ] {
        eprintln!(
            "IperfTest {what}: received {:.1} Mbit/s",
            mbit(result.received_bits_per_second())
        );
        assert_across_the_link(what, result, from.address(), to.address());
    }
    assert!(
        network.namespace_inodes().is_ok(),
        "the test's own network still runs"
    );
    network.stop().await.unwrap();
}

/// The engines without drivers: a native server made on b, bound to b's device, and a native
/// client on a binding its address (`-B`), its ports (`--cport`) and its device
/// (`--bind-dev`), over TCP and UDP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engines_bind_addresses_ports_and_devices_inside_their_hosts() {
    if !networks_available() {
        return;
    }
    let network = shaped_pair("iperf-binding", "10.85.0.0/24");
    network.start().await.unwrap();
    let (a, b) = (network.host("a").unwrap(), network.host("b").unwrap());
    let device = b.interfaces()[0].name().to_owned();
    let mut server = NativeServer::bind(
        SocketAddr::new(b.address(), 0),
        ServerConfig::default()
            .on(b.clone())
            .bind_device(device.clone()),
    )
    .await
    .expect("the server binds b's address and device, in b");

    for (protocol, options) in [
        ("tcp", ClientOptions::new()),
        ("udp", ClientOptions::new().udp().bitrate(20_000_000)),
    ] {
        let cport = free_port_on(&a).await;
        let options = options
            .duration(Duration::from_secs(1))
            .interval(None)
            .bind(a.address())
            .client_port(cport)
            .bind_device(a.interfaces()[0].name());
        let result =
            NativeClient::new(b.address().to_string(), server.local_addr().port(), options)
                .unwrap()
                .on(a.clone())
                .run()
                .await
                .unwrap_or_else(|error| panic!("{protocol}: {error:#}"));
        assert!(result.bytes_received() > 0, "{protocol}: nothing received");
        let connection = &result.connected[0];
        assert_eq!(
            (connection.local_host.as_str(), connection.local_port),
            (a.address().to_string().as_str(), cport),
            "{protocol}: the data stream left from a's address and the port asked for"
        );
        let served = server.next_test(DEADLINE).await.unwrap();
        assert_eq!(served.peer.ip(), a.address(), "{protocol}");
        let seen = served
            .outcome
            .unwrap_or_else(|e| panic!("{protocol}: {e:#}"));
        assert_eq!(
            seen.connected[0].remote_port, cport,
            "{protocol}: the server saw the client's --cport"
        );
        assert_eq!(seen.bytes_received(), result.bytes_received(), "{protocol}");
    }
    server.shutdown().await;
    network.stop().await.unwrap();
}

/// A server made on b cannot listen on a's address: the listener really is b's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_on_b_cannot_bind_an_address_of_a() {
    if !networks_available() {
        return;
    }
    let network = shaped_pair("iperf-wrong-host", "10.86.0.0/24");
    network.start().await.unwrap();
    let (a, b) = (network.host("a").unwrap(), network.host("b").unwrap());
    let address = SocketAddr::new(a.address(), 0);
    let error = NativeServer::bind(address, ServerConfig::default().on(b.clone()))
        .await
        .expect_err("a's address is not b's");
    assert!(
        error.to_string().contains(&address.to_string()),
        "the error names the address: {error}"
    );
    let stopped = network.stop().await;
    stopped.unwrap();
    // Once its network is stopped, a host makes no sockets: a clear error, not a socket
    // made on this machine instead.
    let error = NativeServer::bind(
        SocketAddr::new(b.address(), 0),
        ServerConfig::default().on(b),
    )
    .await
    .expect_err("the network is stopped");
    let message = chain(&error);
    assert!(message.contains("iperf-wrong-host"), "{message}");
}

/// An error and its causes, one after the other.
fn chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message = format!("{message}: {cause}");
        source = cause.source();
    }
    message
}

/// A TCP port free on `host` a moment ago.
async fn free_port_on(host: &testrig::Host) -> u16 {
    let listener = host
        .tcp_listener(SocketAddr::new(host.address(), 0))
        .await
        .unwrap();
    listener.local_addr().unwrap().port()
}
