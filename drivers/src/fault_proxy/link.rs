use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::{ConnectionState, ConnectionStats, ProxyCounters, ProxyEvent, Stream, TimedEvent};

/// How a connection is ended by the proxy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ending {
    /// FIN to both sides.
    Close,
    /// RST to both sides (`SO_LINGER` 0).
    Reset,
}

/// One proxied connection as both of its directions and the proxy see it.
#[derive(Debug)]
pub(crate) struct Link {
    pub(crate) id: u64,
    client: SocketAddr,
    opened_at: SystemTime,
    /// Cancelled when the connection is to end; [`Link::ending`] says how.
    pub(crate) end: CancellationToken,
    ending: Mutex<Option<Ending>>,
    upstream: AtomicU64,
    downstream: AtomicU64,
    state: Mutex<ConnectionState>,
    upstream_local: Mutex<Option<SocketAddr>>,
    toxics: Mutex<Vec<String>>,
}

impl Link {
    pub(crate) fn new(id: u64, client: SocketAddr, end: CancellationToken) -> Self {
        Self {
            id,
            client,
            opened_at: SystemTime::now(),
            end,
            ending: Mutex::new(None),
            upstream: AtomicU64::new(0),
            downstream: AtomicU64::new(0),
            state: Mutex::new(ConnectionState::Connecting),
            upstream_local: Mutex::new(None),
            toxics: Mutex::new(Vec::new()),
        }
    }

    /// Ends the connection this way, unless it is already ending.
    pub(crate) fn end_with(&self, ending: Ending) {
        lock(&self.ending).get_or_insert(ending);
        self.end.cancel();
    }

    pub(crate) fn ending(&self) -> Option<Ending> {
        *lock(&self.ending)
    }

    pub(crate) fn delivered(&self, stream: Stream, bytes: usize) {
        let counter = match stream {
            Stream::Upstream => &self.upstream,
            Stream::Downstream => &self.downstream,
        };
        counter.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub(crate) fn set_state(&self, state: ConnectionState) {
        *lock(&self.state) = state;
    }

    /// Connected to the upstream from `local`.
    pub(crate) fn opened(&self, local: Option<SocketAddr>) {
        *lock(&self.upstream_local) = local;
        self.set_state(ConnectionState::Open);
    }

    pub(crate) fn toxic_applied(&self, toxic: &str) {
        lock(&self.toxics).push(toxic.to_owned());
    }

    pub(crate) fn stats(&self, closed_at: Option<SystemTime>) -> ConnectionStats {
        ConnectionStats {
            id: self.id,
            client: self.client,
            upstream_local: *lock(&self.upstream_local),
            opened_at: self.opened_at,
            closed_at,
            bytes_upstream: self.upstream.load(Ordering::Relaxed),
            bytes_downstream: self.downstream.load(Ordering::Relaxed),
            state: *lock(&self.state),
            toxics: lock(&self.toxics).clone(),
        }
    }
}

/// The proxy's events, the newest [`EventLog::CAPACITY`] kept; waiters wake on each.
#[derive(Debug)]
pub(crate) struct EventLog {
    events: Mutex<VecDeque<TimedEvent>>,
    /// Every event counted, the ones no longer kept too.
    tally: Mutex<ProxyCounters>,
    count: watch::Sender<u64>,
}

impl EventLog {
    const CAPACITY: usize = 16 * 1024;

    pub(crate) fn new() -> Self {
        Self {
            events: Mutex::new(VecDeque::new()),
            tally: Mutex::new(ProxyCounters::default()),
            count: watch::Sender::new(0),
        }
    }

    pub(crate) fn push(&self, event: ProxyEvent) {
        {
            let mut tally = lock(&self.tally);
            match &event {
                ProxyEvent::Opened { .. } => tally.connections_opened += 1,
                ProxyEvent::Closed { .. } => tally.connections_closed += 1,
                ProxyEvent::Reset { .. } => tally.connections_reset += 1,
                ProxyEvent::UpstreamFailed { .. } => tally.upstream_failures += 1,
                ProxyEvent::ToxicApplied { .. } => tally.toxics_applied += 1,
                _ => {}
            }
        }
        {
            let mut events = lock(&self.events);
            if events.len() == Self::CAPACITY {
                events.pop_front();
            }
            events.push_back(TimedEvent {
                at: SystemTime::now(),
                event,
            });
        }
        self.count.send_modify(|count| *count += 1);
    }

    /// The events counted so far (bytes are not events: 0 here).
    pub(crate) fn tally(&self) -> ProxyCounters {
        *lock(&self.tally)
    }

    pub(crate) fn all(&self) -> Vec<TimedEvent> {
        lock(&self.events).iter().cloned().collect()
    }

    /// The first event, logged or to come within `timeout`, that `matches`.
    pub(crate) async fn wait_for(
        &self,
        mut matches: impl FnMut(&ProxyEvent) -> bool,
        timeout: Duration,
    ) -> Option<TimedEvent> {
        let mut count = self.count.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            count.borrow_and_update();
            if let Some(found) = lock(&self.events).iter().find(|e| matches(&e.event)) {
                return Some(found.clone());
            }
            match tokio::time::timeout_at(deadline, count.changed()).await {
                Ok(Ok(())) => {}
                _ => return None,
            }
        }
    }
}

/// A poisoned lock still holds consistent counters: a panic elsewhere must not
/// take the proxy's bookkeeping down with it.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
