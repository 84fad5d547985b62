//! Stopping, killing, pausing: what each returns, and that whole process groups go.

use std::time::{Duration, Instant};

use testrig::process::{Command, Exit, Pattern, ProcessError, ProcessState, Signal};
use testrig::testing::ProcessIdentity;

use crate::support::{Scratch, pid_after};

const SECOND: Duration = Duration::from_secs(1);

/// A shell that starts `sleep 1000` in the background, prints `child <pid>` and waits for it.
fn shell_with_background_child() -> Command {
    Command::shell(r#"sleep 1000 & echo "child $!"; wait"#)
        .ready_when(Pattern::stdout(r"^child (?P<pid>\d+)$").unwrap())
}

#[tokio::test]
async fn stop_reports_terminated_for_a_process_that_ends_on_sigterm() {
    let scratch = Scratch::new("stop_reports_terminated_for_a_process_that_ends_on_sigterm");
    let sleeper = scratch
        .spawn(Command::new("sleep").arg("1000").daemon())
        .await;
    let started = Instant::now();
    let exit = sleeper.stop(5 * SECOND).await.unwrap();
    assert_eq!(exit, Exit::Terminated(Signal::TERM));
    assert_eq!(exit.status_code(), -15);
    assert!(started.elapsed() < SECOND, "stop waited for its timeout");
    assert_eq!(sleeper.state(), ProcessState::Exited(exit));
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn stop_kills_a_process_that_ignores_sigterm_once_the_timeout_passes() {
    let scratch = Scratch::new("stop_kills_a_process_that_ignores_sigterm");
    let stubborn = scratch
        .spawn(
            Command::shell(r#"trap "" TERM; echo ready; exec sleep 1000"#)
                .ready_when(Pattern::stdout("ready").unwrap()),
        )
        .await;
    stubborn.ready(5 * SECOND).await.unwrap();
    let started = Instant::now();
    let exit = stubborn.stop(Duration::from_millis(300)).await.unwrap();
    assert_eq!(exit, Exit::Killed);
    assert_eq!(exit.status_code(), -9);
    assert!(started.elapsed() >= Duration::from_millis(300));
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn stop_returns_how_a_process_that_already_exited_ended() {
    let scratch = Scratch::new("stop_returns_how_a_process_that_already_exited_ended");
    let task = scratch.spawn(Command::shell("exit 4")).await;
    assert_eq!(task.exited().await, Exit::Code(4));
    let exit = task.stop(SECOND).await.unwrap();
    assert_eq!(exit, Exit::Code(4));
    assert_eq!(exit.status_code(), 4);
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn a_graceful_shutdown_on_the_stop_signal_reports_its_exit_code() {
    let scratch = Scratch::new("a_graceful_shutdown_on_the_stop_signal_reports_its_exit_code");
    let graceful = scratch
        .spawn(
            Command::shell(r#"trap "exit 7" TERM; echo ready; while :; do sleep 0.05; done"#)
                .ready_when(Pattern::stdout("ready").unwrap()),
        )
        .await;
    graceful.ready(5 * SECOND).await.unwrap();
    assert_eq!(
        graceful.stop(5 * SECOND).await.unwrap(),
        Exit::ExitedOnStop(7)
    );
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn the_stop_signal_can_be_chosen() {
    let scratch = Scratch::new("the_stop_signal_can_be_chosen");
    let sleeper = scratch
        .spawn(Command::new("sleep").arg("1000").stop_signal(Signal::INT))
        .await;
    assert_eq!(
        sleeper.stop(5 * SECOND).await.unwrap(),
        Exit::Terminated(Signal::INT)
    );
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn the_stop_signal_works_when_the_test_program_ignores_it() {
    // A program started in the background by a shell (`cargo test &`) ignores SIGINT, and
    // an ignored signal stays ignored across exec: the child must start with the default.
    let scratch = Scratch::new("the_stop_signal_works_when_the_test_program_ignores_it");
    // SAFETY: installs SIG_IGN for SIGINT in this test process and puts the previous
    // disposition back; no handler of ours runs.
    let previous = unsafe { libc::signal(libc::SIGINT, libc::SIG_IGN) };
    let sleeper = scratch
        .spawn(Command::new("sleep").arg("1000").stop_signal(Signal::INT))
        .await;
    // SAFETY: as above.
    unsafe { libc::signal(libc::SIGINT, previous) };
    assert_eq!(
        sleeper.stop(5 * SECOND).await.unwrap(),
        Exit::Terminated(Signal::INT)
    );
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn stopping_a_shell_also_stops_its_background_grandchild() {
    let scratch = Scratch::new("stopping_a_shell_also_stops_its_background_grandchild");
    let shell = scratch.spawn(shell_with_background_child()).await;
    let grandchild = pid_after("pid", &shell.ready(5 * SECOND).await.unwrap());
    scratch.track_pid(grandchild);
    assert_eq!(
        shell.stop(5 * SECOND).await.unwrap(),
        Exit::Terminated(Signal::TERM)
    );
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn a_program_that_ends_takes_what_it_left_running_in_its_group_along() {
    let scratch = Scratch::new("a_program_that_ends_takes_what_it_left_running_in_its_group");
    let task = scratch
        .spawn(
            Command::shell(r#"sleep 1000 & echo "child $!""#)
                .ready_when(Pattern::stdout(r"^child (?P<pid>\d+)$").unwrap()),
        )
        .await;
    let grandchild = pid_after("pid", &task.ready(5 * SECOND).await.unwrap());
    scratch.track_pid(grandchild);
    assert_eq!(task.exited().await, Exit::Code(0));
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn kill_is_synchronous_and_takes_the_whole_group() {
    let scratch = Scratch::new("kill_is_synchronous_and_takes_the_whole_group");
    let shell = scratch.spawn(shell_with_background_child()).await;
    let grandchild = pid_after("pid", &shell.ready(5 * SECOND).await.unwrap());
    scratch.track_pid(grandchild);
    shell.kill().unwrap();
    assert_eq!(shell.exited().await, Exit::Killed);
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn pause_freezes_the_whole_group_and_resume_lets_it_continue() {
    let scratch = Scratch::new("pause_freezes_the_whole_group_and_resume_lets_it_continue");
    let shell = scratch.spawn(shell_with_background_child()).await;
    let grandchild = pid_after("pid", &shell.ready(5 * SECOND).await.unwrap());
    scratch.track_pid(grandchild);
    let leader = ProcessIdentity::of(shell.pid()).unwrap();
    let grandchild = ProcessIdentity::of(grandchild).expect("the grandchild runs");

    shell.pause().await.unwrap();
    assert_eq!(shell.state(), ProcessState::Paused);
    assert!(
        leader.wait_stopped(5 * SECOND).await,
        "the shell is not stopped"
    );
    assert!(
        grandchild.wait_stopped(5 * SECOND).await,
        "the grandchild is not stopped"
    );

    shell.resume().await.unwrap();
    assert_eq!(shell.state(), ProcessState::Running);
    assert!(
        leader.wait_continued(5 * SECOND).await,
        "the shell did not continue"
    );
    assert!(
        grandchild.wait_continued(5 * SECOND).await,
        "the grandchild did not continue"
    );

    shell.stop(5 * SECOND).await.unwrap();
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn a_paused_process_is_woken_up_to_be_stopped() {
    let scratch = Scratch::new("a_paused_process_is_woken_up_to_be_stopped");
    let sleeper = scratch.spawn(Command::new("sleep").arg("1000")).await;
    let identity = ProcessIdentity::of(sleeper.pid()).unwrap();
    sleeper.pause().await.unwrap();
    assert!(identity.wait_stopped(5 * SECOND).await);
    let started = Instant::now();
    assert_eq!(
        sleeper.stop(5 * SECOND).await.unwrap(),
        Exit::Terminated(Signal::TERM)
    );
    assert!(
        started.elapsed() < SECOND,
        "the stop waited for its timeout"
    );
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn pausing_a_process_that_ended_is_an_error_saying_how_it_ended() {
    let scratch = Scratch::new("pausing_a_process_that_ended_is_an_error");
    let task = scratch.spawn(Command::shell("exit 3").name("quick")).await;
    task.exited().await;
    let error = task.pause().await.unwrap_err();
    assert!(
        matches!(
            error,
            ProcessError::NotRunning {
                exit: Exit::Code(3),
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("`quick`"), "{error}");
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn dropping_the_last_handle_kills_the_process_group() {
    let scratch = Scratch::new("dropping_the_last_handle_kills_the_process_group");
    let shell = scratch.spawn(shell_with_background_child()).await;
    let grandchild = pid_after("pid", &shell.ready(5 * SECOND).await.unwrap());
    scratch.track_pid(grandchild);
    let leader = ProcessIdentity::of(shell.pid()).unwrap();
    let copy = shell.clone();
    drop(shell);
    assert!(leader.is_alive(), "a clone still holds the process");
    drop(copy);
    assert!(leader.wait_gone(5 * SECOND).await);
    scratch.assert_nothing_left().await;
}
