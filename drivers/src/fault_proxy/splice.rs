//! The no-toxic path: bytes move socket → pipe → socket inside the kernel
//! (`splice(2)`), never copied to userspace.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use tokio::io::Interest;
use tokio::net::TcpStream;

/// How much one splice moves at most: the pipe's default capacity.
const PIPE_CAPACITY: usize = 64 * 1024;

/// A pipe between two sockets, and how many bytes wait in it.
#[derive(Debug)]
pub(crate) struct SplicePipe {
    read: OwnedFd,
    write: OwnedFd,
    pending: usize,
}

impl SplicePipe {
    pub(crate) fn new() -> io::Result<Self> {
        let mut fds = [0 as RawFd; 2];
        // SAFETY: `fds` is a valid array of two descriptors for pipe2 to fill.
        let result = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) };
        if result != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: pipe2 succeeded: both descriptors are open and owned by nobody else.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        Ok(Self {
            read,
            write,
            pending: 0,
        })
    }

    /// Takes the bytes waiting in the pipe out to userspace (when toxics arrive).
    pub(crate) fn drain(&mut self) -> io::Result<Vec<u8>> {
        let mut bytes = vec![0u8; self.pending];
        let mut filled = 0;
        while filled < bytes.len() {
            // SAFETY: the pointer and length stay within `bytes`.
            let n = unsafe {
                libc::read(
                    self.read.as_raw_fd(),
                    bytes[filled..].as_mut_ptr().cast(),
                    bytes.len() - filled,
                )
            };
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            if n == 0 {
                break;
            }
            filled += n as usize;
        }
        bytes.truncate(filled);
        self.pending = 0;
        Ok(bytes)
    }

    /// Moves bytes from `src` to `dst` until `src` ends (`Ok`) or fails. Cancel-safe:
    /// bytes already in the pipe stay counted in it, for the next call or
    /// [`drain`](Self::drain). `delivered` is told each count written to `dst`.
    pub(crate) async fn pump(
        &mut self,
        src: &TcpStream,
        dst: &TcpStream,
        mut delivered: impl FnMut(usize),
    ) -> io::Result<()> {
        loop {
            while self.pending > 0 {
                dst.writable().await?;
                match dst.try_io(Interest::WRITABLE, || {
                    splice(self.read.as_raw_fd(), dst.as_raw_fd(), self.pending)
                }) {
                    Ok(n) => {
                        self.pending -= n;
                        delivered(n);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
            }
            src.readable().await?;
            // The pipe is empty here, so EAGAIN can only mean the socket has nothing.
            match src.try_io(Interest::READABLE, || {
                splice(src.as_raw_fd(), self.write.as_raw_fd(), PIPE_CAPACITY)
            }) {
                Ok(0) => return Ok(()),
                Ok(n) => self.pending += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
    }
}

fn splice(from: RawFd, to: RawFd, len: usize) -> io::Result<usize> {
    // SAFETY: both descriptors are open for the call; null offsets mean "the
    // descriptor's own position", which is what sockets and pipes have.
    let n = unsafe {
        libc::splice(
            from,
            std::ptr::null_mut(),
            to,
            std::ptr::null_mut(),
            len,
            libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK,
        )
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}
