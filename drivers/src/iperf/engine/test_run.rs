//! One running test, from either side: its streams and their tasks, the clock (with the
//! omitted warm-up), interval sampling, and the end summary merged with the peer's results.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use testrig::Host;
use tokio::net::{TcpStream, UdpSocket};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::budget::{Budget, LimitKind};
use super::counters::{CounterSnapshot, StreamCounters};
use super::cpu::{CpuPercent, CpuSample};
use super::drain::{self, Drained, SentStream};
use super::fine_sampler::{FineSampler, FlowCounters};
use super::stream_io::{self, ReceiveEnd, ReceiveJob, SendJob};
use super::tcp_info;
use crate::iperf::error::IperfError;
use crate::iperf::kinds::{Direction, Protocol};
use crate::iperf::protocol::{ExchangedResults, ExchangedStream, TestParameters};
use crate::iperf::result::loss_percent;
use crate::iperf::result::{
    Connection, ControlPeer, CpuUtilization, DirectionSummary, FineSample, IntervalReport,
    IperfResult, Measurement, Role, StartInfo, StreamMeasurement, StreamSummary, Summary,
    TestSettings,
};
use crate::tcp::probe;

/// Which way a stream's data flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flow {
    ClientToServer,
    ServerToClient,
}

#[derive(Debug, Clone)]
enum StreamSocket {
    Tcp(Arc<TcpStream>),
    Udp(Arc<UdpSocket>),
}

#[derive(Debug)]
struct Stream {
    id: u32,
    flow: Flow,
    sending: bool,
    socket: Option<StreamSocket>,
    counters: Arc<StreamCounters>,
    local: SocketAddr,
    remote: SocketAddr,
    /// A TCP sender's kernel figures over the intervals so far.
    seen: SenderFigures,
}

/// The extremes and mean of a TCP sender's figures over its interval samples, as iperf3
/// reports them at the end (`max_snd_cwnd`, `max_snd_wnd`, `max_rtt`, `min_rtt`, `mean_rtt`).
#[derive(Debug, Default, Clone, Copy)]
struct SenderFigures {
    samples: u64,
    max_snd_cwnd: u64,
    max_snd_wnd: u64,
    max_rtt: u64,
    min_rtt: u64,
    rtt_sum: u64,
}

impl SenderFigures {
    fn add(&mut self, info: &tcp_info::TcpInfoSample) {
        self.min_rtt = if self.samples == 0 {
            info.rtt
        } else {
            self.min_rtt.min(info.rtt)
        };
        self.samples += 1;
        self.max_snd_cwnd = self.max_snd_cwnd.max(info.snd_cwnd);
        self.max_snd_wnd = self.max_snd_wnd.max(info.snd_wnd);
        self.max_rtt = self.max_rtt.max(info.rtt);
        self.rtt_sum += info.rtt;
    }

    /// Writes the figures into a TCP stream's end `sender` record: zeros where none were
    /// sampled, as iperf3 writes them for a side that only receives.
    fn apply(&self, end: &mut Measurement) {
        end.max_snd_cwnd = Some(self.max_snd_cwnd);
        end.max_snd_wnd = Some(self.max_snd_wnd);
        end.max_rtt = Some(self.max_rtt);
        end.min_rtt = Some(self.min_rtt);
        end.mean_rtt = Some(self.rtt_sum.checked_div(self.samples).unwrap_or(0));
    }
}

/// The first failure among a test's stream tasks.
#[derive(Debug, Default)]
struct Failure {
    token: CancellationToken,
    first: std::sync::Mutex<Option<(u32, io::Error)>>,
}

impl Failure {
    fn record(&self, stream: u32, outcome: io::Result<()>) {
        if let Err(error) = outcome {
            if let Ok(mut first) = self.first.lock() {
                first.get_or_insert((stream, error));
            }
            self.token.cancel();
        }
    }
}

/// The fine samples for the throughput picture: none before the streams run, then the
/// thread taking them, then what it took.
#[derive(Debug, Default)]
enum FineSampling {
    #[default]
    NotStarted,
    Running(FineSampler),
    Finished(Vec<FineSample>),
}

/// The test's clock once `TEST_START` has happened.
#[derive(Debug, Clone, Copy)]
struct Clock {
    started: Instant,
    /// Where measurement starts: the start, or the end of the omitted warm-up.
    measure_from: Instant,
    omitting: bool,
}

/// A running test.
#[derive(Debug)]
pub(crate) struct TestRun {
    params: TestParameters,
    role: Role,
    streams: Vec<Stream>,
    senders: JoinSet<()>,
    receivers: JoinSet<()>,
    failure: Arc<Failure>,
    stop_senders: CancellationToken,
    stop_receivers: CancellationToken,
    /// Cancelled when the test ends on this side: the TCP receivers' counts stop there.
    test_ended: CancellationToken,
    budget: Option<Arc<Budget>>,
    clock: Option<Clock>,
    baseline: Vec<CounterSnapshot>,
    last: Vec<CounterSnapshot>,
    last_at: Option<Instant>,
    intervals: Vec<IntervalReport>,
    fine: FineSampling,
    cpu_start: Option<CpuSample>,
    cpu: CpuPercent,
    sender_end: Option<(Instant, Vec<CounterSnapshot>)>,
    receiver_end: Option<Vec<CounterSnapshot>>,
    timestamp: u64,
    local_congestion: Option<String>,
    /// What `start` reports besides the settings; the host is filled in at the end.
    start_info: StartInfo,
}

