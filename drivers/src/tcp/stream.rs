use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::BytesMut;
// `futures`' mutex: its uncontended lock and unlock are one atomic each, where
// tokio's unlock takes an internal lock; this is the hot path of every send and
// receive.
use futures_util::lock::Mutex;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::TcpError;
use super::transport::{Reader, Writer};

const READ_CHUNK: usize = 64 * 1024;

/// How long a send may wait for the peer to take its bytes, unless the driver's
/// `send_timeout` says otherwise.
pub const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// One TCP connection with the receive contract of both drivers: an overall
/// deadline per call; exact-n, up-to-n and until-delimiter reads; bytes read
/// before a timeout kept for the next call; peer close a distinct error; whole
/// sends.
#[derive(Debug)]
pub(crate) struct Connection {
    /// `driver` and which connection, for errors.
    driver: String,
    label: String,
    peer: SocketAddr,
    local: SocketAddr,
    reader: Mutex<ReadSide>,
    writer: Mutex<Option<Writer>>,
    /// Cancelled when this side closes the connection or the driver stops.
    closed: CancellationToken,
    /// Set once the peer is known to be gone (end of stream, reset, broken pipe).
    peer_gone: AtomicBool,
}

#[derive(Debug)]
struct ReadSide {
    half: Option<Reader>,
    buffer: BytesMut,
    eof: bool,
}

/// What a read loop wants before it returns.
enum Want<'a> {
    Exactly(usize),
    AtMost(usize),
    Until(&'a [u8], usize),
}

impl Connection {
    pub(crate) fn new(
        driver: &str,
        label: String,
        (read, write): (Reader, Writer),
        (local, peer): (SocketAddr, SocketAddr),
        parent: &CancellationToken,
    ) -> Self {
        Self {
            driver: driver.to_owned(),
            label,
            peer,
            local,
            reader: Mutex::new(ReadSide {
                half: Some(read),
                buffer: BytesMut::with_capacity(READ_CHUNK),
                eof: false,
            }),
            writer: Mutex::new(Some(write)),
            closed: parent.child_token(),
            peer_gone: AtomicBool::new(false),
        }
    }

    pub(crate) fn peer(&self) -> SocketAddr {
        self.peer
    }

    pub(crate) fn local(&self) -> SocketAddr {
        self.local
    }

    /// Whether it can still carry data: not closed here, peer not known gone.
    pub(crate) fn is_usable(&self) -> bool {
        !self.closed.is_cancelled() && !self.peer_gone.load(Ordering::Relaxed)
    }

    /// Sends all of `data` within `timeout` overall (the wait for the write
    /// lock included).
    pub(crate) async fn send(&self, data: &[u8], timeout: Duration) -> Result<usize, TcpError> {
        // Set when something must wait, so the fast path never reads the clock;
        // nothing before that point waits, so the deadline still covers the call.
        let mut deadline: Option<Instant> = None;
        // Uncontended is the rule; `try_lock` skips the future machinery.
        let mut writer = match self.writer.try_lock() {
            Some(guard) => guard,
            None => {
                let at = *deadline.get_or_insert_with(|| super::deadline_after(timeout));
                tokio::select! {
                    guard = self.writer.lock() => guard,
                    () = tokio::time::sleep_until(at) => return Err(self.send_timeout(timeout, 0, data.len())),
                    () = self.closed.cancelled() => return Err(self.closed_error()),
                }
            }
        };
        let Some(half) = writer.as_mut() else {
            return Err(self.closed_error());
        };
        // Fast path: the socket buffer usually takes the whole message at once,
        // with no future, timer or wake-up involved.
        let mut written = 0;
        while written < data.len() {
            match half.write_now(&data[written..]) {
                Ok(n) => written += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(_) => break, // the slow path below reports it
            }
        }
        if written == data.len() {
            return Ok(written);
        }
        let at = *deadline.get_or_insert_with(|| super::deadline_after(timeout));
        while written < data.len() {
            // `write` is cancel-safe: on timeout nothing is half-counted.
            tokio::select! {
                wrote = half.write(&data[written..]) => match wrote {
                    Ok(0) => return Err(self.peer_closed(0)),
                    Ok(n) => written += n,
                    Err(e) if is_peer_gone(&e) => return Err(self.peer_closed(0)),
                    Err(source) => return Err(TcpError::Io {
                        driver: self.driver.clone(),
                        operation: format!("send on {}", self.label),
                        source,
                    }),
                },
                () = tokio::time::sleep_until(at) => return Err(self.send_timeout(timeout, written, data.len())),
                () = self.closed.cancelled() => return Err(self.closed_error()),
            }
        }
        Ok(data.len())
    }

