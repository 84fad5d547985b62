use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::BytesMut;
// `futures`' mutex: its uncontended lock and unlock are one atomic each, where
// tokio's unlock takes an internal lock; this is the hot path of every send and
// receive.
use futures_util::lock::{Mutex, MutexGuard};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::probe::{self, Peer};
use super::transport::{Reader, Socket, Writer};
use super::{LINE_LIMIT, TcpError};

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
    writer: Mutex<Writer>,
    /// The socket, for non-blocking questions beside reads and writes.
    socket: Socket,
    /// Open, closed by the peer, or closed here: what every question about the
    /// connection reads.
    state: StateCell,
    /// Woken when the state becomes [`State::Closed`], so every wait on the
    /// connection ends.
    closing: Notify,
    /// Signalled after every receive, so a watcher waiting for unread bytes to be
    /// taken looks again.
    progress: Notify,
}

/// Where a connection is in its life. It only moves forward: `Open` →
/// `PeerClosed` → `Closed`, or `Open` → `Closed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// Both directions carry data.
    Open,
    /// The peer closed its side or reset the connection (a read, a write or a
    /// look at the socket found out): the bytes it sent before stay readable, and
    /// nothing more is sent.
    PeerClosed {
        /// Bytes written that the peer had not acknowledged at that moment.
        unacknowledged: Option<u64>,
    },
    /// Closed on this side (`close`, or its driver stopped): every call on it
    /// fails as closed, and every wait on it ends.
    Closed {
        /// Bytes written that the peer had not acknowledged when the connection
        /// ended (closed here, or earlier by the peer).
        unacknowledged: Option<u64>,
    },
}

/// A [`State`] in one atomic word, so the hot paths read it without a lock:
/// the variant in the top two bits, then whether the count is known, then the
/// count (saturated; socket buffers are far smaller).
#[derive(Debug)]
struct StateCell(AtomicU64);

impl StateCell {
    const VARIANT_SHIFT: u32 = 62;
    const KNOWN: u64 = 1 << 61;
    const COUNT: u64 = Self::KNOWN - 1;

    fn new() -> Self {
        Self(AtomicU64::new(Self::encode(State::Open)))
    }

    fn get(&self) -> State {
        Self::decode(self.0.load(Ordering::Acquire))
    }

    /// Moves to `step(current)` unless it answers `None`; returns the state after.
    /// `step` may run more than once when another thread moves it meanwhile.
    fn advance(&self, step: impl Fn(State) -> Option<State>) -> State {
        let mut current = self.0.load(Ordering::Acquire);
        loop {
            let Some(next) = step(Self::decode(current)) else {
                return Self::decode(current);
            };
            let word = Self::encode(next);
            match self
                .0
                .compare_exchange_weak(current, word, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return next,
                Err(actual) => current = actual,
            }
        }
    }

    fn encode(state: State) -> u64 {
        let count = |unacknowledged: Option<u64>| {
            unacknowledged.map_or(0, |n| Self::KNOWN | n.min(Self::COUNT))
        };
        match state {
            State::Open => 0,
            State::PeerClosed { unacknowledged } => {
                (1 << Self::VARIANT_SHIFT) | count(unacknowledged)
            }
            State::Closed { unacknowledged } => (2 << Self::VARIANT_SHIFT) | count(unacknowledged),
        }
    }

    fn decode(word: u64) -> State {
        let unacknowledged = (word & Self::KNOWN != 0).then_some(word & Self::COUNT);
        match word >> Self::VARIANT_SHIFT {
            0 => State::Open,
            1 => State::PeerClosed { unacknowledged },
            _ => State::Closed { unacknowledged },
        }
    }
}

/// Why a send failed, and whether its bytes may be sent elsewhere.
#[derive(Debug)]
pub(crate) enum SendFailure {
    /// The connection was known to be closed before any byte reached the kernel:
    /// nothing of this message is on this connection.
    Unsent(TcpError),
    /// Anything else; some bytes may have been written.
    Failed(TcpError),
}

impl From<SendFailure> for TcpError {
    fn from(failure: SendFailure) -> Self {
        match failure {
            SendFailure::Unsent(error) | SendFailure::Failed(error) => error,
        }
    }
}

