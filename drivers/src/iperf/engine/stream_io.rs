//! The data paths: one task per stream, one buffer per stream allocated up front, no
//! allocation per block, non-blocking `try_*` calls that fall back to readiness waits.

use std::io;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::Interest;
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::budget::Budget;
use super::counters::StreamCounters;
use super::deadline::sleep_until_opt;
use super::pacer::Pacer;
use super::payload_file::{self, PayloadFile};
use super::read_batching::{MAX_LOW_WATER, ReadBatching, STALL};
use super::udp_receive::UdpReceiveTracker;
use crate::iperf::protocol::{UdpHeader, udp_header_len};
use crate::tcp::probe;

/// Smallest read buffer: a whole batch of a fast stream (the largest low-water mark) in one
/// call; reading less per call only costs syscalls.
const MIN_READ_BUFFER: usize = MAX_LOW_WATER;

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
    /// TCP: send with `sendfile(2)` from an in-memory file instead of copying from a buffer.
    pub(crate) zero_copy: bool,
    /// Send iperf3's repeating digit pattern instead of random bytes.
    pub(crate) repeating_payload: bool,
    /// Send what is due once per tick (`--pacing-timer`) instead of each block when due.
    pub(crate) pacing_tick: Option<Duration>,
    /// Blocks per burst (`-b rate/burst`).
    pub(crate) burst: Option<u32>,
}

impl SendJob {
    /// Claims the next block of `len` bytes from the test's limit; `false` when the blocks
    /// already claimed by every stream reach it (always `true` without a limit).
    fn claim_block(&self, len: usize) -> bool {
        self.budget
            .as_ref()
            .is_none_or(|b| b.claim_block(len as u64))
    }

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
    /// Cancelled when the test ends on this side: a TCP receiver's count stops there.
    pub(crate) test_ended: CancellationToken,
    /// When set, the test's start: a TCP receiver notes when it reads, from there.
    pub(crate) note_reads_from: Option<Instant>,
    pub(crate) end: ReceiveEnd,
    pub(crate) udp_counters_64bit: bool,
}

