//! The remote runpath of an SSH host: a directory made on the remote at connect time, where
//! the programs spawned there run by default, fetched here when an environment stops, and
//! removed when the host is closed (unless kept).
//!
//! One channel does it all, the *janitor*: at connect it prints where the connection arrived,
//! the user, and the directory it made (`mktemp -d` under the remote's `$TMPDIR`, else
//! `/tmp`), in one round trip; then it reads its stdin until end-of-file and removes the
//! directory. This process holds that stdin: closing the host closes it, and so does the end
//! of this process however it ends (a SIGKILLed test too: the pipe closes with it, the local
//! `ssh` client sends end-of-file; or the master dies and sshd closes the session). With
//! [`SshBuilder::keep_runpath`] it leaves the directory in place.

use std::fs::File;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout};

use super::builder::SshBuilder;
use super::error::SshError;
use super::{ControlDir, supervisor};

/// `$1` is `keep` or `remove`. Prints `$SSH_CONNECTION`, the user (sshd sets `LOGNAME`, which
/// saves running `id`), the directory made; waits for end-of-file on stdin; removes the
/// directory unless kept, then says `removed` (or `kept`).
const JANITOR: &str = r#"echo "$SSH_CONNECTION"
echo "${LOGNAME:-$(id -un)}"
d=$(mktemp -d "${TMPDIR:-/tmp}/testrig-XXXXXXXX") || exit 1
echo "$d"
cat >/dev/null
if [ "$1" = keep ]; then
    echo kept
else
    rm -rf "$d" && echo removed
fi
"#;

/// The janitor channel of a connected host: the local `ssh` client, its stdin held.
#[derive(Debug)]
pub(super) struct Janitor {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

/// What the janitor said at connect time.
#[derive(Debug)]
pub(super) struct Arrival {
    pub(super) address: IpAddr,
    pub(super) port: u16,
    pub(super) user: String,
    pub(super) runpath: PathBuf,
    pub(super) janitor: Janitor,
}

/// Starts the janitor over the fresh connection: asks where the connection arrived, as whom,
/// and makes the remote runpath.
pub(super) async fn start(
    options: &SshBuilder,
    control: &ControlDir,
    client_args: Vec<std::ffi::OsString>,
) -> Result<Arrival, SshError> {
    let failed = |said: String| SshError::Query {
        host: options.host_name().to_owned(),
        destination: options.destination.clone(),
        said,
    };
    let log = control.path().join("janitor.log");
    let stderr =
        File::create(&log).map_err(|error| failed(format!("{}: {error}", log.display())))?;
    let mode = if options.keep_runpath {
        "keep"
    } else {
        "remove"
    };
    let remote = supervisor::join(&[
        "sh".into(),
        "-c".into(),
        supervisor::quote(JANITOR.as_ref()),
        "testrig-janitor".into(),
        mode.into(),
    ]);
    let mut command = tokio::process::Command::new("ssh");
    command
        .args(client_args)
        .args(["-T", "none", "--"])
        .arg(remote)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(stderr)
        // Out of the terminal's process group: a Ctrl-C for the test must not end the channel
        // (and remove the runpath) before the environment fetched it.
        .process_group(0)
        .kill_on_drop(true);
    let mut child = command
        .spawn()
        .map_err(|error| failed(format!("cannot run ssh: {error}")))?;
    let stdin = child.stdin.take();
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
    let mut lines = Vec::with_capacity(3);
    let read = async {
        for _ in 0..3 {
            let mut line = String::new();
            if stdout.read_line(&mut line).await? == 0 {
                break;
            }
            lines.push(line.trim_end().to_owned());
        }
        Ok::<_, std::io::Error>(())
    };
    match tokio::time::timeout(options.connect_timeout, read).await {
        Err(_) => {
            return Err(failed(format!(
                "no answer within {:?}",
                options.connect_timeout
            )));
        }
        Ok(Err(error)) => return Err(failed(error.to_string())),
        Ok(Ok(())) => {}
    }
    let said = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    let [connection, user, runpath] = lines.as_slice() else {
        return Err(failed(format!(
            "the host answered {lines:?} (stderr: {})",
            said()
        )));
    };
    let (address, port) = super::master::parse_connection(connection).ok_or_else(|| {
        failed(format!(
            "SSH_CONNECTION is `{connection}` (stderr: {})",
            said()
        ))
    })?;
    if !runpath.starts_with('/') {
        return Err(failed(format!(
            "making the remote runpath answered `{runpath}` (stderr: {})",
            said()
        )));
    }
    Ok(Arrival {
        address,
        port,
        user: user.clone(),
        runpath: PathBuf::from(runpath),
        janitor: Janitor {
            child,
            stdin,
            stdout,
        },
    })
}

impl Janitor {
    /// Closes the janitor's stdin and waits (up to `timeout`) for it to remove the runpath (or
    /// leave it, when kept). Returns what it did: `removed` or `kept`.
    pub(super) async fn close(mut self, timeout: Duration) -> Result<String, String> {
        drop(self.stdin.take());
        let finish = async {
            let mut rest = String::new();
            self.stdout
                .read_to_string(&mut rest)
                .await
                .map_err(|error| error.to_string())?;
            let status = self.child.wait().await.map_err(|error| error.to_string())?;
            match rest.trim() {
                said @ ("removed" | "kept") if status.success() => Ok(said.to_owned()),
                said => Err(format!(
                    "the remote runpath's janitor ended with {status} saying `{said}`"
                )),
            }
        };
        match tokio::time::timeout(timeout, finish).await {
            Ok(done) => done,
            Err(_) => Err(format!(
                "the remote runpath's janitor did not finish within {timeout:?}"
            )),
        }
    }
}

/// What a fetch of the remote runpath brought back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// Where the copy is, here.
    pub local: PathBuf,
    /// The files copied, relative to `local`, sorted.
    pub files: Vec<PathBuf>,
}

