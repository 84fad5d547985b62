//! What the network tests share: the skip-or-fail rule, sockets inside hosts, a bounded echo
//! and transfer, and the list of network namespaces alive on the machine.

use std::collections::HashSet;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use testrig::Host;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Every wait of these tests is bounded by this, or less.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// Whether networks can be built here. When not: prints `skip: <what is missing>`, or
/// panics when the `CI` variable is set (CI must run these tests).
pub fn networks_available() -> bool {
    match testrig::network::availability().missing() {
        None => true,
        Some(missing) if std::env::var_os("CI").is_some() => {
            panic!("CI is set and networks cannot be built here: {missing}")
        }
        Some(missing) => {
            eprintln!("skip: {missing}");
            false
        }
    }
}

/// A listener created inside `host`, on `address` (port 0: the kernel picks).
pub async fn listen(host: &Host, address: SocketAddr) -> TcpListener {
    host.tcp_listener(address)
        .await
        .unwrap_or_else(|error| panic!("bind {address} in {}: {error}", host.name()))
}

/// A connection from inside `host` to `address`: the socket is made in the host's
/// namespace, the connect runs on the runtime.
pub async fn connect(host: &Host, address: SocketAddr) -> io::Result<TcpStream> {
    host.tcp_connect(address).await
}

/// Serves echo on `listener` (every connection, until the task is dropped).
pub fn serve_echo(listener: TcpListener) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut reader, mut writer) = stream.split();
                let _ = tokio::io::copy(&mut reader, &mut writer).await;
            });
        }
    })
}

/// Sends `bytes` through an echo connection and reads them back, within `within`.
pub async fn echo(stream: &mut TcpStream, bytes: usize, within: Duration) -> io::Result<()> {
    let message: Vec<u8> = (0..bytes).map(|i| (i % 251) as u8).collect();
    tokio::time::timeout(within, async {
        let (mut reader, mut writer) = stream.split();
        let send = writer.write_all(&message);
        let mut back = vec![0u8; bytes];
        let receive = reader.read_exact(&mut back);
        let (sent, received) = tokio::join!(send, receive);
        sent?;
        received?;
        assert!(back == message, "the echo differs from what was sent");
        Ok(())
    })
    .await
    .map_err(|_| {
        io::Error::new(
            io::ErrorKind::TimedOut,
            format!("no echo within {within:?}"),
        )
    })?
}

/// A connection from `client` to an echo server in `server`, and one round trip of
/// `bytes`.
pub async fn echo_across(client: &Host, server: &Host, address: SocketAddr, bytes: usize) {
    let listener = listen(server, address).await;
    let address = listener.local_addr().unwrap();
    let _server = serve_echo(listener);
    let mut stream = tokio::time::timeout(DEADLINE, connect(client, address))
        .await
        .unwrap_or_else(|_| panic!("connect to {address} timed out"))
        .unwrap_or_else(|error| panic!("connect from {} to {address}: {error}", client.name()));
    echo(&mut stream, bytes, DEADLINE).await.unwrap();
}

/// Sends `bytes` from `client` to a sink in `server` and returns how long it took until the
/// sink had them all.
pub async fn timed_transfer(
    client: &Host,
    server: &Host,
    address: SocketAddr,
    bytes: usize,
) -> Duration {
    let listener = listen(server, address).await;
    let address = listener.local_addr().unwrap();
    let sink = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut buffer = vec![0u8; 64 * 1024];
        let mut received = 0;
        while received < bytes {
            let n = stream.read(&mut buffer).await.unwrap();
            assert!(n > 0, "the sender closed after {received} bytes of {bytes}");
            received += n;
        }
        Instant::now()
    });
    let mut stream = connect(client, address).await.unwrap();
    let started = Instant::now();
    let payload = vec![1u8; bytes];
    tokio::time::timeout(DEADLINE, stream.write_all(&payload))
        .await
        .expect("the transfer within the deadline")
        .unwrap();
    let finished = tokio::time::timeout(DEADLINE, sink)
        .await
        .expect("the sink got everything within the deadline")
        .unwrap();
    finished - started
}

/// The inodes of every network namespace some thread of some process is in now.
pub fn live_network_namespaces() -> HashSet<u64> {
    let mut inodes = HashSet::new();
    let Ok(processes) = std::fs::read_dir("/proc") else {
        return inodes;
    };
    for process in processes.flatten() {
        let Ok(tasks) = std::fs::read_dir(process.path().join("task")) else {
            continue;
        };
        for task in tasks.flatten() {
            if let Ok(link) = std::fs::read_link(task.path().join("ns/net")) {
                let text = link.to_string_lossy();
                if let Some(inode) = text.strip_prefix("net:[").and_then(|t| t.strip_suffix(']')) {
                    inodes.extend(inode.parse::<u64>().ok());
                }
            }
        }
    }
    inodes
}

/// The links of this test process's own namespace (the machine's, unless the test runs
/// inside one), by name.
pub fn root_links() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir("/sys/class/net")
        .map(|entries| {
            entries
                .flatten()
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Waits (bounded) until none of `inodes` is a live namespace; returns those still alive.
pub async fn wait_gone(inodes: &[u64], within: Duration) -> Vec<u64> {
    let started = Instant::now();
    loop {
        let live = live_network_namespaces();
        let left: Vec<u64> = inodes
            .iter()
            .copied()
            .filter(|i| live.contains(i))
            .collect();
        if left.is_empty() || started.elapsed() > within {
            return left;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The example `network_two_hosts`, built (once per test process) into this test's target
/// directory.
pub fn two_hosts_example() -> &'static Path {
    let name = "network_two_hosts";
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let exe = std::env::current_exe().expect("the test binary's path");
    // target/<profile>/deps/network-HASH → target/<profile>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    BUILT.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut command = Command::new(cargo);
        command
            .args([
                "build",
                "--offline",
                "--quiet",
                "-p",
                "testrig",
                "--example",
                name,
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        if let Some(target) = profile_dir.parent() {
            command.arg("--target-dir").arg(target);
        }
        if profile_dir.file_name().is_some_and(|p| p == "release") {
            command.arg("--release");
        }
        let status = command.status().expect("run cargo build");
        assert!(status.success(), "cargo could not build the example {name}");
        profile_dir.join("examples").join(name)
    })
}
