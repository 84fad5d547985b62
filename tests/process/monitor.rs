//! `ProcessMonitor`: the daemon and task rules, `keep_running`, `stop`, restart and the Drop
//! backstop (dummynet `ProcessMonitor` parity).

use std::time::{Duration, Instant};

use testrig::process::{Command, Exit, Kind, Pattern, ProcessError, ProcessStats, Signal, Stream};
use testrig::testing::ProcessIdentity;

use crate::support::Scratch;

const SECOND: Duration = Duration::from_secs(1);

fn daemon() -> Command {
    Command::new("sleep").arg("1000").daemon()
}

#[tokio::test]
async fn a_daemon_that_exits_early_is_an_error_naming_it_with_its_status_and_output() {
    let scratch = Scratch::new("a_daemon_that_exits_early_is_an_error");
    let mut monitor = scratch.monitor();
    let script = "echo 'fatal: no config' >&2; sleep 0.1; exit 3";
    scratch
        .run(&mut monitor, Command::shell(script).name("server").daemon())
        .await;
    scratch
        .run(&mut monitor, Command::new("sleep").arg("1000"))
        .await;
    let started = Instant::now();
    let error = monitor.keep_running(30 * SECOND).await.unwrap_err();
    assert!(
        started.elapsed() < 5 * SECOND,
        "the error waited for the timeout"
    );
    let ProcessError::DaemonExited {
        name, exit, tail, ..
    } = &error
    else {
        panic!("{error:?}");
    };
    assert_eq!((name.as_str(), *exit), ("server", Exit::Code(3)));
    assert!(tail.contains("fatal: no config"));
    let message = error.to_string();
    assert!(message.contains("daemon `server`") && message.contains("exited with code 3"));
    monitor.stop(false, SECOND).await.unwrap();
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn a_daemon_that_exits_with_code_zero_is_still_an_error() {
    let scratch = Scratch::new("a_daemon_that_exits_with_code_zero_is_still_an_error");
    let mut monitor = scratch.monitor();
    scratch
        .run(&mut monitor, Command::new("true").daemon())
        .await;
    scratch
        .run(&mut monitor, Command::new("sleep").arg("1000"))
        .await;
    let error = monitor.keep_running(30 * SECOND).await.unwrap_err();
    assert!(
        matches!(
            error,
            ProcessError::DaemonExited {
                exit: Exit::Code(0),
                ..
            }
        ),
        "{error:?}"
    );
    monitor.stop(false, SECOND).await.unwrap();
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn keep_running_with_daemons_but_no_task_is_an_error() {
    let scratch = Scratch::new("keep_running_with_daemons_but_no_task_is_an_error");
    let mut monitor = scratch.monitor();
    scratch.run(&mut monitor, daemon().name("db")).await;
    scratch.run(&mut monitor, daemon().name("web")).await;
    let error = monitor.keep_running(30 * SECOND).await.unwrap_err();
    let ProcessError::OnlyDaemons { daemons } = &error else {
        panic!("{error:?}");
    };
    assert_eq!(daemons, &["db", "web"]);
    monitor.stop(true, SECOND).await.unwrap();
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn keep_running_with_nothing_to_watch_is_done() {
    let mut monitor = Scratch::new("keep_running_with_nothing_to_watch_is_done").monitor();
    let still_running = monitor.keep_running(SECOND).await.unwrap();
    assert!(!still_running, "tasks done");
}

#[tokio::test]
async fn a_failing_task_is_an_error_with_its_exit_code_and_output() {
    let scratch = Scratch::new("a_failing_task_is_an_error_with_its_exit_code_and_output");
    let mut monitor = scratch.monitor();
    scratch.run(&mut monitor, daemon()).await;
    let client = Command::shell("echo 'connection refused' >&2; exit 1").name("client");
    scratch.run(&mut monitor, client).await;
    let error = monitor.keep_running(30 * SECOND).await.unwrap_err();
    let ProcessError::TaskFailed {
        name, exit, tail, ..
    } = &error
    else {
        panic!("{error:?}");
    };
    assert_eq!((name.as_str(), *exit), ("client", Exit::Code(1)));
    assert!(tail.contains("connection refused"));
    monitor.stop(false, SECOND).await.unwrap();
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn a_task_that_outlives_its_timeout_is_an_error_when_the_timeout_passes() {
    let scratch = Scratch::new("a_task_that_outlives_its_timeout_is_an_error");
    let mut monitor = scratch.monitor();
    let slow = Command::new("sleep")
        .arg("1000")
        .name("slow")
        .task_timeout(Duration::from_millis(200));
    let slow = scratch.run(&mut monitor, slow).await;
    let started = Instant::now();
    let error = monitor.keep_running(30 * SECOND).await.unwrap_err();
    let elapsed = started.elapsed();
    // The limit runs from the fork, which a loaded machine may take a while to return from.
    let age = slow.stats().run_time;
    assert!(age >= Duration::from_millis(200), "{age:?}");
    assert!(elapsed < 5 * SECOND, "{elapsed:?}");
    assert!(
        matches!(&error, ProcessError::TaskTimedOut { name, timeout, .. }
            if name == "slow" && *timeout == Duration::from_millis(200)),
        "{error:?}"
    );
    // `stop` reports it again, after stopping it.
    let error = monitor.stop(true, SECOND).await.unwrap_err();
    assert!(
        matches!(error, ProcessError::TaskTimedOut { .. }),
        "{error:?}"
    );
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn keep_running_says_still_running_when_its_timeout_passes_first() {
    let scratch = Scratch::new("keep_running_says_still_running_when_its_timeout_passes_first");
    let mut monitor = scratch.monitor();
    scratch.run(&mut monitor, daemon()).await;
    scratch
        .run(&mut monitor, Command::new("sleep").arg("1000"))
        .await;
    let started = Instant::now();
    let still_running = monitor
        .keep_running(Duration::from_millis(200))
        .await
        .unwrap();
    assert!(still_running, "tasks still running");
    assert!(started.elapsed() >= Duration::from_millis(200));
    monitor.stop(true, SECOND).await.unwrap();
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn keep_running_wakes_when_the_last_task_exits_not_at_its_timeout() {
    let scratch = Scratch::new("keep_running_wakes_when_the_last_task_exits");
    let mut monitor = scratch.monitor();
    scratch.run(&mut monitor, daemon()).await;
    scratch
        .run(&mut monitor, Command::new("sleep").arg("0.1"))
        .await;
    let last = scratch
        .run(&mut monitor, Command::new("sleep").arg("0.2"))
        .await;
    let started = Instant::now();
    let still_running = monitor.keep_running(30 * SECOND).await.unwrap();
    assert!(!still_running, "tasks done");
    let elapsed = started.elapsed();
    // Woken by the last task's end (its run time counts from its fork: on a loaded machine the
    // spawn itself may take a good part of the 200 ms), not at the 30 s timeout.
    assert_eq!(last.state().exit(), Some(Exit::Code(0)));
    assert!(
        last.stats().run_time >= Duration::from_millis(200),
        "{:?}",
        last.stats().run_time
    );
    assert!(elapsed < 5 * SECOND, "{elapsed:?}");
    let report = monitor.stop(true, SECOND).await.unwrap();
    assert_eq!(
        exit_of(&report, "sleep"),
        Some(Exit::Terminated(Signal::TERM))
    );
    assert_eq!(exit_of(&report, "sleep-2"), Some(Exit::Code(0)));
    assert_eq!(exit_of(&report, "sleep-3"), Some(Exit::Code(0)));
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn stop_reports_broken_rules_only_after_stopping_everything() {
    let scratch = Scratch::new("stop_reports_broken_rules_only_after_stopping_everything");
    let mut monitor = scratch.monitor();
    let crashed = scratch
        .run(
            &mut monitor,
            Command::shell("exit 3").name("crashed").daemon(),
        )
        .await;
    crashed.exited().await;
    scratch.run(&mut monitor, daemon().name("healthy")).await;
    scratch
        .run(&mut monitor, Command::new("sleep").arg("1000"))
        .await;
    let error = monitor.stop(true, SECOND).await.unwrap_err();
    assert!(
        matches!(&error, ProcessError::DaemonExited { name, .. } if name == "crashed"),
        "{error:?}"
    );
    assert!(monitor.processes().is_empty());
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn stop_reports_every_broken_rule() {
    let scratch = Scratch::new("stop_reports_every_broken_rule");
    let mut monitor = scratch.monitor();
    for name in ["first", "second"] {
        let task = scratch
            .run(&mut monitor, Command::shell("exit 1").name(name))
            .await;
        task.exited().await;
    }
    let error = monitor.stop(true, SECOND).await.unwrap_err();
    let ProcessError::Many { errors } = &error else {
        panic!("{error:?}");
    };
    assert_eq!(errors.len(), 2);
    assert!(error.to_string().contains("`first`") && error.to_string().contains("`second`"));
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn stop_without_validation_reports_how_each_process_ended() {
    let scratch = Scratch::new("stop_without_validation_reports_how_each_process_ended");
    let mut monitor = scratch.monitor();
    let crashed = scratch
        .run(
            &mut monitor,
            Command::shell("exit 3").name("crashed").daemon(),
        )
        .await;
    crashed.exited().await;
    scratch.run(&mut monitor, daemon().name("healthy")).await;
    let report = monitor.stop(false, SECOND).await.unwrap();
    assert_eq!(exit_of(&report, "crashed"), Some(Exit::Code(3)));
    assert_eq!(
        exit_of(&report, "healthy"),
        Some(Exit::Terminated(Signal::TERM))
    );
    assert_eq!(report[1].kind, Kind::Daemon);
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn a_daemon_stopped_through_the_monitor_breaks_no_rule() {
    let scratch = Scratch::new("a_daemon_stopped_through_the_monitor_breaks_no_rule");
    let mut monitor = scratch.monitor();
    let server = scratch.run(&mut monitor, daemon()).await;
    scratch
        .run(&mut monitor, Command::new("sleep").arg("0.1"))
        .await;
    let exit = monitor.stop_process(&server, SECOND).await.unwrap();
    assert_eq!(exit, Exit::Terminated(Signal::TERM));
    let still_running = monitor.keep_running(30 * SECOND).await.unwrap();
    assert!(!still_running, "tasks done");
    monitor.stop(true, SECOND).await.unwrap();
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn restart_spawns_the_same_command_and_keeps_the_previous_logs() {
    let scratch = Scratch::new("restart_spawns_the_same_command_and_keeps_the_previous_logs");
    let mut monitor = scratch.monitor();
    let script = r#"echo "started as $$"; exec sleep 1000"#;
    let server = Command::shell(script)
        .name("server")
        .daemon()
        .ready_when(Pattern::stdout("started").unwrap());
    let first = scratch.run(&mut monitor, server).await;
    first.ready(5 * SECOND).await.unwrap();
    let second = monitor.restart(&first, SECOND).await.unwrap();
    scratch.track(&second);
    second.ready(5 * SECOND).await.unwrap();
    assert_eq!(second.name(), "server");
    assert_ne!(second.pid(), first.pid());
    assert_eq!(first.state().exit(), Some(Exit::Terminated(Signal::TERM)));
    assert_eq!(monitor.processes().len(), 1);
    monitor.stop(true, SECOND).await.unwrap();

    let stdout = second.log_file(Stream::Stdout);
    let read = |path: &std::path::Path| std::fs::read_to_string(path).unwrap();
    assert_eq!(
        read(&stdout.with_file_name("server.stdout.1.log")),
        format!("started as {}\n", first.pid())
    );
    assert_eq!(read(stdout), format!("started as {}\n", second.pid()));
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn default_names_get_a_suffix_and_explicit_duplicates_are_refused() {
    let scratch = Scratch::new("default_names_get_a_suffix_and_explicit_duplicates_are_refused");
    let mut monitor = scratch.monitor();
    let first = scratch.run(&mut monitor, daemon()).await;
    let second = scratch.run(&mut monitor, daemon()).await;
    assert_eq!((first.name(), second.name()), ("sleep", "sleep-2"));
    scratch.run(&mut monitor, daemon().name("db")).await;
    let error = monitor.run(daemon().name("db")).await.unwrap_err();
    assert!(matches!(&error, ProcessError::DuplicateName { name } if name == "db"));
    monitor.stop(true, SECOND).await.unwrap();
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn dropping_the_monitor_kills_what_it_still_holds() {
    let scratch = Scratch::new("dropping_the_monitor_kills_what_it_still_holds");
    let mut monitor = scratch.monitor();
    let server = scratch.run(&mut monitor, daemon()).await;
    let identity = ProcessIdentity::of(server.pid()).unwrap();
    drop(monitor);
    // The handle kept here does not keep the process alive.
    assert_eq!(server.exited().await, Exit::Killed);
    assert!(identity.wait_gone(5 * SECOND).await);
    scratch.assert_nothing_left().await;
}

/// How the process named `name` ended, in what `ProcessMonitor::stop` returned.
fn exit_of(report: &[ProcessStats], name: &str) -> Option<Exit> {
    let stopped = report.iter().find(|process| process.name == name)?;
    stopped.state.exit()
}
