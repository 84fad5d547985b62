//! One direction's toxics on one connection: each toxic a stage a chunk of data
//! goes through in order, as in Toxiproxy, with its per-connection state.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use super::random::Random;
use super::table::ToxicSet;
use super::{Stream, ToxicKind};

/// Data read from one side, stamped when it was read (latency counts from there,
/// so a backlog is not delayed twice).
#[derive(Debug)]
pub(crate) struct Chunk {
    pub(crate) data: Bytes,
    pub(crate) at: Instant,
}

/// What the stages decided about the connection.
#[derive(Debug)]
pub(crate) enum Flow {
    /// Carry on.
    Go,
    /// Close it (FIN): `limit_data` reached its limit.
    Close,
    /// The connection ended meanwhile, or writing failed (the sink has said how).
    Ended,
}

/// What a toxic does when its own timer fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TimerAction {
    Close,
    Reset,
}

/// Where the last stage delivers, and how stages wait.
pub(crate) trait Sink: Send + Sync {
    /// Writes all of `data` to the destination socket.
    fn deliver(&self, data: Bytes) -> impl Future<Output = Flow> + Send;
    /// Waits until `deadline`; `Err` if the connection ended meanwhile. Returns early
    /// (`Ok`) when the toxics change, like an interrupted Toxiproxy stage, which passes
    /// its data on rather than drop it.
    fn wait_until(&self, deadline: Instant) -> impl Future<Output = Result<(), ()>> + Send;
}

#[derive(Debug)]
struct Stage {
    name: String,
    version: u64,
    applied: bool,
    state: StageState,
}

#[derive(Debug)]
enum StageState {
    Latency {
        latency: u64,
        jitter: u64,
    },
    Bandwidth {
        rate: u64,
        next_free: Option<Instant>,
    },
    SlowClose {
        delay: u64,
    },
    Timeout {
        close_at: Option<Instant>,
    },
    ResetPeer {
        timeout: u64,
        reset_at: Option<Instant>,
    },
    Slicer {
        average: u64,
        variation: u64,
        delay: u64,
    },
    LimitData {
        bytes: u64,
        transmitted: u64,
    },
    Noop,
}

impl StageState {
    fn new(kind: &ToxicKind, now: Instant) -> Self {
        match *kind {
            ToxicKind::Latency { latency, jitter } => Self::Latency { latency, jitter },
            ToxicKind::Bandwidth { rate } => Self::Bandwidth {
                rate,
                next_free: None,
            },
            ToxicKind::SlowClose { delay } => Self::SlowClose { delay },
            ToxicKind::Timeout { timeout } => Self::Timeout {
                close_at: (timeout > 0).then(|| now + Duration::from_millis(timeout)),
            },
            ToxicKind::ResetPeer { timeout } => Self::ResetPeer {
                timeout,
                reset_at: None,
            },
            ToxicKind::Slicer {
                average_size,
                size_variation,
                delay,
            } => Self::Slicer {
                average: average_size,
                variation: size_variation,
                delay,
            },
            ToxicKind::LimitData { bytes } => Self::LimitData {
                bytes,
                transmitted: 0,
            },
            ToxicKind::Noop {} => Self::Noop,
        }
    }

    /// The new state for an updated toxic, keeping what it counted (bytes let
    /// through, the bandwidth clock) as Toxiproxy keeps a stage's state.
    fn updated(self, kind: &ToxicKind, now: Instant) -> Self {
        match (self, Self::new(kind, now)) {
            (Self::LimitData { transmitted, .. }, Self::LimitData { bytes, .. }) => {
                Self::LimitData { bytes, transmitted }
            }
            (Self::Bandwidth { next_free, .. }, Self::Bandwidth { rate, .. }) => {
                Self::Bandwidth { rate, next_free }
            }
            (_, fresh) => fresh,
        }
    }
}

/// What [`Chain::rebuild`] found.
#[derive(Debug)]
pub(crate) struct Rebuilt {
    /// The toxics that now apply and did not before.
    pub(crate) newly: Vec<String>,
    /// A `timeout` toxic went: the connection is to close.
    pub(crate) timeout_removed: bool,
}

