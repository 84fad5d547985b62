//! Reading iperf3's `-J` output into [`IperfResult`], and writing an [`IperfResult`] in the
//! same layout so scripts written for iperf3 read the native engine's output unchanged.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

/// `start.version`: iperf3's own form first (`iperf 3.12`), so a consumer that reads the
/// version from it reads the protocol's, then what is really speaking.
const START_VERSION: &str = concat!(
    "iperf 3.12 (testrig ",
    env!("CARGO_PKG_VERSION"),
    " native engine)"
);

use super::{
    ControlPeer, CpuUtilization, DirectionSummary, IntervalReport, IperfResult, Measurement, Role,
    ServerOutput, StartInfo, StreamSummary, Summary, TestSettings,
};
use crate::iperf::error::IperfError;
use crate::iperf::kinds::{Direction, Protocol};

fn missing(path: &str, detail: impl Into<String>) -> IperfError {
    IperfError::MissingJson {
        path: path.to_owned(),
        detail: detail.into(),
    }
}

fn typed<T: DeserializeOwned>(value: &Value, path: &str) -> Result<T, IperfError> {
    T::deserialize(value).map_err(|e| missing(path, e.to_string()))
}

fn object<'a>(value: &'a Value, path: &str) -> Result<&'a Map<String, Value>, IperfError> {
    value
        .as_object()
        .ok_or_else(|| missing(path, "not a JSON object"))
}

fn field<'a>(map: &'a Map<String, Value>, key: &str, path: &str) -> Result<&'a Value, IperfError> {
    map.get(key)
        .ok_or_else(|| missing(&format!("{path}.{key}"), "key absent"))
}

fn number(value: Option<&Value>) -> f64 {
    value.and_then(Value::as_f64).unwrap_or(0.0)
}

