//! How a test's data streams are set up: socket buffers, Nagle, MSS, congestion control,
//! TOS, pacing and payload — iperf3's `-w -N -M -C -S/--dscp --fq-rate --pacing-timer
//! --repeating-payload --dont-fragment`. A client asks for them; the server applies what the
//! client asked for to its own sockets, as iperf3's server does.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::error::IperfError;

/// iperf3's largest `-w` (`MAX_TCP_BUFFER`, 512 MiB).
pub(crate) const MAX_WINDOW: u64 = 512 * 1024 * 1024;
/// iperf3's largest `-M` (`MAX_MSS`, 9 KiB).
pub(crate) const MAX_MSS: u32 = 9 * 1024;
/// iperf3's default `--pacing-timer`, in microseconds.
pub(crate) const DEFAULT_PACING_TIMER_US: u64 = 1000;
/// iperf3's default `--rcv-timeout` (`DEFAULT_NO_MSG_RCVD_TIMEOUT`).
pub(crate) const DEFAULT_RECEIVE_TIMEOUT: Duration = Duration::from_secs(120);
/// iperf3's largest burst (`MAX_BURST`).
pub(crate) const MAX_BURST: u32 = 1000;

/// Socket and payload options of a test's data streams; the defaults are iperf3's (the
/// system's buffers, Nagle on, the path's MSS, the system's congestion control, TOS 0,
/// no socket pacing, a 1000 µs pacing timer, random payload).
///
/// # Examples
///
/// ```
/// use testrig_drivers::iperf::{ClientOptions, StreamOptions};
///
/// let streams = StreamOptions::new()
///     .window(256 * 1024)
///     .no_delay(true)
///     .congestion("reno")
///     .tos(0x10);
/// let options = ClientOptions::new().stream_options(streams);
/// options.check()?;
/// # Ok::<(), testrig_drivers::iperf::IperfError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[must_use]
pub struct StreamOptions {
    pub(crate) window: Option<u64>,
    pub(crate) no_delay: bool,
    pub(crate) mss: Option<u32>,
    pub(crate) congestion: Option<String>,
    pub(crate) tos: u8,
    pub(crate) fq_rate: Option<u64>,
    pub(crate) pacing_timer: Option<Duration>,
    pub(crate) repeating_payload: bool,
    pub(crate) dont_fragment: bool,
    pub(crate) burst: Option<u32>,
    /// This side's own: not sent to the peer (iperf3 does not send it either).
    pub(crate) send_timeout: Option<Duration>,
    /// This side's own, like `send_timeout`.
    pub(crate) receive_timeout: Option<Duration>,
}

impl StreamOptions {
    /// iperf3's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Send and receive socket buffer size in bytes, both sides (`-w`; at most 512 MiB).
    /// As iperf3, a kernel that grants less than asked fails the test ("socket buffer size
    /// not set correctly"): the size is capped by `net.core.{r,w}mem_max`.
    pub fn window(mut self, bytes: u64) -> Self {
        self.window = Some(bytes);
        self
    }

    /// Disable Nagle's algorithm on the data sockets, both sides (`-N`).
    pub fn no_delay(mut self, enabled: bool) -> Self {
        self.no_delay = enabled;
        self
    }

    /// TCP maximum segment size, both sides (`-M`; 0 means the default, at most 9216).
    pub fn mss(mut self, bytes: u32) -> Self {
        self.mss = (bytes > 0).then_some(bytes);
        self
    }

    /// TCP congestion control algorithm, both sides (`-C`, e.g. `"reno"`). This side fails
    /// the test if its kernel does not have it (as iperf3's client does); a server without
    /// it warns and keeps its default (as iperf3's server does).
    pub fn congestion(mut self, algorithm: impl Into<String>) -> Self {
        self.congestion = Some(algorithm.into());
        self
    }

    /// IP type of service (IPv4) or traffic class (IPv6), both sides (`-S`; `--dscp d` is
    /// `tos(d << 2)`).
    pub fn tos(mut self, tos: u8) -> Self {
        self.tos = tos;
        self
    }

    /// Fair-queuing socket pacing in bits/s (`--fq-rate`, `SO_MAX_PACING_RATE`), both sides.
    pub fn fq_rate(mut self, bits_per_second: u64) -> Self {
        self.fq_rate = (bits_per_second > 0).then_some(bits_per_second);
        self
    }

    /// The granularity of `-b` pacing (`--pacing-timer`; iperf3's default 1 ms): a paced
    /// sender sends what is due once per tick. At the default this engine paces more finely
    /// than iperf3 (each block when it is due).
    pub fn pacing_timer(mut self, tick: Duration) -> Self {
        self.pacing_timer = Some(tick);
        self
    }

