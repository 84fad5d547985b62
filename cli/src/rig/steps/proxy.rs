use std::ops::Range;
use std::time::Duration;

use serde::Deserialize;
use testrig::{BoxError, Environment};
use testrig_drivers::fault_proxy::FaultProxy;
use toml::Spanned;

use super::{StepCheck, StepKind, StepRun};
use crate::progress::Notes;
use crate::rig::Problem;
use crate::rig::fields::RigDuration;

/// How long `connections` is waited for when the step sets no `timeout`.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// `kind = "proxy"`: `disable`s a `fault_proxy` (every connection closed, new ones
/// refused: the link is down), `enable`s it again, or `reset`s it (every toxic
/// removed, enabled). With `connections = N`, the step then waits (up to
/// `timeout`, default 5 s) until N connections are open through it: clients that
/// reconnected.
///
/// ```toml
/// [[step]]
/// kind = "proxy"
/// driver = "proxy"
/// action = "enable"       # disable | enable | reset
/// connections = 1         # optional: wait for a client to be back
/// timeout = "5s"
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProxyStep {
    driver: Spanned<String>,
    action: ProxyAction,
    connections: Option<usize>,
    timeout: Option<RigDuration>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum ProxyAction {
    Disable,
    Enable,
    Reset,
}

impl ProxyStep {
    pub(crate) async fn run(&self, env: &Environment) -> Result<String, BoxError> {
        let driver = self.driver.get_ref();
        let proxy = env.get::<FaultProxy>(driver)?;
        let done = match self.action {
            ProxyAction::Disable => {
                proxy.disable().await?;
                "disabled"
            }
            ProxyAction::Enable => {
                proxy.enable().await?;
                "enabled"
            }
            ProxyAction::Reset => {
                proxy.reset().await?;
                "reset"
            }
        };
        let Some(wanted) = self.connections else {
            return Ok(format!("{done} `{driver}`"));
        };
        let timeout = self.timeout.map_or(DEFAULT_TIMEOUT, |t| t.0);
        if !proxy
            .wait_open_connections(|open| open >= wanted, timeout)
            .await
        {
            return Err(format!(
                "{done} `{driver}`, then waited {timeout:?} for {wanted} open connection(s); {} open",
                proxy.open_connections()
            )
            .into());
        }
        Ok(format!(
            "{done} `{driver}`; {wanted} connection(s) open through it"
        ))
    }
}

impl StepKind for ProxyStep {
    fn check(&self, _table: Range<usize>, check: &StepCheck) -> Result<(), Problem> {
        check.driver(&self.driver, &["fault_proxy"])
    }

    fn run<'a>(&'a self, env: &'a Environment, _notes: Notes) -> StepRun<'a> {
        Box::pin(Self::run(self, env))
    }
}
