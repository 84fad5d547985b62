//! SSH hosts in an environment's lifecycle, against a real `sshd` inside an emulated host: the
//! environment connects the host at start, an `App` placed there runs in its own directory of
//! the host's remote runpath, the stop fetches that runpath into the local runpath and removes
//! it remotely (or keeps it when asked); a host that cannot connect fails the start naming it.
//!
//! Without root, network namespaces or an sshd each test prints `skip: <what is missing>`,
//! and fails when `CI` is set.

use std::path::{Path, PathBuf};
use std::time::Duration;

use testrig::process::{Command, Pattern, Process, Stream};
use testrig::testing::{SSHD_PATIENCE as PATIENCE, Sshd};
use testrig::{Environment, Error, Status};
use testrig_drivers::app::App;

/// A marker unique to this test run, in a remote program's arguments.
fn marker(test: &str) -> String {
    format!("testrig-mark-{test}-{}", std::process::id())
}

/// A fresh local directory for an environment's runpath.
fn local_runpath(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("testrig-sshenv-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Whether `path` exists on the remote host, asked through a fresh ssh connection (not the
/// host's master, which is closed by then).
async fn exists_remotely(sshd: &Sshd, path: &Path) -> bool {
    let mut ssh = sshd.fresh_ssh();
    ssh.arg(format!(
        "if [ -e '{}' ]; then echo present; else echo absent; fi",
        path.display()
    ));
    let output = tokio::time::timeout(PATIENCE, tokio::process::Command::from(ssh).output())
        .await
        .expect("a fresh ssh answers in time")
        .expect("ssh runs");
    let said = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    assert!(
        output.status.success() && (said == "present" || said == "absent"),
        "a fresh ssh to the remote host works: {said} / {}",
        String::from_utf8_lossy(&output.stderr)
    );
    said == "present"
}

/// An `App` for the remote host: writes a file in the remote runpath (where the resolved
/// `${remote.runpath}` says) and one in its working directory (its own directory of the remote
/// runpath), says for which address and runpath (resolved references) it runs, and sleeps.
fn writer(mark: &str) -> App {
    let script = format!(
        "echo \"written by {mark}\" > \"$2/made-here.txt\"; \
         echo \"in $(pwd)\" > app-cwd.txt; \
         echo \"for $1 under $2 ready\"; exec sleep 1000"
    );
    App::new("writer", "sh")
        .args([
            "-c",
            script.as_str(),
            "writer",
            "${remote.address}",
            "${remote.runpath}",
        ])
        .ready_on(
            Stream::Stdout,
            r"for (?P<address>\S+) under (?P<runpath>\S+) ready",
        )
}

#[tokio::test]
async fn an_ssh_host_is_connected_at_start_its_runpath_fetched_and_removed_at_stop() {
    let Some(sshd) = Sshd::start("sshenv-life", 81).await else {
        return;
    };
    let mark = marker("life");
    let runpath = local_runpath("life");
    let mut builder = Environment::builder("ssh-life")
        .runpath(&runpath)
        .ssh_host(sshd.host());
    let app = builder.add_on("remote", writer(&mark));
    let env = builder.build().unwrap();
    assert!(
        env.host("remote").is_none(),
        "not connected before the start"
    );

    let starting = std::time::Instant::now();
    env.start().await.unwrap();
    let started_in = starting.elapsed();
    let remote = env.host("remote").expect("connected at start");
    let remote_runpath = remote.remote_runpath().unwrap().to_owned();
    let writer = env.get(&app).unwrap();
    assert_eq!(
        writer.extracted("address").as_deref(),
        Some(sshd.address.to_string().as_str()),
        "`${{remote.address}}` resolved"
    );
    assert_eq!(
        writer.extracted("runpath").map(PathBuf::from).as_ref(),
        Some(&remote_runpath),
        "`${{remote.runpath}}` resolved"
    );
    // A program spawned on the host without a working directory runs in its own directory
    // of the remote runpath.
    let pwd = Command::new("sh")
        .args([
            "-c",
            "echo from-its-cwd > in-cwd.txt; echo \"in $(pwd)\"; exec sleep 1000",
        ])
        .name("pwd")
        .daemon()
        .ready_when(Pattern::stdout(r"^in (?P<dir>/.*)$").unwrap())
        .host(remote.clone());
    let pwd = Process::spawn(pwd, runpath.join("pwd")).await.unwrap();
    let captures = pwd.ready(PATIENCE).await.unwrap();
    assert_eq!(
        captures.get("dir").map(PathBuf::from),
        Some(remote_runpath.join("pwd")),
        "the program runs in its own directory of the remote runpath"
    );
    pwd.stop(PATIENCE).await.unwrap();
    assert!(exists_remotely(&sshd, &remote_runpath).await);
    assert_eq!(env.resource(&app).unwrap().status(), Status::Started);

    let stopping = std::time::Instant::now();
    env.stop().await.unwrap();
    let stopped_in = stopping.elapsed();
    eprintln!(
        "figures: start with the SSH host's connection {started_in:?}; stop with the fetch and \
         the close {stopped_in:?}"
    );
    assert!(env.host("remote").is_none(), "closed at stop");
    let fetched = runpath.join("hosts/remote");
    assert_eq!(
        std::fs::read_to_string(fetched.join("made-here.txt")).unwrap(),
        format!("written by {mark}\n"),
        "the file the remote App wrote in the remote runpath came back"
    );
    assert_eq!(
        std::fs::read_to_string(fetched.join("writer/app-cwd.txt")).unwrap(),
        format!("in {}\n", remote_runpath.join("writer").display()),
        "the App ran in its own directory of the remote runpath, and its file came back"
    );
    assert_eq!(
        std::fs::read_to_string(fetched.join("pwd/in-cwd.txt")).unwrap(),
        "from-its-cwd\n",
        "the file a remote program wrote in its working directory came back"
    );
    let report = env.report();
    assert_eq!(report.hosts.len(), 1, "{report:#?}");
    let host = &report.hosts[0];
    assert_eq!(host.name, "remote");
    assert_eq!(host.kind, "ssh");
    assert_eq!(
        host.address.as_deref(),
        Some(sshd.address.to_string().as_str())
    );
    assert_eq!(host.remote_runpath.as_ref(), Some(&remote_runpath));
    assert_eq!(host.fetched_into.as_ref(), Some(&fetched));
    assert!(
        host.files.contains(&PathBuf::from("made-here.txt"))
            && host.files.contains(&PathBuf::from("pwd/in-cwd.txt"))
            && host.files.contains(&PathBuf::from("writer/app-cwd.txt")),
        "{:?}",
        host.files
    );
    assert!(host.errors.is_empty(), "{:?}", host.errors);
    assert!(!host.remote_runpath_kept);
    let summary = report.summary();
    assert!(
        summary.contains("host remote (ssh root@") && summary.contains("(3 files)"),
        "{summary}"
    );
    assert!(
        !exists_remotely(&sshd, &remote_runpath).await,
        "the remote runpath is removed at stop"
    );
    sshd.assert_nothing_left_with(&mark, PATIENCE).await;
    drop(env);
    let _ = std::fs::remove_dir_all(&runpath);
    sshd.stop().await;
}

#[tokio::test]
async fn a_kept_remote_runpath_stays_after_stop_and_is_fetched_all_the_same() {
    let Some(sshd) = Sshd::start("sshenv-keep", 82).await else {
        return;
    };
    let mark = marker("keep");
    let runpath = local_runpath("keep");
    let mut builder = Environment::builder("ssh-keep")
        .runpath(&runpath)
        .ssh_host(sshd.host().keep_runpath(true));
    builder.add_on("remote", writer(&mark));
    let env = builder.build().unwrap();
    env.start().await.unwrap();
    let remote_runpath = env
        .host("remote")
        .unwrap()
        .remote_runpath()
        .unwrap()
        .to_owned();
    env.stop().await.unwrap();
    assert!(
        exists_remotely(&sshd, &remote_runpath).await,
        "kept on the remote host"
    );
    assert!(runpath.join("hosts/remote/made-here.txt").is_file());
    let report = env.report();
    assert!(report.hosts[0].remote_runpath_kept);
    assert!(
        report.hosts[0].errors.is_empty(),
        "{:?}",
        report.hosts[0].errors
    );
    sshd.assert_nothing_left_with(&mark, PATIENCE).await;
    // The remote host is this machine: tidy what was kept.
    std::fs::remove_dir_all(&remote_runpath).unwrap();
    drop(env);
    let _ = std::fs::remove_dir_all(&runpath);
    sshd.stop().await;
}

/// The command lines of this machine's processes that hold `needle`.
fn processes_with(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(line) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let line = String::from_utf8_lossy(&line).replace('\0', " ");
        if line.contains(needle) {
            found.push(line);
        }
    }
    found
}

#[tokio::test]
async fn a_host_that_cannot_connect_fails_the_start_naming_it_and_leaves_nothing_running() {
    let Some(sshd) = Sshd::start("sshenv-refused", 83).await else {
        return;
    };
    let mark = marker("refused");
    let runpath = local_runpath("refused");
    let mut builder = Environment::builder("ssh-refused")
        .runpath(&runpath)
        // Nothing listens on that port: the connection is refused.
        .ssh_host(sshd.host().port(2223).connect_timeout(PATIENCE));
    let app = builder.add_on("remote", writer(&mark));
    let env = builder.build().unwrap();
    let error = env.start().await.unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, Error::Other(_)), "{error:?}");
    assert!(
        message
            .contains("environment `ssh-refused`: cannot connect its SSH host: ssh host `remote`"),
        "{message}"
    );
    assert!(message.contains("cannot connect"), "{message}");
    assert_eq!(env.resource(&app).unwrap().status(), Status::Idle);
    assert!(env.host("remote").is_none());
    let report = env.report();
    assert_eq!(report.outcome, testrig::Outcome::Failed);
    assert!(
        report.errors[0].contains("ssh host `remote`"),
        "{:?}",
        report.errors
    );
    assert!(!report.hosts[0].errors.is_empty());
    // No ssh to that address is left (the master is killed when the start gives up).
    let destination = format!("root@{}", sshd.address);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !processes_with(&destination).is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "still running: {:?}",
            processes_with(&destination)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(processes_with(&mark).is_empty());
    drop(env);
    let _ = std::fs::remove_dir_all(&runpath);
    sshd.stop().await;
}

