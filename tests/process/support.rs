//! What every process test shares: a scratch runpath, tracking of every pid a test started (each
//! test ends by asserting they are all gone), and the helper program.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use testrig::process::{Command, Process, ProcessMonitor};

/// How long a killed process may take to disappear before a test calls it leaked.
const GONE_DEADLINE: Duration = Duration::from_secs(5);

/// A test's scratch directory and the processes it started.
pub struct Scratch {
    dir: PathBuf,
    started: Mutex<Vec<Option<Identity>>>,
}

impl Scratch {
    /// A fresh, empty runpath for the test `name`, owned by this run of the test program (runs
    /// in parallel do not share it).
    pub fn new(name: &str) -> Scratch {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("process")
            .join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the scratch directory");
        Scratch {
            dir,
            started: Mutex::new(Vec::new()),
        }
    }

    /// The runpath.
    pub fn runpath(&self) -> &Path {
        &self.dir
    }

    /// A monitor writing into the runpath.
    pub fn monitor(&self) -> ProcessMonitor {
        ProcessMonitor::new(&self.dir)
    }

    /// Spawns `command` alone and tracks it.
    pub async fn spawn(&self, command: Command) -> Process {
        let process = Process::spawn(command, &self.dir).await.expect("spawn");
        self.track(&process);
        process
    }

    /// Spawns `command` in `monitor` and tracks it.
    pub async fn run(&self, monitor: &mut ProcessMonitor, command: Command) -> Process {
        let process = monitor.run(command).await.expect("spawn in the monitor");
        self.track(&process);
        process
    }

    /// Records a process the test started, to check at the end that it is gone.
    pub fn track(&self, process: &Process) {
        self.track_pid(process.pid());
    }

    /// Records a process by pid (e.g. a grandchild whose pid a script printed). One that is
    /// already gone is recorded as such.
    pub fn track_pid(&self, pid: u32) {
        self.started.lock().unwrap().push(Identity::of(pid));
    }

    /// Asserts that no process the test started is alive (waiting a little for those just
    /// killed).
    pub async fn assert_nothing_left(self) {
        let started = std::mem::take(&mut *self.started.lock().unwrap());
        assert!(!started.is_empty(), "the test tracked no process");
        for identity in started.into_iter().flatten() {
            assert!(
                identity.wait_gone(GONE_DEADLINE).await,
                "process {} is still alive",
                identity.pid
            );
        }
    }
}

impl Drop for Scratch {
    /// Removes the scratch directory (unless the test failed: then its logs help), and makes sure
    /// a test that started processes checked that they are gone.
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let unchecked = self.started.lock().unwrap().len();
        let _ = std::fs::remove_dir_all(&self.dir);
        assert_eq!(
            unchecked, 0,
            "the test started processes but did not end with `assert_nothing_left`"
        );
    }
}

/// A process by pid and start time, so a recycled pid is not mistaken for it.
#[derive(Debug, Clone, Copy)]
pub struct Identity {
    pub pid: u32,
    start_time: u64,
}

impl Identity {
    /// The identity of the live process `pid`.
    pub fn of(pid: u32) -> Option<Identity> {
        let (state, start_time) = proc_stat(pid)?;
        (!is_dead_state(state)).then_some(Identity { pid, start_time })
    }

    /// Whether the process still runs (a zombie does not: it is dead, only not reaped yet —
    /// an orphan's reaper may be slow or absent in a container).
    pub fn is_alive(self) -> bool {
        match proc_stat(self.pid) {
            Some((state, start_time)) => start_time == self.start_time && !is_dead_state(state),
            None => false,
        }
    }

