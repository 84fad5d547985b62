use std::time::Duration;

use serde::Deserialize;
use testrig::BuildError;
use testrig::service::RetryPolicy;

use super::InvalidOption;
use crate::rig::fields::RigDuration;

/// `reconnect = { ... }` of a `tcp_client`: how it retries after a failed
/// connect or a lost connection. Either `delay` (the same wait every time) or
/// an exponential backoff `min(initial · factor^attempt, max) + jitter` whose
/// unset keys take Twisted's defaults (1 s, 60 s, 1.5, 1 s).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReconnectOptions {
    delay: Option<RigDuration>,
    initial: Option<RigDuration>,
    max: Option<RigDuration>,
    factor: Option<f64>,
    jitter: Option<RigDuration>,
}

impl ReconnectOptions {
    /// Checks the numbers; the policy is built again for every start.
    pub(crate) fn validate(&self) -> Result<(), InvalidOption> {
        if self.delay.is_some() {
            let exponential = [
                ("initial", self.initial.is_some()),
                ("max", self.max.is_some()),
                ("factor", self.factor.is_some()),
                ("jitter", self.jitter.is_some()),
            ];
            if let Some((key, _)) = exponential.iter().find(|(_, set)| *set) {
                return Err(InvalidOption::new(
                    format!("reconnect.{key}"),
                    format!(
                        "`delay` (a constant wait) and `{key}` (an exponential backoff) cannot be used together"
                    ),
                ));
            }
        }
        self.try_policy().map(drop).map_err(|e| {
            let key = match &e {
                BuildError::RetryPolicySeconds { field, .. } => format!("reconnect.{field}"),
                BuildError::RetryPolicyFactor { .. } => "reconnect.factor".to_owned(),
                BuildError::RetryPolicyMaxBelowInitial { .. } => "reconnect.max".to_owned(),
                _ => "reconnect".to_owned(),
            };
            InvalidOption::new(key, e.to_string())
        })
    }

    /// The policy; call only after [`validate`](Self::validate) succeeded.
    pub(crate) fn policy(&self) -> RetryPolicy {
        self.try_policy()
            .expect("the retry policy was validated when the rig was loaded")
    }

    fn try_policy(&self) -> Result<RetryPolicy, BuildError> {
        if let Some(delay) = self.delay {
            return Ok(RetryPolicy::constant(delay.0));
        }
        // Twisted's defaults for the keys left out.
        let seconds = |value: Option<RigDuration>, default: u64| {
            value.map_or(Duration::from_secs(default), |value| value.0)
        };
        let policy = RetryPolicy::exponential(
            seconds(self.initial, 1),
            self.factor.unwrap_or(1.5),
            seconds(self.max, 60),
        )?;
        Ok(policy.jitter(seconds(self.jitter, 1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(text: &str) -> ReconnectOptions {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn max_below_initial_and_a_small_factor_name_their_key() {
        let error = options("initial = '2s'\nmax = '1s'")
            .validate()
            .unwrap_err();
        assert_eq!(error.key, "reconnect.max");
        assert!(error.message.contains("must be at least `initial`"));
        assert_eq!(
            options("factor = 0.5").validate().unwrap_err().key,
            "reconnect.factor"
        );
    }

    #[test]
    fn a_constant_delay_excludes_the_exponential_keys() {
        assert!(options("delay = '20ms'").validate().is_ok());
        let error = options("delay = '20ms'\nfactor = 2.0")
            .validate()
            .unwrap_err();
        assert_eq!(error.key, "reconnect.factor");
    }

    #[test]
    fn the_exponential_policy_uses_the_given_numbers() {
        let mut policy = options("initial = '10ms'\nmax = '40ms'\nfactor = 2\njitter = 0").policy();
        assert_eq!(policy.delay(1), Some(std::time::Duration::from_millis(20)));
        assert_eq!(policy.delay(5), Some(std::time::Duration::from_millis(40)));
    }
}
