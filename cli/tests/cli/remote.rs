//! Rigs with SSH hosts (`[[host]]` with `ssh = "user@address"`), run against a real `sshd`
//! inside an emulated host (`testrig::testing::Sshd`): the `testrig` binary runs inside the
//! fixture's `client` host, from where the sshd's address is routable, connects the rig's SSH
//! host at start, runs an `App` there, checks it with a step, fetches the host's remote
//! runpath into the run's directory at stop and removes it remotely.
//!
//! Without root, network namespaces or an sshd each test prints `skip: <what is missing>`,
//! and fails when `CI` is set.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use testrig::Outcome;
use testrig::testing::{SSHD_PATIENCE, Sshd};

use crate::support::{case_outcomes, read_reports, repo, scratch, wait_with_deadline};

const DEADLINE: Duration = Duration::from_secs(60);

/// The rig: host `remote` over SSH, an App there writing its own log into the remote
/// runpath, ready by a pattern, and a step checking its output.
fn rig(sshd: &Sshd, mark: &str) -> String {
    let dir = sshd.dir.display();
    format!(
        r#"[rig]
name = "remote-run"

[[host]]
name = "remote"
ssh = "root@{address}"
port = {port}
identity = "{dir}/user_key"
known_hosts = "{dir}/known_hosts"
host_keys = "strict"

[[driver]]
name = "greeter"
kind = "app"
on = "remote"
binary = "sh"
args = ["-c", "echo '{mark} started' > \"$1/greeter.log\"; echo \"greeter at $2 ready\"; exec sleep 1000", "greeter", "${{remote.runpath}}", "${{remote.address}}"]
ready_stdout = 'greeter at (?P<at>\S+) ready'

[[step]]
name = "greeted"
kind = "wait_for_process"
driver = "greeter"
expect_output = "greeter at ${{remote.address}} ready"
timeout = "20s"
"#,
        address = sshd.address,
        port = sshd.port,
    )
}

/// The one run directory `testrig` made under `base`.
fn run_dir(base: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(base)
        .unwrap()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.is_dir())
        .collect();
    assert_eq!(
        dirs.len(),
        1,
        "one run directory in {}: {dirs:?}",
        base.display()
    );
    dirs.into_iter().next().unwrap()
}

#[tokio::test]
async fn a_rig_with_an_ssh_host_runs_an_app_there_and_fetches_its_runpath_at_stop() {
    let Some(sshd) = Sshd::start("cli-remote", 86).await else {
        return;
    };
    runs_an_app_there_and_fetches_its_runpath(&sshd, "cli-remote", &[]).await;
    sshd.stop().await;
}

#[tokio::test]
async fn without_a_working_testrig_binary_ssh_makes_the_connection_and_the_rig_runs_the_same() {
    let Some(sshd) = Sshd::start("cli-remote-plain", 101).await else {
        return;
    };
    // `/bin/false` as the `testrig` binary: the relay of the connection made here fails (ssh
    // then connects by itself), and so does the agent (a channel per program instead).
    runs_an_app_there_and_fetches_its_runpath(
        &sshd,
        "cli-remote-plain",
        &[("TESTRIG_BIN", "/bin/false")],
    )
    .await;
    sshd.stop().await;
}

