//! `testrig iperf3` interrupted as `iperf3` 3.12 is: the client on SIGINT, SIGTERM or SIGHUP
//! prints the partial interval and the summary so far (or, with `-J`, the document so far
//! with iperf3's error) and exits 1; the server, when the client terminates a test, prints
//! its summary and `iperf3: the client has terminated`, then listens on. Each case runs the
//! real iperf3 the same way and compares what both print, numbers masked.

use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use crate::support::{Lines, free_port, iperf3_present, send_signal, testrig, wait_with_deadline};

/// How long any one wait of these tests may take.
const STEP: Duration = Duration::from_secs(15);

/// Which program plays a part: the real one or ours.
#[derive(Debug, Clone, Copy)]
enum Program {
    Iperf3,
    Testrig,
}

impl Program {
    /// `iperf3 ARGS...` or `testrig iperf3 ARGS...`, output piped.
    fn spawn(self, args: &[&str]) -> Child {
        let mut command = match self {
            Program::Iperf3 => Command::new("iperf3"),
            Program::Testrig => testrig(&["iperf3"]),
        };
        command
            .args(args)
            // iperf3 buffers a pipe's output until it exits without it.
            .arg("--forceflush")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the program spawns")
    }
}

/// A server on a fresh port with `args`, once it says it listens.
fn server(program: Program, args: &[&str]) -> (Child, Lines, String) {
    let port = free_port().to_string();
    let mut args = args.to_vec();
    args.extend(["-s", "-B", "127.0.0.1", "-p", &port]);
    let mut child = program.spawn(&args);
    let mut lines = Lines::of(&mut child);
    if !args.contains(&"-J") {
        lines.wait_for("Server listening", STEP);
    } else {
        wait_until_listening(&port);
    }
    (child, lines, port)
}