#[test]
fn the_build_refuses_duplicate_hosts_a_host_named_like_a_driver_and_bad_options() {
    use testrig::Host;
    let refused = |builder: testrig::EnvironmentBuilder| builder.build().unwrap_err().to_string();
    let twice = Environment::builder("e")
        .ssh_host(Host::ssh("a@192.0.2.1").name("lab"))
        .ssh_host(Host::ssh("b@192.0.2.2").name("lab"));
    assert_eq!(refused(twice), "environment `e`: two hosts are named `lab`");
    let mut like_a_driver =
        Environment::builder("e").ssh_host(Host::ssh("a@192.0.2.1").name("writer"));
    like_a_driver.add(writer("x"));
    assert!(refused(like_a_driver).contains("host `writer` has the name of a driver"),);
    let bad_port = Environment::builder("e").ssh_host(Host::ssh("a@192.0.2.1").name("lab").port(0));
    assert!(refused(bad_port).contains("ssh host `lab`: port `0` is not valid"));
    let bad_via =
        Environment::builder("e").ssh_host(Host::ssh("a@192.0.2.1").name("lab").via_host("gw"));
    assert!(
        refused(bad_via)
            .contains("via_host `gw` is not a host of the environment's network (it has none)")
    );
    let mut missing_key =
        Environment::builder("e").ssh_host(Host::ssh("a@192.0.2.1").name("remote"));
    missing_key.add(App::new("user", "sh").args(["-c", "true", "${remote.nope}"]));
    assert!(refused(missing_key).contains("runpath"));
}