/// Runs [`rig`] with `testrig run` inside the fixture's client host, with `env` added, and
/// checks the run: the App ran remotely, its log came back, nothing is left there.
async fn runs_an_app_there_and_fetches_its_runpath(sshd: &Sshd, tag: &str, env: &[(&str, &str)]) {
    let mark = format!("testrig-mark-{tag}-{}", std::process::id());
    let dir = scratch(tag);
    let rig_path = dir.join("remote.toml");
    std::fs::write(&rig_path, rig(sshd, &mark)).unwrap();
    let runs = dir.join("runs");
    std::fs::create_dir_all(&runs).unwrap();
    let stdout = dir.join("stdout.txt");

    // Inside host `client` of the fixture's network: the sshd's address is routable there.
    let mut command = sshd.client.command(env!("CARGO_BIN_EXE_testrig")).unwrap();
    command
        .args(["run"])
        .arg(&rig_path)
        .current_dir(repo())
        .env("NO_COLOR", "1")
        .env("TESTRIG_RUNPATH", &runs)
        .envs(env.iter().copied())
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(Stdio::piped());
    let child = command.spawn().expect("testrig runs");
    let (status, stderr) = tokio::task::spawn_blocking(move || wait_with_deadline(child, DEADLINE))
        .await
        .unwrap();
    let printed = std::fs::read_to_string(&stdout).unwrap();
    assert!(
        status.success(),
        "{status}\n--- stdout\n{printed}--- stderr\n{stderr}"
    );
    assert!(
        printed.contains("host remote (ssh root@"),
        "the summary lists the host\n{printed}"
    );

    // Without a report directory the reports go in the run directory, which is kept.
    let run = run_dir(&runs);
    let report = read_reports(&run, "remote-run");
    assert_eq!(report.outcome, Outcome::Passed, "{report:#?}");
    assert_eq!(case_outcomes(&report), [("greeted", Outcome::Passed)]);
    assert_eq!(report.drivers[0].host.as_deref(), Some("remote"));
    let host = &report.hosts[0];
    assert_eq!(host.name, "remote");
    assert_eq!(
        host.address.as_deref(),
        Some(sshd.address.to_string().as_str())
    );
    assert!(host.errors.is_empty(), "{:?}", host.errors);
    let remote_runpath = host.remote_runpath.clone().expect("a remote runpath");
    let fetched = host.fetched_into.clone().expect("fetched");
    assert_eq!(fetched, run.join("hosts/remote"));
    assert!(
        host.files.contains(&PathBuf::from("greeter.log")),
        "{:?}",
        host.files
    );
    assert_eq!(
        std::fs::read_to_string(fetched.join("greeter.log")).unwrap(),
        format!("{mark} started\n"),
        "the App's own log came back from the remote host"
    );

    // Nothing left remotely: no program, no runpath (asked through a fresh session).
    sshd.assert_nothing_left_with(&mark, SSHD_PATIENCE).await;
    let left = sshd
        .remote_processes_with(&remote_runpath.display().to_string())
        .await;
    assert!(left.is_empty(), "{left:?}");
    let mut ssh = sshd.fresh_ssh();
    ssh.arg(format!(
        "test -e '{}' && echo present || echo absent",
        remote_runpath.display()
    ));
    let output = tokio::time::timeout(SSHD_PATIENCE, tokio::process::Command::from(ssh).output())
        .await
        .expect("a fresh ssh answers in time")
        .expect("ssh runs");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "absent",
        "the remote runpath is removed at stop"
    );

    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn check_reads_the_remote_example_without_connecting() {
    let started = std::time::Instant::now();
    let output = crate::support::run(&["check", "examples/rigs/remote.toml"]);
    let printed = crate::support::printed(&output);
    assert!(output.status.success(), "{printed}");
    assert!(
        printed.contains(
            "2 ssh host(s) [a (tester@192.0.2.10), b (tester@192.0.2.11)], not connected by check"
        ),
        "{printed}"
    );
    // 192.0.2.0/24 is unroutable: a connection attempt would take the connect timeout.
    assert!(started.elapsed() < Duration::from_secs(5), "{printed}");
}

