use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A link rate, in bits per second.
///
/// Written as a number and a unit: `bit`, `kbit`, `mbit`, `gbit` (powers of 1000, as `tc`
/// reads them), e.g. `100mbit`, `1.5gbit`.
///
/// # Examples
/// ```
/// use testrig::network::Rate;
///
/// assert_eq!("100mbit".parse::<Rate>().unwrap(), Rate::mbit(100));
/// assert_eq!(Rate::mbit(100).bits_per_second(), 100_000_000);
/// assert!("fast".parse::<Rate>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rate(u64);

impl Rate {
    /// `bits` bits per second.
    pub const fn bits(bits: u64) -> Rate {
        Rate(bits)
    }

    /// `kbit` × 1000 bits per second.
    pub const fn kbit(kbit: u64) -> Rate {
        Rate(kbit * 1_000)
    }

    /// `mbit` × 10⁶ bits per second.
    pub const fn mbit(mbit: u64) -> Rate {
        Rate(mbit * 1_000_000)
    }

    /// `gbit` × 10⁹ bits per second.
    pub const fn gbit(gbit: u64) -> Rate {
        Rate(gbit * 1_000_000_000)
    }

    /// The rate in bits per second.
    pub fn bits_per_second(&self) -> u64 {
        self.0
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}bit", self.0)
    }
}

/// Why a text is not a [`Rate`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a rate: write a positive number and bit, kbit, mbit or gbit (e.g. 100mbit)")]
pub struct RateParseError(String);

impl FromStr for Rate {
    type Err = RateParseError;

    fn from_str(text: &str) -> Result<Rate, RateParseError> {
        let error = || RateParseError(text.to_owned());
        let lower = text.trim().to_ascii_lowercase();
        let split = lower
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(error)?;
        let (number, unit) = lower.split_at(split);
        let number: f64 = number.parse().map_err(|_| error())?;
        let scale = match unit.trim() {
            "bit" => 1.0,
            "kbit" => 1e3,
            "mbit" => 1e6,
            "gbit" => 1e9,
            _ => return Err(error()),
        };
        let bits = (number * scale).round();
        // tc's rates are 64-bit byte counts; far below that, 1 bit/s is the least that means
        // anything.
        if !(1.0..=1e15).contains(&bits) {
            return Err(error());
        }
        Ok(Rate(bits as u64))
    }
}

/// How a rate is enforced: a token bucket (`tbf`, the default) or a hierarchical token
/// bucket class (`htb`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Shaper {
    /// `tbf`: one token bucket on the interface's root.
    #[default]
    Tbf,
    /// `htb`: one class of a hierarchical token bucket, rate and ceiling both the rate.
    Htb,
}

/// Network emulation (`netem`) of one direction of a link: delay, jitter, loss, reordering,
/// duplication. Needs the kernel's `sch_netem`; where it is missing, starting the network
/// (or changing a link to use it) is an error naming it.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use testrig::network::Netem;
///
/// let wan = Netem::new().delay(Duration::from_millis(20)).jitter(Duration::from_millis(2)).loss(0.5);
/// # let _ = wan;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[must_use]
pub struct Netem {
    pub(crate) delay: Duration,
    pub(crate) jitter: Duration,
    pub(crate) loss: f64,
    pub(crate) reorder: f64,
    pub(crate) duplicate: f64,
}

impl Netem {
    /// No emulation yet: add some with the methods below.
    pub fn new() -> Netem {
        Netem::default()
    }

    /// Every packet waits `delay` before it is sent.
    pub fn delay(self, delay: Duration) -> Netem {
        Netem { delay, ..self }
    }

    /// The delay varies by up to `jitter` either way.
    pub fn jitter(self, jitter: Duration) -> Netem {
        Netem { jitter, ..self }
    }

    /// `percent` of the packets are dropped.
    pub fn loss(self, percent: f64) -> Netem {
        Netem {
            loss: percent,
            ..self
        }
    }

    /// `percent` of the packets skip the delay, so they overtake others (needs a delay).
    pub fn reorder(self, percent: f64) -> Netem {
        Netem {
            reorder: percent,
            ..self
        }
    }

    /// `percent` of the packets are sent twice.
    pub fn duplicate(self, percent: f64) -> Netem {
        Netem {
            duplicate: percent,
            ..self
        }
    }

    /// The first field that is out of range, with its value, for the declaration error.
    pub(crate) fn invalid_field(&self) -> Option<(&'static str, String, &'static str)> {
        for (field, value) in [
            ("netem.loss", self.loss),
            ("netem.reorder", self.reorder),
            ("netem.duplicate", self.duplicate),
        ] {
            if !(0.0..=100.0).contains(&value) {
                return Some((
                    field,
                    value.to_string(),
                    "a percentage is between 0 and 100",
                ));
            }
        }
        if self.reorder > 0.0 && self.delay.is_zero() {
            return Some((
                "netem.reorder",
                self.reorder.to_string(),
                "reordering needs a delay for the other packets to wait",
            ));
        }
        None
    }
}

/// What one direction of a link does to the packets it carries: a rate, netem, or both.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct Shaping {
    pub(crate) rate: Option<Rate>,
    pub(crate) netem: Option<Netem>,
}

impl Shaping {
    pub(crate) fn is_none(&self) -> bool {
        self.rate.is_none() && self.netem.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_read_as_tc_reads_them() {
        assert_eq!("100mbit".parse::<Rate>().unwrap(), Rate::mbit(100));
        assert_eq!(
            "1.5Gbit".parse::<Rate>().unwrap(),
            Rate::bits(1_500_000_000)
        );
        assert_eq!("800kbit".parse::<Rate>().unwrap(), Rate::kbit(800));
        assert_eq!(Rate::mbit(3).to_string(), "3000000bit");
    }

    #[test]
    fn rates_without_a_unit_or_with_nothing_to_send_are_refused() {
        for text in ["100", "mbit", "0mbit", "-3mbit", "10 furlongs", ""] {
            assert!(text.parse::<Rate>().is_err(), "{text}");
        }
    }

    #[test]
    fn netem_percentages_are_checked() {
        assert!(Netem::new().loss(1.0).invalid_field().is_none());
        let (field, value, _) = Netem::new().loss(140.0).invalid_field().unwrap();
        assert_eq!((field, value.as_str()), ("netem.loss", "140"));
        assert!(Netem::new().reorder(5.0).invalid_field().is_some());
    }
}
