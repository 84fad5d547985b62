//! A property test: no rig file, however mangled, makes the loader panic or
//! hang. Mutated copies of the example rigs (and of the bad rigs the CLI tests
//! refuse) go through what `testrig check` does — bytes to text, TOML, keys,
//! kinds, references, the environment, the steps — and must come out as a valid
//! rig or a located rig error (exit code 0 or 3), within a deadline.
//!
//! Deterministic by default (a fixed seed, 1024 cases); `PROPTEST_RNG_SEED` and
//! `PROPTEST_CASES` explore further:
//!
//! ```text
//! PROPTEST_RNG_SEED=7 PROPTEST_CASES=100000 cargo test -p testrig-cli --bin testrig loader_fuzz
//! ```

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{OnceLock, mpsc};
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

use super::{Rig, RigError, Source};

/// How long one case may take: a debug build loads a rig in milliseconds, so
/// this is far beyond any busy machine and still ends a real hang.
const CASE_DEADLINE: Duration = Duration::from_secs(20);

/// Values a mutation writes in place of a key's value: huge, negative, empty,
/// odd numbers, unicode, broken references and regexes, wrong types.
const VALUES: &[&str] = &[
    "18446744073709551615",
    "9223372036854775807",
    "-9223372036854775808",
    "-1",
    "0",
    "65536",
    "1e308",
    "-0.0",
    "nan",
    "inf",
    "-inf",
    "\"\"",
    "''",
    "\"18446744073709551615s\"",
    "\"9223372036854775807ms\"",
    "\"-1s\"",
    "\"1y 1ns\"",
    "\"0s\"",
    "\"99999999999999999999M\"",
    "\"18446744073709551615G\"",
    "\"1e308\"",
    "\"0\"",
    "\"-5\"",
    "\"é ñ 😀 \u{202e}\u{0}\"",
    "\"\\u0000\"",
    "\"${\"",
    "\"${}\"",
    "\"${.}\"",
    "\"${server.port}${server.port}\"",
    "\"${server.nope}\"",
    "\"$${server.port}\"",
    "\"${client.local_port}\"",
    "'(?P<port>'",
    "'(?P<pid>\\d+)'",
    "'(?P<a>x)(?P<a>y)'",
    "'\\p{Nope}'",
    "\"SIG\"",
    "\"SIGKILL\"",
    "\"sigzero\"",
    "\"/dev/zero\"",
    "\"/\"",
    "\".\"",
    "\"..\"",
    "\"a/b\"",
    "[]",
    "[[]]",
    "{}",
    "{ delay = \"1y\" }",
    "{ initial = \"1y\", max = \"1y\", factor = 1e308, jitter = \"1y\" }",
    "{ path = \"\", regex = \"(\" }",
    "true",
    "1979-05-27T07:32:00Z",
    "\"iperf3\"",
    "\"native\"",
    "\"started\"",
    "\"failed\"",
    "\"100mbit\"",
    "\"0mbit\"",
    "\"18446744073709551615gbit\"",
    "\"none\"",
    "\"10.0.0.0/8\"",
    "\"10.0.0.0/33\"",
    "\"fd00::/127\"",
    "\"::/0\"",
    "[\"a\", \"a\"]",
    "[\"a\", \"b\", \"c\"]",
    "[\"a\", \"lan\"]",
    "{ a = \"10.0.0.300/24\" }",
    "{ delay = \"1y\", loss = 101, reorder = -1 }",
    "{ ghost = \"1mbit\" }",
    "\"htb\"",
    "\"link_down\"",
    "\"partition\"",
    "\"set_netem\"",
];