#[derive(Debug)]
struct ReadSide {
    half: Reader,
    buffer: BytesMut,
}

/// What a receive wants before it returns.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Want<'a> {
    /// Exactly this many bytes (`receive_exact`).
    Exactly(usize),
    /// At least one byte and at most this many (`receive`).
    AtMost(usize),
    /// Everything up to and including the delimiter, which must come within the
    /// limit (`receive_until`).
    Until(&'a [u8], usize),
}

impl Want<'static> {
    /// One `\n`-terminated line (`receive_line`).
    pub(crate) const LINE: Self = Want::Until(b"\n", LINE_LIMIT);
}

impl Want<'_> {
    /// The call that asked, for errors.
    fn describe(&self) -> String {
        match *self {
            Want::Exactly(n) => format!("receive_exact({n})"),
            Want::AtMost(max) => format!("receive({max})"),
            Want::Until(delimiter, _) => {
                format!("receive_until({:?})", String::from_utf8_lossy(delimiter))
            }
        }
    }
}

impl Connection {
    pub(crate) fn new(
        driver: &str,
        label: String,
        (read, write, socket): (Reader, Writer, Socket),
        (local, peer): (SocketAddr, SocketAddr),
    ) -> Self {
        Self {
            driver: driver.to_owned(),
            label,
            peer,
            local,
            reader: Mutex::new(ReadSide {
                half: read,
                // Grown by the first receive: an idle connection costs no buffer.
                buffer: BytesMut::new(),
            }),
            writer: Mutex::new(write),
            socket,
            state: StateCell::new(),
            closing: Notify::new(),
            progress: Notify::new(),
        }
    }

    pub(crate) fn peer(&self) -> SocketAddr {
        self.peer
    }

