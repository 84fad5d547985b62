//! Remote hosts over SSH, against a real `sshd` running inside an emulated host: programs
//! spawned there start, are ready by their output, stop, die when stop is ignored, die when
//! the connection is killed; a host whose key changed is refused.
//!
//! These pin the path without an agent (a channel per program, `SshAgent::Off`);
//! `tests/ssh_agent.rs` covers the resident agent.
//!
//! Without root, network namespaces or an sshd each test prints `skip: <what is missing>`,
//! and fails when `CI` is set.

use std::time::Duration;

use testrig::host::ssh::{HostKeys, SshAgent, SshError};
use testrig::process::{Command, Exit, Pattern, Process, Stream};
use testrig::testing::{
    HelperProgram, SSHD_PATIENCE as PATIENCE, Sshd, local_processes_with, resource_on,
    says_the_connection_ended,
};
use testrig::{DriverSpec, Status};
use testrig_drivers::app::App;

/// `sh -c script` on `remote` as a daemon named `name`, ready when it prints a line ending
/// in ` up`.
fn daemon(name: &str, script: &str, remote: &testrig::Host) -> Command {
    Command::new("sh")
        .args(["-c", script])
        .name(name)
        .daemon()
        .ready_when(Pattern::stdout(" up$").unwrap())
        .host(remote.clone())
}

/// A marker unique to this test run, in a remote program's arguments.
fn marker(test: &str) -> String {
    format!("testrig-mark-{test}-{}", std::process::id())
}

#[tokio::test]
async fn an_app_on_a_remote_host_starts_is_ready_exports_what_it_printed_and_stops() {
    let Some(sshd) = Sshd::start("ssh-app", 91).await else {
        return;
    };
    let connecting = std::time::Instant::now();
    let remote = sshd.host().agent(SshAgent::Off).connect().await.unwrap();
    let connected_in = connecting.elapsed();
    assert!(remote.is_ssh());
    assert_eq!(remote.name(), "remote");
    assert_eq!(remote.address(), sshd.address);
    let exports = remote.exports();
    assert_eq!(exports["address"].to_string(), sshd.address.to_string());
    assert_eq!(exports["user"].to_string(), "root");
    assert_eq!(exports["port"].to_string(), "2222");

    let mark = marker("app");
    // The program says where it runs: the remote host's namespace has the sshd's address.
    let script = format!(
        "echo \"{mark} serving on $(hostname -I 2>/dev/null || ip -brief address) port 4242\"; \
         exec sleep 1000"
    );
    let runpath = sshd.dir.join("app");
    let app = resource_on(
        DriverSpec::new(
            App::new("remote-app", "sh")
                .args(["-c", script.as_str()])
                .ready_on(
                    Stream::Stdout,
                    r"serving on (?P<where>.*) port (?P<port>\d+)",
                ),
        ),
        remote.clone(),
    );
    let _ = runpath;
    let starting = std::time::Instant::now();
    app.start().await.unwrap();
    let started_in = starting.elapsed();
    assert_eq!(app.status(), Status::Started);
    // A one-shot command over the same connection, for comparison.
    let bare = std::time::Instant::now();
    let status = remote.command("true").unwrap().status().unwrap();
    assert!(status.success());
    eprintln!(
        "figures: connect {connected_in:?}; remote App start to ready {started_in:?}; \
         one-shot `true` over the connection {:?}",
        bare.elapsed()
    );
    let report = app.report();
    assert_eq!(report.exports["port"].to_string(), "4242");
    assert!(
        report.exports["where"]
            .to_string()
            .contains(&sshd.address.to_string()),
        "it ran on the remote host: {}",
        report.exports["where"]
    );
    assert!(
        !local_processes_with(&mark).is_empty(),
        "the program runs on the remote host"
    );
    app.stop().await.unwrap();
    assert_eq!(app.status(), Status::Stopped);
    sshd.assert_nothing_left_with(&mark, PATIENCE).await;
    let _ = remote.close(PATIENCE).await;
    sshd.stop().await;
}

