//! Fault proxy speed with no toxic, side by side with a direct connection in the
//! same run.
//!
//! Run: `cargo run --release -p testrig-drivers --example bench_fault_proxy`
//!
//! 1. 64-byte request/response: the latency the proxy adds (p50 target < 15 µs)
//!    and its p99, batches through the proxy and direct taking turns. Twice:
//!    - in one current-thread runtime, client, echo server and proxy together (what
//!      a `#[tokio::test]` does);
//!    - with the client and the echo server as blocking sockets on threads of their
//!      own, the proxy on a runtime of `PROXY_THREADS` workers (default 1): every
//!      hop through the proxy wakes another thread. Beside it, a plain tokio proxy
//!      (`copy_bidirectional`) on the same runtime: the floor for any proxy there.
//! 2. Bulk one-way transfer, 1 MiB writes, the second setup: Gbit/s through the
//!    proxy (target ≥ 10) next to a direct connection's. `BULK_SECONDS` (default 2)
//!    each, in `BULK_ROUNDS` (default 4) rounds taking turns, direct then proxied,
//!    so a change in the machine's load falls on both; the median round of each is
//!    reported, with the range.
//!
//! The added latency is the proxied percentile minus the direct one, both from the
//! same run (negative when the proxied one came out lower, which happens for p99).
//! Figures move with the machine's load, printed first: run it on a quiet machine,
//! and more than once.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use testrig_drivers::fault_proxy::ProxyEngine;

const MESSAGE: usize = 64;
const BATCHES: usize = 10;
const BATCH: usize = 2_000;
const WARM_UP: usize = 2_000;

/// A server on its own thread: each connection served on a thread of its own,
/// echoing (`echo`) or discarding what it reads.
fn server(echo: bool) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            stream.set_nodelay(true).unwrap();
            thread::spawn(move || {
                let mut buffer = vec![0u8; 1 << 20];
                loop {
                    match stream.read(&mut buffer) {
                        Ok(0) | Err(_) => return,
                        Ok(n) if echo => {
                            if stream.write_all(&buffer[..n]).is_err() {
                                return;
                            }
                        }
                        Ok(_) => {}
                    }
                }
            });
        }
    });
    address
}

fn connect(address: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(address).unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}

fn round_trips(stream: &mut TcpStream, count: usize, samples: &mut Vec<Duration>) {
    let request = [0x5au8; MESSAGE];
    let mut response = [0u8; MESSAGE];
    for _ in 0..count {
        let started = Instant::now();
        stream.write_all(&request).unwrap();
        stream.read_exact(&mut response).unwrap();
        samples.push(started.elapsed());
    }
}

fn percentile(samples: &mut [Duration], per_cent: usize) -> Duration {
    samples.sort();
    samples[(samples.len() * per_cent / 100).min(samples.len() - 1)]
}

fn bulk(address: SocketAddr, seconds: f64) -> f64 {
    let mut stream = connect(address);
    let block = vec![0xa5u8; 1 << 20];
    let started = Instant::now();
    let mut sent = 0u64;
    while started.elapsed().as_secs_f64() < seconds {
        stream.write_all(&block).unwrap();
        sent += block.len() as u64;
    }
    // What is still in flight is not counted as carried: wait for the sink's close
    // after ours, so every byte counted went through.
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    let _ = stream.read(&mut [0u8; 1]);
    sent as f64 * 8.0 / started.elapsed().as_secs_f64() / 1e9
}

/// Round trips in one current-thread runtime: the client, a tokio echo server and
/// the proxy share its thread. Returns (direct, proxied) samples.
fn same_thread_round_trips() -> (Vec<Duration>, Vec<Duration>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let echo = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                stream.set_nodelay(true).unwrap();
                tokio::spawn(async move {
                    let (mut read, mut write) = stream.into_split();
                    let _ = tokio::io::copy(&mut read, &mut write).await;
                });
            }
        });
        let proxy = ProxyEngine::start("echo", "127.0.0.1:0".parse().unwrap(), echo).unwrap();
        let connect = |address| async move {
            let stream = tokio::net::TcpStream::connect(address).await.unwrap();
            stream.set_nodelay(true).unwrap();
            stream
        };
        let mut direct = connect(echo).await;
        let mut proxied = connect(proxy.local_addr()).await;
        let (mut direct_samples, mut proxied_samples) = (Vec::new(), Vec::new());
        let request = [0x5au8; MESSAGE];
        let mut response = [0u8; MESSAGE];
        for batch in 0..=BATCHES {
            for (stream, samples) in [
                (&mut direct, &mut direct_samples),
                (&mut proxied, &mut proxied_samples),
            ] {
                for _ in 0..BATCH {
                    let started = Instant::now();
                    stream.write_all(&request).await.unwrap();
                    stream.read_exact(&mut response).await.unwrap();
                    if batch > 0 {
                        samples.push(started.elapsed()); // batch 0 warms up
                    }
                }
            }
        }
        proxy.stop().await;
        (direct_samples, proxied_samples)
    })
}

