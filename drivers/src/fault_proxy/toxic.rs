use serde::{Deserialize, Serialize};

use super::FaultProxyError;

/// Which way a toxic acts, in Toxiproxy's words: `upstream` is client → server,
/// `downstream` (the default) is server → client.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    /// Client → server: what the client sends.
    Upstream,
    /// Server → client: what the client receives.
    #[default]
    Downstream,
}

impl Stream {
    /// `upstream` or `downstream`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Upstream => "upstream",
            Self::Downstream => "downstream",
        }
    }
}

impl std::fmt::Display for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a toxic does, with Toxiproxy's type names, attributes and units (its JSON
/// shape: `"type"` and `"attributes"`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "attributes", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ToxicKind {
    /// Delays each piece of data by `latency` ms, ± up to `jitter` ms (uniform).
    Latency {
        /// Milliseconds added to every piece of data.
        latency: u64,
        /// Up to this many milliseconds more or less, chosen per piece.
        #[serde(default)]
        jitter: u64,
    },
    /// Limits the rate to `rate` KB/s (1 KB = 1000 bytes); 0 is unlimited.
    Bandwidth {
        /// Kilobytes per second.
        rate: u64,
    },
    /// Delays the close (the FIN) by `delay` ms once the sender has closed.
    SlowClose {
        /// Milliseconds.
        delay: u64,
    },
    /// Stops all data (it is dropped) and closes the connection after `timeout` ms;
    /// 0 holds it open with no data until the toxic is removed.
    Timeout {
        /// Milliseconds; 0: never close.
        timeout: u64,
    },
    /// On the first data after it applies, drops the data and resets both sides
    /// (TCP RST, `SO_LINGER` 0) `timeout` ms later; 0 at once.
    ResetPeer {
        /// Milliseconds.
        timeout: u64,
    },
    /// Slices data into pieces of `average_size` ± `size_variation` bytes, `delay` µs
    /// apart.
    Slicer {
        /// Bytes per piece on average.
        average_size: u64,
        /// Bytes more or less; below `average_size`.
        #[serde(default)]
        size_variation: u64,
        /// Microseconds between pieces.
        #[serde(default)]
        delay: u64,
    },
    /// Lets `bytes` bytes through, then closes the connection.
    LimitData {
        /// Bytes let through.
        bytes: u64,
    },
    /// Does nothing: the data passes as it came (Toxiproxy's `noop`, no attributes).
    Noop {},
}

impl ToxicKind {
    /// Toxiproxy's type name (`latency`, `slow_close`…).
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Latency { .. } => "latency",
            Self::Bandwidth { .. } => "bandwidth",
            Self::SlowClose { .. } => "slow_close",
            Self::Timeout { .. } => "timeout",
            Self::ResetPeer { .. } => "reset_peer",
            Self::Slicer { .. } => "slicer",
            Self::LimitData { .. } => "limit_data",
            Self::Noop {} => "noop",
        }
    }
}

/// Toxiproxy's name for a toxic not given one: `<type>_<stream>`.
fn default_name(kind: &ToxicKind, stream: Stream) -> String {
    format!("{}_{stream}", kind.type_name())
}

fn default_toxicity() -> f32 {
    1.0
}

/// Which toxicities a check takes.
#[derive(Clone, Copy)]
enum Toxicity {
    /// 0 to 1.
    Probability,
    /// Any finite number.
    Any,
}

/// A toxic: what it does ([`ToxicKind`]), on which [`Stream`], under which name, and
/// the probability (`toxicity`, 0 to 1, default 1) that it applies to a connection.
///
/// The name defaults to Toxiproxy's, `<type>_<stream>` (`latency_downstream`).
/// Serialized, it is Toxiproxy's JSON for a toxic.
///
/// # Examples
/// ```
/// use testrig_drivers::fault_proxy::{Stream, Toxic};
///
/// let toxic = Toxic::latency(100, 10).upstream();
/// assert_eq!(toxic.name(), "latency_upstream");
/// assert_eq!(toxic.stream(), Stream::Upstream);
///
/// let half = Toxic::bandwidth(64).named("slow link").toxicity(0.5);
/// assert_eq!(half.name(), "slow link");
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Toxic {
    #[serde(default)]
    name: String,
    #[serde(default)]
    stream: Stream,
    #[serde(default = "default_toxicity")]
    toxicity: f32,
    #[serde(flatten)]
    kind: ToxicKind,
}

impl Toxic {
    /// A toxic of this kind, downstream, toxicity 1, named `<type>_downstream`.
    pub fn new(kind: ToxicKind) -> Self {
        Self {
            name: default_name(&kind, Stream::Downstream),
            stream: Stream::Downstream,
            toxicity: 1.0,
            kind,
        }
    }

    /// `latency` ms added to every piece of data, ± `jitter` ms.
    pub fn latency(latency: u64, jitter: u64) -> Self {
        Self::new(ToxicKind::Latency { latency, jitter })
    }

    /// At most `rate` KB/s.
    pub fn bandwidth(rate: u64) -> Self {
        Self::new(ToxicKind::Bandwidth { rate })
    }

