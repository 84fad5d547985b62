//! `testrig up`: stays up until SIGINT, then tears down and exits 0.

use std::net::TcpStream;
use std::time::Duration;

use crate::support::{
    Lines, closed_port, group_alive, scratch, send_signal, spawn, wait_with_deadline,
};

const DEADLINE: Duration = Duration::from_secs(20);

#[test]
fn up_prints_exports_stays_up_and_tears_down_on_sigint_with_exit_0() {
    let dir = scratch("up");
    let mut child = spawn(&[
        "up",
        "examples/rigs/tcp.toml",
        "--report-dir",
        dir.to_str().unwrap(),
    ]);
    let pid = child.id();
    let mut lines = Lines::of(&mut child);
    lines.wait_for("rig `tcp` is up", DEADLINE);

    let server = lines
        .seen
        .iter()
        .find(|l| l.contains("server (tcp_server)"))
        .expect("a line for the server")
        .clone();
    assert!(server.contains("listening tcp 127.0.0.1:"), "{server}");
    let port: u16 = server
        .split_whitespace()
        .find_map(|word| word.strip_prefix("port="))
        .expect("the server's exported port")
        .parse()
        .unwrap();
    assert!(
        lines
            .seen
            .iter()
            .any(|l| l.contains("client (tcp_client)") && l.contains(&format!("port={port}"))),
        "the client shows the port it was wired to:\n{}",
        lines.seen.join("\n")
    );
    // Up means up: the server accepts a connection from outside.
    TcpStream::connect(("127.0.0.1", port)).expect("the server accepts while up");

    send_signal(pid, libc::SIGINT);
    let rest = lines.rest(DEADLINE);
    let (status, stderr) = wait_with_deadline(child, DEADLINE);
    assert_eq!(
        status.code(),
        Some(0),
        "stderr:\n{stderr}\nstdout:\n{}",
        lines.seen.join("\n")
    );
    let rest = rest.join("\n");
    assert!(rest.contains("SIGINT received: stopping"), "{rest}");
    assert!(rest.contains("environment tcp PASSED"), "{rest}");

    let refused = TcpStream::connect(("127.0.0.1", port)).unwrap_err();
    assert_eq!(
        refused.kind(),
        std::io::ErrorKind::ConnectionRefused,
        "the server's port is closed"
    );
    assert!(
        !group_alive(pid),
        "no process is left in testrig's process group"
    );
    assert!(
        dir.join("tcp.json").exists(),
        "the report is written on the way out"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn up_of_a_rig_that_cannot_start_exits_2_with_the_error() {
    let dir = scratch("up-cannot-start");
    let rig = dir.join("unreachable.toml");
    let port = closed_port();
    std::fs::write(
        &rig,
        format!("[rig]\nname = \"unreachable\"\n\n[[driver]]\nname = \"client\"\nkind = \"tcp_client\"\nport = {port}\n"),
    )
    .unwrap();
    let child = spawn(&[
        "up",
        rig.to_str().unwrap(),
        "--report-dir",
        dir.to_str().unwrap(),
    ]);
    let (status, stderr) = wait_with_deadline(child, DEADLINE);
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("driver `client` failed in start"),
        "{stderr}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn up_stops_cleanly_on_sigterm_too() {
    let dir = scratch("up-sigterm");
    let mut child = spawn(&[
        "up",
        "examples/rigs/quickstart.toml",
        "--report-dir",
        dir.to_str().unwrap(),
    ]);
    let pid = child.id();
    let mut lines = Lines::of(&mut child);
    lines.wait_for("rig `quickstart` is up", DEADLINE);
    send_signal(pid, libc::SIGTERM);
    let rest = lines.rest(DEADLINE).join("\n");
    let (status, stderr) = wait_with_deadline(child, DEADLINE);
    assert_eq!(status.code(), Some(0), "{stderr}\n{rest}");
    assert!(rest.contains("SIGTERM received: stopping"), "{rest}");
    assert!(!group_alive(pid));
    std::fs::remove_dir_all(dir).unwrap();
}
