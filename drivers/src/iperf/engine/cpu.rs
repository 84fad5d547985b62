//! CPU use of this process over a span, as iperf3 reports it (percent of one core).

use std::time::Instant;

/// Process CPU times at one instant.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CpuSample {
    wall: Instant,
    user_us: u64,
    system_us: u64,
}

/// Percentages over a span: total, user, system.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct CpuPercent {
    pub(crate) total: f64,
    pub(crate) user: f64,
    pub(crate) system: f64,
}

impl CpuSample {
    pub(crate) fn now() -> Self {
        let (user_us, system_us) = rusage_self();
        Self {
            wall: Instant::now(),
            user_us,
            system_us,
        }
    }

    /// CPU use between `self` and `later`.
    pub(crate) fn until(&self, later: &CpuSample) -> CpuPercent {
        let wall_us = later.wall.duration_since(self.wall).as_micros() as f64;
        if wall_us <= 0.0 {
            return CpuPercent::default();
        }
        let user = later.user_us.saturating_sub(self.user_us) as f64 * 100.0 / wall_us;
        let system = later.system_us.saturating_sub(self.system_us) as f64 * 100.0 / wall_us;
        CpuPercent {
            total: user + system,
            user,
            system,
        }
    }
}

/// User and system CPU microseconds used by this process so far.
fn rusage_self() -> (u64, u64) {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a complete `rusage` into the pointer it is given, which points
    // to properly sized, writable memory; RUSAGE_SELF is always valid.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) };
    if rc != 0 {
        return (0, 0);
    }
    // SAFETY: getrusage returned 0, so it initialised the struct (and it was zeroed anyway).
    let usage = unsafe { usage.assume_init() };
    let micros = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    (micros(usage.ru_utime), micros(usage.ru_stime))
}
