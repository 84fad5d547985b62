//! What every `App` test shares: a scratch runpath, tracking of every pid a test started (each
//! test ends by asserting they are all gone), a signal sender, and the helper program.

use std::path::Path;
use std::time::Duration;

use testrig::testing::{ProcessTracker, ScratchDir};
use testrig::{Environment, EnvironmentBuilder};

/// How long a killed process may take to disappear before a test calls it leaked.
const GONE_DEADLINE: Duration = Duration::from_secs(5);

/// A test's scratch directory and the processes it started.
pub struct Scratch {
    dir: ScratchDir,
    started: ProcessTracker,
}

impl Scratch {
    /// A fresh, empty runpath for the test `name`, owned by this run of the test program.
    pub fn new(name: &str) -> Scratch {
        Scratch {
            dir: ScratchDir::new(Path::new(env!("CARGO_TARGET_TMPDIR")).join("app"), name),
            started: ProcessTracker::new(),
        }
    }

    /// The environment's runpath: each driver gets `<dir>/<driver>`.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// An environment builder writing into the scratch directory.
    pub fn env(&self, name: &str) -> EnvironmentBuilder {
        Environment::builder(name).runpath(self.dir.path())
    }

    /// Records a process the test started, to check at the end that it is gone. One that is
    /// already gone is recorded as such.
    pub fn track(&self, pid: u32) {
        self.started.track(pid);
    }

    /// A handle to record pids from inside a test body run by `Environment::run`.
    pub fn pids(&self) -> ProcessTracker {
        self.started.clone()
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

/// Sends `signal` to the single process `pid` (not its group), as something outside testrig
/// would.
pub fn send_signal(pid: u32, signal: i32) {
    let pid = i32::try_from(pid).expect("a pid fits in i32");
    // SAFETY: kill(2) takes plain integers; a wrong pid is an error, not undefined behaviour.
    let sent = unsafe { libc::kill(pid, signal) };
    assert_eq!(
        sent,
        0,
        "kill({pid}, {signal}): {}",
        std::io::Error::last_os_error()
    );
}

/// Whether `cgroup` (what `Process::cgroup` said) is a cgroup. If not, prints a skip line naming
/// why, and fails when `CI` is set: the machines CI runs on have a writable cgroup v2.
pub fn in_cgroup_or_skip(test: &str, cgroup: &Result<std::path::PathBuf, String>) -> bool {
    let containment = match cgroup {
        Ok(_) => return true,
        Err(why) => format!("process group only ({why})"),
    };
    assert!(
        std::env::var_os("CI").is_none(),
        "{test}: cgroup v2 is required on CI, but the program is held by its {containment}"
    );
    println!("skip: {test}: cgroup v2 is not writable here ({containment})");
    false
}

/// The helper program: this test binary, re-executed to run `helper_program` only.
pub mod helper {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};

    use testrig::testing::HelperProgram;

    /// The helper program: an `App` runs `HELPER.program()` with `HELPER.args()`, and the mode
    /// in the variable `HELPER.variable()`.
    pub const HELPER: HelperProgram = HelperProgram::new("helper_program", "TESTRIG_APP_HELPER");

    /// Mode `listen`: binds `127.0.0.1:0`, prints `listening on port <port>` on stdout, and
    /// echoes whatever each connection sends.
    pub const LISTEN: &str = "listen";

    /// Mode `report-warnings`: runs an environment with two `App`s (`sleep 1000`, started and
    /// stopped) and prints each warning of the report as `warning: <driver>: <text>` on stdout.
    /// Run it with `TESTRIG_CGROUP=0` to see what the report says where cgroups are not
    /// available.
    pub const REPORT_WARNINGS: &str = "report-warnings";

    /// The helper program's entry point.
    pub fn main() {
        let Some(mode) = HELPER.mode() else {
            return;
        };
        match mode.as_str() {
            LISTEN => listen(),
            REPORT_WARNINGS => report_warnings(),
            _ => panic!("unknown helper mode `{mode}`"),
        }
    }

    fn report_warnings() -> ! {
        use testrig_drivers::app::App;
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let report = runtime.block_on(async {
            let runpath = std::env::temp_dir().join(format!("app-helper-{}", std::process::id()));
            let env = testrig::Environment::builder("warnings")
                .runpath(&runpath)
                .driver(App::new("first", "sleep").args(["1000"]))
                .driver(App::new("second", "sleep").args(["1000"]))
                .build()
                .unwrap();
            env.run(|_env| async { Ok::<_, testrig::Error>(()) })
                .await
                .unwrap();
            let _ = std::fs::remove_dir_all(&runpath);
            env.report()
        });
        let mut stdout = std::io::stdout().lock();
        for driver in &report.drivers {
            for warning in &driver.warnings {
                writeln!(stdout, "warning: {}: {warning}", driver.name).unwrap();
            }
        }
        stdout.flush().unwrap();
        std::process::exit(0);
    }

    fn listen() -> ! {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().unwrap().port();
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening on port {port}").unwrap();
        stdout.flush().unwrap();
        drop(stdout);
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            std::thread::spawn(move || echo(stream));
        }
        std::process::exit(0);
    }

    fn echo(mut stream: TcpStream) {
        let mut buffer = [0u8; 4096];
        while let Ok(read) = stream.read(&mut buffer) {
            if read == 0 || stream.write_all(&buffer[..read]).is_err() {
                return;
            }
        }
    }
}

/// Waits (5 s at most) until the command line of `pid` reads `command`; whether it did.
pub async fn wait_for_command(pid: u32, command: &str) -> bool {
    testrig::testing::wait_for_command_line(pid, command, std::time::Duration::from_secs(5)).await
}