impl TestRun {
    pub(crate) fn new(params: TestParameters, role: Role) -> Self {
        let omitting = params.omit > 0;
        let target_bitrate = params.bitrate;
        let sock_bufsize = params.stream_options.window.unwrap_or(0);
        let tos = params.stream_options.tos;
        let extra_data = params.extra_data.clone();
        let title = params.title.clone();
        // Both sides' senders stop at the limit, as iperf3's do; only the client ends the
        // test on it (see `spawn_streams`).
        let budget = match (params.bytes, params.blocks) {
            (bytes, _) if bytes > 0 => {
                Some(Arc::new(Budget::new(LimitKind::Bytes, bytes, !omitting)))
            }
            (_, blocks) if blocks > 0 => {
                Some(Arc::new(Budget::new(LimitKind::Blocks, blocks, !omitting)))
            }
            _ => None,
        };
        Self {
            params,
            role,
            streams: Vec::new(),
            senders: JoinSet::new(),
            receivers: JoinSet::new(),
            failure: Arc::new(Failure::default()),
            stop_senders: CancellationToken::new(),
            stop_receivers: CancellationToken::new(),
            test_ended: CancellationToken::new(),
            budget,
            clock: None,
            baseline: Vec::new(),
            last: Vec::new(),
            last_at: None,
            intervals: Vec::new(),
            fine: FineSampling::NotStarted,
            cpu_start: None,
            cpu: CpuPercent::default(),
            sender_end: None,
            receiver_end: None,
            timestamp: 0,
            local_congestion: None,
            start_info: StartInfo {
                target_bitrate,
                sock_bufsize,
                tos,
                extra_data,
                title,
                ..StartInfo::default()
            },
        }
    }

    /// Records the test's cookie, the control connection's MSS and its other end for the
    /// report's `start`.
    pub(crate) fn set_control_facts(
        &mut self,
        cookie: String,
        mss: Option<u32>,
        peer: Option<ControlPeer>,
    ) {
        self.start_info.cookie = cookie;
        let tcp = self.params.protocol == Protocol::Tcp;
        // As iperf3: the MSS asked for (`-M`) if any, else the control connection's.
        self.start_info.tcp_mss = self.params.stream_options.mss.filter(|_| tcp);
        self.start_info.tcp_mss_default = mss.filter(|_| tcp && self.start_info.tcp_mss.is_none());
        self.start_info.control_peer = peer;
    }

    pub(crate) fn params(&self) -> &TestParameters {
        &self.params
    }

    /// The id the next stream gets: 1, then 3, 4, 5… (iperf3 skips 2 and keeps it that way
    /// for compatibility).
    pub(crate) fn next_id(&self) -> u32 {
        match self.streams.len() {
            0 => 1,
            n => n as u32 + 2,
        }
    }

    pub(crate) fn stream_count(&self) -> usize {
        self.streams.len()
    }

    /// The role and flow of the `index`-th stream, in the order both iperf3 peers create them:
    /// client-to-server streams first.
    pub(crate) fn plan(&self, index: u32) -> (Flow, bool) {
        let is_client = self.role == Role::Client;
        let flow = match self.params.direction {
            Direction::Forward => Flow::ClientToServer,
            Direction::Reverse => Flow::ServerToClient,
            Direction::Bidirectional if index < self.params.streams => Flow::ClientToServer,
            Direction::Bidirectional => Flow::ServerToClient,
        };
        let sending = (flow == Flow::ClientToServer) == is_client;
        (flow, sending)
    }

    pub(crate) fn add_tcp(&mut self, stream: TcpStream) -> io::Result<()> {
        let (local, remote) = (stream.local_addr()?, stream.peer_addr()?);
        if self.local_congestion.is_none() {
            self.local_congestion = tcp_info::congestion(&stream);
        }
        self.push(StreamSocket::Tcp(Arc::new(stream)), local, remote);
        Ok(())
    }

    pub(crate) fn add_udp(&mut self, socket: UdpSocket) -> io::Result<()> {
        let (local, remote) = (socket.local_addr()?, socket.peer_addr()?);
        self.push(StreamSocket::Udp(Arc::new(socket)), local, remote);
        Ok(())
    }

    fn push(&mut self, socket: StreamSocket, local: SocketAddr, remote: SocketAddr) {
        if self.streams.is_empty() {
            // As iperf3: the first data socket's buffers, as the kernel reports them.
            let sock = match &socket {
                StreamSocket::Tcp(s) => socket2::SockRef::from(s.as_ref()),
                StreamSocket::Udp(s) => socket2::SockRef::from(s.as_ref()),
            };
            self.start_info.sndbuf_actual = sock.send_buffer_size().unwrap_or(0) as u64;
            self.start_info.rcvbuf_actual = sock.recv_buffer_size().unwrap_or(0) as u64;
        }
        let (flow, sending) = self.plan(self.streams.len() as u32);
        self.streams.push(Stream {
            id: self.next_id(),
            flow,
            sending,
            socket: Some(socket),
            counters: Arc::new(StreamCounters::default()),
            local,
            remote,
            seen: SenderFigures::default(),
        });
    }

    /// What runs, as the results describe it.
    pub(crate) fn settings(&self) -> TestSettings {
        let p = &self.params;
        TestSettings {
            protocol: p.protocol,
            direction: p.direction,
            num_streams: p.streams,
            blksize: p.block_size,
            omit: p.omit as f64,
            duration: p.time as f64,
            bytes: p.bytes,
            blocks: p.blocks,
            target_bitrate: p.bitrate,
        }
    }

