//! The native iperf3 client: runs one test against an iperf3 (or native) server.

use std::net::SocketAddr;
use std::time::Duration;

use testrig::Host;
use testrig::deadline::deadline;
use tokio::time::Instant;

use super::deadline::{sleep_until_opt, tick_opt, ticker_from, within};
use super::drain::Drained;
use super::receive_idle::ReceiveIdle;
use super::sockets::{LocalEnd, Side, apply_ip_options, connect_tcp, connect_udp, set_congestion};
use super::stream_io::ReceiveEnd;
use super::test_run::TestRun;
use crate::iperf::client_options::ClientOptions;
use crate::iperf::config::ClientConfig;
use crate::iperf::error::{IperfError, Phase};
use crate::iperf::kinds::{AddressFamily, Protocol, TestLength};
use crate::iperf::protocol::{
    ControlChannel, Cookie, DEFAULT_TCP_BLOCK, DEFAULT_UDP_BLOCK, ExchangedResults,
    MAX_RESULTS_JSON, TestParameters, TestState,
};
use crate::iperf::result::{
    Connection, ControlPeer, IntervalReport, IperfResult, Role, ServerOutput, TestSettings,
};

/// How long a receiving client waits, after the server announced the results exchange, for
/// the server to close the data streams it was sending on.
const RECEIVE_DRAIN: Duration = Duration::from_secs(2);

/// How long a sending client waits, before `TEST_END`, for the server to take what was sent
/// (iperf3's server stops counting at `TEST_END`; see `drain`).
const SEND_DRAIN: Duration = Duration::from_secs(5);
/// How long the receivers may take, once the test ends, to read what had arrived by then.
const QUEUED_READ: Duration = Duration::from_millis(200);

/// What a running client reports before its end result, in order: the connections once,
/// then each interval.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum ClientProgress<'a> {
    /// The data connections are made; the test is about to start. What iperf3 prints
    /// then (`-V` adds the cookie and the control connection's MSS).
    #[non_exhaustive]
    Connected {
        /// The test's settings, as the server was told them.
        test: &'a TestSettings,
        /// The data connections, in the order they were made.
        connections: &'a [Connection],
        /// The test's cookie.
        cookie: &'a str,
        /// The control connection's MSS, when the kernel told it.
        control_mss: Option<u32>,
        /// Bytes per write or datagram.
        block_size: u32,
    },
    /// An interval closed.
    Interval(&'a IntervalReport),
}

/// How the data-moving part of a test ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    /// The duration passed or the byte/block limit was reached.
    Finished,
    /// The caller's interrupt came first.
    Interrupted,
}

/// A native iperf3 client.
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
/// use testrig_drivers::iperf::ClientOptions;
/// use testrig_drivers::iperf::engine::NativeClient;
///
/// # async fn example() -> Result<(), testrig_drivers::iperf::IperfError> {
/// let options = ClientOptions::new()
///     .duration(Duration::from_secs(1))
///     .parallel(2);
/// let result = NativeClient::new("127.0.0.1", 5201, options)?
///     .run_with_intervals(|interval| println!("{:.0} bit/s", interval.sum.bits_per_second))
///     .await?;
/// println!("receiver: {:.2} Gbit/s", result.received_bits_per_second() / 1e9);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct NativeClient {
    config: ClientConfig,
    host: Host,
}

impl NativeClient {
    /// A client of the server at `host:port` measuring with `options`, every value checked;
    /// it can run any number of tests, one per call.
    pub fn new(
        host: impl Into<String>,
        port: u16,
        options: ClientOptions,
    ) -> Result<Self, IperfError> {
        Ok(Self::with_config(ClientConfig::new(host, port, &options)?))
    }

    /// A client of an already checked configuration.
    pub(crate) fn with_config(config: ClientConfig) -> Self {
        Self {
            config,
            host: Host::local(),
        }
    }

