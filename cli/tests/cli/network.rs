//! Rigs with an emulated network: hosts, links and switches built for the run
//! (real network namespaces), drivers placed on them, faults as steps.
//!
//! Networks need root or a user namespace: where `availability()` says neither
//! is there, each test prints `skip: …` and passes, or fails when `CI` is set.

use std::time::Duration;

use testrig::Outcome;

use crate::support::{
    Lines, case_outcomes, printed, read_reports, run, scratch, send_signal, spawn,
    wait_with_deadline,
};

const DEADLINE: Duration = Duration::from_secs(30);

/// Whether networks can be built here; prints why not (and fails under CI).
fn networks_available(test: &str) -> bool {
    let Some(missing) = testrig::network::availability()
        .missing()
        .map(str::to_owned)
    else {
        return true;
    };
    assert!(
        std::env::var_os("CI").is_none(),
        "{test}: networks cannot be built here and CI is set: {missing}"
    );
    eprintln!("skip: {test}: {missing}");
    false
}

/// Writes `rig` as `name.toml` in `dir` and returns its path.
fn rig_file(dir: &std::path::Path, name: &str, rig: &str) -> String {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, rig).unwrap();
    path.to_str().unwrap().to_owned()
}

const FAULTS: &str = r#"[rig]
name = "faults"

[[host]]
name = "a"

[[host]]
name = "b"

[[host]]
name = "c"

[[link]]
between = ["a", "b"]
rate = "100mbit"

[[switch]]
name = "lan"
hosts = ["b", "c"]

[[step]]
name = "down"
kind = "network"
action = "link_down"
between = ["a", "b"]

[[step]]
name = "up"
kind = "network"
action = "link_up"
between = ["a", "b"]

[[step]]
name = "slow-b-to-lan"
kind = "network"
action = "set_rate"
from = "b"
to = "lan"
rate = "5mbit"

[[step]]
name = "unlimited"
kind = "network"
action = "set_rate"
between = ["a", "b"]
rate = "none"

[[step]]
name = "cut"
kind = "network"
action = "partition"
between = ["a", "c"]

[[step]]
name = "mend"
kind = "network"
action = "heal"
between = ["a", "c"]

[[step]]
name = "mend-again"
kind = "network"
action = "heal"
between = ["a", "c"]
"#;