    /// The data connections made so far, in the order they were made.
    pub(crate) fn connections(&self) -> Vec<Connection> {
        self.streams
            .iter()
            .map(|s| Connection {
                socket: s.id,
                local_host: s.local.ip().to_canonical().to_string(),
                local_port: s.local.port(),
                remote_host: s.remote.ip().to_canonical().to_string(),
                remote_port: s.remote.port(),
            })
            .collect()
    }

    /// `TEST_START`: the clock starts.
    pub(crate) fn mark_start(&mut self) {
        let now = Instant::now();
        self.clock = Some(Clock {
            started: now,
            measure_from: now,
            omitting: self.params.omit > 0,
        });
        self.last_at = Some(now);
        self.baseline = vec![CounterSnapshot::default(); self.streams.len()];
        self.last = self.baseline.clone();
        self.cpu_start = Some(CpuSample::now());
        self.timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
    }

    /// `TEST_RUNNING`: one task per stream starts moving data; TCP senders use
    /// `sendfile(2)` when `zero_copy` is set.
    pub(crate) fn spawn_streams(&mut self, receive_end: ReceiveEnd, zero_copy: bool) {
        let block_size = self.params.block_size as usize;
        let bitrate = (self.params.bitrate > 0).then_some(self.params.bitrate);
        for stream in &self.streams {
            let Some(socket) = stream.socket.clone() else {
                continue;
            };
            let id = stream.id;
            if stream.sending {
                let job = SendJob {
                    counters: stream.counters.clone(),
                    block_size,
                    bitrate,
                    budget: self.budget.clone(),
                    stop: self.stop_senders.clone(),
                    udp_counters_64bit: self.params.udp_counters_64bit,
                    zero_copy,
                    repeating_payload: self.params.stream_options.repeating_payload,
                    pacing_tick: self.params.stream_options.pacing_tick(),
                    burst: self.params.stream_options.burst,
                };
                let failure = self.failure.clone();
                match socket {
                    StreamSocket::Tcp(s) => self.senders.spawn(async move {
                        failure.record(id, stream_io::tcp_send(s, job).await);
                    }),
                    StreamSocket::Udp(s) => self.senders.spawn_blocking(move || {
                        failure.record(id, stream_io::udp_send_blocking(s, job));
                    }),
                };
            } else {
                let job = ReceiveJob {
                    counters: stream.counters.clone(),
                    block_size,
                    // What the client receives counts toward the limit (it ends a reverse
                    // test); what the server receives must not stop the server's own
                    // senders in a bidirectional test.
                    budget: self.budget.clone().filter(|_| self.role == Role::Client),
                    stop: self.stop_receivers.clone(),
                    test_ended: self.test_ended.clone(),
                    note_reads_from: self
                        .counts_to_the_reported_total()
                        .then(|| self.clock.map(|c| c.started))
                        .flatten(),
                    end: receive_end,
                    udp_counters_64bit: self.params.udp_counters_64bit,
                };
                let failure = self.failure.clone();
                match socket {
                    StreamSocket::Tcp(s) => self.receivers.spawn(async move {
                        let counters = job.counters.clone();
                        failure.record(id, stream_io::tcp_receive(s, job).await);
                        // A stream that ended first counts what it read.
                        counters.end_at(counters.read_bytes());
                    }),
                    StreamSocket::Udp(s) => self.receivers.spawn(async move {
                        failure.record(id, stream_io::udp_receive(s, job).await);
                    }),
                };
            }
        }
        if let Some(clock) = self.clock {
            self.fine = FineSampling::Running(FineSampler::spawn(
                clock.started.into_std(),
                self.flow_counters(),
            ));
        }
    }

    /// Every stream's counters, per direction, for the fine sampler.
    fn flow_counters(&self) -> FlowCounters {
        let main_flow = self.main_flow();
        let of = |main: bool| {
            self.streams
                .iter()
                .filter(|s| (s.flow == main_flow) == main)
                .map(|s| s.counters.clone())
                .collect()
        };
        FlowCounters {
            main: of(true),
            reverse: (self.params.direction == Direction::Bidirectional).then(|| of(false)),
        }
    }

    /// Stops the fine sampling for the picture (after the last interval closed) and keeps
    /// what it took.
    pub(crate) async fn stop_fine_sampling(&mut self) {
        self.fine = match std::mem::take(&mut self.fine) {
            FineSampling::Running(sampler) => {
                FineSampling::Finished(sampler.finish().await.into_vec())
            }
            other => other,
        };
    }

    /// The fine samples from where measuring started (the end of an omitted warm-up), in
    /// bytes counted since then.
    fn measured_fine_samples(&self) -> Vec<FineSample> {
        let (FineSampling::Finished(samples), Some(clock)) = (&self.fine, self.clock) else {
            return Vec::new();
        };
        let omitted = clock
            .measure_from
            .saturating_duration_since(clock.started)
            .as_secs_f64();
        let main_flow = self.main_flow();
        let baseline = |main: bool| -> u64 {
            self.streams
                .iter()
                .zip(&self.baseline)
                .filter(|(s, _)| (s.flow == main_flow) == main)
                .map(|(_, b)| b.bytes)
                .sum()
        };
        let (main_base, reverse_base) = (baseline(true), baseline(false));
        let mut measured: Vec<FineSample> = samples
            .iter()
            .filter(|s| s.seconds >= omitted)
            .map(|s| FineSample {
                seconds: s.seconds - omitted,
                main_bytes: s.main_bytes.saturating_sub(main_base),
                reverse_bytes: s.reverse_bytes.map(|b| b.saturating_sub(reverse_base)),
            })
            .collect();
        if let Some(first) = measured.first()
            && first.seconds > 0.0
        {
            // Nothing counts before measuring starts.
            let start = FineSample {
                seconds: 0.0,
                main_bytes: 0,
                reverse_bytes: first.reverse_bytes.map(|_| 0),
            };
            measured.insert(0, start);
        }
        measured
    }