#[tokio::test]
async fn stop_sends_term_to_the_remote_program_and_its_status_comes_back() {
    let Some(sshd) = Sshd::start("ssh-term", 92).await else {
        return;
    };
    let remote = sshd.host().agent(SshAgent::Off).connect().await.unwrap();
    let mark = marker("term");
    let script =
        format!("trap 'echo got TERM; exit 7' TERM; echo {mark} up; while :; do sleep 0.05; done");
    let command = daemon("polite", &script, &remote);
    let process = Process::spawn(command, sshd.dir.join("term"))
        .await
        .unwrap();
    process.ready(PATIENCE).await.unwrap();
    let exit = process.stop(PATIENCE).await.unwrap();
    assert_eq!(
        exit,
        Exit::ExitedOnStop(7),
        "the program's own exit, after its TERM handler"
    );
    let stdout = std::fs::read_to_string(process.log_file(Stream::Stdout)).unwrap();
    assert!(stdout.ends_with("got TERM\n"), "{stdout:?}");
    sshd.assert_nothing_left_with(&mark, PATIENCE).await;
    let _ = remote.close(PATIENCE).await;
    sshd.stop().await;
}

#[tokio::test]
async fn a_remote_program_that_ignores_term_is_killed_after_the_stop_timeout() {
    let Some(sshd) = Sshd::start("ssh-stubborn", 93).await else {
        return;
    };
    let remote = sshd.host().agent(SshAgent::Off).connect().await.unwrap();
    let mark = marker("stubborn");
    // It and a child of its own both ignore TERM; the whole group must go.
    let script = format!("trap '' TERM; sleep 1000 & echo {mark} up; while :; do sleep 0.05; done");
    let command = daemon("stubborn", &script, &remote);
    let process = Process::spawn(command, sshd.dir.join("stubborn"))
        .await
        .unwrap();
    process.ready(PATIENCE).await.unwrap();
    let stop_timeout = Duration::from_millis(500);
    let started = std::time::Instant::now();
    let exit = process.stop(stop_timeout).await.unwrap();
    assert!(
        started.elapsed() >= stop_timeout,
        "TERM was ignored, so stop waited"
    );
    assert_eq!(exit, Exit::Killed);
    sshd.assert_nothing_left_with(&mark, PATIENCE).await;
    let _ = remote.close(PATIENCE).await;
    sshd.stop().await;
}

#[tokio::test]
async fn closing_the_host_ends_its_programs_before_it_removes_the_runpath() {
    let Some(sshd) = Sshd::start("ssh-close", 106).await else {
        return;
    };
    let remote = sshd.host().agent(SshAgent::Off).connect().await.unwrap();
    let runpath = remote.remote_runpath().expect("an SSH host's").to_owned();
    let mark = marker("close");
    // It ignores TERM and HUP, and keeps writing into the runpath: removed under it, the
    // runpath would come back.
    let script = format!(
        "trap '' TERM HUP; echo {mark} up; \
         while :; do mkdir -p \"$PWD/a\" && echo x > \"$PWD/a/f\"; done"
    );
    let command = daemon("busy", &script, &remote);
    let process = Process::spawn(command, sshd.dir.join("close"))
        .await
        .unwrap();
    process.ready(PATIENCE).await.unwrap();
    // It runs in `<runpath>/busy`.
    let written = runpath.join("busy").join("a").join("f");
    let deadline = std::time::Instant::now() + PATIENCE;
    while !written.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "it never wrote {written:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    remote.close(PATIENCE).await.unwrap();
    assert!(
        !runpath.exists(),
        "the runpath is removed, with nothing writing into it any more"
    );
    assert!(
        process.state().exit().is_some(),
        "its client here ended before close returned"
    );
    sshd.assert_nothing_left_with(&mark, PATIENCE).await;
    drop((process, remote));
    sshd.stop().await;
}

