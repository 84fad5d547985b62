//! iperf3's human-readable report, line for line as iperf3 3.12 prints it: the preamble
//! (`Connecting to host`, the `connected` lines, `-V`'s extras), interval lines while the
//! test runs, then the summary — for the client and for the server.
//!
//! Shared, as source, by the library (the server's `--get-server-output` text) and the
//! `iperf3` example (everything it prints): it names the types it reads through its parent
//! module, which imports them from the library in either place.

use std::net::SocketAddr;

use super::units::{UnitFormat, bytes_text, percent_g2, rate_text};
use super::{
    Connection, Direction, IntervalReport, IperfResult, Measurement, Protocol, Role, StreamSummary,
    TestSettings, clock, system,
};

/// The version iperf3 prints first with `-V` and `-v`: iperf3's own form (`iperf 3.12`), so a consumer parsing `iperf 3.x` reads the protocol
/// version, followed by what is really speaking.
pub const VERSION: &str = concat!(
    "iperf 3.12 (testrig ",
    env!("CARGO_PKG_VERSION"),
    " native engine, speaking the iperf 3.12 protocol)"
);

const SEPARATOR: &str = "- - - - - - - - - - - - - - - - - - - - - - - - -\n";

/// One piece of iperf3 output, as one of its print calls made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Printed {
    /// Through `iperf_printf`: to the output (or `--logfile`), after the `--timestamps`
    /// time and the `-T` title. Usually one whole line; `-V`'s system line comes after an
    /// empty call, which prints the prefix alone (iperf3 doubles the prefix there).
    Report(String),
    /// Through plain `printf`: always to standard output, never prefixed (`-V`'s
    /// `Control connection MSS`).
    Stdout(String),
    /// Through `warning()`: to standard error, never prefixed, with `-J` too.
    Stderr(String),
}

/// iperf3's warning for a UDP block larger than the control connection's MSS (none when
/// the MSS is unknown, as iperf3 skips it then).
pub fn udp_block_warning(
    protocol: Protocol,
    block_size: u32,
    control_mss: Option<u32>,
) -> Option<String> {
    let mss = control_mss.filter(|&mss| mss > 0)?;
    (protocol == Protocol::Udp && block_size > mss).then(|| {
        format!(
            "warning: UDP block size {block_size} exceeds TCP MSS {mss}, may result in \
             fragmentation / drops\n"
        )
    })
}

/// Formats a test's reports as iperf3 3.12 prints them, from the client's or the server's
/// side.
#[derive(Debug, Clone)]
pub struct HumanReport {
    role: Role,
    protocol: Protocol,
    direction: Direction,
    streams_per_direction: u32,
    verbose: bool,
    format: UnitFormat,
    /// Stream ids in the order the connections were made (the display number follows it).
    order: Vec<u32>,
    header_done: bool,
    /// The span of the first interval printed: iperf3 prints the header before any interval
    /// that starts where the test does, so again when a server repeats that one at a
    /// terminated test's end.
    first_interval: Option<(f64, f64)>,
    omit_note_pending: bool,
    /// A client's: what its command line asked for.
    request: Option<ClientRequest>,
    /// A client's test: how to tell its last interval (printed after the results exchange).
    last_interval: LastInterval,
}

/// How a client's report tells its test's last interval, which iperf3 prints after the
/// results exchange (the intervals before it print as the test runs).
#[derive(Debug, Clone, Copy, PartialEq)]
enum LastInterval {
    /// A time-bounded test: the last interval ends at its length, in seconds.
    EndsAt(f64),
    /// A byte- or block-bounded test with intervals this long: one that ends sooner was
    /// closed by the test's end, not by the interval timer (90 % for the timer's jitter).
    ShorterThan(f64),
    /// No intervals to tell apart.
    Unknown,
}

impl LastInterval {
    /// Whether `sum`, a measuring (not omitted) interval, is the test's last.
    fn is(self, sum: &Measurement) -> bool {
        if sum.omitted == Some(true) {
            return false;
        }
        match self {
            Self::EndsAt(seconds) => sum.end >= seconds - 0.001,
            Self::ShorterThan(interval) => sum.end - sum.start < interval * 0.9,
            Self::Unknown => false,
        }
    }
}