    /// Bytes received so far on this side's receiving streams; `None` if it only sends.
    pub(crate) fn received_bytes(&self) -> Option<u64> {
        let receiving = self.streams.iter().filter(|s| !s.sending);
        let mut any = false;
        let total = receiving
            .map(|s| {
                any = true;
                s.counters.snapshot().bytes
            })
            .sum();
        any.then_some(total)
    }

    /// Completes when the byte or block limit is reached (never, without one).
    pub(crate) async fn limit_reached(&self) {
        match &self.budget {
            Some(budget) => budget.reached().cancelled().await,
            None => std::future::pending().await,
        }
    }

    /// Completes when a stream fails; pending while all are healthy.
    pub(crate) async fn stream_failed(&self) {
        self.failure.token.cancelled().await;
    }

    /// The first stream failure, if any.
    pub(crate) fn take_failure(&self) -> Option<IperfError> {
        let (stream, source) = self.failure.first.lock().ok()?.take()?;
        let sending = self.streams.iter().any(|s| s.id == stream && s.sending);
        Some(IperfError::Stream {
            stream,
            sending,
            source,
        })
    }

    /// The omitted warm-up is over: counting starts afresh.
    pub(crate) fn end_omit(&mut self) {
        let now = Instant::now();
        let Some(clock) = self.clock.as_mut() else {
            return;
        };
        clock.omitting = false;
        clock.measure_from = now;
        self.baseline = self.snapshot_all();
        self.last = self.baseline.clone();
        self.last_at = Some(now);
        if let Some(budget) = &self.budget {
            budget.arm();
        }
        self.cpu_start = Some(CpuSample::now());
    }

    pub(crate) fn omitting(&self) -> bool {
        self.clock.is_some_and(|c| c.omitting)
    }

    /// When the omitted warm-up ends, if there is one.
    pub(crate) fn omit_deadline(&self) -> Option<Instant> {
        let clock = self.clock?;
        clock.omitting.then(|| {
            testrig::deadline::deadline(clock.started, Duration::from_secs(self.params.omit))
        })
    }

    fn snapshot_all(&self) -> Vec<CounterSnapshot> {
        // As iperf3: the kernel's figures are sampled on every TCP stream of a side that
        // sends (in a bidirectional test its receiving streams too), on none of a side
        // that only receives.
        let sends = self.streams.iter().any(|s| s.sending);
        self.streams
            .iter()
            .map(|s| {
                let mut snap = s.counters.snapshot();
                if sends && let Some(StreamSocket::Tcp(tcp)) = &s.socket {
                    let info = tcp_info::sample(tcp.as_ref());
                    if s.sending {
                        snap.retransmits = info.map(|i| i.total_retransmits);
                    }
                    snap.tcp = info;
                }
                snap
            })
            .collect()
    }

    /// Closes the interval since the last one and returns its report. For the last interval
    /// of a test, `final_of` is the interval length (zero with intervals off): a last
    /// interval shorter than 10 % of it in which nothing moved is dropped (returns `None`).
    pub(crate) fn sample_interval(&mut self, final_of: Option<Duration>) -> Option<IntervalReport> {
        let clock = self.clock?;
        let now = Instant::now();
        let last_at = self.last_at?;
        let current = self.snapshot_all();
        // As iperf3: a last interval shorter than a tenth of the interval is left out only
        // when nothing moved in it (with intervals off, the one interval is the whole test).
        if let Some(interval) = final_of
            && now.duration_since(last_at) < interval.mul_f64(0.1)
            && current
                .iter()
                .zip(&self.last)
                .all(|(now_snap, before)| now_snap.since(before).bytes == 0)
        {
            return None;
        }
        let origin = if clock.omitting {
            clock.started
        } else {
            clock.measure_from
        };
        let start = last_at.saturating_duration_since(origin).as_secs_f64();
        let end = now.saturating_duration_since(origin).as_secs_f64();
        let mut report = IntervalReport::default();
        let mut reverse_sum = Measurement::default();
        let mut main_count = 0;
        let mut reverse_count = 0;
        for ((stream, now_snap), before) in self.streams.iter().zip(&current).zip(&self.last) {
            let delta = now_snap.since(before);
            let mut m = self.measurement(stream, &delta, start, end, Some(clock.omitting));
            if let Some(info) = now_snap.tcp.filter(|_| stream.sending) {
                m.snd_cwnd = Some(info.snd_cwnd);
                m.snd_wnd = Some(info.snd_wnd);
                m.rtt = Some(info.rtt);
                m.rttvar = Some(info.rttvar);
                m.pmtu = Some(info.pmtu);
            }
            if stream.flow == self.main_flow() {
                report.sum.accumulate(&m);
                report.sum.sender = m.sender;
                main_count += 1;
            } else {
                reverse_sum.accumulate(&m);
                reverse_sum.sender = m.sender;
                reverse_count += 1;
            }
            report.streams.push(StreamMeasurement {
                id: stream.id,
                measurement: m,
            });
        }
        for (sum, count) in [
            (&mut report.sum, main_count),
            (&mut reverse_sum, reverse_count),
        ] {
            sum.start = start;
            sum.end = end;
            sum.seconds = end - start;
            sum.omitted = Some(clock.omitting);
            sum.bits_per_second = Measurement::rate(sum.bytes, sum.seconds);
            sum.finish_sum(count);
        }
        if self.params.direction == Direction::Bidirectional {
            report.sum_bidir_reverse = Some(reverse_sum);
        }
        for (stream, snap) in self.streams.iter_mut().zip(&current) {
            if let Some(info) = snap.tcp {
                stream.seen.add(&info);
            }
        }
        self.last = current;
        self.last_at = Some(now);
        self.intervals.push(report.clone());
        Some(report)
    }