#[tokio::test]
async fn a_killed_connection_fails_the_app_with_the_reason_and_leaves_nothing_remote() {
    let Some(sshd) = Sshd::start("ssh-cut", 94).await else {
        return;
    };
    let remote = sshd.host().agent(SshAgent::Off).connect().await.unwrap();
    let mark = marker("cut");
    let script = format!("trap '' TERM HUP; echo {mark} up; exec sleep 1000");
    let app = resource_on(
        DriverSpec::new(
            App::new("cut-app", "sh")
                .args(["-c", script.as_str()])
                .ready_on(Stream::Stdout, " up$"),
        ),
        remote.clone(),
    );
    app.start().await.unwrap();
    assert_eq!(app.status(), Status::Started);

    // Kill the sshd's session processes (its children): the connection is gone.
    let sshd_pid = sshd.process.pid();
    let killed = std::process::Command::new("pkill")
        .args(["-KILL", "-P", &sshd_pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success(), "the sshd had session processes");

    app.wait(Status::Failed, PATIENCE).await.unwrap();
    let report = app.report();
    let errors: Vec<String> = report.errors.iter().map(|e| format!("{e:?}")).collect();
    let text = format!("{errors:?} {:?}", report.log_tail);
    eprintln!("{text}");
    assert!(
        says_the_connection_ended(&text),
        "the failure says the connection was closed: {text}"
    );
    sshd.assert_nothing_left_with(&mark, PATIENCE).await;
    let _ = app.stop().await;
    // The session's processes were killed, its runpath's janitor too: nothing removes that
    // directory there (the remote host is this machine).
    if let Some(left) = remote.remote_runpath() {
        let _ = std::fs::remove_dir_all(left);
    }
    let _ = remote.close(PATIENCE).await;
    sshd.stop().await;
}

#[tokio::test]
async fn a_host_whose_key_changed_is_refused_naming_it() {
    let Some(sshd) = Sshd::start("ssh-key", 95).await else {
        return;
    };
    // known_hosts holds another key for the host's address.
    let other = sshd.dir.join("other_key");
    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", ""])
        .arg("-f")
        .arg(&other)
        .status()
        .unwrap();
    assert!(status.success());
    let other_key = std::fs::read_to_string(other.with_extension("pub")).unwrap();
    std::fs::write(
        sshd.dir.join("known_hosts"),
        format!("[{}]:{} {other_key}", sshd.address, sshd.port),
    )
    .unwrap();
    // Accepting new keys does not accept a changed one.
    let error = sshd
        .host()
        .host_keys(HostKeys::AcceptNew)
        .connect()
        .await
        .unwrap_err();
    assert!(
        matches!(&error, SshError::HostKeyMismatch { host, .. } if host == "remote"),
        "{error:?}"
    );
    let message = error.to_string();
    eprintln!("{message}");
    assert!(
        message.starts_with("ssh host `remote` (root@10.95.0.2): its host key differs"),
        "{message}"
    );

    // An unknown host under the strict default: refused too, saying how to accept it.
    std::fs::write(sshd.dir.join("known_hosts"), "").unwrap();
    let error = sshd
        .host()
        .agent(SshAgent::Off)
        .connect()
        .await
        .unwrap_err();
    assert!(
        matches!(error, SshError::HostKeyUnknown { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("HostKeys::AcceptNew"));
    // ...and accepted with AcceptNew, which records it.
    let remote = sshd
        .host()
        .host_keys(HostKeys::AcceptNew)
        .connect()
        .await
        .unwrap();
    assert_eq!(remote.address(), sshd.address);
    let known = std::fs::read_to_string(sshd.dir.join("known_hosts")).unwrap();
    // (Hashed or not, as the ssh config says: Debian hashes known hosts.)
    assert!(
        known.contains("ssh-ed25519"),
        "the key was recorded: {known}"
    );
    let _ = remote.close(PATIENCE).await;
    sshd.stop().await;
}

#[tokio::test]
async fn an_environment_places_an_app_on_a_remote_host_declared_with_it() {
    let Some(sshd) = Sshd::start("ssh-env", 96).await else {
        return;
    };
    let remote = sshd.host().agent(SshAgent::Off).connect().await.unwrap();
    let mark = marker("env");
    // The program is told the remote host's address through the host's export.
    let script = format!("echo \"{mark} at $0 ready\"; exec sleep 1000");
    let mut builder = testrig::Environment::builder("remote-env").host(remote.clone());
    let app = builder.add_on(
        "remote",
        App::new("remote-app", "sh")
            .args(["-c", script.as_str(), "${remote.address}"])
            .ready_on(Stream::Stdout, r"at (?P<address>\S+) ready"),
    );
    let env = builder.build().unwrap();
    env.start().await.unwrap();
    assert_eq!(
        env.get(&app).unwrap().extracted("address").as_deref(),
        Some(sshd.address.to_string().as_str())
    );
    assert!(
        !local_processes_with(&mark).is_empty(),
        "the program runs on the remote host"
    );
    let report = env.report();
    assert_eq!(report.drivers[0].host.as_deref(), Some("remote"));
    env.stop().await.unwrap();
    sshd.assert_nothing_left_with(&mark, PATIENCE).await;
    let _ = remote.close(PATIENCE).await;
    sshd.stop().await;
}

#[tokio::test]
async fn a_file_is_installed_once_by_content_and_runs_there() {
    let Some(sshd) = Sshd::start("ssh-install", 105).await else {
        return;
    };
    let remote = sshd.host().connect().await.unwrap();
    let mark = marker("install");
    let local = sshd.dir.join("tool.sh");
    std::fs::write(&local, format!("#!/bin/sh\necho \"{mark} ran with $1\"\n")).unwrap();

    let installing = std::time::Instant::now();
    let path = remote.install(&local).await.unwrap();
    let installed_in = installing.elapsed();
    assert!(
        path.to_string_lossy().contains("/testrig/bin/tool.sh-"),
        "{}",
        path.display()
    );
    let output = remote.command(&path).unwrap().arg("it").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        format!("{mark} ran with it\n"),
        "the installed file is the local one, executable"
    );
    // The same file again: remembered by the connection.
    let again = std::time::Instant::now();
    assert_eq!(remote.install(&local).await.unwrap(), path);
    let remembered_in = again.elapsed();
    // Through a fresh connection: found there, not copied (the file is not replaced).
    let inode = std::fs::metadata(&path).map(|m| std::os::unix::fs::MetadataExt::ino(&m));
    let fresh = sshd.host().connect().await.unwrap();
    let found = std::time::Instant::now();
    assert_eq!(fresh.install(&local).await.unwrap(), path);
    let found_in = found.elapsed();
    assert_eq!(
        std::fs::metadata(&path)
            .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
            .ok(),
        inode.ok(),
        "the remote file was found, not copied again"
    );
    // Other bytes: another file.
    std::fs::write(&local, format!("#!/bin/sh\necho \"{mark} changed\"\n")).unwrap();
    let changed = fresh.install(&local).await.unwrap();
    assert_ne!(changed, path);
    eprintln!(
        "figures: install {installed_in:?}; again through the connection {remembered_in:?}; \
         found through a fresh connection {found_in:?}"
    );

    // A file that is not there: an error naming the host and the file.
    let missing = sshd.dir.join("no-such-tool");
    let error = remote.install(&missing).await.unwrap_err().to_string();
    assert!(
        error.contains("`remote`") && error.contains("no-such-tool"),
        "{error}"
    );
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_file(&changed);
    let _ = remote.close(PATIENCE).await;
    let _ = fresh.close(PATIENCE).await;
    sshd.stop().await;
}

/// The helper program of `a_killed_test_runner_leaves_nothing_remote`: a test runner that
/// connects to the sshd named by its environment, starts a remote program and holds it.
const RUNNER: HelperProgram = HelperProgram::new("runner_helper", "TESTRIG_SSH_RUNNER");

#[test]
#[ignore = "the helper program other tests run"]
fn runner_helper() {
    let Some(mark) = RUNNER.mode() else {
        return;
    };
    let var = |name: &str| std::env::var(name).expect(name);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let remote = testrig::Host::ssh(var("RUNNER_DESTINATION"))
            .name("remote")
            .port(var("RUNNER_PORT").parse().unwrap())
            .identity(var("RUNNER_IDENTITY"))
            .known_hosts(var("RUNNER_KNOWN_HOSTS"))
            .agent(SshAgent::Off)
            .connect()
            .await
            .unwrap();
        let script = format!("echo {mark} up; exec sleep 1000");
        let command = daemon("held", &script, &remote);
        let held = Process::spawn(command, var("RUNNER_RUNPATH"))
            .await
            .unwrap();
        held.ready(PATIENCE).await.unwrap();
        println!("holding");
        // Until it is killed (bounded, should the test never come).
        tokio::time::sleep(Duration::from_secs(60)).await;
    });
}

