//! `ProcessStats`: one snapshot of a process — who it is, where it is in its life, what it cost.

use std::fs;
use std::io;
use std::time::{Duration, SystemTime};

use super::{Kind, ProcessState, Survivor};

/// A snapshot of a process, from [`Process::stats`](super::Process::stats) or, for each process a
/// monitor stopped, from [`ProcessMonitor::stop`](super::ProcessMonitor::stop).
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
/// use testrig::process::{Command, Process};
///
/// # async fn run() -> Result<(), testrig::process::ProcessError> {
/// let sleeper = Process::spawn(Command::new("sleep").arg("10").daemon(), "/tmp/run").await?;
/// let stats = sleeper.stats();
/// println!("{} (pid {}) is {}, rss {:?}", stats.name, stats.pid, stats.state, stats.rss_bytes);
/// sleeper.stop(Duration::from_secs(1)).await?;
/// assert_eq!(sleeper.stats().rss_bytes, None); // `/proc` is read only while it runs
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct ProcessStats {
    /// The process's name.
    pub name: String,
    /// Its pid (and process group id).
    pub pid: u32,
    /// Daemon or task.
    pub kind: Kind,
    /// Its state (`Exited` carries how it ended: [`ProcessState::exit`]).
    pub state: ProcessState,
    /// When it was spawned (wall clock, for reports).
    pub started_at: SystemTime,
    /// When its end was recorded (wall clock), once it has ended.
    pub ended_at: Option<SystemTime>,
    /// How long it has run: until now, or until its end was recorded.
    pub run_time: Duration,
    /// The CPU time (user and system) of everything that ran in its cgroup — the program and
    /// every descendant — so far, or in total once it has ended. `None` without a cgroup.
    pub cpu_time: Option<Duration>,
    /// CPU time the program itself (not its children) spent in user mode, read from
    /// `/proc/<pid>/stat`; `None` once it has ended.
    pub user_cpu: Option<Duration>,
    /// CPU time the kernel spent on the program's behalf (`/proc/<pid>/stat`); `None` once it
    /// has ended.
    pub system_cpu: Option<Duration>,
    /// The program's resident memory in bytes (`/proc/<pid>/status`); `None` once it has ended.
    pub rss_bytes: Option<u64>,
    /// Descendants found alive after the program ended and its leftovers were killed: those that
    /// left its process group where no cgroup holds them (or, rarely, that even `cgroup.kill`
    /// did not end in time). They are logged as a warning; testrig does not kill them (they are
    /// no longer known to be the program's). Empty while the program runs.
    pub survivors: Vec<Survivor>,
}

/// CPU time and memory of a running program (itself, not its children), read from
/// `/proc/<pid>/stat` and `/proc/<pid>/status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ResourceUsage {
    pub(crate) user_cpu: Duration,
    pub(crate) system_cpu: Duration,
    pub(crate) rss_bytes: u64,
}

/// The unit of the CPU times in `/proc/<pid>/stat`. `sysconf(_SC_CLK_TCK)` returns this USER_HZ,
/// which the kernel's ABI fixes at 100 on every Linux architecture Rust supports but Alpha.
const TICKS_PER_SECOND: u64 = 100;

impl ResourceUsage {
    /// Reads the usage of the running process `pid`.
    pub(crate) fn of_pid(pid: u32) -> io::Result<ResourceUsage> {
        let stat = fs::read_to_string(format!("/proc/{pid}/stat"))?;
        let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
        ResourceUsage::parse(&stat, &status)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unexpected /proc format"))
    }

    fn parse(stat: &str, status: &str) -> Option<ResourceUsage> {
        // `pid (comm) state ppid …`: comm may hold spaces and parentheses, so split after the last
        // `)`. utime and stime are fields 14 and 15, i.e. the 12th and 13th after comm.
        let after_comm = &stat[stat.rfind(')')? + 1..];
        let mut fields = after_comm.split_whitespace().skip(11);
        let user_ticks: u64 = fields.next()?.parse().ok()?;
        let system_ticks: u64 = fields.next()?.parse().ok()?;
        let rss_kib: u64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.trim().strip_suffix("kB"))
            .and_then(|kib| kib.trim().parse().ok())
            // Kernel threads and zombies have no VmRSS line.
            .unwrap_or(0);
        Some(ResourceUsage {
            user_cpu: ticks(user_ticks),
            system_cpu: ticks(system_ticks),
            rss_bytes: rss_kib * 1024,
        })
    }
}

fn ticks(count: u64) -> Duration {
    Duration::from_millis(count * 1000 / TICKS_PER_SECOND)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_times_and_rss_are_read_from_proc_formats() {
        let stat = "42 (a (weird) name) S 1 42 42 0 -1 4194560 100 0 0 0 250 37 0 0 20 0 1 0 \
                    1000 1000000 300 18446744073709551615";
        let status = "Name:\tx\nVmRSS:\t    2048 kB\nThreads:\t1\n";
        let usage = ResourceUsage::parse(stat, status).unwrap();
        assert_eq!(usage.user_cpu, Duration::from_millis(2500));
        assert_eq!(usage.system_cpu, Duration::from_millis(370));
        assert_eq!(usage.rss_bytes, 2048 * 1024);
    }

    #[test]
    fn the_usage_of_this_test_program_is_readable() {
        let usage = ResourceUsage::of_pid(std::process::id()).unwrap();
        assert!(usage.rss_bytes > 0);
    }
}
