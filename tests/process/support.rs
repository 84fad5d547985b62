//! What every process test shares: a scratch runpath, tracking of every pid a test started (each
//! test ends by asserting they are all gone), and the helper program.

use std::path::Path;
use std::time::Duration;

use testrig::process::{Command, Process, ProcessMonitor};
use testrig::testing::{ProcessTracker, ScratchDir};

/// How long a killed process may take to disappear before a test calls it leaked.
const GONE_DEADLINE: Duration = Duration::from_secs(5);

/// A test's scratch directory and the processes it started.
pub struct Scratch {
    dir: ScratchDir,
    started: ProcessTracker,
}

impl Scratch {
    /// A fresh, empty runpath for the test `name`, owned by this run of the test program (runs
    /// in parallel do not share it).
    pub fn new(name: &str) -> Scratch {
        Scratch {
            dir: ScratchDir::new(Path::new(env!("CARGO_TARGET_TMPDIR")).join("process"), name),
            started: ProcessTracker::new(),
        }
    }

    /// The runpath.
    pub fn runpath(&self) -> &Path {
        self.dir.path()
    }

    /// A monitor writing into the runpath.
    pub fn monitor(&self) -> ProcessMonitor {
        ProcessMonitor::new(self.dir.path())
    }

    /// Spawns `command` alone and tracks it.
    pub async fn spawn(&self, command: Command) -> Process {
        let process = Process::spawn(command, self.dir.path())
            .await
            .expect("spawn");
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
        self.started.track(pid);
    }

    /// Asserts that no process the test started is alive (waiting a little for those just
    /// killed).
    pub async fn assert_nothing_left(self) {
        assert!(!self.started.is_empty(), "the test tracked no process");
        self.started.assert_all_gone(GONE_DEADLINE).await;
    }
}

impl Drop for Scratch {
    /// Makes sure a test that started processes checked that they are gone (the directory goes
    /// with the test's success).
    fn drop(&mut self) {
        if !std::thread::panicking() {
            assert!(
                self.started.is_empty(),
                "the test started processes but did not end with `assert_nothing_left`"
            );
        }
    }
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

    use testrig::process::{CGROUP_VAR, Command, Pattern, ProcessMonitor};
    use testrig::testing::HelperProgram;

    const HELPER: HelperProgram = HelperProgram::new("helper_program", "TESTRIG_PROCESS_HELPER");
    const RUNPATH: &str = "TESTRIG_PROCESS_HELPER_RUNPATH";

    /// A command running the helper program in `mode`.
    pub fn command(mode: &str) -> Command {
        HELPER
            .command(mode)
            .name(format!("helper-{}", mode.split(' ').next().unwrap_or(mode)))
    }

    /// Prints `count` numbered lines of `width` bytes each (newline excluded) on stderr, as fast
    /// as it can, then exits 0. (stderr, because libtest itself prints on stdout.)
    pub fn lines_on_stderr(count: usize, width: usize) -> Command {
        command(&format!("lines {count} {width}"))
    }

    /// Runs the helper without cgroups, for it or for what it spawns: a cgroup would take its
    /// descendants along when it is killed, and the test would not see whether the parent-death
    /// signal and the process-group guardian did their part.
    fn without_cgroups(command: Command) -> Command {
        command.cgroup(false).env(CGROUP_VAR, "0")
    }

    /// Starts `sleep 1000` as a daemon of its own `ProcessMonitor` (no cgroups), prints
    /// `daemon pid <pid>`, then waits (30 s at most) to be killed.
    pub fn daemon_parent(runpath: &std::path::Path) -> Command {
        without_cgroups(command("daemon-parent").env(RUNPATH, runpath))
    }

    /// Runs (outside any cgroup of the test's) `sh -c 'setsid sleep 1000 & …; wait'` through
    /// testrig in a cgroup, prints `escapee <pid> session <dir>` (the sleep, out of the shell's
    /// process group, and the helper's session cgroup) once the sleep runs, then waits (30 s at
    /// most) to be killed.
    pub fn escaper_parent(runpath: &std::path::Path) -> Command {
        command("escaper-parent")
            .env(RUNPATH, runpath)
            .cgroup(false)
    }

    /// How [`grandchild_parent`] ends once it printed its line.
    #[derive(Debug, Clone, Copy)]
    pub enum Ending {
        /// Waits (30 s at most) to be killed.
        WaitToBeKilled,
        /// Exits at once with `std::process::exit(0)`, stopping nothing it started.
        ExitAtOnce,
    }

    /// Runs `sh -c 'sleep 1000 & …; wait'` as a daemon through testrig, without cgroups (a shell
    /// whose background child is a grandchild of the helper), prints `grandchild <pid> guardian <pid>` (the
    /// guardian testrig started for the helper), then ends as `ending` says.
    pub fn grandchild_parent(runpath: &std::path::Path, ending: Ending) -> Command {
        let ending = match ending {
            Ending::WaitToBeKilled => "wait",
            Ending::ExitAtOnce => "exit",
        };
        without_cgroups(command(&format!("grandchild-parent {ending}")).env(RUNPATH, runpath))
    }

