//! What a UDP receiver learns from sequence numbers and timestamps: loss, reordering and
//! jitter, computed as iperf3 does (jitter per RFC 1889 §6.3.1 / A.8).

/// Receive-side UDP statistics of one stream.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct UdpReceiveTracker {
    /// Highest sequence number seen (sequence numbers start at 1).
    pub(crate) highest_seq: u64,
    /// Packets presumed lost: gaps in the sequence, minus late arrivals that filled them.
    pub(crate) lost: u64,
    /// Packets that arrived after a higher-numbered one.
    pub(crate) out_of_order: u64,
    /// Smoothed inter-arrival jitter, seconds.
    pub(crate) jitter: f64,
    prev_transit: Option<f64>,
}

impl UdpReceiveTracker {
    /// Accounts for one packet with sequence number `seq` whose one-way transit time (arrival
    /// minus send timestamp, any common clock offset included) was `transit` seconds.
    pub(crate) fn on_packet(&mut self, seq: u64, transit: f64) {
        if seq > self.highest_seq {
            self.lost += seq - self.highest_seq - 1;
            self.highest_seq = seq;
        } else {
            self.out_of_order += 1;
            self.lost = self.lost.saturating_sub(1);
        }
        let previous = self.prev_transit.replace(transit).unwrap_or(transit);
        let d = (transit - previous).abs();
        self.jitter += (d - self.jitter) / 16.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_packets_lose_nothing() {
        let mut t = UdpReceiveTracker::default();
        for seq in 1..=10 {
            t.on_packet(seq, 0.001);
        }
        assert_eq!((t.highest_seq, t.lost, t.out_of_order), (10, 0, 0));
        assert_eq!(t.jitter, 0.0);
    }

    #[test]
    fn a_gap_counts_as_loss() {
        let mut t = UdpReceiveTracker::default();
        for seq in [1, 2, 5, 6] {
            t.on_packet(seq, 0.0);
        }
        assert_eq!((t.highest_seq, t.lost), (6, 2));
    }

    #[test]
    fn a_late_packet_is_out_of_order_and_no_longer_lost() {
        let mut t = UdpReceiveTracker::default();
        for seq in [1, 3, 2, 4] {
            t.on_packet(seq, 0.0);
        }
        assert_eq!((t.highest_seq, t.lost, t.out_of_order), (4, 0, 1));
    }

    #[test]
    fn jitter_follows_rfc_1889_smoothing() {
        let mut t = UdpReceiveTracker::default();
        t.on_packet(1, 0.010);
        t.on_packet(2, 0.026); // |D| = 16 ms → J = 1 ms
        assert!((t.jitter - 0.001).abs() < 1e-12);
        t.on_packet(3, 0.026); // |D| = 0 → J = 1 ms * 15/16
        assert!((t.jitter - 0.001 * 15.0 / 16.0).abs() < 1e-12);
    }
}