#[test]
fn a_host_that_cannot_connect_fails_the_run_at_its_start_naming_it() {
    let dir = scratch("remote-refused");
    let closed = testrig::testing::ClosedPort::new();
    let port = closed.port();
    let rig_path = dir.join("refused.toml");
    std::fs::write(
        &rig_path,
        format!(
            r#"[rig]
name = "refused"

[[host]]
name = "lab"
ssh = "tester@127.0.0.1"
port = {port}
known_hosts = "empty_known_hosts"

[[driver]]
name = "web"
kind = "app"
on = "lab"
binary = "sleep"
args = ["1000"]
"#
        ),
    )
    .unwrap();
    std::fs::write(dir.join("empty_known_hosts"), "").unwrap();
    let output = crate::support::testrig(&["run", rig_path.to_str().unwrap()])
        .env("TESTRIG_RUNPATH", dir.join("runs"))
        .output()
        .expect("the testrig binary runs");
    let printed = crate::support::printed(&output);
    assert_eq!(output.status.code(), Some(2), "{printed}");
    assert!(
        printed.contains(
            "cannot connect its SSH host: ssh host `lab` (tester@127.0.0.1): cannot connect"
        ),
        "{printed}"
    );
    assert!(printed.contains("Connection refused"), "{printed}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `examples/rigs/remote.toml` itself, its placeholder destinations replaced by two real sshd
/// hosts (and their keys): the App on `a` serves HTTP to the step, iperf3 measures from `b`
/// to `a`, both runpaths come back, nothing is left on either host.
#[tokio::test]
async fn the_remote_example_runs_against_two_sshd_hosts() {
    let Some(hosts) = Sshd::start_hosts("cli-example", 87, &["a", "b"]).await else {
        return;
    };
    let example = std::fs::read_to_string(repo().join("examples/rigs/remote.toml")).unwrap();
    let mut rig = example.clone();
    for (placeholder, name) in [("tester@192.0.2.10", "a"), ("tester@192.0.2.11", "b")] {
        let remote = hosts.remote(name);
        let dir = remote.dir.display();
        let declared = format!("ssh = \"{placeholder}\"");
        assert!(rig.contains(&declared), "the example declares {declared}");
        rig = rig.replace(
            &declared,
            &format!(
                "ssh = \"root@{address}\"\nport = {port}\nidentity = \"{dir}/user_key\"\n\
                 known_hosts = \"{dir}/known_hosts\"",
                address = remote.address,
                port = remote.port,
            ),
        );
    }
    let dir = scratch("remote-example");
    let rig_path = dir.join("remote.toml");
    std::fs::write(&rig_path, rig).unwrap();
    let runs = dir.join("runs");
    std::fs::create_dir_all(&runs).unwrap();
    let stdout = dir.join("stdout.txt");

    let mut command = hosts.client.command(env!("CARGO_BIN_EXE_testrig")).unwrap();
    command
        .args(["run"])
        .arg(&rig_path)
        .current_dir(repo())
        .env("NO_COLOR", "1")
        .env("TESTRIG_RUNPATH", &runs)
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(Stdio::piped());
    let child = command.spawn().expect("testrig runs");
    let (status, stderr) = tokio::task::spawn_blocking(move || wait_with_deadline(child, DEADLINE))
        .await
        .unwrap();
    let printed = std::fs::read_to_string(&stdout).unwrap();
    assert!(
        status.success(),
        "{status}\n--- stdout\n{printed}--- stderr\n{stderr}"
    );
    let run = run_dir(&runs);
    let report = read_reports(&run, "remote");
    assert_eq!(report.outcome, Outcome::Passed, "{report:#?}");
    assert_eq!(
        case_outcomes(&report),
        [
            ("web-serves", Outcome::Passed),
            ("throughput", Outcome::Passed)
        ]
    );
    let placed: Vec<(&str, Option<&str>)> = report
        .drivers
        .iter()
        .map(|driver| (driver.name.as_str(), driver.host.as_deref()))
        .collect();
    assert!(placed.contains(&("web", Some("a"))), "{placed:?}");
    assert!(placed.contains(&("server", Some("a"))), "{placed:?}");
    assert!(placed.contains(&("client", Some("b"))), "{placed:?}");
    for name in ["a", "b"] {
        let host = report
            .hosts
            .iter()
            .find(|host| host.name == name)
            .unwrap_or_else(|| panic!("host {name} in the report: {:?}", report.hosts));
        assert!(host.errors.is_empty(), "{name}: {:?}", host.errors);
        assert_eq!(
            host.fetched_into.as_ref(),
            Some(&run.join("hosts").join(name))
        );
        assert_eq!(
            host.address.as_deref(),
            Some(hosts.remote(name).address.to_string().as_str())
        );
    }
    // The programs of the rig, looked for on both hosts through fresh sessions, by how
    // they name host a's address (http.server and `iperf3 -s` bind it, `iperf3 -c` dials
    // it): no other test's program does (the subnet is this test's), while other tests'
    // `iperf3` may well run meanwhile.
    let a = hosts.remote("a").address;
    for program in [format!("--bind {a}"), format!("-B {a}"), format!("-c {a}")] {
        hosts
            .assert_nothing_left_with(&program, SSHD_PATIENCE)
            .await;
    }
    let _ = std::fs::remove_dir_all(&dir);
    hosts.stop().await;
}
