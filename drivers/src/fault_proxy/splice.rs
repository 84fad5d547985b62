//! The no-toxic path, sized to what moves: a small amount (a request, a reply) in
//! one `recv` and one `send` through a userspace buffer; a bulk flow socket → pipe
//! → socket inside the kernel (`splice(2)`), never copied to userspace.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use tokio::io::Interest;
use tokio::net::TcpStream;

/// The userspace buffer: what one `recv` takes. A read that fills it is a bulk
/// flow, which is spliced from then on; a splice that moves less than this goes
/// back to the buffer.
pub(crate) const BUFFER_SIZE: usize = 16 * 1024;
/// A new pipe's capacity (the kernel's default).
const PIPE_CAPACITY: usize = 64 * 1024;
/// What a pipe grows to once a splice fills it (a bulk flow): fewer system calls
/// per byte. With [`BUFFER_SIZE`], the most one direction holds in the proxy.
pub(crate) const BULK_PIPE_CAPACITY: usize = 1024 * 1024;

/// One direction's pass-through with no toxic: moves bytes from a socket to
/// another, holding at most [`BUFFER_SIZE`] bytes in its buffer or
/// [`BULK_PIPE_CAPACITY`] in its pipe (never both), and reading nothing more until
/// they are written: a slow reader holds the writer back.
///
/// Small amounts go `recv` → buffer → `send`: two system calls per hop, each as
/// cheap as a splice, and no pipe. When a `recv` fills the buffer the direction
/// switches to splicing (a pipe is made then, once), and back when a splice moves
/// less than a buffer's worth.
#[derive(Debug, Default)]
pub(crate) struct Passthrough {
    /// Allocated on the first read.
    buffer: Vec<u8>,
    /// `buffer[start..end]` is read and not yet written.
    start: usize,
    end: usize,
    /// Made when the direction first turns bulk.
    pipe: Option<SplicePipe>,
    splicing: bool,
}

impl Passthrough {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Takes the bytes read and not yet written out (when toxics arrive), in order.
    pub(crate) fn drain(&mut self) -> io::Result<Vec<u8>> {
        let mut bytes = self.buffer[self.start..self.end].to_vec();
        (self.start, self.end) = (0, 0);
        if let Some(pipe) = &mut self.pipe {
            bytes.extend(pipe.drain()?);
        }
        Ok(bytes)
    }