    /// Runs its tests from `host` (default [`Host::local`], this machine): the control
    /// and data connections, TCP or UDP, are made there, so a test measures the path from
    /// that host to the server. Binding (`-B`, `--cport`, `--bind-dev`) is to the host's
    /// own addresses and devices. The [`IperfClient`](crate::iperf::IperfClient) driver
    /// sets it to its own placement ([`DriverSpec::on`](testrig::DriverSpec::on)).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use testrig_drivers::iperf::ClientOptions;
    /// use testrig_drivers::iperf::engine::NativeClient;
    ///
    /// # async fn example(network: &testrig::network::Network) -> Result<(), Box<dyn std::error::Error>> {
    /// // A server runs on host `b` of a started network; measure from host `a`.
    /// let server = network.host("b")?.address().to_string();
    /// let result = NativeClient::new(server, 5201, ClientOptions::new())?
    ///     .on(network.host("a")?)
    ///     .run()
    ///     .await?;
    /// # let _ = result; Ok(()) }
    /// ```
    #[must_use]
    pub fn on(mut self, host: Host) -> Self {
        self.host = host;
        self
    }

    /// Runs one test and returns its result.
    pub async fn run(&self) -> Result<IperfResult, IperfError> {
        self.run_with_intervals(|_| {}).await
    }

    /// Runs one test, calling `on_interval` with each interval report as it closes.
    ///
    /// Dropping the future aborts the test: the data tasks are cancelled and every socket
    /// closed.
    pub async fn run_with_intervals(
        &self,
        mut on_interval: impl FnMut(&IntervalReport) + Send,
    ) -> Result<IperfResult, IperfError> {
        self.run_with_progress(|progress| {
            if let ClientProgress::Interval(report) = progress {
                on_interval(report);
            }
        })
        .await
    }

