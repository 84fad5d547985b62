//! The sample suites run directly, with the arguments `cargo test -- …` passes.

use std::sync::OnceLock;
use std::time::Duration;

use testrig::Status;
use testrig::report::Outcome;

use crate::support::{
    FAILING, PASSING, Run, assert_nothing_listens_on, case, exported_port, outcomes,
};

/// Every failing case of the failing sample, run once per test process.
fn failing_run() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| {
        Run::of(
            FAILING,
            "failing",
            &["--ignored", "--skip", "interrupted::"],
        )
    })
}

#[test]
fn listing_names_each_case_after_its_suite_in_declaration_order_and_starts_nothing() {
    let run = Run::of(PASSING, "list", &["--list"]);
    assert_eq!(run.exit_code(), Some(0), "{}", run.all_output());
    let listed: Vec<String> = run.stdout().lines().map(str::to_owned).collect();
    assert_eq!(
        listed,
        [
            "echo::ping_pong: test",
            "echo::lines_arrive_one_by_one: test",
            "echo::a_late_reply_within_the_case_timeout: test",
            "two_clients::the_server_tells_the_clients_apart: test",
            "two_clients::the_server_replies_to_each_client: test",
        ]
    );
    assert!(run.report_files().is_empty(), "{:?}", run.report_files());

    let ignored = Run::of(FAILING, "list-ignored", &["--list", "--ignored"]);
    let listed = ignored.stdout();
    assert!(
        listed.contains("failing::panics_on_a_wrong_reply: test"),
        "{listed}"
    );
    assert!(
        listed.contains("broken_start::never_runs: test"),
        "{listed}"
    );
    assert!(!listed.contains("failing::passes"), "{listed}");
}

#[test]
fn the_sample_suite_passes_and_reports_every_case_with_its_duration() {
    let run = Run::of(PASSING, "passing", &[]);
    assert_eq!(run.exit_code(), Some(0), "{}", run.all_output());
    assert!(
        run.stdout().contains("5 passed; 0 failed"),
        "{}",
        run.all_output()
    );

    let echo = run.report("echo");
    assert_eq!(echo.outcome, Outcome::Passed);
    assert_eq!(
        outcomes(&echo),
        [
            ("ping_pong", Outcome::Passed),
            ("lines_arrive_one_by_one", Outcome::Passed),
            ("a_late_reply_within_the_case_timeout", Outcome::Passed),
        ]
    );
    // The late reply comes after 50 ms: the duration is the case's, measured.
    let late = case(&echo, "a_late_reply_within_the_case_timeout");
    assert!(late.duration >= Duration::from_millis(50), "{late:?}");
    assert!(echo.cases.iter().all(|c| c.duration > Duration::ZERO));
    // One environment for the three cases: each driver started and stopped once.
    for driver in &echo.drivers {
        let starts = driver
            .transitions
            .iter()
            .filter(|t| t.to == Status::Started)
            .count();
        assert_eq!(
            (driver.status, starts),
            (Status::Stopped, 1),
            "{}",
            driver.name
        );
    }

    let junit = std::fs::read_to_string(run.reports.join("echo.junit.xml")).expect("junit");
    let xml = roxmltree::Document::parse(&junit).expect("the JUnit report parses");
    let cases: Vec<&str> = xml
        .descendants()
        .filter(|n| n.has_tag_name("testcase") && n.attribute("classname") == Some("echo"))
        .filter_map(|n| n.attribute("name"))
        .collect();
    assert_eq!(
        cases,
        [
            "ping_pong",
            "lines_arrive_one_by_one",
            "a_late_reply_within_the_case_timeout"
        ]
    );
    assert!(!junit.contains("<failure"), "{junit}");

    let two = run.report("two_clients");
    assert_eq!(two.outcome, Outcome::Passed, "{:?}", two.errors);
    assert_eq!(two.cases.len(), 2);
}

#[test]
fn a_name_filter_runs_only_the_matching_cases_and_starts_only_their_suite() {
    let run = Run::of(PASSING, "filter", &["ping"]);
    assert_eq!(run.exit_code(), Some(0), "{}", run.all_output());
    assert_eq!(run.verdict("echo::ping_pong"), "ok");
    assert!(
        run.stdout()
            .contains("1 passed; 0 failed; 0 ignored; 0 measured; 4 filtered out")
    );
    // Named after the one case it ran; the other suite never started.
    assert_eq!(
        run.report_files(),
        [
            "echo.ping_pong.json",
            "echo.ping_pong.junit.xml",
            "echo.ping_pong.timeline.svg"
        ]
    );
    assert_eq!(
        outcomes(&run.report("echo.ping_pong")),
        [("ping_pong", Outcome::Passed)]
    );
}

#[test]
fn exact_runs_one_case_between_a_start_and_a_stop_of_its_environment() {
    // What nextest does for each case.
    let name = "two_clients::the_server_replies_to_each_client";
    let run = Run::of(PASSING, "exact", &["--exact", name]);
    assert_eq!(run.exit_code(), Some(0), "{}", run.all_output());
    assert_eq!(run.verdict(name), "ok");
    let report = run.report("two_clients.the_server_replies_to_each_client");
    assert_eq!(
        outcomes(&report),
        [("the_server_replies_to_each_client", Outcome::Passed)]
    );
    assert!(report.drivers.iter().all(|d| d.status == Status::Stopped));
    assert_nothing_listens_on(exported_port(&report, "server"));
}

