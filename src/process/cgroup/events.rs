//! Waiting on `cgroup.events` (`populated`, `frozen`): the kernel signals every change of the
//! file to `poll` as `POLLPRI`, so a wait wakes on the change itself, not on a timer.

use std::fs::File;
use std::io::{self, Read, Seek};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::Instant;

/// A key of `cgroup.events`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventKey {
    /// `populated`: a process lives in the cgroup or one below it.
    Populated,
    /// `frozen`: every process of the cgroup is frozen.
    Frozen,
}

impl EventKey {
    fn as_str(self) -> &'static str {
        match self {
            EventKey::Populated => "populated",
            EventKey::Frozen => "frozen",
        }
    }
}

/// Blocks until `key` of the `cgroup.events` file `events` reads `value`, or `deadline` passes.
/// Returns whether it does. Blocking: call it from a blocking thread.
pub(crate) fn wait_for(
    events: &Path,
    key: EventKey,
    value: bool,
    deadline: Instant,
) -> io::Result<bool> {
    let mut file = File::open(events)?;
    loop {
        // Reading the file from its start also re-arms the notification.
        if read_key(&mut file, key)? == value {
            return Ok(true);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(false);
        }
        let millis = libc::c_int::try_from(left.as_millis().max(1)).unwrap_or(libc::c_int::MAX);
        let mut poll = libc::pollfd {
            fd: file.as_raw_fd(),
            events: libc::POLLPRI,
            revents: 0,
        };
        // SAFETY: `poll` reads and writes the one `pollfd` we pass, which outlives the call.
        let ready = unsafe { libc::poll(&mut poll, 1, millis) };
        if ready == -1 {
            let error = io::Error::last_os_error();
            if error.kind() != io::ErrorKind::Interrupted {
                return Err(error);
            }
        }
    }
}

/// Reads `key` from an open `cgroup.events` file.
pub(crate) fn read_key(file: &mut File, key: EventKey) -> io::Result<bool> {
    file.rewind()?;
    let mut text = String::new();
    file.read_to_string(&mut text)?;
    parse(&text, key).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("cgroup.events has no `{}` line", key.as_str()),
        )
    })
}

fn parse(text: &str, key: EventKey) -> Option<bool> {
    text.lines().find_map(|line| {
        let (name, value) = line.split_once(' ')?;
        (name == key.as_str()).then(|| value.trim() == "1")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_read_from_the_events_format() {
        let text = "populated 1\nfrozen 0\n";
        assert_eq!(parse(text, EventKey::Populated), Some(true));
        assert_eq!(parse(text, EventKey::Frozen), Some(false));
        assert_eq!(parse("populated 0\n", EventKey::Frozen), None);
    }
}