#[tokio::test]
async fn a_killed_test_runner_leaves_nothing_remote() {
    let Some(sshd) = Sshd::start("ssh-runner", 98).await else {
        return;
    };
    let mark = marker("runner");
    // The runner runs on host `client`, where connections to the sshd are made from.
    let runner = RUNNER
        .command(&mark)
        .env("RUNNER_DESTINATION", format!("root@{}", sshd.address))
        .env("RUNNER_PORT", sshd.port.to_string())
        .env("RUNNER_IDENTITY", sshd.dir.join("user_key"))
        .env("RUNNER_KNOWN_HOSTS", sshd.dir.join("known_hosts"))
        .env("RUNNER_RUNPATH", sshd.dir.join("runner"))
        .name("runner")
        .daemon()
        .ready_when(Pattern::stdout("^holding$").unwrap())
        .host(sshd.client.clone());
    let runner = Process::spawn(runner, sshd.dir.join("runner-logs"))
        .await
        .unwrap();
    runner.ready(PATIENCE).await.unwrap();
    assert!(
        !local_processes_with(&mark).is_empty(),
        "the runner's program runs on the remote host"
    );

    // SIGKILL to the runner alone: no stop, no drop, no atexit.
    // SAFETY: kill(2) on the pid of our own child.
    let killed = unsafe { libc::kill(runner.pid() as libc::pid_t, libc::SIGKILL) };
    assert_eq!(killed, 0);
    sshd.assert_nothing_left_with(&mark, PATIENCE).await;
    let _ = runner.stop(PATIENCE).await;
    sshd.stop().await;
}

