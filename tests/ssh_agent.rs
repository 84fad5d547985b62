//! Programs on an SSH host through its resident agent (`testrig agent`), against a real `sshd`
//! inside an emulated host: start, readiness, captures, stop by TERM and by KILL, a killed
//! connection, a missing program, many programs at once.
//!
//! The agent is this test binary (the ignored test `agent_helper` serves the protocol), so the
//! tests never depend on a `testrig` binary having been built. Without root, network namespaces
//! or an sshd each test prints `skip: <what is missing>`, and fails when `CI` is set.

use std::time::{Duration, Instant};

use testrig::Host;
use testrig::host::ssh::SshAgent;
use testrig::process::{Command, Exit, Pattern, Process, ProcessError, ProcessState, Stream};
use testrig::testing::{
    HelperProgram, SSHD_PATIENCE as PATIENCE, Sshd, local_processes_with, resource_on,
    says_the_connection_ended,
};
use testrig::{DriverSpec, Status};
use testrig_drivers::app::App;

const AGENT: HelperProgram = HelperProgram::new("agent_helper", "TESTRIG_SSH_AGENT_HELPER");

/// The agent: this binary, running only `agent_helper`.
#[test]
#[ignore = "the agent the other tests start on the remote host"]
fn agent_helper() {
    match AGENT.mode().as_deref() {
        None => {}
        Some("serve") => std::process::exit(testrig::host::ssh::serve_agent()),
        Some("runner") => hold_a_remote_program(),
        Some(mode) => panic!("unknown helper mode `{mode}`"),
    }
}

/// A test runner (for `a_killed_test_runner_leaves_nothing_remote`): connects to the sshd
/// named by its environment with an agent, starts a remote program through it and holds it.
fn hold_a_remote_program() {
    let var = |name: &str| std::env::var(name).expect(name);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let remote = Host::ssh(var("RUNNER_DESTINATION"))
            .name("remote")
            .port(var("RUNNER_PORT").parse().unwrap())
            .identity(var("RUNNER_IDENTITY"))
            .known_hosts(var("RUNNER_KNOWN_HOSTS"))
            .agent(agent())
            .connect()
            .await
            .unwrap();
        let script = format!(
            "trap '' TERM HUP; echo {} up 1; sleep 1000",
            var("RUNNER_MARK")
        );
        let held = Process::spawn(daemon("held", &script, &remote), var("RUNNER_RUNPATH"))
            .await
            .unwrap();
        held.ready(PATIENCE).await.unwrap();
        println!("holding");
        // Until it is killed (bounded, should the test never come).
        tokio::time::sleep(Duration::from_secs(60)).await;
    });
}

fn agent() -> SshAgent {
    SshAgent::Program {
        program: AGENT.program(),
        args: AGENT.args().iter().map(Into::into).collect(),
        env: vec![(AGENT.variable().into(), "serve".into())],
    }
}

/// The fixture's host, through the agent.
async fn connect(sshd: &Sshd) -> Host {
    sshd.host().agent(agent()).connect().await.unwrap()
}

/// A marker unique to this test run, in a remote program's arguments.
fn marker(test: &str) -> String {
    format!("testrig-agent-{test}-{}", std::process::id())
}

/// A daemon on `remote` running `script` with `sh -c`, ready when a line ends with ` up`.
fn daemon(name: &str, script: &str, remote: &Host) -> Command {
    Command::new("sh")
        .args(["-c", script])
        .name(name)
        .daemon()
        .ready_when(Pattern::stdout(r" up (?P<port>\d+)$").unwrap())
        .host(remote.clone())
}