    /// Send iperf3's repeating payload (`"0123456789"` over and over) instead of random
    /// bytes (`--repeating-payload`), both sides.
    pub fn repeating_payload(mut self, enabled: bool) -> Self {
        self.repeating_payload = enabled;
        self
    }

    /// Set the IPv4 Don't Fragment flag on UDP streams (`--dont-fragment`), both sides.
    pub fn dont_fragment(mut self, enabled: bool) -> Self {
        self.dont_fragment = enabled;
        self
    }

    /// Send `-b`-paced blocks in bursts of `blocks` back to back (`-b rate/blocks`, 1 to
    /// 1000), both sides.
    pub fn burst(mut self, blocks: u32) -> Self {
        self.burst = (blocks > 0).then_some(blocks);
        self
    }

    /// How long sent data may stay unacknowledged before this side's TCP gives the
    /// connection up (`--snd-timeout`, `TCP_USER_TIMEOUT`, at most 86400 s). Unlike the
    /// other options it is not sent to the server, as in iperf3: a server has its own
    /// ([`ServerConfig::send_timeout`](crate::iperf::engine::ServerConfig::send_timeout)).
    pub fn send_timeout(mut self, timeout: Duration) -> Self {
        self.send_timeout = Some(timeout);
        self
    }

    /// How long a side that receives waits for data while the test runs before it fails
    /// with iperf3's "idle timeout for receiving data" (`--rcv-timeout`; iperf3's default
    /// 120 s; 100 ms to 86400 s). This side's own, as
    /// [`send_timeout`](Self::send_timeout); the server has
    /// [`ServerConfig::receive_timeout`](crate::iperf::engine::ServerConfig::receive_timeout).
    pub fn receive_timeout(mut self, timeout: Duration) -> Self {
        self.receive_timeout = Some(timeout);
        self
    }

    /// The receive idle timeout: the one asked for, else iperf3's 120 s.
    pub(crate) fn receive_idle(&self) -> Duration {
        self.receive_timeout.unwrap_or(DEFAULT_RECEIVE_TIMEOUT)
    }

    /// The TOS byte of a DSCP given as iperf3's `--dscp` takes it: a number 0-63 (decimal,
    /// `0x` hex or leading-0 octal) or a name such as `af11`, `ef`, `cs1`; `None` if it is
    /// neither.
    pub fn dscp_tos(text: &str) -> Option<u8> {
        dscp_to_tos(text)
    }

    /// The pacing tick in microseconds, as the parameter document carries it.
    pub(crate) fn pacing_timer_us(&self) -> u64 {
        self.pacing_timer
            .map_or(DEFAULT_PACING_TIMER_US, |t| t.as_micros() as u64)
    }

    /// The tick a paced sender sends on, if coarser pacing than this engine's own (each block
    /// when due) was asked for: any `--pacing-timer` but iperf3's default.
    pub(crate) fn pacing_tick(&self) -> Option<Duration> {
        self.pacing_timer
            .filter(|t| *t != Duration::from_micros(DEFAULT_PACING_TIMER_US))
    }

    /// Checks every value against iperf3's limits.
    pub(crate) fn check(&self) -> Result<(), IperfError> {
        if let Some(window) = self.window
            && (window == 0 || window > MAX_WINDOW)
        {
            return Err(IperfError::invalid(
                "window",
                window,
                "socket buffer size must be 1 byte to 512 MiB (iperf3's maximum)",
            ));
        }
        if let Some(mss) = self.mss
            && mss > MAX_MSS
        {
            return Err(IperfError::invalid(
                "mss",
                mss,
                "TCP MSS too large (maximum = 9216 bytes)",
            ));
        }
        if let Some(algorithm) = &self.congestion
            && (algorithm.is_empty() || algorithm.len() > 15 || algorithm.contains('\0'))
        {
            return Err(IperfError::invalid(
                "congestion",
                algorithm,
                "must be an algorithm name of 1 to 15 characters, such as \"reno\"",
            ));
        }
        if let Some(burst) = self.burst
            && burst > MAX_BURST
        {
            return Err(IperfError::invalid(
                "burst",
                burst,
                "invalid burst count (maximum = 1000)",
            ));
        }
        if let Some(timeout) = self.send_timeout
            && timeout > Duration::from_secs(86_400)
        {
            return Err(IperfError::invalid(
                "send_timeout",
                format!("{timeout:?}"),
                "must be at most 86400 seconds",
            ));
        }
        if let Some(timeout) = self.receive_timeout
            && (timeout < Duration::from_millis(100) || timeout > Duration::from_secs(86_400))
        {
            return Err(IperfError::invalid(
                "receive_timeout",
                format!("{timeout:?}"),
                "receive timeout value is incorrect or not in range (100 ms to 86400 s)",
            ));
        }
        if let Some(tick) = self.pacing_timer
            && (tick < Duration::from_micros(1) || tick > Duration::from_secs(1))
        {
            return Err(IperfError::invalid(
                "pacing_timer",
                format!("{tick:?}"),
                "must be 1 µs to 1 s",
            ));
        }
        Ok(())
    }
}

