//! How long a [`ClientService`](super::ClientService) waits before its next connection attempt.

use std::fmt;
use std::time::Duration;

use super::jitter::Jitter;
use crate::error::BuildError;

/// How long to wait before the next connection attempt, as a function of the number of
/// consecutive failed attempts.
///
/// The service counts failed attempts (a refused connect, a timeout, a rejection by
/// `prepare_connection`, or the loss of a live connection) exactly as Twisted's
/// `ClientService` does: the counter is incremented **before** the policy is asked, so the
/// first retry asks for attempt `1`; it goes back to zero only when a connection is made
/// **and** `prepare_connection` accepted it (and when the service is started again).
///
/// A policy that returns `None` gives up: the service stops and every pending
/// [`when_connected`](super::ClientService::when_connected) fails with
/// [`ServiceError::GaveUp`](super::ServiceError::GaveUp).
///
/// A policy built from a function or an iterator gives its delays as they are; an
/// exponential one (Twisted's) is validated when it is made. [`jitter`](Self::jitter) adds a
/// random wait to the delays of any policy.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use testrig::service::RetryPolicy;
///
/// // Twisted's default: min(1 s · 1.5^attempt, 60 s) + uniform jitter in [0, 1 s).
/// let default = RetryPolicy::twisted();
///
/// // Faster, for tests: 50 ms doubling up to 2 s, no jitter.
/// let fast = RetryPolicy::exponential(Duration::from_millis(50), 2.0, Duration::from_secs(2))?;
///
/// // Any cloneable iterator of delays: three retries, then give up.
/// let mut three = RetryPolicy::from_delays([Duration::from_millis(10); 3]);
/// assert_eq!(three.delay(3), Some(Duration::from_millis(10)));
/// assert_eq!(three.delay(4), None);
/// # Ok::<(), testrig::BuildError>(())
/// ```
pub struct RetryPolicy {
    kind: Kind,
    jitter: Option<JitterSource>,
}

enum Kind {
    Exponential(Exponential),
    Function(Box<dyn FnMut(u32) -> Option<Duration> + Send>),
}

impl RetryPolicy {
    /// Twisted's default policy: `min(1 s · 1.5^min(attempt, 100), 60 s)` plus a jitter
    /// uniform in `[0, 1 s)` added after the cap (so delays reach at most 61 s).
    pub fn twisted() -> Self {
        Self::exponential(Duration::from_secs(1), 1.5, Duration::from_secs(60))
            .expect("the default exponential policy is valid")
            .jitter(Duration::from_secs(1))
    }

    /// An exponential backoff: `delay(attempt) = min(initial · factor^min(attempt, 100), max)`,
    /// without jitter (add one with [`jitter`](Self::jitter); [`twisted`](Self::twisted) is
    /// this with 1 s, 1.5, 60 s and a jitter of up to 1 s).
    ///
    /// # Errors
    ///
    /// [`BuildError`] naming the field and its value when the factor is not a finite
    /// number of at least 1, when `max` is below `initial`, or when a duration is too large
    /// to compute with.
    pub fn exponential(initial: Duration, factor: f64, max: Duration) -> Result<Self, BuildError> {
        let exponential = Exponential::new(initial.as_secs_f64(), factor, max.as_secs_f64())?;
        Ok(Self {
            kind: Kind::Exponential(exponential),
            jitter: None,
        })
    }

    /// The same delay before every attempt, forever. `constant(Duration::ZERO)` retries at
    /// once: reconnection still goes through the `waiting` state, but without arming a timer.
    /// Against a target that keeps refusing, that retries in a busy loop: meant for benchmarks
    /// and for targets known to come back quickly.
    pub fn constant(delay: Duration) -> Self {
        Self::from_fn(move |_| Some(delay))
    }

    /// The `n`-th consecutive failure waits for the `n`-th delay of the iterator; when the
    /// iterator is exhausted the service gives up (so `from_delays([])` never retries: the
    /// first failed attempt, or lost connection, stops the service).
    ///
    /// The iterator must be `Clone` because the sequence starts again from its first
    /// element whenever the failure counter is reset (a connection was made). For an
    /// iterator that cannot be cloned, use [`RetryPolicy::from_iterator`].
    pub fn from_delays<I>(delays: I) -> Self
    where
        I: IntoIterator<Item = Duration>,
        I::IntoIter: Clone + Send + 'static,
    {
        let mut sequence = RestartableSequence::new(delays.into_iter());
        Self::from_fn(move |attempt| sequence.delay(attempt))
    }