/// Whole lines a mutation inserts: new tables, kinds, keys every table has.
const LINES: &[&str] = &[
    "[[driver]]",
    "[[step]]",
    "[rig]",
    "[driver]",
    "[[driver.x]]",
    "name = \"server\"",
    "name = \"x\"",
    "name = \"\"",
    "kind = \"app\"",
    "kind = \"tcp_client\"",
    "kind = \"tcp_server\"",
    "kind = \"iperf_client\"",
    "kind = \"iperf_server\"",
    "kind = \"tcp_exchange\"",
    "kind = \"wait_for_process\"",
    "kind = \"wait\"",
    "kind = \"iperf\"",
    "kind = \"restart\"",
    "depends_on = [\"server\", \"server\", \"x\"]",
    "start_timeout = \"1y\"",
    "stop_timeout = \"1y\"",
    "port = \"${server.port}\"",
    "client = \"client\"",
    "driver = \"server\"",
    "timeout = \"1y\"",
    "expect_exit = 255",
    "shell = \"true\"",
    "bytes = \"16E\"",
    "bitrate = \"18446744073709551615G\"",
    "parallel = 4294967297",
    "duration = 31557600",
    "[network]",
    "[[host]]",
    "[[link]]",
    "[[switch]]",
    "name = \"a\"",
    "name = \"lan\"",
    "kind = \"network\"",
    "on = \"a\"",
    "on = \"ghost\"",
    "between = [\"a\", \"b\"]",
    "hosts = [\"a\", \"b\"]",
    "subnet = \"10.0.0.0/24\"",
    "rate = \"fast\"",
    "action = \"set_rate\"",
    "from = \"a\"",
    "to = \"b\"",
    "netem = {}",
    "\u{feff}",
    "\0",
];

/// One change to a rig file. Positions are taken modulo what the file has.
#[derive(Debug, Clone)]
enum Mutation {
    FlipBit { at: usize, bit: u8 },
    SetByte { at: usize, byte: u8 },
    Truncate { at: usize },
    DeleteLine { line: usize },
    DuplicateLine { line: usize, to: usize },
    SwapLines { a: usize, b: usize },
    ReplaceValue { line: usize, value: usize },
    InsertLine { at: usize, line: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    // Weighted towards value substitutions: a byte flip mostly makes bad TOML,
    // a strange value in a well-formed file reaches the kinds' own checks.
    prop_oneof![
        2 => (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Mutation::FlipBit { at, bit }),
        1 => (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::SetByte { at, byte }),
        1 => any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        2 => any::<usize>().prop_map(|line| Mutation::DeleteLine { line }),
        1 => (any::<usize>(), any::<usize>()).prop_map(|(line, to)| Mutation::DuplicateLine { line, to }),
        1 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines { a, b }),
        8 => (any::<usize>(), 0..VALUES.len())
            .prop_map(|(line, value)| Mutation::ReplaceValue { line, value }),
        2 => (any::<usize>(), 0..LINES.len()).prop_map(|(at, line)| Mutation::InsertLine { at, line }),
    ]
}

impl Mutation {
    fn apply(&self, bytes: &mut Vec<u8>) {
        let mut lines: Vec<Vec<u8>> = bytes.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
        let count = lines.len();
        match *self {
            Mutation::FlipBit { at, bit } if !bytes.is_empty() => {
                let at = at % bytes.len();
                bytes[at] ^= 1 << bit;
                return;
            }
            Mutation::SetByte { at, byte } if !bytes.is_empty() => {
                let at = at % bytes.len();
                bytes[at] = byte;
                return;
            }
            Mutation::Truncate { at } => {
                bytes.truncate(at % (bytes.len() + 1));
                return;
            }
            Mutation::FlipBit { .. } | Mutation::SetByte { .. } => return,
            Mutation::DeleteLine { line } => {
                lines.remove(line % count);
            }
            Mutation::DuplicateLine { line, to } => {
                let copy = lines[line % count].clone();
                lines.insert(to % (count + 1), copy);
            }
            Mutation::SwapLines { a, b } => lines.swap(a % count, b % count),
            Mutation::ReplaceValue { line, value } => {
                // Among the lines that set a key, the n-th.
                let keyed: Vec<usize> = (0..count).filter(|&i| lines[i].contains(&b'=')).collect();
                if keyed.is_empty() {
                    return;
                }
                let target = &mut lines[keyed[line % keyed.len()]];
                let equals = target.iter().position(|&b| b == b'=').unwrap_or(0);
                target.truncate(equals + 1);
                target.push(b' ');
                target.extend_from_slice(VALUES[value].as_bytes());
            }
            Mutation::InsertLine { at, line } => {
                lines.insert(at % (count + 1), LINES[line].as_bytes().to_vec());
            }
        }
        *bytes = lines.join(&b'\n');
    }
}

