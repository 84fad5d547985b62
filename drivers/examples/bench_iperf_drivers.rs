//! The iperf drivers' overhead per engine, in the same run: how long an `IperfServer` takes
//! from `start` to ready, an `IperfClient` to start, and a whole `IperfTest` of 1 MiB
//! (server up, client run, server down), on the native engine and on the real iperf3.
//!
//! ```text
//! cargo run --release --example bench_iperf_drivers [-- --runs N]
//! ```
//! The baseline is the iperf3-binary engine (iperf3 3.12's own readiness was measured at
//! 2.3 ms on this machine class). On a shared 2-core machine other work skews the
//! figures; rerun when it is quiet.

use std::time::{Duration, Instant};

use testrig::{Environment, Ref};
use testrig_drivers::iperf::{ClientOptions, Engine, IperfClient, IperfServer, IperfTest, Peer};

type BenchError = Box<dyn std::error::Error>;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), BenchError> {
    let runs = parse_runs()?;
    let engines = [
        ("native", Engine::Native),
        ("iperf3 binary", Engine::iperf3()),
    ];
    println!("iperf driver overhead, {runs} runs each (median / p90)");
    println!("{:<34} {:>22} {:>22}", "", engines[0].0, engines[1].0);

    let mut rows: Vec<(&str, Vec<Figures>)> = Vec::new();
    let (mut server, mut client, mut test) = (Vec::new(), Vec::new(), Vec::new());
    for (_, engine) in &engines {
        server.push(Figures::of(server_start(engine, runs).await?));
        client.push(Figures::of(client_start(engine, runs).await?));
        test.push(Figures::of(iperf_test(engine, runs).await?));
    }
    rows.push(("IperfServer start → ready", server));
    rows.push(("IperfClient start → ready", client));
    rows.push(("IperfTest of 1 MiB, end to end", test));
    for (label, figures) in rows {
        println!("{label:<34} {:>22} {:>22}", figures[0], figures[1]);
    }
    Ok(())
}

/// Start-to-ready of a lone server (the start timeout's scope: `start` + readiness).
async fn server_start(engine: &Engine, runs: usize) -> Result<Vec<Duration>, BenchError> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let env = Environment::builder("bench-server")
            .driver(IperfServer::new("server").engine(engine.clone()))
            .build()?;
        let began = Instant::now();
        env.start().await?;
        times.push(began.elapsed());
        env.stop().await?;
    }
    Ok(times)
}

/// Start-to-ready of a client whose server is already up.
async fn client_start(engine: &Engine, runs: usize) -> Result<Vec<Duration>, BenchError> {
    let env = Environment::builder("bench-client")
        .driver(IperfServer::new("server"))
        .driver(IperfClient::new("client", Ref::export("server", "port")).engine(engine.clone()))
        .build()?;
    env.start().await?;
    let client = env.resource("client")?;
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        client.stop().await?;
        let began = Instant::now();
        client.start().await?;
        times.push(began.elapsed());
    }
    env.stop().await?;
    Ok(times)
}

/// A whole `IperfTest` of 1 MiB on loopback.
async fn iperf_test(engine: &Engine, runs: usize) -> Result<Vec<Duration>, BenchError> {
    let test = IperfTest::new(ClientOptions::new().bytes(1 << 20)).engine(engine.clone());
    let (dut, peer) = (Peer::loopback("dut"), Peer::loopback("peer"));
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let began = Instant::now();
        test.upstream(&dut, &peer).await?;
        times.push(began.elapsed());
    }
    Ok(times)
}

struct Figures {
    median: Duration,
    p90: Duration,
}

impl Figures {
    fn of(mut times: Vec<Duration>) -> Self {
        times.sort();
        let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
        Self {
            median: at(0.5),
            p90: at(0.9),
        }
    }
}

impl std::fmt::Display for Figures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = format!("{} / {}", human(self.median), human(self.p90));
        f.pad(&text)
    }
}

fn human(d: Duration) -> String {
    let micros = d.as_secs_f64() * 1e6;
    if micros < 1000.0 {
        format!("{micros:.0} µs")
    } else {
        format!("{:.2} ms", micros / 1000.0)
    }
}

fn parse_runs() -> Result<usize, BenchError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => Ok(20),
        [flag, n] if flag == "--runs" => Ok(n.parse::<usize>()?.max(1)),
        _ => Err("usage: bench_iperf_drivers [--runs N]".into()),
    }
}