#[tokio::test]
async fn a_port_forward_reaches_a_port_on_the_remote_loopback() {
    let Some(sshd) = Sshd::start("ssh-forward", 99).await else {
        return;
    };
    let remote = sshd.host().agent(SshAgent::Off).connect().await.unwrap();
    let mark = marker("forward");
    // An echo server on the remote host's loopback: not routable from anywhere else.
    let server = format!(
        "import socket,sys\n\
         s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen(8)\n\
         print('{mark} port', s.getsockname()[1], flush=True)\n\
         while True:\n    c,_=s.accept()\n    c.sendall(c.recv(64)); c.close()\n"
    );
    let command = Command::new("python3")
        .args(["-c", server.as_str()])
        .name("echo")
        .daemon()
        .ready_when(Pattern::stdout(r"port (?P<port>\d+)$").unwrap())
        .host(remote.clone());
    let echo = Process::spawn(command, sshd.dir.join("forward"))
        .await
        .unwrap();
    let captures = echo.ready(PATIENCE).await.unwrap();
    let port: u16 = captures.get("port").unwrap().parse().unwrap();
    let target = std::net::SocketAddr::from(([127, 0, 0, 1], port));

    let forward = remote.forward(target).await.unwrap();
    assert_eq!(forward.remote_addr(), target);
    assert!(forward.local_addr().ip().is_loopback());
    // From where the connection is made (host `client`), through the forward.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = sshd.client.tcp_connect(forward.local_addr()).await.unwrap();
    stream.write_all(b"through the session").await.unwrap();
    let mut echoed = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut echoed))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(echoed, b"through the session");

    let local = forward.local_addr();
    forward.close().await.unwrap();
    let refused = sshd.client.tcp_connect(local).await;
    assert!(refused.is_err(), "the closed forward listens no more");

    // Only SSH hosts forward; a bad forward is an error naming the host.
    let error = sshd.client.forward(target).await.unwrap_err().to_string();
    assert!(
        error.contains("`client`") && error.contains("only an SSH host"),
        "{error}"
    );

    echo.stop(PATIENCE).await.unwrap();
    sshd.assert_nothing_left_with(&mark, PATIENCE).await;
    let _ = remote.close(PATIENCE).await;
    sshd.stop().await;
}

