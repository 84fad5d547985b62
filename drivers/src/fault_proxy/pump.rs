//! One direction of one connection: passed through (a buffer for small amounts,
//! splice for bulk) while no toxic applies, through the toxic chain while one
//! does, switching as toxics come and go.

use std::collections::VecDeque;
use std::io;
use std::net::Shutdown;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::chain::{Chain, Chunk, Flow, Sink, TimerAction};
use super::link::EventLog;
use super::link::{Ending, Link};
use super::splice::Passthrough;
use super::table::ToxicSet;
use super::{ProxyEvent, Stream};

/// How much one read takes under toxics.
const READ_SIZE: usize = 16 * 1024;
/// Chunks read ahead of the chain (stamped as they arrive, for latency): with
/// [`READ_SIZE`], at most 64 KiB per direction in userspace.
const READ_AHEAD: usize = 4;

/// One direction: from `src` to `dst`, under the toxics of `stream`.
pub(crate) struct Direction<'a> {
    pub(crate) stream: Stream,
    pub(crate) src: &'a TcpStream,
    pub(crate) dst: &'a TcpStream,
    pub(crate) link: &'a Link,
    pub(crate) events: &'a EventLog,
    pub(crate) toxics: watch::Receiver<Arc<ToxicSet>>,
}

/// How a mode of the pump ended.
enum Mode {
    /// The toxics changed: choose the mode again.
    Changed,
    /// This direction is over.
    Done,
}

impl Direction<'_> {
    pub(crate) async fn run(mut self) {
        let mut chain = Chain::new(self.stream);
        let mut passthrough = Passthrough::new();
        // Data taken out of the fast path or the chain when the toxics changed.
        let mut carried: VecDeque<Chunk> = VecDeque::new();
        loop {
            let set = self.toxics.borrow_and_update().clone();
            let rebuilt = chain.rebuild(&set);
            if rebuilt.timeout_removed {
                // Toxiproxy's `TimeoutToxic::Cleanup`: removing it closes the
                // connection.
                self.link.end_with(Ending::Close);
                return;
            }
            for toxic in rebuilt.newly {
                self.link.toxic_applied(&toxic);
                self.events.push(ProxyEvent::ToxicApplied {
                    connection: self.link.id,
                    toxic,
                    stream: self.stream,
                });
            }
            let mode = if chain.is_empty() && carried.is_empty() {
                self.pass_through(&mut passthrough, &mut carried, chain.reset_due())
                    .await
            } else {
                self.through_toxics(&mut chain, &mut carried).await
            };
            if let Mode::Done = mode {
                return;
            }
        }
    }

    async fn pass_through(
        &mut self,
        passthrough: &mut Passthrough,
        carried: &mut VecDeque<Chunk>,
        reset_due: Option<Instant>,
    ) -> Mode {
        let (link, stream) = (self.link, self.stream);
        tokio::select! {
            biased;
            () = link.end.cancelled() => Mode::Done,
            // A reset_peer that took data, removed since.
            () = sleep_until(reset_due) => {
                link.end_with(Ending::Reset);
                Mode::Done
            }
            () = changed(&mut self.toxics) => {
                match passthrough.drain() {
                    Ok(bytes) if !bytes.is_empty() => carried.push_back(Chunk {
                        data: bytes.into(),
                        at: Instant::now(),
                    }),
                    Ok(_) => {}
                    Err(_) => link.end_with(Ending::Close),
                }
                Mode::Changed
            }
            result = passthrough.pump(self.src, self.dst, |n| link.delivered(stream, n)) => {
                match result {
                    Ok(()) => half_close(self.dst),
                    Err(error) => link.end_with(ending_for(&error)),
                }
                Mode::Done
            }
        }
    }

    async fn through_toxics(&mut self, chain: &mut Chain, carried: &mut VecDeque<Chunk>) -> Mode {
        let sink = Writer {
            stream: self.stream,
            dst: self.dst,
            link: self.link,
            interrupt: self.toxics.clone(),
        };
        while let Some(chunk) = carried.pop_front() {
            if chain.drops_data() {
                continue;
            }
            if let Some(mode) = self.flowed(chain.push(chunk, &sink).await) {
                return mode;
            }
        }
        if chain.is_empty() {
            return Mode::Changed;
        }
        let (sender, mut chunks) = mpsc::channel(READ_AHEAD);
        let stop_reading = CancellationToken::new();
        let reader = read_ahead(self.src, sender, &stop_reading, self.link);
        let toxics = &mut self.toxics;
        let link = self.link;
        let dst = self.dst;
        let chunks_ref = &mut chunks;
        let flow = async {
            let mode = loop {
                let timer = chain.next_timer();
                tokio::select! {
                    biased;
                    () = link.end.cancelled() => break Mode::Done,
                    () = changed(&mut *toxics) => break Mode::Changed,
                    () = sleep_until(timer.map(|(at, _)| at)) => {
                        link.end_with(match timer.map(|(_, action)| action) {
                            Some(TimerAction::Reset) => Ending::Reset,
                            _ => Ending::Close,
                        });
                        break Mode::Done;
                    }
                    chunk = chunks_ref.recv() => match chunk {
                        Some(chunk) => {
                            if chain.drops_data() {
                                continue;
                            }
                            match chain.push(chunk, &sink).await {
                                Flow::Go => {}
                                Flow::Close => {
                                    link.end_with(Ending::Close);
                                    break Mode::Done;
                                }
                                Flow::Ended => break Mode::Done,
                            }
                        }
                        None => {
                            // The sender closed (or the reader failed and ended the link).
                            if link.end.is_cancelled() {
                                break Mode::Done;
                            }
                            if let Some(at) = chain.reset_on_end() {
                                tokio::select! {
                                    () = link.end.cancelled() => break Mode::Done,
                                    () = tokio::time::sleep_until(at) => {}
                                }
                                link.end_with(Ending::Reset);
                                break Mode::Done;
                            }
                            let delay = chain.close_delay();
                            if !delay.is_zero() {
                                tokio::select! {
                                    () = link.end.cancelled() => break Mode::Done,
                                    () = tokio::time::sleep(delay) => {}
                                }
                            }
                            half_close(dst);
                            break Mode::Done;
                        }
                    },
                }
            };
            stop_reading.cancel();
            mode
        };
        let (leftover, mode) = tokio::join!(reader, flow);
        if let Mode::Changed = mode {
            while let Ok(chunk) = chunks.try_recv() {
                carried.push_back(chunk);
            }
            carried.extend(leftover);
        }
        mode
    }

    fn flowed(&self, flow: Flow) -> Option<Mode> {
        match flow {
            Flow::Go => None,
            Flow::Close => {
                self.link.end_with(Ending::Close);
                Some(Mode::Done)
            }
            Flow::Ended => Some(Mode::Done),
        }
    }
}

