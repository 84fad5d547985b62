//! The native engine's `-J` documents against the real iperf3's, test by test, in both
//! roles: the same key paths with the same JSON types, and the same quantities in them.
//! Two runs of iperf3 itself give the noise to ignore (a rate that happens to be integral
//! prints as an integer). Also `--get-server-output` both ways, and the document of a
//! refused connection.

mod iperf_support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use testrig_drivers::iperf::engine::{NativeClient, NativeServer, ServerConfig};
use testrig_drivers::iperf::{ClientOptions, IperfResult, ServerOutput, iperf3_json_text};
use tokio::process::Command;

/// Key paths iperf3 writes that the native engine does not write yet (none left for the
/// client's documents of these tests). A gap found later goes here until it is closed; the
/// test fails if one listed is written already.
const NOT_YET_WRITTEN: &[&str] = &[];

/// Real-valued figures (by key name) that iperf3 prints as integers when they happen to be
/// integral: a CPU share of exactly 0 in a short test, or a rate of 0 when iperf3's own
/// server lost the end-of-test race (esnet/iperf#382). Any number is right there.
const REAL_VALUED: &[&str] = &[
    // An interval's start: integral only for the first.
    "start",
    "bits_per_second",
    "seconds",
    "end",
    "jitter_ms",
    "lost_percent",
    "host_total",
    "host_user",
    "host_system",
    "remote_total",
    "remote_user",
    "remote_system",
];

/// Every key path of a document with the JSON types seen there (`int` and `float` told
/// apart, as a strict decoder does).
fn paths(value: &Value) -> BTreeMap<String, BTreeSet<&'static str>> {
    fn walk(v: &Value, at: String, out: &mut BTreeMap<String, BTreeSet<&'static str>>) {
        let kind = match v {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Number(n) if n.is_f64() => "float",
            Value::Number(_) => "int",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        out.entry(at.clone()).or_default().insert(kind);
        match v {
            Value::Array(items) => items.iter().for_each(|i| walk(i, format!("{at}[]"), out)),
            Value::Object(map) => map
                .iter()
                .for_each(|(k, i)| walk(i, format!("{at}.{k}"), out)),
            _ => {}
        }
    }
    let mut out = BTreeMap::new();
    walk(value, String::new(), &mut out);
    out
}

/// What differs between iperf3's documents (two runs) and ours, one line per difference.
fn differences(reference: &[Value; 2], ours: &Value) -> Vec<String> {
    let (a, b) = (paths(&reference[0]), paths(&reference[1]));
    let ours = paths(ours);
    let mut theirs: BTreeMap<String, BTreeSet<&str>> = a.clone();
    for (k, v) in &b {
        theirs.entry(k.clone()).or_default().extend(v);
    }
    let mut found = Vec::new();
    for (path, kinds) in &theirs {
        let gap = NOT_YET_WRITTEN.contains(&path.as_str());
        // A path only one of iperf3's runs wrote is timing (an interval record or not).
        let in_both = a.contains_key(path) && b.contains_key(path);
        match ours.get(path) {
            None if gap || !in_both => {}
            None => found.push(format!("missing {path} ({kinds:?})")),
            Some(_) if gap => found.push(format!("{path} is written now: take it off the list")),
            Some(mine) => {
                // Where iperf3 wrote an integer every time, so must we; a float somewhere in
                // its runs means the value is a real number that may happen to be integral.
                let always_int = kinds.len() == 1
                    && kinds.contains("int")
                    && !REAL_VALUED.contains(&path.rsplit('.').next().unwrap_or_default());
                let mismatch = if always_int {
                    mine.len() != 1 || !mine.contains("int")
                } else {
                    !mine.is_subset(&kinds.iter().copied().chain(["int", "float"]).collect())
                        || (!kinds.contains("int") && !kinds.contains("float") && mine != kinds)
                };
                if mismatch {
                    found.push(format!(
                        "{path}: iperf3 writes {kinds:?}, we write {mine:?}"
                    ));
                }
            }
        }
    }
    // A run of iperf3 with no interval at all lost the end-of-test race (esnet/iperf#382: it
    // handled `TEST_END` before reading a short test's data); ours then has more.
    let iperf3_lost_race = reference
        .iter()
        .any(|r| r["intervals"].as_array().is_some_and(Vec::is_empty));
    for path in ours.keys() {
        let raced = iperf3_lost_race && path.starts_with(".intervals[]");
        if !theirs.contains_key(path) && !raced {
            found.push(format!("extra {path}: iperf3 does not write it"));
        }
    }
    found
}

