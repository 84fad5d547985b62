//! A signal to a suite binary stops its environment cleanly.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use testrig::Status;
use testrig::report::Outcome;

use crate::support::{
    FAILING, assert_nothing_listens_on, case, exported_port, read_report, report_dir, suite_binary,
};

const DEADLINE: Duration = Duration::from_secs(20);

#[test]
fn sigterm_cancels_the_running_case_tears_the_suite_down_and_fails_the_run() {
    let reports = report_dir("sigterm");
    let mut child = Command::new(suite_binary(FAILING))
        .args(["--ignored", "--exact", "interrupted::waits_for_a_signal"])
        .env("TESTRIG_REPORT_DIR", &reports)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the suite binary");
    let stdout = child.stdout.take().expect("piped stdout");
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let mut printed = Vec::new();
    while !printed
        .iter()
        .any(|l: &String| l.contains("waiting for a signal"))
    {
        let line = received
            .recv_timeout(DEADLINE)
            .unwrap_or_else(|_| panic!("the case never started; printed {printed:?}"));
        printed.push(line);
    }

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(killed.success());
    // The output ends when the process exits.
    while let Ok(line) = received.recv_timeout(DEADLINE) {
        printed.push(line);
    }
    let status = child.wait().expect("wait for the suite binary");

    let printed = printed.join("\n");
    assert_eq!(status.code(), Some(101), "{printed}");
    assert!(printed.contains("interrupted by SIGTERM"), "{printed}");
    let report = read_report(&reports, "interrupted");
    let interrupted = case(&report, "waits_for_a_signal");
    assert_eq!(interrupted.outcome, Outcome::Failed);
    assert!(interrupted.duration < DEADLINE, "{interrupted:?}");
    assert!(report.drivers.iter().all(|d| d.status == Status::Stopped));
    assert_nothing_listens_on(exported_port(&report, "server"));
}
