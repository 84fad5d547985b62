//! `Cgroup`: the cgroup v2 of one spawned program.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::events::{self, EventKey};

/// How often removing a cgroup is tried again: the kernel may refuse `rmdir` (`EBUSY`) for a
/// moment after its last process is gone, and offers no event for the moment it accepts.
const REMOVE_RETRY: Duration = Duration::from_millis(10);

/// One spawned program's cgroup (a directory of the session cgroup). Everything the program
/// starts is born in it, whatever process group or session it moves to.
#[derive(Debug)]
pub(crate) struct Cgroup {
    dir: PathBuf,
}

impl Cgroup {
    /// Creates the cgroup `dir` and opens its `cgroup.procs` for the child to enter it (see
    /// [`enter_before_exec`](super::enter_before_exec)).
    pub(crate) fn create(dir: PathBuf) -> io::Result<(Cgroup, File)> {
        fs::create_dir(&dir)?;
        let cgroup = Cgroup { dir };
        // Close-on-exec (Rust's default): the program never holds it.
        let procs = OpenOptions::new()
            .write(true)
            .open(cgroup.dir.join("cgroup.procs"));
        match procs {
            Ok(procs) => Ok((cgroup, procs)),
            Err(error) => {
                let _ = fs::remove_dir(&cgroup.dir);
                Err(error)
            }
        }
    }

    /// The cgroup's directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Sends `SIGKILL` to every process in the cgroup, at once (`cgroup.kill`), frozen ones
    /// included. An empty cgroup is not an error.
    pub(crate) fn kill(&self) -> io::Result<()> {
        self.write("cgroup.kill", "1")
    }

    /// Freezes (`true`) or thaws (`false`) every process in the cgroup (`cgroup.freeze`). The
    /// kernel completes it asynchronously: [`wait_frozen`](Self::wait_frozen) tells when.
    pub(crate) fn freeze(&self, frozen: bool) -> io::Result<()> {
        self.write("cgroup.freeze", if frozen { "1" } else { "0" })
    }

    /// Blocks until the cgroup is reported frozen (`true`) or thawed (`false`), or `deadline`
    /// passes; whether it is.
    pub(crate) fn wait_frozen(&self, frozen: bool, deadline: Instant) -> io::Result<bool> {
        events::wait_for(&self.events(), EventKey::Frozen, frozen, deadline)
    }

    /// Blocks until no process is left in the cgroup, or `deadline` passes; whether it is empty.
    pub(crate) fn wait_empty(&self, deadline: Instant) -> io::Result<bool> {
        events::wait_for(&self.events(), EventKey::Populated, false, deadline)
    }

    /// The pids still in the cgroup.
    pub(crate) fn pids(&self) -> Vec<u32> {
        fs::read_to_string(self.dir.join("cgroup.procs"))
            .map(|text| text.lines().filter_map(|pid| pid.parse().ok()).collect())
            .unwrap_or_default()
    }

    /// The CPU time every process that ran in the cgroup used, user and system
    /// (`usage_usec` of `cpu.stat`, present whether or not the cpu controller is enabled).
    pub(crate) fn cpu_time(&self) -> io::Result<Duration> {
        let stat = fs::read_to_string(self.dir.join("cpu.stat"))?;
        parse_usage(&stat).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                "cpu.stat has no usage_usec line",
            )
        })
    }

    /// Removes the (empty) cgroup and the cgroups below it (a testrig program it ran made its
    /// own session there), trying again until `deadline` while the kernel still calls one busy.
    /// A cgroup already gone is not an error.
    pub(crate) fn remove(&self, deadline: Instant) -> io::Result<()> {
        loop {
            match remove_tree(&self.dir) {
                Ok(()) => return Ok(()),
                Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
                Err(error) if Instant::now() >= deadline => return Err(error),
                Err(error) if error.raw_os_error() == Some(libc::EBUSY) => {
                    std::thread::sleep(REMOVE_RETRY);
                }
                Err(error) => return Err(error),
            }
        }
    }

    fn events(&self) -> PathBuf {
        self.dir.join("cgroup.events")
    }

    fn write(&self, file: &str, value: &str) -> io::Result<()> {
        OpenOptions::new()
            .write(true)
            .open(self.dir.join(file))?
            .write_all(value.as_bytes())
    }
}

/// Removes the cgroup `dir` after the cgroups below it, deepest first (a cgroup with children
/// cannot be removed). The files in a cgroup's directory go with it.
pub(crate) fn remove_tree(dir: &Path) -> io::Result<()> {
    for entry in fs::read_dir(dir)?.flatten() {
        if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
            match remove_tree(&entry.path()) {
                Err(error) if error.kind() != io::ErrorKind::NotFound => return Err(error),
                _ => {}
            }
        }
    }
    fs::remove_dir(dir)
}

fn parse_usage(stat: &str) -> Option<Duration> {
    let micros = stat
        .lines()
        .find_map(|line| line.strip_prefix("usage_usec "))?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_micros(micros))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_time_is_usage_usec_of_cpu_stat() {
        let stat = "usage_usec 1234567\nuser_usec 1000000\nsystem_usec 234567\n";
        assert_eq!(parse_usage(stat), Some(Duration::from_micros(1_234_567)));
        assert_eq!(parse_usage("user_usec 1\n"), None);
    }
}
