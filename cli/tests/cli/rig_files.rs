//! What `testrig` agrees to read as a rig file: a regular file of at most
//! 1 MiB. A FIFO, a device or a directory is refused without being waited on
//! or read, with exit code 3.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::time::Duration;

use crate::support::{printed, run, scratch, spawn, wait_with_deadline};

const DEADLINE: Duration = Duration::from_secs(20);

/// `testrig check PATH` in its own process, which must end within the deadline
/// (a FIFO once blocked it forever) with exit code 3 and `message`.
fn refused(command: &str, path: &str, message: &str) {
    let child = spawn(&[command, path]);
    let (status, stderr) = wait_with_deadline(child, DEADLINE);
    assert_eq!(status.code(), Some(3), "{command} {path}: {stderr}");
    assert_eq!(
        stderr,
        format!("error: cannot read rig file {path}: {message}\n"),
        "{command} {path}"
    );
}

#[test]
fn a_fifo_as_the_rig_is_refused_at_once_without_waiting_for_a_writer() {
    let dir = scratch("fifo-rig");
    let fifo = dir.join("rig.toml");
    let name = CString::new(fifo.as_os_str().as_bytes()).unwrap();
    // SAFETY: mkfifo(3) with a NUL-terminated path this test owns.
    assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0, "mkfifo");
    for command in ["check", "run", "up"] {
        refused(
            command,
            fifo.to_str().unwrap(),
            "it is a FIFO (named pipe), not a regular file",
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_device_or_a_directory_as_the_rig_is_refused_without_reading_it() {
    refused(
        "check",
        "/dev/zero",
        "it is a character device, not a regular file",
    );
    let dir = scratch("dir-rig");
    refused(
        "check",
        dir.to_str().unwrap(),
        "it is a directory, not a regular file",
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_rig_file_over_1_mib_is_refused_and_one_of_1_mib_is_read() {
    let dir = scratch("large-rig");
    let rig = dir.join("large.toml");
    let header = "[rig]\nname = \"large\"\n";
    let limit = 1024 * 1024;
    // Comments up to the limit exactly: read, and valid.
    let comment = "#".repeat(limit - header.len() - 1) + "\n";
    std::fs::write(&rig, format!("{header}{comment}")).unwrap();
    let output = run(&["check", rig.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", printed(&output));
    // One byte more: refused, without parsing.
    let file = std::fs::OpenOptions::new().append(true).open(&rig).unwrap();
    file.set_len(limit as u64 + 1).unwrap();
    refused(
        "check",
        rig.to_str().unwrap(),
        "it is larger than 1 MiB, the most a rig file may hold",
    );
    std::fs::remove_dir_all(dir).unwrap();
}
