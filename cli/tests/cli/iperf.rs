//! Rigs with `iperf_server` / `iperf_client` drivers and `iperf` steps.

use std::path::Path;

use crate::support::{iperf3_present, printed, run, scratch};

/// Writes `rig` as `name.toml` in `dir` and returns its path.
fn rig_file(dir: &Path, name: &str, rig: &str) -> String {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, rig).unwrap();
    path.to_str().unwrap().to_owned()
}

fn measuring_rig(server_engine: &str, client_engine: &str, step: &str) -> String {
    format!(
        r#"[rig]
name = "throughput"

[[driver]]
name = "server"
kind = "iperf_server"
engine = "{server_engine}"

[[driver]]
name = "client"
kind = "iperf_client"
engine = "{client_engine}"
port = "${{server.port}}"
bytes = "8M"
parallel = 2

[[step]]
name = "measure"
kind = "iperf"
client = "client"
{step}
"#
    )
}

/// The JSON result file an `iperf` step names on its line.
fn result_file(stdout: &str) -> serde_json::Value {
    let path = stdout
        .split("result in ")
        .nth(1)
        .and_then(|rest| rest.lines().next())
        .unwrap_or_else(|| panic!("the step names its result file:\n{stdout}"));
    let path = std::path::Path::new(path.trim());
    // The throughput picture is written next to it and is well-formed SVG.
    let svg = std::fs::read_to_string(path.with_extension("throughput.svg")).unwrap();
    let picture = roxmltree::Document::parse(&svg).expect("the throughput SVG parses as XML");
    assert_eq!(picture.root_element().tag_name().name(), "svg");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn an_iperf_step_measures_prints_the_throughput_and_writes_the_result_as_json() {
    let dir = scratch("iperf-native");
    let rig = rig_file(&dir, "native", &measuring_rig("native", "native", ""));
    let output = run(&["run", &rig, "--report-dir", dir.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", printed(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("step 1/1 measure (iperf)"), "{stdout}");
    assert!(stdout.contains("step 1/1 measure  ok"), "{stdout}");
    assert!(stdout.contains("bits/sec received ("), "{stdout}");
    let result = result_file(&stdout);
    assert_eq!(result["test"]["num_streams"], 2);
    assert!(result["summary"]["main"]["sent"]["bytes"].as_u64().unwrap() >= 8 << 20);
    assert!(
        dir.join("client/iperf-result-1.json").is_file(),
        "with --report-dir the result is with the reports: {stdout}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn stream_options_in_a_rig_reach_both_sides_of_the_measurement() {
    let dir = scratch("iperf-stream-options");
    let rig = measuring_rig("native", "native", "").replace(
        "parallel = 2\n",
        "parallel = 2\ncongestion = \"reno\"\ndscp = \"af11\"\nwindow = \"256K\"\n\
         no_delay = true\nextra_data = \"from the rig\"\n",
    );
    let rig = rig_file(&dir, "options", &rig);
    let output = run(&["run", &rig, "--report-dir", dir.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", printed(&output));
    let result = result_file(&String::from_utf8_lossy(&output.stdout));
    assert_eq!(result["sender_tcp_congestion"], "reno");
    assert_eq!(result["receiver_tcp_congestion"], "reno");
    assert_eq!(result["start_info"]["tos"], 0x28);
    assert_eq!(result["start_info"]["sock_bufsize"], 256 * 1024);
    assert_eq!(result["start_info"]["extra_data"], "from the rig");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn an_iperf_rig_on_the_iperf3_engine_measures_too() {
    if !iperf3_present() {
        return;
    }
    let dir = scratch("iperf-binary");
    let rig = rig_file(&dir, "binary", &measuring_rig("iperf3", "iperf3", ""));
    let output = run(&["run", &rig, "--report-dir", dir.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", printed(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("IperfServer"), "{stdout}");
    assert!(
        stdout.contains("pid="),
        "the binary server exports its pid: {stdout}"
    );
    assert_eq!(result_file(&stdout)["test"]["num_streams"], 2);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_measurement_below_min_bitrate_fails_the_step_with_exit_code_1() {
    let dir = scratch("iperf-too-slow");
    let rig = rig_file(
        &dir,
        "slow",
        &measuring_rig("native", "native", "min_bitrate = \"900T\""),
    );
    let output = run(&["run", &rig, "--report-dir", dir.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{}", printed(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("step 1/1 measure  FAILED"), "{stdout}");
    assert!(
        stdout.contains("below min_bitrate 900 Tbits/sec"),
        "{stdout}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_measurement_above_max_bitrate_fails_the_step_naming_both_rates() {
    let dir = scratch("iperf-too-fast");
    // Loopback carries gigabits; a link shaped to 1 kbit/s would not.
    let rig = rig_file(
        &dir,
        "fast",
        &measuring_rig("native", "native", "max_bitrate = \"1K\""),
    );
    let output = run(&["run", &rig, "--report-dir", dir.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{}", printed(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("step 1/1 measure  FAILED"), "{stdout}");
    assert!(
        stdout.contains("bits/sec, above max_bitrate 1.00 Kbits/sec"),
        "{stdout}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// (what is wrong, the client's extra keys, line:column, what the message must say).
const BAD_CLIENTS: &[(&str, &str, &str, &[&str])] = &[
    (
        "parallel 0",
        "parallel = 0",
        "13:12",
        &[
            "driver `client`, key `parallel`",
            "0 is refused: must be 1 to 128 streams",
        ],
    ),
    (
        "duration and bytes",
        "duration = \"1s\"\nbytes = \"1M\"",
        "14:9",
        &[
            "driver `client`, key `bytes`",
            "give one of `duration`, `bytes` and `blocks`",
        ],
    ),
    (
        "reverse and bidir",
        "reverse = true\nbidir = true",
        "14:9",
        &[
            "driver `client`, key `bidir`",
            "`reverse` and `bidir` exclude each other",
        ],
    ),
    (
        "a bitrate that is no bitrate",
        "bitrate = \"fast\"",
        "13:11",
        &[
            "driver `client`, key `bitrate`",
            "\"fast\" is not a bitrate in bits/s",
        ],
    ),
    (
        "a program for the native engine",
        "iperf3_program = \"/usr/bin/iperf3\"",
        "13:18",
        &[
            "driver `client`, key `iperf3_program`",
            "`iperf3_program` needs `engine = \"iperf3\"`",
        ],
    ),
    (
        "an unknown engine",
        "engine = \"iperf2\"",
        "13:10",
        &["driver `client`, key `engine`", "unknown variant `iperf2`"],
    ),
    (
        "an interval too short",
        "interval = \"10ms\"",
        "13:12",
        &[
            "driver `client`, key `interval`",
            "10ms is refused: must be 0.1 to 60 seconds",
        ],
    ),
    (
        "a TOS beyond a byte",
        "tos = 300",
        "13:7",
        &[
            "driver `client`, key `tos`",
            "300 is refused: bad TOS value (must be between 0 and 255 inclusive)",
        ],
    ),
    (
        "an unknown DSCP name",
        "dscp = \"bogus\"",
        "13:8",
        &["driver `client`, key `dscp`", "\"bogus\" is refused"],
    ),
    (
        "an MSS beyond iperf3's limit",
        "mss = 10000",
        "13:7",
        &[
            "driver `client`, key `mss`",
            "10000 is refused: TCP MSS too large (maximum = 9216 bytes)",
        ],
    ),
    (
        "a receive timeout for a client that only sends",
        "receive_timeout = \"5s\"",
        "13:19",
        &[
            "driver `client`, key `receive_timeout`",
            "client receive timeout is valid only in receiving mode",
        ],
    ),
    (
        "an IP version that does not exist",
        "ip_version = 5",
        "13:14",
        &["driver `client`, key `ip_version`", "5 is refused"],
    ),
];

#[test]
fn bad_iperf_client_options_are_refused_at_their_line_and_column_with_exit_code_3() {
    let dir = scratch("iperf-bad-options");
    for (what, keys, at, fragments) in BAD_CLIENTS {
        let rig = format!(
            "[rig]\nname = \"bad\"\n\n[[driver]]\nname = \"server\"\nkind = \"iperf_server\"\n\n\
             [[driver]]\nname = \"client\"\nkind = \"iperf_client\"\nport = \"${{server.port}}\"\n\n\
             {keys}\n"
        );
        let path = rig_file(&dir, "bad", &rig);
        let output = run(&["check", &path]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(3),
            "{what}\n{}",
            printed(&output)
        );
        assert!(
            stderr.starts_with(&format!("error: {path}:{at}: ")),
            "{what}: expected the error at {at}\n{stderr}"
        );
        for fragment in *fragments {
            assert!(
                stderr.contains(fragment),
                "{what}: missing {fragment:?}\n{stderr}"
            );
        }
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn an_iperf_step_needs_an_iperf_client() {
    let dir = scratch("iperf-step-kind");
    let rig = rig_file(
        &dir,
        "wrong",
        "[rig]\nname = \"wrong\"\n\n[[driver]]\nname = \"server\"\nkind = \"iperf_server\"\n\n\
         [[step]]\nkind = \"iperf\"\nclient = \"server\"\n",
    );
    let output = run(&["check", &rig]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{}", printed(&output));
    assert!(
        stderr.contains(&format!("error: {rig}:10:10: step 1, key `client`")),
        "{stderr}"
    );
    assert!(
        stderr.contains("`server` is an iperf_server; this key needs an iperf_client"),
        "{stderr}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}