#[test]
fn a_failing_case_fails_the_run_with_its_message_and_the_others_still_run() {
    let run = failing_run();
    assert_eq!(run.exit_code(), Some(101), "{}", run.all_output());
    assert_eq!(run.verdict("failing::panics_on_a_wrong_reply"), "FAILED");
    assert_eq!(run.verdict("failing::returns_an_error"), "FAILED");
    let stdout = run.stdout();
    // A panic (a failed assert) is caught and its message shown under `failures:`,
    // with where it happened; nothing is printed in the middle of the test lines.
    assert!(
        stdout.contains(
            "panicked: at tests/sample_suite_failing.rs:56:17: assertion `left == right` failed: \
             the client sent the wrong word"
        ),
        "{stdout}"
    );
    let failures = stdout.find("failures:").expect("a failures section");
    let verdict = stdout
        .find("failing::panics_on_a_wrong_reply ... FAILED")
        .expect("the verdict line");
    assert!(
        !stdout[..failures].contains("sample_suite_failing.rs:56"),
        "the panic is not printed before the failures section:\n{stdout}"
    );
    assert!(verdict < failures);
    assert!(
        !run.all_output().contains("thread '"),
        "no panic message from the default hook:\n{}",
        run.all_output()
    );
    // An error returned by the case is shown as it reads.
    assert!(
        stdout.contains("driver `server`: receive_exact(4) on connection 0 timed out after 50ms"),
        "{stdout}"
    );

    let report =
        run.report("failing.panics_on_a_wrong_reply+returns_an_error+outlives_its_timeout");
    assert_eq!(report.outcome, Outcome::Failed);
    let panicked = case(&report, "panics_on_a_wrong_reply");
    assert_eq!(panicked.outcome, Outcome::Failed);
    assert!(
        panicked
            .message
            .as_deref()
            .unwrap()
            .contains("the client sent the wrong word")
    );
    let errored = case(&report, "returns_an_error");
    assert!(errored.duration >= Duration::from_millis(50), "{errored:?}");
    // The failures did not stop the environment early: it stopped once, at the end.
    assert!(report.drivers.iter().all(|d| d.status == Status::Stopped));
    assert_nothing_listens_on(exported_port(&report, "server"));
}

#[test]
fn a_case_past_its_timeout_is_cancelled_and_fails() {
    let run = failing_run();
    assert_eq!(run.verdict("failing::outlives_its_timeout"), "FAILED");
    assert!(
        run.stdout()
            .contains("timed out after 200ms and was cancelled")
    );
    let report =
        run.report("failing.panics_on_a_wrong_reply+returns_an_error+outlives_its_timeout");
    let late = case(&report, "outlives_its_timeout");
    assert_eq!(late.outcome, Outcome::Failed);
    // Cancelled at its own 200 ms, not at the 30 s its body waits for.
    assert!(
        late.duration >= Duration::from_millis(200) && late.duration < Duration::from_secs(5),
        "{late:?}"
    );
}

#[test]
fn a_failed_start_reports_every_case_not_run_with_the_start_error_and_tears_down() {
    let run = failing_run();
    for name in [
        "broken_start::never_runs",
        "broken_start::never_runs_either",
    ] {
        assert_eq!(run.verdict(name), "FAILED");
    }
    let stdout = run.stdout();
    assert!(
        stdout.contains("not run: environment `broken_start` failed to start"),
        "{stdout}"
    );
    assert!(stdout.contains("Address already in use"), "{stdout}");

    let report = run.report("broken_start");
    for case in &report.cases {
        assert_eq!(case.outcome, Outcome::NotRun, "{case:?}");
        assert!(
            case.message
                .as_deref()
                .unwrap()
                .contains("driver `second` failed in start")
        );
    }
    assert_eq!(report.cases.len(), 2);
    let status = |name: &str| {
        report
            .drivers
            .iter()
            .find(|d| d.name == name)
            .unwrap()
            .status
    };
    assert_eq!(
        (status("first"), status("second")),
        (Status::Stopped, Status::Failed)
    );
    assert_nothing_listens_on(exported_port(&report, "first"));

    let junit = std::fs::read_to_string(run.reports.join("broken_start.junit.xml")).unwrap();
    roxmltree::Document::parse(&junit).expect("the JUnit report parses");
    assert_eq!(junit.matches("<skipped").count(), 2, "{junit}");
}

#[test]
fn a_failing_hook_marks_the_cases_not_run_and_still_stops_the_environment() {
    let run = failing_run();
    assert_eq!(run.verdict("failing_hook::never_runs"), "FAILED");
    let expected = "not run: the after_start hook of suite `failing_hook` failed: panicked: \
                    at tests/sample_suite_failing.rs:";
    assert!(run.stdout().contains(expected), "{}", run.all_output());
    assert!(
        run.stdout()
            .contains("assertion `left == right` failed: expected two clients"),
        "{}",
        run.all_output()
    );

    let report = run.report("failing_hook");
    assert_eq!(outcomes(&report), [("never_runs", Outcome::NotRun)]);
    assert!(
        report.errors.iter().any(|e| e.contains("after_start hook")),
        "{:?}",
        report.errors
    );
    assert!(report.drivers.iter().all(|d| d.status == Status::Stopped));
    assert_nothing_listens_on(exported_port(&report, "server"));
}

#[test]
fn a_failed_suite_prints_its_report_summary_after_the_results() {
    let run = failing_run();
    let stderr = String::from_utf8_lossy(&run.output.stderr);
    assert!(
        stderr.contains("environment broken_start FAILED"),
        "{stderr}"
    );
    assert!(stderr.contains("case never_runs not run"), "{stderr}");
}