/// `proxied - direct`, signed, in µs.
fn added(proxied: Duration, direct: Duration) -> String {
    let micros = (proxied.as_secs_f64() - direct.as_secs_f64()) * 1e6;
    format!("{micros:+.2} µs")
}

/// The median and the range of `figures`.
fn median_and_range(figures: &mut [f64]) -> (f64, f64, f64) {
    figures.sort_by(f64::total_cmp);
    let middle = figures.len() / 2;
    let median = if figures.len().is_multiple_of(2) {
        (figures[middle - 1] + figures[middle]) / 2.0
    } else {
        figures[middle]
    };
    (median, figures[0], figures[figures.len() - 1])
}

fn report(label: &str, mut direct: Vec<Duration>, mut proxied: Vec<Duration>) {
    let (d50, d99) = (percentile(&mut direct, 50), percentile(&mut direct, 99));
    let (p50, p99) = (percentile(&mut proxied, 50), percentile(&mut proxied, 99));
    println!(
        "64-byte round trip, {label} ({} each): direct p50 {d50:?} p99 {d99:?} | proxied p50 {p50:?} p99 {p99:?}",
        direct.len()
    );
    println!(
        "  added by the proxy: p50 {} (target < 15 µs), p99 {}",
        added(p50, d50),
        added(p99, d99)
    );
}

/// The floor for a proxy in user space: a plain tokio proxy (`copy_bidirectional`, no delay
/// on both sockets) on the same runtime as the fault proxy, to `upstream`.
async fn plain_tokio_proxy(upstream: SocketAddr) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut server = tokio::net::TcpStream::connect(upstream).await.unwrap();
                client.set_nodelay(true).unwrap();
                server.set_nodelay(true).unwrap();
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            });
        }
    });
    address
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let threads: usize = env_or("PROXY_THREADS", 1);
    let bulk_seconds: f64 = env_or("BULK_SECONDS", 2.0);
    let bulk_rounds: usize = env_or::<usize>("BULK_ROUNDS", 4).max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .unwrap();

    let echo = server(true);
    let sink = server(false);
    let (echo_proxy, sink_proxy) = runtime.block_on(async {
        let listen = "127.0.0.1:0".parse().unwrap();
        (
            ProxyEngine::start("echo", listen, echo).unwrap(),
            ProxyEngine::start("sink", listen, sink).unwrap(),
        )
    });

    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    println!(
        "fault proxy, no toxic; load average {} on {} CPUs",
        load.join(" "),
        thread::available_parallelism().map_or(0, |n| n.get())
    );
    let (direct_samples, proxied_samples) = same_thread_round_trips();
    report(
        "one current-thread runtime",
        direct_samples,
        proxied_samples,
    );

    let plain = runtime.block_on(plain_tokio_proxy(echo));
    let mut direct = connect(echo);
    let mut proxied = connect(echo_proxy.local_addr());
    let mut plain = connect(plain);
    let (mut direct_samples, mut proxied_samples) = (Vec::new(), Vec::new());
    let mut plain_samples = Vec::new();
    round_trips(&mut direct, WARM_UP, &mut Vec::new());
    round_trips(&mut proxied, WARM_UP, &mut Vec::new());
    round_trips(&mut plain, WARM_UP, &mut Vec::new());
    for _ in 0..BATCHES {
        round_trips(&mut direct, BATCH, &mut direct_samples);
        round_trips(&mut proxied, BATCH, &mut proxied_samples);
        round_trips(&mut plain, BATCH, &mut plain_samples);
    }
    let direct_p50 = percentile(&mut direct_samples.clone(), 50);
    report(
        &format!("threads, proxy on {threads} worker(s)"),
        direct_samples,
        proxied_samples,
    );
    // Every hop through a proxy on threads wakes another thread: what any proxy pays here.
    let plain_p50 = percentile(&mut plain_samples, 50);
    println!(
        "  a plain tokio proxy (copy_bidirectional) on the same runtime: p50 {plain_p50:?}, \
         added {}",
        added(plain_p50, direct_p50)
    );

    let round = bulk_seconds / bulk_rounds as f64;
    let (mut direct_gbits, mut proxied_gbits) = (Vec::new(), Vec::new());
    for _ in 0..bulk_rounds {
        direct_gbits.push(bulk(sink, round));
        proxied_gbits.push(bulk(sink_proxy.local_addr(), round));
    }
    let (d, d_low, d_high) = median_and_range(&mut direct_gbits);
    let (p, p_low, p_high) = median_and_range(&mut proxied_gbits);
    println!(
        "bulk, {bulk_seconds} s each in {bulk_rounds} rounds: direct {d:.1} Gbit/s ({d_low:.1}–{d_high:.1}) | proxied {p:.1} Gbit/s ({p_low:.1}–{p_high:.1}) (target ≥ 10)"
    );

    runtime.block_on(async {
        echo_proxy.stop().await;
        sink_proxy.stop().await;
    });
}
