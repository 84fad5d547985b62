//! Output: captured to files and streamed line by line, intact however large, patterns with
//! named groups and deadlines, the tail in errors, and logs archived on a respawn.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use testrig::process::{Command, Exit, Pattern, ProcessError, Stream};

use crate::support::{Scratch, helper};

const SECOND: Duration = Duration::from_secs(1);

/// Collects every line a process prints, per stream.
#[derive(Clone, Default)]
struct Collected(Arc<Mutex<Vec<(Stream, String)>>>);

impl Collected {
    fn collecting(&self, command: Command) -> Command {
        let lines = self.0.clone();
        command.on_line(move |stream, text| {
            lines.lock().unwrap().push((stream, text.to_owned()));
        })
    }

    fn on(&self, stream: Stream) -> Vec<String> {
        let lines = self.0.lock().unwrap();
        lines
            .iter()
            .filter(|(s, _)| *s == stream)
            .map(|(_, text)| text.clone())
            .collect()
    }
}

fn joined(lines: &[String]) -> String {
    lines.iter().map(|line| format!("{line}\n")).collect()
}

#[tokio::test]
async fn forty_kib_of_output_is_intact_in_the_file_and_in_the_stream() {
    let scratch = Scratch::new("forty_kib_of_output_is_intact_in_the_file_and_in_the_stream");
    let (count, width) = (512, 99); // 512 lines of 100 bytes: 50 KiB, more than 40 KiB
    let collected = Collected::default();
    let program = scratch
        .spawn(collected.collecting(helper::lines_on_stderr(count, width)))
        .await;
    assert_eq!(program.wait(10 * SECOND).await.unwrap(), Exit::Code(0));

    let expected = helper::expected_lines(count, width);
    let file = std::fs::read_to_string(program.log_file(Stream::Stderr)).unwrap();
    assert!(file.len() >= 40 * 1024);
    assert_eq!(file, joined(&expected));
    assert_eq!(collected.on(Stream::Stderr), expected);
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn a_mebibyte_printed_faster_than_it_is_read_is_intact_and_never_blocks_the_program() {
    let scratch = Scratch::new("a_mebibyte_printed_faster_than_it_is_read_is_intact");
    let collected = Collected::default();
    // `seq -w 1 150000`: 150 000 lines of 6 digits, 1 050 000 bytes, in one burst.
    let seq = scratch
        .spawn(collected.collecting(Command::new("seq").args(["-w", "1", "150000"])))
        .await;
    assert_eq!(seq.wait(10 * SECOND).await.unwrap(), Exit::Code(0));

    let expected: Vec<String> = (1..=150_000).map(|i| format!("{i:06}")).collect();
    let file = std::fs::read_to_string(seq.log_file(Stream::Stdout)).unwrap();
    assert!(file.len() > 1024 * 1024);
    assert_eq!(file, joined(&expected));
    assert_eq!(collected.on(Stream::Stdout), expected);
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn every_line_reaches_the_callbacks_in_order_with_its_stream() {
    let scratch = Scratch::new("every_line_reaches_the_callbacks_in_order_with_its_stream");
    let collected = Collected::default();
    let script = "echo out1; echo err1 >&2; printf 'out2\\r\\nno newline'; echo err2 >&2";
    let shell = scratch
        .spawn(collected.collecting(Command::shell(script)))
        .await;
    assert_eq!(shell.wait(5 * SECOND).await.unwrap(), Exit::Code(0));
    assert_eq!(collected.on(Stream::Stdout), ["out1", "out2", "no newline"]);
    assert_eq!(collected.on(Stream::Stderr), ["err1", "err2"]);
    let file = std::fs::read(shell.log_file(Stream::Stdout)).unwrap();
    assert_eq!(
        file, b"out1\nout2\r\nno newline",
        "the file keeps the exact bytes"
    );
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn readiness_extracts_named_groups_from_the_matching_line() {
    let scratch = Scratch::new("readiness_extracts_named_groups_from_the_matching_line");
    let server = scratch
        .spawn(
            Command::shell(
                "echo starting; echo 'listening on 127.0.0.1:4242' >&2; exec sleep 1000",
            )
            .name("server")
            .daemon()
            .ready_when(Pattern::stderr(r"listening on (?P<host>[\d.]+):(?P<port>\d+)").unwrap()),
        )
        .await;
    let captures = server.ready(5 * SECOND).await.unwrap();
    assert_eq!(captures.get("host"), Some("127.0.0.1"));
    assert_eq!(captures.get("port"), Some("4242"));
    assert_eq!(captures.line, "listening on 127.0.0.1:4242");
    // Asking again after the fact resolves at once with the same values.
    assert_eq!(server.ready(Duration::ZERO).await.unwrap(), captures);
    server.stop(SECOND).await.unwrap();
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn readiness_fails_at_its_deadline_naming_the_pattern_and_the_output() {
    let scratch = Scratch::new("readiness_fails_at_its_deadline_naming_the_pattern");
    let server = scratch
        .spawn(
            Command::shell("echo still warming up; exec sleep 1000")
                .name("slow")
                .ready_when(Pattern::stdout("ready").unwrap()),
        )
        .await;
    // Long enough for the shell to have printed its line on a busy machine.
    let started = Instant::now();
    let error = server.ready(Duration::from_millis(500)).await.unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(500));
    let ProcessError::LineTimeout {
        name,
        pattern,
        tail,
        ..
    } = &error
    else {
        panic!("{error:?}");
    };
    assert_eq!(name, "slow");
    assert_eq!(pattern, "`ready` on stdout");
    assert!(tail.contains("still warming up"), "{tail}");
    assert!(error.to_string().contains("still warming up"), "{error}");
    server.stop(SECOND).await.unwrap();
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn a_process_that_exits_before_it_is_ready_fails_at_once_with_its_status() {
    let scratch = Scratch::new("a_process_that_exits_before_it_is_ready_fails_at_once");
    let server = scratch
        .spawn(
            Command::shell("echo 'bind: address in use' >&2; exit 2")
                .name("server")
                .ready_when(Pattern::stdout("listening").unwrap()),
        )
        .await;
    let started = Instant::now();
    let error = server.ready(30 * SECOND).await.unwrap_err();
    assert!(started.elapsed() < 5 * SECOND, "waited for the deadline");
    let ProcessError::ExitedBeforeLine { exit, tail, .. } = &error else {
        panic!("{error:?}");
    };
    assert_eq!(*exit, Exit::Code(2));
    assert!(tail.contains("address in use"), "{tail}");
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn a_ready_line_printed_just_before_the_exit_still_counts() {
    let scratch = Scratch::new("a_ready_line_printed_just_before_the_exit_still_counts");
    let task = scratch
        .spawn(Command::shell("echo ready").ready_when(Pattern::stdout("ready").unwrap()))
        .await;
    task.exited().await;
    assert!(task.ready(SECOND).await.is_ok());
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn wait_for_line_resolves_on_a_line_printed_after_the_call() {
    let scratch = Scratch::new("wait_for_line_resolves_on_a_line_printed_after_the_call");
    let script = "echo tick 1; sleep 0.2; echo tick 2; exec sleep 1000";
    let ticker = scratch.spawn(Command::shell(script)).await;
    let captures = ticker
        .wait_for_line(Pattern::stdout(r"tick (?P<n>2)").unwrap(), 5 * SECOND)
        .await
        .unwrap();
    assert_eq!(captures.get("n"), Some("2"));
    ticker.stop(SECOND).await.unwrap();
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn the_tail_in_errors_holds_only_the_last_lines() {
    let scratch = Scratch::new("the_tail_in_errors_holds_only_the_last_lines");
    let task = scratch
        .spawn(
            Command::shell("for i in 1 2 3 4 5 6; do echo line $i; done; exit 1")
                .tail_lines(3)
                .ready_when(Pattern::stdout("never").unwrap()),
        )
        .await;
    let error = task.ready(5 * SECOND).await.unwrap_err();
    let ProcessError::ExitedBeforeLine { tail, .. } = error else {
        panic!("{error:?}");
    };
    let texts: Vec<&str> = tail.lines().map(|(_, text)| text).collect();
    assert_eq!(texts, ["line 4", "line 5", "line 6"]);
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn spawning_the_same_name_again_archives_the_previous_logs() {
    let scratch = Scratch::new("spawning_the_same_name_again_archives_the_previous_logs");
    for run in 1..=3 {
        let command = Command::shell(format!("echo run {run}; echo err {run} >&2")).name("app");
        let process = scratch.spawn(command).await;
        assert_eq!(process.wait(5 * SECOND).await.unwrap(), Exit::Code(0));
    }
    let read = |name: &str| std::fs::read_to_string(scratch.runpath().join(name)).unwrap();
    assert_eq!(read("app.stdout.log"), "run 3\n");
    assert_eq!(read("app.stdout.1.log"), "run 1\n");
    assert_eq!(read("app.stdout.2.log"), "run 2\n");
    assert_eq!(read("app.stderr.2.log"), "err 2\n");
    scratch.assert_nothing_left().await;
}

#[tokio::test]
async fn a_panicking_callback_does_not_stop_the_output_from_flowing() {
    let scratch = Scratch::new("a_panicking_callback_does_not_stop_the_output_from_flowing");
    let collected = Collected::default();
    let command = Command::shell("seq 1 3000").on_line(|_, text| {
        assert_ne!(text, "10", "this callback panics on purpose on line 10");
    });
    let seq = scratch.spawn(collected.collecting(command)).await;
    assert_eq!(seq.wait(10 * SECOND).await.unwrap(), Exit::Code(0));
    assert_eq!(collected.on(Stream::Stdout).len(), 3000);
    scratch.assert_nothing_left().await;
}