#[tokio::test]
async fn a_program_through_the_agent_is_ready_by_its_output_and_stops_with_its_own_exit() {
    let Some(sshd) = Sshd::start("agent-term", 81).await else {
        return;
    };
    let remote = connect(&sshd).await;
    assert_eq!(remote.address(), sshd.address);
    assert_eq!(remote.exports()["user"].to_string(), "root");
    let mark = marker("term");
    let script = format!(
        "trap 'echo got TERM; echo bye >&2; exit 7' TERM; echo {mark} up 4242; \
         while :; do sleep 0.05; done"
    );
    let starting = Instant::now();
    let process = Process::spawn(
        daemon("polite", &script, &remote).env("GREETING", "hi"),
        sshd.dir.join("term"),
    )
    .await
    .unwrap();
    let captures = process.ready(PATIENCE).await.unwrap();
    eprintln!(
        "figure: start to ready through the agent {:?}",
        starting.elapsed()
    );
    assert_eq!(captures.get("port"), Some("4242"));
    // Its pid is the remote one: the remote host shares this machine, so it can be read here.
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", process.pid())).unwrap();
    assert!(String::from_utf8_lossy(&cmdline).contains(&mark));
    assert!(process.cgroup().unwrap_err().contains("SSH host `remote`"));

    process.pause().await.unwrap();
    assert_eq!(process.state(), ProcessState::Paused);
    process.resume().await.unwrap();

    let exit = process.stop(PATIENCE).await.unwrap();
    assert_eq!(
        exit,
        Exit::ExitedOnStop(7),
        "its own exit after its TERM handler"
    );
    let stdout = std::fs::read_to_string(process.log_file(Stream::Stdout)).unwrap();
    assert_eq!(stdout, format!("{mark} up 4242\ngot TERM\n"));
    // (The shell may say first that its `sleep` was terminated.)
    let stderr = std::fs::read_to_string(process.log_file(Stream::Stderr)).unwrap();
    assert!(stderr.ends_with("bye\n"), "{stderr:?}");
    assert!(process.tail().to_string().contains("got TERM"));
    sshd.assert_nothing_left_with(&mark, PATIENCE).await;
    drop(remote);
    sshd.stop().await;
}

#[tokio::test]
async fn an_app_through_the_agent_starts_exports_what_it_printed_and_stops() {
    let Some(sshd) = Sshd::start("agent-app", 82).await else {
        return;
    };
    let remote = connect(&sshd).await;
    let mark = marker("app");
    let script = format!("echo \"{mark} serving on port 4343\"; sleep 1000");
    let app = resource_on(
        DriverSpec::new(
            App::new("remote-app", "sh")
                .args(["-c", script.as_str()])
                .ready_on(Stream::Stdout, r"serving on port (?P<port>\d+)"),
        ),
        remote.clone(),
    );
    app.start().await.unwrap();
    assert_eq!(app.status(), Status::Started);
    assert_eq!(app.report().exports["port"].to_string(), "4343");
    assert!(!local_processes_with(&mark).is_empty(), "it runs there");
    app.stop().await.unwrap();
    assert_eq!(app.status(), Status::Stopped);
    sshd.assert_nothing_left_with(&mark, PATIENCE).await;
    drop(remote);
    sshd.stop().await;
}

#[tokio::test]
async fn a_program_ignoring_term_and_its_child_are_killed_after_the_stop_timeout() {
    let Some(sshd) = Sshd::start("agent-stubborn", 83).await else {
        return;
    };
    let remote = connect(&sshd).await;
    let mark = marker("stubborn");
    let script =
        format!("trap '' TERM; sleep 1000 & echo {mark} up 1; while :; do sleep 0.05; done");
    let process = Process::spawn(
        daemon("stubborn", &script, &remote),
        sshd.dir.join("stubborn"),
    )
    .await
    .unwrap();
    process.ready(PATIENCE).await.unwrap();
    let stop_timeout = Duration::from_millis(500);
    let started = Instant::now();
    let exit = process.stop(stop_timeout).await.unwrap();
    assert!(
        started.elapsed() >= stop_timeout,
        "TERM was ignored, so stop waited"
    );
    assert_eq!(exit, Exit::Killed);
    sshd.assert_nothing_left_with(&mark, PATIENCE).await;
    drop(remote);
    sshd.stop().await;
}

