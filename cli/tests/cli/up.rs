//! `testrig up`: stays up until SIGINT, then tears down and exits 0; a driver
//! that fails while up ends it with exit 1.

use std::net::TcpStream;
use std::time::Duration;

use testrig::testing::ClosedPort;
use testrig::{Outcome, Status};

use crate::support::{
    Lines, group_alive, read_reports, scratch, send_signal, spawn, wait_with_deadline,
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
    let closed = ClosedPort::new();
    let port = closed.port();
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

#[test]
fn up_exits_1_naming_the_driver_when_an_app_dies_while_up_and_tears_the_others_down() {
    let dir = scratch("up-app-dies");
    let rig = dir.join("dies.toml");
    // `crasher` is a daemon (no `expect_exit`) that exits with 3 on its own a
    // moment after the rig is up; it starts last, so it dies while `up` holds
    // the rig, not while it starts.
    std::fs::write(
        &rig,
        r#"[rig]
name = "dies"

[[driver]]
name = "server"
kind = "tcp_server"

[[driver]]
name = "steady"
kind = "app"
shell = "echo ready; exec sleep 600"
ready_stdout = "ready"

[[driver]]
name = "crasher"
kind = "app"
binary = "sh"
args = ["-c", "sleep 0.3; exit 3"]
depends_on = ["server", "steady"]
"#,
    )
    .unwrap();
    let mut child = spawn(&[
        "up",
        rig.to_str().unwrap(),
        "--report-dir",
        dir.to_str().unwrap(),
    ]);
    let testrig_pid = child.id();
    let mut lines = Lines::of(&mut child);
    lines.wait_for("rig `dies` is up", DEADLINE);
    let exported = |label: &str, key: &str| -> u32 {
        let line = lines
            .seen
            .iter()
            .find(|l| l.contains(label))
            .unwrap_or_else(|| panic!("a line for {label}:\n{}", lines.seen.join("\n")));
        line.split_whitespace()
            .find_map(|word| word.strip_prefix(key))
            .unwrap_or_else(|| panic!("{key} in {line}"))
            .parse()
            .unwrap()
    };
    let steady = exported("steady (app)", "pid=");
    let steady_line = lines
        .seen
        .iter()
        .find(|l| l.contains("steady (app)"))
        .unwrap();
    let after_label = steady_line.split("(app)").nth(1).unwrap().trim_start();
    assert!(
        after_label.starts_with("exports pid="),
        "an app connects nowhere: its line goes straight to its exports: {steady_line}"
    );
    let port = exported("server (tcp_server)", "port=") as u16;
    assert!(
        group_alive(steady),
        "the steady app runs while the rig is up"
    );

    // No signal: the crasher's exit alone ends `up`.
    let rest = lines.rest(DEADLINE).join("\n");
    let (status, stderr) = wait_with_deadline(child, DEADLINE);
    assert_eq!(status.code(), Some(1), "{stderr}\n{rest}");
    let message = stderr
        .lines()
        .find(|l| l.starts_with("error: driver `crasher` failed while the rig was up"))
        .unwrap_or_else(|| panic!("the failure names the driver:\n{stderr}"));
    assert!(message.contains("exited with code 3"), "{message}");
    assert!(rest.contains("environment dies FAILED"), "{rest}");

    assert!(
        !group_alive(steady),
        "the steady app (pid {steady}) is stopped"
    );
    let refused = TcpStream::connect(("127.0.0.1", port)).unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    assert!(
        !group_alive(testrig_pid),
        "nothing is left in testrig's group"
    );
    let report = read_reports(&dir, "dies");
    assert_eq!(report.outcome, Outcome::Failed);
    let [case] = &report.cases[..] else {
        panic!("one case, `up`: {:?}", report.cases)
    };
    assert_eq!((case.name.as_str(), case.outcome), ("up", Outcome::Failed));
    assert!(
        case.message
            .as_deref()
            .is_some_and(|m| m.contains("driver `crasher` failed")),
        "{case:?}"
    );
    let statuses: Vec<_> = report
        .drivers
        .iter()
        .map(|d| (d.name.as_str(), d.status))
        .collect();
    assert_eq!(
        statuses,
        [
            ("server", Status::Stopped),
            ("steady", Status::Stopped),
            ("crasher", Status::Failed)
        ]
    );
    std::fs::remove_dir_all(dir).unwrap();
}