/// What a client's command line asked for that its report repeats.
#[derive(Debug, Clone)]
pub struct ClientRequest {
    /// The server's host, as given.
    pub host: String,
    /// The server's port.
    pub port: u16,
    /// `-l` was given (else a UDP client says which block size it chose).
    pub block_size_given: bool,
    /// `-M`: the segment size asked for (`-V` shows it in place of the control
    /// connection's).
    pub mss: Option<u32>,
    /// `-i`: the interval reports' length in seconds (`None`: `-i 0`, none).
    pub interval: Option<f64>,
}

impl HumanReport {
    /// A client's report for a test of this protocol and direction, one stream each way.
    pub fn new(protocol: Protocol, direction: Direction) -> Self {
        Self {
            role: Role::Client,
            protocol,
            direction,
            streams_per_direction: 1,
            verbose: false,
            format: UnitFormat::AdaptiveBits,
            order: Vec::new(),
            header_done: false,
            first_interval: None,
            last_interval: LastInterval::Unknown,
            omit_note_pending: false,
            request: None,
        }
    }

    /// A client's report for a test its command line asked for; the test's settings
    /// come with its connections ([`client_connected`](Self::client_connected)).
    pub fn for_client(request: ClientRequest) -> Self {
        let mut report = Self::new(Protocol::Tcp, Direction::Forward);
        report.request = Some(request);
        report
    }

    /// A server's report for the test `result` describes (the server learns the test's
    /// settings from the client, so its report is built once they are known).
    pub fn for_server(result: &IperfResult) -> Self {
        Self::for_server_test(&result.test, &result.connected)
    }

    /// A server's report for a test with these settings and connections.
    pub fn for_server_test(test: &TestSettings, connections: &[Connection]) -> Self {
        let mut report = Self::new(test.protocol, test.direction);
        report.role = Role::Server;
        report.streams_per_direction = test.num_streams.max(1);
        report.order = connections.iter().map(|c| c.socket).collect();
        report
    }

    /// `-V`: iperf3's verbose lines.
    #[must_use]
    pub fn verbose(mut self, verbose: bool) -> Self {
        self.verbose = verbose;
        self
    }

    /// `-f`: the unit of rates.
    #[must_use]
    pub fn format(mut self, format: UnitFormat) -> Self {
        self.format = format;
        self
    }

    /// `-V`'s first lines (client, and server before each test): the version and the
    /// system.
    pub fn version_banner(&self) -> Vec<Printed> {
        if !self.verbose {
            return Vec::new();
        }
        vec![
            Printed::Report(format!("{VERSION}\n")),
            Printed::Report(String::new()),
            Printed::Report(format!("{}\n", system_info())),
        ]
    }

