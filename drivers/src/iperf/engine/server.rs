//! The native iperf3 server: serves one test at a time on one port, answers everyone else
//! with `ACCESS_DENIED`, and survives clients that vanish or misbehave.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::{CancellationToken, DropGuard};

use super::admission::{FreeOnDrop, SessionSlot, Slot, admit_stream, deny};
use super::server_config::ServerConfig;
use super::session::serve_session;
use crate::iperf::error::{IperfError, Phase};
use crate::iperf::result::IperfResult;

/// One test the server served: who ran it and how it went.
#[derive(Debug)]
pub struct ServedTest {
    /// The client's control-connection address.
    pub peer: SocketAddr,
    /// The server's view of the test, or why it failed.
    pub outcome: Result<IperfResult, IperfError>,
}

/// A serving native iperf3 server: bound when [`bind`](Self::bind) returns (connections
/// queue in the kernel from then on) and serving in the background. Dropping it stops
/// serving (the listener closes when the background task ends);
/// [`shutdown`](Self::shutdown) also waits for that.
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
/// use testrig_drivers::iperf::engine::{NativeServer, ServerConfig};
///
/// # async fn example() -> Result<(), testrig_drivers::iperf::IperfError> {
/// let mut server = NativeServer::bind("127.0.0.1:0".parse().unwrap(), ServerConfig::default()).await?;
/// let port = server.local_addr().port();
/// // ... run `iperf3 -c 127.0.0.1 -p {port}` or a NativeClient ...
/// let served = server.next_test(Duration::from_secs(30)).await?;
/// println!("{} → {:?}", served.peer, served.outcome.map(|r| r.bytes_received()));
/// server.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct NativeServer {
    local_addr: SocketAddr,
    guard: Option<DropGuard>,
    task: Option<JoinHandle<()>>,
    results: mpsc::Receiver<ServedTest>,
}

/// A bound listener and what the serving task needs with it.
struct Bound {
    listener: TcpListener,
    local_addr: SocketAddr,
    config: ServerConfig,
}

impl NativeServer {
    /// Binds `addr` (port 0: the kernel picks) with `config`'s limits and starts serving
    /// in the background, on `config`'s host ([`ServerConfig::on`]; this machine unless
    /// told): its listener, and each UDP test's sockets, are made there.
    pub async fn bind(addr: SocketAddr, config: ServerConfig) -> Result<Self, IperfError> {
        let error = |source| IperfError::Bind { addr, source };
        let socket = config.host.tcp_socket(addr).await.map_err(error)?;
        socket.set_reuseaddr(true).map_err(error)?;
        if let Some(device) = &config.bind_device {
            socket.bind_device(Some(device.as_bytes())).map_err(error)?;
        }
        socket.bind(addr).map_err(error)?;
        let listener = socket.listen(1024).map_err(error)?;
        let local_addr = listener.local_addr().map_err(error)?;
        let cancel = CancellationToken::new();
        let (results_tx, results) = mpsc::channel(config.results_capacity.max(1));
        let bound = Bound {
            listener,
            local_addr,
            config,
        };
        let task = tokio::spawn(serve(bound, cancel.clone(), results_tx));
        Ok(Self {
            local_addr,
            guard: Some(cancel.drop_guard()),
            task: Some(task),
            results,
        })
    }

    /// The address clients connect to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The next test served (completed or failed), waiting at most `timeout`. The server
    /// keeps the last 64 outcomes nobody has read.
    pub async fn next_test(&mut self, timeout: Duration) -> Result<ServedTest, IperfError> {
        match tokio::time::timeout(timeout, self.results.recv()).await {
            Ok(Some(served)) => Ok(served),
            Ok(None) => Err(IperfError::protocol(
                Phase::WaitingForTest,
                "the server has stopped",
            )),
            Err(_) => Err(IperfError::Timeout {
                phase: Phase::WaitingForTest,
                after: timeout,
            }),
        }
    }

    /// Stops serving: closes the listener and aborts a test in progress.
    pub async fn shutdown(mut self) {
        drop(self.guard.take());
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

async fn serve(server: Bound, cancel: CancellationToken, results: mpsc::Sender<ServedTest>) {
    let Bound {
        listener,
        local_addr,
        config,
    } = server;
    // Shared with the session, which sets the client's MSS on it while streams connect.
    let listener = Arc::new(listener);
    let slot = SessionSlot::idle();
    let handshakes = Arc::new(Semaphore::new(config.max_pending_handshakes));
    let mut sessions = JoinSet::new();
    let mut helpers = JoinSet::new();
    let mut accepted_count: u64 = 0;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            Some(_) = sessions.join_next() => {}
            Some(_) = helpers.join_next() => {}
            accepted = listener.accept() => {
                let Ok((socket, peer)) = accepted else {
                    // Out of descriptors or a connection reset before accept: wait for a
                    // task to finish (which frees descriptors) rather than spin.
                    let _ = tokio::time::timeout(Duration::from_millis(50), helpers.join_next()).await;
                    continue;
                };
                let _ = socket.set_nodelay(true);
                accepted_count += 1;
                let accepted = accepted_count;
                match slot.get() {
                    Slot::Idle => {
                        slot.set(Slot::Busy);
                        let (slot, config, results) = (slot.clone(), config.clone(), results.clone());
                        let listener = listener.clone();
                        sessions.spawn(async move {
                            let free_on_exit = FreeOnDrop(slot.clone());
                            let outcome =
                                serve_session(socket, &listener, local_addr, &slot, &config).await;
                            if let Err(error) = &outcome {
                                tracing::debug!(%peer, %error, "iperf test failed");
                            }
                            // Free before reporting, so whoever reads the report can start
                            // the next test at once.
                            drop(free_on_exit);
                            let _ = results.try_send(ServedTest { peer, outcome });
                        });
                    }
                    other => {
                        // Bounded: a flood of connections cannot pile up tasks or buffers.
                        let Ok(permit) = handshakes.clone().try_acquire_owned() else {
                            continue;
                        };
                        let timeout = config.phase_timeout;
                        helpers.spawn(async move {
                            match other {
                                Slot::AcceptingStreams { cookie, streams } => {
                                    admit_stream(socket, accepted, cookie, streams, timeout).await;
                                }
                                _ => deny(socket).await,
                            }
                            drop(permit);
                        });
                    }
                }
            }
        }
    }
}