    /// Waits up to `deadline` for the process to be gone. The kernel offers no event for the
    /// death of a process that is not our child, so this looks at `/proc` every few milliseconds;
    /// it is used only to assert that nothing leaked.
    pub async fn wait_gone(self, deadline: Duration) -> bool {
        let give_up = Instant::now() + deadline;
        while self.is_alive() {
            if Instant::now() >= give_up {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        true
    }
}

fn is_dead_state(state: char) -> bool {
    matches!(state, 'Z' | 'X' | 'x')
}

/// The state letter and start time (field 22) of `pid`, from `/proc/<pid>/stat`.
pub fn proc_stat(pid: u32) -> Option<(char, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut fields = stat[stat.rfind(')')? + 1..].split_whitespace();
    let state = fields.next()?.chars().next()?;
    let start_time = fields.nth(18)?.parse().ok()?;
    Some((state, start_time))
}

/// The state letter of `pid` (`S` sleeping, `T` stopped, …), if it exists.
pub fn proc_state(pid: u32) -> Option<char> {
    proc_stat(pid).map(|(state, _)| state)
}

/// Waits up to 5 s for `pid` to be in `state` (signals are delivered asynchronously).
pub async fn wait_proc_state(pid: u32, state: char) -> bool {
    let give_up = Instant::now() + GONE_DEADLINE;
    while proc_state(pid) != Some(state) {
        if Instant::now() >= give_up {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    true
}

/// The first line of a script's output that reads `<label> <pid>`, as a pid.
pub fn pid_after(label: &str, captures: &testrig::process::Captures) -> u32 {
    captures
        .get(label)
        .unwrap_or_else(|| panic!("no `{label}` in {captures:?}"))
        .parse()
        .expect("a pid")
}

/// The helper program: this test binary, re-executed to run `helper_program` only.
pub mod helper {
    use std::io::Write;
    use std::time::Duration;

    use testrig::process::{Command, ProcessMonitor};

    const MODE: &str = "TESTRIG_PROCESS_HELPER";
    const RUNPATH: &str = "TESTRIG_PROCESS_HELPER_RUNPATH";

    /// A command running the helper program in `mode`.
    pub fn command(mode: &str) -> Command {
        let me = std::env::current_exe().expect("the test binary's path");
        Command::new(me)
            .args([
                "--ignored",
                "--exact",
                "helper_program",
                "--nocapture",
                "--test-threads=1",
            ])
            .name(format!("helper-{}", mode.split(' ').next().unwrap_or(mode)))
            .env(MODE, mode)
    }

    /// Prints `count` numbered lines of `width` bytes each (newline excluded) on stderr, as fast
    /// as it can, then exits 0. (stderr, because libtest itself prints on stdout.)
    pub fn lines_on_stderr(count: usize, width: usize) -> Command {
        command(&format!("lines {count} {width}"))
    }

    /// Starts `sleep 1000` as a daemon of its own `ProcessMonitor`, prints `daemon pid <pid>`,
    /// then waits (30 s at most) to be killed.
    pub fn daemon_parent(runpath: &std::path::Path) -> Command {
        command("daemon-parent").env(RUNPATH, runpath)
    }

    /// The lines `lines_on_stderr(count, width)` prints.
    pub fn expected_lines(count: usize, width: usize) -> Vec<String> {
        (0..count)
            .map(|i| format!("{i:08} {}", "x".repeat(width - 9)))
            .collect()
    }

    /// The helper program's entry point.
    pub fn main() {
        let Ok(mode) = std::env::var(MODE) else {
            return;
        };
        let words: Vec<&str> = mode.split(' ').collect();
        match words.as_slice() {
            ["lines", count, width] => {
                let lines = expected_lines(count.parse().unwrap(), width.parse().unwrap());
                let mut stderr = std::io::stderr().lock();
                for line in lines {
                    writeln!(stderr, "{line}").unwrap();
                }
                stderr.flush().unwrap();
                std::process::exit(0);
            }
            ["daemon-parent"] => daemon_parent_main(),
            _ => panic!("unknown helper mode `{mode}`"),
        }
    }

    fn daemon_parent_main() {
        let runpath = std::env::var(RUNPATH).expect("runpath");
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let mut monitor = ProcessMonitor::new(runpath);
            let daemon = monitor
                .run(Command::new("sleep").arg("1000").daemon())
                .await
                .expect("spawn the daemon");
            println!("daemon pid {}", daemon.pid());
            std::io::stdout().flush().unwrap();
            tokio::time::sleep(Duration::from_secs(30)).await;
        });
        std::process::exit(0);
    }
}
