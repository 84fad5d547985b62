//! How fast the `testrig` command is, as a person sees it: wall time of the
//! release binary, started as a process, median of repeated runs.
//!
//! Run: `cargo run --release -p testrig-cli --example bench_cli`
//!
//! Targets (issue 6): `testrig check` on a 100-driver rig under 20 ms;
//! `testrig run examples/rigs/quickstart.toml` under 100 ms (it asks for no
//! iperf time yet). The floor is the cost of starting any process (`/bin/true`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHECK_RUNS: usize = 50;
const RUN_RUNS: usize = 20;

fn main() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let binary = build_release_binary(&repo);
    let scratch = std::env::temp_dir().join(format!("testrig-bench-cli-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).expect("a scratch directory");
    let big_rig = scratch.join("hundred.toml");
    std::fs::write(&big_rig, hundred_driver_rig()).expect("write the 100-driver rig");
    let reports = scratch.join("reports");
    let reports = reports.to_str().expect("a UTF-8 path");

    println!(
        "testrig CLI: wall time of the release binary as a process, median of n runs [min .. max]"
    );
    println!(
        "{:<52} {:>4} {:>10} {:>22}  target",
        "command", "n", "median", "[min .. max]"
    );
    let floor = measure(Path::new("/bin/true"), &[], &repo, CHECK_RUNS);
    print_row("/bin/true (process start floor)", &floor, None);
    let small = measure(
        &binary,
        &["check", "examples/rigs/quickstart.toml"],
        &repo,
        CHECK_RUNS,
    );
    print_row("testrig check examples/rigs/quickstart.toml", &small, None);
    let big = measure(
        &binary,
        &["check", big_rig.to_str().unwrap()],
        &repo,
        CHECK_RUNS,
    );
    print_row(
        "testrig check <100 drivers, 50 steps>",
        &big,
        Some(Duration::from_millis(20)),
    );
    let run = measure(
        &binary,
        &[
            "run",
            "examples/rigs/quickstart.toml",
            "--report-dir",
            reports,
        ],
        &repo,
        RUN_RUNS,
    );
    print_row(
        "testrig run examples/rigs/quickstart.toml",
        &run,
        Some(Duration::from_millis(100)),
    );
    let tcp = measure(
        &binary,
        &["run", "examples/rigs/tcp.toml", "--report-dir", reports],
        &repo,
        RUN_RUNS,
    );
    print_row("testrig run examples/rigs/tcp.toml", &tcp, None);
    println!(
        "\nquickstart's run includes a server restart and the client's reconnect (its rig asks for a 10 ms retry delay)."
    );
    let _ = std::fs::remove_dir_all(&scratch);
}

/// Builds (or finds up to date) the release `testrig` next to this example.
fn build_release_binary(repo: &Path) -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--quiet",
            "-p",
            "testrig-cli",
            "--bin",
            "testrig",
        ])
        .current_dir(repo)
        .status()
        .expect("run cargo build");
    assert!(status.success(), "cargo build of the testrig binary failed");
    let release = std::env::current_exe()
        .expect("this example's path")
        .parent()
        .and_then(Path::parent)
        .expect("target/release")
        .to_owned();
    release.join("testrig")
}

/// 50 servers and 50 reconnecting clients wired to them by reference, half of
/// them with an explicit dependency too, and an exchange step per pair.
fn hundred_driver_rig() -> String {
    let mut rig = String::from("[rig]\nname = \"hundred\"\n");
    for i in 0..50 {
        rig.push_str(&format!(
            "\n[[driver]]\nname = \"server{i}\"\nkind = \"tcp_server\"\nstart_timeout = \"5s\"\n"
        ));
        let depends = if i % 2 == 0 {
            format!("depends_on = [\"server{i}\"]\n")
        } else {
            String::new()
        };
        rig.push_str(&format!(
            "\n[[driver]]\nname = \"client{i}\"\nkind = \"tcp_client\"\nport = \"${{server{i}.port}}\"\n{depends}\
             reconnect = {{ initial = \"10ms\", max = \"1s\", factor = 2.0, jitter = \"0s\" }}\n"
        ));
    }
    for i in 0..50 {
        rig.push_str(&format!(
            "\n[[step]]\nkind = \"tcp_exchange\"\nclient = \"client{i}\"\nserver = \"server{i}\"\n\
             send = \"ping ${{server{i}.port}}\\n\"\nreply = \"pong\\n\"\n"
        ));
    }
    rig
}

/// Runs `program args` `runs` times (after 3 warm-up runs); sorted wall times.
fn measure(program: &Path, args: &[&str], dir: &Path, runs: usize) -> Vec<Duration> {
    let once = || {
        let began = Instant::now();
        let status = Command::new(program)
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("run the command");
        let took = began.elapsed();
        assert!(
            status.success(),
            "{} {args:?} failed: {status}",
            program.display()
        );
        took
    };
    for _ in 0..3 {
        once();
    }
    let mut times: Vec<_> = (0..runs).map(|_| once()).collect();
    times.sort();
    times
}

fn print_row(label: &str, times: &[Duration], target: Option<Duration>) {
    let median = times[times.len() / 2];
    let verdict = match target {
        Some(target) if median < target => format!("< {} ms  met", target.as_millis()),
        Some(target) => format!("< {} ms  MISSED", target.as_millis()),
        None => String::new(),
    };
    println!(
        "{label:<52} {:>4} {:>10} {:>22}  {verdict}",
        times.len(),
        ms(median),
        format!("[{} .. {}]", ms(times[0]), ms(times[times.len() - 1])),
    );
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}
