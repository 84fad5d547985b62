//! Shared helpers for the iperf tests: the real `iperf3` as a peer (server or client), free
//! ports, and the native server.
#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use testrig_drivers::iperf::IperfResult;
use testrig_drivers::iperf::engine::{NativeServer, ServerConfig};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The iperf3 binary, or `None` after printing why the calling test is skipped. Under CI
/// (the `CI` variable set) a missing iperf3 is a failure, never a skip: CI installs it.
pub fn iperf3() -> Option<PathBuf> {
    let candidates = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    let found = candidates
        .into_iter()
        .map(|dir| dir.join("iperf3"))
        .find(|p| p.is_file());
    if found.is_none() {
        let why = "this interop test needs the real `iperf3` on PATH (Debian/Ubuntu: \
                   `sudo apt-get install iperf3`; `scripts/setup` installs it)";
        assert!(std::env::var_os("CI").is_none(), "CI is set and {why}");
        eprintln!("SKIPPED: {why}");
    }
    found
}

/// The iperf3 binary; without it the calling test prints a skip line and returns (and fails
/// under CI, see [`iperf3`]).
#[macro_export]
macro_rules! iperf3_or_skip {
    () => {
        match iperf_support::iperf3() {
            Some(binary) => binary,
            None => return,
        }
    };
}

/// A port that was free a moment ago (iperf3 refuses port 0, so callers retry on
/// "address in use").
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port on 127.0.0.1")
}

/// A running `iperf3 -s`, killed when dropped.
pub struct Iperf3Server {
    child: Child,
    pub port: u16,
    /// How many times it said "Server listening": once at the start, then again after each
    /// test (iperf3 closes its listener during a test and opens it anew afterwards).
    listening: tokio::sync::watch::Receiver<u64>,
    /// Reads what it prints on standard error after it was listening, until it ends.
    stderr: tokio::task::JoinHandle<String>,
}

impl Iperf3Server {
    /// Starts `iperf3 -s` on a free port and waits for "Server listening".
    pub async fn start(binary: &PathBuf) -> Iperf3Server {
        Self::start_with(binary, &[]).await
    }

    /// Starts `iperf3 -s <extra>` on a free port and waits for "Server listening".
    pub async fn start_with(binary: &PathBuf, extra: &[&str]) -> Iperf3Server {
        for _attempt in 0..5 {
            let port = free_port();
            let mut child = Command::new(binary)
                .args([
                    "-s",
                    "-B",
                    "127.0.0.1",
                    "-p",
                    &port.to_string(),
                    "--forceflush",
                ])
                .args(extra)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .expect("iperf3 spawns");
            let stdout = child.stdout.take().expect("piped stdout");
            let stderr = child.stderr.take().expect("piped stderr");
            let mut out = BufReader::new(stdout).lines();
            let mut err = BufReader::new(stderr).lines();
            let ready = tokio::time::timeout(Duration::from_secs(5), async {
                loop {
                    tokio::select! {
                        line = out.next_line() => match line {
                            Ok(Some(l)) if l.contains("Server listening") => return true,
                            Ok(Some(_)) => {}
                            _ => return false,
                        },
                        line = err.next_line() => match line {
                            Ok(Some(l)) if l.contains("in use") => return false,
                            Ok(Some(_)) => {}
                            _ => return false,
                        },
                    }
                }
            })
            .await;
            if let Ok(true) = ready {
                // Keep draining its output so it never blocks on a full pipe, counting the
                // times it is listening again.
                let (listened, listening) = tokio::sync::watch::channel(1u64);
                tokio::spawn(async move {
                    while let Ok(Some(line)) = out.next_line().await {
                        if line.contains("Server listening") {
                            listened.send_modify(|n| *n += 1);
                        }
                    }
                });
                let stderr = tokio::spawn(async move {
                    let mut said = String::new();
                    while let Ok(Some(line)) = err.next_line().await {
                        said.push_str(&line);
                        said.push('\n');
                    }
                    said
                });
                return Iperf3Server {
                    child,
                    port,
                    listening,
                    stderr,
                };
            }
            let _ = child.kill().await;
        }
        panic!("iperf3 -s did not start on any of 5 free ports");
    }
}

impl Iperf3Server {
    /// Waits (up to `deadline`) for the server to exit by itself (`-1`); returns its status
    /// and what it printed on standard error meanwhile.
    pub async fn exited(mut self, deadline: Duration) -> (std::process::ExitStatus, String) {
        let status = tokio::time::timeout(deadline, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("iperf3 -s did not exit within {deadline:?}"))
            .expect("iperf3 -s status");
        let said = tokio::time::timeout(deadline, &mut self.stderr)
            .await
            .unwrap_or_else(|_| panic!("iperf3 -s's stderr did not end within {deadline:?}"))
            .expect("the stderr reader");
        (status, said)
    }