    fn main_flow(&self) -> Flow {
        match self.params.direction {
            Direction::Reverse => Flow::ServerToClient,
            _ => Flow::ClientToServer,
        }
    }

    /// One stream's local figures over a span.
    fn measurement(
        &self,
        stream: &Stream,
        delta: &CounterSnapshot,
        start: f64,
        end: f64,
        omitted: Option<bool>,
    ) -> Measurement {
        let seconds = end - start;
        let udp = self.params.protocol == Protocol::Udp;
        let receiving_udp = udp && !stream.sending;
        Measurement {
            start,
            end,
            seconds,
            bytes: delta.bytes,
            bits_per_second: Measurement::rate(delta.bytes, seconds),
            retransmits: if stream.sending {
                delta.retransmits
            } else {
                None
            },
            jitter_ms: receiving_udp.then_some(delta.jitter * 1000.0),
            lost_packets: receiving_udp.then_some(delta.lost),
            packets: udp.then_some(delta.packets),
            lost_percent: receiving_udp.then_some(loss_percent(delta.lost, delta.packets)),
            out_of_order: receiving_udp.then_some(delta.out_of_order),
            omitted,
            sender: stream.sending,
            ..Measurement::default()
        }
    }

    /// Ends the test on this side: the TCP receivers' counts stop at what has reached this
    /// host (see [`stream_io::tcp_receive`]; not a bounded test's server, see
    /// [`counts_to_the_reported_total`](Self::counts_to_the_reported_total)); the senders
    /// stop, and their tasks are waited for. Records the end of the test.
    pub(crate) async fn stop_senders(&mut self) {
        if !self.counts_to_the_reported_total() {
            self.test_ended.cancel();
        }
        self.stop_senders.cancel();
        while self.senders.join_next().await.is_some() {}
        let now = Instant::now();
        if let Some(start) = &self.cpu_start {
            self.cpu = start.until(&CpuSample::now());
        }
        self.sender_end = Some((now, self.snapshot_all()));
    }

    /// Waits up to `deadline` until the peer has taken everything the TCP senders sent (see
    /// [`drain`]): what a receiver counts after `TEST_END` is lost to it. The streams are
    /// `host`'s: its namespace is the one asked about their peers.
    pub(crate) async fn until_sent_is_taken(&self, host: &Host, deadline: Duration) -> Drained {
        let sent: Vec<SentStream<'_, TcpStream>> = self
            .streams
            .iter()
            .filter(|s| s.sending)
            .filter_map(|s| match &s.socket {
                Some(StreamSocket::Tcp(socket)) => Some(SentStream {
                    socket: socket.as_ref(),
                    local: s.local,
                    remote: s.remote,
                }),
                _ => None,
            })
            .collect();
        drain::until_taken(host, &sent, deadline).await
    }