/// The `/proc/<pid>/stat` fields after the command name: state (3), ppid, pgrp (5)…
fn stat_fields(pid: &str) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(") ")?;
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

/// The states of the processes in the process group of the (remote: this machine's) process
/// whose command line starts with `program`: the remote program's group.
fn group_states(program: &str) -> Vec<char> {
    let pids: Vec<String> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.chars().all(|c| c.is_ascii_digit()))
        .collect();
    let leader = pids.iter().find(|pid| {
        std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|line| String::from_utf8_lossy(&line).replace('\0', " "))
            .is_ok_and(|line| line.starts_with(program))
    });
    let Some(group) = leader
        .and_then(|pid| stat_fields(pid))
        .map(|f| f[2].clone())
    else {
        return Vec::new();
    };
    pids.iter()
        .filter_map(|pid| stat_fields(pid))
        .filter(|fields| fields[2] == group)
        .filter_map(|fields| fields[0].chars().next())
        .collect()
}

/// Waits until the remote program's group (two processes) is all stopped (`T`), or none is.
async fn wait_for_states(program: &str, stopped: bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let states = group_states(program);
        if states.len() == 2 && states.iter().all(|state| (*state == 'T') == stopped) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the remote group's states after {PATIENCE:?}: {states:?} (stopped wanted: {stopped})"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn pause_and_resume_stop_and_continue_the_remote_group() {
    let Some(sshd) = Sshd::start("ssh-pause", 100).await else {
        return;
    };
    let remote = sshd.host().agent(SshAgent::Off).connect().await.unwrap();
    let mark = marker("pause");
    // The program and its child, both in the remote group.
    let script = format!("sleep 1000 & echo {mark} up; wait");
    let program = format!("sh -c {script}");
    let command = Command::new("sh")
        .args(["-c", script.as_str(), mark.as_str()])
        .name("pausable")
        .daemon()
        .ready_when(Pattern::stdout(" up$").unwrap())
        .host(remote.clone());
    let process = Process::spawn(command, sshd.dir.join("pause"))
        .await
        .unwrap();
    process.ready(PATIENCE).await.unwrap();

    process.pause().await.unwrap();
    wait_for_states(&program, true).await;
    process.resume().await.unwrap();
    wait_for_states(&program, false).await;

    let exit = process.stop(PATIENCE).await.unwrap();
    assert!(
        matches!(exit, Exit::ExitedOnStop(_) | Exit::Terminated(_)),
        "{exit:?}"
    );
    sshd.assert_nothing_left_with(&mark, PATIENCE).await;
    let _ = remote.close(PATIENCE).await;
    sshd.stop().await;
}

/// The command lines of the local processes whose command line holds every one of `words`.
fn local_command_lines_with(words: &[&str]) -> Vec<(i32, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(line) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let line = String::from_utf8_lossy(&line).replace('\0', " ");
        if words.iter().all(|word| line.contains(word)) {
            found.push((pid, line));
        }
    }
    found
}