    /// The client's lines once the data connections are made, up to the test's start:
    /// `Connecting to host`, `Reverse mode`, the `connected` lines and `-V`'s extras.
    pub fn client_connected(
        &mut self,
        test: &TestSettings,
        connections: &[Connection],
        cookie: &str,
        control_mss: Option<u32>,
        block_size: u32,
    ) -> Vec<Printed> {
        let request = self.request.clone().unwrap_or(ClientRequest {
            host: String::new(),
            port: 0,
            block_size_given: true,
            mss: None,
            interval: Some(1.0),
        });
        self.protocol = test.protocol;
        self.direction = test.direction;
        self.streams_per_direction = test.num_streams.max(1);
        self.omit_note_pending = request.interval.is_none() && test.omit > 0.0;
        self.last_interval = match request.interval {
            // `-t 0`: the test runs until it is interrupted, and an interrupted test never
            // reaches the results exchange.
            _ if test.bytes == 0 && test.blocks == 0 && test.duration <= 0.0 => {
                LastInterval::Unknown
            }
            _ if test.bytes == 0 && test.blocks == 0 => LastInterval::EndsAt(test.duration),
            Some(interval) => LastInterval::ShorterThan(interval),
            None => LastInterval::Unknown,
        };
        self.order = connections.iter().map(|c| c.socket).collect();
        let mut out = Vec::new();
        let tcp = self.protocol == Protocol::Tcp;
        if self.verbose {
            out.push(Printed::Stdout(format!(
                "Control connection MSS {}\n",
                control_mss.unwrap_or(0)
            )));
            if !tcp && !request.block_size_given {
                out.push(Printed::Stdout(format!(
                    "Setting UDP block size to {}\n",
                    block_size
                )));
            }
        }
        if let Some(warning) = udp_block_warning(self.protocol, block_size, control_mss) {
            out.push(Printed::Stderr(warning));
        }
        if self.verbose {
            out.push(Printed::Report(format!(
                "Time: {}\n",
                clock::rfc1123(clock::now_secs())
            )));
        }
        out.push(Printed::Report(format!(
            "Connecting to host {}, port {}\n",
            request.host, request.port
        )));
        if self.direction == Direction::Reverse {
            out.push(Printed::Report(format!(
                "Reverse mode, remote host {} is sending\n",
                request.host
            )));
        }
        if self.verbose {
            out.push(Printed::Report(format!("      Cookie: {}\n", cookie)));
            if tcp {
                out.push(Printed::Report(match request.mss {
                    Some(mss) => format!("      TCP MSS: {mss}\n"),
                    None => format!("      TCP MSS: {} (default)\n", control_mss.unwrap_or(0)),
                }));
            }
            if test.target_bitrate != 0 {
                out.push(Printed::Report(format!(
                    "      Target Bitrate: {}\n",
                    test.target_bitrate
                )));
            }
        }
        out.extend(self.connected_lines(connections));
        if self.verbose {
            let (bytes, blocks, secs) = match (test.bytes, test.blocks) {
                (0, 0) => (0, 0, test.duration as u64),
                (0, n) => (0, n, 0),
                (n, _) => (n, 0, 0),
            };
            let omit = test.omit as u64;
            out.push(self.starting_test(block_size, omit, bytes, blocks, secs));
        }
        out
    }

    /// The server's lines for one served test, all of them: `Accepted connection`, the
    /// `connected` lines, `-V`'s extras, the intervals and the summary.
    pub fn server_test(&mut self, peer: SocketAddr, result: &IperfResult) -> Vec<Printed> {
        let cookie = result.start_info.as_ref().map(|s| s.cookie.as_str());
        let secs = result.timestamp.map_or_else(clock::now_secs, |t| t as i64);
        let mss = result.start_info.as_ref().and_then(|s| s.tcp_mss);
        let mut out = self.server_started(
            peer,
            &result.test,
            &result.connected,
            cookie.unwrap_or_default(),
            mss,
            secs,
        );
        for interval in &result.intervals {
            out.extend(self.interval(interval));
        }
        out.extend(self.summary(result));
        out
    }

    /// The server's lines once a test's streams are connected, up to its start:
    /// `Accepted connection`, the `connected` lines and `-V`'s extras (`secs`: the test's
    /// time, for `-V`'s `Time:`).
    pub fn server_started(
        &mut self,
        peer: SocketAddr,
        test: &TestSettings,
        connections: &[Connection],
        cookie: &str,
        mss: Option<u32>,
        secs: i64,
    ) -> Vec<Printed> {
        self.order = connections.iter().map(|c| c.socket).collect();
        let mut out = Vec::new();
        if self.verbose {
            out.push(Printed::Report(format!("Time: {}\n", clock::rfc1123(secs))));
        }
        out.push(Printed::Report(format!(
            "Accepted connection from {}, port {}\n",
            peer.ip().to_canonical(),
            peer.port()
        )));
        if self.verbose {
            out.push(Printed::Report(format!("      Cookie: {cookie}\n")));
            if self.protocol == Protocol::Tcp {
                // iperf3's server never asks its control socket for the MSS: the one the
                // client asked for (`-M`), else 0.
                out.push(Printed::Report(match mss {
                    Some(mss) => format!("      TCP MSS: {mss}\n"),
                    None => "      TCP MSS: 0 (default)\n".to_owned(),
                }));
            }
            if test.target_bitrate > 0 {
                out.push(Printed::Report(format!(
                    "      Target Bitrate: {}\n",
                    test.target_bitrate
                )));
            }
        }
        out.extend(self.connected_lines(connections));
        if self.verbose {
            out.push(self.starting_test(
                test.blksize,
                test.omit as u64,
                test.bytes,
                test.blocks,
                test.duration as u64,
            ));
        }
        out
    }

