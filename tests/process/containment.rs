//! Containment: with a cgroup of its own a program takes everything it started along, even a
//! descendant that left its process group; without one, such a descendant is named.

use std::time::{Duration, Instant};

use testrig::process::{Command, Exit, Pattern, Process, ProcessState, Signal};
use testrig::testing::ProcessIdentity;

use crate::support::{Scratch, helper, in_cgroup_or_skip, pid_after, wait_for_command};

const SECOND: Duration = Duration::from_secs(1);

/// A shell that starts `sleep 1000` in a session of its own (`setsid`: out of the shell's process
/// group), prints `escaped <pid>` and waits for it.
fn shell_with_escaping_child() -> Command {
    Command::shell(r#"setsid sleep 1000 & echo "escaped $!"; wait"#)
        .name("escaper")
        .daemon()
        .ready_when(Pattern::stdout(r"^escaped (?P<pid>\d+)$").unwrap())
}

#[tokio::test]
async fn in_a_cgroup_a_descendant_that_left_the_process_group_dies_with_the_program() {
    let test = "in_a_cgroup_a_descendant_that_left_the_process_group_dies_with_the_program";
    let scratch = Scratch::new(test);
    let shell = scratch.spawn(shell_with_escaping_child()).await;
    let escapee = pid_after("pid", &shell.ready(5 * SECOND).await.unwrap());
    scratch.track_pid(escapee);
    if !in_cgroup_or_skip(test, &shell) {
        shell.stop(5 * SECOND).await.unwrap();
        let _ = nix_kill(escapee);
        return scratch.assert_nothing_left().await;
    }
    let cgroup = shell.cgroup().unwrap().to_path_buf();
    assert!(cgroup.is_dir());
    // `sleep` runs once `setsid` has moved it out of the group.
    assert!(
        wait_for_command(escapee, "sleep 1000").await,
        "setsid did not run"
    );
    let escapee_identity = ProcessIdentity::of(escapee).expect("the escapee runs");

    assert_eq!(
        shell.stop(5 * SECOND).await.unwrap(),
        Exit::Terminated(Signal::TERM)
    );
    assert!(
        escapee_identity.wait_gone(5 * SECOND).await,
        "the descendant that left the group (pid {escapee}) survived the stop"
    );
    assert_eq!(shell.stats().survivors, []);
    assert!(!cgroup.exists(), "the cgroup {cgroup:?} was not removed");
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn in_a_cgroup_kill_takes_a_descendant_that_left_the_process_group() {
    let test = "in_a_cgroup_kill_takes_a_descendant_that_left_the_process_group";
    let scratch = Scratch::new(test);
    let shell = scratch.spawn(shell_with_escaping_child()).await;
    let escapee = pid_after("pid", &shell.ready(5 * SECOND).await.unwrap());
    scratch.track_pid(escapee);
    if !in_cgroup_or_skip(test, &shell) {
        shell.stop(5 * SECOND).await.unwrap();
        let _ = nix_kill(escapee);
        return scratch.assert_nothing_left().await;
    }
    // `sleep` runs once `setsid` has moved it out of the group.
    assert!(
        wait_for_command(escapee, "sleep 1000").await,
        "setsid did not run"
    );
    shell.kill().unwrap();
    assert_eq!(shell.exited().await, Exit::Killed);
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn without_a_cgroup_a_descendant_that_left_the_process_group_is_named_as_a_survivor() {
    let scratch = Scratch::new("without_a_cgroup_a_descendant_is_named_as_a_survivor");
    let mut monitor = scratch.monitor();
    let shell = scratch
        .run(&mut monitor, shell_with_escaping_child().cgroup(false))
        .await;
    let escapee = pid_after("pid", &shell.ready(5 * SECOND).await.unwrap());
    scratch.track_pid(escapee);
    assert!(shell.cgroup().is_err());
    // `sleep` runs once `setsid` has moved it out of the group.
    assert!(
        wait_for_command(escapee, "sleep 1000").await,
        "setsid did not run"
    );

    let report = monitor.stop(true, 5 * SECOND).await.unwrap();
    let stopped = &report[0];
    assert_eq!(
        stopped.state,
        ProcessState::Exited(Exit::Terminated(Signal::TERM))
    );
    assert_eq!(stopped.cpu_time, None);
    let survivor = stopped
        .survivors
        .iter()
        .find(|survivor| survivor.pid == escapee)
        .unwrap_or_else(|| panic!("pid {escapee} not among {:?}", stopped.survivors));
    assert_eq!(survivor.command, "sleep 1000");
    assert_eq!(
        survivor.to_string(),
        format!("pid {escapee} (`sleep 1000`)")
    );
    assert_eq!(shell.stats().survivors, stopped.survivors);

    // testrig no longer holds it: the test ends it itself.
    let escapee = ProcessIdentity::of(escapee).expect("the survivor is alive");
    nix_kill(escapee.pid()).unwrap();
    assert!(escapee.wait_gone(5 * SECOND).await);
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn in_a_cgroup_pause_freezes_a_busy_program_so_its_cpu_time_stands_still_until_resumed() {
    let test = "in_a_cgroup_pause_freezes_a_busy_program";
    let scratch = Scratch::new(test);
    let busy = scratch
        .spawn(
            Command::shell("echo ready; while :; do :; done")
                .name("busy")
                .ready_when(Pattern::stdout("^ready$").unwrap()),
        )
        .await;
    busy.ready(5 * SECOND).await.unwrap();
    if !in_cgroup_or_skip(test, &busy) {
        busy.stop(5 * SECOND).await.unwrap();
        return scratch.assert_nothing_left().await;
    }
    let identity = ProcessIdentity::of(busy.pid()).unwrap();
    assert!(
        cpu_time_passes(&busy, Duration::ZERO).await,
        "the loop never ran"
    );

    busy.pause().await.unwrap();
    assert!(identity.is_stopped(), "pause resolved before the freeze");
    let frozen_at = busy.stats().cpu_time.unwrap();
    // A window to measure in, not a wait for an event: a frozen cgroup gets no CPU at all.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        busy.stats().cpu_time.unwrap(),
        frozen_at,
        "CPU time advanced while frozen"
    );

    busy.resume().await.unwrap();
    assert!(!identity.is_stopped(), "resume resolved before the thaw");
    assert!(
        cpu_time_passes(&busy, frozen_at).await,
        "CPU time did not advance after resume"
    );
    // Frozen again, a stop still ends it with the stop signal.
    busy.pause().await.unwrap();
    assert_eq!(
        busy.stop(5 * SECOND).await.unwrap(),
        Exit::Terminated(Signal::TERM)
    );
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn without_a_cgroup_pause_stops_the_process_group_with_sigstop() {
    let scratch = Scratch::new("without_a_cgroup_pause_stops_the_process_group_with_sigstop");
    let sleeper = scratch
        .spawn(Command::new("sleep").arg("1000").cgroup(false))
        .await;
    let identity = ProcessIdentity::of(sleeper.pid()).unwrap();
    sleeper.pause().await.unwrap();
    assert!(identity.wait_stopped(5 * SECOND).await);
    assert_eq!(proc_state(sleeper.pid()), Some('T'));
    sleeper.resume().await.unwrap();
    assert!(identity.wait_continued(5 * SECOND).await);
    sleeper.stop(5 * SECOND).await.unwrap();
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn in_a_cgroup_the_cpu_time_of_every_descendant_is_recorded() {
    let test = "in_a_cgroup_the_cpu_time_of_every_descendant_is_recorded";
    let scratch = Scratch::new(test);
    let mut monitor = scratch.monitor();
    // The work is done by a child of the shell: the shell itself uses next to no CPU.
    let burner = scratch
        .run(
            &mut monitor,
            Command::shell("( i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done ) & wait")
                .name("burner"),
        )
        .await;
    if !in_cgroup_or_skip(test, &burner) {
        monitor.stop(false, 30 * SECOND).await.unwrap();
        return scratch.assert_nothing_left().await;
    }
    assert_eq!(burner.wait(60 * SECOND).await.unwrap(), Exit::Code(0));
    let cpu_time = burner.stats().cpu_time.expect("a cgroup measures CPU time");
    // 200 000 shell iterations take about 0.3 s of CPU; the count does not depend on load.
    assert!(cpu_time >= Duration::from_millis(50), "{cpu_time:?}");
    assert!(
        cpu_time <= burner.stats().run_time * 2,
        "{cpu_time:?} over {:?}",
        burner.stats().run_time
    );
    let report = monitor.stop(true, 5 * SECOND).await.unwrap();
    assert_eq!(report[0].cpu_time, Some(cpu_time));
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn a_program_killed_with_sigkill_takes_its_cgroups_along_setsid_descendants_included() {
    let test = "a_program_killed_with_sigkill_takes_its_cgroups_along";
    let scratch = Scratch::new(test);
    // The helper is held by its process group only: its guardian, not a cgroup of this test,
    // must end what it started.
    let parent = scratch
        .spawn(
            helper::escaper_parent(&scratch.runpath().join("parent")).ready_when(
                Pattern::stdout(r"^escapee (?P<escapee>\d+) session (?P<session>\S+)$").unwrap(),
            ),
        )
        .await;
    let captures = parent.ready(10 * SECOND).await.unwrap();
    let escapee = pid_after("escapee", &captures);
    scratch.track_pid(escapee);
    let session = std::path::PathBuf::from(captures.get("session").unwrap());
    if session.as_os_str() == "none" {
        assert!(
            std::env::var_os("CI").is_none(),
            "{test}: cgroup v2 is required on CI"
        );
        println!("skip: {test}: cgroup v2 is not writable here");
        parent.kill().unwrap();
        parent.exited().await;
        nix_kill(escapee).unwrap();
        return scratch.assert_nothing_left().await;
    }
    assert!(session.is_dir());
    let escapee_identity = ProcessIdentity::of(escapee).expect("the escapee runs");

    parent.kill().unwrap();
    assert_eq!(parent.exited().await, Exit::Killed);
    assert!(
        escapee_identity.wait_gone(5 * SECOND).await,
        "the descendant that left its group (pid {escapee}) outlived the SIGKILLed program"
    );
    let give_up = Instant::now() + 10 * SECOND;
    while session.exists() && Instant::now() < give_up {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        !session.exists(),
        "the guardian left the session cgroup {session:?}"
    );
    scratch.assert_nothing_left().await;
}

/// Waits (5 s at most) until the CPU time of `process` passes `mark`; whether it did.
async fn cpu_time_passes(process: &Process, mark: Duration) -> bool {
    let give_up = Instant::now() + 5 * SECOND;
    while process.stats().cpu_time.is_none_or(|used| used <= mark) {
        if Instant::now() >= give_up {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    true
}

fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 1..]
        .split_whitespace()
        .next()?
        .chars()
        .next()
}

/// Sends `SIGKILL` to `pid`.
fn nix_kill(pid: u32) -> std::io::Result<()> {
    let pid = libc::pid_t::try_from(pid).expect("a pid fits in pid_t");
    // SAFETY: kill only reads its two integer arguments.
    match unsafe { libc::kill(pid, libc::SIGKILL) } {
        0 => Ok(()),
        _ => Err(std::io::Error::last_os_error()),
    }
}
