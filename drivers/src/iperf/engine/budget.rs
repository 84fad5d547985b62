//! The test-wide byte or block limit (`-n`, `-k`): every stream adds to the totals, and the
//! first to reach the limit wakes the controller.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

use tokio_util::sync::CancellationToken;

/// What is counted against the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LimitKind {
    Bytes,
    Blocks,
}

/// Shared totals of one test with a byte or block limit.
#[derive(Debug)]
pub(crate) struct Budget {
    kind: LimitKind,
    limit: u64,
    /// What senders have claimed to send: each claims a whole block before writing it, so
    /// parallel streams together stop at the limit instead of overshooting it.
    claimed: AtomicU64,
    sent: AtomicU64,
    received: AtomicU64,
    armed: AtomicBool,
    reached: CancellationToken,
}

impl Budget {
    pub(crate) fn new(kind: LimitKind, limit: u64, armed: bool) -> Self {
        Self {
            kind,
            limit,
            claimed: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            received: AtomicU64::new(0),
            armed: AtomicBool::new(armed),
            reached: CancellationToken::new(),
        }
    }

    /// Claims the next block of `bytes` for a sender: `false` once the blocks claimed by all
    /// streams cover the limit (iperf3 sends whole blocks until its total reaches the limit).
    /// Before the warm-up ends nothing counts, so every claim succeeds.
    pub(crate) fn claim_block(&self, bytes: u64) -> bool {
        if !self.armed.load(Relaxed) {
            return true;
        }
        let amount = match self.kind {
            LimitKind::Bytes => bytes,
            LimitKind::Blocks => 1,
        };
        self.claimed.fetch_add(amount, Relaxed) < self.limit
    }

    /// Counts a completed send of `bytes` making `blocks` whole blocks.
    pub(crate) fn add_sent(&self, bytes: u64, blocks: u64) {
        self.add(&self.sent, bytes, blocks);
    }

    /// Counts a receive of `bytes` (iperf3 counts every read as a block).
    pub(crate) fn add_received(&self, bytes: u64) {
        self.add(&self.received, bytes, 1);
    }

    fn add(&self, total: &AtomicU64, bytes: u64, blocks: u64) {
        let amount = match self.kind {
            LimitKind::Bytes => bytes,
            LimitKind::Blocks => blocks,
        };
        if amount == 0 {
            return;
        }
        let now = total.fetch_add(amount, Relaxed) + amount;
        if now >= self.limit && self.armed.load(Relaxed) {
            self.reached.cancel();
        }
    }

    /// Starts counting afresh once the omitted warm-up is over.
    pub(crate) fn arm(&self) {
        self.claimed.store(0, Relaxed);
        self.sent.store(0, Relaxed);
        self.received.store(0, Relaxed);
        self.armed.store(true, Relaxed);
    }

    /// Completes when either total reaches the limit.
    pub(crate) fn reached(&self) -> &CancellationToken {
        &self.reached
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_is_reached_by_sent_or_received_totals() {
        let budget = Budget::new(LimitKind::Bytes, 1000, true);
        budget.add_sent(600, 1);
        assert!(!budget.reached().is_cancelled());
        budget.add_sent(600, 1);
        assert!(budget.reached().is_cancelled());

        let budget = Budget::new(LimitKind::Blocks, 2, true);
        budget.add_received(10);
        budget.add_received(10);
        assert!(budget.reached().is_cancelled());
    }

    #[test]
    fn claims_stop_at_the_block_that_reaches_the_limit() {
        let budget = Budget::new(LimitKind::Bytes, 1000, true);
        let granted = (0..10).filter(|_| budget.claim_block(300)).count();
        assert_eq!(granted, 4, "300 + 300 + 300 + 300 covers 1000");

        let budget = Budget::new(LimitKind::Blocks, 3, false);
        assert!(budget.claim_block(10), "the warm-up is not counted");
        budget.arm();
        let granted = (0..10).filter(|_| budget.claim_block(10)).count();
        assert_eq!(granted, 3);
    }

    #[test]
    fn nothing_counts_before_the_warm_up_ends() {
        let budget = Budget::new(LimitKind::Bytes, 100, false);
        budget.add_sent(1000, 1);
        assert!(!budget.reached().is_cancelled());
        budget.arm();
        budget.add_sent(99, 1);
        assert!(!budget.reached().is_cancelled());
        budget.add_sent(1, 0);
        assert!(budget.reached().is_cancelled());
    }
}