    /// The server's banner while it waits for test number `test_number`.
    pub fn server_listening(port: u16, test_number: u64) -> Vec<Printed> {
        let rule = "-----------------------------------------------------------\n";
        vec![
            Printed::Report(rule.to_owned()),
            Printed::Report(format!(
                "Server listening on {port} (test #{test_number})\n"
            )),
            Printed::Report(rule.to_owned()),
        ]
    }

    /// The client's last lines.
    pub fn done() -> Vec<Printed> {
        vec![
            Printed::Report("\n".to_owned()),
            Printed::Report("iperf Done.\n".to_owned()),
        ]
    }

    fn starting_test(
        &self,
        block_size: u32,
        omit: u64,
        bytes: u64,
        blocks: u64,
        secs: u64,
    ) -> Printed {
        let what = if bytes > 0 {
            format!("{bytes} bytes to send")
        } else if blocks > 0 {
            format!("{blocks} blocks to send")
        } else {
            format!("{secs} second test")
        };
        Printed::Report(format!(
            "Starting Test: protocol: {}, {} streams, {block_size} byte blocks, omitting {omit} seconds, {what}, tos 0\n",
            match self.protocol {
                Protocol::Tcp => "TCP",
                Protocol::Udp => "UDP",
            },
            self.streams_per_direction,
        ))
    }

    fn connected_lines(&self, connections: &[Connection]) -> Vec<Printed> {
        connections
            .iter()
            .map(|c| {
                Printed::Report(format!(
                    "[{:3}] local {} port {} connected to {} port {}\n",
                    self.display_id(c.socket),
                    c.local_host,
                    c.local_port,
                    c.remote_host,
                    c.remote_port
                ))
            })
            .collect()
    }

    /// The number iperf3 would show for a stream: its socket's file descriptor, which
    /// follows from the order the connections were made.
    fn display_id(&self, stream_id: u32) -> u32 {
        let index = self
            .order
            .iter()
            .position(|&id| id == stream_id)
            .unwrap_or(stream_id.saturating_sub(1) as usize);
        iperf3_socket_number(self.role, self.protocol, index)
    }

    fn bidir(&self) -> bool {
        self.direction == Direction::Bidirectional
    }

    /// `[TX-C]`, `[RX-S]`… in bidirectional tests, nothing otherwise.
    fn tag(&self, sending: bool) -> String {
        if !self.bidir() {
            return String::new();
        }
        format!(
            "[{}-{}]",
            if sending { "TX" } else { "RX" },
            if self.role == Role::Client { "C" } else { "S" }
        )
    }

    /// Whether iperf3 counts this side's TCP sending (`sender_has_retransmits`) while the
    /// test runs: a side that sends (iperf3's mode is not `RECEIVER`).
    fn interval_retransmits(&self) -> bool {
        let receives_only = match self.role {
            Role::Client => self.direction == Direction::Reverse,
            Role::Server => self.direction == Direction::Forward,
        };
        self.protocol == Protocol::Tcp && !receives_only
    }

    /// The streams in iperf3's print order: the client's sending streams first, the
    /// server's receiving streams first (both: the client-to-server streams).
    fn groups(&self) -> Vec<bool> {
        let first_sends = self.role == Role::Client;
        match self.direction {
            Direction::Bidirectional => vec![first_sends, !first_sends],
            Direction::Forward => vec![self.role == Role::Client],
            Direction::Reverse => vec![self.role == Role::Server],
        }
    }

