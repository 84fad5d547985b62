//! Spawning: arguments without a shell, environment, working directory, clear errors, and
//! children that never outlive the program that spawned them.

use std::time::Duration;

use testrig::process::{Command, Exit, Pattern, Process, ProcessError, ProcessState, Signal};
use testrig::testing::ProcessIdentity;

use crate::support::{Scratch, helper, pid_after};

const SECOND: Duration = Duration::from_secs(1);

#[tokio::test]
async fn a_missing_program_is_a_clear_error_naming_it() {
    let scratch = Scratch::new("a_missing_program_is_a_clear_error_naming_it");
    let error = Process::spawn(
        Command::new("no-such-program-testrig").name("ghost"),
        scratch.runpath(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&error, ProcessError::ProgramNotFound { name, .. } if name == "ghost"),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("no-such-program-testrig"),
        "{error}"
    );
}

#[tokio::test]
async fn a_missing_working_directory_is_a_clear_error_naming_it() {
    let scratch = Scratch::new("a_missing_working_directory_is_a_clear_error_naming_it");
    let missing = scratch.runpath().join("missing");
    let error = Process::spawn(Command::new("true").cwd(&missing), scratch.runpath())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ProcessError::WorkingDirectory { cwd, .. } if *cwd == missing),
        "{error:?}"
    );
}

