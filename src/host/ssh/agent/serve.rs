//! The agent itself: what `testrig agent` runs on an SSH host.
//!
//! It reads requests on stdin and writes events on stdout (see `protocol.rs`), and depends on
//! nothing else of testrig: a current-thread runtime of its own, one thread reading stdin, one
//! writing stdout. Each program runs in a session and process group of its own (`setsid`), its
//! stdin `/dev/null`, with `SIGKILL` as its parent-death signal; signals go to its group. When
//! a program ends, what it left in its group is killed, its output is read to its end (500 ms at
//! most), then its exit is reported. At end-of-file on stdin — the channel is gone, however —
//! every group it started is sent `SIGKILL` and the agent exits.

use std::collections::HashMap;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

use super::protocol::{self, Failure, Frame, Spawn};

/// Bytes of output read at once (and sent in one frame).
const CHUNK: usize = 32 * 1024;

/// How long the end of a program's output is awaited after its end.
const DRAIN_DEADLINE: Duration = Duration::from_millis(500);

/// Frames waiting to be written: a program printing faster than the channel carries waits.
const QUEUE: usize = 256;

/// Serves the agent protocol on this process's stdin and stdout until stdin ends, then kills
/// every process group it started. Returns the exit code for the process (0, or 1 when the
/// runtime could not start or the channel broke).
pub fn serve() -> i32 {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("testrig agent: cannot start its runtime: {error}");
            return 1;
        }
    };
    let (events, outgoing) = mpsc::channel::<Frame>(QUEUE);
    let writer = std::thread::Builder::new()
        .name("agent-writer".into())
        .spawn(move || write_frames(outgoing));
    let (requests_in, mut requests) = mpsc::unbounded_channel::<io::Result<Frame>>();
    let reader = std::thread::Builder::new()
        .name("agent-reader".into())
        .spawn(move || read_frames(&requests_in));
    if writer.is_err() || reader.is_err() {
        eprintln!("testrig agent: cannot start its threads");
        return 1;
    }
    let groups: Groups = Arc::default();
    let code = runtime.block_on(async {
        let _ = events.send(hello()).await;
        let mut code = 0;
        while let Some(request) = requests.recv().await {
            match request {
                Ok(frame) => handle(frame, &groups, &events).await,
                Err(error) => {
                    eprintln!("testrig agent: reading requests failed: {error}");
                    code = 1;
                    break;
                }
            }
        }
        code
    });
    // The channel is gone: nothing may outlive it.
    for (_, pid) in groups.lock().unwrap_or_else(|p| p.into_inner()).drain() {
        kill_group(pid, libc::SIGKILL);
    }
    code
}

/// The running programs: request id → pid (its group's id).
type Groups = Arc<Mutex<HashMap<u32, i32>>>;

fn hello() -> Frame {
    let connection = std::env::var("SSH_CONNECTION").unwrap_or_default();
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        // SAFETY: getuid has no preconditions and cannot fail.
        .unwrap_or_else(|_| unsafe { libc::getuid() }.to_string());
    Frame::new(
        0,
        protocol::HELLO,
        format!("{connection}\n{user}\n").into_bytes(),
    )
}

/// Writes the preamble, then every frame, flushing whenever the queue is empty.
fn write_frames(mut frames: mpsc::Receiver<Frame>) {
    let stdout = io::stdout();
    // Buffered whole: a batch of frames is one write (the lock alone flushes at each newline).
    let mut out = io::BufWriter::with_capacity(CHUNK * 4, stdout.lock());
    if out.write_all(protocol::PREAMBLE).is_err() {
        return;
    }
    let mut bytes = Vec::new();
    while let Some(frame) = frames.blocking_recv() {
        bytes.clear();
        frame.encode_into(&mut bytes);
        while let Ok(more) = frames.try_recv() {
            more.encode_into(&mut bytes);
        }
        if out.write_all(&bytes).and_then(|()| out.flush()).is_err() {
            return;
        }
    }
}

/// Reads requests from stdin until its end.
fn read_frames(requests: &mpsc::UnboundedSender<io::Result<Frame>>) {
    let stdin = io::stdin();
    let mut input = stdin.lock();
    loop {
        match Frame::read(&mut input) {
            Ok(Some(frame)) => {
                if requests.send(Ok(frame)).is_err() {
                    return;
                }
            }
            Ok(None) => return,
            Err(error) => {
                let _ = requests.send(Err(error));
                return;
            }
        }
    }
}

async fn handle(frame: Frame, groups: &Groups, events: &mpsc::Sender<Frame>) {
    match frame.kind {
        protocol::SPAWN => match Spawn::decode(&frame.payload) {
            Ok(spawn) => start(frame.id, spawn, groups, events).await,
            Err(error) => fail(frame.id, Failure::Other, &error.to_string(), events).await,
        },
        protocol::SIGNAL => {
            let name = String::from_utf8_lossy(&frame.payload);
            let pid = groups
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(&frame.id)
                .copied();
            // A program that ended (or never started) is never signalled: its group id may be
            // another's by now.
            if let (Some(pid), Some(signal)) = (pid, protocol::signal_number(&name)) {
                kill_group(pid, signal);
            }
        }
        _ => {}
    }
}

