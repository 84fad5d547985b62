//! Change notifications for one file, from Linux inotify: the event source that lets
//! log-file readiness read appended bytes as they come instead of polling.

use std::ffi::{CString, OsString};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::{OnceLock, mpsc};

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// Events on the file's directory that may mean new bytes in the file: created,
/// written, or moved into place.
const MASK: u32 = libc::IN_CREATE | libc::IN_MODIFY | libc::IN_MOVED_TO | libc::IN_CLOSE_WRITE;

/// Size of the fixed part of a `struct inotify_event` (wd, mask, cookie, len).
const HEADER: usize = 16;

/// Wakes up when the watched file may have changed.
///
/// Watches the file's directory rather than the file, so the file may not exist yet
/// and may be replaced; events about other files of the directory are skipped.
#[derive(Debug)]
pub(super) struct FileChanges {
    /// Always `Some` until dropped.
    inotify: Option<AsyncFd<File>>,
    name: OsString,
    buffer: Vec<u8>,
}

impl FileChanges {
    /// Starts watching `path` (its directory must exist).
    pub(super) fn watch(path: &Path) -> io::Result<FileChanges> {
        let invalid = |what| io::Error::new(io::ErrorKind::InvalidInput, what);
        let name = path
            .file_name()
            .ok_or_else(|| invalid("the log file path has no file name"))?
            .to_owned();
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let dir = CString::new(dir.as_os_str().as_bytes())
            .map_err(|_| invalid("the log file path contains a NUL byte"))?;

        // SAFETY: `inotify_init1` takes flags only; it returns a new descriptor or -1.
        let raw = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a descriptor just created for us and owned by nothing else;
        // the `File` closes it (which also removes the watch).
        let inotify = File::from(unsafe { OwnedFd::from_raw_fd(raw) });
        // SAFETY: the descriptor is open and `dir` is a NUL-terminated path that
        // outlives the call; the kernel copies it.
        let watch = unsafe { libc::inotify_add_watch(inotify.as_raw_fd(), dir.as_ptr(), MASK) };
        if watch < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the `File` owns the descriptor and keeps it open, unchanged, for as
        // long as the `AsyncFd` that owns the `File` lives.
        let inotify = unsafe { AsyncFd::register_with_interest(inotify, Interest::READABLE) }?;
        Ok(FileChanges {
            inotify: Some(inotify),
            name,
            buffer: vec![0; 4096],
        })
    }

    /// Resolves at the next event that concerns the file (or a queue overflow, after
    /// which anything may have happened). Cancel-safe.
    pub(super) async fn changed(&mut self) -> io::Result<()> {
        let FileChanges {
            inotify,
            name,
            buffer,
        } = self;
        let inotify = inotify.as_ref().expect("present until dropped");
        loop {
            let mut guard = inotify.readable().await?;
            match guard.try_io(|fd| fd.get_ref().read(buffer)) {
                Ok(Ok(read)) if concerns(&buffer[..read], name.as_bytes()) => return Ok(()),
                Ok(Ok(_)) => {}
                Ok(Err(error)) => return Err(error),
                Err(_would_block) => {}
            }
        }
    }
}

impl Drop for FileChanges {
    /// Closing an inotify descriptor waits for a kernel grace period (`synchronize_srcu`,
    /// 10–20 ms): far too long to spend between the ready line and `Started`, or on a runtime
    /// thread. The descriptor is taken off the reactor here and closed by the closer thread.
    fn drop(&mut self) {
        if let Some(inotify) = self.inotify.take() {
            close_later(inotify.into_inner());
        }
    }
}

/// Hands `file` to one long-lived thread that closes the descriptors it is given (closing it
/// here if that thread cannot be had).
fn close_later(file: File) {
    static CLOSER: OnceLock<Option<mpsc::Sender<File>>> = OnceLock::new();
    let closer = CLOSER.get_or_init(|| {
        let (sender, receiver) = mpsc::channel::<File>();
        let spawned = std::thread::Builder::new()
            .name("testrig-inotify-closer".to_owned())
            .spawn(move || receiver.into_iter().for_each(drop));
        spawned.ok().map(|_| sender)
    });
    match closer {
        Some(sender) => {
            // The closer thread never ends, so the send cannot fail; if it did, the
            // returned file would be closed here.
            let _ = sender.send(file);
        }
        None => drop(file),
    }
}

/// Whether a batch of `inotify_event`s mentions the file `name` or reports an overflow.
fn concerns(mut events: &[u8], name: &[u8]) -> bool {
    let mut found = false;
    while events.len() >= HEADER {
        let field = |at: usize| u32::from_ne_bytes(events[at..at + 4].try_into().expect("4 bytes"));
        let mask = field(4);
        let len = field(12) as usize;
        let Some(padded) = events.get(HEADER..HEADER + len) else {
            break;
        };
        let event_name = padded.split(|&b| b == 0).next().unwrap_or_default();
        found |= mask & libc::IN_Q_OVERFLOW != 0 || event_name == name;
        events = &events[HEADER + len..];
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(mask: u32, name: &str) -> Vec<u8> {
        let mut padded = name.as_bytes().to_vec();
        padded.resize(name.len().div_ceil(16) * 16 + 16, 0);
        let mut bytes = Vec::new();
        bytes.extend(1i32.to_ne_bytes());
        bytes.extend(mask.to_ne_bytes());
        bytes.extend(0u32.to_ne_bytes());
        bytes.extend((padded.len() as u32).to_ne_bytes());
        bytes.extend(padded);
        bytes
    }

    #[test]
    fn only_events_about_the_file_or_an_overflow_concern_it() {
        let other = event(libc::IN_MODIFY, "app.stdout.log");
        let mine = event(libc::IN_MODIFY, "app.log");
        assert!(!concerns(&other, b"app.log"));
        assert!(concerns(&[other.clone(), mine].concat(), b"app.log"));
        assert!(concerns(&event(libc::IN_Q_OVERFLOW, ""), b"app.log"));
    }

    #[tokio::test]
    async fn a_write_to_the_file_is_noticed_without_polling() {
        let dir = std::env::temp_dir().join(format!("testrig-inotify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("watched.log");
        let _ = std::fs::remove_file(&path);
        let mut changes = FileChanges::watch(&path).unwrap();
        std::fs::write(dir.join("other.log"), "x").unwrap();
        std::fs::write(&path, "line\n").unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(5), changes.changed())
            .await
            .expect("an event")
            .unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