/// A `-J` server prints nothing until its test ends, and a probing connection would be a
/// test to it: its listening socket showing in `/proc/net/tcp` is the event.
fn wait_until_listening(port: &str) {
    let port: u16 = port.parse().expect("a port");
    // 127.0.0.1 as the kernel prints it, and the LISTEN state (0A).
    let local = format!("0100007F:{port:04X}");
    let deadline = std::time::Instant::now() + STEP;
    loop {
        let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
        let listening = table.lines().any(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            fields.get(1) == Some(&local.as_str()) && fields.get(3) == Some(&"0A")
        });
        if listening {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "nothing listens on 127.0.0.1:{port} within {STEP:?}"
        );
        // A poll of the kernel's table, which has no event to wait on.
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A 10 s client test of the server at `port`, intervals every 0.2 s, plus `args`.
fn client(program: Program, port: &str, args: &[&str]) -> Child {
    let mut all = vec!["-c", "127.0.0.1", "-p", port, "-t", "10", "-i", "0.2"];
    all.extend(args);
    program.spawn(&all)
}

/// What an interrupted program printed, and how it ended.
struct Interrupted {
    stdout: Vec<String>,
    stderr: String,
    status: ExitStatus,
}

/// Sends `signal` to `child` now and collects what it prints until it exits.
fn interrupt(mut child: Child, mut lines: Lines, signal: i32) -> Interrupted {
    send_signal(child.id(), signal);
    lines.rest(STEP);
    let stdout = std::mem::take(&mut lines.seen);
    let _ = child.stdout.take();
    let (status, stderr) = wait_with_deadline(child, STEP);
    Interrupted {
        stdout,
        stderr,
        status,
    }
}

/// A text client with `args` (and intervals of 1 s) against a real `iperf3 -s -1`,
/// interrupted by `signal` once it printed its first interval, every line of it: a signal
/// that lands while iperf3 prints cuts its output short (or repeats it), so it comes in the
/// quiet second after the block.
fn text_client_interrupted(program: Program, signal: i32, args: &[&str]) -> Interrupted {
    let (server, _server_lines, port) = server(Program::Iperf3, &["-1"]);
    let mut child = client(program, &port, &[args, &["-i", "1"]].concat());
    let mut lines = Lines::of(&mut child);
    let several = args.windows(2).any(|w| w[0] == "-P" && w[1] != "1");
    let last_line_of_the_block = match (args.contains(&"--bidir"), several) {
        (true, true) => "[SUM][RX-C]",
        (true, false) => "][RX-C]",
        (false, true) => "[SUM]",
        (false, false) => " sec ",
    };
    lines.wait_for(last_line_of_the_block, STEP);
    let interrupted = interrupt(child, lines, signal);
    wait_with_deadline(server, STEP);
    interrupted
}

/// The kinds of lines printed, in order: every number masked, units reduced to their kind,
/// spacing collapsed, and each kind (all the intervals are one) counted once.
fn line_kinds(lines: &[String]) -> Vec<String> {
    let kinds: Vec<String> = lines
        .iter()
        .map(|line| {
            let mut masked = String::new();
            let mut in_number = false;
            for c in line.chars() {
                let digit = c.is_ascii_digit() || (in_number && c == '.');
                if digit && !in_number {
                    masked.push('N');
                } else if !digit {
                    masked.push(c);
                }
                in_number = digit;
            }
            let masked = masked.split_whitespace().collect::<Vec<_>>().join(" ");
            ["K", "M", "G", "T"].iter().fold(masked, |text, prefix| {
                text.replace(&format!("{prefix}Bytes"), "Bytes")
                    .replace(&format!("{prefix}bits/sec"), "bits/sec")
            })
        })
        .collect();
    // Each kind once, where it first shows: iperf3 may print its first lines twice when the
    // signal lands while it flushes them (its handler longjmps out of the flush).
    let mut distinct: Vec<String> = Vec::new();
    for kind in kinds {
        if !distinct.contains(&kind) {
            distinct.push(kind);
        }
    }
    distinct
}

/// The JSON document's shape: its keys, in order, down to the values (an array by its first
/// element).
fn shape(value: &serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => map
            .iter()
            .map(|(key, value)| (key.clone(), shape(value)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
        serde_json::Value::Array(items) => items.iter().take(1).map(shape).collect(),
        _ => serde_json::Value::Null,
    }
}

fn document(interrupted: &Interrupted) -> serde_json::Value {
    let text = interrupted.stdout.join("\n");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not a JSON document ({e}):\n{text}"))
}

/// Both printed the same kinds of lines, in the same order, on stdout.
fn assert_prints_as_iperf3(ours: &Interrupted, theirs: &Interrupted) {
    assert_eq!(
        line_kinds(&ours.stdout),
        line_kinds(&theirs.stdout),
        "ours:\n{}\niperf3's:\n{}",
        ours.stdout.join("\n"),
        theirs.stdout.join("\n")
    );
}

/// Both said the same on stderr, and ended with the same status, `code`.
fn assert_ends_as_iperf3(ours: &Interrupted, theirs: &Interrupted, code: i32) {
    assert_eq!(ours.stderr, theirs.stderr);
    assert_eq!(ours.status.code(), theirs.status.code());
    assert_eq!(ours.status.code(), Some(code));
}

fn assert_client_interrupted_as_iperf3(signal: i32, args: &[&str]) {
    if !iperf3_present() {
        return;
    }
    let theirs = text_client_interrupted(Program::Iperf3, signal, args);
    let ours = text_client_interrupted(Program::Testrig, signal, args);
    assert_prints_as_iperf3(&ours, &theirs);
    let receiver = ours.stdout.last().expect("a summary");
    assert!(
        receiver.contains(" 0.00 Bytes  0.00 bits/sec") && receiver.ends_with("receiver"),
        "the receiver's count is never exchanged: {receiver}"
    );
    assert_ends_as_iperf3(&ours, &theirs, 1);
    assert_eq!(
        ours.stderr,
        "iperf3: interrupt - the client has terminated\n"
    );
}

#[test]
fn a_client_interrupted_by_sigint_prints_the_partial_interval_and_the_summary_as_iperf3() {
    assert_client_interrupted_as_iperf3(libc::SIGINT, &[]);
}

#[test]
fn a_client_interrupted_by_sighup_prints_the_partial_interval_and_the_summary_as_iperf3() {
    assert_client_interrupted_as_iperf3(libc::SIGHUP, &[]);
}

#[test]
fn an_interrupted_reverse_client_shows_no_retransmits_column_in_its_summary_as_iperf3() {
    if !iperf3_present() {
        return;
    }
    let theirs = text_client_interrupted(Program::Iperf3, libc::SIGINT, &["-R"]);
    let ours = text_client_interrupted(Program::Testrig, libc::SIGINT, &["-R"]);
    // The interval header too: iperf3 only adds "Retr  Cwnd" to it when its first interval
    // prints after the results exchange, which an interrupted test never reaches.
    assert_prints_as_iperf3(&ours, &theirs);
    let sender = ours.stdout.iter().rev().nth(1).expect("a sender line");
    assert!(
        sender.contains(" 0.00 Bytes  0.00 bits/sec") && sender.ends_with("sender"),
        "the server's count is never exchanged: {sender}"
    );
    assert_ends_as_iperf3(&ours, &theirs, 1);
}

#[test]
fn a_client_with_t_0_runs_until_interrupted_then_ends_as_iperf3() {
    assert_client_interrupted_as_iperf3(libc::SIGINT, &["-t", "0"]);
}

#[test]
fn a_reverse_client_with_t_0_prints_the_header_of_a_test_that_never_exchanged_as_iperf3() {
    if !iperf3_present() {
        return;
    }
    let theirs = text_client_interrupted(Program::Iperf3, libc::SIGINT, &["-R", "-t", "0"]);
    let ours = text_client_interrupted(Program::Testrig, libc::SIGINT, &["-R", "-t", "0"]);
    assert_prints_as_iperf3(&ours, &theirs);
    assert_ends_as_iperf3(&ours, &theirs, 1);
}

#[test]
fn an_interrupted_bidirectional_client_prints_both_halves_as_iperf3() {
    if !iperf3_present() {
        return;
    }
    // Its receiving half's sender line has no retransmits: whether the server counts them is
    // only learnt in the results exchange. With -V its own algorithm is the receiving half's.
    for args in [
        &["--bidir"][..],
        &["--bidir", "-P", "2"],
        &["--bidir", "-V"],
    ] {
        // -V's version line names this engine, and each test has its own cookie.
        let run = |program| {
            let mut interrupted = text_client_interrupted(program, libc::SIGINT, args);
            interrupted
                .stdout
                .retain(|l| !l.starts_with("iperf 3") && !l.trim_start().starts_with("Cookie:"));
            interrupted
        };
        let (theirs, ours) = (run(Program::Iperf3), run(Program::Testrig));
        assert_prints_as_iperf3(&ours, &theirs);
        assert_ends_as_iperf3(&ours, &theirs, 1);
    }
    // With -J the same document: its own algorithm is written as the receiver's.
    let theirs = json_client_interrupted(Program::Iperf3, libc::SIGINT, &["--bidir"]);
    let ours = json_client_interrupted(Program::Testrig, libc::SIGINT, &["--bidir"]);
    let (their_doc, our_doc) = (document(&theirs), document(&ours));
    assert_eq!(shape(&our_doc), shape(&their_doc));
    assert_ends_as_iperf3(&ours, &theirs, 1);
}

#[test]
fn an_interrupted_udp_client_shows_the_receiver_heard_no_datagrams_as_iperf3() {
    assert_client_interrupted_as_iperf3(libc::SIGINT, &["-u", "-b", "100M"]);
}

/// A `-J` client with `args` against a real `iperf3 -s -1 -i 0.2`, interrupted by `signal`
/// once the server printed its first interval (the client prints nothing before its end).
fn json_client_interrupted(program: Program, signal: i32, args: &[&str]) -> Interrupted {
    let (server, mut server_lines, port) = server(Program::Iperf3, &["-1", "-i", "0.2"]);
    let mut child = client(program, &port, &[&["-J"], args].concat());
    let lines = Lines::of(&mut child);
    server_lines.wait_for(" sec ", STEP);
    let interrupted = interrupt(child, lines, signal);
    wait_with_deadline(server, STEP);
    interrupted
}

#[test]
fn a_json_client_interrupted_by_sigterm_prints_the_document_so_far_with_iperf3s_error() {
    if !iperf3_present() {
        return;
    }
    let theirs = json_client_interrupted(Program::Iperf3, libc::SIGTERM, &[]);
    let ours = json_client_interrupted(Program::Testrig, libc::SIGTERM, &[]);
    let (their_doc, our_doc) = (document(&theirs), document(&ours));
    assert_eq!(shape(&our_doc), shape(&their_doc));
    assert_eq!(our_doc["error"], "interrupt - the client has terminated");
    assert_eq!(our_doc["error"], their_doc["error"]);
    assert_eq!(our_doc["end"]["sum_received"]["bytes"], 0);
    assert!(our_doc["end"]["sum_sent"]["bytes"].as_u64() > Some(0));
    assert!(
        !our_doc["intervals"]
            .as_array()
            .expect("intervals")
            .is_empty()
    );
    assert_ends_as_iperf3(&ours, &theirs, 1);
}

#[test]
fn a_json_client_with_t_0_announces_a_test_of_0_seconds_and_ends_when_interrupted() {
    if !iperf3_present() {
        return;
    }
    let theirs = json_client_interrupted(Program::Iperf3, libc::SIGINT, &["-t", "0"]);
    let ours = json_client_interrupted(Program::Testrig, libc::SIGINT, &["-t", "0"]);
    let (their_doc, our_doc) = (document(&theirs), document(&ours));
    assert_eq!(shape(&our_doc), shape(&their_doc));
    assert_eq!(
        our_doc["start"]["test_start"],
        their_doc["start"]["test_start"]
    );
    assert_eq!(our_doc["start"]["test_start"]["duration"], 0);
    assert_eq!(our_doc["error"], their_doc["error"]);
    assert!(our_doc["end"]["sum_sent"]["bytes"].as_u64() > Some(0));
    assert_ends_as_iperf3(&ours, &theirs, 1);
}

/// A server (`-i 1`) whose test a real `iperf3 -c` with `client_args` terminates (SIGINT
/// once the server closed its first interval), then itself interrupted once it listens
/// again.
fn server_of_a_terminated_test(program: Program, client_args: &[&str]) -> Interrupted {
    let (server, mut lines, port) = server(program, &[]);
    let mut client = client(Program::Iperf3, &port, client_args);
    let _client_lines = Lines::of(&mut client);
    lines.wait_for(" sec ", STEP);
    send_signal(client.id(), libc::SIGINT);
    let (status, _) = wait_with_deadline(client, STEP);
    assert_eq!(status.code(), Some(1), "iperf3's interrupted client");
    lines.wait_for("(test #2)", STEP);
    lines.wait_for("------", STEP);
    interrupt(server, lines, libc::SIGINT)
}

#[test]
fn the_server_of_a_test_the_client_terminated_prints_its_summary_and_listens_on_as_iperf3() {
    if !iperf3_present() {
        return;
    }
    let theirs = server_of_a_terminated_test(Program::Iperf3, &[]);
    let ours = server_of_a_terminated_test(Program::Testrig, &[]);
    assert_prints_as_iperf3(&ours, &theirs);
    assert!(
        ours.stdout.iter().any(|l| l.ends_with("receiver")),
        "{:?}",
        ours.stdout
    );
    assert_eq!(ours.stderr, theirs.stderr);
    assert_eq!(
        ours.stderr,
        "iperf3: the client has terminated\niperf3: interrupt - the server has terminated\n"
    );
}

#[test]
fn the_server_of_a_t_0_test_runs_it_until_the_client_terminates_it_as_iperf3() {
    if !iperf3_present() {
        return;
    }
    let theirs = server_of_a_terminated_test(Program::Iperf3, &["-t", "0"]);
    let ours = server_of_a_terminated_test(Program::Testrig, &["-t", "0"]);
    assert_prints_as_iperf3(&ours, &theirs);
    assert_eq!(ours.stderr, theirs.stderr);
}

/// A `-J -1` server whose test a real `iperf3 -c` with `client_args` terminates (SIGINT
/// once the client printed its first interval).
fn json_server_of_a_terminated_test(program: Program, client_args: &[&str]) -> Interrupted {
    let (server, mut lines, port) = server(program, &["-J", "-1"]);
    let mut client = client(Program::Iperf3, &port, client_args);
    let mut client_lines = Lines::of(&mut client);
    client_lines.wait_for(" sec ", STEP);
    send_signal(client.id(), libc::SIGINT);
    wait_with_deadline(client, STEP);
    lines.rest(STEP);
    let stdout = std::mem::take(&mut lines.seen);
    let (status, stderr) = wait_with_deadline(server, STEP);
    Interrupted {
        stdout,
        stderr,
        status,
    }
}

#[test]
fn a_udp_server_of_a_terminated_test_counts_the_datagrams_it_received_as_iperf3() {
    if !iperf3_present() {
        return;
    }
    // Text: the receiver line's total is the datagrams counted here (the client's count is
    // never exchanged), not 0.
    let theirs = server_of_a_terminated_test(Program::Iperf3, &["-u"]);
    let ours = server_of_a_terminated_test(Program::Testrig, &["-u"]);
    assert_prints_as_iperf3(&ours, &theirs);
    let received_total = |interrupted: &Interrupted| {
        let line = interrupted
            .stdout
            .iter()
            .find(|l| l.ends_with("receiver"))
            .unwrap_or_else(|| panic!("a receiver line: {:?}", interrupted.stdout));
        let lost_total = line
            .split_whitespace()
            .find(|word| word.contains('/') && !word.contains("sec"))
            .unwrap_or_else(|| panic!("lost/total in {line:?}"));
        let total: u64 = lost_total.split('/').nth(1).unwrap().parse().unwrap();
        total
    };
    assert!(received_total(&theirs) > 0, "iperf3's: {:?}", theirs.stdout);
    assert!(received_total(&ours) > 0, "ours: {:?}", ours.stdout);

    // JSON: every count of packets received is the datagrams that arrived.
    for program in [Program::Iperf3, Program::Testrig] {
        let doc = document(&json_server_of_a_terminated_test(program, &["-u"]));
        let end = &doc["end"];
        let datagrams = end["sum_received"]["bytes"].as_u64().unwrap()
            / doc["start"]["test_start"]["blksize"].as_u64().unwrap();
        assert!(datagrams > 0, "{end}");
        assert_eq!(end["sum_received"]["packets"], datagrams, "{end}");
        assert_eq!(end["sum"]["packets"], datagrams, "{end}");
        assert_eq!(end["streams"][0]["udp"]["packets"], datagrams, "{end}");
        assert_eq!(end["sum_sent"]["packets"], 0, "{end}");
    }
}

#[test]
fn a_one_off_json_server_reports_a_test_the_client_terminated_and_exits_0_as_iperf3() {
    if !iperf3_present() {
        return;
    }
    let theirs = json_server_of_a_terminated_test(Program::Iperf3, &[]);
    let ours = json_server_of_a_terminated_test(Program::Testrig, &[]);
    let (their_doc, our_doc) = (document(&theirs), document(&ours));
    assert_eq!(shape(&our_doc), shape(&their_doc));
    assert_eq!(our_doc["error"], "the client has terminated");
    assert!(our_doc["end"]["sum_received"]["bytes"].as_u64() > Some(0));
    assert_ends_as_iperf3(&ours, &theirs, 0);
}