/// Reads `src` ahead into `chunks` until it ends, fails or `stop`; returns a chunk
/// it read but could not hand over before `stop`.
async fn read_ahead(
    src: &TcpStream,
    chunks: mpsc::Sender<Chunk>,
    stop: &CancellationToken,
    link: &Link,
) -> Option<Chunk> {
    loop {
        let read = tokio::select! {
            biased;
            () = stop.cancelled() => return None,
            read = read_some(src) => read,
        };
        let chunk = match read {
            Ok(Some(data)) => Chunk {
                data,
                at: Instant::now(),
            },
            Ok(None) => return None,
            Err(error) => {
                link.end_with(ending_for(&error));
                return None;
            }
        };
        tokio::select! {
            biased;
            () = stop.cancelled() => return Some(chunk),
            sent = chunks.reserve() => match sent {
                Ok(permit) => permit.send(chunk),
                Err(_) => return Some(chunk),
            },
        }
    }
}

/// Some bytes, or `None` at the end of the stream.
async fn read_some(src: &TcpStream) -> io::Result<Option<Bytes>> {
    let mut buffer = BytesMut::zeroed(READ_SIZE);
    loop {
        src.readable().await?;
        match src.try_read(&mut buffer) {
            Ok(0) => return Ok(None),
            Ok(n) => {
                buffer.truncate(n);
                return Ok(Some(buffer.freeze()));
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
}

/// The last stage: writes to the destination, counting what it delivers.
struct Writer<'a> {
    stream: Stream,
    dst: &'a TcpStream,
    link: &'a Link,
    interrupt: watch::Receiver<Arc<ToxicSet>>,
}

impl Sink for Writer<'_> {
    async fn deliver(&self, mut data: Bytes) -> Flow {
        while !data.is_empty() {
            let written = tokio::select! {
                biased;
                () = self.link.end.cancelled() => return Flow::Ended,
                written = write_some(self.dst, &data) => written,
            };
            match written {
                Ok(n) => {
                    self.link.delivered(self.stream, n);
                    let _ = data.split_to(n);
                }
                Err(error) => {
                    self.link.end_with(ending_for(&error));
                    return Flow::Ended;
                }
            }
        }
        Flow::Go
    }

    async fn wait_until(&self, deadline: Instant) -> Result<(), ()> {
        let mut interrupt = self.interrupt.clone();
        tokio::select! {
            biased;
            () = self.link.end.cancelled() => Err(()),
            () = tokio::time::sleep_until(deadline) => Ok(()),
            () = changed(&mut interrupt) => Ok(()),
        }
    }
}

async fn write_some(dst: &TcpStream, data: &[u8]) -> io::Result<usize> {
    loop {
        dst.writable().await?;
        match dst.try_write(data) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
}

/// Resolves when the toxics change; never, if the table is gone.
async fn changed(toxics: &mut watch::Receiver<Arc<ToxicSet>>) {
    if toxics.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Passes the end of one side's data on to the other (FIN), keeping the other
/// direction open.
fn half_close(dst: &TcpStream) {
    let _ = socket2::SockRef::from(dst).shutdown(Shutdown::Write);
}

/// A peer's reset is passed on as a reset; any other failure closes.
fn ending_for(error: &io::Error) -> Ending {
    match error.kind() {
        io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe => Ending::Reset,
        _ => Ending::Close,
    }
}