/// Copies the remote `runpath` into `into` (created): `tar -C runpath -cf - .` over a channel of
/// the connection (`client_args`), into a local `tar -xf -`, both ended at `deadline`.
pub(super) async fn fetch(
    client_args: Vec<std::ffi::OsString>,
    runpath: &Path,
    into: &Path,
    deadline: Duration,
) -> Result<Fetched, String> {
    std::fs::create_dir_all(into).map_err(|error| format!("{}: {error}", into.display()))?;
    let remote = supervisor::join(&[
        "tar".into(),
        "-C".into(),
        supervisor::quote(runpath.as_os_str()),
        "-cf".into(),
        "-".into(),
        ".".into(),
    ]);
    let mut ssh = tokio::process::Command::new("ssh")
        .args(client_args)
        .args(["-T", "none", "--"])
        .arg(remote)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|error| format!("cannot run ssh: {error}"))?;
    let archive: Stdio = ssh
        .stdout
        .take()
        .expect("stdout is piped")
        .try_into()
        .map_err(|error: std::io::Error| error.to_string())?;
    let tar = tokio::process::Command::new("tar")
        .arg("-C")
        .arg(into)
        .args(["-xf", "-"])
        .stdin(archive)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|error| format!("cannot run tar here: {error}"))?;
    let both = async { tokio::join!(ssh.wait_with_output(), tar.wait_with_output()) };
    let (sent, received) = tokio::time::timeout(deadline, both)
        .await
        .map_err(|_| format!("not done within {deadline:?}"))?;
    let sent = sent.map_err(|error| error.to_string())?;
    let received = received.map_err(|error| error.to_string())?;
    if !sent.status.success() {
        return Err(format!(
            "the remote tar ended with {}: {}",
            sent.status,
            String::from_utf8_lossy(&sent.stderr).trim()
        ));
    }
    if !received.status.success() {
        return Err(format!(
            "the local tar ended with {}: {}",
            received.status,
            String::from_utf8_lossy(&received.stderr).trim()
        ));
    }
    let mut files = Vec::new();
    list_files(into, Path::new(""), &mut files);
    files.sort();
    Ok(Fetched {
        local: into.to_owned(),
        files,
    })
}

/// The directory of the remote runpath a program called `name` runs in unless its command
/// sets one: `<runpath>/<name>`, with what a file name should not hold replaced.
pub(super) fn program_dir(runpath: &Path, name: &str) -> PathBuf {
    let name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let name = match name.as_str() {
        "" | "." | ".." => "program".to_owned(),
        _ => name,
    };
    runpath.join(name)
}

/// The files under `root/relative`, relative to `root`.
fn list_files(root: &Path, relative: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(root.join(relative)) else {
        return;
    };
    for entry in entries.flatten() {
        let path = relative.join(entry.file_name());
        match entry.file_type() {
            Ok(kind) if kind.is_dir() => list_files(root, &path, files),
            Ok(_) => files.push(path),
            Err(_) => {}
        }
    }
}
