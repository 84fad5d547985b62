//! cgroup v2 containment: each spawned program in a cgroup of its own, so that nothing it
//! started — not even a descendant that left its process group with `setsid` — outlives it.
//!
//! - [`session`] finds a writable cgroup v2 hierarchy once per test program and creates the
//!   program's **session** cgroup under it (`<parent>/testrig/<pid>`), or says why it cannot.
//! - [`Cgroup`] is one spawned program's cgroup in the session: `cgroup.kill` kills everything in
//!   it, `cgroup.freeze` pauses it, `cpu.stat` tells the CPU time it used, `rmdir` removes it.
//! - [`enter`] moves a child into its cgroup between `fork` and `exec`, before it can start
//!   anything.

#[allow(clippy::module_inception)]
mod cgroup;
mod enter;
mod events;
mod session;

pub(crate) use cgroup::Cgroup;
pub(crate) use enter::enter_before_exec;
pub use session::CGROUP_VAR;
#[cfg(feature = "testing")]
pub(crate) use session::frozen_pid;
pub(crate) use session::session;
