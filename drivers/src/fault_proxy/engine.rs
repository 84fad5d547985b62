use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::connection::{Route, serve};
use super::link::{Ending, EventLog, Link, lock};
use super::table::ToxicTable;
use super::{ConnectionStats, FaultProxyError, ProxyCounters, ProxyEvent, TimedEvent, Toxic};

const BACKLOG: i32 = 1024;
/// How many ended connections' figures are kept.
const CLOSED_KEPT: usize = 4096;
/// The wait after `accept` fails (out of descriptors), before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(10);
/// How long `disable` and `stop` wait for connections to finish closing.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// The proxy itself, apart from any driver: listens, carries each client to the
/// upstream through the toxics, and closes everything when stopped (or dropped).
///
/// [`FaultProxy`](super::FaultProxy) is the driver around it; use this directly to
/// proxy outside an environment.
///
/// # Examples
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use testrig_drivers::fault_proxy::{ProxyEngine, Toxic};
///
/// let proxy = ProxyEngine::start("db", "127.0.0.1:0".parse()?, "127.0.0.1:5432".parse()?)?;
/// proxy.add_toxic(Toxic::latency(100, 0))?;
/// let address = proxy.local_addr(); // clients connect here
/// proxy.stop().await;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ProxyEngine {
    shared: Arc<Shared>,
}

/// What the accept loop, the connections and the engine share.
#[derive(Debug)]
pub(crate) struct Shared {
    name: String,
    upstream: SocketAddr,
    local: SocketAddr,
    toxics: Arc<ToxicTable>,
    events: EventLog,
    /// Cancelled by stop, abort or drop: ends the accept loop and every connection.
    root: CancellationToken,
    tracker: TaskTracker,
    links: Mutex<Links>,
    live: watch::Sender<usize>,
    listening: tokio::sync::Mutex<Listening>,
}

#[derive(Debug, Default)]
struct Links {
    next_id: u64,
    /// Bytes (upstream, downstream) of every ended connection, kept or not.
    ended_bytes: (u64, u64),
    live: BTreeMap<u64, Arc<Link>>,
    closed: VecDeque<ConnectionStats>,
}

/// Whether the proxy takes new connections (Toxiproxy's `enabled`).
#[derive(Debug)]
enum Listening {
    Enabled {
        stop: CancellationToken,
        task: JoinHandle<()>,
    },
    Disabled,
}

impl ProxyEngine {
    /// Binds `listen` (port 0: the kernel picks) and proxies each connection to
    /// `upstream`, with no toxic yet. Needs a tokio runtime.
    pub fn start(
        name: &str,
        listen: SocketAddr,
        upstream: SocketAddr,
    ) -> Result<Self, FaultProxyError> {
        Self::start_with(name, listen, upstream, Arc::new(ToxicTable::new(name)))
    }

    /// As [`start`](Self::start), with toxics that outlive the engine (the driver's,
    /// kept across restarts).
    pub(crate) fn start_with(
        name: &str,
        listen: SocketAddr,
        upstream: SocketAddr,
        toxics: Arc<ToxicTable>,
    ) -> Result<Self, FaultProxyError> {
        let listener = bind(name, listen)?;
        let local = listener
            .local_addr()
            .map_err(|source| FaultProxyError::Listen {
                proxy: name.to_owned(),
                address: listen,
                source,
            })?;
        let shared = Arc::new(Shared {
            name: name.to_owned(),
            upstream,
            local,
            toxics,
            events: EventLog::new(),
            root: CancellationToken::new(),
            tracker: TaskTracker::new(),
            links: Mutex::new(Links::default()),
            live: watch::Sender::new(0),
            listening: tokio::sync::Mutex::new(Listening::Disabled),
        });
        let listening = Shared::listen(&shared, listener);
        *shared
            .listening
            .try_lock()
            .expect("nobody else holds a new engine's lock") = listening;
        Ok(Self { shared })
    }

