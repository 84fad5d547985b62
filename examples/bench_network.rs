//! How fast a network is built and removed (issue 14's targets), side by side with the anchor
//! measured on this machine with dummynet.
//!
//! ```text
//! cargo run --release --example bench_network [-- REPETITIONS]
//! ```
//!
//! - **pair**: two hosts joined by a veth pair with IPv4 and IPv6 addresses, links up.
//!   Goal: set up < 20 ms, removed < 20 ms.
//! - **chain of 10**: ten hosts, nine links, static routes end to end, forwarding on the
//!   routers. Goal: < 100 ms.
//!
//! *Setup* is `build()` (checking and planning) and `start()` until it returns: every
//! namespace, link, address and route in place. *Teardown* is `stop()` until it returns:
//! every netlink socket closed, every namespace thread gone (its `/proc/self/task` entry
//! too), every descriptor closed, so nothing holds the namespaces any more; the bench checks
//! that no thread of this process is in any of them. What it does not wait for: the kernel
//! then removes the namespaces, with their links and qdiscs, in the background and in one
//! batch (as when the process dies). Deleting each link first, and waiting for the kernel's
//! acknowledgement, measured 19–41 ms for the pair and 152–200 ms for the chain here (each
//! deletion waits for RCU grace periods under the rtnl lock, one after the other), which is
//! why `stop` leaves it to the namespaces' teardown. The chain's setup is followed, outside
//! the timing, by a check that the last host is reachable from the first (one TCP
//! connection).
//!
//! - **iperf across a veth pair**: the native iperf engine against the real iperf3, each
//!   with its server on host `b` and its client on host `a`, TCP, one stream, 2 s, on an
//!   unshaped link and on a link shaped to 1 Gbit/s (tbf). Goal: native ≥ 1.0× iperf3
//!   across the same veth in the same run. Each figure is the median of 3 rounds, the two
//!   engines alternating; the bitrate is what the receiver counted. CPU is each engine's own
//!   report, in % of one core for both ends together: the native client and server share
//!   this process, so its figure is the process's; iperf3's is its client's plus its
//!   server's. Skipped, saying so, where iperf3 is not installed.
//!
//! Needs root (or `enter_user_namespace`, done first thing here when not root).

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use testrig::network::{Link, Network, enter_user_namespace};
use testrig_drivers::iperf::engine::{
    DEFAULT_IPERF3_PROGRAM, Iperf3Client, Iperf3Server, NativeClient, NativeServer, ServerConfig,
};
use testrig_drivers::iperf::{ClientOptions, IperfResult};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    enter_user_namespace()?;
    let repetitions: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(20);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(bench(repetitions))
}

fn pair() -> Network {
    Network::builder("bench-pair")
        .host("a")
        .host("b")
        .link(
            Link::new("a", "b")
                .subnet("10.9.0.0/24")
                .subnet("fd00:9::/64"),
        )
        .build()
        .expect("a valid pair")
}

fn chain(hosts: usize) -> Network {
    let mut builder = Network::builder("bench-chain");
    for i in 0..hosts {
        builder = builder.host(format!("h{i}"));
    }
    for i in 1..hosts {
        builder = builder.link(Link::new(format!("h{}", i - 1), format!("h{i}")));
    }
    builder.build().expect("a valid chain")
}

/// The network namespaces the threads of this process are in.
fn own_namespaces() -> HashSet<u64> {
    let mut inodes = HashSet::new();
    for task in std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
    {
        if let Ok(link) = std::fs::read_link(task.path().join("ns/net")) {
            let text = link.to_string_lossy().into_owned();
            if let Some(inode) = text
                .strip_prefix("net:[")
                .and_then(|t| t.strip_suffix(']'))
                .and_then(|t| t.parse().ok())
            {
                inodes.insert(inode);
            }
        }
    }
    inodes
}

struct Timings {
    setup: Vec<Duration>,
    teardown: Vec<Duration>,
}

async fn measure(
    repetitions: usize,
    make: impl Fn() -> Network,
    check: impl AsyncFn(&Network),
) -> Result<Timings, Box<dyn std::error::Error>> {
    let mut timings = Timings {
        setup: Vec::new(),
        teardown: Vec::new(),
    };
    for _ in 0..repetitions {
        let started = Instant::now();
        let network = make();
        network.start().await?;
        timings.setup.push(started.elapsed());
        check(&network).await;
        let inodes = network.namespace_inodes()?;

        let started = Instant::now();
        network.stop().await?;
        timings.teardown.push(started.elapsed());
        let held = own_namespaces();
        assert!(
            inodes.iter().all(|inode| !held.contains(inode)),
            "a namespace is still held after stop"
        );
    }
    Ok(timings)
}

fn summary(durations: &mut [Duration]) -> String {
    durations.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    format!(
        "min {:6.2} ms  median {:6.2} ms  max {:6.2} ms",
        ms(durations[0]),
        ms(durations[durations.len() / 2]),
        ms(durations[durations.len() - 1])
    )
}

async fn reachable_end_to_end(network: &Network) {
    let hosts = network.hosts().expect("running");
    let (first, last) = (&hosts[0], &hosts[hosts.len() - 1]);
    let address = (last.ipv4().expect("an IPv4 address"), 0);
    let listener = last
        .run(move || std::net::TcpListener::bind(address))
        .await
        .expect("running")
        .expect("bind");
    let target = listener.local_addr().expect("an address");
    let stream = first
        .run(move || std::net::TcpStream::connect_timeout(&target, Duration::from_secs(5)))
        .await
        .expect("running");
    assert!(stream.is_ok(), "h0 cannot reach {target}: {stream:?}");
}

