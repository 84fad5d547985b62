//! This side of the agent: the `ssh` client whose channel carries the protocol, the task that
//! writes requests into it, and the task that reads its events and hands each program its
//! output, its start and its end.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader, DuplexStream};
use tokio::process::{Child, ChildStdout};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::protocol::{self, Failure, Frame, Spawn};
use crate::process::{
    Command, Process, RemoteAgent, RemoteChild, RemoteFailure, RemoteSignals, SPAWN_MARKER_VAR,
    Signal,
};

/// The in-memory pipe between the demultiplexer and a program's pump.
const PIPE: usize = 64 * 1024;

/// How long the agent may take to answer a spawn.
const SPAWN_DEADLINE: Duration = Duration::from_secs(20);

/// How long the master is given to say why the connection ended, once the agent's channel has.
const LAST_WORDS_DEADLINE: Duration = Duration::from_secs(1);

/// At most this many bytes before the preamble are skipped.
const MAX_NOISE: usize = 64 * 1024;

/// Why the agent did not start.
#[derive(Debug)]
pub(crate) enum StartError {
    /// Started from the host's cache, it is not there.
    Missing,
    /// Anything else, in ssh's or the agent's words.
    Failed(String),
}

/// What the remote side prints when the cache does not hold the agent.
const MISSING: &[u8] = b"testrig-agent-missing";

/// What the agent says first: where the connection arrived and as whom.
#[derive(Debug, Clone)]
pub(crate) struct Hello {
    /// `$SSH_CONNECTION` there.
    pub(crate) connection: String,
    /// The user logged in.
    pub(crate) user: String,
}

/// A host's resident agent, as seen from here: one `ssh` client over the host's master, whose
/// channel runs the agent. Dropping it closes the channel: the agent kills every group it
/// started and exits.
#[derive(Debug)]
pub(crate) struct AgentClient {
    host: String,
    requests: mpsc::UnboundedSender<Vec<u8>>,
    register: mpsc::UnboundedSender<(u32, Route)>,
    next_id: AtomicU32,
    /// Why the channel ended, once it has.
    closed: Arc<OnceLock<String>>,
    /// Cancelled to close the channel on purpose (the host is closing).
    closing: CancellationToken,
    /// Cancelled once the channel has ended and every program was told.
    ended: CancellationToken,
    /// The local `ssh` client (killed if dropped before it ended).
    _client: Mutex<Child>,
}

/// Where the events of one program go.
#[derive(Debug)]
struct Route {
    spawned: Option<oneshot::Sender<Result<(u32, Instant), RemoteFailure>>>,
    stdout: Option<DuplexStream>,
    stderr: Option<DuplexStream>,
    exit: Option<oneshot::Sender<ExitStatus>>,
}

/// What the demultiplexer needs to explain a lost channel.
pub(crate) struct Witness {
    /// The master: its end is the connection's.
    pub(crate) master: Process,
    /// The master's stderr.
    pub(crate) master_log: PathBuf,
    /// The agent client's stderr.
    pub(crate) agent_log: PathBuf,
}