    /// The address clients connect to.
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local
    }

    /// The address connections are carried to.
    pub fn upstream_addr(&self) -> SocketAddr {
        self.shared.upstream
    }

    /// Adds a toxic; it applies to live connections at once (after a toxicity draw
    /// for each) and to new ones. Returns it with its name filled in.
    pub fn add_toxic(&self, toxic: Toxic) -> Result<Toxic, FaultProxyError> {
        self.shared.toxics.add(toxic)
    }

    /// Replaces the attributes and toxicity of the toxic of the same name, on live
    /// connections too (each draws its toxicity again).
    pub fn update_toxic(&self, toxic: Toxic) -> Result<Toxic, FaultProxyError> {
        self.shared.toxics.update(toxic)
    }

    /// Removes a toxic from the proxy and its live connections; data it held goes on.
    pub fn remove_toxic(&self, name: &str) -> Result<(), FaultProxyError> {
        self.shared.toxics.remove(name)
    }

    /// The toxics, in the order they were added.
    pub fn toxics(&self) -> Vec<Toxic> {
        self.shared.toxics.list()
    }

    /// Closes every connection and refuses new ones (the listener is closed: a
    /// client's connect is refused), as a link that went down. Resolves when the
    /// connections are closed.
    pub async fn disable(&self) {
        self.shared.disable().await;
    }

    /// Listens again on the same address after [`disable`](Self::disable).
    pub async fn enable(&self) -> Result<(), FaultProxyError> {
        self.shared.enable().await
    }

    /// Removes every toxic and enables the proxy (Toxiproxy's reset).
    pub async fn reset(&self) -> Result<(), FaultProxyError> {
        self.shared.toxics.clear();
        self.enable().await
    }

    /// Whether the proxy takes new connections.
    pub async fn is_enabled(&self) -> bool {
        matches!(
            *self.shared.listening.lock().await,
            Listening::Enabled { .. }
        )
    }

    /// Every connection, open and ended (the newest ended ones kept), by id.
    pub fn connections(&self) -> Vec<ConnectionStats> {
        let links = lock(&self.shared.links);
        let mut all: Vec<ConnectionStats> = links.closed.iter().cloned().collect();
        all.extend(links.live.values().map(|link| link.stats(None)));
        all.sort_by_key(|stats| stats.id);
        all
    }

    /// The totals of this engine: connections, bytes each way, toxics applied.
    pub fn counters(&self) -> ProxyCounters {
        let links = lock(&self.shared.links);
        let (mut up, mut down) = links.ended_bytes;
        for link in links.live.values() {
            let stats = link.stats(None);
            up += stats.bytes_upstream;
            down += stats.bytes_downstream;
        }
        ProxyCounters {
            bytes_upstream: up,
            bytes_downstream: down,
            ..self.shared.events.tally()
        }
    }

    /// How many connections are open (connecting included).
    pub fn open_connections(&self) -> usize {
        *self.shared.live.borrow()
    }

    /// What happened, oldest first (the newest 16384 kept).
    pub fn events(&self) -> Vec<TimedEvent> {
        self.shared.events.all()
    }

    /// The first event, past or within `timeout`, that `matches`.
    pub async fn wait_for_event(
        &self,
        matches: impl FnMut(&ProxyEvent) -> bool,
        timeout: Duration,
    ) -> Option<TimedEvent> {
        self.shared.events.wait_for(matches, timeout).await
    }

    /// Waits up to `timeout` until the number of open connections satisfies
    /// `enough` (`|open| open == 0`: all closed; `|open| open >= 1`: a client is
    /// back); returns whether it did.
    pub async fn wait_open_connections(
        &self,
        mut enough: impl FnMut(usize) -> bool,
        timeout: Duration,
    ) -> bool {
        let mut live = self.shared.live.subscribe();
        tokio::time::timeout(timeout, live.wait_for(|open| enough(*open)))
            .await
            .is_ok_and(|seen| seen.is_ok())
    }

    /// Closes the listener and every connection, and waits (up to 5 s) until every
    /// task of the proxy has ended.
    pub async fn stop(&self) {
        self.shared.root.cancel();
        self.shared.tracker.close();
        *self.shared.listening.lock().await = Listening::Disabled;
        let _ = tokio::time::timeout(CLOSE_WAIT, self.shared.tracker.wait()).await;
    }

    /// Ends everything without waiting: the accept loop and the connections see
    /// the cancellation at once and close their sockets.
    pub fn abort(&self) {
        self.shared.root.cancel();
        self.shared.tracker.close();
    }

    /// Whether every task of the proxy has ended (after `stop`).
    pub fn is_finished(&self) -> bool {
        self.shared.tracker.is_closed() && self.shared.tracker.is_empty()
    }
}

