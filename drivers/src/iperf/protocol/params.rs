//! The parameter document a client sends in `PARAM_EXCHANGE`, and the server's checks on it.

use serde_json::{Map, Value, json};

use super::{
    DEFAULT_TCP_BLOCK, DEFAULT_UDP_BLOCK, MAX_DURATION_SECS, MAX_STREAMS, MAX_TCP_BLOCK,
    MAX_UDP_BLOCK, MIN_UDP_BLOCK,
};
use crate::iperf::error::iperf3_code;
use crate::iperf::kinds::{Direction, Protocol};
use crate::iperf::stream_options::{MAX_BURST, MAX_MSS, MAX_WINDOW, StreamOptions};

/// The version string this engine announces; servers only log it.
const CLIENT_VERSION: &str = "3.12";

/// The test as negotiated: what both sides run.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TestParameters {
    pub(crate) protocol: Protocol,
    pub(crate) direction: Direction,
    pub(crate) streams: u32,
    /// Whole seconds (0 for a byte- or block-limited test).
    pub(crate) time: u64,
    pub(crate) omit: u64,
    pub(crate) bytes: u64,
    pub(crate) blocks: u64,
    pub(crate) block_size: u32,
    /// Bits per second per stream; 0 is unlimited.
    pub(crate) bitrate: u64,
    pub(crate) udp_counters_64bit: bool,
    /// The client wants the server's report in the results (`--get-server-output`).
    pub(crate) get_server_output: bool,
    /// Socket and payload options both sides apply to their data streams.
    pub(crate) stream_options: StreamOptions,
    /// `extra_data`: text for both sides' `-J` documents.
    pub(crate) extra_data: Option<String>,
    /// `title`: the client's `-T`, for both sides' `-J` documents.
    pub(crate) title: Option<String>,
    /// `server_affinity`: the CPU the client asks the server to pin itself to.
    pub(crate) server_affinity: Option<u64>,
}

/// Why a server refuses a parameter document: iperf3's error code and our words.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Refusal {
    pub(crate) code: i32,
    pub(crate) reason: String,
}

impl TestParameters {
    /// The document iperf3's `send_parameters` would write for this test.
    pub(crate) fn to_json(&self) -> Value {
        let mut doc = Map::new();
        let protocol_key = match self.protocol {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        };
        doc.insert(protocol_key.into(), Value::Bool(true));
        let o = &self.stream_options;
        doc.insert("omit".into(), json!(self.omit));
        if let Some(cpu) = self.server_affinity {
            doc.insert("server_affinity".into(), json!(cpu));
        }
        doc.insert("time".into(), json!(self.time));
        doc.insert("num".into(), json!(self.bytes));
        doc.insert("blockcount".into(), json!(self.blocks));
        if let Some(mss) = o.mss {
            doc.insert("MSS".into(), json!(mss));
        }
        if o.no_delay {
            doc.insert("nodelay".into(), Value::Bool(true));
        }
        doc.insert("parallel".into(), json!(self.streams));
        match self.direction {
            Direction::Forward => {}
            Direction::Reverse => {
                doc.insert("reverse".into(), Value::Bool(true));
            }
            Direction::Bidirectional => {
                doc.insert("bidirectional".into(), Value::Bool(true));
            }
        }
        if let Some(window) = o.window {
            doc.insert("window".into(), json!(window));
        }
        doc.insert("len".into(), json!(self.block_size));
        if self.bitrate > 0 {
            doc.insert("bandwidth".into(), json!(self.bitrate));
        }
        if let Some(rate) = o.fq_rate {
            doc.insert("fqrate".into(), json!(rate));
        }
        doc.insert("pacing_timer".into(), json!(o.pacing_timer_us()));
        if let Some(burst) = o.burst {
            doc.insert("burst".into(), json!(burst));
        }
        if o.tos > 0 {
            doc.insert("TOS".into(), json!(o.tos));
        }
        if let Some(text) = &self.extra_data {
            doc.insert("extra_data".into(), json!(text));
        }
        if let Some(title) = &self.title {
            doc.insert("title".into(), json!(title));
        }
        if let Some(algorithm) = &o.congestion {
            doc.insert("congestion".into(), json!(algorithm));
        }
        if self.get_server_output {
            doc.insert("get_server_output".into(), json!(1));
        }
        if self.udp_counters_64bit {
            doc.insert("udp_counters_64bit".into(), json!(1));
        }
        if o.repeating_payload {
            doc.insert("repeating_payload".into(), json!(1));
        }
        if o.dont_fragment {
            doc.insert("dont_fragment".into(), json!(1));
        }
        doc.insert("client_version".into(), json!(CLIENT_VERSION));
        Value::Object(doc)
    }

