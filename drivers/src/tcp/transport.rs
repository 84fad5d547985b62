use std::io;
use std::net::Shutdown;
use std::os::fd::{AsFd, BorrowedFd};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use bytes::BytesMut;
use socket2::SockRef;
use testrig::service::{Connection as _, TcpConnection};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

/// The read side of a connection: a socket of our own, or a connection kept by a
/// reconnecting [`ClientService`](testrig::service::ClientService).
#[derive(Debug)]
pub(crate) enum Reader {
    Owned(Arc<TcpStream>),
    Service(TcpConnection),
}

/// The write side, likewise.
#[derive(Debug)]
pub(crate) enum Writer {
    Owned(Arc<TcpStream>),
    Service(TcpConnection),
}

/// The socket itself, for questions asked beside the reads and writes (is the
/// peer gone, how much is unacknowledged). The descriptor lives as long as any of
/// the three handles.
#[derive(Debug, Clone)]
pub(crate) enum Socket {
    Owned(Arc<TcpStream>),
    Service(TcpConnection),
}

/// Shares an owned stream between its read side, write side and probe.
pub(crate) fn owned(stream: TcpStream) -> (Reader, Writer, Socket) {
    let stream = Arc::new(stream);
    (
        Reader::Owned(stream.clone()),
        Writer::Owned(stream.clone()),
        Socket::Owned(stream),
    )
}

/// Shares a service connection.
pub(crate) fn service(connection: TcpConnection) -> (Reader, Writer, Socket) {
    (
        Reader::Service(connection.clone()),
        Writer::Service(connection.clone()),
        Socket::Service(connection),
    )
}

impl Socket {
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Socket::Owned(stream) => stream.as_fd(),
            Socket::Service(connection) => connection.as_fd(),
        }
    }

    /// Bytes written that the peer has not acknowledged. A service connection
    /// answers with what it measured when it was closed, once it is.
    pub(crate) fn unacknowledged(&self) -> Option<u64> {
        match self {
            Socket::Owned(stream) => super::probe::unacknowledged(stream.as_fd()).ok(),
            Socket::Service(connection) => connection.unacknowledged_bytes(),
        }
    }
}

impl Reader {
    /// Reads what is there now, without waiting, appending at most `chunk` bytes.
    pub(crate) fn read_now(&mut self, buffer: &mut BytesMut, chunk: usize) -> io::Result<usize> {
        match self {
            // tokio's own `try_read` answers `WouldBlock` without asking the kernel
            // when its cached readiness was cleared by an earlier short read, which
            // would send every such receive through the reactor; asking the kernel
            // directly avoids that. Reading behind tokio's back is harmless: at worst
            // its readiness says "readable" when nothing is left, and its next read
            // finds out.
            Reader::Owned(stream) => {
                let start = buffer.len();
                buffer.resize(start + chunk, 0);
                let read = io::Read::read(&mut &*SockRef::from(&**stream), &mut buffer[start..]);
                buffer.truncate(start + *read.as_ref().unwrap_or(&0));
                read
            }
            // Through the connection's own `AsyncRead`, so its loss watcher sees the
            // read; polled once, without a waker.
            Reader::Service(connection) => {
                let start = buffer.len();
                buffer.resize(start + chunk, 0);
                let mut read_buf = ReadBuf::new(&mut buffer[start..]);
                let mut cx = Context::from_waker(Waker::noop());
                let polled = Pin::new(&mut *connection).poll_read(&mut cx, &mut read_buf);
                let read = match polled {
                    Poll::Ready(Ok(())) => Ok(read_buf.filled().len()),
                    Poll::Ready(Err(e)) => Err(e),
                    Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
                };
                buffer.truncate(start + *read.as_ref().unwrap_or(&0));
                read
            }
        }
    }

    /// Waits for data and appends it. Cancel-safe: a cancelled read loses nothing.
    pub(crate) async fn read_buf(&mut self, buffer: &mut BytesMut) -> io::Result<usize> {
        match self {
            Reader::Owned(stream) => loop {
                stream.readable().await?;
                match stream.try_read_buf(buffer) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    read => return read,
                }
            },
            Reader::Service(connection) => connection.read_buf(buffer).await,
        }
    }
}

impl Writer {
    /// Writes what the socket takes now, without waiting.
    pub(crate) fn write_now(&mut self, data: &[u8]) -> io::Result<usize> {
        match self {
            Writer::Owned(stream) => stream.try_write(data),
            Writer::Service(connection) => {
                let mut cx = Context::from_waker(Waker::noop());
                match Pin::new(connection).poll_write(&mut cx, data) {
                    Poll::Ready(result) => result,
                    Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
                }
            }
        }
    }

    /// Writes some of `data`; returns how much. Cancel-safe.
    pub(crate) async fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        match self {
            Writer::Owned(stream) => loop {
                stream.writable().await?;
                match stream.try_write(data) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    wrote => return wrote,
                }
            },
            Writer::Service(connection) => connection.write(data).await,
        }
    }

    /// Closes the connection (for a service connection, the service notices).
    /// Closing again does nothing more.
    pub(crate) fn close(&self) {
        match self {
            // FIN now; the descriptor goes with the last handle.
            Writer::Owned(stream) => {
                let _ = SockRef::from(&**stream).shutdown(Shutdown::Write);
            }
            Writer::Service(connection) => connection.close(),
        }
    }
}
