//! The control master: the one connection to an SSH host, a testrig process of this program.

use std::ffi::OsString;
use std::net::IpAddr;

use tokio::time::Instant;

use super::ControlDir;
use super::builder::SshBuilder;
use super::dial::{self, Dial, Dialed};
use super::error::SshError;
use crate::process::{Command, Pattern, Process};

/// The line the master prints (its `LocalCommand`) once it has logged in and its control
/// socket listens: OpenSSH runs the local command after `muxserver_listen`.
const READY: &str = "testrig-ssh-master-ready";

/// Starts the master for `options` with its socket and logs in `control`, and waits until it
/// is connected; with the connection made here when it can be (see `dial.rs`), which the caller
/// keeps while the first session opens and then drops.
pub(super) async fn start(
    options: &SshBuilder,
    control: &ControlDir,
) -> Result<(Process, Option<Dialed>), SshError> {
    let deadline = Instant::now() + options.connect_timeout;
    let dialed = match dial::dial(options, control, deadline).await {
        Dial::Made(dialed) => dialed,
        Dial::Ssh => return Ok((attempt(options, control, None, deadline).await?, None)),
        Dial::TimedOut => return Err(timeout(options)),
    };
    let error = match attempt(options, control, Some(&dialed), deadline).await {
        Ok(master) => return Ok((master, Some(dialed))),
        Err(error) => error,
    };
    // A timeout used the whole connect timeout already; a relay that took the socket worked.
    if matches!(error, SshError::Timeout { .. }) || dialed.handed().await {
        return Err(error);
    }
    // The relay never took the socket: its `ProxyCommand` failed (an older `testrig`, say), not
    // the host. ssh connects by itself.
    tracing::debug!(host = options.host_name(), %error, "the socket relay failed: ssh connects by itself");
    let _ = std::fs::remove_file(control.log());
    Ok((attempt(options, control, None, deadline).await?, None))
}

/// The error for a connect that did not finish within the connect timeout.
fn timeout(options: &SshBuilder) -> SshError {
    SshError::Timeout {
        host: options.host_name().to_owned(),
        destination: options.destination.clone(),
        after: options.connect_timeout,
    }
}

/// One start of the master, on the connection `dialed` here if any.
async fn attempt(
    options: &SshBuilder,
    control: &ControlDir,
    dialed: Option<&Dialed>,
    deadline: Instant,
) -> Result<Process, SshError> {
    let host = options.host_name().to_owned();
    // The master's stderr goes straight to a file, not through a pipe read by a task: ssh
    // writes why the connection ended ("Connection to … closed by remote host.", which is not
    // a log message, so not `-E`'s) before its clients see the end, and a client that exits
    // reads it there at once.
    let command = Command::new("/bin/sh")
        .arg("-c")
        .arg(r#"log=$1; shift; exec "$@" 2>>"$log""#)
        .arg("testrig-ssh-master")
        .arg(control.log())
        .arg("ssh")
        .args(master_args(options, control, dialed))
        .name(format!("ssh-master-{}", file_safe(&host)))
        .daemon()
        .ready_when(Pattern::stdout(&format!("^{READY}$")).expect("a valid pattern"))
        .host(options.via.clone());
    let master = Process::spawn(command, control.path())
        .await
        .map_err(|source| SshError::Spawn {
            host: host.clone(),
            source,
        })?;
    let ready = master.ready(deadline.saturating_duration_since(Instant::now()));
    let ready = match dialed {
        Some(dialed) => dialed.hurrying(ready).await,
        None => ready.await,
    };
    match ready {
        Ok(_) => Ok(master),
        Err(_) if !master.state().has_exited() => Err(timeout(options)),
        Err(_) => Err(refusal(
            options,
            &log_of(control),
            last_words(control, &master),
        )),
    }
}

/// The master's options: a master (`-M`) that never forks (`-N`, no `-f`), stays only as long
/// as this process holds it (`ControlPersist=no`), never prompts, says when it is ready, and
/// takes the connection `dialed` here, if any.
fn master_args(
    options: &SshBuilder,
    control: &ControlDir,
    dialed: Option<&Dialed>,
) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec!["-M".into(), "-N".into(), "-S".into()];
    args.push(control.socket().into());
    let mut option = |value: String| {
        args.push("-o".into());
        args.push(value.into());
    };
    option("ControlPersist=no".into());
    option("BatchMode=yes".into());
    option(options.host_keys.option().into());
    option(format!(
        "ConnectTimeout={}",
        options.connect_timeout.as_secs().max(1)
    ));
    option(format!(
        "ServerAliveInterval={}",
        options.keepalive.as_secs()
    ));
    option("ServerAliveCountMax=3".into());
    option("PermitLocalCommand=yes".into());
    option(format!("LocalCommand=echo {READY}"));
    for value in dialed.map(Dialed::master_options).into_iter().flatten() {
        option(value);
    }
    // After testrig's own: for a key given twice, ssh takes the first.
    for value in &options.options {
        option(value.clone());
    }
    if let Some(file) = &options.known_hosts {
        option(format!("UserKnownHostsFile={}", file.display()));
    }
    if options.identity.is_some() {
        option("IdentitiesOnly=yes".into());
    }
    if let Some(key) = &options.identity {
        args.push("-i".into());
        args.push(key.into());
    }
    if let Some(port) = options.port {
        args.push("-p".into());
        args.push(port.to_string().into());
    }
    args.push(options.destination.clone().into());
    args
}

