//! iperf3's human-readable report: interval lines while the test runs, then the summary.

use std::fmt::Write;

use super::units::adaptive;
use crate::iperf::config::{Direction, Protocol};
use crate::iperf::result::{IntervalReport, IperfResult, Measurement};

/// `3.39 GBytes`: binary units, as iperf3 prints transfers.
pub fn format_bytes(bytes: f64) -> String {
    const UNITS: [&str; 4] = ["Bytes", "KBytes", "MBytes", "GBytes"];
    let mut value = bytes;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{} {}", adaptive(value), UNITS[unit])
}

/// `29.1 Gbits/sec`: decimal units, as iperf3 prints bitrates.
pub fn format_bitrate(bits_per_second: f64) -> String {
    const UNITS: [&str; 4] = ["bits/sec", "Kbits/sec", "Mbits/sec", "Gbits/sec"];
    let mut value = bits_per_second;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    format!("{} {}", adaptive(value), UNITS[unit])
}

const SEPARATOR: &str = "- - - - - - - - - - - - - - - - - - - - - - - - -";

/// Formats a test's reports as iperf3 prints them.
///
/// # Examples
///
/// ```
/// use testrig_drivers::iperf::cli::HumanReport;
/// use testrig_drivers::iperf::{Direction, IntervalReport, Protocol};
///
/// let mut report = HumanReport::new(Protocol::Tcp, Direction::Forward);
/// let text = report.interval(&IntervalReport::default());
/// assert!(text.starts_with("[ ID] Interval"));
/// ```
#[derive(Debug, Clone)]
pub struct HumanReport {
    protocol: Protocol,
    direction: Direction,
    header_done: bool,
}

impl HumanReport {
    /// A report for a test of this protocol and direction.
    pub fn new(protocol: Protocol, direction: Direction) -> Self {
        Self {
            protocol,
            direction,
            header_done: false,
        }
    }

    /// The lines for one interval (with the column header before the first).
    pub fn interval(&mut self, interval: &IntervalReport) -> String {
        let mut out = String::new();
        if !self.header_done {
            self.header_done = true;
            out.push_str(&self.header(false, interval.sum.sender));
        }
        for stream in &interval.streams {
            let tag = self.tag(stream.measurement.sender);
            let line = self.line(&format!("{:3}", stream.id), &tag, &stream.measurement, None);
            out.push_str(&line);
        }
        let many = interval.streams.len() > usize::from(interval.sum_bidir_reverse.is_some()) + 1;
        if many {
            for sum in std::iter::once(&interval.sum).chain(&interval.sum_bidir_reverse) {
                out.push_str(&self.line("SUM", &self.tag(sum.sender), sum, None));
            }
        }
        out
    }

    /// The closing summary: per stream as sent and as received, then the sums.
    pub fn summary(&self, result: &IperfResult) -> String {
        let mut out = format!("{SEPARATOR}\n");
        out.push_str(&self.header(true, result.summary.main.sent.sender));
        for stream in &result.summary.streams {
            let id = format!("{:3}", stream.id);
            let tag = self.tag(stream.sender.sender);
            match self.protocol {
                Protocol::Tcp => {
                    out.push_str(&self.line(&id, &tag, &stream.sender, Some("sender")));
                    out.push_str(&self.line(&id, &tag, &stream.receiver, Some("receiver")));
                }
                Protocol::Udp => {
                    out.push_str(&self.line(&id, &tag, &stream.sender, Some("sender")));
                    out.push_str(&self.line(&id, &tag, &stream.receiver, Some("receiver")));
                }
            }
        }
        let streams_per_direction = result.test.num_streams.max(1) as usize;
        if streams_per_direction > 1 {
            let directions =
                std::iter::once(&result.summary.main).chain(&result.summary.bidir_reverse);
            for d in directions {
                let tag = self.tag(d.sent.sender);
                out.push_str(&self.line("SUM", &tag, &d.sent, Some("sender")));
                out.push_str(&self.line("SUM", &tag, &d.received, Some("receiver")));
            }
        }
        if let Some(cpu) = &result.cpu {
            let _ = writeln!(
                out,
                "CPU Utilization: local/{} {:.1}% ({:.1}%u/{:.1}%s), remote/{} {:.1}% ({:.1}%u/{:.1}%s)",
                if result.summary.main.sent.sender {
                    "sender"
                } else {
                    "receiver"
                },
                cpu.host_total,
                cpu.host_user,
                cpu.host_system,
                if result.summary.main.sent.sender {
                    "receiver"
                } else {
                    "sender"
                },
                cpu.remote_total,
                cpu.remote_user,
                cpu.remote_system,
            );
        }
        out
    }