impl AgentClient {
    /// Starts `ssh` (a client over the master, running the agent there: stdin and stdout are
    /// set here, stderr must go to `witness.agent_log`) and waits up to `timeout` for the
    /// agent's hello.
    pub(crate) async fn start(
        host: &str,
        mut ssh: tokio::process::Command,
        witness: Witness,
        timeout: Duration,
    ) -> Result<(AgentClient, Hello), StartError> {
        ssh.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true);
        let mut client = ssh
            .spawn()
            .map_err(|error| StartError::Failed(format!("cannot run ssh: {error}")))?;
        let stdin = client.stdin.take().expect("piped");
        let mut stdout = BufReader::with_capacity(PIPE, client.stdout.take().expect("piped"));
        let (requests, outgoing) = mpsc::unbounded_channel();
        let closing = CancellationToken::new();
        tokio::spawn(write_requests(stdin, outgoing, closing.clone()));
        let hello = tokio::time::timeout(timeout, read_hello(&mut stdout)).await;
        let hello = match hello {
            Ok(Ok(hello)) => hello,
            Ok(Err(StartError::Failed(error))) => {
                // End-of-file for whatever runs there, a moment to say why, then the end.
                drop(requests);
                let ended = tokio::time::timeout(LAST_WORDS_DEADLINE, client.wait()).await;
                if ended.is_err() {
                    let _ = client.kill().await;
                }
                return Err(StartError::Failed(format!(
                    "{error}; it said: {}",
                    tail(&witness.agent_log, " / ").unwrap_or_else(|| "nothing".into())
                )));
            }
            Ok(Err(missing)) => return Err(missing),
            Err(_) => return Err(StartError::Failed(format!("no hello within {timeout:?}"))),
        };
        let (register, registrations) = mpsc::unbounded_channel();
        let closed = Arc::new(OnceLock::new());
        let ended = CancellationToken::new();
        tokio::spawn(
            Demux {
                host: host.to_owned(),
                routes: HashMap::new(),
                registrations,
                requests: requests.downgrade(),
                closed: closed.clone(),
                closing: closing.clone(),
                witness,
            }
            .run(stdout, ended.clone()),
        );
        let agent = AgentClient {
            host: host.to_owned(),
            requests,
            register,
            next_id: AtomicU32::new(1),
            closed,
            closing,
            ended,
            _client: Mutex::new(client),
        };
        Ok((agent, hello))
    }

    /// Closes the channel: the agent kills every group it started and exits. Waits up to
    /// `timeout` for the channel's end; the host's programs then fail as closed with it.
    pub(crate) async fn close(&self, timeout: Duration) {
        self.closing.cancel();
        let _ = tokio::time::timeout(timeout, self.ended.cancelled()).await;
    }

    /// The host's name.
    pub(crate) fn host_name(&self) -> &str {
        &self.host
    }

    fn closed_reason(&self) -> String {
        self.closed
            .get()
            .cloned()
            .unwrap_or_else(|| "the agent's channel ended".to_owned())
    }

    /// Asks the agent to start `command` (its program, arguments, environment changes and
    /// working directory, else `default_dir`, made first; with the spawn marker), and waits for
    /// its answer.
    pub(crate) async fn spawn(
        &self,
        command: &Command,
        marker: &str,
        default_dir: Option<&Path>,
    ) -> Result<RemoteChild, RemoteFailure> {
        if let Some(reason) = self.closed.get() {
            return Err(RemoteFailure::Other(reason.clone()));
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (stdout_writer, stdout) = tokio::io::duplex(PIPE);
        let (stderr_writer, stderr) = tokio::io::duplex(PIPE);
        let (spawned, answer) = oneshot::channel();
        let (exit_sender, exit) = oneshot::channel();
        let route = Route {
            spawned: Some(spawned),
            stdout: Some(stdout_writer),
            stderr: Some(stderr_writer),
            exit: Some(exit_sender),
        };
        let closed = || RemoteFailure::Other(self.closed_reason());
        self.register.send((id, route)).map_err(|_| closed())?;
        let request = Frame::new(
            id,
            protocol::SPAWN,
            spawn_request(command, marker, default_dir).encode(),
        );
        self.requests.send(request.encode()).map_err(|_| closed())?;
        let signals = Box::new(Signaller {
            id,
            requests: self.requests.clone(),
        });
        match tokio::time::timeout(SPAWN_DEADLINE, answer).await {
            Ok(Ok(Ok((pid, spawned_at)))) => Ok(RemoteChild {
                pid,
                spawned_at,
                stdout: Box::new(stdout),
                stderr: Box::new(stderr),
                exit,
                signals,
            }),
            Ok(Ok(Err(failure))) => Err(failure),
            Ok(Err(_)) => Err(RemoteFailure::Other(self.closed_reason())),
            Err(_) => {
                // Should it start after all, it must not run unowned.
                let _ = signals.signal(Signal::KILL);
                Err(RemoteFailure::Other(format!(
                    "the agent did not answer within {SPAWN_DEADLINE:?}"
                )))
            }
        }
    }
}