#[tokio::test]
async fn the_connection_made_here_is_handed_to_the_master_which_then_holds_it_alone() {
    let Some(sshd) = Sshd::start("ssh-dial", 97).await else {
        return;
    };
    let remote = sshd.host().agent(SshAgent::Off).connect().await.unwrap();
    let address = sshd.address.to_string();
    // The workspace's `testrig` relays the socket made here (see `dial.rs`): the master
    // takes it with `ProxyUseFdpass`, so it runs without Nagle's waits.
    let masters = local_command_lines_with(&["ssh -M", &address, "ProxyUseFdpass=yes"]);
    assert_eq!(masters.len(), 1, "{masters:?}");
    let runpath = remote
        .remote_runpath()
        .expect("a remote runpath")
        .display()
        .to_string();

    // This process closed its copy once connected: killing the master ends the connection,
    // and the janitor, seeing its channel end, removes the remote runpath.
    let (master, _) = masters[0];
    // SAFETY: a plain signal to a process of this test.
    assert_eq!(unsafe { libc::kill(master, libc::SIGKILL) }, 0);
    let deadline = std::time::Instant::now() + PATIENCE;
    while std::path::Path::new(&runpath).exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the remote runpath {runpath} is still there: the connection outlived its master"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = remote.close(PATIENCE).await;
    sshd.stop().await;
}

#[tokio::test]
async fn an_ssh_option_given_on_the_builder_reaches_the_connection() {
    let Some(sshd) = Sshd::start("ssh-option", 102).await else {
        return;
    };
    let classic = sshd
        .host()
        .agent(SshAgent::Off)
        .option("KexAlgorithms=curve25519-sha256")
        .connect()
        .await
        .unwrap();
    let masters = local_command_lines_with(&["ssh -M", "KexAlgorithms=curve25519-sha256"]);
    assert_eq!(masters.len(), 1, "{masters:?}");
    classic.close(PATIENCE).await.unwrap();

    // One ssh does not know: its own words come back, naming the host.
    let error = sshd
        .host()
        .agent(SshAgent::Off)
        .option("KexAlgorithms=no-such-kex")
        .connect()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("ssh host `remote`") && error.contains("KexAlgorithms"),
        "{error}"
    );
    sshd.stop().await;
}

#[tokio::test]
async fn a_name_the_ssh_config_resolves_is_connected_here_too() {
    let Some(sshd) = Sshd::start("ssh-alias", 104).await else {
        return;
    };
    // A name only the configuration knows (`HostName`): the route comes from `ssh -G`.
    let remote = testrig::Host::ssh("root@testrig-fixture-alias")
        .name("aliased")
        .option(format!("HostName={}", sshd.address))
        .port(sshd.port)
        .identity(sshd.dir.join("user_key"))
        .known_hosts(sshd.dir.join("known_hosts"))
        .via(sshd.client.clone())
        .agent(SshAgent::Off)
        .connect()
        .await
        .unwrap();
    assert_eq!(remote.address(), sshd.address, "the address it reached");
    let masters =
        local_command_lines_with(&["ssh -M", "testrig-fixture-alias", "ProxyUseFdpass=yes"]);
    assert_eq!(
        masters.len(),
        1,
        "the connection was made here: {masters:?}"
    );
    remote.close(PATIENCE).await.unwrap();
    sshd.stop().await;
}

#[tokio::test]
async fn an_address_that_never_answers_fails_once_after_the_connect_timeout() {
    let Some(sshd) = Sshd::start("ssh-silent", 103).await else {
        return;
    };
    // An address on the link where no host answers (ARP goes unanswered).
    let std::net::IpAddr::V4(address) = sshd.address else {
        panic!("the fixture's addresses are IPv4");
    };
    let [a, b, c, _] = address.octets();
    let silent = std::net::Ipv4Addr::new(a, b, c, 77);
    let timeout = Duration::from_secs(2);
    let started = std::time::Instant::now();
    let error = testrig::Host::ssh(format!("root@{silent}"))
        .name("silent")
        .identity(sshd.dir.join("user_key"))
        .known_hosts(sshd.dir.join("known_hosts"))
        .via(sshd.client.clone())
        .agent(SshAgent::Off)
        .connect_timeout(timeout)
        .connect()
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(error, SshError::Timeout { after, .. } if after == timeout),
        "{error}"
    );
    // The connect made here and ssh's own do not each wait the whole timeout.
    assert!(took < timeout * 7 / 4, "took {took:?}");
    sshd.stop().await;
}
