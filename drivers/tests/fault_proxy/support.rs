//! Servers to proxy to, and timing helpers, shared by the fault proxy tests.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout};

use testrig_drivers::fault_proxy::ProxyEngine;

/// Held shared by the tests that measure time (latency, rates, deadlines) and
/// exclusively by the ones that load the machine (a thousand connections, megabytes
/// of backpressure), so the first are not measuring the second.
static MACHINE: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// For a test that measures time.
pub(crate) async fn timing() -> tokio::sync::RwLockReadGuard<'static, ()> {
    MACHINE.read().await
}

/// For a test that loads the machine.
pub(crate) async fn exclusive() -> tokio::sync::RwLockWriteGuard<'static, ()> {
    MACHINE.write().await
}

/// The longest any single step may take before a test fails rather than hangs.
pub(crate) const PATIENCE: Duration = Duration::from_secs(5);

/// A server echoing every byte back on each connection until it is dropped.
pub(crate) struct Echo {
    pub(crate) address: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Echo {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub(crate) async fn echo_server() -> Echo {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut connections = tokio::task::JoinSet::new();
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            connections.spawn(async move {
                let (mut read, mut write) = stream.into_split();
                let _ = tokio::io::copy(&mut read, &mut write).await;
            });
        }
    });
    Echo { address, task }
}

/// A listener whose connections the test drives itself.
pub(crate) async fn listener() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").await.unwrap()
}

pub(crate) async fn accept(listener: &TcpListener) -> TcpStream {
    let (stream, _) = timeout(PATIENCE, listener.accept())
        .await
        .expect("a connection arrives")
        .unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}

pub(crate) fn proxy_to(upstream: SocketAddr) -> ProxyEngine {
    ProxyEngine::start("proxy", "127.0.0.1:0".parse().unwrap(), upstream).unwrap()
}

pub(crate) async fn connect(proxy: &ProxyEngine) -> TcpStream {
    let stream = timeout(PATIENCE, TcpStream::connect(proxy.local_addr()))
        .await
        .unwrap()
        .unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}

/// Sends `message` and reads it back from an echo; returns how long it took.
pub(crate) async fn round_trip(stream: &mut TcpStream, message: &[u8]) -> Duration {
    let started = Instant::now();
    stream.write_all(message).await.unwrap();
    let mut back = vec![0u8; message.len()];
    timeout(PATIENCE, stream.read_exact(&mut back))
        .await
        .expect("the echo comes back")
        .unwrap();
    assert_eq!(back, message);
    started.elapsed()
}

/// Five round trips' durations, shortest first. A latency is a floor, so none may
/// be below it; the shortest shows what the proxy added, where a busy machine's
/// late wake-ups (other builds share these cores) are least likely to be.
pub(crate) async fn five_round_trips(client: &mut TcpStream) -> Vec<Duration> {
    let mut took = Vec::new();
    for _ in 0..5 {
        took.push(round_trip(client, b"hello").await);
    }
    took.sort();
    took
}

/// Reads until the peer closes; returns the bytes and when the end came.
pub(crate) async fn read_to_end(stream: &mut TcpStream) -> std::io::Result<(Vec<u8>, Instant)> {
    let mut all = Vec::new();
    timeout(PATIENCE, stream.read_to_end(&mut all))
        .await
        .expect("the stream ends")?;
    Ok((all, Instant::now()))
}

/// `actual` is `expected` within `slack` either way.
/// For a one-shot timer: `actual` is `expected`, at most 10 ms early (the clock starts a
/// little before the proxy sees the event) and at most 30 ms late (a timer woken on a busy
/// machine fires late, never early).
pub(crate) fn assert_on_time(actual: Duration, expected: Duration, what: &str) {
    let (early, late) = (Duration::from_millis(10), Duration::from_millis(30));
    assert!(
        actual + early >= expected && actual <= expected + late,
        "{what}: {actual:?}, expected {expected:?} (-{early:?}, +{late:?})"
    );
}

pub(crate) fn assert_near(actual: Duration, expected: Duration, slack: Duration, what: &str) {
    assert!(
        actual + slack >= expected && actual <= expected + slack,
        "{what}: {actual:?}, expected {expected:?} ± {slack:?}"
    );
}
