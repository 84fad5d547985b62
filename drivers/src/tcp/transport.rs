use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use bytes::BytesMut;
use socket2::SockRef;
use testrig::service::{Connection as _, TcpConnection};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// The read side of a connection: a socket of our own, or a connection kept by a
/// reconnecting [`ClientService`](testrig::service::ClientService).
#[derive(Debug)]
pub(crate) enum Reader {
    Owned(OwnedReadHalf),
    Service(TcpConnection),
}

/// The write side, likewise.
#[derive(Debug)]
pub(crate) enum Writer {
    Owned(OwnedWriteHalf),
    Service(TcpConnection),
}

/// Splits an owned stream.
pub(crate) fn owned(stream: TcpStream) -> (Reader, Writer) {
    let (read, write) = stream.into_split();
    (Reader::Owned(read), Writer::Owned(write))
}

/// Shares a service connection.
pub(crate) fn service(connection: TcpConnection) -> (Reader, Writer) {
    (
        Reader::Service(connection.clone()),
        Writer::Service(connection),
    )
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
            Reader::Owned(half) => {
                let start = buffer.len();
                buffer.resize(start + chunk, 0);
                let read =
                    io::Read::read(&mut &*SockRef::from(half.as_ref()), &mut buffer[start..]);
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
            Reader::Owned(half) => half.read_buf(buffer).await,
            Reader::Service(connection) => connection.read_buf(buffer).await,
        }
    }
}

impl Writer {
    /// Writes what the socket takes now, without waiting.
    pub(crate) fn write_now(&mut self, data: &[u8]) -> io::Result<usize> {
        match self {
            Writer::Owned(half) => half.try_write(data),
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
            Writer::Owned(half) => half.write(data).await,
            Writer::Service(connection) => connection.write(data).await,
        }
    }

    /// Closes the connection (for a service connection, the service notices).
    pub(crate) async fn close(self) {
        match self {
            Writer::Owned(mut half) => {
                let _ = half.shutdown().await;
            }
            Writer::Service(connection) => connection.close(),
        }
    }
}
