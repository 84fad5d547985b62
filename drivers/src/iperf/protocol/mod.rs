//! The iperf3 wire protocol: control-channel states, the cookie, length-framed JSON messages,
//! the parameter and results documents, and UDP's connect handshake and packet header.

mod control;
mod cookie;
mod params;
mod results;
mod state;
mod udp;

pub(crate) use control::ControlChannel;
pub(crate) use cookie::{COOKIE_SIZE, Cookie, fill_random};
pub(crate) use params::TestParameters;
pub(crate) use results::{ExchangedResults, ExchangedStream};
pub(crate) use state::TestState;
pub(crate) use udp::{
    UDP_CONNECT_MSG, UDP_CONNECT_REPLY, UdpHeader, is_connect_msg, is_connect_reply, udp_header_len,
};

/// The largest parameter document a server accepts (iperf3's own are a few hundred bytes).
pub(crate) const MAX_PARAMS_JSON: usize = 8 * 1024;

/// The largest results document either side accepts: one ~200-byte entry per stream, with room.
pub(crate) const MAX_RESULTS_JSON: usize = 256 * 1024;

/// iperf3's `MAX_STREAMS`: the most parallel streams a test may ask for.
pub(crate) const MAX_STREAMS: u32 = 128;

/// iperf3's `MAX_BLOCKSIZE` for TCP (1 MiB).
pub(crate) const MAX_TCP_BLOCK: u32 = 1024 * 1024;

/// iperf3's `MAX_UDP_BLOCKSIZE`: the largest UDP payload over IPv4.
pub(crate) const MAX_UDP_BLOCK: u32 = 65535 - 8 - 20;

/// iperf3's `MIN_UDP_BLOCKSIZE`: room for the 64-bit packet header.
pub(crate) const MIN_UDP_BLOCK: u32 = 16;

/// iperf3's `MAX_TIME`: a test may last at most one day.
pub(crate) const MAX_DURATION_SECS: u64 = 86_400;

/// iperf3's default TCP block size (128 KiB).
pub(crate) const DEFAULT_TCP_BLOCK: u32 = 128 * 1024;

/// iperf3's fallback UDP block size when the control connection's MSS is unknown.
pub(crate) const DEFAULT_UDP_BLOCK: u32 = 1460;

/// iperf3's default UDP target bitrate (1 Mbit/s, which iperf3 writes as `1024 * 1024`).
pub(crate) const DEFAULT_UDP_RATE: u64 = 1024 * 1024;
