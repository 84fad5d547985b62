//! Making a child die with the program that spawned it, even when that program is `SIGKILL`ed.

use std::io;

use tokio::process::Command;

/// Arranges for the kernel to send `SIGKILL` to the child when its parent dies.
///
/// `PR_SET_PDEATHSIG` fires when the *thread* that forked the child exits, not when the process
/// does. testrig therefore forks every child from one thread that lives as long as the program
/// (see the spawner), so the signal fires exactly when the program ends — however it ends.
///
/// There is a race: the parent may die between `fork` and the `prctl`, and then the signal would
/// never come. After arming it, the child compares `getppid()` with the pid the parent had
/// before forking; if they differ the parent is already gone and the child gives up before `exec`.
pub(crate) fn die_with_parent(command: &mut Command) {
    let parent = std::process::id();
    // SAFETY: the hook runs in the child between `fork` and `exec`, where only async-signal-safe
    // operations are allowed. `arm` makes two system calls (`prctl`, `getppid`) and builds an
    // `io::Error` from a raw errno — no allocation, no lock, nothing shared with other threads.
    unsafe {
        command.pre_exec(move || arm(parent));
    }
}

fn arm(parent: u32) -> io::Result<()> {
    // SAFETY: `prctl(PR_SET_PDEATHSIG, sig)` and `getppid()` take plain integers and touch no
    // memory of ours; both are async-signal-safe system calls.
    let (armed, actual_parent) = unsafe {
        let armed = libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        );
        (armed, libc::getppid())
    };
    if armed == -1 {
        return Err(io::Error::last_os_error());
    }
    if u32::try_from(actual_parent).ok() != Some(parent) {
        return Err(io::Error::from_raw_os_error(libc::ESRCH));
    }
    Ok(())
}
