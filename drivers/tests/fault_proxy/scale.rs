//! Many connections at once: all carried, in bounded time and memory, all closed.

use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use crate::support::{PATIENCE, connect, echo_server, exclusive, proxy_to, round_trip};

/// The resident memory of this process, in bytes.
fn resident_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kib: usize = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_connections_are_carried_in_bounded_time_and_memory() {
    let _machine = exclusive().await;
    let echo = echo_server().await;
    let proxy = std::sync::Arc::new(proxy_to(echo.address));
    let before = resident_bytes();
    let started = Instant::now();
    let (all_open, open) = tokio::sync::watch::channel(0usize);
    let all_open = std::sync::Arc::new(all_open);
    let mut clients = JoinSet::new();
    for i in 0..1000usize {
        let proxy = proxy.clone();
        let all_open = all_open.clone();
        let mut open = open.clone();
        clients.spawn(async move {
            let mut client = connect(&proxy).await;
            round_trip(&mut client, format!("client {i:04}").as_bytes()).await;
            all_open.send_modify(|n| *n += 1);
            // Every client holds its connection until all are open at once.
            tokio::time::timeout(PATIENCE, open.wait_for(|n| *n == 1000))
                .await
                .unwrap()
                .unwrap();
        });
    }
    let mut peak = 0;
    while let Some(done) = clients.join_next().await {
        done.unwrap();
        peak = peak.max(proxy.open_connections());
    }
    let took = started.elapsed();
    let grown = resident_bytes().saturating_sub(before);
    assert!(
        took < Duration::from_secs(10),
        "1000 connections took {took:?}"
    );
    assert!(grown < 256 << 20, "memory grew by {} MiB", grown >> 20);
    assert!(
        proxy
            .wait_open_connections(|open| open == 0, PATIENCE)
            .await,
        "connections left open"
    );
    assert_eq!(proxy.connections().len(), 1000);
    proxy.stop().await;
    assert!(proxy.is_finished());
    eprintln!(
        "1000 connections: {took:?}, peak open {peak}, memory +{} MiB",
        grown >> 20
    );
}