    /// Waits until the server listens for its `tests_done + 1`-th test (it refuses
    /// connections between tests for a moment), failing after `deadline`.
    pub async fn listening_after(&self, tests_done: u64, deadline: Duration) {
        let mut listening = self.listening.clone();
        tokio::time::timeout(deadline, listening.wait_for(|n| *n > tests_done))
            .await
            .unwrap_or_else(|_| panic!("iperf3 -s not listening again within {deadline:?}"))
            .expect("iperf3 -s output ended");
    }
}

impl Drop for Iperf3Server {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// Runs `iperf3 -c 127.0.0.1 -p PORT -J <args>` (30 s at most) and returns what it printed.
pub async fn iperf3_client_output(binary: &Path, port: u16, args: &[&str]) -> Output {
    tokio::time::timeout(
        Duration::from_secs(30),
        Command::new(binary)
            .args(["-c", "127.0.0.1", "-p", &port.to_string(), "-J"])
            .args(args)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("iperf3 -c finishes within 30 s")
    .expect("iperf3 -c runs")
}

/// Runs `iperf3 -c 127.0.0.1 -p PORT -J <args>` and parses its output.
pub async fn iperf3_client(binary: &Path, port: u16, args: &[&str]) -> IperfResult {
    let output = iperf3_client_output(binary, port, args).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    IperfResult::from_iperf3_json(&stdout).unwrap_or_else(|e| {
        panic!(
            "iperf3 -c {args:?} failed: {e}\nstderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// A native server on a kernel-assigned port of 127.0.0.1.
pub async fn native_server() -> NativeServer {
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    NativeServer::bind(addr, ServerConfig::default())
        .await
        .expect("native server binds")
}

/// Asserts two byte counts agree within `tolerance`, naming what was compared.
pub fn assert_close(what: &str, a: u64, b: u64, tolerance: u64) {
    let diff = a.abs_diff(b);
    assert!(
        diff <= tolerance,
        "{what}: {a} vs {b} differ by {diff} bytes (allowed {tolerance})"
    );
}

/// Asserts what a receiver of a timed TCP test counted is consistent with what was sent.
/// A receiver stops counting when the test ends on its side: iperf3's when it handles
/// `TEST_END` (it even drops what is still queued in its sockets), the native one at the same
/// moment (it counts what is queued). What the sender had written but not yet delivered by
/// then, and in reverse mode what it wrote before `TEST_END` reached it, is not counted:
/// iperf3 against itself shows the same. So a receiver may count less than was sent, never
/// more, by at most [`shortfall_allowed`].
pub fn assert_received_by_the_end(what: &str, sent: u64, received: u64, streams: u64) {
    assert!(
        received <= sent,
        "{what}: received {received} > sent {sent}"
    );
    let allowed = shortfall_allowed(sent, streams);
    assert!(
        sent - received <= allowed,
        "{what}: received {received} of {sent} sent: {} short, more than the {allowed} bytes \
         allowed for {streams} stream(s)",
        sent - received
    );
    assert!(received > 0, "{what}: nothing received");
}

/// How much less than `sent` a receiver of a timed TCP test over `streams` streams may
/// count: what the streams can hold in flight ([`in_flight`]), and in reverse mode what the
/// sender wrote until `TEST_END` reached it, which the native receiver reads without
/// counting meanwhile, so the sender is not held back by full buffers (on a 2-core machine
/// saturated by other work that was 9.5 % of a 1 s test, 56 MB beyond the buffers: a
/// quarter of what was sent is allowed for it).
pub fn shortfall_allowed(sent: u64, streams: u64) -> u64 {
    in_flight(streams) + sent / 4
}

/// What `streams` TCP streams can hold in flight: the kernel's largest send and receive
/// buffers each (`tcp_wmem`, `tcp_rmem`; 4 MiB + 32 MiB here, so on a busy loopback a 1 s
/// test may lose more than a tenth of its bytes this way).
pub fn in_flight(streams: u64) -> u64 {
    streams * (largest_buffer("tcp_wmem") + largest_buffer("tcp_rmem"))
}

/// The largest buffer Linux gives a TCP socket (the third of `/proc/sys/net/ipv4/<name>`).
fn largest_buffer(name: &str) -> u64 {
    let path = format!("/proc/sys/net/ipv4/{name}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    text.split_whitespace()
        .nth(2)
        .and_then(|max| max.parse().ok())
        .unwrap_or_else(|| panic!("{path}: no third number in {text:?}"))
}

/// The example `iperf3` command, built now if it is not up to date (a no-op when it is).
pub fn example_iperf3() -> PathBuf {
    let output = std::process::Command::new(env!("CARGO"))
        .args([
            "build",
            "--quiet",
            "--example",
            "iperf3",
            "-p",
            "testrig-drivers",
            "--message-format=json",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stderr(Stdio::inherit())
        .output()
        .expect("cargo builds the iperf3 example");
    assert!(
        output.status.success(),
        "cargo build --example iperf3 failed"
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["target"]["name"] == "iperf3")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .expect("cargo names the iperf3 example's executable")
}
