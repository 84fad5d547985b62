//! `Relay`: the signals of a program that runs elsewhere, written as lines to its stdin.
//!
//! A program on an SSH host is run locally as an `ssh` client; signalling that client would not
//! reach the program (OpenSSH's client has no way to forward a signal). Its remote supervisor
//! reads one signal name a line on its stdin and sends it to the program's process group there;
//! end-of-file on that stdin (this program died, or the connection dropped) kills the group.
//! See `host/ssh.rs`.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::sync::Mutex;

use super::Signal;

/// The write end of a remote supervisor's stdin; only this program holds it (close-on-exec).
#[derive(Debug)]
pub(crate) struct Relay {
    pipe: Mutex<File>,
}

impl Relay {
    pub(crate) fn new(pipe: OwnedFd) -> Relay {
        Relay {
            pipe: Mutex::new(File::from(pipe)),
        }
    }

    /// Writes `signal` for the remote supervisor: its name without `SIG` (`TERM`), which any
    /// `kill -s` understands whatever the remote system's signal numbers are; its number when it
    /// has no common name. Fails when the client is gone (the pipe is closed) or not reading.
    pub(crate) fn forward(&self, signal: Signal) -> io::Result<()> {
        let line = match signal.name() {
            Some(name) => format!("{}\n", name.trim_start_matches("SIG")),
            None => format!("{}\n", signal.as_raw()),
        };
        self.pipe
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .write_all(line.as_bytes())
    }
}
