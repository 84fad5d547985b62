//! One measurement: bytes over a time span, with the TCP and UDP figures iperf3 reports.

use serde::{Deserialize, Serialize};

/// Bytes moved over a time span, with TCP retransmits or UDP jitter and loss where known.
///
/// Field names are iperf3's, so a measurement serializes exactly like an iperf3 `-J` object.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Measurement {
    /// Seconds from the test start to the start of the span.
    pub start: f64,
    /// Seconds from the test start to the end of the span.
    pub end: f64,
    /// Length of the span in seconds.
    pub seconds: f64,
    /// Bytes moved in the span.
    pub bytes: u64,
    /// Throughput over the span.
    pub bits_per_second: f64,
    /// TCP retransmits by the sender, when the sender could count them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retransmits: Option<u64>,
    /// UDP jitter (RFC 1889 smoothed inter-arrival variation) in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter_ms: Option<f64>,
    /// UDP packets lost (sequence gaps, corrected for late arrivals).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost_packets: Option<u64>,
    /// UDP packets sent, or on the receiving side expected: the highest sequence number
    /// the receiver saw (iperf3's receiver count, which falls short of what was sent when
    /// the last datagrams are lost).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packets: Option<u64>,
    /// `100 * lost_packets / packets`; in a summary, of the packets the sender sent when
    /// that is known, as iperf3 reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost_percent: Option<f64>,
    /// UDP packets that arrived after a later one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_of_order: Option<u64>,
    /// Whether the span falls in the omitted warm-up (`-O`); intervals only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub omitted: Option<bool>,
    /// TCP sender, per interval: congestion window, bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snd_cwnd: Option<u64>,
    /// TCP sender, per interval: the peer's advertised window, bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snd_wnd: Option<u64>,
    /// TCP sender, per interval: smoothed round-trip time, microseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt: Option<u64>,
    /// TCP sender, per interval: round-trip time variation, microseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rttvar: Option<u64>,
    /// TCP sender, per interval: path MTU, bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pmtu: Option<u64>,
    /// TCP sender, whole test: the largest congestion window seen, bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_snd_cwnd: Option<u64>,
    /// TCP sender, whole test: the largest advertised window seen, bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_snd_wnd: Option<u64>,
    /// TCP sender, whole test: the largest round-trip time seen, microseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_rtt: Option<u64>,
    /// TCP sender, whole test: the smallest round-trip time seen, microseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_rtt: Option<u64>,
    /// TCP sender, whole test: the mean of the round-trip times seen, microseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_rtt: Option<u64>,
    /// iperf3's `sender` flag: whether the reporting host sent the data measured here.
    #[serde(default)]
    pub sender: bool,
}

impl Measurement {
    /// Throughput in bits/s for `bytes` over `seconds` (0 for an empty span).
    pub(crate) fn rate(bytes: u64, seconds: f64) -> f64 {
        if seconds > 0.0 {
            bytes as f64 * 8.0 / seconds
        } else {
            0.0
        }
    }

    /// Adds another stream's measurement of the same span into this sum.
    pub(crate) fn accumulate(&mut self, other: &Measurement) {
        self.bytes += other.bytes;
        self.bits_per_second += other.bits_per_second;
        add_opt(&mut self.retransmits, other.retransmits);
        add_opt(&mut self.lost_packets, other.lost_packets);
        add_opt(&mut self.packets, other.packets);
        add_opt(&mut self.out_of_order, other.out_of_order);
        if let Some(jitter) = other.jitter_ms {
            *self.jitter_ms.get_or_insert(0.0) += jitter;
        }
    }

    /// Finishes a sum of `streams` measurements: averages jitter, recomputes the loss share.
    pub(crate) fn finish_sum(&mut self, streams: usize) {
        if let Some(jitter) = self.jitter_ms.as_mut()
            && streams > 0
        {
            *jitter /= streams as f64;
        }
        if let (Some(lost), Some(packets)) = (self.lost_packets, self.packets) {
            self.lost_percent = Some(loss_percent(lost, packets));
        }
    }
}

/// `100 * lost / packets`, 0 when nothing was expected.
pub(crate) fn loss_percent(lost: u64, packets: u64) -> f64 {
    if packets == 0 {
        0.0
    } else {
        100.0 * lost as f64 / packets as f64
    }
}

fn add_opt(sum: &mut Option<u64>, value: Option<u64>) {
    if let Some(value) = value {
        *sum = Some(sum.unwrap_or(0) + value);
    }
}

/// One stream's measurement in an interval; `socket` in iperf3's JSON is our stream id.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StreamMeasurement {
    /// The stream (iperf3 reports its socket number here; the native engine its stream id).
    #[serde(rename = "socket")]
    pub id: u32,
    /// The figures.
    #[serde(flatten)]
    pub measurement: Measurement,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_add_bytes_and_average_jitter() {
        let a = Measurement {
            bytes: 100,
            bits_per_second: 800.0,
            jitter_ms: Some(1.0),
            lost_packets: Some(1),
            packets: Some(10),
            ..Measurement::default()
        };
        let b = Measurement {
            jitter_ms: Some(3.0),
            lost_packets: Some(0),
            packets: Some(10),
            ..a.clone()
        };
        let mut sum = Measurement::default();
        sum.accumulate(&a);
        sum.accumulate(&b);
        sum.finish_sum(2);
        assert_eq!(sum.bytes, 200);
        assert_eq!(sum.jitter_ms, Some(2.0));
        assert_eq!(sum.lost_percent, Some(5.0));
    }

    #[test]
    fn tcp_fields_absent_from_a_udp_measurement_are_not_serialized() {
        let json = serde_json::to_value(Measurement::default()).unwrap();
        assert!(json.get("retransmits").is_none());
        assert!(json.get("jitter_ms").is_none());
        assert_eq!(json["sender"], false);
    }
}
