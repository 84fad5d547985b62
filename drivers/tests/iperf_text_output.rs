//! The human-readable (non `-J`) output of the `iperf3` example binary against the real
//! iperf3 3.12's, line for line, in both roles.
//!
//! The example runs as a real process: its `-c` against a real `iperf3 -s`, and its
//! `-s -1` serving a real `iperf3 -c`. Numbers, cookies and unit prefixes are masked; two runs of the real iperf3 define the noise that is allowed (a
//! timed test may have one more interval, a block of interval lines may repeat).
//!
//! UDP tests where iperf3 receives are timed (`-t 1`), not counted (`-k`): a receiving
//! iperf3 client waits for every block, so one datagram lost on a busy machine would hang
//! it.

mod iperf_support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use testrig_drivers::iperf::ClientOptions;
use testrig_drivers::iperf::engine::{NativeClient, NativeServer, ServerConfig, ServerProgress};
use tokio::process::Command;

use iperf_support::Iperf3Server;

/// What one iperf3 run may take at most.
const RUN_DEADLINE: Duration = Duration::from_secs(30);

/// The text with what legitimately varies masked: every number (with the spaces that pad
/// it, since its width varies), the cookie, the unit prefixes of adaptive units, and the
/// words in our version line after iperf3's `iperf 3.12`; then blocks of lines repeated
/// back to back (interval lines) folded into one.
fn normalize(text: &str) -> Vec<String> {
    let number = regex::Regex::new(r" *[0-9]+(\.[0-9]+)?(e[+-][0-9]+)?").unwrap();
    let cookie = regex::Regex::new(r"Cookie: [a-z0-9]+").unwrap();
    let bytes_unit = regex::Regex::new(r"[KMGT]?Bytes").unwrap();
    let bits_unit = regex::Regex::new(r"[KMGT]?bits/sec").unwrap();
    let version = regex::Regex::new(r"^(.*iperf 3\.12)( \(testrig [^)]*\))$").unwrap();
    let mut lines: Vec<String> = text
        .lines()
        .map(|line| {
            let line = version.replace(line, "$1");
            let line = cookie.replace_all(&line, "Cookie: C");
            let line = bytes_unit.replace_all(&line, "_Bytes");
            let line = bits_unit.replace_all(&line, "_bits/sec");
            number.replace_all(&line, " N").into_owned()
        })
        .collect();
    fold_repeats(&mut lines);
    lines
}

/// Removes a block of up to 8 lines that repeats the block just before it, until none
/// does.
fn fold_repeats(lines: &mut Vec<String>) {
    loop {
        let mut changed = false;
        for period in 1..=8 {
            let mut i = 0;
            while i + 2 * period <= lines.len() {
                if lines[i..i + period] == lines[i + period..i + 2 * period] {
                    lines.drain(i + period..i + 2 * period);
                    changed = true;
                } else {
                    i += 1;
                }
            }
        }
        if !changed {
            return;
        }
    }
}

/// Asserts ours matches one of the two real runs once normalized, printing all three when
/// it does not.
fn assert_same_layout(case: &str, ours: &str, real: [&str; 2]) {
    let mine = normalize(ours);
    let references = real.map(normalize);
    if references.contains(&mine) {
        return;
    }
    let mut report = format!("{case}: our text differs from iperf3's\n--- ours (normalized):\n");
    for line in &mine {
        report.push_str(&format!("{line}|\n"));
    }
    report.push_str("--- iperf3 (normalized):\n");
    for line in &references[0] {
        report.push_str(&format!("{line}|\n"));
    }
    report.push_str(&format!(
        "--- ours (raw):\n{ours}\n--- iperf3 (raw):\n{}\n",
        real[0]
    ));
    panic!("{report}");
}