    /// Runs one test, calling `on_progress` when the data connections are made (before the
    /// test starts) and with each interval report as it closes: what iperf3 prints as it
    /// goes.
    ///
    /// Dropping the future aborts the test, as with
    /// [`run_with_intervals`](Self::run_with_intervals).
    pub async fn run_with_progress(
        &self,
        on_progress: impl FnMut(ClientProgress<'_>) + Send,
    ) -> Result<IperfResult, IperfError> {
        self.config
            .options
            .check_it_ends("only run_with_interrupt can end such a test")?;
        self.run_with_interrupt(std::future::pending(), on_progress)
            .await
    }

    /// Runs one test as [`run_with_progress`](Self::run_with_progress) does, ending it early
    /// when `interrupt` completes, as iperf3's client does on `SIGINT`: while the test runs,
    /// the last (partial) interval is closed and reported, the server is told
    /// (`CLIENT_TERMINATE`) and the streams stop. The run then fails with
    /// [`IperfError::Interrupted`], which carries that partial result, so a caller expecting
    /// a full measurement never takes a partial one for it. Interrupted before the streams
    /// run, it tells the server as well (once connected) and carries no result.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use testrig_drivers::iperf::{ClientOptions, IperfError};
    /// use testrig_drivers::iperf::engine::NativeClient;
    ///
    /// # async fn example() -> Result<(), IperfError> {
    /// let client = NativeClient::new("127.0.0.1", 5201, ClientOptions::new())?;
    /// let interrupt = async {
    ///     let _ = tokio::signal::ctrl_c().await;
    /// };
    /// match client.run_with_interrupt(interrupt, |_| {}).await {
    ///     Ok(full) => println!("{} bytes", full.bytes_received()),
    ///     Err(IperfError::Interrupted { partial: Some(partial), .. }) => {
    ///         println!("interrupted after {} intervals", partial.intervals.len())
    ///     }
    ///     Err(other) => return Err(other),
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn run_with_interrupt(
        &self,
        interrupt: impl Future<Output = ()> + Send,
        mut on_progress: impl FnMut(ClientProgress<'_>) + Send,
    ) -> Result<IperfResult, IperfError> {
        let mut interrupt = std::pin::pin!(interrupt);
        let (mut control, server) = tokio::select! {
            connected = self.connect() => connected?,
            () = &mut interrupt => {
                return Err(IperfError::Interrupted { phase: Phase::Connect, partial: None });
            }
        };
        let (mut run, started) = tokio::select! {
            started = self.start(&mut control, server, &mut on_progress) => started?,
            // Before the streams run there is nothing to report: the server is told, as
            // iperf3 tells it, and the connections close.
            () = &mut interrupt => {
                let _ = tokio::time::timeout(
                    self.config.options.phase_timeout,
                    control.write_state(TestState::ClientTerminate, Phase::TestStart),
                )
                .await;
                control.shutdown().await;
                return Err(IperfError::Interrupted { phase: Phase::TestStart, partial: None });
            }
        };
        let ended = self
            .run_until_done(
                &mut control,
                &mut run,
                started,
                &mut on_progress,
                &mut interrupt,
            )
            .await?;
        if ended == Ended::Interrupted {
            return Err(self.interrupted(control, run, &mut on_progress).await);
        }
        self.finish(control, run, &mut on_progress).await
    }

    /// Opens the control connection to the server; returns it and the server's address.
    async fn connect(&self) -> Result<(ControlChannel, SocketAddr), IperfError> {
        let c = &self.config;
        let server = resolve(c).await?;
        let control = ControlChannel::new(
            connect_tcp(
                &self.host,
                server,
                c.local_end(None),
                None,
                c.options.connect_timeout,
            )
            .await?,
        );
        Ok((control, server))
    }

    /// Exchanges the cookie and the parameters on `control`, makes the data connections
    /// and starts the streams: the test runs from the returned instant.
    async fn start(
        &self,
        control: &mut ControlChannel,
        server: SocketAddr,
        on_progress: &mut (impl FnMut(ClientProgress<'_>) + Send),
    ) -> Result<(TestRun, Instant), IperfError> {
        let c = &self.config;
        let cookie = Cookie::random();
        within(
            c.options.phase_timeout,
            Phase::Cookie,
            control.write_cookie(&cookie),
        )
        .await?;
        self.expect(control, TestState::ParamExchange, Phase::ParamExchange)
            .await?;
        let params = self.parameters(control.mss());
        within(
            c.options.phase_timeout,
            Phase::ParamExchange,
            control.write_json(&params.to_json(), Phase::ParamExchange),
        )
        .await?;
        self.expect(control, TestState::CreateStreams, Phase::CreateStreams)
            .await?;

        let mut run = TestRun::new(params, Role::Client);
        let peer = ControlPeer {
            host: c.host.clone(),
            port: c.port,
        };
        run.set_control_facts(cookie.text(), control.mss(), Some(peer));
        let total = run.params().streams * run.params().direction_count();
        let options = &c.options.stream_options;
        for index in 0..total {
            // iperf3's `--cport`: stream i from port cport + i.
            let local_port = c.options.client_port.map(|p| p + index as u16);
            match c.options.protocol {
                Protocol::Tcp => {
                    let mut stream = connect_tcp(
                        &self.host,
                        server,
                        c.local_end(local_port),
                        Some(options),
                        c.options.connect_timeout,
                    )
                    .await?;
                    let sock = socket2::SockRef::from(&stream);
                    set_congestion(&sock, options, Side::Client)?;
                    let local = stream
                        .local_addr()
                        .map_err(IperfError::io(Phase::CreateStreams))?;
                    apply_ip_options(&sock, options, local, false)?;
                    within(c.options.phase_timeout, Phase::CreateStreams, async {
                        use tokio::io::AsyncWriteExt;
                        stream
                            .write_all(cookie.as_bytes())
                            .await
                            .map_err(IperfError::io(Phase::CreateStreams))
                    })
                    .await?;
                    run.add_tcp(stream)
                        .map_err(IperfError::io(Phase::CreateStreams))?;
                }
                Protocol::Udp => {
                    let socket = connect_udp(
                        &self.host,
                        server,
                        c.local_end(local_port),
                        options,
                        c.options.connect_timeout,
                    )
                    .await?;
                    run.add_udp(socket)
                        .map_err(IperfError::io(Phase::CreateStreams))?;
                }
            }
        }

        self.expect(control, TestState::TestStart, Phase::TestStart)
            .await?;
        let (settings, connections, cookie_text) =
            (run.settings(), run.connections(), cookie.text());
        on_progress(ClientProgress::Connected {
            test: &settings,
            connections: &connections,
            cookie: &cookie_text,
            control_mss: control.mss(),
            block_size: run.params().block_size,
        });
        run.mark_start();
        self.expect(control, TestState::TestRunning, Phase::TestStart)
            .await?;
        run.spawn_streams(ReceiveEnd::UntilClosed, c.options.zero_copy);
        Ok((run, Instant::now()))
    }

    /// The interrupted test's end, as iperf3's `iperf_got_sigend`: the partial last
    /// interval, `CLIENT_TERMINATE` to the server, and the summary of what this side
    /// moved, the peer's counts 0 (they are never exchanged).
    async fn interrupted(
        &self,
        mut control: ControlChannel,
        mut run: TestRun,
        on_progress: &mut (impl FnMut(ClientProgress<'_>) + Send),
    ) -> IperfError {
        let c = &self.config;
        run.stop_senders().await;
        // The last interval ends at the interrupt, however short (iperf3 reports it even
        // when nothing moved).
        if let Some(report) = run.sample_interval(None) {
            on_progress(ClientProgress::Interval(&report));
        }
        run.stop_fine_sampling().await;
        let _ = tokio::time::timeout(
            c.options.phase_timeout,
            control.write_state(TestState::ClientTerminate, Phase::TestRunning),
        )
        .await;
        run.close_sockets();
        control.shutdown().await;
        IperfError::Interrupted {
            phase: Phase::TestRunning,
            partial: Some(Box::new(run.into_result_without_the_peer())),
        }
    }

    /// The test's regular end: the last interval, `TEST_END`, the results exchange and
    /// `IPERF_DONE`.
    async fn finish(
        &self,
        mut control: ControlChannel,
        mut run: TestRun,
        on_progress: &mut (impl FnMut(ClientProgress<'_>) + Send),
    ) -> Result<IperfResult, IperfError> {
        let c = &self.config;
        run.stop_senders().await;
        run.until_read_to_the_end(QUEUED_READ.min(c.options.phase_timeout))
            .await;
        // The last interval, however short; with intervals off (`-i 0`) the only one.
        let interval = c.options.interval.unwrap_or(Duration::ZERO);
        if let Some(report) = run.sample_interval(Some(interval)) {
            on_progress(ClientProgress::Interval(&report));
        }
        run.stop_fine_sampling().await;
        if let Drained::TimedOut { pending } = run
            .until_sent_is_taken(&self.host, SEND_DRAIN.min(c.options.phase_timeout))
            .await
        {
            tracing::warn!(
                pending,
                "the server had not taken every byte sent when the test ended; it may count fewer"
            );
        }
        within(
            c.options.phase_timeout,
            Phase::TestEnd,
            control.write_state(TestState::TestEnd, Phase::TestEnd),
        )
        .await?;
        self.expect(
            &mut control,
            TestState::ExchangeResults,
            Phase::ExchangeResults,
        )
        .await?;
        run.stop_receivers(RECEIVE_DRAIN.min(c.options.phase_timeout))
            .await;
        let remote: ExchangedResults =
            within(c.options.phase_timeout, Phase::ExchangeResults, async {
                control
                    .write_json(&run.local_results(), Phase::ExchangeResults)
                    .await?;
                control
                    .read_json(MAX_RESULTS_JSON, Phase::ExchangeResults)
                    .await
            })
            .await?;
        run.check_remote(&remote)
            .map_err(|detail| IperfError::protocol(Phase::ExchangeResults, detail))?;
        self.expect(&mut control, TestState::DisplayResults, Phase::Done)
            .await?;
        within(
            c.options.phase_timeout,
            Phase::Done,
            control.write_state(TestState::IperfDone, Phase::Done),
        )
        .await?;
        control.shutdown().await;
        let mut result = run.into_result(Some(&remote));
        if c.options.get_server_output {
            result.server_output = match remote {
                ExchangedResults {
                    server_output_json: Some(json),
                    ..
                } => Some(ServerOutput::Json(json)),
                ExchangedResults {
                    server_output_text: Some(text),
                    ..
                } => Some(ServerOutput::Text(text)),
                _ => None,
            };
        }
        Ok(result)
    }

    /// Moves data until the duration passes or the byte/block limit is reached, reporting
    /// intervals and watching the control channel and the streams for failures.
    async fn run_until_done(
        &self,
        control: &mut ControlChannel,
        run: &mut TestRun,
        started: Instant,
        on_progress: &mut (impl FnMut(ClientProgress<'_>) + Send),
        interrupt: &mut std::pin::Pin<&mut (impl Future<Output = ()> + Send)>,
    ) -> Result<Ended, IperfError> {
        let c = &self.config;
        let omit = Duration::from_secs(run.params().omit);
        let (end_at, give_up_at) = match c.options.length {
            TestLength::Duration(d) => (Some(deadline(started, omit.saturating_add(d))), None),
            TestLength::Bytes(_) | TestLength::Blocks(_) | TestLength::UntilInterrupted => (
                None,
                Some(deadline(
                    started,
                    omit.saturating_add(c.options.max_open_ended),
                )),
            ),
        };
        let mut ticker = c.options.interval.map(|i| ticker_from(started, i));
        // As iperf3's client: only a side that receives watches for idle streams.
        let mut idle = ReceiveIdle::new(
            c.options.stream_options.receive_idle(),
            run.received_bytes(),
            started,
        );
        loop {
            let omit_at = run.omit_deadline();
            tokio::select! {
                _ = sleep_until_opt(end_at) => return Ok(Ended::Finished),
                () = interrupt.as_mut() => return Ok(Ended::Interrupted),
                _ = sleep_until_opt(give_up_at) => {
                    let _ = control
                        .write_state(TestState::ClientTerminate, Phase::TestRunning)
                        .await;
                    return Err(IperfError::Timeout {
                        phase: Phase::TestRunning,
                        after: c.options.max_open_ended,
                    });
                }
                _ = run.limit_reached(), if !run.omitting() => return Ok(Ended::Finished),
                _ = sleep_until_opt(omit_at), if omit_at.is_some() => {
                    if let Some(interval) = c.options.interval
                        && let Some(report) = run.sample_interval(Some(interval))
                    {
                        on_progress(ClientProgress::Interval(&report));
                    }
                    run.end_omit();
                    ticker = c.options.interval.map(|i| ticker_from(Instant::now(), i));
                }
                _ = tick_opt(&mut ticker) => {
                    // A tick that comes with the end (both due at the same instant) leaves
                    // the end's sample to close the interval: iperf3's timers do the same,
                    // and a last sliver with a few bytes in it would be an extra interval.
                    let ends_now = end_at.is_some_and(|end| {
                        let sliver = c.options.interval.unwrap_or_default().mul_f64(0.1);
                        end.saturating_duration_since(Instant::now()) < sliver
                    });
                    if !ends_now && let Some(report) = run.sample_interval(None) {
                        on_progress(ClientProgress::Interval(&report));
                    }
                }
                state = control.read_state(Phase::TestRunning) => {
                    return Err(self.unexpected(control, state, Phase::TestRunning).await);
                }
                _ = sleep_until_opt(idle.as_ref().map(ReceiveIdle::check_at)) => {
                    let received = run.received_bytes().unwrap_or(0);
                    if let Some(watch) = idle.as_mut()
                        && watch.stalled(received, Instant::now())
                    {
                        let _ = control
                            .write_state(TestState::ClientTerminate, Phase::TestRunning)
                            .await;
                        return Err(IperfError::ReceiveIdle { after: watch.idle() });
                    }
                }
                _ = run.stream_failed() => {
                    let _ = control
                        .write_state(TestState::ClientTerminate, Phase::TestRunning)
                        .await;
                    let failure = run.take_failure();
                    return Err(failure.unwrap_or(IperfError::protocol(
                        Phase::TestRunning,
                        "a data stream failed",
                    )));
                }
            }
        }
    }

    /// Reads the next state and insists on `wanted`.
    async fn expect(
        &self,
        control: &mut ControlChannel,
        wanted: TestState,
        phase: Phase,
    ) -> Result<(), IperfError> {
        let timeout = self.config.options.phase_timeout;
        let state = within(timeout, phase, control.read_state(phase)).await;
        match state {
            Ok(state) if state == wanted => Ok(()),
            other => Err(self.unexpected(control, other, phase).await),
        }
    }

    /// Turns an unwanted control message into the error it means.
    async fn unexpected(
        &self,
        control: &mut ControlChannel,
        state: Result<TestState, IperfError>,
        phase: Phase,
    ) -> IperfError {
        match state {
            Err(error) => error,
            Ok(TestState::AccessDenied) => IperfError::AccessDenied,
            Ok(TestState::ServerError) => within(self.config.options.phase_timeout, phase, async {
                Err::<(), _>(control.read_server_error(phase).await)
            })
            .await
            .unwrap_err(),
            Ok(TestState::ServerTerminate) => IperfError::ServerTerminated { phase },
            Ok(other) => IperfError::UnexpectedState {
                phase,
                code: other.code(),
            },
        }
    }

    fn parameters(&self, control_mss: Option<u32>) -> TestParameters {
        let c = &self.config;
        let block_size = c.options.block_size.unwrap_or(match c.options.protocol {
            Protocol::Tcp => DEFAULT_TCP_BLOCK,
            Protocol::Udp => control_mss.unwrap_or(DEFAULT_UDP_BLOCK),
        });
        let (time, bytes, blocks) = match c.options.length {
            TestLength::Duration(d) => (ceil_secs(d).max(1), 0, 0),
            TestLength::Bytes(n) => (0, n, 0),
            TestLength::Blocks(n) => (0, 0, n),
            TestLength::UntilInterrupted => (0, 0, 0),
        };
        TestParameters {
            protocol: c.options.protocol,
            direction: c.options.direction,
            streams: c.options.streams,
            time,
            omit: ceil_secs(c.options.omit),
            bytes,
            blocks,
            block_size,
            bitrate: c.bitrate().unwrap_or(0),
            udp_counters_64bit: c.options.udp_counters_64bit,
            get_server_output: c.options.get_server_output,
            stream_options: (*c.options.stream_options).clone(),
            extra_data: c.options.extra_data.clone(),
            title: c.options.title.clone(),
            server_affinity: None,
        }
    }
}

impl ClientConfig {
    /// Where this client's sockets connect from; `port` for a data stream's `--cport`.
    fn local_end(&self, port: Option<u16>) -> LocalEnd<'_> {
        LocalEnd {
            ip: self.options.bind,
            port,
            device: self.options.bind_device.as_deref(),
        }
    }
}

async fn resolve(c: &ClientConfig) -> Result<SocketAddr, IperfError> {
    let lookup = tokio::time::timeout(
        c.options.connect_timeout,
        tokio::net::lookup_host((c.host.as_str(), c.port)),
    )
    .await;
    let error = |source| IperfError::Resolve {
        host: c.host.clone(),
        source,
    };
    let mut addrs = match lookup {
        Ok(Ok(addrs)) => addrs,
        Ok(Err(source)) => return Err(error(source)),
        Err(_) => {
            return Err(error(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "name lookup timed out",
            )));
        }
    };
    let preferred = |a: &SocketAddr| match c.options.bind {
        Some(ip) => a.is_ipv4() == ip.is_ipv4(),
        None => true,
    };
    let all: Vec<SocketAddr> = addrs
        .by_ref()
        .filter(|a| match c.options.family {
            AddressFamily::Any => true,
            AddressFamily::V4 => a.is_ipv4(),
            AddressFamily::V6 => a.is_ipv6(),
        })
        .collect();
    all.iter()
        .copied()
        .find(preferred)
        .or_else(|| all.first().copied())
        .ok_or_else(|| {
            // getaddrinfo's words, as iperf3 (which asks it for -4's or -6's family) prints
            // them: an address of the other family, or a name without one of this family.
            let literal = c.host.parse::<std::net::IpAddr>().is_ok();
            error(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                if literal && c.options.family != AddressFamily::Any {
                    "Address family for hostname not supported"
                } else {
                    "Name or service not known"
                },
            ))
        })
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}