/// A buffer of `len` random bytes (random so compression on the path cannot flatter
/// results), or of iperf3's repeating pattern when asked (`--repeating-payload`).
fn payload(len: usize, repeating: bool) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    if repeating {
        crate::iperf::stream_options::fill_repeating(&mut buf);
    } else {
        crate::iperf::protocol::fill_random(&mut buf);
    }
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
    let buf = payload(job.block_size, job.repeating_payload);
    // Where the in-memory file cannot be made, plain writes do the same job, slower.
    let mut file = if job.zero_copy {
        PayloadFile::new(&buf).ok()
    } else {
        None
    };
    let mut offset = 0;
    let mut pacer = job.bitrate.map(|rate| {
        Pacer::new(rate, Instant::now())
            .with_tick(job.pacing_tick)
            .with_burst(job.burst)
    });
    // Whether the block being written (from `offset` on) was claimed from the budget.
    let mut block_claimed = false;
    loop {
        if job.finished() || !pace(&mut pacer, &job.stop).await {
            return Ok(());
        }
        if !block_claimed {
            if !job.claim_block(buf.len()) {
                return Ok(());
            }
            block_claimed = true;
        }
        let sent = match &file {
            Some(file) => stream.try_io(Interest::WRITABLE, || file.send_to(&*stream, offset)),
            None => stream.try_write(&buf[offset..]),
        };
        match sent {
            Ok(n) => {
                offset += n;
                let blocks = if offset == buf.len() {
                    offset = 0;
                    block_claimed = false;
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
            Err(e) if file.is_some() && payload_file::unsupported(&e) => file = None,
            Err(e) => return Err(e),
        }
    }
}

/// Reads a TCP stream, counting what arrives until the test ends on this side: from then
/// on only what had reached this host by the end counts, whether it was read yet or still
/// queued in the kernel. Later bytes are read (so the sender is never blocked) but not
/// counted: the measured seconds end there, and the tail a slow link still carries would
/// raise the rate above the link's. iperf3's receiver stops at the end too (and drops even
/// what is queued).
pub(crate) async fn tcp_receive(stream: Arc<TcpStream>, job: ReceiveJob) -> io::Result<()> {
    let mut buf = vec![0u8; job.block_size.max(MIN_READ_BUFFER)];
    let mut batching = ReadBatching::new(Instant::now());
    let draining = job.end == ReceiveEnd::DrainQueued;
    let mut ended = false;
    loop {
        if !ended && job.test_ended.is_cancelled() {
            ended = true;
            // Only this task reads the stream, so nothing is read between the two looks.
            let queued = probe::unread(stream.as_fd()).unwrap_or(0);
            job.counters.end_at(job.counters.read_bytes() + queued);
            if batching.raised() {
                // The queued tail below the mark is to be read now, not after a stall.
                batching.lower(&*stream, Instant::now());
            }
        }
        match stream.try_read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => {
                job.counters.add_bytes(n as u64);
                job.counters.add_blocks(1);
                if let Some(budget) = &job.budget {
                    budget.add_received(n as u64);
                }
                if let Some(start) = job.note_reads_from {
                    job.counters.note_read(start.elapsed());
                }
                batching.record(n);
                tokio::task::consume_budget().await;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let stopping = job.stop.is_cancelled();
                if stopping && batching.raised() {
                    // Whatever is queued below the mark is readable from now on.
                    batching.lower(&*stream, Instant::now());
                    continue;
                }
                if stopping && draining {
                    // Stop once read as far as the count goes (the caller's deadline bounds
                    // the wait); with no end known, once the stream goes quiet.
                    match job.counters.read_to_the_end() {
                        Some(true) => return Ok(()),
                        Some(false) => stream.readable().await?,
                        None => match tokio::time::timeout(DRAIN_QUIET, stream.readable()).await {
                            Ok(ready) => ready?,
                            Err(_) => return Ok(()),
                        },
                    }
                    continue;
                }
                if !stopping && !ended {
                    batching.retune(&*stream, Instant::now());
                }
                let stall_at = batching.raised().then(|| Instant::now() + STALL);
                tokio::select! {
                    biased;
                    _ = job.test_ended.cancelled(), if !ended => {}
                    _ = job.stop.cancelled(), if !stopping && (draining || batching.raised()) => {}
                    ready = stream.readable() => ready?,
                    _ = sleep_until_opt(stall_at) => batching.lower(&*stream, Instant::now()),
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
    let mut buf = payload(job.block_size, job.repeating_payload);
    let mut pacer = job.bitrate.map(|rate| {
        Pacer::new(rate, Instant::now())
            .with_tick(job.pacing_tick)
            .with_burst(job.burst)
    });
    let mut seq: u64 = 0;
    let mut block_claimed = false;
    loop {
        if job.finished() {
            return Ok(());
        }
        let now = Instant::now();
        if let Some(at) = pacer.as_mut().and_then(|p| p.next_send_at(now)) {
            std::thread::sleep((at - now).min(MAX_PACING_SLEEP));
            continue;
        }
        if !block_claimed {
            if !job.claim_block(buf.len()) {
                return Ok(());
            }
            block_claimed = true;
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
                block_claimed = false;
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

/// Receives a UDP stream until stopped. When the test ends on this side its count stops
/// where it is, every figure at once (bytes, packets, loss, jitter): what was read by then,
/// as iperf3's receiver, which reads no more after the end. Later datagrams are read but
/// not counted, so the last interval and the total agree.
pub(crate) async fn udp_receive(socket: Arc<UdpSocket>, job: ReceiveJob) -> io::Result<()> {
    let mut buf = vec![0u8; 65536];
    let mut tracker = UdpReceiveTracker::default();
    let header_len = udp_header_len(job.udp_counters_64bit);
    let mut counting = true;
    loop {
        if counting && job.test_ended.is_cancelled() {
            counting = false;
            // Only this task writes the counters: they hold still from here.
            job.counters.end_at(job.counters.read_bytes());
        }
        match socket.try_recv(&mut buf) {
            Ok(n) if n < header_len => {} // a stray handshake datagram, not data
            Ok(_) if !counting => {}
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
                    _ = job.test_ended.cancelled(), if counting => {}
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

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::time::Duration;

    use tokio::net::TcpListener;

    use super::*;
    use crate::iperf::engine::read_batching::receive_low_water;

    const FAST_BYTES: usize = 512 * 1024 * 1024;
    const TAIL_BYTES: usize = 1000;

    /// A connection on loopback: the receiving end for a task, the sending end blocking.
    async fn loopback_pair() -> (Arc<TcpStream>, std::net::TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let writer = std::thread::spawn(move || std::net::TcpStream::connect(addr).unwrap());
        let (receiving, _) = listener.accept().await.unwrap();
        (Arc::new(receiving), writer.join().unwrap())
    }

    /// Waits (bounded) until the receiver has counted `total` bytes.
    async fn counted(counters: &StreamCounters, total: u64, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while counters.snapshot().bytes < total {
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        true
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_fast_stream_that_slows_to_a_trickle_is_still_read_within_milliseconds() {
        let (receiving, mut sending) = loopback_pair().await;
        let counters = Arc::new(StreamCounters::default());
        let stop = CancellationToken::new();
        let test_ended = CancellationToken::new();
        let job = ReceiveJob {
            counters: counters.clone(),
            block_size: 128 * 1024,
            budget: None,
            stop: stop.clone(),
            test_ended: test_ended.clone(),
            note_reads_from: None,
            end: ReceiveEnd::DrainQueued,
            udp_counters_64bit: false,
        };
        let receiver = tokio::spawn(tcp_receive(receiving.clone(), job));

        // Fast enough for the receiver to batch its wake-ups...
        let block = vec![7u8; 128 * 1024];
        let watched = receiving.clone();
        let (mut sending, highest_mark) = tokio::task::spawn_blocking(move || {
            let mut highest_mark = 0;
            for i in 0..FAST_BYTES / block.len() {
                sending.write_all(&block).unwrap();
                if i % 64 == 63 {
                    highest_mark = highest_mark.max(receive_low_water(&*watched).unwrap());
                }
            }
            (sending, highest_mark)
        })
        .await
        .unwrap();
        assert!(highest_mark > 1, "the receiver never batched");

        // ...then a trickle far below the mark: read anyway, once the stream stalls.
        sending.write_all(&[1u8; TAIL_BYTES]).unwrap();
        let total = (FAST_BYTES + TAIL_BYTES) as u64;
        assert!(
            counted(&counters, total, Duration::from_secs(2)).await,
            "counted {} of {total}",
            counters.snapshot().bytes
        );
        // An idle stream goes back to waking on any data (a trickle overtaken by the fast
        // data's last batch may have been read before the mark came down).
        let deadline = Instant::now() + Duration::from_secs(2);
        while receive_low_water(&*receiving).unwrap() > 1 {
            assert!(
                Instant::now() < deadline,
                "the mark stays raised on an idle stream"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }

        // Told the test ended, the drain ends as soon as what had arrived is counted, not
        // 20 ms later.
        test_ended.cancel();
        stop.cancel();
        tokio::time::timeout(Duration::from_secs(2), receiver)
            .await
            .expect("the drain ends")
            .unwrap()
            .unwrap();
        drop(sending);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn what_is_queued_when_the_test_ends_counts_and_what_comes_later_does_not() {
        // Within the initial receive window, so all of it is queued here unread.
        const QUEUED: usize = 40_000;
        const LATER: usize = 200_000;
        let (receiving, mut sending) = loopback_pair().await;

        // Bytes that reached this host before the end, not read yet when it comes.
        sending.write_all(&[3u8; QUEUED]).unwrap();
        let deadline = Instant::now() + Duration::from_secs(2);
        while probe::unread(receiving.as_fd()).unwrap() < QUEUED as u64 {
            assert!(
                Instant::now() < deadline,
                "the bytes never reached the socket"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let counters = Arc::new(StreamCounters::default());
        let test_ended = CancellationToken::new();
        test_ended.cancel();
        let job = ReceiveJob {
            counters: counters.clone(),
            block_size: 128 * 1024,
            budget: None,
            stop: CancellationToken::new(),
            test_ended,
            note_reads_from: None,
            end: ReceiveEnd::UntilClosed,
            udp_counters_64bit: false,
        };
        let receiver = tokio::spawn(tcp_receive(receiving, job));
        while counters.read_to_the_end().is_none() {
            assert!(Instant::now() < deadline, "the receiver never saw the end");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }

        // Bytes after the end: read, so the sender is not held up, but not counted.
        sending.write_all(&[4u8; LATER]).unwrap();
        drop(sending);
        tokio::time::timeout(Duration::from_secs(2), receiver)
            .await
            .expect("the receiver reads to the stream's end")
            .unwrap()
            .unwrap();
        assert_eq!(counters.read_bytes(), (QUEUED + LATER) as u64);
        assert_eq!(counters.snapshot().bytes, QUEUED as u64);
        assert_eq!(counters.bytes(), QUEUED as u64);
    }
}
