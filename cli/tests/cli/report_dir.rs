//! `--report-dir`: checked before anything starts (exit code 4 when the reports
//! could not be written there), and reports lost at the end fail the command.

use std::time::Duration;

use crate::support::{Lines, printed, run, scratch, send_signal, spawn, wait_with_deadline};

const DEADLINE: Duration = Duration::from_secs(20);

/// `testrig COMMAND examples/rigs/tcp.toml --report-dir DIR` exits 4 with
/// `problem`, having started nothing.
fn refused(command: &str, dir: &str, problem: &str) {
    let output = run(&[command, "examples/rigs/tcp.toml", "--report-dir", dir]);
    assert_eq!(output.status.code(), Some(4), "{}", printed(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stderr),
        format!("error: --report-dir {dir}: the reports cannot be written there: {problem}\n"),
    );
    assert!(
        output.stdout.is_empty(),
        "nothing started:\n{}",
        printed(&output)
    );
}

#[test]
fn a_report_dir_that_cannot_be_written_exits_4_before_anything_starts() {
    let dir = scratch("report-dir-unwritable");
    let file = dir.join("a-file");
    std::fs::write(&file, "not a directory").unwrap();
    let file = file.to_str().unwrap();
    for command in ["run", "up"] {
        refused(command, file, "it exists and is not a directory");
        refused(
            command,
            &format!("{file}/reports"),
            "cannot create it: Not a directory (os error 20)",
        );
        // A directory nobody can create files in, root included.
        refused(
            command,
            "/proc",
            "cannot create a file in it: No such file or directory (os error 2)",
        );
    }
    // SAFETY: geteuid(2) has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        println!("note: running as root, which writes in a mode 0555 directory; /proc covers it");
    } else {
        use std::os::unix::fs::PermissionsExt;
        let read_only = dir.join("read-only");
        std::fs::create_dir(&read_only).unwrap();
        std::fs::set_permissions(&read_only, std::fs::Permissions::from_mode(0o555)).unwrap();
        refused(
            "run",
            read_only.to_str().unwrap(),
            "cannot create a file in it: Permission denied (os error 13)",
        );
        std::fs::set_permissions(&read_only, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_missing_report_dir_is_created_and_holds_no_probe_file_after() {
    let dir = scratch("report-dir-created");
    let reports = dir.join("deep/er");
    let output = run(&[
        "run",
        "examples/rigs/tcp.toml",
        "--report-dir",
        reports.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", printed(&output));
    let mut files: Vec<_> = std::fs::read_dir(&reports)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(files, ["tcp.json", "tcp.junit.xml", "tcp.timeline.svg"]);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn reports_that_cannot_be_written_at_the_end_fail_the_command_with_exit_1() {
    let dir = scratch("report-dir-lost");
    let reports = dir.join("reports");
    let mut child = spawn(&[
        "up",
        "examples/rigs/tcp.toml",
        "--report-dir",
        reports.to_str().unwrap(),
    ]);
    let pid = child.id();
    let mut lines = Lines::of(&mut child);
    lines.wait_for("rig `tcp` is up", DEADLINE);
    // The directory was fine when `up` began; now a file stands in its place.
    std::fs::remove_dir_all(&reports).unwrap();
    std::fs::write(&reports, "in the way").unwrap();
    send_signal(pid, libc::SIGINT);
    let rest = lines.rest(DEADLINE).join("\n");
    let (status, stderr) = wait_with_deadline(child, DEADLINE);
    assert_eq!(status.code(), Some(1), "{stderr}\n{rest}");
    assert!(
        stderr.contains("error: the reports could not be written: "),
        "{stderr}"
    );
    assert!(rest.contains("environment tcp PASSED"), "{rest}");
    std::fs::remove_dir_all(dir).unwrap();
}
