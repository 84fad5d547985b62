//! The sample suites under `cargo nextest run`, which runs each case in a
//! process of its own (`<binary> --exact <case>`).

use testrig::Status;
use testrig::report::Outcome;

use crate::support::{
    FAILING, PASSING, assert_nothing_listens_on, build_flags, cargo_command, exported_port,
    list_files, outcomes, read_report, report_dir,
};

#[test]
fn nextest_runs_each_case_in_a_process_that_starts_and_stops_its_environment() {
    let installed = cargo_command()
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        let why = "`cargo nextest` is not installed (cargo install cargo-nextest)";
        assert!(std::env::var_os("CI").is_none(), "CI is set and {why}");
        eprintln!("SKIPPED: {why}");
        return;
    }
    let reports = report_dir("nextest");
    let output = cargo_command()
        .args([
            "nextest",
            "run",
            "--offline",
            "--no-fail-fast",
            "--color",
            "never",
        ])
        .args(["-p", "testrig", "--test", PASSING, "--test", FAILING])
        .args(["--run-ignored", "all", "-E", "not test(interrupted::)"])
        .args(build_flags())
        .env("TESTRIG_REPORT_DIR", &reports)
        .output()
        .expect("run cargo nextest");
    let printed = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    // Failing cases fail the run.
    assert!(!output.status.success(), "{printed}");
    let verdict = |test: &str| {
        printed
            .lines()
            .find(|line| line.trim_end().ends_with(&format!(" {test}")))
            .and_then(|line| line.split_whitespace().next())
            .unwrap_or_else(|| panic!("no line for {test} in:\n{printed}"))
            .to_owned()
    };
    for passing in [
        "echo::ping_pong",
        "echo::lines_arrive_one_by_one",
        "two_clients::the_server_replies_to_each_client",
        "failing::passes",
    ] {
        assert_eq!(verdict(passing), "PASS", "{passing}");
    }
    for failing in [
        "failing::panics_on_a_wrong_reply",
        "failing::outlives_its_timeout",
        "broken_start::never_runs",
        "failing_hook::never_runs",
    ] {
        assert_eq!(verdict(failing), "FAIL", "{failing}");
    }

    // One process per case: each wrote its own report, of one case, with its
    // own environment started and stopped.
    let files = list_files(&reports);
    for stem in [
        "echo.ping_pong",
        "echo.lines_arrive_one_by_one",
        "two_clients.the_server_tells_the_clients_apart",
    ] {
        assert!(
            files.contains(&format!("{stem}.json")),
            "{stem} in {files:?}"
        );
        let report = read_report(&reports, stem);
        assert_eq!(report.cases.len(), 1, "{stem}");
        assert_eq!(report.cases[0].outcome, Outcome::Passed, "{stem}");
        assert!(
            report.drivers.iter().all(|d| d.status == Status::Stopped),
            "{stem}"
        );
        assert_nothing_listens_on(exported_port(&report, "server"));
    }
    let broken = read_report(&reports, "broken_start.never_runs_either");
    assert_eq!(outcomes(&broken), [("never_runs_either", Outcome::NotRun)]);
    assert_nothing_listens_on(exported_port(&broken, "first"));
}
