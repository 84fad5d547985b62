//! Loopback benchmark: testrig's native iperf engine against iperf3 3.12, each as client and
//! as server, in the same run.
//!
//! ```text
//! cargo run --release --example bench_iperf [-- --time SECS] [--rounds N] [--only tcp|tcp-p2|udp]
//! ```
//! Prints receiver throughput for one and two TCP streams, server readiness time, and loss
//! at 1 Gbit/s UDP, side by side. Each figure is the median of N rounds (default 5 of 2 s);
//! a round runs the four client/server pairs back to back in a rotated order, and the
//! "× iperf3" rows are medians of each round's ratio to the same round's iperf3 → iperf3
//! figure, so slow drift on a shared machine cancels out. On a busy machine rerun when quiet.

use std::net::TcpListener;
use std::process::Stdio;
use std::time::{Duration, Instant};

use testrig_drivers::iperf::engine::{NativeClient, NativeServer, ServerConfig};
use testrig_drivers::iperf::{ClientOptions, IperfResult, Protocol};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

type BenchError = Box<dyn std::error::Error>;

#[derive(Clone, Copy)]
enum Side {
    Iperf3,
    /// `iperf3 -Z`: iperf3 sending with `sendfile(2)`, as the native engine does by default.
    Iperf3ZeroCopy,
    Native,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Iperf3 => "iperf3",
            Side::Iperf3ZeroCopy => "iperf3 -Z",
            Side::Native => "native",
        }
    }
}

#[derive(Clone, Copy)]
struct Scenario {
    name: &'static str,
    label: &'static str,
    protocol: Protocol,
    streams: u32,
    bitrate: Option<u64>,
}

