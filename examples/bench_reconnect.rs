//! How fast a `ClientService` reconnects after its server closes the connection.
//!
//! A zero-delay policy; the server (a tokio listener on 127.0.0.1) closes the accepted
//! connection 2000 times (`--runs N` for another count; 200 before, whose p99 was the
//! third-largest sample and moved by tens of microseconds from run to run); each run
//! measures from the close to `when_connected` resolving with the new connection.
//! Printed side by side with Twisted's `ClientService` on the same kind of loop.
//!
//! ```text
//! cargo run --release --example bench_reconnect               # current-thread runtime
//! cargo run --release --example bench_reconnect -- --multi-thread
//! cargo run --release --example bench_reconnect -- --runs 200
//! ```

use std::time::{Duration, Instant};

use testrig::service::{ClientService, RetryPolicy, ServiceEvent, ServiceState, TcpConnector};
use tokio::net::TcpListener;

const RUNS: usize = 2000;
const WARMUP: usize = 20;
const TWISTED_P50: Duration = Duration::from_micros(372);
const TWISTED_P99: Duration = Duration::from_micros(503);
const TARGET_P99: Duration = Duration::from_micros(100);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let multi_thread = args.iter().any(|arg| arg == "--multi-thread");
    let runs = match args.iter().position(|arg| arg == "--runs") {
        Some(at) => match args.get(at + 1).and_then(|n| n.parse::<usize>().ok()) {
            Some(runs) if runs > 0 => runs,
            _ => return Err("bench_reconnect: --runs needs a positive whole number".into()),
        },
        None => RUNS,
    };
    let runtime = if multi_thread {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    };
    let mut samples = runtime.block_on(measure(runs))?;
    samples.sort();
    let mut floor = runtime.block_on(measure_plain_tokio(runs))?;
    floor.sort();
    let flavor = if multi_thread {
        "multi-thread runtime, 2 workers"
    } else {
        "current-thread runtime"
    };
    println!(
        "reconnect after the server closes the connection: zero-delay policy, {runs} runs, {flavor}"
    );
    println!(
        "{:<8}{:>12}{:>12}{:>14}",
        "", "testrig", "Twisted", "plain tokio"
    );
    let row = |name: &str, fraction: f64, twisted: Option<Duration>| {
        println!(
            "{:<8}{:>12}{:>12}{:>14}",
            name,
            micros(percentile(&samples, fraction)),
            twisted.map(micros).unwrap_or_default(),
            micros(percentile(&floor, fraction)),
        );
    };
    row("p50", 0.50, Some(TWISTED_P50));
    row("p90", 0.90, None);
    row("p99", 0.99, Some(TWISTED_P99));
    row("min", 0.0, None);
    row("max", 1.0, None);
    println!(
        "(plain tokio: the floor on this machine, a loop that reads EOF and connects again by hand)"
    );
    let p99 = percentile(&samples, 0.99);
    println!(
        "target: p99 < {} → {}",
        micros(TARGET_P99),
        if p99 < TARGET_P99 { "met" } else { "NOT met" }
    );
    Ok(())
}

async fn measure(runs: usize) -> Result<Vec<Duration>, Box<dyn std::error::Error>> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let service = ClientService::builder(TcpConnector::new(listener.local_addr()?))
        .retry_policy(RetryPolicy::constant(Duration::ZERO))
        .start();
    let mut events = service.subscribe();
    let (mut server_side, _) = listener.accept().await?;
    service.when_connected(None).await?;
    let mut samples = Vec::with_capacity(runs);
    for run in 0..WARMUP + runs {
        let closed_at = Instant::now();
        drop(server_side);
        // The service notices the loss; then ask for the next connection.
        loop {
            if let ServiceEvent::StateChanged {
                from: ServiceState::Connected,
                ..
            } = events.recv().await?
            {
                break;
            }
        }
        service.when_connected(None).await?;
        let elapsed = closed_at.elapsed();
        if run >= WARMUP {
            samples.push(elapsed);
        }
        // The kernel completed the connect from its backlog; accept it now.
        server_side = listener.accept().await?.0;
    }
    service.stop().await;
    Ok(samples)
}

/// The same loop without testrig: the client reads the EOF and connects again itself, the
/// least any reconnecting client can do here.
async fn measure_plain_tokio(runs: usize) -> Result<Vec<Duration>, Box<dyn std::error::Error>> {
    use tokio::io::AsyncReadExt;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let mut client = tokio::net::TcpStream::connect(address).await?;
    let (mut server_side, _) = listener.accept().await?;
    let mut samples = Vec::with_capacity(runs);
    let mut byte = [0u8; 1];
    for run in 0..WARMUP + runs {
        let closed_at = Instant::now();
        drop(server_side);
        if client.read(&mut byte).await? != 0 {
            return Err("plain tokio: data instead of EOF".into());
        }
        client = tokio::net::TcpStream::connect(address).await?;
        client.set_nodelay(true)?;
        let elapsed = closed_at.elapsed();
        if run >= WARMUP {
            samples.push(elapsed);
        }
        server_side = listener.accept().await?.0;
    }
    Ok(samples)
}

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    let rank = (fraction * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn micros(duration: Duration) -> String {
    format!("{:.0} µs", duration.as_secs_f64() * 1e6)
}
