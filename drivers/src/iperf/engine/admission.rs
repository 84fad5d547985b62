//! Admission: what the server's acceptor does with each new connection — a new client's
//! control connection, one of the running test's streams (it presents the cookie), or a
//! connection to refuse — and the slot through which a session tells the acceptor.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::iperf::protocol::{COOKIE_SIZE, Cookie, TestState};

/// A data connection that presented the test's cookie, with its place in the accept order.
/// Cookies are checked concurrently, so streams can be admitted out of order; the session
/// sorts them back, because a stream's role (which side sends) follows its creation order.
#[derive(Debug)]
pub(crate) struct AdmittedStream {
    pub(crate) accepted: u64,
    pub(crate) stream: TcpStream,
}

/// What the acceptor does with a new connection.
#[derive(Debug, Clone)]
pub(super) enum Slot {
    /// No test: the connection is a new client's control connection.
    Idle,
    /// A test runs and takes no new streams: refuse.
    Busy,
    /// A test is creating its streams: a connection with its cookie is one of them.
    AcceptingStreams {
        cookie: Cookie,
        streams: mpsc::Sender<AdmittedStream>,
    },
}

/// The acceptor's shared view of the session.
#[derive(Debug, Clone)]
pub(crate) struct SessionSlot(Arc<Mutex<Slot>>);

impl SessionSlot {
    /// A slot for a server with no test yet.
    pub(super) fn idle() -> SessionSlot {
        SessionSlot(Arc::new(Mutex::new(Slot::Idle)))
    }

    /// What the acceptor does with a new connection now.
    pub(super) fn get(&self) -> Slot {
        self.0.lock().map(|s| s.clone()).unwrap_or(Slot::Busy)
    }

    /// Changes what the acceptor does with new connections.
    pub(super) fn set(&self, slot: Slot) {
        if let Ok(mut s) = self.0.lock() {
            *s = slot;
        }
    }

    pub(crate) fn accept_streams(&self, cookie: Cookie, streams: mpsc::Sender<AdmittedStream>) {
        self.set(Slot::AcceptingStreams { cookie, streams });
    }

    pub(crate) fn busy(&self) {
        self.set(Slot::Busy);
    }
}

/// Marks the server free when a session ends, however it ends (even by panic or abort).
pub(super) struct FreeOnDrop(pub(super) SessionSlot);

impl Drop for FreeOnDrop {
    fn drop(&mut self) {
        self.0.set(Slot::Idle);
    }
}

/// A connection during `CREATE_STREAMS`: one of the test's streams if it presents the
/// test's cookie, else refused.
pub(super) async fn admit_stream(
    mut socket: TcpStream,
    accepted: u64,
    cookie: Cookie,
    streams: mpsc::Sender<AdmittedStream>,
    timeout: Duration,
) {
    let mut presented = [0u8; COOKIE_SIZE];
    let read = tokio::time::timeout(timeout, socket.read_exact(&mut presented)).await;
    if matches!(read, Ok(Ok(_))) && Cookie::from_wire(presented) == cookie {
        let admitted = AdmittedStream {
            accepted,
            stream: socket,
        };
        if let Err(refused) = streams.try_send(admitted) {
            deny(refused.into_inner().stream).await;
        }
    } else {
        deny(socket).await;
    }
}

/// Answers `ACCESS_DENIED` and closes, after letting the peer's cookie arrive so the close is
/// orderly (closing with unread data would reset the connection and could lose the answer).
pub(super) async fn deny(mut socket: TcpStream) {
    let _ = socket.write_all(&[TestState::AccessDenied.to_byte()]).await;
    let _ = socket.shutdown().await;
    let mut sink = [0u8; 64];
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while let Ok(n) = socket.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}