/// The variable that tells [`helper_connects_and_waits_to_be_killed`] where the sshd is.
const HELPER_VAR: &str = "TESTRIG_SSHENV_HELPER";

/// Not a test of its own: the process [`a_sigkilled_test_leaves_no_remote_runpath`] starts
/// (this test binary, running only this function) and kills. Connects to the sshd named in
/// `$TESTRIG_SSHENV_HELPER` (`address port dir`), prints the remote runpath, waits.
#[tokio::test]
#[ignore = "a helper process of a_sigkilled_test_leaves_no_remote_runpath"]
async fn helper_connects_and_waits_to_be_killed() {
    let spec = std::env::var(HELPER_VAR).expect("run by a_sigkilled_test_leaves_no_remote_runpath");
    let [address, port, dir]: [&str; 3] = spec
        .split(' ')
        .collect::<Vec<_>>()
        .try_into()
        .expect("address port dir");
    let dir = Path::new(dir);
    let host = testrig::Host::ssh(format!("root@{address}"))
        .name("remote")
        .port(port.parse().unwrap())
        .identity(dir.join("user_key"))
        .known_hosts(dir.join("known_hosts"))
        .connect()
        .await
        .unwrap();
    println!("runpath {}", host.remote_runpath().unwrap().display());
    std::future::pending::<()>().await;
}

#[tokio::test]
async fn a_sigkilled_test_leaves_no_remote_runpath() {
    use tokio::io::AsyncBufReadExt;
    let Some(sshd) = Sshd::start("sshenv-killed", 84).await else {
        return;
    };
    // The helper runs inside host `client`, from where the sshd's address is routable.
    let mut helper = sshd
        .client
        .command(std::env::current_exe().unwrap())
        .unwrap();
    helper
        .args([
            "--exact",
            "helper_connects_and_waits_to_be_killed",
            "--ignored",
            "--nocapture",
        ])
        .env(
            HELPER_VAR,
            format!("{} {} {}", sshd.address, sshd.port, sshd.dir.display()),
        )
        .stdout(std::process::Stdio::piped());
    let mut helper = tokio::process::Command::from(helper)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(helper.stdout.take().unwrap()).lines();
    let runpath = tokio::time::timeout(PATIENCE, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(path) = line.strip_prefix("runpath ") {
                return PathBuf::from(path);
            }
        }
        panic!("the helper ended without printing its runpath");
    })
    .await
    .expect("the helper connects in time");
    assert!(exists_remotely(&sshd, &runpath).await);

    helper.start_kill().unwrap(); // SIGKILL: nothing of the helper runs after it
    helper.wait().await.unwrap();
    // The remote host is this machine: wait for the removal there, then ask a fresh session.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while runpath.exists() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} still there {PATIENCE:?} after the test process was killed",
            runpath.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        !exists_remotely(&sshd, &runpath).await,
        "the remote runpath is removed when the test process is SIGKILLed"
    );
    sshd.stop().await;
}