#[tokio::test]
async fn a_killed_connection_fails_the_app_with_the_reason_and_leaves_nothing_remote() {
    let Some(sshd) = Sshd::start("agent-cut", 84).await else {
        return;
    };
    let remote = connect(&sshd).await;
    let mark = marker("cut");
    let script = format!("trap '' TERM HUP; echo {mark} up; sleep 1000");
    let app = resource_on(
        DriverSpec::new(
            App::new("cut-app", "sh")
                .args(["-c", script.as_str()])
                .ready_on(Stream::Stdout, " up$"),
        ),
        remote.clone(),
    );
    app.start().await.unwrap();
    // A second program, not a driver: it fails too.
    let other = Process::spawn(
        daemon("other", &format!("echo {mark} up 2; sleep 1000"), &remote),
        sshd.dir.join("cut"),
    )
    .await
    .unwrap();
    other.ready(PATIENCE).await.unwrap();

    // Kill the sshd's session processes (its children): the connection is gone.
    let killed = std::process::Command::new("pkill")
        .args(["-KILL", "-P", &sshd.process.pid().to_string()])
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
    assert_eq!(other.wait(PATIENCE).await.unwrap(), Exit::Code(255));
    assert!(other.tail().to_string().contains("agent's channel ended"));
    // A program started after the loss fails at once, with the reason.
    let late = Process::spawn(
        Command::new("true").host(remote.clone()),
        sshd.dir.join("cut"),
    )
    .await
    .unwrap_err();
    assert!(says_the_connection_ended(&late.to_string()), "{late}");
    sshd.assert_nothing_left_with(&mark, PATIENCE).await;
    let _ = app.stop().await;
    drop(remote);
    sshd.stop().await;
}

#[tokio::test]
async fn a_missing_program_is_an_error_naming_the_host_and_the_program() {
    let Some(sshd) = Sshd::start("agent-missing", 85).await else {
        return;
    };
    let remote = connect(&sshd).await;
    let error = Process::spawn(
        Command::new("no-such-program-here").host(remote.clone()),
        sshd.dir.join("missing"),
    )
    .await
    .unwrap_err();
    let message = error.to_string();
    eprintln!("{message}");
    assert!(
        matches!(&error, ProcessError::RemoteSpawn { host, .. } if host == "remote"),
        "{error:?}"
    );
    assert!(
        message.starts_with(
            "process `no-such-program-here`: cannot start `no-such-program-here` on host \
             `remote`: program not found there"
        ),
        "{message}"
    );
    // A missing working directory there is named too.
    let error = Process::spawn(
        Command::new("true")
            .cwd("/no/such/dir")
            .host(remote.clone()),
        sshd.dir.join("missing"),
    )
    .await
    .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("/no/such/dir is not a directory"),
        "{error}"
    );
    drop(remote);
    sshd.stop().await;
}

#[tokio::test]
async fn twenty_programs_run_at_once_through_one_agent() {
    let Some(sshd) = Sshd::start("agent-many", 86).await else {
        return;
    };
    let remote = connect(&sshd).await;
    let mark = marker("many");
    let runpath = sshd.dir.join("many");
    let mut spawning = tokio::task::JoinSet::new();
    for index in 0..20 {
        let script = format!(
            "echo {mark} up {index}; i=0; while [ $i -lt 50 ]; do echo line $i; i=$((i+1)); done; \
             read -r never </dev/null; exit {index}"
        );
        let command = Command::new("sh")
            .args(["-c", script.as_str()])
            .name(format!("many-{index}"))
            .ready_when(Pattern::stdout(r" up (?P<port>\d+)$").unwrap())
            .host(remote.clone());
        let runpath = runpath.clone();
        spawning.spawn(async move { (index, Process::spawn(command, runpath).await.unwrap()) });
    }
    let mut pids = std::collections::BTreeSet::new();
    while let Some(joined) = spawning.join_next().await {
        let (index, process) = joined.unwrap();
        let captures = process.ready(PATIENCE).await.unwrap();
        assert_eq!(captures.get("port"), Some(index.to_string().as_str()));
        assert_eq!(process.wait(PATIENCE).await.unwrap(), Exit::Code(index));
        let stdout = std::fs::read_to_string(process.log_file(Stream::Stdout)).unwrap();
        assert_eq!(stdout.lines().count(), 51, "every line of many-{index}");
        assert!(stdout.ends_with("line 49\n"));
        pids.insert(process.pid());
    }
    assert_eq!(pids.len(), 20);
    sshd.assert_nothing_left_with(&mark, PATIENCE).await;
    drop(remote);
    sshd.stop().await;
}