struct Servers {
    iperf3: Child,
    iperf3_port: u16,
    native: NativeServer,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), BenchError> {
    let settings = parse_args()?;
    let binary = which_iperf3()
        .ok_or("bench_iperf needs iperf3 on PATH to compare against (apt-get install iperf3)")?;
    println!(
        "iperf loopback benchmark: native engine vs {}",
        iperf3_version(&binary).await
    );
    println!(
        "each transfer runs {} s, {} rounds; figures are medians of what the receiver counted\n",
        settings.secs, settings.rounds
    );

    let mut servers = Servers {
        iperf3: spawn_iperf3_server(&binary).await?.0,
        iperf3_port: 0,
        native: NativeServer::bind("127.0.0.1:0".parse()?, ServerConfig::default()).await?,
    };
    servers.iperf3_port = IPERF3_PORT.with(|p| p.get());

    let scenarios = [
        Scenario {
            name: "tcp",
            label: "TCP, 1 stream",
            protocol: Protocol::Tcp,
            streams: 1,
            bitrate: None,
        },
        Scenario {
            name: "tcp-p2",
            label: "TCP, -P 2",
            protocol: Protocol::Tcp,
            streams: 2,
            bitrate: None,
        },
        Scenario {
            name: "udp",
            label: "UDP 1 Gbit/s",
            protocol: Protocol::Udp,
            streams: 1,
            bitrate: Some(1_000_000_000),
        },
    ];
    // The first four are the table's columns; the fifth, iperf3's opt-in zero-copy client,
    // is a reference for the native client (which sends zero-copy by default).
    let pairs = [
        (Side::Iperf3, Side::Iperf3),
        (Side::Native, Side::Iperf3),
        (Side::Iperf3, Side::Native),
        (Side::Native, Side::Native),
        (Side::Iperf3ZeroCopy, Side::Iperf3),
    ];
    println!(
        "{:<16} {:>16} {:>16} {:>16} {:>16}",
        "client → server",
        "iperf3 → iperf3",
        "native → iperf3",
        "iperf3 → native",
        "native → native"
    );
    for scenario in scenarios {
        if settings
            .only
            .as_ref()
            .is_some_and(|only| only != scenario.name)
        {
            continue;
        }
        // rates[pair][round]; each round runs the four pairs in a rotated order so that
        // drift on the machine (other work, thermal state) lands on every pair alike.
        let measured = match scenario.name {
            "tcp" => pairs.len(),
            _ => 4,
        };
        let mut rates = vec![Vec::new(); measured];
        let mut losses = vec![Vec::new(); measured];
        for round in 0..settings.rounds {
            for k in 0..measured {
                let p = (round + k) % measured;
                let (client, server) = pairs[p];
                match run_pair(
                    &binary,
                    &mut servers,
                    scenario,
                    client,
                    server,
                    settings.secs,
                )
                .await
                {
                    Ok(r) => {
                        rates[p].push(r.received_bits_per_second());
                        losses[p].push(r.lost_percent().unwrap_or(f64::NAN));
                    }
                    Err(e) => {
                        rates[p].push(f64::NAN);
                        losses[p].push(f64::NAN);
                        eprintln!(
                            "{} {}→{}: {e}",
                            scenario.label,
                            client.name(),
                            server.name()
                        );
                    }
                }
            }
        }
        let cells: Vec<String> = (0..measured)
            .map(|p| match scenario.protocol {
                Protocol::Tcp => format!("{:.1} Gbit/s", median_f64(&rates[p]) / 1e9),
                Protocol::Udp => format!(
                    "{:.2}% @{:.0}M",
                    median_f64(&losses[p]),
                    median_f64(&rates[p]) / 1e6
                ),
            })
            .collect();
        println!(
            "{:<16} {:>16} {:>16} {:>16} {:>16}",
            scenario.label, cells[0], cells[1], cells[2], cells[3]
        );
        if scenario.protocol == Protocol::Tcp {
            // Paired ratios: each round's native figure over the same round's iperf3 figure.
            let ratio = |p: usize| {
                let r: Vec<f64> = rates[p]
                    .iter()
                    .zip(&rates[0])
                    .map(|(native, iperf3)| native / iperf3)
                    .collect();
                (median_f64(&r), min_f64(&r), max_f64(&r))
            };
            let cell = |p: usize, role: &str| {
                let (m, _, _) = ratio(p);
                format!("{m:.2}× ({role})")
            };
            let range = |p: usize| {
                let (_, lo, hi) = ratio(p);
                format!("{lo:.2}–{hi:.2}")
            };
            println!(
                "{:<16} {:>16} {:>16} {:>16} {:>16}",
                "  × iperf3",
                "1.00×",
                cell(1, "client"),
                cell(2, "server"),
                cell(3, "both"),
            );
            println!(
                "{:<16} {:>16} {:>16} {:>16} {:>16}",
                "  rounds' range",
                "",
                range(1),
                range(2),
                range(3),
            );
            if measured > 4 {
                let native = rates[1].iter().zip(&rates[4]).map(|(n, z)| n / z);
                println!(
                    "  reference: iperf3 -Z (zero-copy) → iperf3 {:.1} Gbit/s; native client {:.2}× of it",
                    median_f64(&rates[4]) / 1e9,
                    median_f64(&native.collect::<Vec<_>>()),
                );
            }
        }
    }

    println!();
    readiness(&binary).await?;
    servers.native.shutdown().await;
    let _ = servers.iperf3.kill().await;
    Ok(())
}

async fn run_pair(
    binary: &str,
    servers: &mut Servers,
    scenario: Scenario,
    client: Side,
    server: Side,
    secs: u64,
) -> Result<IperfResult, BenchError> {
    let port = match server {
        Side::Iperf3 | Side::Iperf3ZeroCopy => servers.iperf3_port,
        Side::Native => servers.native.local_addr().port(),
    };
    let result = match client {
        Side::Native => {
            let mut b = ClientOptions::new()
                .duration(Duration::from_secs(secs))
                .protocol(scenario.protocol)
                .parallel(scenario.streams)
                .interval(None);
            if let Some(rate) = scenario.bitrate {
                b = b.bitrate(rate);
            }
            NativeClient::new("127.0.0.1", port, b)?.run().await?
        }
        Side::Iperf3 | Side::Iperf3ZeroCopy => {
            let mut args = vec![
                "-c".to_owned(),
                "127.0.0.1".into(),
                "-p".into(),
                port.to_string(),
                "-t".into(),
                secs.to_string(),
                "-P".into(),
                scenario.streams.to_string(),
                "-J".into(),
            ];
            if scenario.protocol == Protocol::Udp {
                args.push("-u".into());
            }
            if let Side::Iperf3ZeroCopy = client {
                args.push("-Z".into());
            }
            if let Some(rate) = scenario.bitrate {
                args.extend(["-b".into(), rate.to_string()]);
            }
            let output = Command::new(binary).args(&args).output().await?;
            IperfResult::from_iperf3_json(&String::from_utf8_lossy(&output.stdout))?
        }
    };
    if let Side::Native = server {
        // Collect the server's report so its queue never fills.
        let _ = servers.native.next_test(Duration::from_secs(5)).await;
    }
    Ok(result)
}