    /// Any iterator of delays, e.g. one from a backoff crate: each retry takes the
    /// iterator's next delay; when it is exhausted the service gives up.
    ///
    /// Unlike [`from_delays`](Self::from_delays), the iterator is not restarted when
    /// the failure counter resets (it cannot be, without `Clone`): after a successful
    /// connection the next retry continues the sequence.
    ///
    /// ```
    /// use std::time::Duration;
    /// use testrig::service::RetryPolicy;
    ///
    /// let doubling = std::iter::successors(Some(Duration::from_millis(10)), |d| Some(*d * 2));
    /// let mut policy = RetryPolicy::from_iterator(doubling.take(2));
    /// assert_eq!(policy.delay(1), Some(Duration::from_millis(10)));
    /// assert_eq!(policy.delay(2), Some(Duration::from_millis(20)));
    /// assert_eq!(policy.delay(3), None);
    /// ```
    pub fn from_iterator<I>(delays: I) -> Self
    where
        I: IntoIterator<Item = Duration>,
        I::IntoIter: Send + 'static,
    {
        let mut delays = delays.into_iter();
        Self::from_fn(move |_| delays.next())
    }

    /// A policy computed by a function of the consecutive failed-attempt count (`1` for
    /// the first retry). Returning `None` gives up.
    pub fn from_fn(policy: impl FnMut(u32) -> Option<Duration> + Send + 'static) -> Self {
        Self {
            kind: Kind::Function(Box::new(policy)),
            jitter: None,
        }
    }

    /// Adds a wait uniform in `[0, max)` to every delay of the policy (after an exponential
    /// policy's cap, as Twisted does), so that many clients do not retry in step. A zero
    /// `max` removes the jitter.
    pub fn jitter(mut self, max: Duration) -> Self {
        self.jitter = (!max.is_zero()).then(|| JitterSource::Uniform(Jitter::uniform(max)));
        self
    }

    /// Adds the wait `jitter` returns to every delay instead (for example a fixed value in
    /// tests).
    pub fn jitter_with(mut self, jitter: impl FnMut() -> Duration + Send + 'static) -> Self {
        self.jitter = Some(JitterSource::Custom(Box::new(jitter)));
        self
    }

    /// The delay before the next attempt after `failed_attempts` consecutive failures, or
    /// `None` to give up.
    pub fn delay(&mut self, failed_attempts: u32) -> Option<Duration> {
        let delay = match &mut self.kind {
            Kind::Exponential(exponential) => exponential.delay(failed_attempts),
            Kind::Function(policy) => policy(failed_attempts)?,
        };
        match &mut self.jitter {
            Some(jitter) => Some(delay.saturating_add(jitter.next())),
            None => Some(delay),
        }
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::twisted()
    }
}

impl fmt::Debug for RetryPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let jitter = match &self.jitter {
            None => "none".to_owned(),
            Some(JitterSource::Uniform(jitter)) => format!("uniform, {jitter:?}"),
            Some(JitterSource::Custom(_)) => "custom".to_owned(),
        };
        match &self.kind {
            Kind::Exponential(exponential) => f
                .debug_struct("RetryPolicy::Exponential")
                .field("initial_secs", &exponential.initial)
                .field("max_secs", &exponential.max)
                .field("factor", &exponential.factor)
                .field("jitter", &jitter)
                .finish(),
            Kind::Function(_) => f
                .debug_struct("RetryPolicy::Function")
                .field("jitter", &jitter)
                .finish_non_exhaustive(),
        }
    }
}

/// Twisted's exponent clamp: past 100 the cap is always reached for any factor > 1.0001,
/// and clamping keeps the computation finite for a huge attempt count.
const MAX_EXPONENT: u32 = 100;

/// `min(initial · factor^min(attempt, 100), max)`, in seconds.
struct Exponential {
    initial: f64,
    max: f64,
    factor: f64,
}

