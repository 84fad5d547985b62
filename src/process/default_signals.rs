//! A child starts with every signal at its default action, whatever the test program
//! inherited.
//!
//! An ignored signal stays ignored across `exec`. A test program started in the background
//! by a non-interactive shell (`cargo test &`, a CI step, `nohup`) ignores `SIGINT` and
//! `SIGQUIT`, and so would every process it spawns: a stop signal of `SIGINT` would then do
//! nothing and the stop would end, after its timeout, in `SIGKILL`. `posix_spawn` offers
//! `POSIX_SPAWN_SETSIGDEF` for this; here the same is done between `fork` and `exec`.
//! (The standard library already empties the child's signal mask.)

use tokio::process::Command;

/// Arranges for the child to start with the default action for every catchable signal.
pub(crate) fn restore_in_child(command: &mut Command) {
    // SAFETY: the hook runs in the child between `fork` and `exec`, where only
    // async-signal-safe operations are allowed; `reset` makes only `signal(2)` calls with
    // plain integers — no allocation, no lock.
    let last = libc::SIGRTMAX();
    unsafe {
        command.pre_exec(move || {
            reset(last);
            Ok(())
        });
    }
}

fn reset(last: libc::c_int) {
    for signal in 1..=last {
        if signal == libc::SIGKILL || signal == libc::SIGSTOP {
            continue;
        }
        // SAFETY: `signal` with SIG_DFL installs no handler and touches no memory of ours;
        // numbers the kernel refuses (reserved real-time signals) just fail with EINVAL.
        unsafe {
            libc::signal(signal, libc::SIG_DFL);
        }
    }
}
