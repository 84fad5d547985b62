//! What a text-printing server prints for one test it served.

use std::fmt::Write;

use super::HumanReport;
use crate::iperf::result::IperfResult;

/// The text iperf3's server prints for one test after its "Server listening" banner: whom
/// it accepted, each interval, the summary. It is also what the server sends a client that
/// asks for the server's output (`--get-server-output`) while printing text.
pub fn server_report_text(result: &IperfResult) -> String {
    let mut out = String::new();
    if let Some(peer) = result
        .start_info
        .as_ref()
        .and_then(|info| info.control_peer.as_ref())
    {
        let _ = writeln!(
            out,
            "Accepted connection from {}, port {}",
            peer.host, peer.port
        );
    }
    let mut human = HumanReport::new(result.test.protocol, result.test.direction);
    for interval in &result.intervals {
        out.push_str(&human.interval(interval));
    }
    out.push_str(&human.summary(result));
    out
}