async fn fail(id: u32, failure: Failure, message: &str, events: &mpsc::Sender<Frame>) {
    let mut payload = vec![failure as u8];
    payload.extend_from_slice(message.as_bytes());
    let _ = events.send(Frame::new(id, protocol::FAILED, payload)).await;
}

/// Starts a program and the task that reports its output and its end.
async fn start(id: u32, spawn: Spawn, groups: &Groups, events: &mpsc::Sender<Frame>) {
    let program = std::ffi::OsString::from_vec(spawn.program);
    if let (Some(cwd), true) = (&spawn.cwd, spawn.make_cwd)
        && let Err(error) = std::fs::create_dir_all(std::ffi::OsStr::from_bytes(cwd))
    {
        let message = format!("cannot make {}: {error}", String::from_utf8_lossy(cwd));
        return fail(id, Failure::NoDirectory, &message, events).await;
    }
    if let Some(cwd) = &spawn.cwd
        && !std::path::Path::new(std::ffi::OsStr::from_bytes(cwd)).is_dir()
    {
        let message = format!("{} is not a directory", String::from_utf8_lossy(cwd));
        return fail(id, Failure::NoDirectory, &message, events).await;
    }
    let mut command = tokio::process::Command::new(&program);
    command.args(spawn.args.into_iter().map(std::ffi::OsString::from_vec));
    for (key, value) in spawn.env {
        let key = std::ffi::OsString::from_vec(key);
        match value {
            Some(value) => command.env(key, std::ffi::OsString::from_vec(value)),
            None => command.env_remove(key),
        };
    }
    if let Some(cwd) = spawn.cwd {
        command.current_dir(std::ffi::OsString::from_vec(cwd));
    }
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: only async-signal-safe calls between fork and exec: setsid, prctl, getppid.
    unsafe {
        command.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(io::Error::last_os_error());
            }
            // Dies with the agent, should the agent be killed before it can kill the group.
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            if libc::getppid() == 1 {
                return Err(io::Error::other("the agent died during the spawn"));
            }
            Ok(())
        });
    }
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(error) => {
            let failure = match error.kind() {
                io::ErrorKind::NotFound => Failure::NotFound,
                _ => Failure::Other,
            };
            return fail(id, failure, &error.to_string(), events).await;
        }
    };
    let pid = child.id().expect("a child not yet waited for has a pid");
    let pid = i32::try_from(pid).expect("a pid fits in pid_t");
    groups
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(id, pid);
    let _ = events
        .send(Frame::new(
            id,
            protocol::SPAWNED,
            pid.cast_unsigned().to_be_bytes().to_vec(),
        ))
        .await;
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    let out = tokio::spawn(forward(id, protocol::STDOUT, stdout, events.clone()));
    let err = tokio::spawn(forward(id, protocol::STDERR, stderr, events.clone()));
    let groups = groups.clone();
    let events = events.clone();
    tokio::spawn(async move {
        let status = child.wait().await;
        // No more signals by request, then what it left in its group goes with it.
        groups.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
        kill_group(pid, libc::SIGKILL);
        let drained = async {
            let _ = out.await;
            let _ = err.await;
        };
        let _ = tokio::time::timeout(DRAIN_DEADLINE, drained).await;
        let payload = match status {
            Ok(status) => match (status.code(), status.signal()) {
                (Some(code), _) => [&[b'c'][..], &code.to_be_bytes()].concat(),
                (None, Some(signal)) => {
                    [&[b's'][..], protocol::signal_name(signal).as_bytes()].concat()
                }
                (None, None) => [&[b'c'][..], &status.into_raw().to_be_bytes()].concat(),
            },
            Err(_) => [&[b'c'][..], &255i32.to_be_bytes()].concat(),
        };
        let _ = events.send(Frame::new(id, protocol::EXITED, payload)).await;
    });
}

/// Sends what `pipe` carries as frames of `kind` until its end.
async fn forward(
    id: u32,
    kind: u8,
    mut pipe: impl tokio::io::AsyncRead + Unpin,
    events: mpsc::Sender<Frame>,
) {
    let mut buffer = vec![0; CHUNK];
    loop {
        match pipe.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(read) => {
                let frame = Frame::new(id, kind, buffer[..read].to_vec());
                if events.send(frame).await.is_err() {
                    return;
                }
            }
        }
    }
}

fn kill_group(pid: i32, signal: i32) {
    // SAFETY: killpg only reads its two integer arguments.
    let _ = unsafe { libc::killpg(pid, signal) };
}