/// The `SPAWN` request for `command`.
fn spawn_request(command: &Command, marker: &str, default_dir: Option<&Path>) -> Spawn {
    let bytes = |value: &OsStr| value.as_bytes().to_vec();
    let mut env: Vec<_> = command
        .get_env()
        .map(|(key, value)| (bytes(key), value.map(bytes)))
        .collect();
    env.push((
        SPAWN_MARKER_VAR.as_bytes().to_vec(),
        Some(marker.as_bytes().to_vec()),
    ));
    Spawn {
        program: bytes(command.program().as_os_str()),
        args: command.get_args().map(bytes).collect(),
        env,
        cwd: command
            .get_cwd()
            .or(default_dir)
            .map(|dir| bytes(dir.as_os_str())),
        make_cwd: command.get_cwd().is_none() && default_dir.is_some(),
    }
}

/// Signals for one program: `SIGNAL` requests to the agent.
struct Signaller {
    id: u32,
    requests: mpsc::UnboundedSender<Vec<u8>>,
}

impl RemoteSignals for Signaller {
    /// Enqueues the request. With the channel gone there is nothing to signal: the agent killed
    /// every group it started when its channel ended, and the program's end is on its way.
    fn signal(&self, signal: Signal) -> io::Result<()> {
        let name = protocol::signal_name(signal.as_raw());
        let frame = Frame::new(self.id, protocol::SIGNAL, name.into_bytes());
        let _ = self.requests.send(frame.encode());
        Ok(())
    }
}

/// Writes the requests into the client's stdin until every sender is gone (the host was
/// dropped) or `closing` is cancelled (the host is closing), then closes it: the agent's
/// end-of-file.
async fn write_requests(
    mut stdin: tokio::process::ChildStdin,
    mut requests: mpsc::UnboundedReceiver<Vec<u8>>,
    closing: CancellationToken,
) {
    loop {
        let mut bytes = tokio::select! {
            biased;
            _ = closing.cancelled() => return,
            next = requests.recv() => match next {
                Some(bytes) => bytes,
                None => return,
            },
        };
        while let Ok(more) = requests.try_recv() {
            bytes.extend_from_slice(&more);
        }
        if stdin.write_all(&bytes).await.is_err() || stdin.flush().await.is_err() {
            return;
        }
    }
}

/// Skips what comes before the preamble, then reads the hello.
async fn read_hello(stdout: &mut BufReader<ChildStdout>) -> Result<Hello, StartError> {
    let failed = |said: String| StartError::Failed(said);
    let mut seen = Vec::new();
    let mut byte = [0; 1];
    while !seen.ends_with(protocol::PREAMBLE) {
        // Another build's agent, speaking another version: not ours to talk to.
        if let Some(at) = seen
            .windows(protocol::PREAMBLE_START.len())
            .position(|w| w == protocol::PREAMBLE_START)
            && seen.ends_with(b"\n")
            && seen.len() > at + protocol::PREAMBLE_START.len()
        {
            return Err(failed(format!(
                "the agent speaks `{}`, this testrig `{}` (another build)",
                String::from_utf8_lossy(&seen[at..]).trim(),
                String::from_utf8_lossy(protocol::PREAMBLE).trim()
            )));
        }
        match stdout.read(&mut byte).await {
            Ok(1) => seen.push(byte[0]),
            Ok(_) if seen.windows(MISSING.len()).any(|w| w == MISSING) => {
                return Err(StartError::Missing);
            }
            Ok(_) => {
                return Err(failed(
                    "the agent's channel ended before it said hello".into(),
                ));
            }
            Err(error) => return Err(failed(format!("reading the agent failed: {error}"))),
        }
        if seen.len() > MAX_NOISE {
            return Err(failed(format!(
                "no agent preamble in the first {MAX_NOISE} bytes: {}",
                String::from_utf8_lossy(&seen[..200])
            )));
        }
    }
    match Frame::read_async(stdout).await {
        Ok(Some(frame)) if frame.kind == protocol::HELLO => {
            let text = String::from_utf8_lossy(&frame.payload);
            let mut lines = text.lines();
            Ok(Hello {
                connection: lines.next().unwrap_or_default().to_owned(),
                user: lines.next().unwrap_or_default().to_owned(),
            })
        }
        Ok(_) => Err(failed("the agent did not say hello".into())),
        Err(error) => Err(failed(format!("reading the agent's hello failed: {error}"))),
    }
}