impl IperfResult {
    /// Parses the JSON `iperf3 -J` prints, as a client or a server.
    ///
    /// Truncated or garbage output, and output whose `error` key reports a failure, are
    /// errors that quote what was wrong: [`IperfError::EmptyOutput`],
    /// [`IperfError::TruncatedOutput`], [`IperfError::NotJson`],
    /// [`IperfError::Iperf3Reported`] or [`IperfError::MissingJson`].
    pub fn from_iperf3_json(text: &str) -> Result<Self, IperfError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(IperfError::EmptyOutput);
        }
        let doc: Value = serde_json::from_str(text).map_err(|source| {
            if source.is_eof() {
                IperfError::TruncatedOutput {
                    len: text.len(),
                    source,
                }
            } else {
                IperfError::NotJson {
                    start: text.chars().take(60).collect(),
                    source,
                }
            }
        })?;
        let top = object(&doc, "the document")?;
        if let Some(error) = top.get("error") {
            return Err(IperfError::Iperf3Reported {
                message: error
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| error.to_string()),
            });
        }
        let start = object(field(top, "start", "")?, "start")?;
        let end = object(field(top, "end", "")?, "end")?;
        let role = if start.contains_key("accepted_connection") {
            Role::Server
        } else {
            Role::Client
        };
        let test = parse_test_start(start, end)?;
        let connected = match start.get("connected") {
            Some(list) => typed(list, "start.connected")?,
            None => Vec::new(),
        };
        let timestamp = start
            .get("timestamp")
            .and_then(|t| t.get("timesecs"))
            .and_then(Value::as_u64);
        let intervals = match top.get("intervals") {
            Some(list) => typed::<Vec<IntervalReport>>(list, "intervals")?,
            None => Vec::new(),
        };
        let summary = parse_end(end, test.protocol)?;
        let cpu = match end.get("cpu_utilization_percent") {
            Some(cpu) => Some(typed::<CpuUtilization>(cpu, "end.cpu_utilization_percent")?),
            None => None,
        };
        let text_of = |key: &str| end.get(key).and_then(Value::as_str).map(str::to_owned);
        Ok(Self {
            role,
            test,
            connected,
            timestamp,
            intervals,
            fine_samples: Vec::new(),
            summary,
            cpu,
            sender_tcp_congestion: text_of("sender_tcp_congestion"),
            receiver_tcp_congestion: text_of("receiver_tcp_congestion"),
            start_info: parse_start_info(start).map(|info| StartInfo {
                extra_data: top
                    .get("extra_data")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                title: top.get("title").and_then(Value::as_str).map(str::to_owned),
                ..info
            }),
            server_output: match (top.get("server_output_json"), top.get("server_output_text")) {
                (Some(json), _) => Some(ServerOutput::Json(json.clone())),
                (None, Some(Value::String(text))) => Some(ServerOutput::Text(text.clone())),
                _ => None,
            },
        })
    }

    /// This result in iperf3's `-J` layout (`start`, `intervals`, `end`), as iperf3 3.12
    /// writes it from the same side: the keys in its order, with its types.
    ///
    /// A server's document is what iperf3's server writes: it reports when the test ends,
    /// before the client's counts arrive, so what only the client measured (the bytes of a
    /// stream the server received, as the client sent them; the client's CPU and congestion
    /// control) is zero or absent there, and so it is here.
    pub fn to_iperf3_json(&self) -> Value {
        let server = self.role == Role::Server;
        let mut doc = Map::new();
        doc.insert("start".into(), self.iperf3_start());
        let mut intervals = json!(self.intervals);
        if self.test.protocol == Protocol::Udp {
            // iperf3's interval records carry no out-of-order count.
            remove_everywhere(&mut intervals, "out_of_order");
        }
        // iperf3 keeps its clock in microseconds: the bounds of every span, and an end
        // record's length, are whole microseconds (an interval's length is its own figure).
        for_each_record(&mut intervals, &mut |record| {
            to_microseconds(record, &["start", "end"]);
        });
        doc.insert("intervals".into(), intervals);
        let mut end = if server {
            self.server_view().iperf3_end()
        } else {
            self.iperf3_end()
        };
        for_each_record(&mut end, &mut |record| {
            to_microseconds(record, &["start", "end", "seconds"]);
        });
        doc.insert("end".into(), end);
        // After `end`, as iperf3: the title, the extra data, the server's output.
        if let Some(title) = self.start_info.as_ref().and_then(|i| i.title.as_ref()) {
            doc.insert("title".into(), json!(title));
        }
        if let Some(text) = self.start_info.as_ref().and_then(|i| i.extra_data.as_ref()) {
            doc.insert("extra_data".into(), json!(text));
        }
        match &self.server_output {
            Some(ServerOutput::Json(output)) => {
                doc.insert("server_output_json".into(), output.clone());
            }
            Some(ServerOutput::Text(output)) => {
                doc.insert("server_output_text".into(), json!(output));
            }
            None => {}
        }
        let mut doc = Value::Object(doc);
        as_cjson_numbers(&mut doc);
        doc
    }

    fn iperf3_start(&self) -> Value {
        let t = &self.test;
        let tcp = t.protocol == Protocol::Tcp;
        // iperf3 3.12 writes no `bidir` here; a bidirectional test shows in `end`'s
        // `*_bidir_reverse` sums.
        let test_start = json!({
            "protocol": match t.protocol { Protocol::Tcp => "TCP", Protocol::Udp => "UDP" },
            "num_streams": t.num_streams,
            "blksize": t.blksize,
            "omit": t.omit,
            "duration": t.duration,
            "bytes": t.bytes,
            "blocks": t.blocks,
            "reverse": u8::from(t.direction == Direction::Reverse),
            "tos": self.start_info.as_ref().map_or(0, |info| info.tos),
            "target_bitrate": t.target_bitrate,
        });
        // In iperf3's order, which differs by role: a server learns the test's settings
        // (and sizes a TCP test's sockets) before it writes who connected; a client writes
        // its sockets' sizes last. iperf3's server writes `target_bitrate` twice when a rate
        // is set; a JSON object keeps one, in the first place.
        let mut start = Map::new();
        start.insert("connected".into(), json!(self.connected));
        start.insert("version".into(), json!(START_VERSION));
        let Some(info) = &self.start_info else {
            start.insert("test_start".into(), test_start);
            return Value::Object(start);
        };
        start.insert("system_info".into(), json!(info.system_info));
        let buffers = |start: &mut Map<String, Value>| {
            start.insert("sock_bufsize".into(), json!(info.sock_bufsize));
            start.insert("sndbuf_actual".into(), json!(info.sndbuf_actual));
            start.insert("rcvbuf_actual".into(), json!(info.rcvbuf_actual));
        };
        let server = self.role == Role::Server;
        if server && t.target_bitrate > 0 {
            start.insert("target_bitrate".into(), json!(info.target_bitrate));
        }
        if server && tcp {
            buffers(&mut start);
        }
        if let Some(secs) = self.timestamp {
            start.insert(
                "timestamp".into(),
                json!({ "time": http_date(secs), "timesecs": secs }),
            );
        }
        if let Some(peer) = &info.control_peer {
            let key = if server {
                "accepted_connection"
            } else {
                "connecting_to"
            };
            start.insert(key.into(), json!({ "host": peer.host, "port": peer.port }));
        }
        start.insert("cookie".into(), json!(info.cookie));
        if tcp {
            // As iperf3: the MSS asked for (`-M`) as `tcp_mss`, else `tcp_mss_default`.
            match info.tcp_mss {
                Some(mss) => start.insert("tcp_mss".into(), json!(mss)),
                None => start.insert(
                    "tcp_mss_default".into(),
                    json!(info.tcp_mss_default.unwrap_or(0)),
                ),
            };
        }
        start.insert("target_bitrate".into(), json!(info.target_bitrate));
        if !(server && tcp) {
            buffers(&mut start);
        }
        start.insert("test_start".into(), test_start);
        Value::Object(start)
    }

    fn iperf3_end(&self) -> Value {
        let t = &self.test;
        let udp = t.protocol == Protocol::Udp;
        let mut end = Map::new();
        let streams: Vec<Value> = self
            .summary
            .streams
            .iter()
            .map(|s| match t.protocol {
                Protocol::Tcp => json!({
                    "sender": with_socket(&s.sender, s.id),
                    "receiver": with_socket(&s.receiver, s.id),
                }),
                Protocol::Udp => json!({ "udp": with_socket(&udp_stream_record(s), s.id) }),
            })
            .collect();
        end.insert("streams".into(), Value::Array(streams));
        let mut sums = |suffix: &str, d: &DirectionSummary| {
            if udp {
                end.insert(format!("sum{suffix}"), json!(udp_stream_sum(d)));
                let (sent, received) = udp_sent_and_received(d);
                end.insert(format!("sum_sent{suffix}"), sent);
                end.insert(format!("sum_received{suffix}"), received);
            } else {
                end.insert(format!("sum_sent{suffix}"), json!(d.sent));
                end.insert(format!("sum_received{suffix}"), json!(d.received));
            }
        };
        sums("", &self.summary.main);
        if let Some(reverse) = &self.summary.bidir_reverse {
            sums("_bidir_reverse", reverse);
        }
        if let Some(cpu) = &self.cpu {
            end.insert("cpu_utilization_percent".into(), json!(cpu));
        }
        if let Some(c) = &self.sender_tcp_congestion {
            end.insert("sender_tcp_congestion".into(), json!(c));
        }
        if let Some(c) = &self.receiver_tcp_congestion {
            end.insert("receiver_tcp_congestion".into(), json!(c));
        }
        Value::Object(end)
    }

    /// The server's figures as iperf3's server has them when it writes its report (at
    /// `TEST_END`, before the results exchange): its own side of each stream; the client's
    /// side as zeros; no client CPU; only its own congestion control, named as the
    /// sender's whenever it sends.
    fn server_view(&self) -> Self {
        let mut view = self.clone();
        let udp = self.test.protocol == Protocol::Udp;
        for s in &mut view.summary.streams {
            if s.sender.sender {
                s.receiver = unmeasured(&s.sender);
                if udp {
                    // The client's loss and jitter are not known yet: zeros.
                    s.receiver.jitter_ms = Some(0.0);
                    s.receiver.lost_packets = Some(0);
                    s.receiver.lost_percent = Some(0.0);
                    s.receiver.out_of_order = Some(0);
                }
            } else {
                s.sender = unmeasured(&s.receiver);
                if udp {
                    // Without the client's count of packets sent, iperf3 counts the packets
                    // received and takes no loss share.
                    s.sender.packets = s.receiver.packets;
                    s.receiver.lost_percent = Some(0.0);
                }
            }
        }
        let server_sends = |d: &DirectionSummary| d.sent.sender;
        for d in std::iter::once(&mut view.summary.main).chain(view.summary.bidir_reverse.as_mut())
        {
            if server_sends(d) {
                d.received = unmeasured(&d.sent);
                if udp {
                    d.received.jitter_ms = Some(0.0);
                    d.received.lost_packets = Some(0);
                    d.received.lost_percent = Some(0.0);
                    d.received.packets = Some(0);
                }
            } else {
                d.sent = unmeasured(&d.received);
                if udp {
                    d.sent.packets = Some(0);
                    // Without the client's counts, the loss share is of the packets counted
                    // here.
                    let lost = d.received.lost_packets.unwrap_or(0);
                    d.received.lost_percent = Some(super::measurement::loss_percent(
                        lost,
                        d.received.packets.unwrap_or(0),
                    ));
                }
            }
        }
        if let Some(cpu) = &mut view.cpu {
            cpu.remote_total = 0.0;
            cpu.remote_user = 0.0;
            cpu.remote_system = 0.0;
        }
        // The server's own algorithm, written as the receiver's in a forward test and as
        // the sender's otherwise (in a bidirectional test iperf3's server reports its
        // sending streams' side last, and only that one names an algorithm it knows). The
        // engine's server result holds it as the receiver's but in a reverse test; one read
        // from iperf3's server output, where iperf3 wrote it.
        let own = match self.test.direction {
            Direction::Reverse => self.sender_tcp_congestion.clone(),
            Direction::Forward => self.receiver_tcp_congestion.clone(),
            Direction::Bidirectional => self
                .receiver_tcp_congestion
                .clone()
                .or_else(|| self.sender_tcp_congestion.clone()),
        };
        (view.sender_tcp_congestion, view.receiver_tcp_congestion) = match self.test.direction {
            Direction::Forward => (None, own),
            _ => (own, None),
        };
        view
    }
}