    /// Reads and checks a client's document the way a careful server must: presence-flags as
    /// iperf3 treats them, numbers within iperf3's limits.
    pub(crate) fn from_json(doc: &Value) -> Result<Self, Refusal> {
        let map = doc.as_object().ok_or_else(|| Refusal {
            code: iperf3_code::RECV_PARAMS,
            reason: "parameters are not a JSON object".into(),
        })?;
        let protocol = match (map.contains_key("tcp"), map.contains_key("udp")) {
            (_, true) => Protocol::Udp,
            (true, false) => Protocol::Tcp,
            (false, false) if map.contains_key("sctp") => {
                return Err(Refusal {
                    code: iperf3_code::PROTOCOL,
                    reason: "SCTP is not supported".into(),
                });
            }
            (false, false) => Protocol::Tcp,
        };
        let direction = match (
            map.contains_key("reverse"),
            map.contains_key("bidirectional"),
        ) {
            (false, false) => Direction::Forward,
            (true, false) => Direction::Reverse,
            (false, true) => Direction::Bidirectional,
            (true, true) => {
                return Err(Refusal {
                    code: iperf3_code::REVERSE_BIDIR,
                    reason: "reverse and bidirectional at once".into(),
                });
            }
        };
        let streams = number(map, "parallel")?.unwrap_or(1);
        if streams == 0 || streams > u64::from(MAX_STREAMS) {
            return Err(Refusal {
                code: iperf3_code::NUM_STREAMS,
                reason: format!("{streams} parallel streams (1 to {MAX_STREAMS} allowed)"),
            });
        }
        let time = number(map, "time")?.unwrap_or(0);
        let omit = number(map, "omit")?.unwrap_or(0);
        if time > MAX_DURATION_SECS || omit > MAX_DURATION_SECS {
            return Err(Refusal {
                code: iperf3_code::DURATION,
                reason: format!("duration {time} s / omit {omit} s (at most {MAX_DURATION_SECS})"),
            });
        }
        let (default_len, min_len, max_len, len_code) = match protocol {
            Protocol::Tcp => (DEFAULT_TCP_BLOCK, 1, MAX_TCP_BLOCK, iperf3_code::BLOCK_SIZE),
            Protocol::Udp => (
                DEFAULT_UDP_BLOCK,
                MIN_UDP_BLOCK,
                MAX_UDP_BLOCK,
                iperf3_code::UDP_BLOCK_SIZE,
            ),
        };
        let block_size = number(map, "len")?.unwrap_or(u64::from(default_len));
        if block_size < u64::from(min_len) || block_size > u64::from(max_len) {
            return Err(Refusal {
                code: len_code,
                reason: format!("block size {block_size} (allowed {min_len} to {max_len})"),
            });
        }
        let window = number(map, "window")?;
        if window.is_some_and(|w| w > MAX_WINDOW) {
            return Err(Refusal {
                code: iperf3_code::BUF_SIZE,
                reason: format!(
                    "socket buffer size {} (at most {MAX_WINDOW})",
                    window.unwrap_or(0)
                ),
            });
        }
        let mss = number(map, "MSS")?.filter(|&m| m > 0);
        if mss.is_some_and(|m| m > u64::from(MAX_MSS)) {
            return Err(Refusal {
                code: iperf3_code::MSS,
                reason: format!("MSS {} (at most {MAX_MSS})", mss.unwrap_or(0)),
            });
        }
        let tos = number(map, "TOS")?.unwrap_or(0);
        if tos > 255 {
            return Err(Refusal {
                code: iperf3_code::BAD_TOS,
                reason: format!("TOS {tos} (0 to 255 allowed)"),
            });
        }
        let pacing_timer = number(map, "pacing_timer")?
            .filter(|&t| t > 0)
            .map(|t| std::time::Duration::from_micros(t.min(1_000_000)));
        let burst = number(map, "burst")?.filter(|&b| b > 0);
        if burst.is_some_and(|b| b > u64::from(MAX_BURST)) {
            return Err(Refusal {
                code: iperf3_code::BURST,
                reason: format!("burst {} (at most {MAX_BURST})", burst.unwrap_or(0)),
            });
        }
        let stream_options = StreamOptions {
            burst: burst.map(|b| b as u32),
            send_timeout: None,
            receive_timeout: None,
            window: window.filter(|&w| w > 0),
            no_delay: map.contains_key("nodelay"),
            mss: mss.map(|m| m as u32),
            congestion: text(map, "congestion")?,
            tos: tos as u8,
            fq_rate: number(map, "fqrate")?.filter(|&r| r > 0),
            pacing_timer,
            repeating_payload: map.contains_key("repeating_payload"),
            dont_fragment: number(map, "dont_fragment")?.is_some_and(|d| d > 0),
        };
        Ok(Self {
            protocol,
            direction,
            streams: streams as u32,
            time,
            omit,
            bytes: number(map, "num")?.unwrap_or(0),
            blocks: number(map, "blockcount")?.unwrap_or(0),
            block_size: block_size as u32,
            bitrate: number(map, "bandwidth")?.unwrap_or(0),
            udp_counters_64bit: map.contains_key("udp_counters_64bit"),
            get_server_output: map.contains_key("get_server_output"),
            stream_options,
            extra_data: text(map, "extra_data")?,
            title: text(map, "title")?,
            server_affinity: number(map, "server_affinity")?,
        })
    }

    /// 2 for bidirectional tests, else 1.
    pub(crate) fn direction_count(&self) -> u32 {
        match self.direction {
            Direction::Bidirectional => 2,
            _ => 1,
        }
    }
}