    fn tag(&self, local_sends: bool) -> String {
        match (self.direction, local_sends) {
            (Direction::Bidirectional, true) => "[TX-C]".to_owned(),
            (Direction::Bidirectional, false) => "[RX-C]".to_owned(),
            _ => String::new(),
        }
    }

    fn header(&self, summary: bool, sender: bool) -> String {
        let tail = match (self.protocol, summary, sender) {
            (Protocol::Tcp, _, true) => "  Retr",
            (Protocol::Tcp, _, false) => "",
            (Protocol::Udp, false, true) => "  Total Datagrams",
            (Protocol::Udp, _, _) => "  Jitter    Lost/Total Datagrams",
        };
        format!("[ ID] Interval           Transfer     Bitrate       {tail}\n")
    }

    fn line(&self, id: &str, tag: &str, m: &Measurement, role: Option<&str>) -> String {
        let mut line = format!(
            "[{id}]{tag} {:6.2}-{:<6.2} sec  {}  {}",
            m.start,
            m.end,
            format_bytes(m.bytes as f64),
            format_bitrate(m.bits_per_second)
        );
        match (self.protocol, m.jitter_ms, m.packets) {
            (Protocol::Udp, Some(jitter), packets) => {
                let lost = m.lost_packets.unwrap_or(0);
                let total = packets.unwrap_or(0);
                let percent = m.lost_percent.unwrap_or(0.0);
                let _ = write!(line, "  {jitter:.3} ms  {lost}/{total} ({percent:.2}%)");
            }
            (Protocol::Udp, None, Some(packets)) => {
                let _ = write!(line, "  {packets}");
            }
            (Protocol::Tcp, _, _) => {
                if let Some(retransmits) = m.retransmits {
                    let _ = write!(line, "  {retransmits:4}");
                } else if role == Some("receiver") {
                    line.push_str("      ");
                }
            }
            _ => {}
        }
        if let Some(role) = role {
            let _ = write!(line, "  {role:>12}");
        }
        line.push('\n');
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_follow_iperf3() {
        assert_eq!(format_bytes(3_650_355_200.0), "3.40 GBytes");
        assert_eq!(format_bytes(512.0), " 512 Bytes");
        assert_eq!(format_bitrate(29_195_104_897.0), "29.2 Gbits/sec");
        assert_eq!(format_bitrate(100_000_000.0), " 100 Mbits/sec");
    }

    #[test]
    fn an_interval_line_looks_like_iperf3s() {
        let mut report = HumanReport::new(Protocol::Tcp, Direction::Forward);
        let interval = IntervalReport {
            streams: vec![crate::iperf::result::StreamMeasurement {
                id: 1,
                measurement: Measurement {
                    start: 0.0,
                    end: 1.0,
                    seconds: 1.0,
                    bytes: 3_650_355_200,
                    bits_per_second: 29_202_841_600.0,
                    retransmits: Some(0),
                    sender: true,
                    ..Measurement::default()
                },
            }],
            ..IntervalReport::default()
        };
        let text = report.interval(&interval);
        let line = text.lines().nth(1).unwrap();
        assert_eq!(
            line,
            "[  1]   0.00-1.00   sec  3.40 GBytes  29.2 Gbits/sec     0"
        );
    }
}