/// One test: iperf3's arguments and the same as a native configuration.
struct Case {
    args: &'static [&'static str],
    config: fn(ClientOptions) -> ClientOptions,
}

const CASES: &[Case] = &[
    Case {
        args: &["-t", "1"],
        config: |c| c.duration(Duration::from_secs(1)),
    },
    Case {
        args: &["-t", "1", "-P", "2"],
        config: |c| c.duration(Duration::from_secs(1)).parallel(2),
    },
    Case {
        args: &["-t", "1", "-R"],
        config: |c| c.duration(Duration::from_secs(1)).reverse(),
    },
    Case {
        args: &["-t", "1", "--bidir"],
        config: |c| c.duration(Duration::from_secs(1)).bidirectional(),
    },
    Case {
        args: &["-n", "1M"],
        config: |c| c.bytes(1 << 20),
    },
    Case {
        args: &["-k", "10", "-P", "2"],
        config: |c| c.blocks(10).parallel(2),
    },
    Case {
        args: &["-t", "1", "-i", "0"],
        config: |c| c.duration(Duration::from_secs(1)).interval(None),
    },
    Case {
        args: &["-u", "-b", "50M", "-t", "1"],
        config: |c| c.udp().bitrate(50_000_000).duration(Duration::from_secs(1)),
    },
    Case {
        args: &["-u", "-b", "50M", "-t", "1", "-R"],
        config: |c| {
            c.udp()
                .bitrate(50_000_000)
                .duration(Duration::from_secs(1))
                .reverse()
        },
    },
    Case {
        args: &["-u", "-b", "50M", "-t", "1", "--bidir"],
        config: |c| {
            c.udp()
                .bitrate(50_000_000)
                .duration(Duration::from_secs(1))
                .bidirectional()
        },
    },
];

