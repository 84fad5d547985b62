//! The data paths: one task per stream, one buffer per stream allocated up front, no
//! allocation per block, non-blocking `try_*` calls that fall back to readiness waits.

use std::io;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::net::{TcpStream, UdpSocket};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::budget::Budget;
use super::counters::StreamCounters;
use super::pacer::Pacer;
use super::udp_receive::UdpReceiveTracker;
use crate::iperf::protocol::{UdpHeader, udp_header_len};

/// Smallest read buffer: reading less per call than this only costs syscalls.
const MIN_READ_BUFFER: usize = 128 * 1024;

/// How long a draining receiver waits for more data before deciding the stream is quiet.
const DRAIN_QUIET: Duration = Duration::from_millis(20);

/// What a sending task needs.
#[derive(Debug, Clone)]
pub(crate) struct SendJob {
    pub(crate) counters: Arc<StreamCounters>,
    pub(crate) block_size: usize,
    pub(crate) bitrate: Option<u64>,
    pub(crate) budget: Option<Arc<Budget>>,
    pub(crate) stop: CancellationToken,
    pub(crate) udp_counters_64bit: bool,
}

impl SendJob {
    /// Told to stop, or the test's byte/block limit is reached (iperf3 stops sending at the
    /// limit too, rather than overshoot until the controller notices).
    fn finished(&self) -> bool {
        self.stop.is_cancelled()
            || self
                .budget
                .as_ref()
                .is_some_and(|b| b.reached().is_cancelled())
    }
}

/// How a receiving task ends once told to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReceiveEnd {
    /// Read what is already queued, then stop (the server: the client stopped sending before
    /// it sent `TEST_END`, so everything it sent is queued or about to be).
    DrainQueued,
    /// Keep counting until the sender closes the stream (the client: the server stops sending
    /// only when it sees `TEST_END`, then closes).
    UntilClosed,
}

/// What a receiving task needs.
#[derive(Debug, Clone)]
pub(crate) struct ReceiveJob {
    pub(crate) counters: Arc<StreamCounters>,
    pub(crate) block_size: usize,
    pub(crate) budget: Option<Arc<Budget>>,
    pub(crate) stop: CancellationToken,
    pub(crate) end: ReceiveEnd,
    pub(crate) udp_counters_64bit: bool,
}

/// A buffer of `len` random bytes (random so compression on the path cannot flatter results).
fn payload(len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    crate::iperf::protocol::fill_random(&mut buf);
    buf
}

/// Waits until the pacer allows the next block; `false` if told to stop meanwhile.
async fn pace(pacer: &mut Option<Pacer>, stop: &CancellationToken) -> bool {
    let Some(at) = pacer.as_mut().and_then(|p| p.next_send_at(Instant::now())) else {
        return true;
    };
    tokio::select! {
        _ = stop.cancelled() => false,
        _ = tokio::time::sleep_until(at) => true,
    }
}