impl Exponential {
    /// Validates the inputs (in seconds, as a configuration file may give them).
    fn new(initial: f64, factor: f64, max: f64) -> Result<Self, BuildError> {
        let initial_duration = seconds("initial", initial)?;
        let max_duration = seconds("max", max)?;
        if !(factor.is_finite() && factor >= 1.0) {
            return Err(BuildError::RetryPolicyFactor { value: factor });
        }
        if max_duration < initial_duration {
            return Err(BuildError::RetryPolicyMaxBelowInitial {
                initial: initial_duration,
                max: max_duration,
            });
        }
        Ok(Self {
            initial,
            max,
            factor,
        })
    }

    fn delay(&self, attempt: u32) -> Duration {
        let exponent = attempt.min(MAX_EXPONENT) as i32;
        let grown = self.initial * self.factor.powi(exponent);
        // An overflow gives +inf, which `min` turns into the cap, as Twisted's
        // `except OverflowError: delay = maxDelay` does.
        let capped = grown.min(self.max);
        Duration::try_from_secs_f64(capped).unwrap_or(Duration::MAX)
    }
}

enum JitterSource {
    Uniform(Jitter),
    Custom(Box<dyn FnMut() -> Duration + Send>),
}

impl JitterSource {
    fn next(&mut self) -> Duration {
        match self {
            Self::Uniform(jitter) => jitter.next(),
            Self::Custom(jitter) => jitter(),
        }
    }
}

fn seconds(field: &'static str, value: f64) -> Result<Duration, BuildError> {
    if value < 0.0 {
        return Err(BuildError::RetryPolicySeconds { field, value });
    }
    Duration::try_from_secs_f64(value).map_err(|_| BuildError::RetryPolicySeconds { field, value })
}

/// An iterator of delays that starts again from its first element when the failure
/// counter is reset.
struct RestartableSequence<I> {
    start: I,
    current: I,
    /// How many delays `current` has yielded.
    taken: u32,
}

impl<I: Iterator<Item = Duration> + Clone> RestartableSequence<I> {
    fn new(start: I) -> Self {
        Self {
            current: start.clone(),
            start,
            taken: 0,
        }
    }