/// iperf3's client document; our printer must print it back byte for byte where iperf3
/// writes no key twice (its client writes the socket buffer sizes once per stream).
async fn iperf3_json(binary: &std::path::Path, port: u16, args: &[&str]) -> Value {
    let output = iperf_support::iperf3_client_output(binary, port, args).await;
    let (doc, differs) = parse_printed(&String::from_utf8_lossy(&output.stdout));
    if doc["start"]["connected"].as_array().map(Vec::len) == Some(1) {
        assert_eq!(
            differs, None,
            "{args:?}: iperf3's document prints back differently"
        );
    }
    doc
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clients_json_has_iperf3s_key_paths_and_types() {
    let binary = iperf3_or_skip!();
    let server = iperf_support::Iperf3Server::start(&binary).await;
    let mut tests_done = 0;
    let mut report = Vec::new();
    for case in CASES {
        let mut reference = Vec::new();
        for _ in 0..2 {
            server
                .listening_after(tests_done, Duration::from_secs(10))
                .await;
            reference.push(iperf3_json(&binary, server.port, case.args).await);
            tests_done += 1;
        }
        server
            .listening_after(tests_done, Duration::from_secs(10))
            .await;
        let client = NativeClient::new(
            "127.0.0.1",
            server.port,
            (case.config)(ClientOptions::new()),
        )
        .unwrap();
        let result = client.run().await.unwrap();
        tests_done += 1;
        let ours = result.to_iperf3_json();
        // Same machine, same test: the same facts in `start`. (The cookie is random, and
        // the buffers are each engine's own: the native one enlarges its sockets'.)
        for key in [
            "system_info",
            "tcp_mss_default",
            "target_bitrate",
            "sock_bufsize",
        ] {
            if ours["start"][key] != reference[0]["start"][key] {
                report.push(format!(
                    "{:?}: start.{key}: iperf3 {}, ours {}",
                    case.args, reference[0]["start"][key], ours["start"][key]
                ));
            }
        }
        let cookie = ours["start"]["cookie"].as_str().unwrap_or_default();
        assert_eq!(cookie.len(), 36, "{cookie:?}");
        let reference: [Value; 2] = reference.try_into().unwrap();
        for difference in differences(&reference, &ours) {
            report.push(format!("{:?}: {difference}", case.args));
        }
    }
    assert!(report.is_empty(), "{}", report.join("\n"));
}

/// `SERVER -s -1 -J` on a free port and the real `iperf3 -c … -J <args>` against it: what
/// the server printed, and the client's document.
async fn server_and_iperf3_client(server: &Path, binary: &Path, args: &[&str]) -> (String, Value) {
    for _attempt in 0..5 {
        let port = iperf_support::free_port();
        let server = Command::new(server)
            .args(["-s", "-1", "-J", "-p", &port.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("iperf3 -s starts");
        let Some(client) = client_when_listening(binary, port, args).await else {
            // Someone else took the port first: another one.
            continue;
        };
        let output = tokio::time::timeout(Duration::from_secs(20), server.wait_with_output())
            .await
            .expect("iperf3 -s -1 ends after its test")
            .expect("iperf3 -s runs");
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let taken = serde_json::from_str::<Value>(&text).is_ok_and(|doc| {
            doc["error"]
                .as_str()
                .is_some_and(|e| e.contains("Address already in use"))
        });
        if taken {
            // Someone took the port between our look and the server's bind (and the client
            // may have talked to them): all again.
            continue;
        }
        return (text, client);
    }
    panic!("no free port for {} -s in 5 attempts", server.display());
}

/// A printed document, parsed; and where our printer prints it back differently (the first
/// line that differs, as printed and as printed back), if it does.
fn parse_printed(text: &str) -> (Value, Option<(String, String)>) {
    let doc: Value = serde_json::from_str(text).expect("-J prints JSON");
    let again = format!("{}\n", iperf3_json_text(&doc));
    let differs = (again != text).then(|| {
        let mut lines = text.lines().zip(again.lines());
        lines
            .find(|(a, b)| a != b)
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
            .unwrap_or_else(|| (format!("{} lines", text.lines().count()), String::new()))
    });
    (doc, differs)
}

/// Runs `iperf3 -c` until the server listens (a refused connection does not reach it);
/// `None` if it never does within 10 s.
async fn client_when_listening(binary: &Path, port: u16, args: &[&str]) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let output = iperf_support::iperf3_client_output(binary, port, args).await;
        let doc: Value = serde_json::from_slice(&output.stdout).expect("iperf3 -c prints JSON");
        let refused = doc["error"]
            .as_str()
            .is_some_and(|e| e.contains("Connection refused"));
        if !refused {
            return Some(doc);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

fn bytes_at(doc: &Value, path: &[&str]) -> u64 {
    let mut v = doc;
    for key in path {
        v = &v[*key];
    }
    v.as_u64()
        .unwrap_or_else(|| panic!("no byte count at {path:?}"))
}

/// Every `sender` flag of a document, by its path with array indices.
fn sender_flags(value: &Value) -> BTreeMap<String, bool> {
    fn walk(v: &Value, at: String, out: &mut BTreeMap<String, bool>) {
        match v {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .for_each(|(i, item)| walk(item, format!("{at}[{i}]"), out)),
            Value::Object(map) => {
                for (k, item) in map {
                    match item {
                        Value::Bool(b) if k == "sender" => {
                            out.insert(format!("{at}.{k}"), *b);
                        }
                        _ => walk(item, format!("{at}.{k}"), out),
                    }
                }
            }
            _ => {}
        }
    }
    let mut out = BTreeMap::new();
    walk(value, String::new(), &mut out);
    out
}

/// What differs in meaning between iperf3's server document and ours for one test.
fn server_meaning_differences(
    args: &[&str],
    reference: &Value,
    ours: &Value,
    client: &Value,
) -> Vec<String> {
    let mut found = Vec::new();
    for key in [
        "protocol",
        "num_streams",
        "blksize",
        "omit",
        "duration",
        "bytes",
        "blocks",
        "reverse",
        "tos",
        "target_bitrate",
    ] {
        let (theirs, mine) = (
            &reference["start"]["test_start"][key],
            &ours["start"]["test_start"][key],
        );
        if theirs != mine {
            found.push(format!(
                "start.test_start.{key}: iperf3 {theirs}, ours {mine}"
            ));
        }
    }
    for key in ["remote_total", "remote_user", "remote_system"] {
        let mine = &ours["end"]["cpu_utilization_percent"][key];
        if mine.as_f64() != Some(0.0) {
            found.push(format!(
                "end.cpu_utilization_percent.{key}: iperf3's server writes 0, ours {mine}"
            ));
        }
    }
    // The same flags wherever both have one (how many intervals there are is timing).
    let (theirs, mine) = (sender_flags(reference), sender_flags(ours));
    for (path, flag) in &theirs {
        match mine.get(path) {
            Some(m) if m != flag => {
                found.push(format!("{path}: iperf3 {flag}, ours {m}"));
            }
            None if path.starts_with(".end") => found.push(format!("{path}: not ours")),
            _ => {}
        }
    }
    // Which directions the server received and sent in, by the names both sides use.
    let reverse = args.contains(&"-R");
    let bidir = args.contains(&"--bidir");
    let udp = args.contains(&"-u");
    let mut directions = vec![("", !reverse)];
    if bidir {
        directions.push(("_bidir_reverse", false));
    }
    for (suffix, server_receives) in directions {
        let sent = format!("sum_sent{suffix}");
        let received = format!("sum_received{suffix}");
        let (unmeasured, measured) = if server_receives {
            (&sent, &received)
        } else {
            (&received, &sent)
        };
        // The side only the client measured: 0 bytes in iperf3's server report and ours.
        for (who, doc) in [("iperf3", reference), ("ours", ours)] {
            let bytes = bytes_at(doc, &["end", unmeasured, "bytes"]);
            if bytes != 0 {
                found.push(format!(
                    "end.{unmeasured}.bytes: {who} {bytes}, iperf3's server writes 0"
                ));
            }
        }
        let mine = bytes_at(ours, &["end", measured, "bytes"]);
        if server_receives {
            // A byte or block limit is exact: the server counts all the client sent.
            let limit = match args {
                ["-n", "1M", ..] => Some(1 << 20),
                ["-k", "10", "-P", "2"] => Some(10 * 128 * 1024),
                _ => None,
            };
            // A timed test: what reached the server by TEST_END (UDP may lose a datagram;
            // iperf3's client does not wait for its data to arrive before TEST_END).
            let client_sent = bytes_at(client, &["end", &sent, "bytes"]);
            let streams = if args.contains(&"-P") { 2 } else { 1 };
            let agrees = if udp {
                mine <= client_sent && mine > 0
            } else if limit.is_some() {
                mine == client_sent
            } else {
                mine <= client_sent
                    && mine > 0
                    && client_sent - mine <= iperf_support::in_flight(streams)
            };
            if !agrees {
                found.push(format!(
                    "end.{measured}.bytes: ours {mine}, the client sent {client_sent}"
                ));
            }
            if let Some(limit) = limit.filter(|&limit| mine != limit) {
                found.push(format!(
                    "end.{measured}.bytes: ours {mine}, the limit {limit}"
                ));
            }
        } else {
            let client_received = bytes_at(client, &["end", &received, "bytes"]);
            if mine == 0 || mine < client_received {
                found.push(format!(
                    "end.{measured}.bytes: ours {mine}, the client received {client_received}"
                ));
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_json_has_iperf3s_key_paths_types_and_meanings() {
    let binary: PathBuf = iperf3_or_skip!();
    // The example `iperf3 -s -1 -J` as a process: exactly what it prints is compared.
    let example = iperf_support::example_iperf3();
    // Three tests at a time: quick, and light enough for a busy machine.
    let slots = Arc::new(tokio::sync::Semaphore::new(3));
    let mut runs = tokio::task::JoinSet::new();
    for case in CASES {
        let (binary, example, slots) = (binary.clone(), example.clone(), slots.clone());
        runs.spawn(async move {
            let _slot = slots.acquire_owned().await.unwrap();
            let mut report = Vec::new();
            let mut reference = Vec::new();
            for _ in 0..2 {
                let (text, _) = server_and_iperf3_client(&binary, &binary, case.args).await;
                let (doc, differs) = parse_printed(&text);
                // iperf3's server writes `target_bitrate` twice in `start` when a rate is
                // set; a parsed document keeps one, so it prints back shorter.
                if let Some(line) = differs.filter(|_| doc["start"]["target_bitrate"] == 0) {
                    report.push(format!(
                        "{:?}: iperf3's document prints back differently: {line:?}",
                        case.args
                    ));
                }
                reference.push(doc);
            }
            let [first, second]: [Value; 2] = reference.try_into().unwrap();
            // iperf3's server document read into a result and written again keeps its
            // layout.
            let again = IperfResult::from_iperf3_json(&first.to_string())
                .expect("iperf3's server document reads")
                .to_iperf3_json();
            for difference in differences(&[first.clone(), second.clone()], &again) {
                report.push(format!(
                    "{:?}: read and written again: {difference}",
                    case.args
                ));
            }
            let (text, client) = server_and_iperf3_client(&example, &binary, case.args).await;
            let (ours, differs) = parse_printed(&text);
            if let Some(line) = differs {
                report.push(format!(
                    "{:?}: ours is not in cJSON's layout: {line:?}",
                    case.args
                ));
            }
            for difference in differences(&[first.clone(), second], &ours) {
                report.push(format!("{:?}: {difference}", case.args));
            }
            for difference in server_meaning_differences(case.args, &first, &ours, &client) {
                report.push(format!("{:?}: {difference}", case.args));
            }
            let peer = &ours["start"]["accepted_connection"];
            if peer["host"] != "127.0.0.1" || !peer["port"].is_u64() {
                report.push(format!("{:?}: accepted_connection {peer}", case.args));
            }
            report
        });
    }
    let mut report = Vec::new();
    while let Some(found) = runs.join_next().await {
        report.extend(found.expect("a case panicked"));
    }
    assert!(report.is_empty(), "{}", report.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_output_is_asked_for_and_given_both_ways() {
    let binary = iperf3_or_skip!();
    // The native client asks a real `iperf3 -s -1 -J`, then a real `iperf3 -s -1`: the
    // document or the text comes back whole and sits where iperf3's client puts it.
    for json in [true, false] {
        let port = iperf_support::free_port();
        let mut line = vec!["-s", "-1", "-p"];
        let port_text = port.to_string();
        line.push(&port_text);
        if json {
            line.push("-J");
        }
        let mut server = Command::new(&binary)
            .args(&line)
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("iperf3 -s starts");
        let config = NativeClient::new(
            "127.0.0.1",
            port,
            ClientOptions::new()
                .bytes(1 << 20)
                .get_server_output(true)
                .connect_timeout(Duration::from_secs(5)),
        )
        .unwrap();
        let result = {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            loop {
                match config.clone().run().await {
                    Ok(result) => break result,
                    Err(error) if tokio::time::Instant::now() < deadline => {
                        let error = testrig::error::full_message(&error);
                        assert!(error.contains("refused"), "{error}");
                        tokio::time::sleep(Duration::from_millis(30)).await;
                    }
                    Err(error) => panic!("{error}"),
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(10), server.wait()).await;
        let key = match &result.server_output {
            Some(ServerOutput::Json(output)) if json => {
                assert_eq!(output["end"]["sum_received"]["sender"], false);
                assert!(output["start"]["accepted_connection"].is_object());
                "server_output_json"
            }
            Some(ServerOutput::Text(text)) if !json => {
                assert!(
                    text.starts_with("Accepted connection from 127.0.0.1"),
                    "{text}"
                );
                "server_output_text"
            }
            other => panic!("iperf3 -s (json: {json}) gave {other:?}"),
        };
        let doc = result.to_iperf3_json();
        let keys: Vec<&String> = doc.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["start", "intervals", "end", key]);
    }

    // A real `iperf3 -c --get-server-output` asks the native server, printing JSON and then
    // text: the server's document, exactly what its `-J` prints, or its text.
    for json in [true, false] {
        let config = ServerConfig::default().json_output(json);
        let server = NativeServer::bind("127.0.0.1:0".parse().unwrap(), config)
            .await
            .unwrap();
        let port = server.local_addr().port();
        let mut handle = server;
        let output = iperf_support::iperf3_client_output(
            &binary,
            port,
            &["-n", "1M", "--get-server-output"],
        )
        .await;
        let client: Value = serde_json::from_slice(&output.stdout).expect("iperf3 -c JSON");
        let served = handle.next_test(Duration::from_secs(20)).await.unwrap();
        handle.shutdown().await;
        let ours = served.outcome.expect("served").to_iperf3_json();
        if json {
            let output = &client["server_output_json"];
            assert_eq!(output["end"]["sum_received"]["bytes"], 1 << 20, "{client}");
            // The document the server sent is the one it prints, but for the moment
            // each was made (CPU figures).
            let printed = |doc: &Value| iperf3_json_text(doc);
            assert_eq!(printed(&output["start"]), printed(&ours["start"]));
            assert_eq!(
                printed(&output["end"]["streams"]),
                printed(&ours["end"]["streams"])
            );
        } else {
            let text = client["server_output_text"].as_str().expect("server text");
            assert!(
                text.starts_with("Accepted connection from 127.0.0.1, port "),
                "{text}"
            );
            assert!(text.contains("receiver"), "{text}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_gives_iperf3s_error_document() {
    let binary = iperf3_or_skip!();
    let closed = testrig::testing::ClosedPort::new();
    let output = iperf_support::iperf3_client_output(&binary, closed.port(), &["-t", "1"]).await;
    // iperf3 3.12 with -J reports the failure in the document and exits with status 0.
    assert!(output.status.success(), "{output:?}");
    assert!(output.stderr.is_empty(), "{output:?}");
    let reference: Value = serde_json::from_slice(&output.stdout).unwrap();
    let config = NativeClient::new("127.0.0.1", closed.port(), ClientOptions::new()).unwrap();
    let error = config.run().await.unwrap_err();
    // What the example `iperf3 -c … -J` prints then (and it exits with status 0 too).
    let ours = testrig_drivers::iperf::iperf3_error_json(&error.iperf3_message());
    assert_eq!(ours["error"], reference["error"]);
    assert_eq!(
        ours["start"]["system_info"],
        reference["start"]["system_info"]
    );
    let differences = differences(&[reference.clone(), reference.clone()], &ours);
    assert!(differences.is_empty(), "{differences:?}");
    // Printed in iperf3's layout, the documents differ only in the version.
    let text = String::from_utf8_lossy(&output.stdout);
    let version = reference["start"]["version"].as_str().unwrap();
    let mut ours_as_theirs = ours.clone();
    ours_as_theirs["start"]["version"] = Value::from(version);
    assert_eq!(format!("{}\n", iperf3_json_text(&ours_as_theirs)), text);
}

/// Runs an `iperf3`-style command line to its end (20 s at most).
async fn run_to_end(program: &Path, args: &[&str]) -> std::process::Output {
    tokio::time::timeout(
        Duration::from_secs(20),
        Command::new(program).args(args).kill_on_drop(true).output(),
    )
    .await
    .expect("the command ends within 20 s")
    .expect("the command runs")
}

/// The example's output with its version where iperf3 writes its own.
fn as_iperf3_text(ours: &[u8], theirs: &[u8]) -> String {
    let version = |text: &str| {
        text.lines()
            .find(|l| l.contains("\"version\":"))
            .map(str::to_owned)
            .unwrap_or_default()
    };
    let (ours, theirs) = (
        String::from_utf8_lossy(ours).into_owned(),
        String::from_utf8_lossy(theirs),
    );
    ours.replace(&version(&ours), &version(&theirs))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_fails_with_json_as_iperf3_does() {
    let binary = iperf3_or_skip!();
    let example = iperf_support::example_iperf3();
    // A client whose connection is refused: the document on stdout, nothing on stderr,
    // status 0.
    let closed = testrig::testing::ClosedPort::new();
    let port = closed.port().to_string();
    let args = ["-c", "127.0.0.1", "-p", &port, "-J", "-t", "1"];
    let (theirs, ours) = (
        run_to_end(&binary, &args).await,
        run_to_end(&example, &args).await,
    );
    assert_eq!(ours.status.code(), theirs.status.code(), "{ours:?}");
    assert_eq!(ours.stderr, theirs.stderr);
    assert_eq!(
        as_iperf3_text(&ours.stdout, &theirs.stdout),
        String::from_utf8_lossy(&theirs.stdout)
    );
    // A server whose port is taken: the document with "error - …" on stdout, "iperf3:
    // exiting" on stderr, status 1.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let args = ["-s", "-1", "-J", "-p", &port];
    let (theirs, ours) = (
        run_to_end(&binary, &args).await,
        run_to_end(&example, &args).await,
    );
    assert_eq!(theirs.status.code(), Some(1), "{theirs:?}");
    assert_eq!(ours.status.code(), theirs.status.code(), "{ours:?}");
    assert_eq!(
        String::from_utf8_lossy(&ours.stderr),
        String::from_utf8_lossy(&theirs.stderr)
    );
    assert_eq!(
        as_iperf3_text(&ours.stdout, &theirs.stdout),
        String::from_utf8_lossy(&theirs.stdout)
    );
    // A one-off server whose client connects and goes away: the document with iperf3's
    // "error - unable to receive parameters from client: ", status 0. (iperf3 also prints
    // a warning about the empty read before it, which is not repeated.)
    let mut outputs = Vec::new();
    for program in [&binary, &example] {
        let port = iperf_support::free_port();
        let server = Command::new(program)
            .args(["-s", "-1", "-J", "-p", &port.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the server starts");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        // A refused connection does not reach the server; the first accepted one is the test.
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the server never listened"
            );
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
        let output = tokio::time::timeout(Duration::from_secs(20), server.wait_with_output())
            .await
            .expect("the one-off server ends")
            .expect("the server runs");
        outputs.push(output);
    }
    let (theirs, ours) = (&outputs[0], &outputs[1]);
    assert_eq!(theirs.status.code(), Some(0), "{theirs:?}");
    assert_eq!(ours.status.code(), theirs.status.code(), "{ours:?}");
    assert_eq!(ours.stderr, theirs.stderr);
    let without_warning = |text: &[u8]| {
        String::from_utf8_lossy(text)
            .lines()
            .filter(|l| !l.starts_with("WARNING:"))
            .map(|l| format!("{l}\n"))
            .collect::<String>()
    };
    assert_eq!(
        without_warning(as_iperf3_text(&ours.stdout, &theirs.stdout).as_bytes()),
        without_warning(&theirs.stdout)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_client_prints_the_server_output_where_iperf3_does() {
    let binary = iperf3_or_skip!();
    let example = iperf_support::example_iperf3();
    let args = ["-n", "1M", "--get-server-output"];
    // The example's client against `iperf3 -s -1`, and iperf3's against the example's
    // server, both printing text: the server's text after the summary, before "iperf Done.".
    for (server, client) in [(&binary, &example), (&example, &binary)] {
        let port = iperf_support::free_port().to_string();
        let server = Command::new(server)
            .args(["-s", "-1", "-p", &port])
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("the server starts");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let output = loop {
            let mut line = vec!["-c", "127.0.0.1", "-p", &port];
            line.extend(args);
            let output = run_to_end(client, &line).await;
            let refused = String::from_utf8_lossy(&output.stderr).contains("refused");
            if !refused || tokio::time::Instant::now() >= deadline {
                break output;
            }
            tokio::time::sleep(Duration::from_millis(30)).await;
        };
        let _ = tokio::time::timeout(Duration::from_secs(10), server.wait_with_output()).await;
        let text = String::from_utf8_lossy(&output.stdout);
        let at = text
            .find("\nServer output:\nAccepted connection from 127.0.0.1, port ")
            .unwrap_or_else(|| panic!("{} prints no server output:\n{text}", client.display()));
        assert!(text[at..].contains("receiver\n"), "{text}");
        assert!(text.ends_with("\n\niperf Done.\n"), "{text}");
    }
}
