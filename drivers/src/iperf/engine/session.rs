//! One test served: the server side of the protocol, every step under a deadline.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use testrig::Host;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::admission::{AdmittedStream, SessionSlot};
use super::deadline::within;
use super::deadline::{sleep_until_opt, tick_opt, ticker_from};
use super::receive_idle::ReceiveIdle;
use super::server_config::{ServerConfig, ServerProgress};
use super::sockets::{apply_server_tcp, apply_udp, bind_udp_shared, set_listener_mss};
use super::stream_io::ReceiveEnd;
use super::test_run::TestRun;
use crate::iperf::error::{IperfError, Phase, iperf3_code};
use crate::iperf::kinds::Protocol;
use crate::iperf::protocol::{
    ControlChannel, ExchangedResults, MAX_PARAMS_JSON, MAX_RESULTS_JSON, TestParameters, TestState,
    UDP_CONNECT_REPLY, is_connect_msg,
};
use crate::iperf::result::{ControlPeer, IntervalReport, IperfResult, Role};

/// How long the server waits at `TEST_END` for its receivers to read what had arrived by then
/// before it closes the last interval.
const QUEUED_READ: Duration = Duration::from_millis(200);

/// How long the server waits for receivers to read what is already queued at `TEST_END`.
const RECEIVE_DRAIN: Duration = Duration::from_secs(2);