async fn bench(repetitions: usize) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(missing) = testrig::network::availability().missing() {
        return Err(format!("cannot build networks here: {missing}").into());
    }
    println!("bench_network: {repetitions} repetitions of each");
    // One unmeasured round: the first namespace of a process costs more (page faults, the
    // runtime's first spawns).
    measure(1, pair, async |_| {}).await?;

    let mut pair = measure(repetitions, pair, async |_| {}).await?;
    println!("two hosts, one veth, v4+v6 addresses, links up");
    println!("  setup     {}   (goal < 20 ms)", summary(&mut pair.setup));
    println!(
        "  teardown  {}   (goal < 20 ms)",
        summary(&mut pair.teardown)
    );
    println!("  anchor, dummynet on this machine: setup 1.32-1.43 s, cleanup 0.74-0.81 s");

    let mut chain = measure(repetitions, || chain(10), reachable_end_to_end).await?;
    println!("chain of 10 hosts, 9 links, routed end to end (checked: h0 reaches h9)");
    println!(
        "  setup     {}   (goal < 100 ms)",
        summary(&mut chain.setup)
    );
    println!("  teardown  {}", summary(&mut chain.teardown));

    iperf_across_a_veth().await
}

/// Rounds of each engine on each link.
const IPERF_ROUNDS: usize = 3;

/// One engine's figures over the rounds: received bit/s and CPU % of one core.
#[derive(Default)]
struct Runs {
    bits_per_second: Vec<f64>,
    cpu: Vec<f64>,
}

impl Runs {
    fn push(&mut self, result: &IperfResult, cpu: f64) {
        self.bits_per_second.push(result.received_bits_per_second());
        self.cpu.push(cpu);
    }
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

/// `iperf3` from `PATH`, if installed.
fn iperf3_program() -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|dir| dir.join(DEFAULT_IPERF3_PROGRAM))
        .find(|path| path.is_file())
}

async fn iperf_across_a_veth() -> Result<(), Box<dyn std::error::Error>> {
    println!("iperf across a veth pair: server on b, client on a, TCP, 1 stream, 2 s");
    let Some(program) = iperf3_program() else {
        println!("  skipped: iperf3 is not installed (scripts/setup installs it)");
        return Ok(());
    };
    let runpath = std::env::temp_dir().join(format!("bench-network-iperf-{}", std::process::id()));
    let options = ClientOptions::new()
        .duration(Duration::from_secs(2))
        .interval(None);
    println!(
        "  {:<22} {:>17} {:>17} {:>7}  {:>11} {:>11}",
        "link", "native", "iperf3", "ratio", "CPU native", "CPU iperf3"
    );
    for (label, rate) in [("unshaped", None), ("shaped to 1 Gbit/s", Some("1gbit"))] {
        let mut link = Link::new("a", "b").subnet("10.9.1.0/24");
        if let Some(rate) = rate {
            link = link.rate(rate);
        }
        let network = Network::builder("bench-iperf")
            .host("a")
            .host("b")
            .link(link)
            .build()?;
        network.start().await?;
        let (a, b) = (network.host("a")?, network.host("b")?);
        let listen = (b.address(), 0).into();
        let on_b = ServerConfig::default().on(b.clone());
        let native_server = NativeServer::bind(listen, on_b.clone()).await?;
        let iperf3_server = Iperf3Server::start(&program, listen, &on_b, &runpath).await?;
        let native_client = NativeClient::new(
            b.address().to_string(),
            native_server.local_addr().port(),
            options.clone(),
        )?
        .on(a.clone());
        let iperf3_client = Iperf3Client::new(
            b.address().to_string(),
            iperf3_server.local_addr().port(),
            options.clone(),
        )?
        .program(&program)
        .on(a.clone());

        let (mut native, mut iperf3) = (Runs::default(), Runs::default());
        for round in 0..IPERF_ROUNDS {
            // Alternating which goes first, so a drift of the machine's load hits both.
            for native_turn in [round % 2 == 0, round % 2 != 0] {
                if native_turn {
                    let result = native_client.run().await?;
                    // Both ends are this process: its CPU is the pair's.
                    let cpu = result.cpu.as_ref().map_or(f64::NAN, |c| c.host_total);
                    native.push(&result, cpu);
                } else {
                    let result = iperf3_client.run(&runpath, Duration::from_secs(30)).await?;
                    let cpu = result
                        .cpu
                        .as_ref()
                        .map_or(f64::NAN, |c| c.host_total + c.remote_total);
                    iperf3.push(&result, cpu);
                }
            }
        }
        let (n, i) = (
            median(&native.bits_per_second),
            median(&iperf3.bits_per_second),
        );
        println!(
            "  {label:<22} {:>10.2} Gbit/s {:>10.2} Gbit/s {:>6.2}×  {:>10.0}% {:>10.0}%",
            n / 1e9,
            i / 1e9,
            n / i,
            median(&native.cpu),
            median(&iperf3.cpu),
        );
        iperf3_server.stop(Duration::from_secs(5)).await?;
        native_server.shutdown().await;
        network.stop().await?;
    }
    println!("  goal: native ≥ 1.0× iperf3 across the same veth");
    println!("  anchor, dummynet on this machine: iperf3 across its veth 23-27 Gbit/s");
    let _ = std::fs::remove_dir_all(&runpath);
    Ok(())
}
