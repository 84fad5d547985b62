//! TCP driver speed, side by side with plain tokio sockets in the same run.
//!
//! Run: `cargo run --release -p testrig-drivers --example bench_tcp`
//!
//! Both sides run on a current-thread runtime, the runtime of `#[tokio::test]`.
//! Besides wall-clock round trips per second, each round's CPU time (the thread's
//! user + system time, which includes the kernel's loopback work) is measured: on a
//! busy machine the wall clock also counts time spent waiting for a core, and the CPU
//! time ratio is the steadier estimate of what an idle machine would show.
//!
//! 1. 64-byte request/response through `TcpClient`/`TcpServer` vs plain tokio
//!    sockets doing the same: target ≥ 0.9× plain tokio's round trips/s
//!    (testplan's drivers: 42,000/s, p50 23 µs on this machine).
//!    Beside it, plain tokio with the drivers' send contract added by hand: one `poll(2)` look
//!    at the socket before each write (a peer's FIN, reset or pending error makes the send fail
//!    with nothing written; issue 10). Its ratio to plain tokio is the ceiling for the drivers
//!    on this machine; the drivers' ratio to it is what the rest of the driver costs.
//! 2. An environment of 50 `TcpServer`/`TcpClient` pairs, each client referencing
//!    its server's port: start + one round trip per pair + stop: target < 30 ms
//!    (testplan: 1.76 s one by one, 2.95 s with dependencies).

use std::time::{Duration, Instant};

