//! Batched wake-ups for a fast TCP receiver.
//!
//! On loopback the *sender's* CPU delivers each segment and wakes the receiver; waking it
//! for every 64 KiB segment costs the sender time it would otherwise spend sending. Once a
//! stream is fast, the receiver asks the kernel (`SO_RCVLOWAT`) to wake it only when about
//! a millisecond of data at the current rate is queued. Slow streams are read as they
//! arrive; a stream that slows down or stops is noticed within a few milliseconds and read
//! at once again, so interval reports stay true to within about a millisecond of data.

use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::time::Duration;

use socket2::SockRef;
use tokio::time::Instant;

/// How long data may wait in the kernel before a batch is worth a wake-up.
const TARGET_DELAY: Duration = Duration::from_millis(1);
/// Over how long the receive rate is measured.
const RATE_WINDOW: Duration = Duration::from_millis(10);
/// The granularity of the low-water mark; below one step batching gains nothing (a
/// loopback segment is up to 64 KiB).
const STEP: usize = 64 * 1024;
/// The largest low-water mark asked for.
pub(crate) const MAX_LOW_WATER: usize = 256 * 1024;
/// With a raised mark, a wait this long means the stream slowed down: read what is there.
pub(crate) const STALL: Duration = Duration::from_millis(5);

/// The receiver's batching state: the low-water mark it set and the rate it measured.
#[derive(Debug)]
pub(crate) struct ReadBatching {
    /// 1 (the kernel's default: wake on any data) or a multiple of [`STEP`].
    low_water: usize,
    window_start: Instant,
    window_bytes: u64,
}

impl ReadBatching {
    pub(crate) fn new(now: Instant) -> Self {
        Self {
            low_water: 1,
            window_start: now,
            window_bytes: 0,
        }
    }

    /// Counts `bytes` read.
    pub(crate) fn record(&mut self, bytes: usize) {
        self.window_bytes += bytes as u64;
    }

    /// Whether a raised low-water mark is in force (waits then need the stall deadline).
    pub(crate) fn raised(&self) -> bool {
        self.low_water > 1
    }

    /// Called when the queue is empty: once per rate window, picks the low-water mark for
    /// the measured rate and sets it on `socket` if it changed.
    pub(crate) fn retune(&mut self, socket: &impl AsFd, now: Instant) {
        let elapsed = now.saturating_duration_since(self.window_start);
        if elapsed < RATE_WINDOW {
            return;
        }
        let per_target =
            self.window_bytes as f64 * TARGET_DELAY.as_secs_f64() / elapsed.as_secs_f64();
        self.window_start = now;
        self.window_bytes = 0;
        // A quarter of the receive buffer at most: a larger mark would make the kernel
        // grow the buffer and clamp the advertised window to the mark.
        let buffer = SockRef::from(socket).recv_buffer_size().unwrap_or(0);
        let wanted = (per_target as usize).min(MAX_LOW_WATER).min(buffer / 4) / STEP * STEP;
        self.set(socket, wanted.max(1));
    }

    /// The stream went quiet with a raised mark, or the reader is told to stop: wake on
    /// any data again (the kernel signals at once if some is queued).
    pub(crate) fn lower(&mut self, socket: &impl AsFd, now: Instant) {
        self.window_start = now;
        self.window_bytes = 0;
        self.set(socket, 1);
    }

    /// Batching is only an optimisation: where the kernel refuses the option, the mark
    /// simply stays where it was.
    fn set(&mut self, socket: &impl AsFd, low_water: usize) {
        if low_water != self.low_water && set_receive_low_water(socket, low_water).is_ok() {
            self.low_water = low_water;
        }
    }
}

/// Sets `SO_RCVLOWAT` (socket2 has no setter for it).
fn set_receive_low_water(socket: &impl AsFd, bytes: usize) -> io::Result<()> {
    let value = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    // SAFETY: the descriptor is open for the duration of the call (borrowed); the option
    // value is a valid `c_int` whose exact size is passed.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_fd().as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVLOWAT,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Reads `SO_RCVLOWAT` back, for tests.
#[cfg(test)]
pub(crate) fn receive_low_water(socket: &impl AsFd) -> io::Result<usize> {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: the descriptor is open for the call; `value` and `len` are valid and writable,
    // and `len` holds the exact size of `value`.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_fd().as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVLOWAT,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(value as usize)
}
