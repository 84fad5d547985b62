//! The no-toxic path: bytes move socket → pipe → socket inside the kernel
//! (`splice(2)`), never copied to userspace.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use tokio::io::Interest;
use tokio::net::TcpStream;

/// A new pipe's capacity (the kernel's default).
const PIPE_CAPACITY: usize = 64 * 1024;
/// What a pipe grows to once a splice fills it (a bulk flow): fewer system calls
/// per byte. The most one direction holds in the proxy.
pub(crate) const BULK_PIPE_CAPACITY: usize = 1024 * 1024;

/// A pipe between two sockets, and how many bytes wait in it.
#[derive(Debug)]
pub(crate) struct SplicePipe {
    read: OwnedFd,
    write: OwnedFd,
    pending: usize,
    capacity: usize,
    grown: bool,
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
            capacity: PIPE_CAPACITY,
            grown: false,
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
            let mut moved = 0;
            // The pipe is empty here, so EAGAIN can only mean the socket has nothing.
            // A short splice drained the socket: its readiness is cleared at once (as
            // tokio's own reads do), saving the system call that would say EAGAIN.
            let spliced = src.try_io(Interest::READABLE, || {
                moved = splice(src.as_raw_fd(), self.write.as_raw_fd(), self.capacity)?;
                if moved > 0 && moved < self.capacity {
                    Err(io::ErrorKind::WouldBlock.into())
                } else {
                    Ok(moved)
                }
            });
            match spliced {
                Ok(0) => return Ok(()),
                Err(e) if e.kind() != io::ErrorKind::WouldBlock => return Err(e),
                _ => {
                    self.pending += moved;
                    if moved == self.capacity {
                        self.grow();
                    }
                }
            }
        }
    }
}

impl SplicePipe {
    /// Grows the pipe to [`BULK_PIPE_CAPACITY`], once; a refusal (the user's pipe
    /// quota) keeps the size it has.
    fn grow(&mut self) {
        if self.grown {
            return;
        }
        self.grown = true;
        // SAFETY: F_SETPIPE_SZ on an open pipe descriptor, with an int size.
        let size = unsafe {
            libc::fcntl(
                self.write.as_raw_fd(),
                libc::F_SETPIPE_SZ,
                BULK_PIPE_CAPACITY as libc::c_int,
            )
        };
        if size > 0 {
            self.capacity = size as usize;
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
