//! The native client's `-J` document against the real iperf3's, test by test: the same key
//! paths with the same JSON types. Two runs of iperf3 itself give the noise to ignore (a
//! rate that happens to be integral prints as an integer).

mod iperf_support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{Value, json};
use testrig_drivers::iperf::{ClientConfig, ClientConfigBuilder, NativeClient};

/// Key paths iperf3 writes that the native engine does not write yet (none left for the
/// client's documents of these tests). A gap found later goes here until it is closed; the
/// test fails if one listed is written already.
const NOT_YET_WRITTEN: &[&str] = &[];

/// Real-valued figures (by key name) that iperf3 prints as integers when they happen to be
/// integral: a CPU share of exactly 0 in a short test, or a rate of 0 when iperf3's own
/// server lost the end-of-test race (esnet/iperf#382). Any number is right there.
const REAL_VALUED: &[&str] = &[
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
        match ours.get(path) {
            None if gap => {}
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
    for path in ours.keys() {
        if !theirs.contains_key(path) {
            found.push(format!("extra {path}: iperf3 does not write it"));
        }
    }
    found
}

/// One test: iperf3's arguments and the same as a native configuration.
struct Case {
    args: &'static [&'static str],
    config: fn(ClientConfigBuilder) -> ClientConfigBuilder,
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

async fn iperf3_json(binary: &std::path::Path, port: u16, args: &[&str]) -> Value {
    let output = iperf_support::iperf3_client_output(binary, port, args).await;
    serde_json::from_slice(&output.stdout).expect("iperf3 -J prints JSON")
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
        let config = (case.config)(ClientConfig::builder("127.0.0.1", server.port))
            .build()
            .unwrap();
        let result = NativeClient::new(config).run().await.unwrap();
        tests_done += 1;
        // As the iperf3 command does: the client's document names where it connected.
        let mut ours = result.to_iperf3_json();
        ours["start"]["connecting_to"] = json!({ "host": "127.0.0.1", "port": server.port });
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
