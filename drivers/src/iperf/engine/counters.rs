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
    /// TCP receiver: the byte total the peer says it sent, plus one; 0 while unknown.
    expected_plus_one: AtomicU64,
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

    /// The peer reported sending `total` bytes on this stream in all.
    pub(crate) fn expect_bytes(&self, total: u64) {
        self.expected_plus_one
            .store(total.saturating_add(1), Relaxed);
    }

    /// Whether everything the peer reported sending has been counted; `None` while the
    /// peer has not said.
    pub(crate) fn received_all(&self) -> Option<bool> {
        match self.expected_plus_one.load(Relaxed) {
            0 => None,
            plus_one => Some(self.bytes.load(Relaxed) >= plus_one - 1),
        }
    }

    /// The bytes counted so far (one relaxed load, for samplers that need nothing else).
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes.load(Relaxed)
    }

    pub(crate) fn snapshot(&self) -> CounterSnapshot {
        CounterSnapshot {
            bytes: self.bytes.load(Relaxed),
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