/// Serves one test on an accepted control connection.
pub(crate) async fn serve_session(
    socket: TcpStream,
    listener: &TcpListener,
    local_addr: SocketAddr,
    slot: &SessionSlot,
    config: &ServerConfig,
) -> Result<IperfResult, IperfError> {
    let t = config.phase_timeout;
    let peer = socket.peer_addr().unwrap_or(local_addr);
    let control_peer = Some(ControlPeer {
        host: peer.ip().to_canonical().to_string(),
        port: peer.port(),
    });
    let mut control = ControlChannel::new(socket);
    let cookie = within(t, Phase::Cookie, control.read_cookie()).await?;
    within(
        t,
        Phase::ParamExchange,
        control.write_state(TestState::ParamExchange, Phase::ParamExchange),
    )
    .await?;
    let doc: Value = within(
        t,
        Phase::ParamExchange,
        control.read_json(MAX_PARAMS_JSON, Phase::ParamExchange),
    )
    .await?;
    let params = match TestParameters::from_json(&doc) {
        Ok(params) => params,
        Err(refusal) => {
            let _ = tokio::time::timeout(t, control.write_server_error(refusal.code, 0)).await;
            return Err(IperfError::protocol(Phase::ParamExchange, refusal.reason));
        }
    };
    if let Some(cpu) = params.server_affinity {
        // iperf3's server pins its process to the CPU asked for; this one runs inside a
        // test process whose other work it must not pin, so it refuses as iperf3 does when
        // pinning fails.
        let _ = tokio::time::timeout(
            t,
            control.write_server_error(iperf3_code::AFFINITY, libc::EPERM),
        )
        .await;
        return Err(IperfError::protocol(
            Phase::ParamExchange,
            format!(
                "the client asked to pin the server to CPU {cpu} (-A n,{cpu}); the native server does not pin CPUs"
            ),
        ));
    }

    let total = (params.streams * params.direction_count()) as usize;
    let protocol = params.protocol;
    let mut run = TestRun::new(params, Role::Server);
    // As iperf3's server: it does not measure the control connection's MSS (its
    // `tcp_mss_default` is 0).
    run.set_control_facts(cookie.text(), None, control_peer);
    let mut options = run.params().stream_options.clone();
    // The server's own: iperf3 does not send it.
    options.send_timeout = config.send_timeout;
    let created = match protocol {
        Protocol::Tcp => {
            // iperf3 sets the MSS on its listener, where it shapes the streams' handshakes;
            // the guard puts the default back however this step ends.
            let _listener_mss = match options.mss.map(|mss| ListenerMss::set(listener, mss)) {
                Some(Err(error)) => {
                    let _ = tokio::time::timeout(
                        t,
                        control.write_server_error(iperf3_code::SET_MSS, 0),
                    )
                    .await;
                    return Err(error);
                }
                Some(Ok(guard)) => Some(guard),
                None => None,
            };
            let (tx, mut rx) = mpsc::channel(total);
            slot.accept_streams(cookie, tx);
            within(
                t,
                Phase::CreateStreams,
                control.write_state(TestState::CreateStreams, Phase::CreateStreams),
            )
            .await?;
            let accept_all = async {
                let mut admitted = Vec::with_capacity(total);
                while admitted.len() < total {
                    let stream: AdmittedStream = rx.recv().await.ok_or_else(|| {
                        IperfError::protocol(Phase::CreateStreams, "stream acceptor stopped")
                    })?;
                    admitted.push(stream);
                }
                admitted.sort_by_key(|a| a.accepted);
                for a in admitted {
                    apply_server_tcp(&a.stream, &options)?;
                    run.add_tcp(a.stream)
                        .map_err(IperfError::io(Phase::CreateStreams))?;
                }
                Ok(())
            };
            let created = watch_control(&mut control, t, Phase::CreateStreams, accept_all).await;
            slot.busy();
            created
        }
        Protocol::Udp => {
            let bound =
                bind_udp_shared(&config.host, local_addr, config.bind_device.as_deref()).await;
            let listener = match bound {
                Ok(listener) => listener,
                Err(source) => {
                    let errno = source.raw_os_error().unwrap_or(0);
                    let _ = tokio::time::timeout(
                        t,
                        control.write_server_error(iperf3_code::STREAM_LISTEN, errno),
                    )
                    .await;
                    return Err(IperfError::Bind {
                        addr: local_addr,
                        source,
                    });
                }
            };
            within(
                t,
                Phase::CreateStreams,
                control.write_state(TestState::CreateStreams, Phase::CreateStreams),
            )
            .await?;
            let accept_all = accept_udp_streams(
                &mut run,
                listener,
                local_addr,
                &config.host,
                config.bind_device.as_deref(),
                total,
            );
            watch_control(&mut control, t, Phase::CreateStreams, accept_all).await
        }
    };
    if let Err(error) = created {
        let (code, errno) = match &error {
            IperfError::SocketOption { code, source, .. } => (
                *code,
                source.as_ref().and_then(|s| s.raw_os_error()).unwrap_or(0),
            ),
            _ => (iperf3_code::STREAM_ACCEPT, 0),
        };
        let _ = tokio::time::timeout(t, control.write_server_error(code, errno)).await;
        return Err(error);
    }
    if let Some(progress) = &config.progress {
        let _ = progress.send(ServerProgress::Started {
            peer,
            test: run.settings(),
            connections: run.connections(),
            cookie: cookie.text(),
            mss: run
                .params()
                .stream_options
                .mss
                .filter(|_| run.params().protocol == Protocol::Tcp),
        });
    }

    within(
        t,
        Phase::TestStart,
        control.write_state(TestState::TestStart, Phase::TestStart),
    )
    .await?;
    run.mark_start();
    within(
        t,
        Phase::TestStart,
        control.write_state(TestState::TestRunning, Phase::TestStart),
    )
    .await?;
    run.spawn_streams(ReceiveEnd::DrainQueued, config.zero_copy);

    if run_until_test_end(&mut control, &mut run, config).await? == ClientEnded::Terminated {
        return Err(client_terminated(run, config).await);
    }

    run.stop_senders().await;
    run.until_read_to_the_end(QUEUED_READ.min(t)).await;
    let last = run.sample_interval(Some(config.interval.unwrap_or(Duration::ZERO)));
    report_interval(config, last);
    run.stop_fine_sampling().await;
    run.close_sending_sockets();
    let remote: ExchangedResults = within(t, Phase::ExchangeResults, async {
        control
            .write_state(TestState::ExchangeResults, Phase::ExchangeResults)
            .await?;
        let remote: ExchangedResults = control
            .read_json(MAX_RESULTS_JSON, Phase::ExchangeResults)
            .await?;
        run.check_remote(&remote)
            .map_err(|detail| IperfError::protocol(Phase::ExchangeResults, detail))?;
        Ok(remote)
    })
    .await?;
    run.expect_received(&remote);
    run.stop_receivers(RECEIVE_DRAIN.min(t)).await;
    run.end_at_the_last_read();
    run.fold_the_tail_into_the_last_interval();
    let result = run.result(Some(&remote));
    let mut local = run.local_results();
    if run.params().get_server_output {
        // What this server reports of the test, as iperf3's server sends it to a client
        // that asked: its -J document, or the text it prints.
        if config.json_output {
            local.server_output_json = Some(result.to_iperf3_json());
        } else {
            local.server_output_text = Some(crate::iperf::text::server_report_text(&result));
        }
    }
    within(t, Phase::ExchangeResults, async {
        control.write_json(&local, Phase::ExchangeResults).await?;
        control
            .write_state(TestState::DisplayResults, Phase::ExchangeResults)
            .await
    })
    .await?;
    // The client answers IPERF_DONE and closes; either ends the test cleanly.
    let _ = tokio::time::timeout(t, async {
        if let Ok(TestState::IperfDone) = control.read_state(Phase::Done).await {
            control.drain_until_closed().await;
        }
    })
    .await;
    Ok(result)
}

