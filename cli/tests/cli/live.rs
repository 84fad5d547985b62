//! On a terminal, a running step has a live line (elapsed time, the current throughput);
//! piped or in CI the output stays plain lines without escape codes.

use std::process::Command;

use crate::support::{printed, run, scratch};

const RIG: &str = r#"[rig]
name = "live"

[[driver]]
name = "server"
kind = "iperf_server"

[[driver]]
name = "client"
kind = "iperf_client"
port = "${server.port}"
duration = "2s"
bitrate = "100M"
interval = "500ms"

[[step]]
name = "measure"
kind = "iperf"
client = "client"
"#;

#[test]
fn a_running_step_has_a_live_line_on_a_terminal_only() {
    let dir = scratch("live");
    let rig = dir.join("live.toml");
    std::fs::write(&rig, RIG).unwrap();
    let reports = dir.join("reports");
    let command = format!(
        "{} run {} --report-dir {}",
        env!("CARGO_BIN_EXE_testrig"),
        rig.display(),
        reports.display()
    );
    // `script` runs the command on a pseudo-terminal of its own.
    let on_terminal = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env_remove("CI")
        .env("TERM", "xterm")
        .output();
    let Ok(on_terminal) = on_terminal else {
        let why = "needs `script` (util-linux) to run the command on a terminal";
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set and this test {why}"
        );
        eprintln!("SKIPPED: {why}");
        return;
    };
    let seen = String::from_utf8_lossy(&on_terminal.stdout);
    assert!(on_terminal.status.success(), "{seen}");
    assert!(
        seen.contains("step 1/1 measure") && seen.contains("Mbits/sec now"),
        "the live line shows the step and its current throughput:\n{seen:?}"
    );
    assert!(seen.contains("\u{1b}["), "it is redrawn in place: {seen:?}");
    assert!(
        seen.contains("step 1/1 measure  "),
        "the step's result line: {seen}"
    );

    // Piped: plain lines only.
    let piped = run(&[
        "run",
        rig.to_str().unwrap(),
        "--report-dir",
        reports.to_str().unwrap(),
    ]);
    assert_eq!(piped.status.code(), Some(0), "{}", printed(&piped));
    let plain = String::from_utf8_lossy(&piped.stdout);
    assert!(!plain.contains('\u{1b}'), "{plain:?}");
    assert!(!plain.contains(" now"), "no live line in a pipe: {plain}");
    std::fs::remove_dir_all(dir).unwrap();
}