/// A non-negative number, accepting iperf3's integers and (truncated) doubles.
fn number(map: &Map<String, Value>, key: &str) -> Result<Option<u64>, Refusal> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match (n.as_u64(), n.as_f64()) {
            (Some(v), _) => Ok(Some(v)),
            (None, Some(f)) if (0.0..1.8e19).contains(&f) => Ok(Some(f as u64)),
            _ => Err(bad_number(key, n)),
        },
        Some(other) => Err(bad_number(key, other)),
    }
}

/// A string parameter.
fn text(map: &Map<String, Value>, key: &str) -> Result<Option<String>, Refusal> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(Refusal {
            code: iperf3_code::RECV_PARAMS,
            reason: format!("parameter {key:?} is {other}, not a string"),
        }),
    }
}

fn bad_number(key: &str, value: &impl std::fmt::Display) -> Refusal {
    Refusal {
        code: iperf3_code::RECV_PARAMS,
        reason: format!("parameter {key:?} is {value}, not a non-negative number"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> TestParameters {
        TestParameters {
            protocol: Protocol::Udp,
            direction: Direction::Bidirectional,
            streams: 3,
            time: 2,
            omit: 1,
            bytes: 0,
            blocks: 0,
            block_size: 1400,
            bitrate: 100_000_000,
            udp_counters_64bit: true,
            get_server_output: true,
            stream_options: StreamOptions::new()
                .window(262_144)
                .no_delay(true)
                .mss(1200)
                .congestion("reno")
                .tos(0x28)
                .fq_rate(50_000_000)
                .pacing_timer(std::time::Duration::from_micros(2000))
                .repeating_payload(true)
                .dont_fragment(true)
                .burst(4),
            extra_data: Some("run 7".into()),
            title: Some("the title".into()),
            server_affinity: None,
        }
    }

    #[test]
    fn parameters_round_trip_through_the_iperf3_document() {
        let p = params();
        assert_eq!(TestParameters::from_json(&p.to_json()), Ok(p));
    }

    #[test]
    fn a_real_iperf3_client_document_is_understood() {
        let doc: Value = serde_json::from_str(
            r#"{"tcp":true,"omit":0,"time":1,"num":0,"blockcount":0,"parallel":4,"reverse":true,
                "len":131072,"pacing_timer":1000,"client_version":"3.12"}"#,
        )
        .unwrap();
        let p = TestParameters::from_json(&doc).unwrap();
        assert_eq!(p.protocol, Protocol::Tcp);
        assert_eq!(p.direction, Direction::Reverse);
        assert_eq!(p.streams, 4);
        assert_eq!(p.block_size, 131072);
    }

    #[test]
    fn every_stream_option_is_written_under_iperf3s_key() {
        let doc = params().to_json();
        for (key, value) in [
            ("window", json!(262_144)),
            ("nodelay", json!(true)),
            ("MSS", json!(1200)),
            ("congestion", json!("reno")),
            ("TOS", json!(0x28)),
            ("fqrate", json!(50_000_000)),
            ("pacing_timer", json!(2000)),
            ("repeating_payload", json!(1)),
            ("dont_fragment", json!(1)),
            ("extra_data", json!("run 7")),
            ("burst", json!(4)),
        ] {
            assert_eq!(doc.get(key), Some(&value), "{key} in {doc}");
        }
    }

    #[test]
    fn hostile_values_are_refused_with_iperf3_codes() {
        let cases = [
            (
                r#"{"tcp":true,"parallel":100000}"#,
                iperf3_code::NUM_STREAMS,
            ),
            (r#"{"tcp":true,"parallel":0}"#, iperf3_code::NUM_STREAMS),
            (r#"{"tcp":true,"len":1073741824}"#, iperf3_code::BLOCK_SIZE),
            (r#"{"udp":true,"len":70000}"#, iperf3_code::UDP_BLOCK_SIZE),
            (r#"{"tcp":true,"time":999999}"#, iperf3_code::DURATION),
            (
                r#"{"tcp":true,"reverse":true,"bidirectional":true}"#,
                iperf3_code::REVERSE_BIDIR,
            ),
            (
                r#"{"tcp":true,"parallel":"many"}"#,
                iperf3_code::RECV_PARAMS,
            ),
            (r#"{"tcp":true,"num":-5}"#, iperf3_code::RECV_PARAMS),
            (r#"[1,2,3]"#, iperf3_code::RECV_PARAMS),
            (r#"{"tcp":true,"window":1073741824}"#, iperf3_code::BUF_SIZE),
            (r#"{"tcp":true,"MSS":10000}"#, iperf3_code::MSS),
            (r#"{"tcp":true,"TOS":256}"#, iperf3_code::BAD_TOS),
            (r#"{"tcp":true,"congestion":5}"#, iperf3_code::RECV_PARAMS),
        ];
        for (doc, code) in cases {
            let doc: Value = serde_json::from_str(doc).unwrap();
            assert_eq!(
                TestParameters::from_json(&doc).unwrap_err().code,
                code,
                "{doc}"
            );
        }
    }
}