/// How the client ended the running test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientEnded {
    /// `TEST_END`: the results are exchanged next.
    TestEnd,
    /// `CLIENT_TERMINATE`: the client was interrupted.
    Terminated,
}

/// The test the client terminated, as iperf3's server ends it (`iperf_handle_message_server`
/// at `CLIENT_TERMINATE`): it reports the last interval once more and its counts so far,
/// over the time up to that interval's end, then closes the streams. The peer's counts are
/// 0: they are never exchanged.
async fn client_terminated(mut run: TestRun, config: &ServerConfig) -> IperfError {
    run.stop_senders().await;
    run.end_at_the_last_interval();
    report_interval(config, run.repeat_last_interval());
    run.stop_fine_sampling().await;
    run.stop_receivers(Duration::ZERO).await;
    IperfError::ClientTerminated {
        phase: Phase::TestRunning,
        partial: Some(Box::new(run.into_result_without_the_peer())),
    }
}

/// Passes a closed interval on to whoever follows the server's progress.
fn report_interval(config: &ServerConfig, interval: Option<IntervalReport>) {
    if let (Some(progress), Some(interval)) = (&config.progress, interval) {
        let _ = progress.send(ServerProgress::Interval(Box::new(interval)));
    }
}

/// The client's MSS on the server's listener while a test's streams connect; the default
/// again when dropped.
struct ListenerMss<'a>(&'a TcpListener);

impl<'a> ListenerMss<'a> {
    fn set(listener: &'a TcpListener, mss: u32) -> Result<Self, IperfError> {
        set_listener_mss(listener, mss)?;
        Ok(Self(listener))
    }
}

impl Drop for ListenerMss<'_> {
    fn drop(&mut self) {
        if let Err(error) = set_listener_mss(self.0, 0) {
            tracing::warn!(%error, "could not reset the listener's MSS");
        }
    }
}

/// Runs `step` within `timeout` while watching the control connection: a client that closes
/// it or sends anything meanwhile ends the step at once.
async fn watch_control<T>(
    control: &mut ControlChannel,
    timeout: Duration,
    phase: Phase,
    step: impl std::future::Future<Output = Result<T, IperfError>>,
) -> Result<T, IperfError> {
    within(timeout, phase, async {
        tokio::select! {
            result = step => result,
            state = control.read_state(phase) => Err(match state {
                Ok(TestState::ClientTerminate) => IperfError::ClientTerminated {
                    phase,
                    partial: None,
                },
                Ok(other) => IperfError::UnexpectedState { phase, code: other.code() },
                Err(error) => error,
            }),
        }
    })
    .await
}