    /// The lines for one interval (the column header before the first, a separator
    /// before the others when there are several streams).
    pub fn interval(&mut self, interval: &IntervalReport) -> Vec<Printed> {
        let mut out = Vec::new();
        if std::mem::take(&mut self.omit_note_pending) && self.verbose {
            out.push(Printed::Report(
                "Finished omit period, starting real test\n".to_owned(),
            ));
        }
        let span = (interval.sum.start, interval.sum.end);
        let repeats_the_first = self.first_interval == Some(span);
        if !self.header_done || repeats_the_first {
            self.header_done = true;
            self.first_interval.get_or_insert(span);
            // A receiving client learns that the sender counts retransmits in the results
            // exchange, after the test: when its first interval is the last one, iperf3
            // prints it after the exchange, under the header with `Retr  Cwnd`.
            let peer_counts_retransmits = self.role == Role::Client
                && self.direction == Direction::Reverse
                && self.last_interval.is(&interval.sum);
            out.push(Printed::Report(
                self.interval_header(peer_counts_retransmits),
            ));
        } else if self.streams_per_direction > 1 {
            out.push(Printed::Report(SEPARATOR.to_owned()));
        }
        let groups = self.groups();
        for sending in groups {
            let streams: Vec<_> = self
                .ordered(&interval.streams, |s| s.id)
                .into_iter()
                .filter(|s| s.measurement.sender == sending || !self.bidir())
                .collect();
            for stream in &streams {
                let id = format!("{:3}", self.display_id(stream.id));
                out.push(Printed::Report(self.interval_line(
                    &id,
                    &stream.measurement,
                    stream.measurement.sender,
                )));
            }
            if self.streams_per_direction > 1 {
                let sum = std::iter::once(&interval.sum)
                    .chain(&interval.sum_bidir_reverse)
                    .find(|s| s.sender == sending || !self.bidir());
                if let Some(sum) = sum {
                    out.push(Printed::Report(self.interval_sum(sum, sending)));
                }
            }
        }
        out
    }

