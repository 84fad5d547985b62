//! Per-stream counters: written by the stream's task only, read by the reporter at interval
//! boundaries, so relaxed atomics suffice and the data path never takes a lock.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Cumulative figures of one stream since the test started.
#[derive(Debug, Default)]
pub(crate) struct StreamCounters {
    bytes: AtomicU64,
    blocks: AtomicU64,
    /// UDP: packets sent, or the highest sequence number received.
    packets: AtomicU64,
    /// UDP receiver: lost packets.
    lost: AtomicU64,
    /// UDP receiver: late packets.
    out_of_order: AtomicU64,
    /// UDP receiver: jitter in seconds, as `f64` bits.
    jitter: AtomicU64,
    /// A receiver: where its count stops, plus one; 0 while it runs. For TCP that is what
    /// had reached this host when the test ended here (read, or queued in the kernel), or
    /// what was read when the stream ended first; for UDP what was read when it ended.
    until_plus_one: AtomicU64,
    /// TCP receiver, when asked to note it: nanoseconds from the test's start to its
    /// latest read, plus one; 0 before any.
    last_read_plus_one: AtomicU64,
}

/// A copy of a stream's counters at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct CounterSnapshot {
    pub(crate) bytes: u64,
    pub(crate) blocks: u64,
    pub(crate) packets: u64,
    pub(crate) lost: u64,
    pub(crate) out_of_order: u64,
    pub(crate) jitter: f64,
    /// TCP sender: retransmits so far (from the kernel), when known.
    pub(crate) retransmits: Option<u64>,
    /// TCP sender: the kernel's view at the snapshot (gauges, kept as they are by `since`).
    pub(crate) tcp: Option<super::tcp_info::TcpInfoSample>,
}

impl StreamCounters {
    pub(crate) fn add_bytes(&self, bytes: u64) {
        self.bytes.fetch_add(bytes, Relaxed);
    }

    pub(crate) fn add_blocks(&self, blocks: u64) {
        self.blocks.fetch_add(blocks, Relaxed);
    }

    pub(crate) fn set_packets(&self, packets: u64) {
        self.packets.store(packets, Relaxed);
    }

    pub(crate) fn set_udp_receive(&self, lost: u64, out_of_order: u64, jitter: f64) {
        self.lost.store(lost, Relaxed);
        self.out_of_order.store(out_of_order, Relaxed);
        self.jitter.store(jitter.to_bits(), Relaxed);
    }

    /// The count stops at `total` bytes: later ones are read but not counted. The first
    /// stop set holds.
    pub(crate) fn end_at(&self, total: u64) {
        let _ = self
            .until_plus_one
            .compare_exchange(0, total.saturating_add(1), Relaxed, Relaxed);
    }

    /// Whether the stream has read as far as its count stops; `None` while it runs.
    pub(crate) fn read_to_the_end(&self) -> Option<bool> {
        match self.until_plus_one.load(Relaxed) {
            0 => None,
            plus_one => Some(self.read_bytes() >= plus_one - 1),
        }
    }

    /// A receiver read at `since_start` into the test.
    pub(crate) fn note_read(&self, since_start: std::time::Duration) {
        let nanos = u64::try_from(since_start.as_nanos()).unwrap_or(u64::MAX - 1);
        self.last_read_plus_one.store(nanos + 1, Relaxed);
    }

    /// How far into the test the latest noted read was; `None` before any.
    pub(crate) fn last_read(&self) -> Option<std::time::Duration> {
        match self.last_read_plus_one.load(Relaxed) {
            0 => None,
            plus_one => Some(std::time::Duration::from_nanos(plus_one - 1)),
        }
    }

    /// Every byte a receiver has read so far, counted or not.
    pub(crate) fn read_bytes(&self) -> u64 {
        self.bytes.load(Relaxed)
    }

    /// The bytes counted so far (two relaxed loads, for samplers that need nothing else).
    pub(crate) fn bytes(&self) -> u64 {
        let moved = self.bytes.load(Relaxed);
        match self.until_plus_one.load(Relaxed) {
            0 => moved,
            plus_one => moved.min(plus_one - 1),
        }
    }

    pub(crate) fn snapshot(&self) -> CounterSnapshot {
        CounterSnapshot {
            bytes: self.bytes(),
            blocks: self.blocks.load(Relaxed),
            packets: self.packets.load(Relaxed),
            lost: self.lost.load(Relaxed),
            out_of_order: self.out_of_order.load(Relaxed),
            jitter: f64::from_bits(self.jitter.load(Relaxed)),
            retransmits: None,
            tcp: None,
        }
    }
}

impl CounterSnapshot {
    /// The change since `earlier` (jitter is a level, not a count, so it is kept as is).
    pub(crate) fn since(&self, earlier: &CounterSnapshot) -> CounterSnapshot {
        CounterSnapshot {
            bytes: self.bytes.saturating_sub(earlier.bytes),
            blocks: self.blocks.saturating_sub(earlier.blocks),
            packets: self.packets.saturating_sub(earlier.packets),
            lost: self.lost.saturating_sub(earlier.lost),
            out_of_order: self.out_of_order.saturating_sub(earlier.out_of_order),
            jitter: self.jitter,
            retransmits: match (self.retransmits, earlier.retransmits) {
                (Some(now), Some(before)) => Some(now.saturating_sub(before)),
                (now, _) => now,
            },
            tcp: self.tcp,
        }
    }
}