#[tokio::test]
async fn a_killed_test_runner_leaves_nothing_remote() {
    let Some(sshd) = Sshd::start("agent-runner", 87).await else {
        return;
    };
    let mark = marker("runner");
    // The runner runs on host `client`, where connections to the sshd are made from.
    let runner = AGENT
        .command("runner")
        .env("RUNNER_MARK", &mark)
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
async fn an_agent_that_cannot_start_fails_the_spawns_saying_why() {
    let Some(sshd) = Sshd::start("agent-broken", 88).await else {
        return;
    };
    // An agent program that is no agent: it exits at once, saying nothing of the protocol.
    let broken = SshAgent::Program {
        program: "/bin/false".into(),
        args: Vec::new(),
        env: Vec::new(),
    };
    let remote = sshd.host().agent(broken).connect().await.unwrap();
    let error = Process::spawn(
        Command::new("true").name("victim").host(remote.clone()),
        sshd.dir.join("broken"),
    )
    .await
    .unwrap_err();
    let message = error.to_string();
    eprintln!("{message}");
    assert!(
        message.starts_with("process `victim`: cannot start `true` on host `remote`:")
            && message.contains("the agent /bin/false did not start"),
        "{message}"
    );
    drop(remote);
    sshd.stop().await;
}

#[tokio::test]
async fn a_dropped_process_is_killed_there_through_the_agent() {
    let Some(sshd) = Sshd::start("agent-drop", 89).await else {
        return;
    };
    let remote = connect(&sshd).await;
    let mark = marker("drop");
    let script =
        format!("trap '' TERM; sleep 1000 & echo {mark} up 1; while :; do sleep 0.05; done");
    let process = Process::spawn(daemon("dropped", &script, &remote), sshd.dir.join("drop"))
        .await
        .unwrap();
    process.ready(PATIENCE).await.unwrap();
    assert!(!local_processes_with(&mark).is_empty());
    // The last handle goes: the backstop asks the agent for SIGKILL, synchronously.
    drop(process);
    sshd.assert_nothing_left_with(&mark, PATIENCE).await;
    // The host and its agent still serve.
    let again = Process::spawn(
        Command::new("true").host(remote.clone()),
        sshd.dir.join("drop"),
    )
    .await
    .unwrap();
    assert_eq!(again.wait(PATIENCE).await.unwrap(), Exit::Code(0));
    drop(remote);
    sshd.stop().await;
}

#[tokio::test]
async fn closing_the_host_ends_its_programs_before_it_removes_the_runpath() {
    let Some(sshd) = Sshd::start("agent-close", 90).await else {
        return;
    };
    let remote = connect(&sshd).await;
    let runpath = remote.remote_runpath().expect("an SSH host's").to_owned();
    let mark = marker("close");
    // It ignores TERM and HUP, and keeps writing into the runpath: removed under it, the
    // runpath would come back.
    let script = format!(
        "trap '' TERM HUP; echo {mark} up 1; \
         while :; do mkdir -p \"$PWD/a\" && echo x > \"$PWD/a/f\"; done"
    );
    let process = Process::spawn(daemon("busy", &script, &remote), sshd.dir.join("close"))
        .await
        .unwrap();
    process.ready(PATIENCE).await.unwrap();
    // It runs in `<runpath>/busy`.
    let written = runpath.join("busy").join("a").join("f");
    let deadline = Instant::now() + PATIENCE;
    while !written.exists() {
        assert!(Instant::now() < deadline, "it never wrote {written:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    remote.close(PATIENCE).await.unwrap();
    assert!(
        !runpath.exists(),
        "the runpath is removed, with nothing writing into it any more"
    );
    sshd.assert_nothing_left_with(&mark, PATIENCE).await;
    drop((process, remote));
    sshd.stop().await;
}