impl Drop for ProxyEngine {
    fn drop(&mut self) {
        self.shared.root.cancel();
    }
}

impl Shared {
    /// Starts accepting on `listener`.
    fn listen(self: &Arc<Self>, listener: TcpListener) -> Listening {
        let stop = self.root.child_token();
        let task = self
            .tracker
            .spawn(Arc::clone(self).accept(listener, stop.clone()));
        Listening::Enabled { stop, task }
    }

    async fn accept(self: Arc<Self>, listener: TcpListener, stop: CancellationToken) {
        loop {
            let accepted = tokio::select! {
                biased;
                () = stop.cancelled() => return,
                accepted = listener.accept() => accepted,
            };
            match accepted {
                Ok((client, peer)) => self.open(client, peer),
                Err(_) => {
                    // Out of descriptors or a connection aborted in the backlog.
                    tokio::select! {
                        () = stop.cancelled() => return,
                        () = tokio::time::sleep(ACCEPT_BACKOFF) => {}
                    }
                }
            }
        }
    }

    fn open(self: &Arc<Self>, client: TcpStream, peer: SocketAddr) {
        let link = {
            let mut links = lock(&self.links);
            let id = links.next_id;
            links.next_id += 1;
            let link = Arc::new(Link::new(id, peer, self.root.child_token()));
            links.live.insert(id, Arc::clone(&link));
            self.live.send_replace(links.live.len());
            link
        };
        self.events.push(ProxyEvent::Opened {
            connection: link.id,
            client: peer,
        });
        let shared = Arc::clone(self);
        self.tracker.spawn(async move {
            let route = Route {
                upstream: shared.upstream,
                toxics: &shared.toxics,
                events: &shared.events,
            };
            serve(route, &link, client).await;
            shared.finished(&link, SystemTime::now());
        });
    }

    /// Files an ended connection's figures.
    fn finished(&self, link: &Link, at: SystemTime) {
        let mut links = lock(&self.links);
        links.live.remove(&link.id);
        let stats = link.stats(Some(at));
        links.ended_bytes.0 += stats.bytes_upstream;
        links.ended_bytes.1 += stats.bytes_downstream;
        if links.closed.len() == CLOSED_KEPT {
            links.closed.pop_front();
        }
        links.closed.push_back(stats);
        self.live.send_replace(links.live.len());
    }

    async fn disable(self: &Arc<Self>) {
        let mut listening = self.listening.lock().await;
        if let Listening::Enabled { stop, task } =
            std::mem::replace(&mut *listening, Listening::Disabled)
        {
            stop.cancel();
            let _ = task.await; // the listener is closed with its task
            self.events.push(ProxyEvent::Disabled);
        }
        let live: Vec<Arc<Link>> = lock(&self.links).live.values().cloned().collect();
        for link in live {
            link.end_with(Ending::Close);
        }
        let mut open = self.live.subscribe();
        let _ = tokio::time::timeout(CLOSE_WAIT, open.wait_for(|open| *open == 0)).await;
    }

    async fn enable(self: &Arc<Self>) -> Result<(), FaultProxyError> {
        let mut listening = self.listening.lock().await;
        if let Listening::Disabled = *listening {
            if self.root.is_cancelled() {
                return Err(FaultProxyError::NotStarted {
                    proxy: self.name.clone(),
                });
            }
            *listening = self.listen(bind(&self.name, self.local)?);
            self.events.push(ProxyEvent::Enabled);
        }
        Ok(())
    }
}

fn bind(name: &str, address: SocketAddr) -> Result<TcpListener, FaultProxyError> {
    let listen_error = |source| FaultProxyError::Listen {
        proxy: name.to_owned(),
        address,
        source,
    };
    let socket = Socket::new(
        Domain::for_address(address),
        Type::STREAM,
        Some(Protocol::TCP),
    )
    .map_err(listen_error)?;
    // A restart or `enable` binds the same port while old connections linger.
    socket.set_reuse_address(true).map_err(listen_error)?;
    socket.set_nonblocking(true).map_err(listen_error)?;
    socket.bind(&address.into()).map_err(listen_error)?;
    socket.listen(BACKLOG).map_err(listen_error)?;
    TcpListener::from_std(socket.into()).map_err(listen_error)
}