#[test]
fn network_steps_fault_the_running_network_and_a_refused_fault_fails_its_step() {
    if !networks_available("network_steps_fault_the_running_network") {
        return;
    }
    let dir = scratch("network-faults");
    let rig = rig_file(&dir, "faults", FAULTS);
    let output = run(&["run", &rig, "--report-dir", dir.to_str().unwrap()]);
    // The last step heals what is no longer partitioned: the kernel refuses it.
    assert_eq!(output.status.code(), Some(1), "{}", printed(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    for line in [
        "down  ok",
        "link a-b down",
        "link a-b up",
        "b->lan limited to 5 Mbit/s",
        "a-b unlimited",
        "a and c partitioned",
        "a and c healed",
        "mend-again  FAILED",
    ] {
        assert!(stdout.contains(line), "{line:?} in:\n{}", printed(&output));
    }
    let report = read_reports(&dir, "faults");
    let outcomes = case_outcomes(&report);
    assert_eq!(outcomes.len(), 7, "{outcomes:?}");
    assert!(
        outcomes[..6].iter().all(|(_, o)| *o == Outcome::Passed),
        "{outcomes:?}"
    );
    assert_eq!(outcomes[6], ("mend-again", Outcome::Failed));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn up_prints_each_hosts_interfaces_and_addresses() {
    if !networks_available("up_prints_each_hosts_interfaces_and_addresses") {
        return;
    }
    let dir = scratch("network-up");
    let rig = rig_file(
        &dir,
        "hosts",
        r#"[rig]
name = "hosts"

[[host]]
name = "a"

[[host]]
name = "b"

[[link]]
between = ["a", "b"]
subnet = ["10.9.0.0/24", "fd00:9::/64"]
addresses = { b = "10.9.0.20/24" }
"#,
    );
    let mut child = spawn(&["up", &rig, "--report-dir", dir.to_str().unwrap()]);
    let pid = child.id();
    let mut lines = Lines::of(&mut child);
    lines.wait_for("rig `hosts` is up", DEADLINE);
    let shown = lines.seen.join("\n");
    assert!(
        shown.contains("a (host)  eth0 10.9.0.1/24 fd00:9::1/64 to b"),
        "{shown}"
    );
    assert!(
        shown.contains("b (host)  eth0 10.9.0.20/24 fd00:9::2/64 to a"),
        "{shown}"
    );
    send_signal(pid, libc::SIGINT);
    lines.rest(DEADLINE);
    let (status, stderr) = wait_with_deadline(child, DEADLINE);
    assert_eq!(status.code(), Some(0), "{stderr}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// A TCP server on b, a reconnecting client on a reaching it by b's address, an
/// exchange, the link down and up again, and an exchange over the same link.
const TCP_ACROSS: &str = r#"[rig]
name = "tcp-across"

[[host]]
name = "a"

[[host]]
name = "b"

[[link]]
between = ["a", "b"]
subnet = "10.7.0.0/24"

[[driver]]
name = "server"
kind = "tcp_server"
on = "b"

[[driver]]
name = "client"
kind = "tcp_client"
on = "a"
host = "${b.address}"
port = "${server.port}"
connect_timeout = "2s"
reconnect = { initial = "50ms", max = "500ms" }

[[step]]
name = "before"
kind = "tcp_exchange"
client = "client"
server = "server"
send = "ping\n"
reply = "pong\n"
timeout = "5s"

[[step]]
name = "down"
kind = "network"
action = "link_down"
between = ["a", "b"]

[[step]]
name = "up"
kind = "network"
action = "link_up"
between = ["a", "b"]

[[step]]
name = "after"
kind = "tcp_exchange"
client = "client"
server = "server"
send = "again\n"
reply = "still here\n"
timeout = "5s"
"#;

#[test]
fn a_tcp_client_on_one_host_talks_to_a_server_on_another_across_a_link_down_and_up() {
    if !networks_available("a_tcp_client_on_one_host_talks_to_a_server_on_another") {
        return;
    }
    let dir = scratch("network-tcp");
    let rig = rig_file(&dir, "tcp-across", TCP_ACROSS);
    let output = run(&["run", &rig, "--report-dir", dir.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", printed(&output));
    let report = read_reports(&dir, "tcp-across");
    assert_eq!(
        case_outcomes(&report),
        [
            ("before", Outcome::Passed),
            ("down", Outcome::Passed),
            ("up", Outcome::Passed),
            ("after", Outcome::Passed),
        ]
    );
    // The server listened on b's address, not on loopback.
    let server = report.drivers.iter().find(|d| d.name == "server").unwrap();
    assert_eq!(
        server
            .exports
            .get("host")
            .map(ToString::to_string)
            .as_deref(),
        Some("10.7.0.2"),
        "{:?}",
        server.exports
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_two_hosts_example_measures_the_shaped_link_before_and_after_a_link_down() {
    if !networks_available("the_two_hosts_example") {
        return;
    }
    let dir = scratch("network-two-hosts");
    let output = run(&[
        "run",
        "examples/rigs/two-hosts.toml",
        "--report-dir",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", printed(&output));
    let report = read_reports(&dir, "two-hosts");
    assert_eq!(
        case_outcomes(&report),
        [
            ("shaped", Outcome::Passed),
            ("2-network", Outcome::Passed),
            ("3-network", Outcome::Passed),
            ("shaped-again", Outcome::Passed),
        ]
    );
    // The gates held: each measurement is inside 60–105 Mbit/s; the figures are in
    // the step's JSON result.
    for n in [1, 2] {
        let path = dir.join(format!("client/iperf-result-{n}.json"));
        let result: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let bits = result["summary"]["main"]["received"]["bits_per_second"]
            .as_f64()
            .unwrap_or_else(|| panic!("a received rate in {}", path.display()));
        assert!(
            (60e6..=105e6).contains(&bits),
            "measurement {n}: {bits} bit/s"
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// The unprivileged path: `testrig` run by a user without root (`nobody`, from a
/// test running as root) enters a user namespace by itself and builds the rig's
/// network there, faults and all. Run as that user already, the other tests take
/// this path.
#[test]
fn a_user_without_root_runs_a_rig_with_a_network_in_a_user_namespace() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;

    // SAFETY: geteuid has no side effects.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skip: not root: every network test here takes the unprivileged path");
        return;
    }
    let dir = scratch("network-unprivileged");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let rig = rig_file(&dir, "faults", FAULTS);
    // `nobody` reads the rig and writes the reports; the run's own directory is
    // under it too (the shared /tmp/testrig may be root's).
    let output = crate::support::testrig(&["run", &rig, "--report-dir", dir.to_str().unwrap()])
        .env("TMPDIR", &dir)
        .uid(65534)
        .gid(65534)
        .output()
        .expect("testrig runs as nobody");
    let stderr = String::from_utf8_lossy(&output.stderr);
    if stderr.contains("no user namespace for the rig's network") {
        assert!(
            std::env::var_os("CI").is_none(),
            "the kernel refuses user namespaces and CI is set:\n{stderr}"
        );
        eprintln!("skip: user namespaces are refused here: {stderr}");
        return;
    }
    // As with root: every fault applied, the last heal refused by the kernel.
    assert_eq!(output.status.code(), Some(1), "{}", printed(&output));
    let report = read_reports(&dir, "faults");
    let outcomes = case_outcomes(&report);
    assert!(
        outcomes[..6].iter().all(|(_, o)| *o == Outcome::Passed),
        "{outcomes:?}\n{}",
        printed(&output)
    );
    assert_eq!(outcomes[6], ("mend-again", Outcome::Failed));
    std::fs::remove_dir_all(dir).unwrap();
}

/// Netem is there or it is not: a rig that asks for it either runs, or fails to
/// start (exit code 2) saying netem is missing — never runs without it.
#[test]
fn a_rig_asking_for_netem_runs_with_it_or_fails_to_start_naming_it() {
    if !networks_available("a_rig_asking_for_netem") {
        return;
    }
    let dir = scratch("network-netem");
    let rig = rig_file(
        &dir,
        "netem",
        r#"[rig]
name = "netem"

[[host]]
name = "a"

[[host]]
name = "b"

[[link]]
between = ["a", "b"]
netem = { delay = "5ms" }

[[step]]
kind = "network"
action = "set_netem"
from = "a"
to = "b"
netem = {}
"#,
    );
    let output = run(&["run", &rig, "--report-dir", dir.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    match output.status.code() {
        Some(0) => {
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert!(stdout.contains("netem removed from a->b"), "{}", printed(&output));
        }
        Some(2) => assert!(
            stderr.contains("its network failed: netem on a-b from `a` is not available here: the kernel has no netem qdisc"),
            "{}",
            printed(&output)
        ),
        _ => panic!("neither ran nor refused to start:\n{}", printed(&output)),
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// `check` builds nothing, so it needs no rights: it names the hosts, what joins
/// them and where each driver runs.
#[test]
fn check_lists_the_hosts_the_links_and_where_each_driver_runs() {
    let output = run(&["check", "examples/rigs/two-hosts.toml"]);
    assert_eq!(output.status.code(), Some(0), "{}", printed(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "examples/rigs/two-hosts.toml: rig `two-hosts` is valid: 2 driver(s) \
         [server (iperf_server on b), client (iperf_client on a)], \
         2 host(s) [a, b] joined by a-b, 4 step(s)\n"
    );
}