/// The side of a measurement a host did not measure, as iperf3 writes it: the same span,
/// nothing moved.
fn unmeasured(measured: &Measurement) -> Measurement {
    Measurement {
        start: measured.start,
        end: measured.end,
        seconds: measured.seconds,
        sender: measured.sender,
        ..Measurement::default()
    }
}

/// The document iperf3 3.12 prints with `-J` when a test fails before it has anything to
/// report (a refused connection, a port in use): the start it has so far, empty intervals
/// and end, and its message in `error`.
///
/// # Examples
///
/// ```
/// use testrig_drivers::iperf::iperf3_error_json;
///
/// let doc = iperf3_error_json("unable to connect to server: Connection refused");
/// assert_eq!(doc["start"]["connected"], serde_json::json!([]));
/// assert_eq!(doc["error"], "unable to connect to server: Connection refused");
/// ```
pub fn iperf3_error_json(message: &str) -> Value {
    json!({
        "start": {
            "connected": [],
            "version": START_VERSION,
            "system_info": StartInfo::this_system(),
        },
        "intervals": [],
        "end": {},
        "error": message,
    })
}

/// Calls `f` on every object in `value` that has a `bytes` figure (a measurement record).
fn for_each_record(value: &mut Value, f: &mut impl FnMut(&mut Map<String, Value>)) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(|v| for_each_record(v, f)),
        Value::Object(map) => {
            if map.contains_key("bytes") {
                f(map);
            }
            map.values_mut().for_each(|v| for_each_record(v, f));
        }
        _ => {}
    }
}

