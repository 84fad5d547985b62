//! Nothing outlives a network: not after stop, not after its process is SIGKILLed; and the
//! unprivileged path (a user namespace) builds the same networks.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use testrig::network::{Link, Network, Switch};

use crate::support::{
    DEADLINE, live_network_namespaces, networks_available, root_links, two_hosts_example, wait_gone,
};

/// The kernel frees a namespace after its last holder lets go; give it a moment.
const GONE_WITHIN: Duration = Duration::from_secs(5);

#[tokio::test]
async fn stop_leaves_no_namespace_and_no_link_behind() {
    if !networks_available() {
        return;
    }
    let links_before = root_links();
    let network = Network::builder("stop")
        .host("a")
        .host("b")
        .host("c")
        .link(Link::new("a", "b").rate("100mbit"))
        .switch(Switch::new("lan").hosts(["a", "b", "c"]))
        .build()
        .unwrap();
    network.start().await.unwrap();
    let inodes = network.namespace_inodes().unwrap();
    assert_eq!(inodes.len(), 4, "three hosts and a switch");
    let live = live_network_namespaces();
    assert!(
        inodes.iter().all(|inode| live.contains(inode)),
        "the namespaces are held while running"
    );
    assert_eq!(
        root_links(),
        links_before,
        "nothing is created in the test's own namespace"
    );

    network.stop().await.unwrap();
    let left = wait_gone(&inodes, GONE_WITHIN).await;
    assert!(
        left.is_empty(),
        "namespaces still held after stop: {left:?}"
    );
    assert_eq!(root_links(), links_before);
    // Stopping twice is harmless.
    network.stop().await.unwrap();
}

#[tokio::test]
async fn a_network_dropped_without_stop_goes_too() {
    if !networks_available() {
        return;
    }
    let network = Network::builder("dropped")
        .host("a")
        .host("b")
        .link(Link::new("a", "b"))
        .build()
        .unwrap();
    network.start().await.unwrap();
    let inodes = network.namespace_inodes().unwrap();
    drop(network);
    let left = wait_gone(&inodes, GONE_WITHIN).await;
    assert!(
        left.is_empty(),
        "namespaces still held after drop: {left:?}"
    );
}

/// The example's process, killed when dropped (so a failing test leaves no child).
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn a_sigkilled_process_leaves_no_namespace_behind() {
    if !networks_available() {
        return;
    }
    let links_before = root_links();
    let mut child = Child(
        Command::new(two_hosts_example())
            .arg("--hold")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let stdout = child.0.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    });
    let line = tokio::time::timeout(DEADLINE, line)
        .await
        .expect("the example built its network in time")
        .unwrap()
        .unwrap();
    let inodes: Vec<u64> = line
        .strip_prefix("holding ")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
        .split_whitespace()
        .map(|inode| inode.parse().unwrap())
        .collect();
    assert_eq!(inodes.len(), 2);
    let live = live_network_namespaces();
    assert!(
        inodes.iter().all(|inode| live.contains(inode)),
        "the child holds its namespaces"
    );

    // SIGKILL: no stop, no drop, no handler.
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    let left = wait_gone(&inodes, GONE_WITHIN).await;
    assert!(
        left.is_empty(),
        "namespaces of the killed process still alive: {left:?}"
    );
    assert_eq!(root_links(), links_before);
}

/// The user `nobody` runs the example: it enters a user namespace first thing in `main`,
/// then builds two hosts, a veth, addresses and a tbf rate, and sends a bounded transfer.
#[tokio::test]
async fn an_unprivileged_user_builds_a_network_in_a_user_namespace() {
    if !networks_available() {
        return;
    }
    // SAFETY: a getter.
    if unsafe { libc::geteuid() } != 0 {
        // Switching to another user needs root; as a non-root user, the other tests already
        // run on the unprivileged path or skip.
        eprintln!("skip: running the example as `nobody` needs root");
        return;
    }
    // A copy `nobody` may execute, wherever the target directory is.
    let scratch = std::env::temp_dir().join(format!("testrig-network-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    std::fs::set_permissions(&scratch, std::fs::Permissions::from_mode(0o755)).unwrap();
    let program = scratch.join("network_two_hosts");
    std::fs::copy(two_hosts_example(), &program).unwrap();
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();

    let started = Instant::now();
    let output = tokio::task::spawn_blocking(move || {
        let mut command = Command::new(&program);
        command
            .uid(65534)
            .gid(65534)
            .current_dir(&scratch)
            .env_remove("CI")
            .stdin(Stdio::null());
        let output = command.output();
        let _ = std::fs::remove_dir_all(&scratch);
        output
    });
    let output = tokio::time::timeout(Duration::from_secs(30), output)
        .await
        .expect("the unprivileged example finished in time")
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success()
        && stderr.contains("user namespace")
        && std::env::var_os("CI").is_none()
    {
        eprintln!("skip: user namespaces refused to `nobody` here: {stderr}");
        return;
    }
    assert!(
        output.status.success() && stdout.starts_with("ok: 1048576 bytes"),
        "as nobody, after {:?}: {}\nstdout: {stdout}\nstderr: {stderr}",
        started.elapsed(),
        output.status
    );
}
