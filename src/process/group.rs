//! `ProcessGroup`: the group a spawned program leads, and sending it signals.

use std::io;

use super::Signal;

/// The process group a spawned program leads (its id is the program's pid, because every program
/// is spawned with `process_group(0)`). Signals go to the whole group, so whatever the program
/// started (a shell's background child) gets them too.
///
/// Signalling a group is only safe while its id cannot have been recycled, i.e. until the leader
/// has been reaped and its leftovers killed; [`ProcessState`](super::ProcessState) enforces that:
/// once a process is `Exited`, its group is never signalled again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct ProcessGroup {
    id: libc::pid_t,
}

impl ProcessGroup {
    /// The group led by the process `leader`.
    pub(crate) fn led_by(leader: u32) -> ProcessGroup {
        let id = libc::pid_t::try_from(leader).expect("a pid fits in pid_t");
        ProcessGroup { id }
    }

    /// The group's id.
    pub(crate) fn id(self) -> libc::pid_t {
        self.id
    }

    /// Sends `signal` to every process in the group. A group with no member left is not an error.
    pub(crate) fn signal(self, signal: Signal) -> io::Result<()> {
        // SAFETY: killpg only reads its two integer arguments; it has no memory-safety
        // preconditions. `unsafe` is required because libc declares every foreign function unsafe.
        let result = unsafe { libc::killpg(self.id, signal.as_raw()) };
        if result == 0 {
            return Ok(());
        }
        let error = io::Error::last_os_error();
        match error.raw_os_error() {
            Some(libc::ESRCH) => Ok(()),
            _ => Err(error),
        }
    }
}