/// The toxics of one stream of one connection.
#[derive(Debug)]
pub(crate) struct Chain {
    stream: Stream,
    stages: Vec<Stage>,
    random: Random,
    /// When a `reset_peer` that took data resets the connection: as Toxiproxy's,
    /// whose wait cannot be interrupted, it stands though the toxic is then
    /// updated or removed.
    reset_due: Option<Instant>,
}

impl Chain {
    pub(crate) fn new(stream: Stream) -> Self {
        Self {
            stream,
            stages: Vec::new(),
            random: Random::new(),
            reset_due: None,
        }
    }

    /// Follows the proxy's toxics: new ones get a toxicity draw and fresh state,
    /// updated ones a new draw and their counts kept, removed ones go. Returns the
    /// names of the toxics that now apply and did not before, and whether a
    /// `timeout` toxic was removed: Toxiproxy then closes the connection (its
    /// `Cleanup`, whether or not the toxicity draw applied the toxic), as the data
    /// it dropped would leave the stream corrupt.
    pub(crate) fn rebuild(&mut self, set: &ToxicSet) -> Rebuilt {
        let now = Instant::now();
        let mut old: HashMap<String, Stage> = self
            .stages
            .drain(..)
            .map(|stage| (stage.name.clone(), stage))
            .collect();
        let mut newly = Vec::new();
        for entry in set
            .toxics
            .iter()
            .filter(|e| e.toxic.stream() == self.stream)
        {
            let toxic = &entry.toxic;
            let stage = match old.remove(toxic.name()) {
                Some(stage) if stage.version == entry.version => stage,
                previous => {
                    let applied = self.random.unit() < f64::from(toxic.probability());
                    if applied {
                        newly.push(toxic.name().to_owned());
                    }
                    let state = match previous {
                        Some(stage) => stage.state.updated(toxic.kind(), now),
                        None => StageState::new(toxic.kind(), now),
                    };
                    Stage {
                        name: toxic.name().to_owned(),
                        version: entry.version,
                        applied,
                        state,
                    }
                }
            };
            self.stages.push(stage);
        }
        let timeout_removed = old
            .values()
            .any(|stage| matches!(stage.state, StageState::Timeout { .. }));
        Rebuilt {
            newly,
            timeout_removed,
        }
    }

    /// No toxic applies: the data may take the fast path.
    pub(crate) fn is_empty(&self) -> bool {
        !self.stages.iter().any(|stage| stage.applied)
    }

    fn applied(&self) -> impl Iterator<Item = &Stage> {
        self.stages.iter().filter(|stage| stage.applied)
    }

    /// A `timeout` toxic applies: data is dropped.
    pub(crate) fn drops_data(&self) -> bool {
        self.applied()
            .any(|stage| matches!(stage.state, StageState::Timeout { .. }))
    }

    /// The next toxic timer, and what it does then.
    pub(crate) fn next_timer(&self) -> Option<(Instant, TimerAction)> {
        self.applied()
            .filter_map(|stage| match stage.state {
                StageState::Timeout { close_at } => close_at.map(|at| (at, TimerAction::Close)),
                StageState::ResetPeer { reset_at, .. } => {
                    reset_at.map(|at| (at, TimerAction::Reset))
                }
                _ => None,
            })
            .chain(self.reset_due.map(|at| (at, TimerAction::Reset)))
            .min_by_key(|(at, _)| *at)
    }

    /// When a `reset_peer` that took data resets the connection, whatever the
    /// toxics now.
    pub(crate) fn reset_due(&self) -> Option<Instant> {
        self.reset_due
    }

    /// When an applied `reset_peer` resets the connection once the sender has
    /// closed: as Toxiproxy's, the end of the data starts its timeout as data does
    /// (or the reset already due, if data came first).
    pub(crate) fn reset_on_end(&self) -> Option<Instant> {
        self.applied()
            .filter_map(|stage| match stage.state {
                StageState::ResetPeer { timeout, reset_at } => Some(
                    reset_at.unwrap_or_else(|| Instant::now() + Duration::from_millis(timeout)),
                ),
                _ => None,
            })
            .chain(self.reset_due)
            .min()
    }

