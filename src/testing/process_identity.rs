use std::time::{Duration, Instant};

/// How often a wait looks at `/proc` again.
const LOOK_AGAIN: Duration = Duration::from_millis(5);

/// A process seen by a test: its pid and its start time, so a pid the kernel hands to a new
/// process after this one ended is never mistaken for it. Read from `/proc`.
///
/// It works for any process, not only the test's own children: a grandchild whose pid a script
/// printed, a daemon a helper program started.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use testrig::process::{Command, Process};
/// use testrig::testing::ProcessIdentity;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let runpath = std::env::temp_dir().join("process-identity-example");
/// let sleeper = Process::spawn(Command::new("sleep").arg("1000"), &runpath).await.unwrap();
/// let identity = ProcessIdentity::of(sleeper.pid()).expect("it runs");
///
/// sleeper.pause().await.unwrap();
/// assert!(identity.wait_stopped(Duration::from_secs(5)).await);
/// sleeper.resume().await.unwrap();
/// assert!(identity.wait_continued(Duration::from_secs(5)).await);
///
/// sleeper.kill().unwrap();
/// assert!(identity.wait_gone(Duration::from_secs(5)).await);
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProcessIdentity {
    pid: u32,
    /// Field 22 of `/proc/<pid>/stat`: when the process started, in clock ticks since boot.
    start_time: u64,
}

impl ProcessIdentity {
    /// The identity of the live process `pid`; `None` when there is none (a zombie is not
    /// live: it has ended, only nobody has collected its exit status yet).
    pub fn of(pid: u32) -> Option<ProcessIdentity> {
        let stat = Stat::of(pid)?;
        (!stat.is_dead()).then_some(ProcessIdentity {
            pid,
            start_time: stat.start_time,
        })
    }

    /// The process id.
    pub fn pid(self) -> u32 {
        self.pid
    }

    /// Whether the process still runs. A zombie does not: it is dead, only not reaped yet (an
    /// orphan's reaper may be slow, or absent in a container).
    pub fn is_alive(self) -> bool {
        self.stat().is_some_and(|stat| !stat.is_dead())
    }

    /// Whether the process is alive and stopped by a signal (`SIGSTOP`, `SIGTSTP`…) or frozen by
    /// its cgroup v2 (`cgroup.freeze`), as
    /// [`Process::pause`](crate::process::Process::pause) leaves it.
    pub fn is_stopped(self) -> bool {
        self.stat().is_some_and(|stat| {
            stat.state == 'T' || (!stat.is_dead() && crate::process::frozen_pid(self.pid))
        })
    }

    /// Waits up to `within` for the process to be gone; whether it is.
    pub async fn wait_gone(self, within: Duration) -> bool {
        self.wait_until(within, |process| !process.is_alive()).await
    }

    /// Waits up to `within` for the process to be stopped by a signal (signals are delivered
    /// asynchronously); whether it is.
    pub async fn wait_stopped(self, within: Duration) -> bool {
        self.wait_until(within, ProcessIdentity::is_stopped).await
    }

    /// Waits up to `within` for the process to run again after a stop: alive and no longer
    /// stopped; whether it does.
    pub async fn wait_continued(self, within: Duration) -> bool {
        self.wait_until(within, |process| {
            process.is_alive() && !process.is_stopped()
        })
        .await
    }

    /// Waits up to `within` for `condition` to hold of the process.
    ///
    /// The kernel offers no event for a change of state of a process that is not our child (nor
    /// for its death), so this looks at `/proc` again every 5 ms: fit for asserting in a test,
    /// not for waiting in a program.
    async fn wait_until(
        self,
        within: Duration,
        condition: impl Fn(ProcessIdentity) -> bool,
    ) -> bool {
        let give_up = Instant::now() + within;
        while !condition(self) {
            if Instant::now() >= give_up {
                return false;
            }
            tokio::time::sleep(LOOK_AGAIN).await;
        }
        true
    }

    /// The process's `/proc` entry, if it is still this process.
    fn stat(self) -> Option<Stat> {
        Stat::of(self.pid).filter(|stat| stat.start_time == self.start_time)
    }
}

/// The two fields of `/proc/<pid>/stat` an identity needs.
struct Stat {
    /// The state letter: `R` running, `S` sleeping, `T` stopped, `Z` zombie… (see proc(5)).
    state: char,
    start_time: u64,
}

impl Stat {
    fn of(pid: u32) -> Option<Stat> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        Stat::parse(&stat)
    }

    fn parse(stat: &str) -> Option<Stat> {
        // `pid (comm) state ppid …`: comm may hold spaces and parentheses, so split after the
        // last `)`. The state is field 3, the start time field 22.
        let mut fields = stat[stat.rfind(')')? + 1..].split_whitespace();
        let state = fields.next()?.chars().next()?;
        let start_time = fields.nth(18)?.parse().ok()?;
        Some(Stat { state, start_time })
    }

    fn is_dead(&self) -> bool {
        matches!(self.state, 'Z' | 'X' | 'x')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_and_start_time_are_read_after_a_command_name_holding_parentheses() {
        let stat = "42 (a (b) c) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 \
                    98765 1000 10 18446744073709551615";
        let stat = Stat::parse(stat).unwrap();
        assert_eq!((stat.state, stat.start_time), ('S', 98765));
    }

    #[test]
    fn this_test_program_is_alive_and_not_stopped() {
        let me = ProcessIdentity::of(std::process::id()).unwrap();
        assert_eq!(me.pid(), std::process::id());
        assert!(me.is_alive());
        assert!(!me.is_stopped());
    }

    #[test]
    fn a_pid_that_runs_nothing_has_no_identity() {
        // Above the kernel's largest possible pid (2^22).
        assert_eq!(ProcessIdentity::of(1 << 23), None);
    }
}