#[tokio::test]
async fn arguments_reach_the_program_verbatim_without_a_shell() {
    let scratch = Scratch::new("arguments_reach_the_program_verbatim_without_a_shell");
    let echo = scratch
        .spawn(
            Command::new("echo")
                .args(["two  spaces", "$HOME", "*", "a;b"])
                .ready_when(Pattern::stdout("(?P<all>.*)").unwrap()),
        )
        .await;
    let captures = echo.ready(5 * SECOND).await.unwrap();
    assert_eq!(captures.get("all"), Some("two  spaces $HOME * a;b"));
    assert_eq!(echo.wait(5 * SECOND).await.unwrap(), Exit::Code(0));
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn a_shell_runs_only_when_asked_for() {
    let scratch = Scratch::new("a_shell_runs_only_when_asked_for");
    let shell = scratch
        .spawn(
            Command::shell("x=expanded; echo $x")
                .ready_when(Pattern::stdout("(?P<out>.+)").unwrap()),
        )
        .await;
    assert_eq!(shell.name(), "sh");
    let captures = shell.ready(5 * SECOND).await.unwrap();
    assert_eq!(captures.get("out"), Some("expanded"));
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn environment_and_working_directory_are_applied() {
    let scratch = Scratch::new("environment_and_working_directory_are_applied");
    let dir = scratch.runpath().join("work");
    std::fs::create_dir_all(&dir).unwrap();
    let shell = scratch
        .spawn(
            Command::shell(r#"echo "$GREETING ${HOME-unset} $(pwd)""#)
                .env("GREETING", "hello")
                .env_remove("HOME")
                .cwd(&dir)
                .ready_when(Pattern::stdout("(?P<out>.+)").unwrap()),
        )
        .await;
    let captures = shell.ready(5 * SECOND).await.unwrap();
    let expected = format!("hello unset {}", dir.canonicalize().unwrap().display());
    assert_eq!(captures.get("out"), Some(expected.as_str()));
    scratch.assert_nothing_left().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_outlives_the_thread_that_spawned_it() {
    // The parent-death signal fires when the *thread* that forked the child exits. Spawning from
    // a thread that then ends must not kill the child: testrig forks from a thread of its own.
    let scratch = Scratch::new("a_daemon_outlives_the_thread_that_spawned_it");
    let runtime = tokio::runtime::Handle::current();
    let runpath = scratch.runpath().to_path_buf();
    let daemon = std::thread::spawn(move || {
        runtime.block_on(Process::spawn(
            Command::new("sleep").arg("1000").daemon(),
            runpath,
        ))
    })
    .join()
    .expect("the spawning thread ends")
    .expect("spawn");
    scratch.track(&daemon);
    // The signal would arrive within microseconds of the thread's end; give it ample time.
    let ended = tokio::time::timeout(Duration::from_millis(300), daemon.exited()).await;
    assert!(
        ended.is_err(),
        "the daemon died with its spawning thread: {ended:?}"
    );
    assert_eq!(daemon.state(), ProcessState::Running);
    assert_eq!(
        daemon.stop(SECOND).await.unwrap(),
        Exit::Terminated(Signal::TERM)
    );
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn a_program_killed_with_sigkill_leaves_no_child_behind() {
    let scratch = Scratch::new("a_program_killed_with_sigkill_leaves_no_child_behind");
    let parent = scratch
        .spawn(
            helper::daemon_parent(&scratch.runpath().join("parent"))
                .ready_when(Pattern::stdout(r"daemon pid (?P<pid>\d+)$").unwrap()),
        )
        .await;
    let captures = parent.ready(10 * SECOND).await.unwrap();
    let daemon_pid = pid_after("pid", &captures);
    let daemon = ProcessIdentity::of(daemon_pid).expect("the daemon runs");
    scratch.track_pid(daemon_pid);

    parent.kill().unwrap();
    assert_eq!(parent.exited().await, Exit::Killed);
    assert!(
        daemon.wait_gone(5 * SECOND).await,
        "the daemon {daemon_pid} outlived its SIGKILLed parent"
    );
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn statistics_report_the_run_time_and_resources_from_proc() {
    let scratch = Scratch::new("statistics_report_the_run_time_and_resources_from_proc");
    let sleeper = scratch.spawn(Command::new("sleep").arg("0.2")).await;
    let running = sleeper.stats();
    assert!(running.rss_bytes.expect("readable while running") > 0);
    assert!(running.user_cpu.is_some() && running.system_cpu.is_some());
    assert_eq!(sleeper.wait(5 * SECOND).await.unwrap(), Exit::Code(0));
    let stats = sleeper.stats();
    assert_eq!(stats.state, ProcessState::Exited(Exit::Code(0)));
    assert!(stats.run_time >= Duration::from_millis(200), "{stats:?}");
    assert!(stats.run_time < 5 * SECOND, "{stats:?}");
    assert_eq!(
        sleeper.stats().run_time,
        stats.run_time,
        "the run time stops at the end"
    );
    assert_eq!(stats.rss_bytes, None);
    assert!(stats.ended_at.is_some());
    scratch.assert_nothing_left().await;
}

/// Runs the helper program that spawns a shell with a background grandchild, ending as `ending`;
/// returns the helper, the grandchild and the helper's guardian (all tracked).
async fn grandchild_parent(scratch: &Scratch, ending: helper::Ending) -> (Process, u32, u32) {
    let parent = scratch
        .spawn(
            helper::grandchild_parent(&scratch.runpath().join("parent"), ending).ready_when(
                Pattern::stdout(r"^grandchild (?P<grandchild>\d+) guardian (?P<guardian>\d+)$")
                    .unwrap(),
            ),
        )
        .await;
    let captures = parent.ready(10 * SECOND).await.unwrap();
    let grandchild = pid_after("grandchild", &captures);
    let guardian = pid_after("guardian", &captures);
    scratch.track_pid(grandchild);
    scratch.track_pid(guardian);
    (parent, grandchild, guardian)
}

#[tokio::test]
async fn a_program_killed_with_sigkill_leaves_no_grandchild_behind() {
    let scratch = Scratch::new("a_program_killed_with_sigkill_leaves_no_grandchild_behind");
    let (parent, grandchild_pid, guardian_pid) =
        grandchild_parent(&scratch, helper::Ending::WaitToBeKilled).await;
    let grandchild = ProcessIdentity::of(grandchild_pid).expect("the grandchild runs");
    let guardian = ProcessIdentity::of(guardian_pid).expect("the guardian runs");

    parent.kill().unwrap();
    assert_eq!(parent.exited().await, Exit::Killed);
    assert!(
        grandchild.wait_gone(5 * SECOND).await,
        "the grandchild {grandchild_pid} outlived its SIGKILLed grandparent"
    );
    assert!(
        guardian.wait_gone(5 * SECOND).await,
        "the guardian {guardian_pid} outlived the program it guards"
    );
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn a_program_that_exits_leaves_neither_grandchild_nor_guardian_behind() {
    let scratch =
        Scratch::new("a_program_that_exits_leaves_neither_grandchild_nor_guardian_behind");
    let (parent, grandchild_pid, guardian_pid) =
        grandchild_parent(&scratch, helper::Ending::ExitAtOnce).await;
    let grandchild = ProcessIdentity::of(grandchild_pid);
    let guardian = ProcessIdentity::of(guardian_pid);

    assert_eq!(parent.exited().await, Exit::Code(0));
    if let Some(grandchild) = grandchild {
        assert!(
            grandchild.wait_gone(5 * SECOND).await,
            "the grandchild {grandchild_pid} outlived its grandparent's exit"
        );
    }
    if let Some(guardian) = guardian {
        assert!(
            guardian.wait_gone(5 * SECOND).await,
            "the guardian {guardian_pid} outlived the program it guards"
        );
    }
    scratch.assert_nothing_left().await;
}
