//! Steps that talk to servers testrig did not start: `tcp_exchange` with `connect` to an
//! app's exported port, and the iperf step through a client wired to an app's port.

use std::path::PathBuf;

use testrig::Outcome;
use testrig::testing::HelperProgram;

use crate::support::{case_outcomes, printed, read_reports, run, scratch};

/// This test binary as a program of its own: an echo server, or a real `iperf3 -s` on a
/// free port (found by binding port 0), printing the port it listens on.
const HELPER: HelperProgram = HelperProgram::new("connect::helper_program", "TESTRIG_CLI_HELPER");

#[test]
#[ignore = "the helper program the connect tests run"]
fn helper_program() {
    use std::io::{Read, Write};
    match HELPER.mode().as_deref() {
        None => {}
        Some("echo") => {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            println!("echo on {}", listener.local_addr().unwrap().port());
            // A daemon: it serves connection after connection until it is stopped (were it
            // to exit after the step's connection, the app would fail during the step).
            for connection in listener.incoming() {
                let Ok(mut connection) = connection else {
                    continue;
                };
                let mut buffer = [0; 4096];
                loop {
                    match connection.read(&mut buffer) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if connection.write_all(&buffer[..n]).is_err() {
                                break;
                            }
                        }
                    }
                }
            }
        }
        Some("iperf3") => {
            use std::os::unix::process::CommandExt;
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let error = std::process::Command::new("iperf3")
                .args([
                    "-s",
                    "--forceflush",
                    "-B",
                    "127.0.0.1",
                    "-p",
                    &port.to_string(),
                ])
                .exec();
            panic!("cannot run iperf3: {error}");
        }
        Some(mode) => panic!("unknown helper mode `{mode}`"),
    }
}

/// An `app` driver running the helper in `mode`, ready on `ready` (a regex with `port`).
fn helper_app(name: &str, mode: &str, ready: &str) -> String {
    let args: Vec<String> = HELPER.args().iter().map(|a| format!("{a:?}")).collect();
    format!(
        r#"[[driver]]
name = "{name}"
kind = "app"
binary = {program:?}
args = [{args}]
env = {{ {variable} = "{mode}" }}
ready_stdout = '{ready}'
"#,
        program = HELPER.program().display().to_string(),
        args = args.join(", "),
        variable = HELPER.variable(),
    )
}

/// Runs a rig of an echo `app` and one `tcp_exchange` step connecting to it that sends
/// `send` and expects `expect_reply` back.
fn run_echo_rig(test: &str, send: &str, expect_reply: &str) -> (std::process::Output, PathBuf) {
    let dir = scratch(test);
    let rig = dir.join("echo.toml");
    std::fs::write(
        &rig,
        format!(
            r#"[rig]
name = "echo"

{app}
[[step]]
name = "echoed"
kind = "tcp_exchange"
connect = "127.0.0.1:${{echo.port}}"
send = {send:?}
expect_reply = {expect_reply:?}
timeout = "5s"
"#,
            app = helper_app("echo", "echo", r"echo on (?P<port>\d+)")
        ),
    )
    .unwrap();
    let output = run(&[
        "run",
        rig.to_str().unwrap(),
        "--report-dir",
        dir.to_str().unwrap(),
    ]);
    (output, dir)
}

#[test]
fn tcp_exchange_connects_to_an_apps_exported_port_and_checks_the_reply() {
    let line = "hello from the rig\n";
    let (output, dir) = run_echo_rig("connect-echo", line, line);
    assert_eq!(output.status.code(), Some(0), "{}", printed(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("19 bytes to 127.0.0.1:"), "{stdout}");
    assert!(stdout.contains(", 19 bytes back"), "{stdout}");
    let report = read_reports(&dir, "echo");
    assert_eq!(case_outcomes(&report), [("echoed", Outcome::Passed)]);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_reply_that_differs_fails_the_connect_step_naming_the_address() {
    let (output, dir) = run_echo_rig("connect-mismatch", "ping\n", "pong\n");
    assert_eq!(output.status.code(), Some(1), "{}", printed(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(r#"expected "pong\n" but received "ping\n""#),
        "{stdout}"
    );
    assert!(stdout.contains("127.0.0.1:"), "{stdout}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn an_iperf_step_measures_against_an_iperf3_server_an_app_started() {
    if std::process::Command::new("iperf3")
        .arg("--version")
        .output()
        .is_err()
    {
        let why = "needs the real `iperf3` on PATH (`scripts/setup` installs it)";
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set and this test {why}"
        );
        eprintln!("SKIPPED: {why}");
        return;
    }
    let dir = scratch("connect-iperf");
    let rig = dir.join("foreign.toml");
    std::fs::write(
        &rig,
        format!(
            r#"[rig]
name = "foreign"

{app}
[[driver]]
name = "client"
kind = "iperf_client"
port = "${{iperf.port}}"
bytes = "4M"

[[step]]
name = "measure"
kind = "iperf"
client = "client"
"#,
            app = helper_app("iperf", "iperf3", r"Server listening on (?P<port>\d+)")
        ),
    )
    .unwrap();
    let output = run(&[
        "run",
        rig.to_str().unwrap(),
        "--report-dir",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", printed(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("step 1/1 measure  ok"), "{stdout}");
    assert!(stdout.contains("bits/sec received"), "{stdout}");
    std::fs::remove_dir_all(dir).unwrap();
}