async fn readiness(binary: &str) -> Result<(), BenchError> {
    const NATIVE_RUNS: usize = 200;
    const IPERF3_RUNS: usize = 20;
    let mut bound = Vec::new();
    let mut connected = Vec::new();
    for _ in 0..NATIVE_RUNS {
        let start = Instant::now();
        let server = NativeServer::bind("127.0.0.1:0".parse()?, ServerConfig::default()).await?;
        bound.push(start.elapsed());
        let addr = server.local_addr();
        let handle = server;
        tokio::net::TcpStream::connect(addr).await?;
        connected.push(start.elapsed());
        handle.shutdown().await;
    }
    let mut iperf3 = Vec::new();
    for _ in 0..IPERF3_RUNS {
        let (mut child, elapsed) = spawn_iperf3_server(binary).await?;
        iperf3.push(elapsed);
        let _ = child.kill().await;
    }
    println!("server readiness (median)");
    println!(
        "  native: bind → accepting        {:>9.3} ms   ({NATIVE_RUNS} runs)",
        ms(median(&mut bound))
    );
    println!(
        "  native: bind → client connected {:>9.3} ms",
        ms(median(&mut connected))
    );
    println!(
        "  iperf3: spawn → \"Server listening\" {:>6.3} ms   ({IPERF3_RUNS} runs)",
        ms(median(&mut iperf3))
    );
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

thread_local! {
    static IPERF3_PORT: std::cell::Cell<u16> = const { std::cell::Cell::new(0) };
}

/// Spawns `iperf3 -s` on a free port (retrying if the port is taken meanwhile) and returns it
/// with the time from spawn to its "Server listening" line.
async fn spawn_iperf3_server(binary: &str) -> Result<(Child, Duration), BenchError> {
    for _ in 0..5 {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let start = Instant::now();
        let mut child = Command::new(binary)
            .args([
                "-s",
                "-B",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "--forceflush",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        let mut lines = BufReader::new(child.stdout.take().ok_or("no stdout")?).lines();
        let listening = tokio::time::timeout(Duration::from_secs(5), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if line.contains("Server listening") {
                    return true;
                }
            }
            false
        })
        .await;
        if let Ok(true) = listening {
            let elapsed = start.elapsed();
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            IPERF3_PORT.with(|p| p.set(port));
            return Ok((child, elapsed));
        }
        let _ = child.kill().await;
    }
    Err("iperf3 -s did not start".into())
}

async fn iperf3_version(binary: &str) -> String {
    match Command::new(binary).arg("--version").output().await {
        Ok(out) => String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or("iperf3")
            .to_owned(),
        Err(_) => "iperf3".to_owned(),
    }
}

fn which_iperf3() -> Option<String> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("iperf3"))
        .find(|p| p.is_file())
        .map(|p| p.to_string_lossy().into_owned())
}

struct Settings {
    secs: u64,
    rounds: usize,
    /// Run only the scenario with this short name (`tcp`, `tcp-p2`, `udp`).
    only: Option<String>,
}

fn parse_args() -> Result<Settings, BenchError> {
    const USAGE: &str = "usage: bench_iperf [--time SECS] [--rounds N] [--only tcp|tcp-p2|udp]";
    let mut settings = Settings {
        secs: 2,
        rounds: 5,
        only: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(USAGE)?;
        match flag.as_str() {
            "--time" => settings.secs = value.parse()?,
            "--rounds" => settings.rounds = value.parse()?,
            "--only" if ["tcp", "tcp-p2", "udp"].contains(&value.as_str()) => {
                settings.only = Some(value)
            }
            _ => return Err(USAGE.into()),
        }
    }
    if settings.rounds == 0 || settings.secs == 0 {
        return Err(USAGE.into());
    }
    Ok(settings)
}

fn median_f64(samples: &[f64]) -> f64 {
    let mut sorted: Vec<f64> = samples.iter().copied().filter(|x| !x.is_nan()).collect();
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len().is_multiple_of(2) {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    } else {
        sorted[mid]
    }
}

fn min_f64(samples: &[f64]) -> f64 {
    samples.iter().copied().fold(f64::INFINITY, f64::min)
}

fn max_f64(samples: &[f64]) -> f64 {
    samples.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}