    /// How long the close waits once the sender has closed (`slow_close`).
    pub(crate) fn close_delay(&self) -> Duration {
        self.applied()
            .map(|stage| match stage.state {
                StageState::SlowClose { delay } => Duration::from_millis(delay),
                _ => Duration::ZERO,
            })
            .sum()
    }

    /// Runs `chunk` through the applied stages into `sink`.
    pub(crate) async fn push<S: Sink>(&mut self, chunk: Chunk, sink: &S) -> Flow {
        self.push_from(0, chunk, sink).await
    }

    fn push_from<'a, S: Sink>(
        &'a mut self,
        from: usize,
        chunk: Chunk,
        sink: &'a S,
    ) -> Pin<Box<dyn Future<Output = Flow> + Send + 'a>> {
        Box::pin(async move {
            let Some(index) = (from..self.stages.len()).find(|&i| self.stages[i].applied) else {
                return sink.deliver(chunk.data).await;
            };
            let next = index + 1;
            match &mut self.stages[index].state {
                StageState::Latency { latency, jitter } => {
                    let (latency, jitter) = (*latency as i64, *jitter as i64);
                    let offset = if jitter > 0 {
                        self.random.below(2 * jitter as u64 + 1) as i64 - jitter
                    } else {
                        0
                    };
                    let delay = Duration::from_millis((latency + offset).max(0) as u64);
                    if sink.wait_until(chunk.at + delay).await.is_err() {
                        return Flow::Ended;
                    }
                    self.push_from(next, chunk, sink).await
                }
                StageState::Bandwidth { rate, .. } => {
                    let rate = *rate;
                    if rate == 0 {
                        return self.push_from(next, chunk, sink).await;
                    }
                    // At most 100 ms of data at a time, so the pace is smooth.
                    let piece = (rate * 100).max(1) as usize;
                    let mut data = chunk.data;
                    while !data.is_empty() {
                        let part = data.split_to(piece.min(data.len()));
                        // rate KB/s is `rate` bytes per millisecond.
                        let cost = Duration::from_nanos(part.len() as u64 * 1_000_000 / rate);
                        let free = match &mut self.stages[index].state {
                            StageState::Bandwidth { next_free, .. } => {
                                // Each piece waits its cost first, as Toxiproxy's
                                // does. Data queued behind the last piece counts from
                                // when that one was free (a late wake-up is not lost);
                                // data after an idle time from when it came.
                                let at =
                                    next_free.map_or(chunk.at, |free| free.max(chunk.at)) + cost;
                                *next_free = Some(at);
                                at
                            }
                            _ => unreachable!("the stage is a bandwidth stage"),
                        };
                        if sink.wait_until(free).await.is_err() {
                            return Flow::Ended;
                        }
                        let flow = self
                            .push_from(
                                next,
                                Chunk {
                                    data: part,
                                    at: chunk.at,
                                },
                                sink,
                            )
                            .await;
                        if !matches!(flow, Flow::Go) {
                            return flow;
                        }
                    }
                    Flow::Go
                }
                StageState::SlowClose { .. } | StageState::Noop => {
                    self.push_from(next, chunk, sink).await
                }
                // Data under a timeout never gets here (`drops_data`); dropped if it does.
                StageState::Timeout { .. } => Flow::Go,
                StageState::ResetPeer { timeout, reset_at } => {
                    if reset_at.is_none() {
                        let at = Instant::now() + Duration::from_millis(*timeout);
                        *reset_at = Some(at);
                        self.reset_due = Some(self.reset_due.map_or(at, |due| due.min(at)));
                    }
                    Flow::Go
                }
                StageState::Slicer {
                    average,
                    variation,
                    delay,
                } => {
                    let (average, variation) = (*average as usize, *variation as usize);
                    let delay = Duration::from_micros(*delay);
                    let mut cuts = Vec::new();
                    slice(
                        &mut self.random,
                        0,
                        chunk.data.len(),
                        average,
                        variation,
                        &mut cuts,
                    );
                    let mut start = 0;
                    for end in cuts {
                        let part = chunk.data.slice(start..end);
                        start = end;
                        let flow = self
                            .push_from(
                                next,
                                Chunk {
                                    data: part,
                                    at: chunk.at,
                                },
                                sink,
                            )
                            .await;
                        if !matches!(flow, Flow::Go) {
                            return flow;
                        }
                        if !delay.is_zero()
                            && sink.wait_until(Instant::now() + delay).await.is_err()
                        {
                            return Flow::Ended;
                        }
                    }
                    Flow::Go
                }
                StageState::LimitData { bytes, transmitted } => {
                    let remaining = bytes.saturating_sub(*transmitted) as usize;
                    let mut data = chunk.data;
                    data.truncate(remaining);
                    *transmitted += data.len() as u64;
                    let exhausted = *transmitted >= *bytes;
                    if !data.is_empty() {
                        let flow = self
                            .push_from(next, Chunk { data, at: chunk.at }, sink)
                            .await;
                        if !matches!(flow, Flow::Go) {
                            return flow;
                        }
                    }
                    if exhausted { Flow::Close } else { Flow::Go }
                }
            }
        })
    }
}

