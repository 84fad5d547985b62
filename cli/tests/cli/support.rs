//! Running the `testrig` binary and reading what it prints.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use testrig::{Outcome, Report};

/// The repository root (rig paths in messages are as given on the command line).
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Whether the real `iperf3` is on PATH; when it is not, prints why the calling test is
/// skipped (and fails under CI, which installs it).
pub fn iperf3_present() -> bool {
    if Command::new("iperf3").arg("--version").output().is_ok() {
        return true;
    }
    let why = "needs the real `iperf3` on PATH (Debian/Ubuntu: `sudo apt-get install \
               iperf3`; `scripts/setup` installs it)";
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set and this test {why}"
    );
    eprintln!("SKIPPED: {why}");
    false
}

/// `testrig ARGS...`, run from the repository root.
pub fn testrig(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_testrig"));
    command.args(args).current_dir(repo()).env("NO_COLOR", "1");
    command
}

/// Runs `testrig ARGS...` to its end.
pub fn run(args: &[&str]) -> Output {
    testrig(args).output().expect("the testrig binary runs")
}

/// What a finished command printed, both streams, for assertions and messages.
pub fn printed(output: &Output) -> String {
    format!(
        "--- stdout\n{}--- stderr\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A fresh, empty scratch directory for one test.
pub fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("testrig-cli-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}

/// A port that was free a moment ago: bound by the kernel, then released (for a program
/// that binds it itself).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("a local address").port()
}

/// The lines a child prints on stdout, read on a thread and handed over as they
/// come, so a test can wait for one with a deadline.
pub struct Lines {
    receiver: mpsc::Receiver<String>,
    pub seen: Vec<String>,
}

impl Lines {
    pub fn of(child: &mut Child) -> Self {
        let stdout = child.stdout.take().expect("stdout is piped");
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if sender.send(line).is_err() {
                    return;
                }
            }
        });
        Self {
            receiver,
            seen: Vec::new(),
        }
    }

    /// Waits up to `timeout` for a line containing `needle`; returns it.
    pub fn wait_for(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.receiver.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no line with {needle:?} within {timeout:?}; printed:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Every remaining line, until the child closes stdout (or `timeout`).
    pub fn rest(&mut self, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        let mut rest = Vec::new();
        while let Ok(line) = self
            .receiver
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            self.seen.push(line.clone());
            rest.push(line);
        }
        rest
    }
}

/// Waits up to `timeout` for `child` to exit, on a thread (no polling).
pub fn wait_with_deadline(mut child: Child, timeout: Duration) -> (ExitStatus, String) {
    let (sender, receiver) = mpsc::channel();
    let pid = child.id();
    std::thread::spawn(move || {
        let mut stderr = String::new();
        if let Some(mut pipe) = child.stderr.take() {
            let _ = pipe.read_to_string(&mut stderr);
        }
        let status = child.wait();
        let _ = sender.send((status, stderr));
    });
    match receiver.recv_timeout(timeout) {
        Ok((status, stderr)) => (status.expect("wait for testrig"), stderr),
        Err(_) => {
            // Do not leave it behind. SAFETY: a signal to the child we spawned.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            panic!("testrig (pid {pid}) did not exit within {timeout:?}")
        }
    }
}

/// Sends `signal` to the child with `pid`.
pub fn send_signal(pid: u32, signal: i32) {
    // SAFETY: kill(2) on the pid of a child this test spawned and has not reaped.
    assert_eq!(
        unsafe { libc::kill(pid as i32, signal) },
        0,
        "kill({pid}, {signal})"
    );
}

/// Whether any process is left in process group `group`.
pub fn group_alive(group: u32) -> bool {
    // SAFETY: kill with signal 0 only checks for existence; no signal is sent.
    let result = unsafe { libc::kill(-(group as i32), 0) };
    result == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// Spawns `testrig ARGS...` in a process group of its own, stdout and stderr piped.
pub fn spawn(args: &[&str]) -> Child {
    use std::os::unix::process::CommandExt;
    testrig(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("spawn testrig")
}

/// Reads the reports `run`/`up` wrote to `dir` for `rig`: the JUnit file is XML
/// with the rig's suite, the timeline picture exists, the JSON parses back.
pub fn read_reports(dir: &Path, rig: &str) -> Report {
    let json = std::fs::read_to_string(dir.join(format!("{rig}.json"))).expect("the JSON report");
    let junit =
        std::fs::read_to_string(dir.join(format!("{rig}.junit.xml"))).expect("the JUnit report");
    let xml = roxmltree::Document::parse(&junit).expect("the JUnit report is XML");
    let suite = xml
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .expect("a testsuite");
    assert_eq!(suite.attribute("name"), Some(rig));
    assert!(
        dir.join(format!("{rig}.timeline.svg")).exists(),
        "the timeline picture"
    );
    serde_json::from_str(&json).expect("the JSON report parses back")
}

/// Each case's name and outcome, in order.
pub fn case_outcomes(report: &Report) -> Vec<(&str, Outcome)> {
    report
        .cases
        .iter()
        .map(|c| (c.name.as_str(), c.outcome))
        .collect()
}
