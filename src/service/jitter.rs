//! The random part of a retry delay: uniform in `[0, max)`, without an external crate.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A splitmix64 generator. Statistical quality is ample for spreading reconnects;
/// it is not meant for anything secret.
#[derive(Debug, Clone)]
pub(crate) struct Jitter {
    max: Duration,
    state: u64,
}

impl Jitter {
    /// Uniform jitter in `[0, max)`, seeded from the clock and the instance address so
    /// that many services started in the same instant still spread out.
    pub(crate) fn uniform(max: Duration) -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let local = 0u8;
        let address = std::ptr::addr_of!(local) as u64;
        Self {
            max,
            state: nanos ^ address.rotate_left(32),
        }
    }

    /// The next jitter value.
    pub(crate) fn next(&mut self) -> Duration {
        if self.max.is_zero() {
            return Duration::ZERO;
        }
        self.max.mul_f64(self.next_unit())
    }

    /// A float uniform in `[0, 1)`.
    fn next_unit(&mut self) -> f64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        // The top 53 bits make an exact f64 in [0, 1).
        (z >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_jitter_stays_below_its_maximum_and_varies() {
        let mut jitter = Jitter::uniform(Duration::from_secs(1));
        let values: Vec<Duration> = (0..1000).map(|_| jitter.next()).collect();
        assert!(values.iter().all(|v| *v < Duration::from_secs(1)));
        let below_half = values
            .iter()
            .filter(|v| **v < Duration::from_millis(500))
            .count();
        assert!(
            (350..650).contains(&below_half),
            "{below_half} of 1000 below 0.5 s"
        );
    }

    #[test]
    fn zero_jitter_is_always_zero() {
        let mut jitter = Jitter::uniform(Duration::ZERO);
        assert_eq!(jitter.next(), Duration::ZERO);
    }
}