    /// The close delayed by `delay` ms.
    pub fn slow_close(delay: u64) -> Self {
        Self::new(ToxicKind::SlowClose { delay })
    }

    /// No data, and closed after `timeout` ms (0: held open).
    pub fn timeout(timeout: u64) -> Self {
        Self::new(ToxicKind::Timeout { timeout })
    }

    /// Reset (RST) `timeout` ms after the first data.
    pub fn reset_peer(timeout: u64) -> Self {
        Self::new(ToxicKind::ResetPeer { timeout })
    }

    /// Data sliced into `average_size` ± `size_variation` byte pieces, `delay` µs apart.
    pub fn slicer(average_size: u64, size_variation: u64, delay: u64) -> Self {
        Self::new(ToxicKind::Slicer {
            average_size,
            size_variation,
            delay,
        })
    }

    /// `bytes` bytes let through, then the connection closed.
    pub fn limit_data(bytes: u64) -> Self {
        Self::new(ToxicKind::LimitData { bytes })
    }

    /// Does nothing (Toxiproxy's `noop`).
    pub fn noop() -> Self {
        Self::new(ToxicKind::Noop {})
    }

    /// Names the toxic (unique within its proxy).
    #[must_use]
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Acts on this stream.
    #[must_use]
    pub fn stream_on(mut self, stream: Stream) -> Self {
        if self.name == default_name(&self.kind, self.stream) {
            self.name = default_name(&self.kind, stream);
        }
        self.stream = stream;
        self
    }

    /// Acts client → server.
    #[must_use]
    pub fn upstream(self) -> Self {
        self.stream_on(Stream::Upstream)
    }

    /// Acts server → client (the default).
    #[must_use]
    pub fn downstream(self) -> Self {
        self.stream_on(Stream::Downstream)
    }

    /// The probability, 0 to 1, that the toxic applies to a connection.
    #[must_use]
    pub fn toxicity(mut self, toxicity: f32) -> Self {
        self.toxicity = toxicity;
        self
    }

    /// Its name: the one given, or `<type>_<stream>`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The stream it acts on.
    pub fn stream(&self) -> Stream {
        self.stream
    }

    /// The probability that it applies to a connection.
    pub fn probability(&self) -> f32 {
        self.toxicity
    }

    /// What it does.
    pub fn kind(&self) -> &ToxicKind {
        &self.kind
    }

    /// Gives it its default name if it has none, and checks its attributes.
    pub(crate) fn validated(self, proxy: &str) -> Result<Self, FaultProxyError> {
        self.checked(proxy, Toxicity::Probability)
    }

    /// As [`validated`](Self::validated), but any toxicity (as Toxiproxy's API
    /// takes it: above 1 always applies, below 0 never).
    pub(crate) fn validated_any_toxicity(self, proxy: &str) -> Result<Self, FaultProxyError> {
        self.checked(proxy, Toxicity::Any)
    }

    fn checked(mut self, proxy: &str, toxicity: Toxicity) -> Result<Self, FaultProxyError> {
        if self.name.is_empty() {
            self.name = default_name(&self.kind, self.stream);
        }
        let invalid = |field: &'static str, value: String, expected: &'static str| {
            FaultProxyError::InvalidToxic {
                proxy: proxy.to_owned(),
                toxic: self.name.clone(),
                field,
                value,
                expected,
            }
        };
        let allowed = match toxicity {
            Toxicity::Probability => (0.0..=1.0).contains(&self.toxicity),
            Toxicity::Any => self.toxicity.is_finite(),
        };
        if !allowed {
            return Err(invalid(
                "toxicity",
                self.toxicity.to_string(),
                "a probability from 0 to 1",
            ));
        }
        if let ToxicKind::Slicer {
            average_size,
            size_variation,
            ..
        } = self.kind
        {
            if average_size == 0 {
                return Err(invalid("average_size", "0".into(), "at least 1 byte"));
            }
            if size_variation >= average_size {
                return Err(invalid(
                    "size_variation",
                    size_variation.to_string(),
                    "less than average_size",
                ));
            }
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_toxic_serializes_as_toxiproxy_json() {
        let toxic = Toxic::latency(100, 5).upstream().validated("p").unwrap();
        let json = serde_json::to_value(&toxic).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "name": "latency_upstream", "stream": "upstream", "toxicity": 1.0,
                "type": "latency", "attributes": {"latency": 100, "jitter": 5}
            })
        );
        let back: Toxic = serde_json::from_value(json).unwrap();
        assert_eq!(back, toxic);
    }

    #[test]
    fn a_toxicity_outside_zero_to_one_is_refused_naming_the_field() {
        let error = Toxic::timeout(0).toxicity(1.5).validated("p").unwrap_err();
        assert!(error.to_string().contains("toxicity"), "{error}");
    }

    #[test]
    fn a_slicer_variation_not_below_its_average_is_refused() {
        assert!(Toxic::slicer(10, 10, 0).validated("p").is_err());
        assert!(Toxic::slicer(0, 0, 0).validated("p").is_err());
        assert!(Toxic::slicer(10, 9, 0).validated("p").is_ok());
    }
}