    /// Exactly `n` bytes.
    pub(crate) async fn receive_exact(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<u8>, TcpError> {
        self.receive_with(Want::Exactly(n), timeout, || format!("receive_exact({n})"))
            .await
    }

    /// At least one and at most `max` bytes.
    pub(crate) async fn receive(&self, max: usize, timeout: Duration) -> Result<Vec<u8>, TcpError> {
        self.receive_with(Want::AtMost(max.max(1)), timeout, || {
            format!("receive({max})")
        })
        .await
    }

    /// Everything up to and including `delimiter`, which must come within `limit` bytes.
    pub(crate) async fn receive_until(
        &self,
        delimiter: &[u8],
        limit: usize,
        timeout: Duration,
    ) -> Result<Vec<u8>, TcpError> {
        assert!(
            !delimiter.is_empty(),
            "receive_until needs a non-empty delimiter"
        );
        self.receive_with(Want::Until(delimiter, limit), timeout, || {
            format!("receive_until({:?})", String::from_utf8_lossy(delimiter))
        })
        .await
    }

    async fn receive_with(
        &self,
        want: Want<'_>,
        timeout: Duration,
        describe: impl Fn() -> String,
    ) -> Result<Vec<u8>, TcpError> {
        // Set on the first wait, so the fast path never reads the clock; nothing
        // before that point waits, so the deadline still covers the whole call.
        let mut deadline: Option<Instant> = None;
        let mut side = match self.reader.try_lock() {
            Some(guard) => guard,
            None => {
                let at = *deadline.get_or_insert_with(|| super::deadline_after(timeout));
                tokio::select! {
                    guard = self.reader.lock() => guard,
                    () = tokio::time::sleep_until(at) => return Err(TcpError::Timeout {
                        driver: self.driver.clone(),
                        operation: format!("{} on {} (another receive held it)", describe(), self.label),
                        after: timeout,
                        buffered: 0,
                    }),
                    () = self.closed.cancelled() => return Err(self.closed_error()),
                }
            }
        };
        loop {
            if let Some(taken) = self.take(&mut side.buffer, &want)? {
                return Ok(taken);
            }
            if side.eof {
                return Err(self.peer_closed(side.buffer.len()));
            }
            let ReadSide { half, buffer, eof } = &mut *side;
            let Some(half) = half.as_mut() else {
                return Err(self.closed_error());
            };
            buffer.reserve(READ_CHUNK.min(want_hint(&want)));
            // Fast path: data already in the socket buffer needs no timer and no
            // trip through the scheduler.
            match half.read_now(buffer, fast_chunk(&want, buffer.len())) {
                Ok(0) => {
                    *eof = true;
                    continue;
                }
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) if is_peer_gone(&e) => {
                    *eof = true;
                    continue;
                }
                Err(_) => {} // the slow path below reports it
            }
            // `read_buf` is cancel-safe: a timeout or close loses no bytes.
            tokio::select! {
                read = half.read_buf(buffer) => match read {
                    Ok(0) => *eof = true,
                    Ok(_) => {}
                    Err(e) if is_peer_gone(&e) => *eof = true,
                    Err(source) => return Err(TcpError::Io {
                        driver: self.driver.clone(),
                        operation: format!("{} on {}", describe(), self.label),
                        source,
                    }),
                },
                () = tokio::time::sleep_until(*deadline.get_or_insert_with(|| super::deadline_after(timeout))) => return Err(TcpError::Timeout {
                    driver: self.driver.clone(),
                    operation: format!("{} on {}", describe(), self.label),
                    after: timeout,
                    buffered: buffer.len(),
                }),
                () = self.closed.cancelled() => return Err(self.closed_error()),
            }
        }
    }

