//! `testrig run`: starts the rig, runs the steps, reports, stops; the exit code
//! tells a failing step (1) from a rig that could not start (2).

use std::time::Duration;

use testrig::testing::ClosedPort;
use testrig::{Outcome, Status};

use crate::support::{
    Lines, case_outcomes, group_alive, printed, read_reports, run, scratch, send_signal, spawn,
    wait_with_deadline,
};

#[test]
fn run_of_the_tcp_rig_passes_and_writes_json_and_junit_reports() {
    let dir = scratch("run-tcp");
    let reports = dir.to_str().unwrap();
    let output = run(&["run", "examples/rigs/tcp.toml", "--report-dir", reports]);
    assert_eq!(output.status.code(), Some(0), "{}", printed(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("server    started   listening tcp 127.0.0.1:"),
        "{stdout}"
    );
    assert!(stdout.contains("step 1/1 ping-pong  ok"), "{stdout}");
    assert!(stdout.contains("environment tcp PASSED"), "{stdout}");

    let report = read_reports(&dir, "tcp");
    assert_eq!(report.outcome, Outcome::Passed);
    assert_eq!(case_outcomes(&report), [("ping-pong", Outcome::Passed)]);
    let server = &report.drivers[0];
    assert_eq!(
        (server.name.as_str(), server.status),
        ("server", Status::Stopped)
    );
    assert!(server.exports.contains_key("port"));
    assert!(
        !report.runpath.exists(),
        "a clean run's directory is removed when the reports went elsewhere: {}",
        report.runpath.display()
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn without_a_report_dir_the_reports_are_in_the_runs_directory_and_it_is_kept() {
    let output = run(&["run", "examples/rigs/tcp.toml"]);
    assert_eq!(output.status.code(), Some(0), "{}", printed(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let json = stdout
        .lines()
        .find_map(|line| line.strip_prefix("reports: "))
        .and_then(|paths| paths.split_whitespace().next())
        .unwrap_or_else(|| panic!("the reports line:\n{stdout}"));
    let run_dir = std::path::Path::new(json).parent().unwrap().to_owned();
    assert!(std::path::Path::new(json).is_file(), "{json}");
    std::fs::remove_dir_all(run_dir).unwrap();
}

#[test]
fn run_of_the_quickstart_rig_survives_the_server_restart_and_reports_every_step() {
    let dir = scratch("run-quickstart");
    let output = run(&[
        "run",
        "examples/rigs/quickstart.toml",
        "--report-dir",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", printed(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("server    stopping  restart"), "{stdout}");
    let report = read_reports(&dir, "quickstart");
    assert_eq!(
        case_outcomes(&report),
        [
            ("ping-pong", Outcome::Passed),
            ("restart-server", Outcome::Passed),
            ("still-connected", Outcome::Passed),
            ("throughput", Outcome::Passed)
        ]
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_failing_step_exits_1_names_what_differed_and_the_steps_after_it_are_not_run() {
    let dir = scratch("run-failing-step");
    let rig = dir.join("failing.toml");
    std::fs::write(
        &rig,
        r#"
[rig]
name = "failing"

[[driver]]
name = "server"
kind = "tcp_server"

[[driver]]
name = "client"
kind = "tcp_client"
port = "${server.port}"

[[step]]
name = "server-is-up"
kind = "wait"
driver = "server"
status = "started"
timeout = "1s"

[[step]]
name = "wrong-greeting"
kind = "tcp_exchange"
client = "client"
server = "server"
send = "ping\n"
expect = "pong\n"

[[step]]
kind = "restart"
driver = "server"
"#,
    )
    .unwrap();
    let output = run(&[
        "run",
        rig.to_str().unwrap(),
        "--report-dir",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", printed(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(r#"step 2/3 wrong-greeting  FAILED"#)
            && stdout.contains(r#"server `server` expected "pong\n" but received "ping\n""#),
        "{stdout}"
    );
    let report = read_reports(&dir, "failing");
    assert_eq!(report.outcome, Outcome::Failed);
    assert_eq!(
        case_outcomes(&report),
        [
            ("server-is-up", Outcome::Passed),
            ("wrong-greeting", Outcome::Failed),
            ("3-restart", Outcome::NotRun)
        ]
    );
    assert!(
        report.drivers.iter().all(|d| d.status == Status::Stopped),
        "torn down"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_rig_that_cannot_start_exits_2_with_the_error_and_its_steps_not_run() {
    let dir = scratch("run-cannot-start");
    let rig = dir.join("unreachable.toml");
    let closed = ClosedPort::new();
    let port = closed.port();
    std::fs::write(
        &rig,
        format!(
            r#"
[rig]
name = "unreachable"

[[driver]]
name = "client"
kind = "tcp_client"
port = {port}

[[step]]
kind = "wait"
duration = "1ms"
"#
        ),
    )
    .unwrap();
    let output = run(&[
        "run",
        rig.to_str().unwrap(),
        "--report-dir",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", printed(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("rig `unreachable` could not start")
            && stderr.contains(&format!("127.0.0.1:{port}")),
        "{}",
        printed(&output)
    );
    let report = read_reports(&dir, "unreachable");
    assert_eq!(case_outcomes(&report), [("1-wait", Outcome::NotRun)]);
    assert_eq!(report.drivers[0].status, Status::Failed);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn sigint_during_a_step_cancels_it_tears_down_and_exits_1() {
    let dir = scratch("run-interrupted");
    let rig = dir.join("long.toml");
    std::fs::write(
        &rig,
        "[rig]\nname = \"long\"\n\n[[driver]]\nname = \"server\"\nkind = \"tcp_server\"\n\n\
         [[step]]\nname = \"long-pause\"\nkind = \"wait\"\nduration = \"60s\"\n\n\
         [[step]]\nkind = \"restart\"\ndriver = \"server\"\n",
    )
    .unwrap();
    let mut child = spawn(&[
        "run",
        rig.to_str().unwrap(),
        "--report-dir",
        dir.to_str().unwrap(),
    ]);
    let pid = child.id();
    let mut lines = Lines::of(&mut child);
    lines.wait_for("step 1/2 long-pause (wait)", Duration::from_secs(20));
    send_signal(pid, libc::SIGINT);
    let rest = lines.rest(Duration::from_secs(20)).join("\n");
    let (status, stderr) = wait_with_deadline(child, Duration::from_secs(20));
    assert_eq!(status.code(), Some(1), "{stderr}\n{rest}");
    assert!(rest.contains("server    stopped"), "torn down:\n{rest}");
    assert!(!group_alive(pid));
    let report = read_reports(&dir, "long");
    assert_eq!(
        case_outcomes(&report),
        [
            ("long-pause", Outcome::Failed),
            ("2-restart", Outcome::NotRun)
        ]
    );
    assert_eq!(
        report.cases[0].message.as_deref(),
        Some("interrupted by SIGINT")
    );
    std::fs::remove_dir_all(dir).unwrap();
}
