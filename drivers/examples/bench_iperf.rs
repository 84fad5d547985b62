//! Loopback benchmark: testrig's native iperf engine against iperf3 3.12, each as client and
//! as server, in the same run.
//!
//! ```text
//! cargo run --release --example bench_iperf [-- --time SECS]
//! ```
//! Prints receiver throughput for one and two TCP streams, server readiness time, and loss
//! at 1 Gbit/s UDP, side by side. On a shared 2-core machine other work skews the figures;
//! rerun when it is quiet.

use std::net::TcpListener;
use std::process::Stdio;
use std::time::{Duration, Instant};

use testrig_drivers::iperf::{
    ClientConfig, IperfResult, NativeClient, NativeServer, Protocol, ServerHandle,
};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

type BenchError = Box<dyn std::error::Error>;

#[derive(Clone, Copy)]
enum Side {
    Iperf3,
    Native,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Iperf3 => "iperf3",
            Side::Native => "native",
        }
    }
}

#[derive(Clone, Copy)]
struct Scenario {
    label: &'static str,
    protocol: Protocol,
    streams: u32,
    bitrate: Option<u64>,
}

struct Servers {
    iperf3: Child,
    iperf3_port: u16,
    native: ServerHandle,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), BenchError> {
    let secs = parse_time()?;
    let binary = which_iperf3()
        .ok_or("bench_iperf needs iperf3 on PATH to compare against (apt-get install iperf3)")?;
    println!(
        "iperf loopback benchmark: native engine vs {}",
        iperf3_version(&binary).await
    );
    println!("each transfer runs {secs} s; throughput is what the receiver counted\n");

    let mut servers = Servers {
        iperf3: spawn_iperf3_server(&binary).await?.0,
        iperf3_port: 0,
        native: NativeServer::bind("127.0.0.1:0".parse()?).await?.spawn(),
    };
    servers.iperf3_port = IPERF3_PORT.with(|p| p.get());

    let scenarios = [
        Scenario {
            label: "TCP, 1 stream",
            protocol: Protocol::Tcp,
            streams: 1,
            bitrate: None,
        },
        Scenario {
            label: "TCP, -P 2",
            protocol: Protocol::Tcp,
            streams: 2,
            bitrate: None,
        },
        Scenario {
            label: "UDP 1 Gbit/s",
            protocol: Protocol::Udp,
            streams: 1,
            bitrate: Some(1_000_000_000),
        },
    ];
    let pairs = [
        (Side::Iperf3, Side::Iperf3),
        (Side::Native, Side::Iperf3),
        (Side::Iperf3, Side::Native),
        (Side::Native, Side::Native),
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
        let mut cells = Vec::new();
        let mut rates = Vec::new();
        for (client, server) in pairs {
            let result = run_pair(&binary, &mut servers, scenario, client, server, secs).await;
            match result {
                Ok(r) => {
                    let rate = r.received_bits_per_second();
                    rates.push(rate);
                    cells.push(match scenario.protocol {
                        Protocol::Tcp => format!("{:.1} Gbit/s", rate / 1e9),
                        Protocol::Udp => format!(
                            "{:.2}% @{:.0}M",
                            r.lost_percent().unwrap_or(f64::NAN),
                            rate / 1e6
                        ),
                    });
                }
                Err(e) => {
                    rates.push(f64::NAN);
                    cells.push(format!("failed: {e}"));
                    eprintln!(
                        "{} {}→{}: {e}",
                        scenario.label,
                        client.name(),
                        server.name()
                    );
                }
            }
        }
        println!(
            "{:<16} {:>16} {:>16} {:>16} {:>16}",
            scenario.label, cells[0], cells[1], cells[2], cells[3]
        );
        if scenario.protocol == Protocol::Tcp {
            println!(
                "{:<16} {:>16} {:>16} {:>16} {:>16}",
                "  × iperf3",
                "1.00×",
                format!("{:.2}× (client)", rates[1] / rates[0]),
                format!("{:.2}× (server)", rates[2] / rates[0]),
                format!("{:.2}× (both)", rates[3] / rates[0]),
            );
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
        Side::Iperf3 => servers.iperf3_port,
        Side::Native => servers.native.local_addr().port(),
    };
    let result = match client {
        Side::Native => {
            let mut b = ClientConfig::builder("127.0.0.1", port)
                .duration(Duration::from_secs(secs))
                .protocol(scenario.protocol)
                .parallel(scenario.streams)
                .interval(None);
            if let Some(rate) = scenario.bitrate {
                b = b.bitrate(rate);
            }
            NativeClient::new(b.build()?).run().await?
        }
        Side::Iperf3 => {
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
        let server = NativeServer::bind("127.0.0.1:0".parse()?).await?;
        bound.push(start.elapsed());
        let addr = server.local_addr();
        let handle = server.spawn();
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

fn parse_time() -> Result<u64, BenchError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => Ok(3),
        [flag, secs] if flag == "--time" => Ok(secs.parse()?),
        _ => Err("usage: bench_iperf [--time SECS]".into()),
    }
}