/// Reads the agent's events and routes them.
struct Demux {
    host: String,
    routes: HashMap<u32, Route>,
    registrations: mpsc::UnboundedReceiver<(u32, Route)>,
    /// Weak: the channel closes when the host drops its client, not when this task ends.
    requests: mpsc::WeakUnboundedSender<Vec<u8>>,
    closed: Arc<OnceLock<String>>,
    /// Cancelled when the host closes the channel on purpose.
    closing: CancellationToken,
    witness: Witness,
}

impl Demux {
    async fn run(mut self, mut stdout: impl AsyncRead + Unpin, ended: CancellationToken) {
        let error = loop {
            match Frame::read_async(&mut stdout).await {
                Ok(Some(frame)) => self.route(frame).await,
                Ok(None) => break None,
                Err(error) => break Some(error),
            }
        };
        self.fail_all(error).await;
        ended.cancel();
    }

    async fn route(&mut self, frame: Frame) {
        while let Ok((id, route)) = self.registrations.try_recv() {
            self.routes.insert(id, route);
        }
        let id = frame.id;
        let Some(route) = self.routes.get_mut(&id) else {
            return;
        };
        match frame.kind {
            protocol::SPAWNED => {
                let pid = frame
                    .payload
                    .get(..4)
                    .map_or(0, |b| u32::from_be_bytes(b.try_into().expect("4 bytes")));
                let answered = route
                    .spawned
                    .take()
                    .map(|spawned| spawned.send(Ok((pid, Instant::now()))).is_ok());
                if answered == Some(false) {
                    // Nobody waits for it any more: it must not run unowned.
                    self.routes.remove(&id);
                    self.request(id, protocol::SIGNAL, b"KILL");
                }
            }
            protocol::FAILED => {
                let (failure, message) = frame.payload.split_first().map_or(
                    (Failure::Other, String::new()),
                    |(kind, message)| {
                        (
                            Failure::from_byte(*kind),
                            String::from_utf8_lossy(message).into_owned(),
                        )
                    },
                );
                let failure = match failure {
                    Failure::NotFound => RemoteFailure::NotFound(message),
                    Failure::NoDirectory => RemoteFailure::NoDirectory(message),
                    Failure::Other => RemoteFailure::Other(message),
                };
                if let Some(route) = self.routes.remove(&id)
                    && let Some(spawned) = route.spawned
                {
                    let _ = spawned.send(Err(failure));
                }
            }
            protocol::STDOUT | protocol::STDERR => {
                let pipe = match frame.kind {
                    protocol::STDOUT => &mut route.stdout,
                    _ => &mut route.stderr,
                };
                // A pump that is gone (its process dropped with the runtime) reads nothing more.
                if let Some(writer) = pipe
                    && writer.write_all(&frame.payload).await.is_err()
                {
                    *pipe = None;
                }
            }
            protocol::EXITED => {
                if let Some(route) = self.routes.remove(&id)
                    && let Some(exit) = route.exit
                {
                    let _ = exit.send(exit_status(&frame.payload));
                }
            }
            _ => {}
        }
    }

