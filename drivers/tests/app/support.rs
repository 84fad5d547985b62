//! What every `App` test shares: a scratch runpath, tracking of every pid a test started (each
//! test ends by asserting they are all gone), `/proc` inspection, and the helper program.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use testrig::{Environment, EnvironmentBuilder};

/// How long a killed process may take to disappear before a test calls it leaked.
const GONE_DEADLINE: Duration = Duration::from_secs(5);

/// A test's scratch directory and the processes it started.
pub struct Scratch {
    dir: PathBuf,
    started: Pids,
}

/// The processes a test started; clones share the list, so a test body run by
/// `Environment::run` can record pids too.
#[derive(Clone, Default)]
pub struct Pids(Arc<Mutex<Vec<Option<Identity>>>>);

impl Pids {
    /// Records a process the test started, to check at the end that it is gone. One that is
    /// already gone is recorded as such.
    pub fn track(&self, pid: u32) {
        self.0.lock().unwrap().push(Identity::of(pid));
    }
}

impl Scratch {
    /// A fresh, empty runpath for the test `name`, owned by this run of the test program.
    pub fn new(name: &str) -> Scratch {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("app")
            .join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the scratch directory");
        Scratch {
            dir,
            started: Pids::default(),
        }
    }

    /// The environment's runpath: each driver gets `<dir>/<driver>`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// An environment builder writing into the scratch directory.
    pub fn env(&self, name: &str) -> EnvironmentBuilder {
        Environment::builder(name).runpath(&self.dir)
    }

    /// Records a process the test started; see [`Pids::track`].
    pub fn track(&self, pid: u32) {
        self.started.track(pid);
    }

    /// A handle to record pids from inside a test body.
    pub fn pids(&self) -> Pids {
        self.started.clone()
    }

    /// Asserts that no process the test started is alive (waiting a little for those just
    /// killed).
    pub async fn assert_nothing_left(self) {
        let started = std::mem::take(&mut *self.started.0.lock().unwrap());
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
        let unchecked = self.started.0.lock().unwrap().len();
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

    /// Whether the process still runs (a zombie does not).
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
fn proc_stat(pid: u32) -> Option<(char, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut fields = stat[stat.rfind(')')? + 1..].split_whitespace();
    let state = fields.next()?.chars().next()?;
    let start_time = fields.nth(18)?.parse().ok()?;
    Some((state, start_time))
}

/// Waits up to 5 s for `pid` to be in one of `states` (`T` stopped, `S` sleeping…); signals
/// are delivered asynchronously.
pub async fn wait_proc_state(pid: u32, states: &[char]) -> bool {
    let give_up = Instant::now() + GONE_DEADLINE;
    loop {
        if proc_stat(pid).is_some_and(|(state, _)| states.contains(&state)) {
            return true;
        }
        if Instant::now() >= give_up {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
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

/// The helper program: this test binary, re-executed to run `helper_program` only.
pub mod helper {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};

    const MODE: &str = "TESTRIG_APP_HELPER";

    /// The binary and arguments that run the helper program; the mode goes in the environment
    /// (see [`MODE_VARIABLE`]).
    pub fn binary() -> std::path::PathBuf {
        std::env::current_exe().expect("the test binary's path")
    }

    /// The arguments that make the test binary run the helper program only.
    pub const ARGS: [&str; 6] = [
        "--ignored",
        "--exact",
        "helper_program",
        "--nocapture",
        "--test-threads=1",
        "-q",
    ];

    /// The environment variable that selects the helper's mode.
    pub const MODE_VARIABLE: &str = MODE;

    /// Mode `listen`: binds `127.0.0.1:0`, prints `listening on port <port>` on stdout, and
    /// echoes whatever each connection sends.
    pub const LISTEN: &str = "listen";

    /// The helper program's entry point.
    pub fn main() {
        let Ok(mode) = std::env::var(MODE) else {
            return;
        };
        match mode.as_str() {
            LISTEN => listen(),
            _ => panic!("unknown helper mode `{mode}`"),
        }
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