    fn ordered<'a, T>(&self, items: &'a [T], id: impl Fn(&T) -> u32) -> Vec<&'a T> {
        let mut items: Vec<&T> = items.iter().collect();
        items.sort_by_key(|item| {
            let stream = id(item);
            self.order
                .iter()
                .position(|&o| o == stream)
                .unwrap_or(stream as usize)
        });
        items
    }

    /// The column header; `peer_counts_retransmits`: the results exchange said the sender
    /// counts retransmits (a receiving side learns it then).
    fn interval_header(&self, peer_counts_retransmits: bool) -> String {
        let role = if self.bidir() { "[ ID][Role]" } else { "[ ID]" };
        let only_sends = !self.bidir() && self.groups() == [true];
        let tail = match self.protocol {
            Protocol::Tcp if self.interval_retransmits() || peer_counts_retransmits => {
                "         Retr  Cwnd"
            }
            Protocol::Tcp => "",
            Protocol::Udp if only_sends => "         Total Datagrams",
            Protocol::Udp => "         Jitter    Lost/Total Datagrams",
        };
        format!("{role} Interval           Transfer     Bitrate{tail}\n")
    }

    fn span(&self, id: &str, sending: bool, m: &Measurement) -> String {
        format!(
            "[{id}]{} {:6.2}-{:<6.2} sec  {}  {}",
            self.tag(sending),
            m.start,
            m.end,
            bytes_text(m.bytes as f64),
            rate_text(m.bits_per_second, self.format)
        )
    }

    fn omitted(m: &Measurement) -> &'static str {
        if m.omitted == Some(true) {
            "(omitted)"
        } else {
            ""
        }
    }

    fn zbuf(&self) -> &'static str {
        if self.bidir() { "          " } else { "" }
    }

    fn interval_line(&self, id: &str, m: &Measurement, sending: bool) -> String {
        let cwnd = bytes_text(m.snd_cwnd.unwrap_or(0) as f64);
        self.interval_columns(self.span(id, sending, m), m, sending, &cwnd)
    }

    fn interval_sum(&self, m: &Measurement, sending: bool) -> String {
        // iperf3's `[SUM]` line has no congestion window: its column stays blank.
        self.interval_columns(self.span("SUM", sending, m), m, sending, "   ")
    }

    /// The columns after an interval line's span, as iperf3 prints them; `cwnd` is the
    /// TCP sender's congestion window column (blank on a `[SUM]` line).
    fn interval_columns(&self, span: String, m: &Measurement, sending: bool, cwnd: &str) -> String {
        let omitted = Self::omitted(m);
        match self.protocol {
            Protocol::Tcp if sending && self.interval_retransmits() => format!(
                "{span}  {:3}   {cwnd}       {omitted}\n",
                m.retransmits.unwrap_or(0),
            ),
            Protocol::Tcp => format!("{span}                  {omitted}\n"),
            Protocol::Udp if sending => format!(
                "{span} {} {}  {omitted}\n",
                self.zbuf(),
                m.packets.unwrap_or(0)
            ),
            Protocol::Udp => {
                let (lost, packets) = (m.lost_packets.unwrap_or(0), m.packets.unwrap_or(0));
                format!(
                    "{span}  {:5.3} ms  {lost}/{packets} ({}%)  {omitted}\n",
                    m.jitter_ms.unwrap_or(0.0),
                    percent_g2(percent(lost, packets))
                )
            }
        }
    }

    /// The closing summary: a separator, the header, each stream as sent and as received
    /// (a server only the side it saw), the sums with several streams, and `-V`'s CPU and
    /// congestion lines.
    pub fn summary(&self, result: &IperfResult) -> Vec<Printed> {
        let mut out = vec![Printed::Report(SEPARATOR.to_owned())];
        if self.verbose {
            out.push(Printed::Report(
                "Test Complete. Summary Results:\n".to_owned(),
            ));
        }
        let role = if self.bidir() { "[ ID][Role]" } else { "[ ID]" };
        let server_forward = self.role == Role::Server && self.direction == Direction::Forward;
        // As iperf3's client: no retransmits column when no sender's count is known (an
        // interrupted reverse test, whose sender's results never came).
        let retransmits = !(self.role == Role::Client
            && result
                .summary
                .streams
                .iter()
                .all(|s| s.sender.retransmits.is_none()));
        let tail = match self.protocol {
            Protocol::Tcp if server_forward || !retransmits => "",
            Protocol::Tcp => "         Retr",
            Protocol::Udp => "         Jitter    Lost/Total Datagrams",
        };
        out.push(Printed::Report(format!(
            "{role} Interval           Transfer     Bitrate{tail}\n"
        )));
        let server = self.role == Role::Server;
        for sending in self.groups() {
            let streams: Vec<&StreamSummary> = self
                .ordered(&result.summary.streams, |s| s.id)
                .into_iter()
                .filter(|s| s.sender.sender == sending || !self.bidir())
                .collect();
            // A bidirectional client's groups each have their own: iperf3 learns whether the
            // other side counts retransmits only in the results exchange, which an
            // interrupted test never reaches.
            let retransmits = retransmits
                && !(self.role == Role::Client
                    && self.bidir()
                    && streams.iter().all(|s| s.sender.retransmits.is_none()));
            for stream in &streams {
                let n = self.display_id(stream.id);
                let id = format!("{n:3}");
                let local_sends = stream.sender.sender;
                if server && !local_sends {
                    if self.verbose {
                        out.push(Printed::Report(format!(
                            "[{n:3}] (sender statistics not available)\n"
                        )));
                    }
                } else {
                    out.push(Printed::Report(self.summary_sender(
                        &id,
                        sending,
                        &stream.sender,
                        retransmits,
                    )));
                }
                if server && local_sends {
                    if self.verbose {
                        out.push(Printed::Report(format!(
                            "[{n:3}] (receiver statistics not available)\n"
                        )));
                    }
                } else {
                    out.push(Printed::Report(self.summary_receiver(
                        &id,
                        sending,
                        &stream.receiver,
                        stream.sender.packets,
                    )));
                }
            }
            if self.streams_per_direction > 1 {
                let direction = std::iter::once(&result.summary.main)
                    .chain(&result.summary.bidir_reverse)
                    .find(|d| d.sent.sender == sending || !self.bidir());
                if let Some(d) = direction {
                    // iperf3 says a sum's side is not available for TCP only: a UDP
                    // server's sums leave it out, even with `-V`.
                    let tcp = self.protocol == Protocol::Tcp;
                    if server && !sending {
                        if self.verbose && tcp {
                            out.push(Printed::Report(
                                "[SUM] (sender statistics not available)\n".to_owned(),
                            ));
                        }
                    } else {
                        out.push(Printed::Report(self.summary_sender(
                            "SUM",
                            sending,
                            &d.sent,
                            retransmits,
                        )));
                    }
                    if server && sending {
                        if self.verbose && tcp {
                            out.push(Printed::Report(
                                "[SUM] (receiver statistics not available)\n".to_owned(),
                            ));
                        }
                    } else {
                        out.push(Printed::Report(self.summary_receiver(
                            "SUM",
                            sending,
                            &d.received,
                            d.sent.packets,
                        )));
                    }
                }
            }
            if self.verbose {
                out.extend(self.cpu_and_congestion(result, sending));
            }
        }
        out
    }

    fn summary_sender(
        &self,
        id: &str,
        sending: bool,
        m: &Measurement,
        retransmits: bool,
    ) -> String {
        let span = self.span(id, sending, m);
        match self.protocol {
            Protocol::Tcp if !retransmits => format!("{span}                  sender\n"),
            Protocol::Tcp => format!(
                "{span}  {:3}             sender\n",
                m.retransmits.unwrap_or(0)
            ),
            Protocol::Udp => format!(
                "{span}  {:5.3} ms  0/{} (0%)  sender\n",
                0.0,
                m.packets.unwrap_or(0)
            ),
        }
    }

    fn summary_receiver(
        &self,
        id: &str,
        sending: bool,
        m: &Measurement,
        sent_packets: Option<u64>,
    ) -> String {
        let span = self.span(id, sending, m);
        match self.protocol {
            Protocol::Tcp => format!("{span}                  receiver\n"),
            Protocol::Udp => {
                let (lost, packets) = (m.lost_packets.unwrap_or(0), m.packets.unwrap_or(0));
                // A sum's share is of the packets sent when they are known.
                let base = if id == "SUM" {
                    sent_packets.filter(|&p| p > 0).unwrap_or(packets)
                } else {
                    packets
                };
                format!(
                    "{span}  {:5.3} ms  {lost}/{packets} ({}%)  receiver\n",
                    m.jitter_ms.unwrap_or(0.0),
                    percent_g2(percent(lost, base))
                )
            }
        }
    }

    /// `-V`: the CPU line(s) after the sending group, and the congestion algorithms known.
    fn cpu_and_congestion(&self, result: &IperfResult, sending: bool) -> Vec<Printed> {
        let mut out = Vec::new();
        if sending {
            let cpu = result.cpu.clone().unwrap_or_default();
            let line = |local: &str, remote: &str| {
                Printed::Report(format!(
                    "CPU Utilization: local/{local} {:.1}% ({:.1}%u/{:.1}%s), remote/{remote} {:.1}% ({:.1}%u/{:.1}%s)\n",
                    cpu.host_total,
                    cpu.host_user,
                    cpu.host_system,
                    cpu.remote_total,
                    cpu.remote_user,
                    cpu.remote_system,
                ))
            };
            out.push(line("sender", "receiver"));
            if self.bidir() {
                out.push(line("receiver", "sender"));
            }
        }
        if self.protocol == Protocol::Tcp {
            // Which of the result's algorithms is this side's: the sender's where it sends
            // the main flow, but a bidirectional client's is the receiver's (iperf3 writes
            // them with its receiving half).
            let local_is_the_senders = match self.direction {
                Direction::Reverse => self.role == Role::Server,
                Direction::Bidirectional => false,
                Direction::Forward => self.role == Role::Client,
            };
            let (local, remote) = if local_is_the_senders {
                (
                    &result.sender_tcp_congestion,
                    &result.receiver_tcp_congestion,
                )
            } else {
                (
                    &result.receiver_tcp_congestion,
                    &result.sender_tcp_congestion,
                )
            };
            // A server prints before it learns the client's algorithm.
            let remote = remote.as_ref().filter(|_| self.role == Role::Client);
            let (snd, rcv) = if sending {
                (local.as_ref(), remote)
            } else {
                (remote, local.as_ref())
            };
            if let Some(snd) = snd {
                out.push(Printed::Report(format!("snd_tcp_congestion {snd}\n")));
            }
            if let Some(rcv) = rcv {
                out.push(Printed::Report(format!("rcv_tcp_congestion {rcv}\n")));
            }
        }
        out
    }
}