use testrig::{Environment, Error, Ref};
use testrig_drivers::tcp::{TcpClient, TcpServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ROUND_TRIPS: usize = 50_000;
const T: Duration = Duration::from_secs(5);
/// Paired rounds (plain tokio, then the drivers) after a warm-up pair.
const ROUNDS: usize = 11;

struct Figures {
    per_second: f64,
    /// CPU time of the thread per round trip.
    cpu_per_round_trip: Duration,
    p50: Duration,
    p99: Duration,
}

/// The calling thread's CPU time so far (`CLOCK_THREAD_CPUTIME_ID`).
fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: one valid `timespec` to write; the clock exists on Linux.
    let result = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    assert_eq!(result, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

fn figures(mut samples: Vec<Duration>, total: Duration, cpu: Duration) -> Figures {
    samples.sort();
    Figures {
        per_second: samples.len() as f64 / total.as_secs_f64(),
        cpu_per_round_trip: cpu / samples.len() as u32,
        p50: samples[samples.len() / 2],
        p99: samples[samples.len() * 99 / 100],
    }
}

/// Plain tokio, run in a spawned task like a test body under `Environment::run`.
async fn plain_tokio() -> Figures {
    tokio::spawn(plain_tokio_body()).await.unwrap()
}

/// Plain tokio, looking at the socket before each write as the drivers' sends do.
async fn plain_tokio_checked() -> Figures {
    tokio::spawn(plain_tokio_body_with(true)).await.unwrap()
}

async fn plain_tokio_body() -> Figures {
    plain_tokio_body_with(false).await
}

/// The peer is still there: a `poll(2)` with a zero timeout finds no FIN, reset or error.
fn peer_open(stream: &tokio::net::TcpStream) -> bool {
    use std::os::fd::AsRawFd;
    let mut poll_fd = libc::pollfd {
        fd: stream.as_raw_fd(),
        events: libc::POLLIN | libc::POLLRDHUP,
        revents: 0,
    };
    // SAFETY: one valid `pollfd` for a descriptor the stream holds; a zero timeout never blocks.
    let ready = unsafe { libc::poll(&mut poll_fd, 1, 0) };
    ready >= 0 && poll_fd.revents & (libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR) == 0
}

async fn plain_tokio_body_with(look: bool) -> Figures {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut client = tokio::net::TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (mut server, _) = listener.accept().await.unwrap();
    client.set_nodelay(true).unwrap();
    server.set_nodelay(true).unwrap();
    let request = [7u8; 64];
    let mut buf = [0u8; 64];
    let mut samples = Vec::with_capacity(ROUND_TRIPS);
    let cpu = thread_cpu_time();
    let began = Instant::now();
    for _ in 0..ROUND_TRIPS {
        let t = Instant::now();
        assert!(!look || peer_open(&client));
        client.write_all(&request).await.unwrap();
        server.read_exact(&mut buf).await.unwrap();
        assert!(!look || peer_open(&server));
        server.write_all(&buf).await.unwrap();
        client.read_exact(&mut buf).await.unwrap();
        samples.push(t.elapsed());
    }
    figures(samples, began.elapsed(), thread_cpu_time() - cpu)
}

async fn drivers() -> Figures {
    let env = Environment::builder("bench-rr")
        .driver(TcpServer::new("server"))
        .driver(TcpClient::new("client", Ref::export("server", "port")))
        .build()
        .unwrap();
    env.run(|env| async move {
        let server = env.get::<TcpServer>("server")?;
        let client = env.get::<TcpClient>("client")?;
        let conn = server.accept_connection(T).await?;
        let request = [7u8; 64];
        let mut samples = Vec::with_capacity(ROUND_TRIPS);
        let cpu = thread_cpu_time();
        let began = Instant::now();
        for _ in 0..ROUND_TRIPS {
            let t = Instant::now();
            client.send(&request).await?;
            let got = server.receive_exact(conn, 64, T).await?;
            server.send(conn, &got).await?;
            client.receive_exact(64, T).await?;
            samples.push(t.elapsed());
        }
        Ok::<_, Error>(figures(samples, began.elapsed(), thread_cpu_time() - cpu))
    })
    .await
    .unwrap()
}

async fn fifty_pairs() -> Duration {
    let began = Instant::now();
    let mut builder = Environment::builder("bench-pairs");
    for i in 0..50 {
        builder = builder
            .driver(TcpServer::new(format!("server{i}")))
            .driver(TcpClient::new(
                format!("client{i}"),
                Ref::export(format!("server{i}"), "port"),
            ));
    }
    let env = builder.build().unwrap();
    env.run(|env| async move {
        for i in 0..50 {
            let server = env.get::<TcpServer>(&format!("server{i}"))?;
            let client = env.get::<TcpClient>(&format!("client{i}"))?;
            client.send(b"ping").await?;
            let conn = server.accept_connection(T).await?;
            server.receive_exact(conn, 4, T).await?;
            server.send(conn, b"pong").await?;
            client.receive_exact(4, T).await?;
        }
        Ok::<_, Error>(())
    })
    .await
    .unwrap();
    began.elapsed()
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    // Alternate the two, eleven rounds each after a warm-up; show each one's best
    // round, and judge by the median of the paired ratios: the machine's other load
    // hits both sides of a pair alike.
    let _ = plain_tokio().await;
    let _ = plain_tokio_checked().await;
    let _ = drivers().await;
    let mut plain_runs = Vec::new();
    let mut checked_runs = Vec::new();
    let mut our_runs = Vec::new();
    let mut ratios = Vec::new();
    let mut cpu_ratios = Vec::new();
    let mut checked_ratios = Vec::new();
    let mut ours_to_checked = Vec::new();
    let cpu = |figures: &Figures| figures.cpu_per_round_trip.as_secs_f64();
    for _ in 0..ROUNDS {
        let plain = plain_tokio().await;
        let checked = plain_tokio_checked().await;
        let ours = drivers().await;
        ratios.push(ours.per_second / plain.per_second);
        cpu_ratios.push(cpu(&plain) / cpu(&ours));
        checked_ratios.push(cpu(&plain) / cpu(&checked));
        ours_to_checked.push(cpu(&checked) / cpu(&ours));
        plain_runs.push(plain);
        checked_runs.push(checked);
        our_runs.push(ours);
    }
    for list in [
        &mut ratios,
        &mut cpu_ratios,
        &mut checked_ratios,
        &mut ours_to_checked,
    ] {
        list.sort_by(f64::total_cmp);
    }
    let best = |runs: Vec<Figures>| {
        runs.into_iter()
            .max_by(|a, b| a.per_second.total_cmp(&b.per_second))
            .unwrap()
    };
    let plain = best(plain_runs);
    let checked = best(checked_runs);
    let ours = best(our_runs);
    println!(
        "64-byte request/response, {ROUND_TRIPS} round trips, best of {ROUNDS} alternating rounds (release build)"
    );
    println!(
        "{:<28}{:>14}{:>12}{:>12}{:>14}",
        "", "round trips/s", "p50", "p99", "CPU per trip"
    );
    println!(
        "{:<28}{:>14.0}{:>12}{:>12}{:>14}",
        "plain tokio sockets",
        plain.per_second,
        us(plain.p50),
        us(plain.p99),
        us(plain.cpu_per_round_trip)
    );
    println!(
        "{:<28}{:>14.0}{:>12}{:>12}{:>14}",
        "plain tokio + a look/send",
        checked.per_second,
        us(checked.p50),
        us(checked.p99),
        us(checked.cpu_per_round_trip)
    );
    println!(
        "{:<28}{:>14.0}{:>12}{:>12}{:>14}",
        "testrig TcpClient/TcpServer",
        ours.per_second,
        us(ours.p50),
        us(ours.p99),
        us(ours.cpu_per_round_trip)
    );
    println!(
        "{:<28}{:>14}{:>12}",
        "testplan drivers (baseline)", "42000", "23.0 µs"
    );
    let ratio = ratios[ratios.len() / 2];
    println!(
        "ratio to plain tokio, median of {ROUNDS} paired rounds: {ratio:.2}x (range {:.2}..{:.2}; target >= 0.9x: {})",
        ratios[0],
        ratios[ratios.len() - 1],
        if ratio >= 0.9 { "MET" } else { "MISSED" }
    );
    let cpu_ratio = cpu_ratios[cpu_ratios.len() / 2];
    println!(
        "  by CPU time per round trip (steadier on a busy machine): {cpu_ratio:.2}x (range {:.2}..{:.2})",
        cpu_ratios[0],
        cpu_ratios[cpu_ratios.len() - 1],
    );
    let median = |list: &[f64]| list[list.len() / 2];
    println!(
        "  the send contract alone (plain tokio + a poll(2) look before each write), by CPU time: {:.2}x (range {:.2}..{:.2}): the ceiling here",
        median(&checked_ratios),
        checked_ratios[0],
        checked_ratios[checked_ratios.len() - 1],
    );
    println!(
        "  the drivers against that (the rest of the driver), by CPU time: {:.2}x (range {:.2}..{:.2})",
        median(&ours_to_checked),
        ours_to_checked[0],
        ours_to_checked[ours_to_checked.len() - 1],
    );
    println!();

    let mut runs: Vec<Duration> = Vec::new();
    for _ in 0..21 {
        runs.push(fifty_pairs().await);
    }
    runs.sort();
    let median = runs[runs.len() / 2];
    println!("50 TcpServer/TcpClient pairs: build + start + 1 round trip each + stop, 21 runs");
    println!(
        "  median {:.2} ms, best {:.2} ms (target < 30 ms: {})",
        median.as_secs_f64() * 1e3,
        runs[0].as_secs_f64() * 1e3,
        if median < Duration::from_millis(30) {
            "MET"
        } else {
            "MISSED"
        }
    );
    println!("  testplan: 1760 ms one by one, 2950 ms with dependencies");
}