    fn request(&self, id: u32, kind: u8, payload: &[u8]) {
        if let Some(requests) = self.requests.upgrade() {
            let _ = requests.send(Frame::new(id, kind, payload.to_vec()).encode());
        }
    }

    /// The channel ended: every program of the host fails, with the connection's last words
    /// on its stderr and `ssh`'s status for a lost connection (255).
    async fn fail_all(mut self, error: Option<io::Error>) {
        let witness = &self.witness;
        let said = if self.closing.is_cancelled() {
            "the host was closed".to_owned()
        } else {
            // The master writes why the connection ended before it exits.
            let _ = tokio::time::timeout(LAST_WORDS_DEADLINE, witness.master.exited()).await;
            tail(&witness.master_log, "\n")
                .or_else(|| tail(&witness.agent_log, "\n"))
                .or_else(|| error.map(|error| error.to_string()))
                .unwrap_or_else(|| "(nothing)".to_owned())
        };
        let reason = format!(
            "the agent's channel to `{}` ended; the connection says: {}",
            self.host,
            said.replace('\n', " / ")
        );
        tracing::debug!(host = %self.host, %reason, "agent channel ended");
        let _ = self.closed.set(reason.clone());
        self.registrations.close();
        while let Ok((id, route)) = self.registrations.try_recv() {
            self.routes.insert(id, route);
        }
        let words = format!(
            "testrig: ssh to {} failed (the agent's channel ended); the connection says:\n{said}\n",
            self.host
        );
        for (_, mut route) in self.routes.drain() {
            if let Some(spawned) = route.spawned.take() {
                let _ = spawned.send(Err(RemoteFailure::Other(reason.clone())));
                continue;
            }
            if let Some(stderr) = &mut route.stderr {
                let _ = stderr.write_all(words.as_bytes()).await;
            }
            drop(route.stdout.take());
            drop(route.stderr.take());
            if let Some(exit) = route.exit.take() {
                let _ = exit.send(ExitStatus::from_raw(255 << 8));
            }
        }
    }
}

/// The status an `EXITED` payload reports, in this machine's numbers.
fn exit_status(payload: &[u8]) -> ExitStatus {
    match payload.split_first() {
        Some((b'c', code)) if code.len() == 4 => {
            let code = i32::from_be_bytes(code.try_into().expect("4 bytes"));
            ExitStatus::from_raw((code & 0xff) << 8)
        }
        Some((b's', name)) => match protocol::signal_number(&String::from_utf8_lossy(name)) {
            Some(signal) => ExitStatus::from_raw(signal),
            None => ExitStatus::from_raw(255 << 8),
        },
        _ => ExitStatus::from_raw(255 << 8),
    }
}

/// The last three lines of `file` that say something, joined with `separator`.
fn tail(file: &Path, separator: &str) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    let lines: Vec<&str> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    let words = lines[lines.len().saturating_sub(3)..].join(separator);
    (!words.is_empty()).then_some(words)
}

impl RemoteAgent for AgentClient {
    fn host_name(&self) -> &str {
        AgentClient::host_name(self)
    }

    fn spawn(
        &self,
        command: &Command,
        marker: &str,
        default_dir: Option<&Path>,
    ) -> impl std::future::Future<Output = Result<RemoteChild, RemoteFailure>> + Send {
        AgentClient::spawn(self, command, marker, default_dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_payloads_become_statuses_as_a_local_program_would_report() {
        let code = |c: i32| [&[b'c'][..], &c.to_be_bytes()].concat();
        assert_eq!(exit_status(&code(7)).code(), Some(7));
        assert_eq!(exit_status(b"sTERM").signal(), Some(libc::SIGTERM));
        assert_eq!(exit_status(b"sKILL").signal(), Some(libc::SIGKILL));
        assert_eq!(exit_status(b"").code(), Some(255));
    }
}