#[tokio::test]
async fn two_hosts_connect_concurrently_and_one_failing_closes_the_other() {
    let Some(sshd) = Sshd::start("sshenv-two", 85).await else {
        return;
    };
    let runpath = local_runpath("two");
    // Two SSH hosts to the same sshd, each with its own connection and remote runpath.
    let env = Environment::builder("ssh-two")
        .runpath(&runpath)
        .ssh_host(sshd.host())
        .ssh_host(sshd.host().name("second"))
        .build()
        .unwrap();
    let connecting = std::time::Instant::now();
    env.start().await.unwrap();
    let both_in = connecting.elapsed();
    let first = env.host("remote").unwrap();
    let second = env.host("second").unwrap();
    let paths = [
        first.remote_runpath().unwrap().to_owned(),
        second.remote_runpath().unwrap().to_owned(),
    ];
    assert_ne!(paths[0], paths[1], "each host has its own remote runpath");
    assert_eq!(
        env.values()
            .resolve::<String>(&testrig::RefKey {
                driver: "second".into(),
                key: "runpath".into(),
            })
            .unwrap(),
        paths[1].display().to_string()
    );
    env.stop().await.unwrap();
    for path in &paths {
        assert!(
            !exists_remotely(&sshd, path).await,
            "{} removed",
            path.display()
        );
    }
    let report = env.report();
    let names: Vec<&str> = report.hosts.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(names, ["remote", "second"]);
    eprintln!("figures: two SSH hosts connected at start in {both_in:?}");

    // One host that cannot connect: the start fails naming it, the other is closed again.
    let broken_runpath = local_runpath("two-broken");
    let env = Environment::builder("ssh-two-broken")
        .runpath(&broken_runpath)
        .ssh_host(sshd.host())
        .ssh_host(sshd.host().name("broken").port(2223))
        .build()
        .unwrap();
    let message = env.start().await.unwrap_err().to_string();
    assert!(message.contains("ssh host `broken`"), "{message}");
    assert!(!message.contains("ssh host `remote`"), "{message}");
    assert!(env.host("remote").is_none(), "closed when the start failed");
    let report = env.report();
    let good = report.hosts[0]
        .remote_runpath
        .clone()
        .expect("the good host had connected");
    assert!(
        !exists_remotely(&sshd, &good).await,
        "the connected host's runpath is removed when the start fails"
    );
    drop(env);
    let _ = std::fs::remove_dir_all(&runpath);
    let _ = std::fs::remove_dir_all(&broken_runpath);
    sshd.stop().await;
}

#[tokio::test]
async fn a_failed_fetch_is_reported_and_changes_nothing_else() {
    let Some(sshd) = Sshd::start("sshenv-fetch", 87).await else {
        return;
    };
    let runpath = local_runpath("fetch");
    let env = Environment::builder("ssh-fetch")
        .runpath(&runpath)
        .ssh_host(sshd.host())
        .build()
        .unwrap();
    let outcome = env
        .run(|env| async move {
            let remote = env.host("remote").unwrap();
            // The remote host is this machine: take the runpath away under the host's feet.
            std::fs::remove_dir_all(remote.remote_runpath().unwrap()).unwrap();
            Ok::<_, Error>(())
        })
        .await;
    assert!(outcome.is_ok(), "the test's own result stands: {outcome:?}");
    let report = env.report();
    assert_eq!(report.outcome, testrig::Outcome::Passed);
    let host = &report.hosts[0];
    assert!(host.fetched_into.is_none());
    assert_eq!(host.errors.len(), 1, "{:?}", host.errors);
    assert!(
        host.errors[0].contains("ssh host `remote`")
            && host.errors[0].contains("fetching the remote runpath")
            && host.errors[0].contains("the remote tar ended with"),
        "{}",
        host.errors[0]
    );
    assert!(
        report.summary().contains("! ssh host `remote`"),
        "{}",
        report.summary()
    );
    drop(env);
    let _ = std::fs::remove_dir_all(&runpath);
    sshd.stop().await;
}