    pub(crate) fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.socket.fd()
    }

    pub(crate) fn local(&self) -> SocketAddr {
        self.local
    }

    /// Where it is in its life, as last known (no system call).
    pub(crate) fn state(&self) -> State {
        self.state.get()
    }

    /// Where it is in its life, asking the kernel now while it is open (the
    /// peer's FIN or reset may have arrived since the last read).
    pub(crate) fn state_now(&self) -> State {
        match self.state() {
            State::Open => match probe::peer(self.socket.fd()) {
                Peer::Open { .. } => State::Open,
                Peer::Gone { .. } => self.mark_peer_closed(),
            },
            known => known,
        }
    }

    /// Whether it can still carry data, as last known.
    pub(crate) fn is_usable(&self) -> bool {
        self.state() == State::Open
    }

    /// Whether it can still carry data, asking the kernel now.
    pub(crate) fn is_usable_now(&self) -> bool {
        self.state_now() == State::Open
    }

    /// Bytes written that the peer had not acknowledged when this connection was
    /// first known to be lost or was closed here (while it is open: now).
    pub(crate) fn unacknowledged_at_end(&self) -> Option<u64> {
        match self.state() {
            State::Open => self.socket.unacknowledged(),
            State::PeerClosed { unacknowledged } | State::Closed { unacknowledged } => {
                unacknowledged
            }
        }
    }

    /// Whether received bytes wait to be taken, here or in the kernel (a receive
    /// under way counts as yes).
    pub(crate) fn has_unread(&self) -> bool {
        let buffered = self
            .reader
            .try_lock()
            .is_none_or(|side| !side.buffer.is_empty());
        buffered
            || match probe::peer(self.socket.fd()) {
                Peer::Open { readable } => readable,
                Peer::Gone { unread, .. } => unread > 0,
            }
    }

    /// Records that the peer closed or reset it, with the bytes it had not
    /// acknowledged (unless its end is already known); returns the state after.
    pub(crate) fn mark_peer_closed(&self) -> State {
        self.state.advance(|state| match state {
            State::Open => Some(State::PeerClosed {
                unacknowledged: self.socket.unacknowledged(),
            }),
            State::PeerClosed { .. } | State::Closed { .. } => None,
        })
    }

    /// Marks it closed on this side and wakes every wait on it, at once and
    /// without a system call on the socket (a driver's `abort` may call it);
    /// [`close`](Self::close) also sends the FIN.
    pub(crate) fn shut(&self) {
        self.state.advance(|state| match state {
            State::Open => Some(State::Closed {
                unacknowledged: self.socket.unacknowledged(),
            }),
            State::PeerClosed { unacknowledged } => Some(State::Closed { unacknowledged }),
            State::Closed { .. } => None,
        });
        self.closing.notify_waiters();
    }

    /// Resolves once the connection is closed on this side.
    async fn closed_here(&self) {
        loop {
            // Enabled before looking, so a close meanwhile is not missed.
            let closing = self.closing.notified();
            tokio::pin!(closing);
            closing.as_mut().enable();
            if let State::Closed { .. } = self.state() {
                return;
            }
            closing.await;
        }
    }

    /// Sends all of `data` within `timeout` overall (the wait for the write
    /// lock included).
    ///
    /// Never answers `Ok` for a connection known, or seen with a non-blocking look
    /// just before writing, to be closed by the peer (FIN, reset, pending error):
    /// that is [`SendFailure::Unsent`], with nothing written.
    pub(crate) async fn send(&self, data: &[u8], timeout: Duration) -> Result<usize, SendFailure> {
        // The usual case (the lock is free, the socket buffer takes the whole
        // message) needs no wait, no timer and no clock: it runs here. What can
        // wait is a boxed future of its own, so this one, and every caller's that
        // holds it, stays a few words large (a large future is copied on every call).
        let Some(mut half) = self.writer.try_lock() else {
            return Box::pin(self.send_after_lock_wait(data, timeout)).await;
        };
        match self.write_now(&mut half, data)? {
            written if written == data.len() => Ok(written),
            written => Box::pin(self.finish_send(half, data, written, None, timeout)).await,
        }
    }

    /// [`send`](Self::send) when another send holds the write lock: waits for it,
    /// with the deadline starting now.
    async fn send_after_lock_wait(
        &self,
        data: &[u8],
        timeout: Duration,
    ) -> Result<usize, SendFailure> {
        let at = super::deadline_after(timeout);
        let mut half = tokio::select! {
            guard = self.writer.lock() => guard,
            () = tokio::time::sleep_until(at) => return Err(SendFailure::Failed(self.send_timeout(timeout, 0, data.len()))),
            () = self.closed_here() => return Err(SendFailure::Failed(self.closed_error())),
        };
        match self.write_now(&mut half, data)? {
            written if written == data.len() => Ok(written),
            written => {
                self.finish_send(half, data, written, Some(at), timeout)
                    .await
            }
        }
    }

    /// Looks at the connection, then writes what the socket takes now, without
    /// waiting: the bytes written (fewer than `data` when the socket is full).
    fn write_now(&self, half: &mut Writer, data: &[u8]) -> Result<usize, SendFailure> {
        // Bytes written after the peer's FIN or reset are lost: look first (one
        // `poll(2)` with a zero timeout).
        match self.state_now() {
            State::Open => {}
            State::PeerClosed { .. } => {
                return Err(SendFailure::Unsent(
                    self.peer_closed_error(self.unread_hint()),
                ));
            }
            State::Closed { .. } => return Err(SendFailure::Failed(self.closed_error())),
        }
        let mut written = 0;
        while written < data.len() {
            match half.write_now(&data[written..]) {
                Ok(n) => written += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                // The kernel took none of it: the peer reset or closed meanwhile.
                Err(e) if written == 0 && is_peer_gone(&e) => return Err(self.lost(0)),
                Err(_) => break, // the waiting path reports it
            }
        }
        Ok(written)
    }

    /// Writes the rest of `data` after `written` bytes, waiting for the socket
    /// to take it until the deadline (`deadline`, or `timeout` from now).
    async fn finish_send(
        &self,
        mut half: MutexGuard<'_, Writer>,
        data: &[u8],
        mut written: usize,
        deadline: Option<Instant>,
        timeout: Duration,
    ) -> Result<usize, SendFailure> {
        let at = deadline.unwrap_or_else(|| super::deadline_after(timeout));
        while written < data.len() {
            // `write` is cancel-safe: on timeout nothing is half-counted.
            tokio::select! {
                wrote = half.write(&data[written..]) => match wrote {
                    Ok(0) => return Err(SendFailure::Failed(self.peer_closed(0))),
                    Ok(n) => written += n,
                    Err(e) if is_peer_gone(&e) => return Err(self.lost(written)),
                    Err(source) => return Err(SendFailure::Failed(TcpError::Io {
                        driver: self.driver.clone(),
                        operation: format!("send on {}", self.label),
                        source,
                    })),
                },
                () = tokio::time::sleep_until(at) => return Err(SendFailure::Failed(self.send_timeout(timeout, written, data.len()))),
                () = self.closed_here() => return Err(SendFailure::Failed(self.closed_error())),
            }
        }
        Ok(data.len())
    }

    /// A write found the connection gone after `written` bytes of the message.
    fn lost(&self, written: usize) -> SendFailure {
        match self.peer_closed(0) {
            error @ TcpError::PeerClosed { .. } if written == 0 => SendFailure::Unsent(error),
            error => SendFailure::Failed(error),
        }
    }

    /// The bytes `want` asks for, within `timeout` overall.
    pub(crate) async fn receive(
        &self,
        want: Want<'_>,
        timeout: Duration,
    ) -> Result<Vec<u8>, TcpError> {
        if let Want::Until(delimiter, _) = want {
            assert!(
                !delimiter.is_empty(),
                "receive_until needs a non-empty delimiter"
            );
        }
        // As in `send`: the usual case (the lock is free, the bytes are there)
        // runs here; what can wait is boxed.
        let received = match self.reader.try_lock() {
            Some(mut side) => match self.receive_now(&mut side, want) {
                Ok(Some(taken)) => Ok(taken),
                Ok(None) => Box::pin(self.receive_waiting(side, want, None, timeout)).await,
                Err(error) => Err(error),
            },
            None => Box::pin(self.receive_after_lock_wait(want, timeout)).await,
        };
        self.progress.notify_one();
        received
    }

    /// [`receive`](Self::receive) when another receive holds the read lock:
    /// waits for it, with the deadline starting now.
    async fn receive_after_lock_wait(
        &self,
        want: Want<'_>,
        timeout: Duration,
    ) -> Result<Vec<u8>, TcpError> {
        let at = super::deadline_after(timeout);
        let mut side = tokio::select! {
            guard = self.reader.lock() => guard,
            () = tokio::time::sleep_until(at) => return Err(TcpError::ReceiveTimeout {
                driver: self.driver.clone(),
                operation: format!("{} on {} (another receive held it)", want.describe(), self.label),
                after: timeout,
                buffered: 0,
            }),
            () = self.closed_here() => return Err(self.closed_error()),
        };
        match self.receive_now(&mut side, want)? {
            Some(taken) => Ok(taken),
            None => self.receive_waiting(side, want, Some(at), timeout).await,
        }
    }

    /// What `want` asks for from the buffer and what the socket holds now,
    /// without waiting; `None` when more must be waited for.
    fn receive_now(
        &self,
        side: &mut ReadSide,
        want: Want<'_>,
    ) -> Result<Option<Vec<u8>>, TcpError> {
        loop {
            if let Some(taken) = self.take(&mut side.buffer, &want)? {
                return Ok(Some(taken));
            }
            // Bytes the peer sent before its close are read until the end of the
            // stream; after a close here nothing more is.
            if let State::Closed { .. } = self.state() {
                return Err(self.closed_error());
            }
            let ReadSide { half, buffer } = side;
            buffer.reserve(READ_CHUNK.min(want_hint(&want)));
            // Data already in the socket buffer needs no timer and no trip through
            // the scheduler.
            match half.read_now(buffer, fast_chunk(&want, buffer.len())) {
                Ok(0) => return Err(self.peer_closed(buffer.len())),
                Ok(_) => {}
                Err(e) if is_peer_gone(&e) => return Err(self.peer_closed(buffer.len())),
                // Would block, or an error the waiting path reports.
                Err(_) => return Ok(None),
            }
        }
    }

    /// Waits for the bytes `want` asks for until the deadline (`deadline`, or
    /// `timeout` from the first wait), after [`receive_now`](Self::receive_now)
    /// found too few.
    async fn receive_waiting(
        &self,
        mut side: MutexGuard<'_, ReadSide>,
        want: Want<'_>,
        mut deadline: Option<Instant>,
        timeout: Duration,
    ) -> Result<Vec<u8>, TcpError> {
        loop {
            let ReadSide { half, buffer } = &mut *side;
            // `read_buf` is cancel-safe: a timeout or close loses no bytes.
            tokio::select! {
                read = half.read_buf(buffer) => match read {
                    Ok(0) => return Err(self.peer_closed(buffer.len())),
                    Ok(_) => {}
                    Err(e) if is_peer_gone(&e) => return Err(self.peer_closed(buffer.len())),
                    Err(source) => return Err(TcpError::Io {
                        driver: self.driver.clone(),
                        operation: format!("{} on {}", want.describe(), self.label),
                        source,
                    }),
                },
                () = tokio::time::sleep_until(*deadline.get_or_insert_with(|| super::deadline_after(timeout))) => return Err(TcpError::ReceiveTimeout {
                    driver: self.driver.clone(),
                    operation: format!("{} on {}", want.describe(), self.label),
                    after: timeout,
                    buffered: buffer.len(),
                }),
                () = self.closed_here() => return Err(self.closed_error()),
            }
            if let Some(taken) = self.receive_now(&mut side, want)? {
                return Ok(taken);
            }
        }
    }

    /// The bytes `want` asks for, if the buffer holds them.
    fn take(&self, buffer: &mut BytesMut, want: &Want<'_>) -> Result<Option<Vec<u8>>, TcpError> {
        match *want {
            Want::Exactly(n) if buffer.len() >= n => Ok(Some(take_front(buffer, n))),
            Want::AtMost(max) if !buffer.is_empty() => {
                let n = max.clamp(1, buffer.len());
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
        self.shut();
        // Every send and receive holding a lock gives it up once it is closed, so
        // these lock waits end promptly without a deadline of their own.
        self.writer.lock().await.close();
        // Receives under way have ended.
        drop(self.reader.lock().await);
    }

    /// Whether the peer has closed the connection (FIN or reset) and every byte
    /// it sent has been taken by a receive, so it holds nothing a test could
    /// still want (asking the kernel now).
    pub(crate) fn is_drained_after_peer_close(&self) -> bool {
        let drained = !matches!(self.state(), State::Closed { .. })
            && matches!(probe::peer(self.socket.fd()), Peer::Gone { unread: 0 })
            && self.nothing_buffered();
        if drained {
            self.mark_peer_closed();
        }
        drained
    }

    /// Resolves `true` once [`is_drained_after_peer_close`](Self::is_drained_after_peer_close)
    /// holds, looking again after each receive; `false` once the connection is
    /// closed on this side.
    pub(crate) async fn drained_after_peer_close(&self) -> bool {
        loop {
            // Enabled before looking, so a receive finishing meanwhile is not missed.
            let progress = self.progress.notified();
            tokio::pin!(progress);
            progress.as_mut().enable();
            if self.is_drained_after_peer_close() {
                return true;
            }
            tokio::select! {
                biased;
                () = self.closed_here() => return false,
                () = progress => {}
            }
        }
    }

    /// Whether no received byte waits in this side's buffer (a receive under way
    /// counts as "maybe": it will signal when done).
    fn nothing_buffered(&self) -> bool {
        self.reader
            .try_lock()
            .is_some_and(|side| side.buffer.is_empty())
    }

    /// Bytes received and not taken, if the read side is free to say.
    fn unread_hint(&self) -> usize {
        self.reader.try_lock().map_or(0, |side| side.buffer.len())
    }

    /// What a read or write that found the peer gone reports: the peer's close,
    /// recorded, or the close here that came first.
    fn peer_closed(&self, buffered: usize) -> TcpError {
        match self.mark_peer_closed() {
            State::Closed { .. } => self.closed_error(),
            State::Open | State::PeerClosed { .. } => self.peer_closed_error(buffered),
        }
    }

    fn peer_closed_error(&self, buffered: usize) -> TcpError {
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

    /// Waits until the peer has acknowledged every byte written to this
    /// connection (the kernel's unacknowledged count is 0), until `deadline`.
    /// Nothing signals an acknowledgement, so it looks again every millisecond
    /// (loopback acknowledges at once, or after the peer's delayed-ACK timer).
    /// Fails with [`TcpError::Unacknowledged`] when the connection is lost or
    /// closed, or the deadline passes, with bytes still unacknowledged.
    pub(crate) async fn acknowledged(
        &self,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<(), TcpError> {
        loop {
            let unacknowledged = self.socket.unacknowledged();
            if unacknowledged == Some(0) {
                return Ok(());
            }
            let why = if !self.is_usable_now() {
                "before the connection was lost or closed".to_owned()
            } else if Instant::now() >= deadline {
                format!("within {timeout:?}")
            } else {
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(1)) => continue,
                    () = self.closed_here() => continue,
                }
            };
            return Err(TcpError::Unacknowledged {
                driver: self.driver.clone(),
                connection: self.label.clone(),
                unacknowledged,
                why,
            });
        }
    }
    fn closed_error(&self) -> TcpError {
        TcpError::Closed {
            driver: self.driver.clone(),
            connection: self.label.clone(),
        }
    }
}

/// The first `n` bytes, removed from `buffer`. Copy then advance: unlike
/// `split_to`, this never turns the buffer into a shared one.
fn take_front(buffer: &mut BytesMut, n: usize) -> Vec<u8> {
    let front = buffer[..n].to_vec();
    bytes::Buf::advance(buffer, n);
    front
}

/// How much the fast path reads at once: what is still missing for an exact
/// read (as plain `read_exact` would), else a page.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_survives_its_encoding() {
        for unacknowledged in [
            None,
            Some(0),
            Some(1),
            Some(123_456),
            Some(StateCell::COUNT),
        ] {
            for state in [
                State::Open,
                State::PeerClosed { unacknowledged },
                State::Closed { unacknowledged },
            ] {
                assert_eq!(StateCell::decode(StateCell::encode(state)), state);
            }
        }
        // A count too large for the word saturates instead of changing the variant.
        let huge = State::PeerClosed {
            unacknowledged: Some(u64::MAX),
        };
        assert_eq!(
            StateCell::decode(StateCell::encode(huge)),
            State::PeerClosed {
                unacknowledged: Some(StateCell::COUNT)
            }
        );
    }

    async fn connection() -> (Connection, tokio::net::TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let peer = tokio::net::TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (stream, _) = listener.accept().await.unwrap();
        let addresses = (stream.local_addr().unwrap(), stream.peer_addr().unwrap());
        let connection = Connection::new(
            "server",
            "connection 0".to_owned(),
            super::super::transport::owned(stream),
            addresses,
        );
        (connection, peer)
    }

    #[tokio::test]
    async fn a_peer_close_then_a_close_here_keeps_the_count_first_measured() {
        let (connection, peer) = connection().await;
        assert_eq!(connection.state(), State::Open);
        drop(peer);
        assert_eq!(
            connection.state_now(),
            State::PeerClosed {
                unacknowledged: Some(0)
            }
        );
        connection.close().await;
        assert_eq!(
            connection.state(),
            State::Closed {
                unacknowledged: Some(0)
            }
        );
        // It only moves forward.
        assert!(matches!(
            connection.mark_peer_closed(),
            State::Closed { .. }
        ));
    }

    #[tokio::test]
    async fn a_close_here_ends_a_receive_under_way_and_every_later_call() {
        let (connection, _peer) = connection().await;
        let receive = connection.receive(Want::AtMost(1), Duration::from_secs(30));
        let close = async {
            tokio::task::yield_now().await;
            connection.close().await;
        };
        let (received, ()) = tokio::join!(receive, close);
        assert!(
            matches!(received, Err(TcpError::Closed { .. })),
            "{received:?}"
        );
        assert!(matches!(
            connection.send(b"x", Duration::from_secs(1)).await,
            Err(SendFailure::Failed(TcpError::Closed { .. }))
        ));
        assert!(!connection.is_usable_now());
    }
}