/// Cuts `[start, end)` into pieces of about `average` ± `variation` bytes: halves
/// it, the middle moved at random by up to `variation`, until the pieces are small
/// enough, so no end of the data favours small or large pieces. Pushes each
/// piece's end.
fn slice(
    random: &mut Random,
    start: usize,
    end: usize,
    average: usize,
    variation: usize,
    cuts: &mut Vec<usize>,
) {
    if end - start <= average + variation {
        if end > start {
            cuts.push(end);
        }
        return;
    }
    let shift = random.below(2 * variation as u64 + 1) as isize - variation as isize;
    let middle = ((start + (end - start) / 2) as isize + shift) as usize;
    let middle = middle.clamp(start + 1, end - 1);
    slice(random, start, middle, average, variation, cuts);
    slice(random, middle, end, average, variation, cuts);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault_proxy::Toxic;
    use crate::fault_proxy::table::ToxicEntry;

    /// Takes everything at once.
    struct Taker;

    impl Sink for Taker {
        async fn deliver(&self, _data: Bytes) -> Flow {
            Flow::Go
        }
        async fn wait_until(&self, _deadline: Instant) -> Result<(), ()> {
            Ok(())
        }
    }

    fn set(toxics: &[(Toxic, u64)]) -> ToxicSet {
        ToxicSet {
            toxics: toxics
                .iter()
                .map(|(toxic, version)| ToxicEntry {
                    toxic: toxic.clone(),
                    version: *version,
                })
                .collect(),
        }
    }

    #[tokio::test]
    async fn a_reset_peer_that_took_data_resets_though_updated_or_removed() {
        // Toxiproxy's ResetToxic waits its timeout out uninterruptibly.
        let mut chain = Chain::new(Stream::Upstream);
        chain.rebuild(&set(&[(Toxic::reset_peer(200).upstream(), 1)]));
        assert_eq!(chain.next_timer(), None);
        let chunk = Chunk {
            data: Bytes::from_static(b"x"),
            at: Instant::now(),
        };
        assert!(matches!(chain.push(chunk, &Taker).await, Flow::Go));
        let (due, action) = chain.next_timer().expect("the reset is due");
        assert_eq!(action, TimerAction::Reset);
        chain.rebuild(&set(&[(Toxic::reset_peer(5000).upstream(), 2)]));
        assert_eq!(chain.next_timer(), Some((due, TimerAction::Reset)));
        chain.rebuild(&set(&[]));
        assert!(chain.is_empty());
        assert_eq!(chain.reset_due(), Some(due));
        assert_eq!(chain.next_timer(), Some((due, TimerAction::Reset)));
    }

    #[test]
    fn slices_cover_the_data_in_pieces_near_the_average() {
        let mut random = Random::new();
        for len in [1, 7, 100, 1000, 65536] {
            let mut cuts = Vec::new();
            slice(&mut random, 0, len, 10, 5, &mut cuts);
            assert_eq!(cuts.last(), Some(&len));
            let mut start = 0;
            for end in cuts {
                assert!(end > start && end - start <= 15, "{start}..{end}");
                start = end;
            }
        }
    }
}