    /// The lines `lines_on_stderr(count, width)` prints.
    pub fn expected_lines(count: usize, width: usize) -> Vec<String> {
        (0..count)
            .map(|i| format!("{i:08} {}", "x".repeat(width - 9)))
            .collect()
    }

    /// The helper program's entry point.
    pub fn main() {
        let Some(mode) = HELPER.mode() else {
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
            ["escaper-parent"] => escaper_parent_main(),
            ["grandchild-parent", ending] => grandchild_parent_main(ending),
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

    fn escaper_parent_main() {
        let runpath = std::env::var(RUNPATH).expect("runpath");
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let mut monitor = ProcessMonitor::new(runpath);
            let shell = monitor
                .run(
                    Command::shell("setsid sleep 1000 & echo \"escapee $!\"; wait")
                        .daemon()
                        .ready_when(Pattern::stdout(r"^escapee (?P<pid>\d+)$").unwrap()),
                )
                .await
                .expect("spawn the shell");
            let captures = shell.ready(Duration::from_secs(10)).await.expect("ready");
            let escapee = super::pid_after("pid", &captures);
            assert!(
                super::wait_for_command(escapee, "sleep 1000").await,
                "setsid did not run"
            );
            let session = match shell.cgroup() {
                Ok(cgroup) => cgroup.parent().unwrap().display().to_string(),
                Err(_) => "none".to_owned(),
            };
            println!("escapee {escapee} session {session}");
            std::io::stdout().flush().unwrap();
            tokio::time::sleep(Duration::from_secs(30)).await;
        });
        std::process::exit(0);
    }

    fn grandchild_parent_main(ending: &str) {
        let runpath = std::env::var(RUNPATH).expect("runpath");
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let mut monitor = ProcessMonitor::new(runpath);
            let shell = monitor
                .run(
                    Command::shell("sleep 1000 & echo \"grandchild $!\"; wait")
                        .daemon()
                        .ready_when(Pattern::stdout(r"^grandchild (?P<pid>\d+)$").unwrap()),
                )
                .await
                .expect("spawn the shell");
            let captures = shell.ready(Duration::from_secs(10)).await.expect("ready");
            println!(
                "grandchild {} guardian {}",
                super::pid_after("pid", &captures),
                guardian_pid()
            );
            std::io::stdout().flush().unwrap();
            match ending {
                "wait" => tokio::time::sleep(Duration::from_secs(30)).await,
                // Dropping them would kill the shell's group: leave that to the guardian.
                _ => std::mem::forget((monitor, shell)),
            }
        });
        std::process::exit(0);
    }

    /// The pid of the guardian testrig started for this program: its child running the
    /// guardian's shell script.
    ///
    /// Looked for again for up to a second: proc(5) calls the `children` files reliable only
    /// when the children are stopped, and the guardian was once not found on a loaded machine.
    fn guardian_pid() -> u32 {
        let give_up = std::time::Instant::now() + Duration::from_secs(1);
        loop {
            if let Some(guardian) = find_guardian() {
                return guardian;
            }
            assert!(std::time::Instant::now() < give_up, "no guardian runs");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn find_guardian() -> Option<u32> {
        let children = std::fs::read_dir("/proc/self/task")
            .unwrap()
            .flatten()
            .map(|task| std::fs::read_to_string(task.path().join("children")).unwrap_or_default())
            .collect::<Vec<String>>()
            .join(" ");
        children
            .split_whitespace()
            .map(|pid| pid.parse::<u32>().unwrap())
            .find(|pid| {
                std::fs::read(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|cmdline| String::from_utf8_lossy(&cmdline).contains("trap '' INT"))
            })
    }
}

/// Whether `process` runs in a cgroup of its own. If not, prints a skip line naming why, and
/// fails when `CI` is set: the machines CI runs on have a writable cgroup v2.
pub fn in_cgroup_or_skip(test: &str, process: &testrig::process::Process) -> bool {
    let why = match process.cgroup() {
        Ok(_) => return true,
        Err(why) => format!("process group only ({why})"),
    };
    assert!(
        std::env::var_os("CI").is_none(),
        "{test}: cgroup v2 is required on CI, but the program is held by its {why}"
    );
    println!("skip: {test}: cgroup v2 is not writable here ({why})");
    false
}

/// Waits (5 s at most) until the command line of `pid` reads `command`; whether it did.
pub async fn wait_for_command(pid: u32, command: &str) -> bool {
    testrig::testing::wait_for_command_line(pid, command, std::time::Duration::from_secs(5)).await
}
