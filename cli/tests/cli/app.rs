//! `app` drivers and `wait_for_process` steps through the binary: real
//! programs (bash, sh, sleep), wired to a real TCP server, never left behind.

use std::path::Path;
use std::time::Duration;

use testrig::{Outcome, Status};

use crate::support::{
    Lines, case_outcomes, group_alive, printed, read_reports, run, scratch, send_signal, spawn,
    testrig, wait_with_deadline,
};

const DEADLINE: Duration = Duration::from_secs(20);

/// Writes `text` as `<dir>/<name>.toml` and runs `testrig run` on it.
fn run_rig(dir: &Path, name: &str, text: &str) -> std::process::Output {
    let rig = dir.join(format!("{name}.toml"));
    std::fs::write(&rig, text).unwrap();
    run(&[
        "run",
        rig.to_str().unwrap(),
        "--report-dir",
        dir.to_str().unwrap(),
    ])
}

#[test]
fn run_of_the_app_rig_wires_the_port_exports_the_session_and_passes() {
    let dir = scratch("app-run");
    // The programs' logs are read below: keep the run's directory.
    let output = testrig(&[
        "run",
        "examples/rigs/app.toml",
        "--report-dir",
        dir.to_str().unwrap(),
    ])
    .env("TESTRIG_KEEP_RUNS", "1")
    .output()
    .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", printed(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("step 1/2 session-checked  ok")
            && stdout.contains("`check-session` exited with code 0 and printed \"reporter (pid "),
        "{stdout}"
    );

    let report = read_reports(&dir, "app");
    assert_eq!(report.outcome, Outcome::Passed);
    assert_eq!(
        case_outcomes(&report),
        [
            ("session-checked", Outcome::Passed),
            ("reporter-connected", Outcome::Passed)
        ]
    );
    let [server, reporter, check] = &report.drivers[..] else {
        panic!("three drivers: {:?}", report.drivers)
    };
    assert!(report.drivers.iter().all(|d| d.status == Status::Stopped));
    let port = server.exports["port"].to_string();
    let session = reporter.exports["session"].to_string();
    let pid = reporter.exports["pid"].to_string();
    assert_eq!(reporter.kind, "App");
    // The reporter got the server's port through `${server.port}` in its env…
    let reporter_out =
        std::fs::read_to_string(reporter.runpath.join("reporter.stdout.log")).unwrap();
    assert_eq!(
        reporter_out,
        format!("connected to port {port}, session {session}\n")
    );
    // …and the task got the reporter's exports through references in its script.
    let check_out =
        std::fs::read_to_string(check.runpath.join("check-session.stdout.log")).unwrap();
    assert_eq!(
        check_out,
        format!("reporter (pid {pid}) has session {session}\n")
    );
    assert!(!group_alive(pid.parse().unwrap()), "the reporter is gone");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_program_ending_with_the_wrong_exit_code_fails_wait_for_process_with_exit_1_and_its_output() {
    let dir = scratch("app-wrong-exit");
    // The task is ready when it says so, and exits with 3 (not the expected 0)
    // well after the rig is up, during the step that waits for it.
    let output = run_rig(
        &dir,
        "wrong-exit",
        r#"
[rig]
name = "wrong-exit"

[[driver]]
name = "job"
kind = "app"
shell = "echo working; echo 'disk full' >&2; sleep 0.3; exit 3"
ready_stdout = "working"
expect_exit = 0

[[step]]
name = "job-done"
kind = "wait_for_process"
driver = "job"
timeout = "10s"

[[step]]
kind = "wait"
duration = "1ms"
"#,
    );
    assert_eq!(output.status.code(), Some(1), "{}", printed(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("step 1/2 job-done  FAILED")
            && stdout.contains("driver `job`: the program (pid ")
            && stdout.contains(") exited with code 3; expected: it exits with code 0")
            && stdout.contains("stdout| working")
            && stdout.contains("stderr| disk full"),
        "{stdout}"
    );
    let report = read_reports(&dir, "wrong-exit");
    assert_eq!(
        case_outcomes(&report),
        [("job-done", Outcome::Failed), ("2-wait", Outcome::NotRun)]
    );
    let message = report.cases[0].message.as_deref().unwrap();
    assert!(
        message.contains("exited with code 3") && message.contains("disk full"),
        "{message}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_daemon_that_never_prints_the_awaited_line_fails_the_step_naming_the_regex() {
    let dir = scratch("app-no-line");
    let output = run_rig(
        &dir,
        "no-line",
        r#"
[rig]
name = "no-line"

[[driver]]
name = "quiet"
kind = "app"
binary = "sh"
args = ["-c", "echo started; exec sleep 600"]

[[step]]
kind = "wait_for_process"
driver = "quiet"
expect_output = "client \\d+ connected"
timeout = "200ms"
"#,
    );
    assert_eq!(output.status.code(), Some(1), "{}", printed(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("step 1/1 1-wait_for_process  FAILED")
            && stdout.contains(
                r"printed no line matching `client \d+ connected` on stdout or stderr within 200ms"
            )
            && stdout.contains("stdout| started"),
        "{stdout}"
    );
    let report = read_reports(&dir, "no-line");
    let pid = report.drivers[0].exports["pid"].to_string();
    assert!(!group_alive(pid.parse().unwrap()), "the daemon is stopped");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn expect_output_fills_in_references_escaped_so_the_value_matches_literally() {
    let dir = scratch("app-output-reference");
    // The first line would match too if the address's dots matched any
    // character; escaped, only the second does.
    let output = run_rig(
        &dir,
        "announce",
        r#"
[rig]
name = "announce"

[[driver]]
name = "server"
kind = "tcp_server"

[[driver]]
name = "announcer"
kind = "app"
shell = 'echo "serving 127x0x0x1:${server.port}"; echo "serving ${server.address}"; exec sleep 600'

[[step]]
name = "announced"
kind = "wait_for_process"
driver = "announcer"
expect_output = '^serving ${server.address}$$'
timeout = "10s"
"#,
    );
    assert_eq!(output.status.code(), Some(0), "{}", printed(&output));
    let report = read_reports(&dir, "announce");
    let address = report.drivers[0].exports["address"].to_string();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("step 1/1 announced  ok")
            && stdout.contains(&format!("`announcer` printed \"serving {address}\"")),
        "{stdout}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn an_app_whose_binary_does_not_exist_cannot_start_exit_2_naming_the_driver_and_the_binary() {
    let dir = scratch("app-missing-binary");
    let output = run_rig(
        &dir,
        "missing",
        r#"
[rig]
name = "missing"

[[driver]]
name = "server"
kind = "tcp_server"

[[driver]]
name = "ghost"
kind = "app"
binary = "testrig-no-such-program"
args = ["--port", "${server.port}"]

[[step]]
kind = "wait"
duration = "1ms"
"#,
    );
    assert_eq!(output.status.code(), Some(2), "{}", printed(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("rig `missing` could not start")
            && stderr.contains(
                "driver `ghost`: binary `testrig-no-such-program` not found (neither a path to a file nor in PATH)"
            ),
        "{}",
        printed(&output)
    );
    let report = read_reports(&dir, "missing");
    assert_eq!(case_outcomes(&report), [("1-wait", Outcome::NotRun)]);
    let statuses: Vec<_> = report.drivers.iter().map(|d| d.status).collect();
    assert_eq!(statuses, [Status::Stopped, Status::Failed]);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn an_app_ignoring_its_stop_signal_is_killed_after_its_stop_timeout_and_the_run_says_so() {
    let dir = scratch("app-stubborn");
    // An ignored signal stays ignored across `exec`: `sleep` shrugs off SIGTERM.
    let output = run_rig(
        &dir,
        "stubborn",
        r#"
[rig]
name = "stubborn"

[[driver]]
name = "stubborn"
kind = "app"
shell = "trap '' TERM; echo ready; exec sleep 600"
ready_stdout = "ready"
stop_timeout = "200ms"
"#,
    );
    assert_eq!(output.status.code(), Some(1), "{}", printed(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("driver `stubborn`: the program (pid ")
            && stderr
                .contains(") did not exit within 200ms of SIGTERM and was killed with SIGKILL"),
        "{}",
        printed(&output)
    );
    let report = read_reports(&dir, "stubborn");
    let pid = report.drivers[0].exports["pid"].to_string();
    assert!(
        !group_alive(pid.parse().unwrap()),
        "killed, not left behind"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn up_of_the_app_rig_prints_the_pid_and_sigint_leaves_no_process_behind() {
    let dir = scratch("app-up");
    let mut child = spawn(&[
        "up",
        "examples/rigs/app.toml",
        "--report-dir",
        dir.to_str().unwrap(),
    ]);
    let testrig_pid = child.id();
    let mut lines = Lines::of(&mut child);
    lines.wait_for("rig `app` is up", DEADLINE);
    let reporter = lines
        .seen
        .iter()
        .find(|l| l.contains("reporter (app)"))
        .expect("a line for the reporter")
        .clone();
    let pid: u32 = reporter
        .split_whitespace()
        .find_map(|word| word.strip_prefix("pid="))
        .expect("the reporter's exported pid")
        .parse()
        .unwrap();
    assert!(reporter.contains("session="), "{reporter}");
    assert!(group_alive(pid), "the reporter runs while the rig is up");

    send_signal(testrig_pid, libc::SIGINT);
    let rest = lines.rest(DEADLINE).join("\n");
    let (status, stderr) = wait_with_deadline(child, DEADLINE);
    assert_eq!(status.code(), Some(0), "{stderr}\n{rest}");
    assert!(rest.contains("reporter       stopped"), "{rest}");
    assert!(!group_alive(pid), "the reporter (pid {pid}) is gone");
    assert!(
        !group_alive(testrig_pid),
        "nothing is left in testrig's group"
    );
    std::fs::remove_dir_all(dir).unwrap();
}
