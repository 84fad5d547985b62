//! Zero-copy sending: the payload lives in an in-memory file and `sendfile(2)` hands its
//! pages to the socket, so the kernel never copies the bytes in from user memory (what
//! iperf3 does with `-Z`). On loopback that copy is over a third of a sender's CPU time.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

/// A block of payload in a memory-backed file, ready to be sent with `sendfile(2)`.
#[derive(Debug)]
pub(crate) struct PayloadFile {
    file: File,
    len: usize,
}

impl PayloadFile {
    /// An anonymous in-memory file holding `payload`.
    pub(crate) fn new(payload: &[u8]) -> io::Result<Self> {
        // SAFETY: the name is a NUL-terminated literal that the call only reads; the flags
        // are valid. `memfd_create` has no other preconditions.
        let fd =
            unsafe { libc::memfd_create(c"testrig-iperf-payload".as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by the kernel and nothing else owns it.
        let mut file = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
        file.write_all(payload)?;
        Ok(Self {
            file,
            len: payload.len(),
        })
    }

    /// Sends the payload's bytes `offset..len` to a connected stream socket without
    /// waiting; returns how many the kernel took (`WouldBlock` when its buffer is full).
    pub(crate) fn send_to(&self, socket: &impl AsFd, offset: usize) -> io::Result<usize> {
        let mut position = offset as libc::off_t;
        let count = self.len.saturating_sub(offset);
        // SAFETY: both descriptors are open for the duration of the call (borrowed), and
        // `position` is a valid, writable `off_t` that the kernel updates.
        let sent = unsafe {
            libc::sendfile(
                socket.as_fd().as_raw_fd(),
                self.file.as_raw_fd(),
                &mut position,
                count,
            )
        };
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(sent as usize)
    }
}

/// Whether `error` means this kernel or socket cannot `sendfile` at all, so the sender
/// should fall back to plain writes.
pub(crate) fn unsupported(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP)
    )
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::net::{TcpListener, TcpStream};

    use super::*;

    #[test]
    fn sendfile_delivers_the_payload_bytes_unchanged_from_any_offset() {
        let payload: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
        let file = PayloadFile::new(&payload).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let sender = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut receiver, _) = listener.accept().unwrap();
        let mut offset = 1234;
        while offset < payload.len() {
            offset += file.send_to(&sender, offset).unwrap();
        }
        drop(sender);
        let mut received = Vec::new();
        receiver.read_to_end(&mut received).unwrap();
        assert_eq!(received, payload[1234..]);
    }
}