fn percent(lost: u64, packets: u64) -> f64 {
    if packets == 0 {
        0.0
    } else {
        100.0 * lost as f64 / packets as f64
    }
}

/// The host as iperf3's `-V` describes it (`uname`'s fields).
fn system_info() -> String {
    system::this_system()
}

/// The number iperf3 3.12 on Linux shows for the `index`-th data stream (in connection
/// order): the stream socket's file descriptor. Each stream also holds its payload file
/// open, and a few descriptors are taken early on, hence the gaps (measured with the real
/// iperf3: a client shows 5, 7, 9, 12, 14…; a TCP server 5, 8, 11, 13…; a UDP server 5, 6,
/// 9, 12, 14…).
pub fn iperf3_socket_number(role: Role, protocol: Protocol, index: usize) -> u32 {
    let index = index as u32;
    let firsts: [u32; 3] = match (role, protocol) {
        (Role::Client, _) => [5, 7, 9],
        (Role::Server, Protocol::Tcp) => [5, 8, 11],
        (Role::Server, Protocol::Udp) => [5, 6, 9],
    };
    match index {
        0..=2 => firsts[index as usize],
        n => {
            let jump = if (role, protocol) == (Role::Server, Protocol::Tcp) {
                2
            } else {
                3
            };
            firsts[2] + jump + 2 * (n - 3)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(printed: &[Printed]) -> Vec<String> {
        printed
            .iter()
            .map(|p| match p {
                Printed::Report(s) | Printed::Stdout(s) | Printed::Stderr(s) => {
                    s.trim_end_matches('\n').to_owned()
                }
            })
            .collect()
    }

    #[test]
    fn socket_numbers_are_the_ones_iperf3_shows() {
        let numbers = |role, protocol| {
            (0..10)
                .map(|i| iperf3_socket_number(role, protocol, i))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            numbers(Role::Client, Protocol::Tcp),
            [5, 7, 9, 12, 14, 16, 18, 20, 22, 24]
        );
        assert_eq!(
            numbers(Role::Client, Protocol::Udp),
            [5, 7, 9, 12, 14, 16, 18, 20, 22, 24]
        );
        assert_eq!(
            numbers(Role::Server, Protocol::Tcp),
            [5, 8, 11, 13, 15, 17, 19, 21, 23, 25]
        );
        assert_eq!(
            numbers(Role::Server, Protocol::Udp),
            [5, 6, 9, 12, 14, 16, 18, 20, 22, 24]
        );
    }

    #[test]
    fn a_sending_tcp_interval_line_has_retransmits_and_cwnd() {
        let mut report = HumanReport::new(Protocol::Tcp, Direction::Forward);
        report.order = vec![1];
        let interval = IntervalReport {
            streams: vec![super::super::StreamMeasurement {
                id: 1,
                measurement: Measurement {
                    start: 0.0,
                    end: 0.07,
                    seconds: 0.07,
                    bytes: 100 * 1024 * 1024,
                    bits_per_second: 12.1e9,
                    retransmits: Some(2),
                    snd_cwnd: Some(895 * 1024),
                    sender: true,
                    ..Measurement::default()
                },
            }],
            ..IntervalReport::default()
        };
        assert_eq!(
            lines(&report.interval(&interval)),
            [
                "[ ID] Interval           Transfer     Bitrate         Retr  Cwnd",
                "[  5]   0.00-0.07   sec   100 MBytes  12.1 Gbits/sec    2    895 KBytes       ",
            ]
        );
    }
}
