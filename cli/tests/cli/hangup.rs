//! SIGHUP, what a closed terminal sends, stops `up` and `run` as SIGTERM does:
//! teardown, summary, reports — even with stdout and stderr gone.

use std::io::{BufRead, BufReader};
use std::process::Child;
use std::time::Duration;

use testrig::{Outcome, Status};

use crate::support::{
    Lines, case_outcomes, group_alive, read_reports, scratch, send_signal, spawn,
    wait_with_deadline,
};

const DEADLINE: Duration = Duration::from_secs(20);

/// A TCP server and an app (a daemon) that prints its readiness line.
const RIG: &str = r#"[rig]
name = "hangup"

[[driver]]
name = "server"
kind = "tcp_server"

[[driver]]
name = "daemon"
kind = "app"
shell = "echo ready; exec sleep 600"
ready_stdout = "ready"

[[step]]
name = "forever"
kind = "wait"
duration = "1y"
"#;

/// Reads `child`'s stdout up to the line holding `needle` (on a thread, within
/// the deadline), then closes stdout and stderr, as a closed terminal does:
/// every later write of `testrig` fails.
fn read_until_then_hang_up(child: &mut Child, needle: &str) -> Vec<String> {
    let stdout = child.stdout.take().expect("stdout is piped");
    let wanted = needle.to_owned();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut seen = Vec::new();
        let mut line = String::new();
        while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
            seen.push(line.trim_end().to_owned());
            if line.contains(&wanted) {
                break;
            }
            line.clear();
        }
        // Dropping the reader closes the pipe.
        let _ = sender.send(seen);
    });
    let Ok(seen) = receiver.recv_timeout(DEADLINE) else {
        // Do not leave it (and its app) behind: its group is its own.
        send_signal_to_group(child.id(), libc::SIGKILL);
        panic!("testrig printed no line with {needle:?} within {DEADLINE:?}");
    };
    drop(child.stderr.take());
    seen
}

fn send_signal_to_group(group: u32, signal: i32) {
    // SAFETY: kill(2) on the process group of a child this test spawned.
    unsafe { libc::kill(-(group as i32), signal) };
}

fn exported_pid(lines: &[String], label: &str) -> u32 {
    let line = lines
        .iter()
        .find(|l| l.contains(label))
        .unwrap_or_else(|| panic!("a line for {label}:\n{}", lines.join("\n")));
    line.split_whitespace()
        .find_map(|word| word.strip_prefix("pid="))
        .unwrap_or_else(|| panic!("pid= in {line}"))
        .parse()
        .unwrap()
}

#[test]
fn sighup_with_the_terminal_gone_tears_up_down_and_writes_the_reports_with_exit_0() {
    let dir = scratch("hangup-up");
    let rig = dir.join("hangup.toml");
    std::fs::write(&rig, RIG).unwrap();
    let reports = dir.join("reports");
    let mut child = spawn(&[
        "up",
        rig.to_str().unwrap(),
        "--report-dir",
        reports.to_str().unwrap(),
    ]);
    let testrig = child.id();
    let seen = read_until_then_hang_up(&mut child, "rig `hangup` is up");
    let daemon = exported_pid(&seen, "daemon (app)");
    assert!(group_alive(daemon), "the app runs while the rig is up");

    send_signal(testrig, libc::SIGHUP);
    let (status, _) = wait_with_deadline(child, DEADLINE);
    assert_eq!(status.code(), Some(0), "up exits 0 after a clean teardown");
    assert!(!group_alive(daemon), "the app (pid {daemon}) is stopped");
    assert!(!group_alive(testrig), "nothing is left in testrig's group");
    let report = read_reports(&reports, "hangup");
    assert_eq!(report.outcome, Outcome::Passed);
    let statuses: Vec<_> = report
        .drivers
        .iter()
        .map(|d| (d.name.as_str(), d.status))
        .collect();
    assert_eq!(
        statuses,
        [("server", Status::Stopped), ("daemon", Status::Stopped)]
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn sighup_during_a_step_of_run_stops_it_reports_it_interrupted_and_exits_1() {
    let dir = scratch("hangup-run");
    let rig = dir.join("hangup.toml");
    std::fs::write(&rig, RIG).unwrap();
    let reports = dir.join("reports");
    let mut child = spawn(&[
        "run",
        rig.to_str().unwrap(),
        "--report-dir",
        reports.to_str().unwrap(),
    ]);
    let testrig = child.id();
    let mut lines = Lines::of(&mut child);
    lines.wait_for("step 1/1 forever", DEADLINE);
    send_signal(testrig, libc::SIGHUP);
    let rest = lines.rest(DEADLINE).join("\n");
    let (status, stderr) = wait_with_deadline(child, DEADLINE);
    assert_eq!(status.code(), Some(1), "{stderr}\n{rest}");
    assert!(rest.contains("interrupted by SIGHUP"), "{rest}");
    assert!(!group_alive(testrig), "nothing is left in testrig's group");
    let report = read_reports(&reports, "hangup");
    assert_eq!(case_outcomes(&report), [("forever", Outcome::Failed)]);
    assert_eq!(
        report.cases[0].message.as_deref(),
        Some("interrupted by SIGHUP")
    );
    assert!(
        report.drivers.iter().all(|d| d.status == Status::Stopped),
        "{:?}",
        report.drivers
    );
    std::fs::remove_dir_all(dir).unwrap();
}