    /// Moves bytes from `src` to `dst` until `src` ends (`Ok`) or fails. Cancel-safe:
    /// bytes read and not yet written stay, for the next call or
    /// [`drain`](Self::drain). `delivered` is told each count written to `dst`.
    ///
    /// Each round writes out what is held, then waits for `src` and reads once. A
    /// read or splice that leaves `src` empty (it moved less than it could) clears
    /// `src`'s readiness at once, as tokio's own reads do, saving the system call
    /// that would say `EAGAIN`.
    pub(crate) async fn pump(
        &mut self,
        src: &TcpStream,
        dst: &TcpStream,
        mut delivered: impl FnMut(usize),
    ) -> io::Result<()> {
        loop {
            self.flush(dst, &mut delivered).await?;
            src.readable().await?;
            let moved = if self.splicing {
                self.splice_in(src)
            } else {
                self.read_in(src)
            };
            match moved {
                Ok(Some(0)) => return Ok(()),
                Ok(_) => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Writes out what the buffer or the pipe holds.
    async fn flush(
        &mut self,
        dst: &TcpStream,
        delivered: &mut impl FnMut(usize),
    ) -> io::Result<()> {
        while self.start < self.end {
            dst.writable().await?;
            match dst.try_write(&self.buffer[self.start..self.end]) {
                Ok(n) => {
                    self.start += n;
                    delivered(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        (self.start, self.end) = (0, 0);
        if let Some(pipe) = &mut self.pipe {
            pipe.flush(dst, delivered).await?;
        }
        Ok(())
    }

    /// One `recv` into the empty buffer: `Some(count)` (0: the end of `src`), or
    /// `None` when `src` had nothing after all.
    fn read_in(&mut self, src: &TcpStream) -> io::Result<Option<usize>> {
        if self.buffer.is_empty() {
            self.buffer = vec![0; BUFFER_SIZE];
        }
        let buffer = &mut self.buffer;
        let mut read = 0;
        let result = src.try_io(Interest::READABLE, || {
            // SAFETY: the pointer and length are `buffer`'s own.
            let n =
                unsafe { libc::recv(src.as_raw_fd(), buffer.as_mut_ptr().cast(), buffer.len(), 0) };
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            read = n as usize;
            if read > 0 && read < buffer.len() {
                Err(io::ErrorKind::WouldBlock.into())
            } else {
                Ok(read)
            }
        });
        match result {
            Err(e) if e.kind() != io::ErrorKind::WouldBlock => return Err(e),
            Err(_) if read == 0 => return Ok(None),
            _ => {}
        }
        (self.start, self.end) = (0, read);
        if read == BUFFER_SIZE && self.pipe.is_none() {
            // Out of descriptors: stay on the buffer, which works without a pipe.
            self.pipe = SplicePipe::new().ok();
        }
        self.splicing = read == BUFFER_SIZE && self.pipe.is_some();
        Ok(Some(read))
    }

    /// One splice into the empty pipe; as [`read_in`](Self::read_in).
    fn splice_in(&mut self, src: &TcpStream) -> io::Result<Option<usize>> {
        let pipe = self.pipe.as_mut().expect("splicing has a pipe");
        let moved = pipe.fill(src)?;
        if moved.is_some_and(|moved| moved < BUFFER_SIZE) {
            self.splicing = false;
        }
        Ok(moved)
    }
}

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

    /// Takes the bytes waiting in the pipe out to userspace.
    fn drain(&mut self) -> io::Result<Vec<u8>> {
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

    /// Splices what waits in the pipe out to `dst`.
    async fn flush(
        &mut self,
        dst: &TcpStream,
        delivered: &mut impl FnMut(usize),
    ) -> io::Result<()> {
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
        Ok(())
    }

    /// One splice from `src` into the empty pipe: as [`Passthrough::read_in`]. A
    /// splice that fills the pipe grows it.
    fn fill(&mut self, src: &TcpStream) -> io::Result<Option<usize>> {
        let mut moved = 0;
        // The pipe is empty here, so EAGAIN can only mean the socket has nothing.
        let spliced = src.try_io(Interest::READABLE, || {
            moved = splice(src.as_raw_fd(), self.write.as_raw_fd(), self.capacity)?;
            if moved > 0 && moved < self.capacity {
                Err(io::ErrorKind::WouldBlock.into())
            } else {
                Ok(moved)
            }
        });
        match spliced {
            Err(e) if e.kind() != io::ErrorKind::WouldBlock => return Err(e),
            Err(_) if moved == 0 => return Ok(None),
            _ => {}
        }
        self.pending += moved;
        if moved == self.capacity {
            self.grow();
        }
        Ok(Some(moved))
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

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::task::Poll;
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;
    use tokio::time::timeout;

    use super::*;

    /// The longest a step may take before the test fails rather than hangs.
    const DEADLINE: Duration = Duration::from_secs(20);

    /// Two ends of a real loopback connection.
    async fn connection() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (connected, accepted) = tokio::join!(TcpStream::connect(address), listener.accept());
        (connected.unwrap(), accepted.unwrap().0)
    }

    fn pattern(len: usize, seed: usize) -> Vec<u8> {
        (seed..seed + len).map(|i| (i % 251) as u8).collect()
    }

    /// Sends `data` through the pump (`writer` → pump → `reader`), the pump kept
    /// polled, and returns what `reader` got.
    async fn through(
        pump: &mut std::pin::Pin<&mut impl Future<Output = io::Result<()>>>,
        writer: &mut TcpStream,
        reader: &mut TcpStream,
        data: &[u8],
    ) -> Vec<u8> {
        let mut received = vec![0u8; data.len()];
        let moved = async {
            let (written, read) =
                tokio::join!(writer.write_all(data), reader.read_exact(&mut received));
            written.unwrap();
            read.unwrap();
        };
        tokio::select! {
            ended = pump.as_mut() => panic!("the pump ended early: {ended:?}"),
            moved = timeout(DEADLINE, moved) => moved.expect("the data did not arrive in time"),
        }
        received
    }

    #[tokio::test]
    async fn small_amounts_go_through_the_buffer_and_a_bulk_flow_through_a_pipe() {
        let (mut writer, src) = connection().await;
        let (dst, mut reader) = connection().await;
        let mut passthrough = Passthrough::new();
        let mut delivered = 0;
        let bulk = pattern(8 << 20, 7);
        {
            let mut pump = pin!(passthrough.pump(&src, &dst, |n| delivered += n));
            for seed in 0..10 {
                let message = pattern(64, seed);
                assert_eq!(
                    through(&mut pump, &mut writer, &mut reader, &message).await,
                    message
                );
            }
        }
        assert!(
            passthrough.pipe.is_none(),
            "a pipe was made for 64-byte messages"
        );
        assert!(!passthrough.splicing);
        {
            let mut pump = pin!(passthrough.pump(&src, &dst, |n| delivered += n));
            let received = through(&mut pump, &mut writer, &mut reader, &bulk).await;
            assert!(received == bulk, "the bulk flow arrived changed");
        }
        assert!(
            passthrough.pipe.is_some(),
            "8 MiB went through without a pipe"
        );
        {
            let mut pump = pin!(passthrough.pump(&src, &dst, |n| delivered += n));
            for seed in 0..3 {
                let message = pattern(64, seed);
                assert_eq!(
                    through(&mut pump, &mut writer, &mut reader, &message).await,
                    message
                );
            }
            // The end of the source ends the pump.
            drop(writer);
            timeout(DEADLINE, pump).await.unwrap().unwrap();
        }
        assert!(
            !passthrough.splicing,
            "small amounts after a bulk flow are still spliced"
        );
        assert_eq!(delivered, 13 * 64 + bulk.len());
        let mut rest = Vec::new();
        drop(dst);
        timeout(DEADLINE, reader.read_to_end(&mut rest))
            .await
            .unwrap()
            .unwrap();
        assert!(rest.is_empty());
    }

    #[tokio::test]
    async fn bytes_read_but_not_written_are_drained_in_order_and_nothing_more_is_read() {
        let (mut writer, src) = connection().await;
        let (dst, mut reader) = connection().await;
        // The reader does not read: fill the way to it, so the pump cannot write.
        let filler = vec![0xeeu8; 64 * 1024];
        let mut filled = 0;
        loop {
            match dst.try_write(&filler) {
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("{e}"),
            }
        }
        let mut passthrough = Passthrough::new();
        let mut delivered = 0;
        let first = pattern(100, 1);
        let second = pattern(100, 2);
        writer.write_all(&first).await.unwrap();
        timeout(DEADLINE, src.readable()).await.unwrap().unwrap();
        {
            let mut pump = pin!(passthrough.pump(&src, &dst, |n| delivered += n));
            // One poll reads what is there and finds the destination full.
            let polled = std::future::poll_fn(|cx| Poll::Ready(pump.as_mut().poll(cx))).await;
            assert!(polled.is_pending(), "{polled:?}");
            // More arrives; the pump, still holding `first`, does not read it.
            writer.write_all(&second).await.unwrap();
            timeout(DEADLINE, src.readable()).await.unwrap().unwrap();
            let polled = std::future::poll_fn(|cx| Poll::Ready(pump.as_mut().poll(cx))).await;
            assert!(polled.is_pending(), "{polled:?}");
        }
        // The destination may have taken some (its buffer can grow): what it took
        // and what is drained are `first`, in order; `second` waits in the socket.
        let drained = passthrough.drain().unwrap();
        assert!(
            drained.len() + delivered == first.len(),
            "{} + {delivered}",
            drained.len()
        );
        assert_eq!(drained[..], first[delivered..]);
        assert!(passthrough.drain().unwrap().is_empty());
        let mut waiting = vec![0u8; second.len()];
        assert_eq!(src.try_read(&mut waiting).unwrap(), second.len());
        assert_eq!(waiting, second);
        drop(dst);
        let mut arrived = Vec::new();
        timeout(DEADLINE, reader.read_to_end(&mut arrived))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(arrived.len(), filled + delivered);
        assert_eq!(arrived[filled..], first[..delivered]);
    }
}