    /// Waits up to `deadline` (after [`stop_senders`](Self::stop_senders)) until this side's
    /// TCP receivers have read as far as their counts go (or, where they count on, what is
    /// queued), so the last interval holds what arrived before the end (a busy machine may
    /// not have run them yet).
    pub(crate) async fn until_read_to_the_end(&self, deadline: Duration) {
        let behind = || {
            self.streams.iter().any(|s| match (&s.socket, s.sending) {
                (Some(StreamSocket::Tcp(tcp)), false) => match s.counters.read_to_the_end() {
                    Some(done) => !done,
                    None => probe::unread(tcp.as_fd()).is_ok_and(|n| n > 0),
                },
                // A UDP receiver stops its count itself once it sees the end.
                (Some(StreamSocket::Udp(_)), false) => {
                    self.test_ended.is_cancelled() && s.counters.read_to_the_end().is_none()
                }
                _ => false,
            })
        };
        let _ = tokio::time::timeout(deadline, async {
            while behind() {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
        .await;
    }

    /// Closes the sending streams' sockets (after [`stop_senders`](Self::stop_senders)), so
    /// the peer's receivers see the end of their streams. iperf3 clients need that in
    /// reverse mode: after `TEST_END` they read their streams with blocking full-block reads
    /// and would wait forever for a block that never comes.
    pub(crate) fn close_sending_sockets(&mut self) {
        for stream in self.streams.iter_mut().filter(|s| s.sending) {
            stream.socket = None;
        }
    }

    /// Tells the receivers to finish and waits up to `deadline` for them; then closes every
    /// data socket.
    pub(crate) async fn stop_receivers(&mut self, deadline: Duration) {
        self.test_ended.cancel();
        self.stop_receivers.cancel();
        let drained = tokio::time::timeout(deadline, async {
            while self.receivers.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            self.receivers.abort_all();
            while self.receivers.join_next().await.is_some() {}
        }
        self.receiver_end = Some(self.snapshot_all());
        self.close_sockets();
    }

    /// Drops every data socket (tasks are done or aborted by now).
    pub(crate) fn close_sockets(&mut self) {
        self.senders.abort_all();
        self.receivers.abort_all();
        for stream in &mut self.streams {
            stream.socket = None;
        }
    }

    /// This side's final count of stream `index`: senders as of the stop, receivers as of the
    /// drain.
    fn final_delta(&self, index: usize) -> CounterSnapshot {
        let stream = &self.streams[index];
        let end = match (&self.sender_end, &self.receiver_end, stream.sending) {
            (Some((_, snaps)), _, true) => snaps[index],
            (_, Some(snaps), false) => snaps[index],
            (Some((_, snaps)), None, false) => snaps[index],
            _ => stream.counters.snapshot(),
        };
        end.since(&self.baseline.get(index).copied().unwrap_or_default())
    }

    fn measured_seconds(&self) -> f64 {
        match (self.clock, &self.sender_end) {
            (Some(clock), Some((end, _))) => end
                .saturating_duration_since(clock.measure_from)
                .as_secs_f64(),
            _ => 0.0,
        }
    }

    /// This side's results document for `EXCHANGE_RESULTS`.
    pub(crate) fn local_results(&self) -> ExchangedResults {
        let seconds = self.measured_seconds();
        let tcp = self.params.protocol == Protocol::Tcp;
        let any_sender = self.streams.iter().any(|s| s.sending);
        let can_count_retransmits = self
            .sender_end
            .as_ref()
            .is_some_and(|(_, snaps)| snaps.iter().any(|s| s.retransmits.is_some()));
        let sender_has_retransmits = match (any_sender, tcp && can_count_retransmits) {
            (false, _) => -1,
            (true, true) => 1,
            (true, false) => 0,
        };
        let streams = (0..self.streams.len())
            .map(|i| {
                let stream = &self.streams[i];
                let delta = self.final_delta(i);
                ExchangedStream {
                    id: stream.id,
                    bytes: delta.bytes,
                    retransmits: match (stream.sending, delta.retransmits) {
                        (true, Some(r)) if tcp => r as i64,
                        _ => -1,
                    },
                    jitter: if stream.sending { 0.0 } else { delta.jitter },
                    errors: if stream.sending { 0 } else { delta.lost as i64 },
                    packets: delta.packets as i64,
                    start_time: 0.0,
                    end_time: seconds,
                }
            })
            .collect();
        ExchangedResults {
            cpu_util_total: self.cpu.total,
            cpu_util_user: self.cpu.user,
            cpu_util_system: self.cpu.system,
            sender_has_retransmits,
            congestion_used: self.local_congestion.clone().filter(|_| tcp),
            server_output_json: None,
            server_output_text: None,
            streams,
        }
    }

    /// A test the client terminated (after [`stop_senders`](Self::stop_senders)): it
    /// lasted, as iperf3's server counts it, until its last interval closed (until now
    /// when none has).
    pub(crate) fn end_at_the_last_interval(&mut self) {
        if let (false, Some(last), Some((end, _))) = (
            self.intervals.is_empty(),
            self.last_at,
            self.sender_end.as_mut(),
        ) {
            *end = last;
        }
    }

    /// The last interval again, as iperf3's server reports it a second time when the client
    /// terminates the test (its reporter prints the last interval at `DISPLAY_RESULTS`).
    pub(crate) fn repeat_last_interval(&mut self) -> Option<IntervalReport> {
        let last = self.intervals.last()?.clone();
        self.intervals.push(last.clone());
        Some(last)
    }

    /// The result of a test ended before the results exchange (interrupted, or terminated
    /// by the client): this side's counts, the peer's all 0 as iperf3 keeps its zeroed
    /// records, down to a UDP receiver's packet total (no share of what was sent).
    pub(crate) fn into_result_without_the_peer(self) -> IperfResult {
        let mut result = self.result(Some(&self.peer_results_never_exchanged()));
        if self.params.protocol == Protocol::Udp {
            let unheard = |m: &mut Measurement| {
                m.packets = Some(0);
                m.lost_percent = Some(0.0);
            };
            for stream in result
                .summary
                .streams
                .iter_mut()
                .filter(|s| s.sender.sender)
            {
                unheard(&mut stream.receiver);
            }
            for direction in std::iter::once(&mut result.summary.main)
                .chain(result.summary.bidir_reverse.as_mut())
                .filter(|d| d.sent.sender)
            {
                unheard(&mut direction.received);
            }
        }
        result
    }

    /// The peer's results as a test ended before the exchange reports them: every stream
    /// at 0 bytes, no CPU figures, no congestion control.
    fn peer_results_never_exchanged(&self) -> ExchangedResults {
        ExchangedResults {
            cpu_util_total: 0.0,
            cpu_util_user: 0.0,
            cpu_util_system: 0.0,
            sender_has_retransmits: -1,
            congestion_used: None,
            server_output_json: None,
            server_output_text: None,
            streams: self
                .streams
                .iter()
                .map(|stream| ExchangedStream {
                    id: stream.id,
                    bytes: 0,
                    retransmits: -1,
                    jitter: 0.0,
                    errors: 0,
                    packets: 0,
                    start_time: 0.0,
                    end_time: 0.0,
                })
                .collect(),
        }
    }

    /// Whether this side's receivers count to what the peer reports it sent instead of
    /// stopping at the end of the test: the server of a byte- or block-bounded TCP test.
    /// Such a test is over when its bytes have arrived, not when the client has written
    /// them (iperf3's server, stopping at `TEST_END`, counts anything from all of them to
    /// none: esnet/iperf#382); the server's seconds then run to its last read (see
    /// [`end_at_the_last_read`](Self::end_at_the_last_read)). Not with an omitted warm-up:
    /// each side ends it by its own clock, so the two counts start at different bytes.
    fn counts_to_the_reported_total(&self) -> bool {
        self.role == Role::Server
            && self.params.protocol == Protocol::Tcp
            && self.params.omit == 0
            && (self.params.bytes > 0 || self.params.blocks > 0)
    }

    /// Tells each TCP receiving stream of a bounded test's server how many bytes the peer
    /// reports it sent: its count stops there, and its drain as soon as that is read.
    pub(crate) fn expect_received(&self, remote: &ExchangedResults) {
        if !self.counts_to_the_reported_total() {
            return;
        }
        for (stream, baseline) in self.streams.iter().zip(&self.baseline) {
            let reported = remote.streams.iter().find(|r| r.id == stream.id);
            if let (false, Some(reported)) = (stream.sending, reported) {
                stream
                    .counters
                    .end_at(baseline.bytes.saturating_add(reported.bytes));
            }
        }
    }

    /// A bounded test's server (after [`stop_receivers`](Self::stop_receivers)): the test
    /// lasted here until the last of its bytes was read, if that came after `TEST_END`.
    pub(crate) fn end_at_the_last_read(&mut self) {
        if !self.counts_to_the_reported_total() {
            return;
        }
        let last = self
            .streams
            .iter()
            .filter(|s| !s.sending)
            .filter_map(|s| s.counters.last_read())
            .max()
            .zip(self.clock)
            .map(|(since_start, clock)| clock.started + since_start);
        if let (Some(last), Some((end, _))) = (last, self.sender_end.as_mut())
            && last > *end
        {
            *end = last;
        }
    }

    /// A bounded test's server (after [`end_at_the_last_read`](Self::end_at_the_last_read)):
    /// what its receivers read after the last interval closed belongs to that interval,
    /// which runs to the last read, so the intervals add up to the total, as iperf3's do.
    pub(crate) fn fold_the_tail_into_the_last_interval(&mut self) {
        if !self.counts_to_the_reported_total() {
            return;
        }
        let (Some(clock), Some((end, _))) = (self.clock, &self.sender_end) else {
            return;
        };
        let end = end
            .saturating_duration_since(clock.measure_from)
            .as_secs_f64();
        let tails: Vec<(u32, u64)> = (0..self.streams.len())
            .filter(|&i| !self.streams[i].sending)
            .map(|i| {
                let counted = self.final_delta(i).bytes;
                let base = self.baseline.get(i).map_or(0, |b| b.bytes);
                let until_last = self.last.get(i).map_or(0, |l| l.bytes);
                (
                    self.streams[i].id,
                    counted.saturating_sub(until_last.saturating_sub(base)),
                )
            })
            .collect();
        let tail: u64 = tails.iter().map(|(_, bytes)| bytes).sum();
        let Some(report) = self.intervals.last_mut().filter(|_| tail > 0) else {
            return;
        };
        let stretch = |m: &mut Measurement, more: u64| {
            m.bytes += more;
            m.end = end;
            m.seconds = end - m.start;
            m.bits_per_second = Measurement::rate(m.bytes, m.seconds);
        };
        for stream in &mut report.streams {
            let more = tails
                .iter()
                .find(|(id, _)| *id == stream.id)
                .map_or(0, |(_, bytes)| *bytes);
            stretch(&mut stream.measurement, more);
        }
        // The server receives in the main direction (a bounded test is never reversed
        // here: its client would be the receiver).
        stretch(&mut report.sum, tail);
        if let Some(reverse) = report.sum_bidir_reverse.as_mut() {
            stretch(reverse, 0);
        }
    }

    /// Checks that the peer's results name exactly our streams.
    pub(crate) fn check_remote(&self, remote: &ExchangedResults) -> Result<(), String> {
        for r in &remote.streams {
            if !self.streams.iter().any(|s| s.id == r.id) {
                return Err(format!("results for unknown stream id {}", r.id));
            }
        }
        Ok(())
    }

    /// The whole test's result from this side's view, merged with the peer's counts.
    pub(crate) fn into_result(self, remote: Option<&ExchangedResults>) -> IperfResult {
        self.result(remote)
    }

    /// The whole test's result so far from this side's view, merged with the peer's counts.
    pub(crate) fn result(&self, remote: Option<&ExchangedResults>) -> IperfResult {
        let local_seconds = self.measured_seconds();
        let udp = self.params.protocol == Protocol::Udp;
        let main_flow = self.main_flow();
        let mut summary = Summary::default();
        let mut reverse = DirectionSummary::default();
        let mut counts = [0usize; 2];
        let mut expected_by_direction = [0u64; 2];
        for (i, stream) in self.streams.iter().enumerate() {
            let local = self.final_delta(i);
            let local_m = self.measurement(stream, &local, 0.0, local_seconds, None);
            let peer = remote.and_then(|r| r.streams.iter().find(|p| p.id == stream.id));
            let peer_m = peer.map(|p| {
                let seconds = match p.end_time - p.start_time {
                    s if s > 0.0 => s,
                    _ => local_seconds,
                };
                let retransmits = (p.retransmits >= 0).then_some(p.retransmits as u64);
                Measurement {
                    start: 0.0,
                    end: seconds,
                    seconds,
                    bytes: p.bytes,
                    bits_per_second: Measurement::rate(p.bytes, seconds),
                    // UDP has none: iperf3's server sends UINT64_MAX there (with
                    // `sender_has_retransmits: 0`), which its client ignores.
                    retransmits: if stream.sending || udp {
                        None
                    } else {
                        retransmits
                    },
                    jitter_ms: (udp && stream.sending).then_some(p.jitter * 1000.0),
                    lost_packets: (udp && stream.sending).then_some(p.errors.max(0) as u64),
                    packets: udp.then_some(p.packets.max(0) as u64),
                    lost_percent: None,
                    out_of_order: None,
                    omitted: None,
                    sender: stream.sending,
                    ..Measurement::default()
                }
            });
            let (mut sender, mut receiver) = match (stream.sending, peer_m) {
                (true, Some(peer)) => (local_m, peer),
                (false, Some(peer)) => (peer, local_m),
                (_, None) => (local_m.clone(), local_m),
            };
            sender.sender = stream.sending;
            receiver.sender = stream.sending;
            if !udp {
                stream.seen.apply(&mut sender);
            }
            sender.jitter_ms = None;
            sender.lost_packets = None;
            sender.lost_percent = None;
            sender.out_of_order = None;
            if udp {
                // The receiver's count stays its own (the highest sequence number it saw,
                // what iperf3 prints on its receiver line); the loss share is of what the
                // sender sent when that is known, else of that count, as iperf3 has it.
                let expected = packets_expected(&sender, &receiver);
                receiver.lost_percent =
                    Some(loss_percent(receiver.lost_packets.unwrap_or(0), expected));
                expected_by_direction[usize::from(stream.flow != main_flow)] += expected;
            }
            let target = if stream.flow == main_flow {
                counts[0] += 1;
                &mut summary.main
            } else {
                counts[1] += 1;
                &mut reverse
            };
            for (sum, m) in [
                (&mut target.sent, &sender),
                (&mut target.received, &receiver),
            ] {
                sum.accumulate(m);
                sum.sender = m.sender;
                sum.seconds = sum.seconds.max(m.seconds);
            }
            summary.streams.push(StreamSummary {
                id: stream.id,
                sender,
                receiver,
            });
        }
        for ((direction, count), expected) in
            [(&mut summary.main, counts[0]), (&mut reverse, counts[1])]
                .into_iter()
                .zip(expected_by_direction)
        {
            for sum in [&mut direction.sent, &mut direction.received] {
                sum.end = sum.seconds;
                sum.bits_per_second = Measurement::rate(sum.bytes, sum.seconds);
                sum.finish_sum(count);
            }
            if udp {
                let lost = direction.received.lost_packets.unwrap_or(0);
                direction.received.lost_percent = Some(loss_percent(lost, expected));
            }
        }
        if self.params.direction == Direction::Bidirectional {
            summary.bidir_reverse = Some(reverse);
        }
        let cpu = remote.map(|r| CpuUtilization {
            host_total: self.cpu.total,
            host_user: self.cpu.user,
            host_system: self.cpu.system,
            remote_total: r.cpu_util_total,
            remote_user: r.cpu_util_user,
            remote_system: r.cpu_util_system,
        });
        let remote_congestion = remote.and_then(|r| r.congestion_used.clone());
        let local_sends_main = self
            .streams
            .iter()
            .any(|s| s.flow == main_flow && s.sending);
        let client_bidir =
            self.role == Role::Client && self.params.direction == Direction::Bidirectional;
        let (sender_cc, receiver_cc) = match self.params.protocol {
            Protocol::Udp => (None, None),
            // iperf3's client writes a bidirectional test's algorithms with its receiving
            // half, last: its own as the receiver's, the server's (once exchanged) as the
            // sender's.
            Protocol::Tcp if client_bidir => (remote_congestion, self.local_congestion.clone()),
            Protocol::Tcp if local_sends_main => (self.local_congestion.clone(), remote_congestion),
            Protocol::Tcp => (remote_congestion, self.local_congestion.clone()),
        };
        IperfResult {
            role: self.role,
            test: self.settings(),
            connected: self.connections(),
            timestamp: (self.timestamp > 0).then_some(self.timestamp),
            start_info: Some(StartInfo {
                system_info: StartInfo::this_system(),
                ..self.start_info.clone()
            }),
            intervals: self.intervals.clone(),
            fine_samples: self.measured_fine_samples(),
            summary,
            cpu,
            sender_tcp_congestion: sender_cc,
            receiver_tcp_congestion: receiver_cc,
            server_output: None,
        }
    }
}

impl Drop for TestRun {
    fn drop(&mut self) {
        self.stop_senders.cancel();
        self.stop_receivers.cancel();
    }
}

/// The UDP packets a stream's receiver should have had: the sender's count when it has one,
/// else the receiver's own (iperf3's `sender_packet_count ? sender_packet_count :
/// receiver_packet_count`).
fn packets_expected(sender: &Measurement, receiver: &Measurement) -> u64 {
    sender
        .packets
        .filter(|&sent| sent > 0)
        .or(receiver.packets)
        .unwrap_or(0)
}