    /// The bytes `want` asks for, if the buffer holds them.
    fn take(&self, buffer: &mut BytesMut, want: &Want<'_>) -> Result<Option<Vec<u8>>, TcpError> {
        match *want {
            Want::Exactly(n) if buffer.len() >= n => Ok(Some(take_front(buffer, n))),
            Want::AtMost(max) if !buffer.is_empty() => {
                let n = max.min(buffer.len());
                Ok(Some(take_front(buffer, n)))
            }
            Want::Until(delimiter, limit) => {
                let found = buffer
                    .windows(delimiter.len())
                    .position(|w| w == delimiter)
                    .map(|i| i + delimiter.len());
                match found {
                    Some(end) if end <= limit => Ok(Some(take_front(buffer, end))),
                    Some(_) => Err(self.too_long(delimiter, limit)),
                    None if buffer.len() >= limit => Err(self.too_long(delimiter, limit)),
                    None => Ok(None),
                }
            }
            _ => Ok(None),
        }
    }

    /// Closes both directions now; pending operations fail as closed.
    pub(crate) async fn close(&self) {
        // Every send and receive holding a lock gives it up once `closed` is
        // cancelled, so these lock waits end promptly without a deadline of their own.
        self.closed.cancel();
        let mut writer = self.writer.lock().await;
        if let Some(half) = writer.take() {
            half.close().await;
        }
        drop(writer);
        self.reader.lock().await.half = None;
    }

    fn peer_closed(&self, buffered: usize) -> TcpError {
        self.peer_gone.store(true, Ordering::Relaxed);
        TcpError::PeerClosed {
            driver: self.driver.clone(),
            connection: self.label.clone(),
            buffered,
        }
    }

    fn too_long(&self, delimiter: &[u8], limit: usize) -> TcpError {
        TcpError::TooLong {
            driver: self.driver.clone(),
            delimiter: String::from_utf8_lossy(delimiter).into_owned(),
            limit,
        }
    }

    fn send_timeout(&self, after: Duration, written: usize, total: usize) -> TcpError {
        TcpError::SendTimeout {
            driver: self.driver.clone(),
            connection: self.label.clone(),
            after,
            written,
            total,
        }
    }

    fn closed_error(&self) -> TcpError {
        TcpError::Closed {
            driver: self.driver.clone(),
            connection: self.label.clone(),
        }
    }
}

/// How much the fast path reads at once: what is still missing for an exact
/// read (as plain `read_exact` would), else a page.
/// The first `n` bytes, removed from `buffer`. Copy then advance: unlike
/// `split_to`, this never turns the buffer into a shared one.
fn take_front(buffer: &mut BytesMut, n: usize) -> Vec<u8> {
    let front = buffer[..n].to_vec();
    bytes::Buf::advance(buffer, n);
    front
}

fn fast_chunk(want: &Want<'_>, buffered: usize) -> usize {
    match *want {
        Want::Exactly(n) => n.saturating_sub(buffered).clamp(1, READ_CHUNK),
        Want::AtMost(n) => n.clamp(1, 4096),
        Want::Until(..) => 4096,
    }
}

fn want_hint(want: &Want<'_>) -> usize {
    match *want {
        Want::Exactly(n) | Want::AtMost(n) => n.max(4096),
        Want::Until(..) => 4096,
    }
}

fn is_peer_gone(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof
    )
}
