//! `Containment`: what holds a spawned program and everything it starts, so that none outlives it.

use std::fmt;
use std::path::PathBuf;

/// What holds a spawned program and every process it starts together.
///
/// Where cgroup v2 is writable (root, or a delegated subtree), each program gets a **cgroup** of
/// its own, entered before it runs: stop and kill reach every descendant (`cgroup.kill`), even
/// one that left the process group with `setsid`; pause freezes them all (`cgroup.freeze`); the
/// CPU time of the whole tree is measured. Elsewhere — or with
/// [`Command::cgroup(false)`](super::Command::cgroup), or `TESTRIG_CGROUP=0` in the environment —
/// the program is held by its **process group** only, and a descendant that leaves it survives:
/// it is reported as a [`Survivor`](super::Survivor) after the program ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Containment {
    /// A cgroup v2 of its own: its directory.
    Cgroup(PathBuf),
    /// Its process group only, and why not a cgroup.
    ProcessGroup(String),
}

impl Containment {
    /// The cgroup's directory, or why the program has none.
    pub(crate) fn cgroup(&self) -> Result<&std::path::Path, &str> {
        match self {
            Containment::Cgroup(dir) => Ok(dir),
            Containment::ProcessGroup(why) => Err(why),
        }
    }
}

impl fmt::Display for Containment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Containment::Cgroup(dir) => write!(f, "cgroup {}", dir.display()),
            Containment::ProcessGroup(why) => write!(f, "process group only ({why})"),
        }
    }
}