/// Accepts `total` UDP streams the way iperf3 does: the listening socket that hears a
/// client's connect datagram becomes that stream (connected to the client), a fresh socket
/// takes over listening on the port, then the client gets its reply.
async fn accept_udp_streams(
    run: &mut TestRun,
    mut listener: tokio::net::UdpSocket,
    local_addr: SocketAddr,
    host: &Host,
    device: Option<&str>,
    total: usize,
) -> Result<(), IperfError> {
    let mut datagram = [0u8; 64];
    while run.stream_count() < total {
        let (n, peer) = listener
            .recv_from(&mut datagram)
            .await
            .map_err(IperfError::io(Phase::CreateStreams))?;
        if !is_connect_msg(&datagram[..n]) {
            continue;
        }
        listener
            .connect(peer)
            .await
            .map_err(IperfError::io(Phase::CreateStreams))?;
        let next = bind_udp_shared(host, local_addr, device)
            .await
            .map_err(IperfError::io(Phase::CreateStreams))?;
        listener
            .send(&UDP_CONNECT_REPLY.to_ne_bytes())
            .await
            .map_err(IperfError::io(Phase::CreateStreams))?;
        let stream = std::mem::replace(&mut listener, next);
        apply_udp(&stream, &run.params().stream_options)?;
        run.add_udp(stream)
            .map_err(IperfError::io(Phase::CreateStreams))?;
    }
    Ok(())
}

/// Moves data until the client sends `TEST_END`, reporting intervals; ends the test if the
/// client vanishes, terminates, or overruns its announced duration.
async fn run_until_test_end(
    control: &mut ControlChannel,
    run: &mut TestRun,
    config: &ServerConfig,
) -> Result<ClientEnded, IperfError> {
    let started = Instant::now();
    let params = run.params();
    let limit = match params.time {
        0 => config.max_open_ended_test,
        // The client's figures: a huge one must not overflow the clock here.
        secs => Duration::from_secs(secs.saturating_add(params.omit)).saturating_add(config.grace),
    };
    let deadline = testrig::deadline::deadline(started, limit);
    let mut ticker = config.interval.map(|i| ticker_from(started, i));
    let mut idle = ReceiveIdle::new(config.receive_timeout, run.received_bytes(), started);
    loop {
        let omit_at = run.omit_deadline();
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => {
                let _ = tokio::time::timeout(
                    config.phase_timeout,
                    control.write_state(TestState::ServerTerminate, Phase::TestRunning),
                )
                .await;
                return Err(IperfError::Timeout { phase: Phase::TestRunning, after: limit });
            }
            _ = sleep_until_opt(omit_at), if omit_at.is_some() => {
                if let Some(interval) = config.interval {
                    let omitted = run.sample_interval(Some(interval));
                    report_interval(config, omitted);
                }
                run.end_omit();
                ticker = config.interval.map(|i| ticker_from(Instant::now(), i));
            }
            _ = tick_opt(&mut ticker) => {
                let interval = run.sample_interval(None);
                report_interval(config, interval);
            }
            state = control.read_state(Phase::TestRunning) => match state {
                Ok(TestState::TestEnd) => return Ok(ClientEnded::TestEnd),
                // iperf3 clients may repeat TEST_START; it means nothing here.
                Ok(TestState::TestStart) => {}
                Ok(TestState::ClientTerminate) => return Ok(ClientEnded::Terminated),
                Ok(other) => {
                    return Err(IperfError::UnexpectedState {
                        phase: Phase::TestRunning,
                        code: other.code(),
                    });
                }
                Err(error) => return Err(error),
            },
            _ = sleep_until_opt(idle.as_ref().map(ReceiveIdle::check_at)) => {
                let received = run.received_bytes().unwrap_or(0);
                if let Some(watch) = idle.as_mut()
                    && watch.stalled(received, Instant::now())
                {
                    // As iperf3's server: the test ends without a word to the client.
                    return Err(IperfError::ReceiveIdle { after: watch.idle() });
                }
            }
            _ = run.stream_failed() => {
                let _ = tokio::time::timeout(
                    config.phase_timeout,
                    control.write_state(TestState::ServerTerminate, Phase::TestRunning),
                )
                .await;
                return Err(run.take_failure().unwrap_or(IperfError::protocol(
                    Phase::TestRunning,
                    "a data stream failed",
                )));
            }
        }
    }
}