/// What the master wrote on its stderr.
fn log_of(control: &ControlDir) -> String {
    std::fs::read_to_string(control.log()).unwrap_or_default()
}

/// The last lines the master wrote on its stderr, joined.
pub(super) fn last_words(control: &ControlDir, master: &Process) -> String {
    let log = log_of(control);
    let lines: Vec<&str> = log.lines().filter(|line| !line.trim().is_empty()).collect();
    let words = lines[lines.len().saturating_sub(3)..].join(" / ");
    match (words.is_empty(), master.state().has_exited()) {
        (true, true) => "ssh exited without a word".to_owned(),
        (true, false) => "ssh said nothing".to_owned(),
        (false, _) => words,
    }
}

/// The error for a master that ended before it was connected, from its whole `log` and its
/// last words (`said`).
fn refusal(options: &SshBuilder, log: &str, said: String) -> SshError {
    let host = options.host_name().to_owned();
    let destination = options.destination.clone();
    let known_hosts = options.known_hosts.as_ref().map_or_else(
        || "~/.ssh/known_hosts".to_owned(),
        |file| file.display().to_string(),
    );
    if log.contains("REMOTE HOST IDENTIFICATION HAS CHANGED") {
        SshError::HostKeyMismatch {
            host,
            destination,
            known_hosts,
            said,
        }
    } else if log.contains("Host key verification failed") {
        SshError::HostKeyUnknown {
            host,
            destination,
            known_hosts,
            said,
        }
    } else {
        SshError::Connect {
            host,
            destination,
            said,
        }
    }
}

/// `name` with what a file name should not hold replaced.
fn file_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `SSH_CONNECTION` (`client_ip client_port server_ip server_port`): the server's address and
/// port.
pub(super) fn parse_connection(line: &str) -> Option<(IpAddr, u16)> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    match fields.as_slice() {
        [_, _, address, port] => Some((address.parse().ok()?, port.parse().ok()?)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_side_of_ssh_connection_is_the_hosts_address() {
        assert_eq!(
            parse_connection("10.0.0.1 51234 10.0.0.2 22\n"),
            Some(("10.0.0.2".parse().unwrap(), 22))
        );
        assert_eq!(
            parse_connection("fd00::1 5 fd00::2 2222"),
            Some(("fd00::2".parse().unwrap(), 2222))
        );
        assert_eq!(parse_connection(""), None);
    }
}
