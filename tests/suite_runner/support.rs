//! What the suite runner tests share: the sample suite binaries (located with
//! one `cargo test --no-run`), running them with arguments and a report
//! directory, and reading what they reported.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Duration;

use testrig::report::{CaseReport, Outcome, Report};

/// The sample suite that passes.
pub const PASSING: &str = "sample_suite";
/// The sample suite whose ignored cases fail on purpose.
pub const FAILING: &str = "sample_suite_failing";

/// The cargo that runs these tests.
pub fn cargo() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into())
}

/// A cargo (or cargo-nextest) command in this workspace, without the
/// variables of an outer nextest run, which an inner one would read.
pub fn cargo_command() -> Command {
    let mut command = Command::new(cargo());
    command.current_dir(env!("CARGO_MANIFEST_DIR"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("NEXTEST") {
            command.env_remove(name);
        }
    }
    command
}

/// The flags that make an inner cargo build into this test's target directory
/// and profile, so it finds the sample suites already built.
pub fn build_flags() -> Vec<OsString> {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let mut flags = Vec::new();
    if let Some(target_dir) = tmp.parent() {
        flags.push("--target-dir".into());
        flags.push(target_dir.into());
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile = exe
        .parent()
        .and_then(Path::parent)
        .and_then(Path::file_name);
    if profile.is_some_and(|name| name == "release") {
        flags.push("--release".into());
    }
    flags
}

/// The path of the built sample suite `name`. Built (or found up to date) by
/// one `cargo test --no-run` per test process.
pub fn suite_binary(name: &str) -> &'static Path {
    static BINARIES: OnceLock<HashMap<String, PathBuf>> = OnceLock::new();
    let binaries = BINARIES.get_or_init(|| {
        let output = cargo_command()
            .args(["test", "--offline", "--no-run", "--message-format=json"])
            .args(["-p", "testrig", "--test", PASSING, "--test", FAILING])
            .args(build_flags())
            .output()
            .expect("run cargo");
        assert!(
            output.status.success(),
            "cargo could not build the sample suites:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter_map(|message| {
                let name = message["target"]["name"].as_str()?.to_owned();
                let executable = message["executable"].as_str()?;
                Some((name, PathBuf::from(executable)))
            })
            .collect()
    });
    binaries
        .get(name)
        .unwrap_or_else(|| panic!("cargo built no test binary named {name}"))
}

/// A fresh directory for `test`'s reports, owned by this test process.
pub fn report_dir(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("suite_runner")
        .join(format!("{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the report directory");
    dir
}

/// What a run of a suite binary printed, how it ended and where it reported.
#[derive(Debug)]
pub struct Run {
    pub output: Output,
    pub reports: PathBuf,
}

impl Run {
    /// Runs suite binary `name` with `args`, reporting into a fresh directory.
    pub fn of(name: &str, test: &str, args: &[&str]) -> Run {
        let reports = report_dir(test);
        let output = Command::new(suite_binary(name))
            .args(args)
            .env("TESTRIG_REPORT_DIR", &reports)
            .env_remove("RUST_BACKTRACE")
            .output()
            .expect("run the suite binary");
        Run { output, reports }
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    /// Standard output and error, for assertions and failure messages.
    pub fn all_output(&self) -> String {
        format!(
            "{}\n{}",
            self.stdout(),
            String::from_utf8_lossy(&self.output.stderr)
        )
    }

    pub fn exit_code(&self) -> Option<i32> {
        self.output.status.code()
    }

    /// libtest's line for test `name` (`test echo::ping_pong ... ok`), trimmed
    /// to the verdict.
    pub fn verdict(&self, name: &str) -> String {
        let stdout = self.stdout();
        let line = stdout
            .lines()
            .find(|line| line.starts_with(&format!("test {name} ")))
            .unwrap_or_else(|| panic!("no line for {name} in:\n{}", self.all_output()));
        line.rsplit("... ")
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned()
    }

    /// The JSON report written as `<stem>.json`.
    pub fn report(&self, stem: &str) -> Report {
        read_report(&self.reports, stem)
    }

    /// The names of the report files written, sorted.
    pub fn report_files(&self) -> Vec<String> {
        list_files(&self.reports)
    }
}

/// Reads `<dir>/<stem>.json`.
pub fn read_report(dir: &Path, stem: &str) -> Report {
    let path = dir.join(format!("{stem}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "no report {}: {e}; found {:?}",
            path.display(),
            list_files(dir)
        )
    });
    serde_json::from_str(&text).expect("the report parses")
}

/// The names of the files in `dir`, sorted.
pub fn list_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Case `name` of `report`.
pub fn case<'a>(report: &'a Report, name: &str) -> &'a CaseReport {
    report
        .cases
        .iter()
        .find(|case| case.name == name)
        .unwrap_or_else(|| panic!("no case {name} in {:?}", report.cases))
}

/// The port driver `driver` exported, from the report.
pub fn exported_port(report: &Report, driver: &str) -> u16 {
    let driver = report
        .drivers
        .iter()
        .find(|d| d.name == driver)
        .unwrap_or_else(|| panic!("no driver {driver} in the report"));
    let port = driver.exports.get("port").expect("a port export");
    port.to_string().parse().expect("the port is a number")
}

/// Asserts nothing accepts connections on `127.0.0.1:port` any more.
pub fn assert_nothing_listens_on(port: u16) {
    let attempt = std::net::TcpStream::connect_timeout(
        &([127, 0, 0, 1], port).into(),
        Duration::from_secs(1),
    );
    assert!(
        attempt.is_err(),
        "something still listens on 127.0.0.1:{port} after the suite ended"
    );
}

/// The outcomes of `report`'s cases, by name, in order.
pub fn outcomes(report: &Report) -> Vec<(&str, Outcome)> {
    report
        .cases
        .iter()
        .map(|case| (case.name.as_str(), case.outcome))
        .collect()
}