/// The names iperf3's `--dscp` accepts (its `dscp.c`), with the TOS byte each stands for.
const DSCP_NAMES: &[(&str, u8)] = &[
    ("af11", 0x28),
    ("af12", 0x30),
    ("af13", 0x38),
    ("af21", 0x48),
    ("af22", 0x50),
    ("af23", 0x58),
    ("af31", 0x68),
    ("af32", 0x70),
    ("af33", 0x78),
    ("af41", 0x88),
    ("af42", 0x90),
    ("af43", 0x98),
    ("cs0", 0x00),
    ("cs1", 0x20),
    ("cs2", 0x40),
    ("cs3", 0x60),
    ("cs4", 0x80),
    ("cs5", 0xa0),
    ("cs6", 0xc0),
    ("cs7", 0xe0),
    ("ef", 0xb8),
    ("lowdelay", 0x10),
    ("throughput", 0x08),
    ("reliability", 0x04),
];

/// Reads a number as C's `strtol(s, _, 0)` does: decimal, `0x` hex or leading-0 octal.
pub(crate) fn parse_c_integer(text: &str) -> Option<i64> {
    let t = text.trim();
    let (negative, t) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let value = if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        i64::from_str_radix(hex, 16).ok()?
    } else if t.len() > 1 && t.starts_with('0') {
        i64::from_str_radix(&t[1..], 8).ok()?
    } else {
        t.parse().ok()?
    };
    Some(if negative { -value } else { value })
}

/// The TOS byte of `--dscp` (a name such as `af11` or a number 0-63), as iperf3's
/// `parse_qos` reads it.
pub(crate) fn dscp_to_tos(text: &str) -> Option<u8> {
    if let Some((_, tos)) = DSCP_NAMES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(text))
    {
        return Some(*tos);
    }
    let code = parse_c_integer(text)?;
    (0..=63).contains(&code).then_some((code as u8) << 2)
}

/// The iperf3 repeating payload: ASCII `0` to `9`, over and over.
pub(crate) fn fill_repeating(buf: &mut [u8]) {
    for (i, byte) in buf.iter_mut().enumerate() {
        *byte = b'0' + (i % 10) as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tos_values_read_like_strtol_with_base_zero() {
        assert_eq!(parse_c_integer("52"), Some(52));
        assert_eq!(parse_c_integer("064"), Some(52));
        assert_eq!(parse_c_integer("0x34"), Some(52));
        assert_eq!(parse_c_integer("0"), Some(0));
        assert_eq!(parse_c_integer("lots"), None);
    }

    #[test]
    fn dscp_names_and_numbers_become_the_tos_byte() {
        assert_eq!(dscp_to_tos("af11"), Some(0x28));
        assert_eq!(dscp_to_tos("lowdelay"), Some(0x10));
        assert_eq!(dscp_to_tos("EF"), Some(184));
        assert_eq!(dscp_to_tos("46"), Some(184));
        assert_eq!(dscp_to_tos("64"), None);
        assert_eq!(dscp_to_tos("bogus"), None);
    }

    #[test]
    fn the_repeating_payload_is_iperf3s_digit_pattern() {
        let mut buf = [0u8; 23];
        fill_repeating(&mut buf);
        assert_eq!(&buf, b"01234567890123456789012");
    }

    #[test]
    fn values_beyond_iperf3s_limits_are_refused_naming_the_option() {
        let cases = [
            (StreamOptions::new().window(MAX_WINDOW + 1), "window"),
            (StreamOptions::new().window(0), "window"),
            (StreamOptions::new().mss(MAX_MSS + 1), "mss"),
            (StreamOptions::new().congestion(""), "congestion"),
            (
                StreamOptions::new().pacing_timer(Duration::ZERO),
                "pacing_timer",
            ),
        ];
        for (options, field) in cases {
            match options.check() {
                Err(IperfError::InvalidConfig { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
        assert!(StreamOptions::new().window(256 * 1024).check().is_ok());
    }
}