    /// The `attempt`-th delay (1-based; 0 is read as 1).
    fn delay(&mut self, attempt: u32) -> Option<Duration> {
        let wanted = attempt.max(1);
        if wanted <= self.taken {
            self.current = self.start.clone();
            self.taken = 0;
        }
        while self.taken + 1 < wanted {
            self.current.next()?;
            self.taken += 1;
        }
        self.taken += 1;
        self.current.next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn twisted_with_jitter_of_one_second() -> RetryPolicy {
        RetryPolicy::twisted().jitter_with(|| Duration::from_secs(1))
    }

    fn assert_secs(actual: Option<Duration>, expected: f64) {
        let actual = actual.expect("the policy retries").as_secs_f64();
        assert!(
            (actual - expected).abs() <= 1e-9,
            "expected {expected} s, got {actual} s"
        );
    }

    #[test]
    fn attempt_0_waits_2_seconds() {
        assert_secs(twisted_with_jitter_of_one_second().delay(0), 2.0);
    }

    #[test]
    fn attempt_1_waits_2_and_a_half_seconds() {
        assert_secs(twisted_with_jitter_of_one_second().delay(1), 2.5);
    }

    #[test]
    fn attempt_10_waits_58_6650390625_seconds() {
        assert_secs(twisted_with_jitter_of_one_second().delay(10), 58.6650390625);
    }

    #[test]
    fn attempt_20_is_capped_at_61_seconds() {
        assert_secs(twisted_with_jitter_of_one_second().delay(20), 61.0);
    }

    #[test]
    fn attempt_100_is_capped_at_61_seconds() {
        assert_secs(twisted_with_jitter_of_one_second().delay(100), 61.0);
    }

    #[test]
    fn attempt_1751_does_not_overflow() {
        assert_secs(twisted_with_jitter_of_one_second().delay(1751), 61.0);
    }

    #[test]
    fn attempt_one_million_does_not_overflow() {
        assert_secs(twisted_with_jitter_of_one_second().delay(1_000_000), 61.0);
    }

    #[test]
    fn attempt_u32_max_does_not_overflow() {
        assert_secs(twisted_with_jitter_of_one_second().delay(u32::MAX), 61.0);
    }

    #[test]
    fn factor_1e10_at_attempt_1751_is_capped_at_61_seconds() {
        let mut policy =
            RetryPolicy::exponential(Duration::from_secs(1), 1e10, Duration::from_secs(60))
                .unwrap()
                .jitter_with(|| Duration::from_secs(1));
        assert_secs(policy.delay(1751), 61.0);
    }

    #[test]
    fn twisted_default_delays_stay_within_cap_plus_one_second_of_jitter() {
        let mut policy = RetryPolicy::twisted();
        for attempt in [1, 5, 20, 1000] {
            let delay = policy.delay(attempt).unwrap();
            let base = (1.5f64.powi(attempt.min(100) as i32)).min(60.0);
            let secs = delay.as_secs_f64();
            assert!(
                secs >= base - 1e-9 && secs < base + 1.0,
                "{attempt}: {secs}"
            );
        }
    }

    #[test]
    fn negative_initial_is_rejected_naming_the_field() {
        // Durations cannot be negative: a value read in seconds could (set here directly).
        let error = Exponential::new(-1.0, 1.5, 60.0).err().unwrap();
        assert_eq!(
            error,
            BuildError::RetryPolicySeconds {
                field: "initial",
                value: -1.0
            }
        );
        assert!(error.to_string().contains("`initial`"));
        assert!(error.to_string().contains("-1"));
    }

    #[test]
    fn nan_max_is_rejected() {
        let error = Exponential::new(1.0, 1.5, f64::NAN).err().unwrap();
        assert!(
            matches!(error, BuildError::RetryPolicySeconds { field: "max", value } if value.is_nan())
        );
    }

    #[test]
    fn infinite_jitter_is_rejected() {
        // A jitter is a `Duration` now; a value read in seconds goes through this check.
        let error = seconds("jitter", f64::INFINITY).unwrap_err();
        assert!(matches!(
            error,
            BuildError::RetryPolicySeconds {
                field: "jitter",
                ..
            }
        ));
    }

    #[test]
    fn max_below_initial_is_rejected() {
        let error = RetryPolicy::exponential(Duration::from_secs(10), 1.5, Duration::from_secs(5))
            .unwrap_err();
        assert_eq!(
            error,
            BuildError::RetryPolicyMaxBelowInitial {
                initial: Duration::from_secs(10),
                max: Duration::from_secs(5)
            }
        );
    }

    #[test]
    fn factor_below_one_nan_or_infinite_is_rejected() {
        for factor in [0.5, -2.0, f64::NAN, f64::INFINITY] {
            let error =
                RetryPolicy::exponential(Duration::from_secs(1), factor, Duration::from_secs(60))
                    .unwrap_err();
            assert!(
                matches!(error, BuildError::RetryPolicyFactor { .. }),
                "{factor}: {error}"
            );
            assert!(error.to_string().contains("`factor`"));
        }
    }

    #[test]
    fn zero_initial_and_zero_jitter_give_zero_delays() {
        let mut policy = RetryPolicy::exponential(Duration::ZERO, 1.5, Duration::from_secs(60))
            .unwrap()
            .jitter(Duration::ZERO);
        assert_eq!(policy.delay(5), Some(Duration::ZERO));
    }

    #[test]
    fn constant_policy_always_waits_the_same() {
        let mut policy = RetryPolicy::constant(Duration::from_millis(250));
        assert_eq!(policy.delay(1), Some(Duration::from_millis(250)));
        assert_eq!(policy.delay(1_000), Some(Duration::from_millis(250)));
    }

    #[test]
    fn never_policy_gives_up_at_once() {
        assert_eq!(RetryPolicy::from_delays([]).delay(1), None);
    }

    #[test]
    fn delays_from_an_iterator_are_used_in_order_then_give_up() {
        let ms = Duration::from_millis;
        let mut policy = RetryPolicy::from_delays(vec![ms(1), ms(2), ms(3)]);
        assert_eq!(policy.delay(1), Some(ms(1)));
        assert_eq!(policy.delay(2), Some(ms(2)));
        assert_eq!(policy.delay(3), Some(ms(3)));
        assert_eq!(policy.delay(4), None);
    }

    #[test]
    fn delays_from_an_iterator_restart_when_the_counter_resets() {
        let ms = Duration::from_millis;
        let mut policy = RetryPolicy::from_delays((1..).map(ms));
        assert_eq!(policy.delay(1), Some(ms(1)));
        assert_eq!(policy.delay(2), Some(ms(2)));
        assert_eq!(policy.delay(1), Some(ms(1)));
        assert_eq!(policy.delay(4), Some(ms(4)));
    }
}