/// Rounds the figures at `keys` (seconds) to whole microseconds.
fn to_microseconds(record: &mut Map<String, Value>, keys: &[&str]) {
    for key in keys {
        if let Some(seconds) = record.get(*key).and_then(Value::as_f64) {
            record.insert((*key).into(), json!((seconds * 1e6).round() / 1e6));
        }
    }
}

/// Removes `key` from every object in `value`, however deep.
fn remove_everywhere(value: &mut Value, key: &str) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(|v| remove_everywhere(v, key)),
        Value::Object(map) => {
            map.shift_remove(key);
            map.values_mut().for_each(|v| remove_everywhere(v, key));
        }
        _ => {}
    }
}

/// Writes numbers as iperf3 does. iperf3 builds its JSON with cJSON, which keeps every number
/// as a double and prints one without a fraction as an integer (`"duration": 2`, `"start": 0`,
/// `"lost_percent": 0`), so strict decoders expect integers there; serde_json would print
/// `2.0`. Integral values within `i64` (where iperf3's cJSON keeps its integer copy) become
/// integers; everything else stays as it is.
fn as_cjson_numbers(value: &mut Value) {
    match value {
        Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64()
                && f.fract() == 0.0
                && f.abs() < 9.2e18
            {
                *value = json!(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(as_cjson_numbers),
        Value::Object(map) => map.values_mut().for_each(as_cjson_numbers),
        _ => {}
    }
}

fn with_socket(m: &Measurement, id: u32) -> Value {
    let mut value = json!(m);
    if let Value::Object(map) = &mut value {
        let mut ordered = Map::new();
        ordered.insert("socket".into(), json!(id));
        ordered.extend(std::mem::take(map));
        *map = ordered;
    }
    value
}

/// iperf3's per-stream UDP record: the sender's bytes and packets, the receiver's loss and
/// reordering; UDP has no retransmits.
fn udp_stream_record(s: &StreamSummary) -> Measurement {
    Measurement {
        jitter_ms: s.receiver.jitter_ms,
        lost_packets: s.receiver.lost_packets,
        lost_percent: s.receiver.lost_percent,
        out_of_order: Some(s.receiver.out_of_order.unwrap_or(0)),
        packets: s.sender.packets.filter(|&p| p > 0).or(s.receiver.packets),
        retransmits: None,
        ..s.sender.clone()
    }
}

/// iperf3's UDP `sum_sent` and `sum_received`. iperf3 writes both with every UDP field:
/// the sending side's jitter and loss as zeros, `sender` true for the sent sum and false for
/// the received one whichever way the data flowed, and no out-of-order count.
fn udp_sent_and_received(d: &DirectionSummary) -> (Value, Value) {
    let sent = Measurement {
        jitter_ms: Some(0.0),
        lost_packets: Some(0),
        lost_percent: Some(0.0),
        out_of_order: None,
        retransmits: None,
        sender: true,
        ..d.sent.clone()
    };
    let received = Measurement {
        out_of_order: None,
        retransmits: None,
        sender: false,
        ..d.received.clone()
    };
    (json!(sent), json!(received))
}

/// iperf3's UDP `end.sum`: the bytes and rate sent over the receiver's span, the
/// receiver's jitter and loss, and the sender's packet count where known (else the
/// receiver's).
fn udp_stream_sum(d: &DirectionSummary) -> Measurement {
    Measurement {
        bytes: d.sent.bytes,
        bits_per_second: d.sent.bits_per_second,
        packets: d.sent.packets.filter(|&p| p > 0).or(d.received.packets),
        out_of_order: None,
        ..d.received.clone()
    }
}

/// The `start` facts beside the settings, where iperf3 wrote them (3.12 does, always).
fn parse_start_info(start: &Map<String, Value>) -> Option<StartInfo> {
    let cookie = start.get("cookie")?.as_str()?.to_owned();
    let count = |key: &str| start.get(key).and_then(Value::as_u64).unwrap_or(0);
    Some(StartInfo {
        cookie,
        system_info: start
            .get("system_info")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        tcp_mss_default: start
            .get("tcp_mss_default")
            .and_then(Value::as_u64)
            .and_then(|m| u32::try_from(m).ok()),
        tcp_mss: start
            .get("tcp_mss")
            .and_then(Value::as_u64)
            .and_then(|m| u32::try_from(m).ok()),
        target_bitrate: count("target_bitrate"),
        sock_bufsize: count("sock_bufsize"),
        sndbuf_actual: count("sndbuf_actual"),
        rcvbuf_actual: count("rcvbuf_actual"),
        control_peer: ["connecting_to", "accepted_connection"]
            .iter()
            .find_map(|key| start.get(*key))
            .and_then(|peer| {
                Some(ControlPeer {
                    host: peer.get("host")?.as_str()?.to_owned(),
                    port: u16::try_from(peer.get("port")?.as_u64()?).ok()?,
                })
            }),
        tos: start
            .get("test_start")
            .and_then(|t| t.get("tos"))
            .and_then(Value::as_u64)
            .and_then(|t| u8::try_from(t).ok())
            .unwrap_or(0),
        extra_data: None,
        title: None,
    })
}

fn parse_test_start(
    start: &Map<String, Value>,
    end: &Map<String, Value>,
) -> Result<TestSettings, IperfError> {
    let ts = object(field(start, "test_start", "start")?, "start.test_start")?;
    let protocol = match ts.get("protocol").and_then(Value::as_str) {
        Some("TCP") => Protocol::Tcp,
        Some("UDP") => Protocol::Udp,
        other => {
            return Err(missing(
                "start.test_start.protocol",
                format!("expected \"TCP\" or \"UDP\", found {other:?}"),
            ));
        }
    };
    let reverse = number(ts.get("reverse")) != 0.0;
    let bidir = number(ts.get("bidir")) != 0.0 || end.contains_key("sum_sent_bidir_reverse");
    let direction = match (reverse, bidir) {
        (_, true) => Direction::Bidirectional,
        (true, false) => Direction::Reverse,
        (false, false) => Direction::Forward,
    };
    Ok(TestSettings {
        protocol,
        direction,
        num_streams: number(ts.get("num_streams")) as u32,
        blksize: number(ts.get("blksize")) as u32,
        omit: number(ts.get("omit")),
        duration: number(ts.get("duration")),
        bytes: number(ts.get("bytes")) as u64,
        blocks: number(ts.get("blocks")) as u64,
        target_bitrate: number(ts.get("target_bitrate")) as u64,
    })
}

fn parse_end(end: &Map<String, Value>, protocol: Protocol) -> Result<Summary, IperfError> {
    let streams = match end.get("streams") {
        Some(Value::Array(list)) => list
            .iter()
            .enumerate()
            .map(|(i, s)| parse_end_stream(s, protocol, &format!("end.streams[{i}]")))
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => return Err(missing("end.streams", "not an array")),
        None => Vec::new(),
    };
    let sum_pair = |sent_key: &str, received_key: &str| -> Result<DirectionSummary, IperfError> {
        let sent = field(end, sent_key, "end")?;
        let received = field(end, received_key, "end")?;
        Ok(DirectionSummary {
            sent: typed(sent, &format!("end.{sent_key}"))?,
            received: typed(received, &format!("end.{received_key}"))?,
        })
    };
    let main = match (protocol, end.get("sum_sent"), end.get("sum")) {
        // iperf3 before 3.11 reported UDP only as `end.sum`.
        (Protocol::Udp, None, Some(sum)) => {
            let sum: Measurement = typed(sum, "end.sum")?;
            DirectionSummary {
                sent: Measurement {
                    jitter_ms: None,
                    lost_packets: None,
                    lost_percent: None,
                    ..sum.clone()
                },
                received: sum,
            }
        }
        _ => sum_pair("sum_sent", "sum_received")?,
    };
    let bidir_reverse = if end.contains_key("sum_sent_bidir_reverse") {
        Some(sum_pair(
            "sum_sent_bidir_reverse",
            "sum_received_bidir_reverse",
        )?)
    } else {
        None
    };
    Ok(Summary {
        streams,
        main,
        bidir_reverse,
    })
}

fn parse_end_stream(
    value: &Value,
    protocol: Protocol,
    path: &str,
) -> Result<StreamSummary, IperfError> {
    let map = object(value, path)?;
    let id_of = |m: &Value| m.get("socket").and_then(Value::as_u64).unwrap_or(0) as u32;
    match (protocol, map.get("udp")) {
        (Protocol::Udp, Some(udp)) => {
            let record: Measurement = typed(udp, &format!("{path}.udp"))?;
            Ok(StreamSummary {
                id: id_of(udp),
                sender: Measurement {
                    jitter_ms: None,
                    lost_packets: None,
                    lost_percent: None,
                    out_of_order: None,
                    ..record.clone()
                },
                receiver: record,
            })
        }
        _ => {
            let sender = field(map, "sender", path)?;
            let receiver = field(map, "receiver", path)?;
            Ok(StreamSummary {
                id: id_of(sender),
                sender: typed(sender, &format!("{path}.sender"))?,
                receiver: typed(receiver, &format!("{path}.receiver"))?,
            })
        }
    }
}

/// `Sun, 22 Nov 2026 02:55:54 GMT`, as iperf3 prints `start.timestamp.time`.
fn http_date(secs: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        DAYS[(days % 7) as usize],
        day,
        MONTHS[(month - 1) as usize],
        year,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_without_a_fraction_are_written_as_integers_like_cjson_does() {
        let mut doc = json!({"a": 2.0, "b": [0.0, 1.5, -3.0], "c": {"d": 1e20, "e": 7}});
        as_cjson_numbers(&mut doc);
        assert_eq!(
            serde_json::to_string(&doc).unwrap(),
            r#"{"a":2,"b":[0,1.5,-3],"c":{"d":1e+20,"e":7}}"#
        );
    }

    #[test]
    fn dates_are_printed_like_iperf3() {
        assert_eq!(http_date(1_795_316_154), "Sun, 22 Nov 2026 02:55:54 GMT");
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
    }

    #[test]
    fn empty_truncated_and_garbage_output_are_told_apart() {
        assert!(matches!(
            IperfResult::from_iperf3_json("  \n"),
            Err(IperfError::EmptyOutput)
        ));
        assert!(matches!(
            IperfResult::from_iperf3_json("{\"start\": {\"connected\": ["),
            Err(IperfError::TruncatedOutput { .. })
        ));
        assert!(matches!(
            IperfResult::from_iperf3_json("iperf3: error - unable to connect"),
            Err(IperfError::NotJson { .. })
        ));
    }
}
