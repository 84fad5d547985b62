//! What a text-printing server prints for one test it served.

use std::net::SocketAddr;

use super::IperfResult;
use super::human::{HumanReport, Printed};

/// The text iperf3's server prints for one test after its "Server listening" banner: whom
/// it accepted, the data connections, each interval, the summary. It is also what the
/// server sends a client that asks for the server's output (`--get-server-output`) while
/// printing text.
pub(crate) fn server_report_text(result: &IperfResult) -> String {
    let peer = result
        .start_info
        .as_ref()
        .and_then(|info| info.control_peer.as_ref())
        .and_then(|peer| {
            format!("{}:{}", bracketed(&peer.host), peer.port)
                .parse()
                .ok()
        })
        .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
    HumanReport::for_server(result)
        .server_test(peer, result)
        .into_iter()
        .filter_map(|printed| match printed {
            Printed::Report(text) => Some(text),
            Printed::Stdout(_) | Printed::Stderr(_) => None,
        })
        .collect()
}

/// An IPv6 host in brackets, for parsing `host:port`.
fn bracketed(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}