pub(crate) async fn tcp_send(stream: Arc<TcpStream>, job: SendJob) -> io::Result<()> {
    let buf = payload(job.block_size);
    let mut offset = 0;
    let mut pacer = job.bitrate.map(|rate| Pacer::new(rate, Instant::now()));
    loop {
        if job.finished() || !pace(&mut pacer, &job.stop).await {
            return Ok(());
        }
        match stream.try_write(&buf[offset..]) {
            Ok(n) => {
                offset += n;
                let blocks = if offset == buf.len() {
                    offset = 0;
                    1
                } else {
                    0
                };
                job.counters.add_bytes(n as u64);
                job.counters.add_blocks(blocks);
                if let Some(budget) = &job.budget {
                    budget.add_sent(n as u64, blocks);
                }
                if let Some(pacer) = pacer.as_mut() {
                    pacer.record(n as u64);
                }
                // A socket that is always writable would otherwise never yield the worker.
                tokio::task::consume_budget().await;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                tokio::select! {
                    biased;
                    _ = job.stop.cancelled() => return Ok(()),
                    ready = stream.writable() => ready?,
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

pub(crate) async fn tcp_receive(stream: Arc<TcpStream>, job: ReceiveJob) -> io::Result<()> {
    let mut buf = vec![0u8; job.block_size.max(MIN_READ_BUFFER)];
    loop {
        match stream.try_read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => {
                job.counters.add_bytes(n as u64);
                job.counters.add_blocks(1);
                if let Some(budget) = &job.budget {
                    budget.add_received(n as u64);
                }
                tokio::task::consume_budget().await;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let draining = job.end == ReceiveEnd::DrainQueued;
                if draining && job.stop.is_cancelled() {
                    // Data the peer wrote before it said TEST_END may still be on its way
                    // (a busy host, a real network): stop only once the stream goes quiet.
                    match tokio::time::timeout(DRAIN_QUIET, stream.readable()).await {
                        Ok(ready) => ready?,
                        Err(_) => return Ok(()),
                    }
                    continue;
                }
                tokio::select! {
                    biased;
                    _ = job.stop.cancelled(), if draining => {}
                    ready = stream.readable() => ready?,
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // The sender vanished; what arrived is counted, the control channel decides.
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}

/// Longest single sleep of the UDP sender, so a stop request is seen promptly.
const MAX_PACING_SLEEP: Duration = Duration::from_millis(10);
/// Back-off when the kernel's send queue is full.
const SEND_QUEUE_FULL_BACKOFF: Duration = Duration::from_micros(50);

/// The UDP sender runs on its own thread: tokio's timer ticks in milliseconds, which would
/// send a paced stream in bursts that overflow a slow receiver's socket buffer; a thread
/// sleeping to the microsecond spaces datagrams evenly, as iperf3 does by spinning.
pub(crate) fn udp_send_blocking(socket: Arc<UdpSocket>, job: SendJob) -> io::Result<()> {
    let mut buf = payload(job.block_size);
    let mut pacer = job.bitrate.map(|rate| Pacer::new(rate, Instant::now()));
    let mut seq: u64 = 0;
    loop {
        if job.finished() {
            return Ok(());
        }
        let now = Instant::now();
        if let Some(at) = pacer.as_mut().and_then(|p| p.next_send_at(now)) {
            std::thread::sleep((at - now).min(MAX_PACING_SLEEP));
            continue;
        }
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        UdpHeader {
            sec: wall.as_secs() as u32,
            usec: wall.subsec_micros(),
            seq: seq + 1,
        }
        .write(&mut buf, job.udp_counters_64bit);
        match socket.try_send(&buf) {
            Ok(n) => {
                seq += 1;
                job.counters.add_bytes(n as u64);
                job.counters.add_blocks(1);
                job.counters.set_packets(seq);
                if let Some(budget) = &job.budget {
                    budget.add_sent(n as u64, 1);
                }
                if let Some(pacer) = pacer.as_mut() {
                    pacer.record(n as u64);
                }
            }
            // Linux reports a full device queue as ENOBUFS; the datagram was not sent.
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock
                    || e.raw_os_error() == Some(libc::ENOBUFS) =>
            {
                std::thread::sleep(SEND_QUEUE_FULL_BACKOFF);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

pub(crate) async fn udp_receive(socket: Arc<UdpSocket>, job: ReceiveJob) -> io::Result<()> {
    let mut buf = vec![0u8; 65536];
    let mut tracker = UdpReceiveTracker::default();
    let header_len = udp_header_len(job.udp_counters_64bit);
    loop {
        match socket.try_recv(&mut buf) {
            Ok(n) if n < header_len => {} // a stray handshake datagram, not data
            Ok(n) => {
                let Some(header) = UdpHeader::read(&buf[..n], job.udp_counters_64bit) else {
                    continue;
                };
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default();
                let sent = f64::from(header.sec) + f64::from(header.usec) / 1e6;
                tracker.on_packet(header.seq, now.as_secs_f64() - sent);
                job.counters.add_bytes(n as u64);
                job.counters.add_blocks(1);
                job.counters.set_packets(tracker.highest_seq);
                job.counters
                    .set_udp_receive(tracker.lost, tracker.out_of_order, tracker.jitter);
                if let Some(budget) = &job.budget {
                    budget.add_received(n as u64);
                }
                tokio::task::consume_budget().await;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if job.stop.is_cancelled() {
                    return Ok(());
                }
                tokio::select! {
                    biased;
                    _ = job.stop.cancelled() => {}
                    ready = socket.readable() => ready?,
                }
            }
            // An ICMP error from an earlier send on this socket; not a receive failure.
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}