/// `<client> -c 127.0.0.1 -p PORT <args>`, which must succeed: what it printed.
async fn client_output(binary: &Path, port: u16, args: &[&str]) -> std::process::Output {
    let output = tokio::time::timeout(
        RUN_DEADLINE,
        Command::new(binary)
            .args(["-c", "127.0.0.1", "-p", &port.to_string()])
            .args(args)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the client finishes in time")
    .expect("the client runs");
    assert!(
        output.status.success(),
        "{} -c {args:?} failed: {}",
        binary.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// `iperf3 -c 127.0.0.1 -p PORT <args>` without `-J`: what it printed on standard output.
async fn real_client_text(binary: &Path, port: u16, args: &[&str]) -> String {
    let output = client_output(binary, port, args).await;
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The client side: two real `iperf3 -c` runs and ours against one real `iperf3 -s`;
/// returns our text.
async fn client_side_matches(binary: &PathBuf, args: &[&str]) -> String {
    let server = Iperf3Server::start(binary).await;
    let first = real_client_text(binary, server.port, args).await;
    server.listening_after(1, RUN_DEADLINE).await;
    let second = real_client_text(binary, server.port, args).await;
    server.listening_after(2, RUN_DEADLINE).await;
    let ours = real_client_text(&iperf_support::example_iperf3(), server.port, args).await;
    assert_same_layout(&format!("client {args:?}"), &ours, [&first, &second]);
    ours
}

/// `<server> -s -1 <server args>` serving one real `iperf3 -c <args>`: what the server
/// printed. The server is the real iperf3 or the example.
async fn server_text(
    server: &Path,
    binary: &PathBuf,
    server_args: &[&str],
    args: &[&str],
) -> String {
    served_texts(server, binary, server_args, args).await.0
}

/// `<server> -s -1 <server args>` serving one real `iperf3 -c <args>`: what the server
/// printed and what the client printed.
async fn served_texts(
    server: &Path,
    binary: &PathBuf,
    server_args: &[&str],
    args: &[&str],
) -> (String, String) {
    for _attempt in 0..5 {
        let port = iperf_support::free_port().to_string();
        let mut server = Command::new(server)
            .args(["-s", "-1", "-B", "127.0.0.1", "-p", &port])
            .args(server_args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("iperf3 -s spawns");
        let mut stdout = server.stdout.take().expect("piped");
        // A refused connection is not a test to a one-off server: the client retries until
        // the server listens, or the server is gone (its port was taken).
        let mut served = None;
        for _try in 0..250 {
            if server.try_wait().ok().flatten().is_some() {
                break;
            }
            let output = tokio::time::timeout(
                RUN_DEADLINE,
                Command::new(binary)
                    .args(["-c", "127.0.0.1", "-p", &port])
                    .args(args)
                    .kill_on_drop(true)
                    .output(),
            )
            .await
            .expect("iperf3 -c finishes in time")
            .expect("iperf3 -c runs");
            if output.status.success() {
                served = Some(String::from_utf8_lossy(&output.stdout).into_owned());
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let Some(client_text) = served else {
            let _ = server.kill().await;
            continue;
        };
        let mut text = String::new();
        tokio::time::timeout(RUN_DEADLINE, async {
            use tokio::io::AsyncReadExt;
            stdout.read_to_string(&mut text).await
        })
        .await
        .expect("the -s -1 server ends after its test")
        .expect("iperf3 -s output reads");
        return (text, client_text);
    }
    panic!("iperf3 -s -1 served no test on any of 5 free ports");
}

/// The server side: what `iperf3 -s` prints for `iperf3 -c <args>`, twice, and ours.
async fn server_side_matches(binary: &PathBuf, verbose: bool, args: &[&str]) {
    let server_args: &[&str] = if verbose { &["-V"] } else { &[] };
    let first = server_text(binary, binary, server_args, args).await;
    let second = server_text(binary, binary, server_args, args).await;
    let example = iperf_support::example_iperf3();
    let ours = server_text(&example, binary, server_args, args).await;
    assert_same_layout(
        &format!("server {server_args:?} for client {args:?}"),
        &ours,
        [&first, &second],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_tcp_bytes() {
    client_side_matches(&iperf3_or_skip!(), &["-n", "20M"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_udp() {
    client_side_matches(&iperf3_or_skip!(), &["-u", "-k", "40", "-b", "200M"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_two_streams() {
    client_side_matches(&iperf3_or_skip!(), &["-n", "20M", "-P", "2"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_reverse() {
    client_side_matches(&iperf3_or_skip!(), &["-n", "20M", "-R"]).await;
}

/// A receiving client learns that the sender counts retransmits in the results exchange:
/// intervals printed while the test runs come under the header without `Retr  Cwnd`, a
/// first interval printed at the end (the test's only one) under the header with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_reverse_with_intervals_printed_while_it_runs() {
    let ours = client_side_matches(&iperf3_or_skip!(), &["-t", "2", "-R"]).await;
    assert!(
        ours.contains("Bitrate\n") && !ours.contains("Retr  Cwnd"),
        "{ours}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_reverse_with_its_only_interval_printed_at_the_end() {
    let binary = iperf3_or_skip!();
    for args in [&["-t", "1", "-R"][..], &["-n", "100M", "-R"]] {
        let ours = client_side_matches(&binary, args).await;
        assert!(ours.contains("Retr  Cwnd"), "{args:?}: {ours}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_bidirectional_two_streams() {
    client_side_matches(&iperf3_or_skip!(), &["-k", "100", "--bidir", "-P", "2"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_bidirectional_verbose_names_each_halfs_algorithm() {
    client_side_matches(&iperf3_or_skip!(), &["-k", "100", "--bidir", "-V"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_blocks_without_intervals() {
    client_side_matches(&iperf3_or_skip!(), &["-k", "100", "-i", "0"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_verbose() {
    client_side_matches(&iperf3_or_skip!(), &["-n", "20M", "-V"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_verbose_udp_reverse_two_streams() {
    client_side_matches(
        &iperf3_or_skip!(),
        &["-u", "-t", "1", "-b", "10M", "-R", "-P", "2", "-V"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_title_timestamps_and_format() {
    let args = ["-n", "20M", "-T", "run 1", "--timestamps=%s ", "-f", "k"];
    let ours = client_side_matches(&iperf3_or_skip!(), &args).await;
    // What the layout comparison masks: the prefix on every line, the fixed unit.
    let prefix = regex::Regex::new(r"^[0-9]{10} run 1:  ").unwrap();
    for line in ours.lines() {
        assert!(prefix.is_match(line), "no timestamp and title: {line:?}");
        if line.contains("/sec") {
            assert!(line.contains(" Kbits/sec"), "not in Kbits/sec: {line:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_omitting_a_second() {
    client_side_matches(&iperf3_or_skip!(), &["-t", "1", "-O", "1"]).await;
}

/// `--get-server-output` with `-f K`: our client's framing of the server's text (the real
/// server's, in its own default unit: `-f` is not sent to it) and its own rates in
/// KBytes/sec.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_server_output_in_kbytes() {
    let args = ["-n", "20M", "--get-server-output", "-f", "K"];
    let ours = client_side_matches(&iperf3_or_skip!(), &args).await;
    let (own, _server) = ours
        .split_once("\nServer output:\n")
        .expect("a server output");
    for line in own.lines().filter(|l| l.contains("/sec")) {
        assert!(line.contains(" KBytes/sec"), "not in KBytes/sec: {line:?}");
    }
}

/// What a real client with `--get-server-output` prints of our server's text, against what
/// it prints of the real server's (both directions, several streams).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_output_sent_to_a_real_client() {
    let binary = iperf3_or_skip!();
    let example = iperf_support::example_iperf3();
    for args in [
        &["-n", "20M", "-P", "2", "--get-server-output"][..],
        &["-n", "20M", "-R", "--get-server-output"][..],
        &["-u", "-t", "1", "-b", "10M", "--get-server-output"][..],
    ] {
        let first = served_texts(&binary, &binary, &[], args).await.1;
        let second = served_texts(&binary, &binary, &[], args).await.1;
        let ours = served_texts(&example, &binary, &[], args).await.1;
        assert_same_layout(
            &format!("real client {args:?}: server output"),
            &ours,
            [&first, &second],
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_tcp_bytes() {
    server_side_matches(&iperf3_or_skip!(), false, &["-n", "20M"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_udp_two_streams() {
    server_side_matches(
        &iperf3_or_skip!(),
        false,
        &["-u", "-k", "40", "-b", "200M", "-P", "2"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_reverse() {
    server_side_matches(&iperf3_or_skip!(), false, &["-n", "20M", "-R"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_bidirectional_two_streams() {
    server_side_matches(
        &iperf3_or_skip!(),
        false,
        &["-k", "100", "--bidir", "-P", "2"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_verbose() {
    server_side_matches(&iperf3_or_skip!(), true, &["-n", "20M", "-P", "2"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_verbose_udp_reverse() {
    server_side_matches(
        &iperf3_or_skip!(),
        true,
        &["-u", "-t", "1", "-b", "10M", "-R"],
    )
    .await;
}

/// A `-V` server's UDP sums: iperf3 prints no `[SUM] (sender statistics not available)`
/// (nor receiver) line for UDP, as it does for TCP.
/// `-M`: a `-V` client and server show the segment size asked for, without `(default)`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_verbose_with_an_mss() {
    client_side_matches(&iperf3_or_skip!(), &["-n", "20M", "-V", "-M", "1000"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_verbose_with_an_mss() {
    server_side_matches(&iperf3_or_skip!(), true, &["-n", "20M", "-M", "1000"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_verbose_udp_sums() {
    let binary = iperf3_or_skip!();
    server_side_matches(&binary, true, &["-u", "-t", "1", "-b", "10M", "-P", "2"]).await;
    server_side_matches(
        &binary,
        true,
        &["-u", "-t", "1", "-b", "5M", "-P", "2", "--bidir"],
    )
    .await;
}

/// A `-V` server's TCP sums, for the other side: `[SUM] (receiver statistics not
/// available)` when it sends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_verbose_tcp_reverse_sums() {
    server_side_matches(&iperf3_or_skip!(), true, &["-n", "20M", "-R", "-P", "2"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_omitting_a_second() {
    server_side_matches(
        &iperf3_or_skip!(),
        false,
        &["-t", "1", "-O", "1", "-P", "2"],
    )
    .await;
}

/// What the example's server prints as a test goes comes from the native server's progress:
/// a test's start is reported while it runs, before the test is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_native_server_reports_a_tests_start_while_it_runs() {
    let (progress, mut events) = tokio::sync::mpsc::unbounded_channel();
    let config = ServerConfig::default().progress(progress);
    let server = NativeServer::bind("127.0.0.1:0".parse().unwrap(), config)
        .await
        .expect("native server binds");
    let port = server.local_addr().port();
    let mut handle = server;
    let options = ClientOptions::new().bytes(20 << 20);
    let client = NativeClient::new("127.0.0.1", port, options).unwrap();
    let (client, served) = tokio::join!(client.run(), handle.next_test(RUN_DEADLINE));
    client.expect("the client's test runs");
    served.expect("a served test");
    let mut started = 0;
    while let Ok(event) = events.try_recv() {
        started += usize::from(matches!(event, ServerProgress::Started { .. }));
    }
    assert_eq!(started, 1, "the test's start was reported while it ran");
    handle.shutdown().await;
}

#[test]
fn repeated_interval_blocks_fold_into_one() {
    let mut lines: Vec<String> = ["h", "a", "b", "-", "a", "b", "-", "s"]
        .map(String::from)
        .to_vec();
    fold_repeats(&mut lines);
    assert_eq!(lines, ["h", "a", "b", "-", "s"]);
}

/// `<client> -c 127.0.0.1 -p PORT <args>`: what it printed on standard error.
async fn client_stderr(binary: &Path, port: u16, args: &[&str]) -> String {
    let output = client_output(binary, port, args).await;
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_udp_block_larger_than_the_control_mss_is_warned_about_on_stderr_as_iperf3_does() {
    let binary = iperf3_or_skip!();
    let server = Iperf3Server::start(&binary).await;
    let example = iperf_support::example_iperf3();
    let mut tests = 0;
    for args in [
        &["-u", "-l", "65507", "-t", "1"][..],
        &["-u", "-l", "65507", "-t", "1", "-J"],
        &["-u", "-l", "1400", "-t", "1"],
    ] {
        let theirs = client_stderr(&binary, server.port, args).await;
        tests += 1;
        server.listening_after(tests, RUN_DEADLINE).await;
        let ours = client_stderr(&example, server.port, args).await;
        tests += 1;
        server.listening_after(tests, RUN_DEADLINE).await;
        assert_eq!(ours, theirs, "{args:?}");
        let warned = args.contains(&"65507");
        assert_eq!(
            ours.starts_with("warning: UDP block size 65507 exceeds TCP MSS "),
            warned,
            "{args:?}: {ours}"
        );
    }
}