/// The rigs mutations start from: every example rig, a rig setting every key
/// of every kind (`cli/tests/fuzz_seeds/`), and every bad rig the CLI tests
/// refuse (each close to valid, wrong in one interesting way).
fn seeds() -> &'static [(PathBuf, Vec<u8>)] {
    static SEEDS: OnceLock<Vec<(PathBuf, Vec<u8>)>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut seeds = Vec::new();
        for dir in [
            manifest.join("../examples/rigs"),
            manifest.join("tests/fuzz_seeds"),
            manifest.join("tests/bad_rigs"),
        ] {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
                .unwrap_or_else(|e| panic!("the seed rigs in {}: {e}", dir.display()))
                .map(|entry| entry.expect("a directory entry").path())
                .filter(|path| path.extension().is_some_and(|e| e == "toml"))
                .collect();
            entries.sort();
            for path in entries {
                let bytes = std::fs::read(&path).expect("a seed rig");
                seeds.push((path, bytes));
            }
        }
        seeds
    })
}

/// What loading a rig came to, short of a panic.
#[derive(Debug)]
enum Loaded {
    Valid,
    /// A located error, rendered as `check` prints it.
    Invalid(String),
}

/// Loads `bytes` as `check` does (text, TOML, keys, environment, steps) on a
/// thread of its own, so a panic is caught and a hang noticed at the deadline.
fn load(path: &Path, bytes: Vec<u8>) -> Result<Loaded, String> {
    let (sender, receiver) = mpsc::channel();
    let path = path.to_owned();
    std::thread::spawn(move || {
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let loaded = Source::from_bytes(&path, bytes)
                .and_then(Rig::parse)
                .and_then(|rig| rig.environment(None).map(|_| rig));
            match loaded {
                Ok(_) => Ok(Loaded::Valid),
                Err(error @ RigError::Invalid { .. }) => Ok(Loaded::Invalid(error.render())),
                Err(other) => Err(format!("not a located rig error: {other}")),
            }
        }));
        let _ = sender.send(outcome.unwrap_or_else(|panic| {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            Err(format!("panicked: {message}"))
        }));
    });
    receiver
        .recv_timeout(CASE_DEADLINE)
        .unwrap_or_else(|_| Err(format!("no outcome within {CASE_DEADLINE:?}: a hang")))
}

/// 1024 cases (about a second) from a fixed seed unless `PROPTEST_CASES` /
/// `PROPTEST_RNG_SEED` say otherwise; no regression files (a case it finds
/// becomes a test of its own).
fn config() -> Config {
    let mut config = Config::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = 1024;
    }
    if config.rng_seed == RngSeed::Random {
        config.rng_seed = RngSeed::Fixed(0x7e57_2019);
    }
    config.failure_persistence = None;
    config.max_shrink_time = 60_000;
    config
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_mutated_rig_is_valid_or_a_located_error_never_a_panic_or_a_hang(
        seed in 0..seeds().len(),
        mutations in prop::collection::vec(mutation(), 1..=4),
    ) {
        let (path, original) = &seeds()[seed];
        let mut bytes = original.clone();
        for mutation in &mutations {
            mutation.apply(&mut bytes);
        }
        let shown = String::from_utf8_lossy(&bytes).into_owned();
        match load(path, bytes) {
            Ok(Loaded::Valid) => {}
            Ok(Loaded::Invalid(rendered)) => {
                prop_assert!(
                    rendered.contains(&format!("{}:", path.display())),
                    "the error is located in the file: {rendered}"
                );
            }
            Err(problem) => {
                prop_assert!(false, "{problem}\nrig (from {}):\n{shown}", path.display());
            }
        }
    }
}

#[test]
fn the_seeds_are_the_example_rigs_and_every_key_all_valid_and_the_bad_rigs() {
    let valid: Vec<_> = seeds()
        .iter()
        .filter(|(path, _)| !path.to_string_lossy().contains("bad_rigs"))
        .collect();
    assert!(
        valid.len() >= 7,
        "app, iperf, quickstart, tcp, two-hosts, every_key and every_network_key: {valid:?}"
    );
    for (path, bytes) in valid {
        let loaded = load(path, bytes.clone());
        assert!(
            matches!(loaded, Ok(Loaded::Valid)),
            "{}: {loaded:?}",
            path.display()
        );
    }
    assert!(seeds().len() > 30, "and the bad rigs");
}
