//! Moving a child into its cgroup before it runs anything of its own.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, RawFd};

use tokio::process::Command;

/// Has the child write `0` (itself) to `procs`, an open `cgroup.procs` file, between `fork` and
/// `exec`: everything the program starts from then on — including a descendant that leaves its
/// process group — is born in that cgroup.
///
/// The hook owns `procs`, so it stays open as long as `command` (a spawn abandoned by its caller
/// cannot leave the child writing to a descriptor number reused meanwhile); it is close-on-exec,
/// so the program never holds it.
pub(crate) fn enter_before_exec(command: &mut Command, procs: File) {
    // SAFETY: the hook runs in the child between `fork` and `exec`, where only
    // async-signal-safe operations are allowed. It reads the descriptor number out of `procs`
    // (a plain integer), makes one `write` system call on it and builds an `io::Error` from errno
    // on failure: no allocation, no lock, nothing shared with other threads.
    unsafe {
        command.pre_exec(move || enter(procs.as_raw_fd()));
    }
}

fn enter(procs: RawFd) -> io::Result<()> {
    // `0` names the writing process: the child moves itself.
    // SAFETY: `write` reads one byte from a static buffer; `procs` is a descriptor the parent
    // opened and keeps open until the spawn returned.
    let written = unsafe { libc::write(procs, b"0".as_ptr().cast(), 1) };
    if written == 1 {
        return Ok(());
    }
    Err(io::Error::last_os_error())
}
