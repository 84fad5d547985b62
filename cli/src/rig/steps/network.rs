use std::ops::Range;

use serde::Deserialize;
use testrig::network::{Network, Rate};
use testrig::{BoxError, Environment};
use toml::Spanned;

use super::{StepCheck, StepKind, StepRun};
use crate::progress::Notes;
use crate::rig::Problem;
use crate::rig::network::NetemOptions;

/// `kind = "network"`: a fault on the rig's emulated network at run time, with
/// [`Network`]'s own verbs: `link_down` / `link_up` (the link or switch port
/// between two hosts, or a switch and a host on it), `set_rate` / `set_netem`
/// (both directions of `between`, or the one `from` → `to`), `partition` / `heal`
/// (two hosts, wherever they are). Needs the rights networks need (root or a user
/// namespace), as the network itself.
///
/// ```toml
/// [[step]]
/// kind = "network"
/// action = "set_rate"          # link_down | link_up | set_rate | set_netem | partition | heal
/// between = ["a", "b"]         # or, one direction: from = "a", to = "b"
/// rate = "10mbit"              # set_rate: "none" lifts the limit
/// # netem = { delay = "50ms" } # set_netem: `{}` removes it
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NetworkStep {
    action: Spanned<NetworkAction>,
    between: Option<Spanned<Vec<Spanned<String>>>>,
    from: Option<Spanned<String>>,
    to: Option<Spanned<String>>,
    rate: Option<Spanned<String>>,
    netem: Option<Spanned<NetemOptions>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum NetworkAction {
    LinkDown,
    LinkUp,
    SetRate,
    SetNetem,
    Partition,
    Heal,
}

impl NetworkAction {
    fn name(self) -> &'static str {
        match self {
            NetworkAction::LinkDown => "link_down",
            NetworkAction::LinkUp => "link_up",
            NetworkAction::SetRate => "set_rate",
            NetworkAction::SetNetem => "set_netem",
            NetworkAction::Partition => "partition",
            NetworkAction::Heal => "heal",
        }
    }

    /// Whether it acts on one direction of a link (`from` → `to`) as well as both.
    fn directed(self) -> bool {
        matches!(self, NetworkAction::SetRate | NetworkAction::SetNetem)
    }
}

/// The two ends a step acts on, and whether only `x` → `y` is meant.
struct Ends<'a> {
    x: &'a Spanned<String>,
    y: &'a Spanned<String>,
    one_way: bool,
}

impl NetworkStep {
    fn action(&self) -> NetworkAction {
        *self.action.get_ref()
    }

    /// The ends: `between`, or `from` and `to` for an action that has a
    /// direction; else the key at fault and why.
    fn ends(&self, table: &Range<usize>) -> Result<Ends<'_>, Problem> {
        let action = self.action();
        let name = action.name();
        match (&self.between, &self.from, &self.to) {
            (Some(between), None, None) => match &between.get_ref()[..] {
                [x, y] => Ok(Ends {
                    x,
                    y,
                    one_way: false,
                }),
                ends => Err(Problem::new(
                    between.span(),
                    format!(
                        "`between` names two hosts: `between = [\"a\", \"b\"]`, not {}",
                        ends.len()
                    ),
                )),
            },
            (None, Some(from), Some(to)) if action.directed() => Ok(Ends {
                x: from,
                y: to,
                one_way: true,
            }),
            (None, Some(end), _) | (None, _, Some(end)) if action.directed() => Err(Problem::new(
                end.span(),
                "one direction is `from` and `to`, both",
            )),
            (Some(between), Some(_), _) | (Some(between), _, Some(_)) => Err(Problem::new(
                between.span(),
                "give `between` (both directions) or `from` and `to` (one), not both",
            )),
            (None, Some(end), _) | (None, _, Some(end)) => Err(Problem::new(
                end.span(),
                format!(
                    "`{name}` acts on both directions: name the ends with `between = [\"a\", \"b\"]`"
                ),
            )),
            (None, None, None) => Err(Problem::new(
                table.clone(),
                format!("`{name}` needs the two ends: `between = [\"a\", \"b\"]`"),
            )),
        }
    }

    /// The rate `set_rate` sets: `None` lifts the limit.
    fn rate(&self, table: &Range<usize>) -> Result<Option<Rate>, Problem> {
        let Some(rate) = &self.rate else {
            return Err(Problem::new(
                table.clone(),
                "`set_rate` needs the `rate`: e.g. `rate = \"10mbit\"`, or `rate = \"none\"` to lift the limit",
            ));
        };
        if rate.get_ref() == "none" {
            return Ok(None);
        }
        rate.get_ref()
            .parse()
            .map(Some)
            .map_err(|error| Problem::new(rate.span(), format!("{error}, or \"none\"")))
    }

    fn check(&self, table: Range<usize>, check: &StepCheck) -> Result<(), Problem> {
        let action = self.action();
        let name = action.name();
        let ends = self.ends(&table)?;
        match action {
            NetworkAction::Partition | NetworkAction::Heal => {
                check.host(ends.x)?;
                check.host(ends.y)?;
            }
            _ => {
                let span = self.between.as_ref().map_or(table.clone(), Spanned::span);
                check.joined(ends.x, ends.y, span)?;
            }
        }
        match (action, &self.rate, &self.netem) {
            (NetworkAction::SetRate, _, None) => self.rate(&table).map(drop),
            (NetworkAction::SetNetem, None, Some(_)) => Ok(()),
            (NetworkAction::SetNetem, _, None) => Err(Problem::new(
                table,
                "`set_netem` needs the `netem`: e.g. `netem = { delay = \"50ms\" }`, or `netem = {}` to remove it",
            )),
            (_, Some(rate), _) => Err(Problem::new(
                rate.span(),
                format!("`rate` goes with `action = \"set_rate\"`, not `{name}`"),
            )),
            (_, None, Some(netem)) => Err(Problem::new(
                netem.span(),
                format!("`netem` goes with `action = \"set_netem\"`, not `{name}`"),
            )),
            (_, None, None) => Ok(()),
        }
    }

    async fn run(&self, env: &Environment) -> Result<String, BoxError> {
        let network = env
            .network()
            .ok_or("the rig has no network (`[[host]]`, `[[link]]`)")?;
        let ends = self.ends(&(0..0)).map_err(|problem| problem.message)?;
        let (x, y) = (ends.x.get_ref().as_str(), ends.y.get_ref().as_str());
        let directions = if ends.one_way {
            vec![(x, y)]
        } else {
            vec![(x, y), (y, x)]
        };
        let arrow = if ends.one_way { "->" } else { "-" };
        match self.action() {
            NetworkAction::LinkDown => {
                network.link_down(x, y).await?;
                Ok(format!("link {x}-{y} down"))
            }
            NetworkAction::LinkUp => {
                network.link_up(x, y).await?;
                Ok(format!("link {x}-{y} up"))
            }
            NetworkAction::SetRate => {
                let rate = self.rate(&(0..0)).map_err(|problem| problem.message)?;
                set_each(network, &directions, |n, from, to| {
                    n.set_rate(from, to, rate)
                })
                .await?;
                Ok(match rate {
                    Some(rate) => format!("{x}{arrow}{y} limited to {}", describe_rate(rate)),
                    None => format!("{x}{arrow}{y} unlimited"),
                })
            }
            NetworkAction::SetNetem => {
                let options = self
                    .netem
                    .as_ref()
                    .map(|n| *n.get_ref())
                    .unwrap_or_default();
                let netem = (!options.is_empty()).then(|| options.netem());
                set_each(network, &directions, |n, from, to| {
                    n.set_netem(from, to, netem)
                })
                .await?;
                Ok(match netem {
                    Some(_) => format!("netem set on {x}{arrow}{y}"),
                    None => format!("netem removed from {x}{arrow}{y}"),
                })
            }
            NetworkAction::Partition => {
                network.partition(x, y).await?;
                Ok(format!("{x} and {y} partitioned"))
            }
            NetworkAction::Heal => {
                network.heal(x, y).await?;
                Ok(format!("{x} and {y} healed"))
            }
        }
    }
}

/// Applies one shaping change to each direction, in turn.
async fn set_each<'n, F, Fut>(
    network: &'n Network,
    directions: &[(&'n str, &'n str)],
    change: F,
) -> Result<(), testrig::network::NetworkError>
where
    F: Fn(&'n Network, &'n str, &'n str) -> Fut,
    Fut: Future<Output = Result<(), testrig::network::NetworkError>>,
{
    for &(from, to) in directions {
        change(network, from, to).await?;
    }
    Ok(())
}

/// "100 Mbit/s" for a round rate, else the bits per second.
fn describe_rate(rate: Rate) -> String {
    let bits = rate.bits_per_second();
    for (scale, unit) in [
        (1_000_000_000, "Gbit/s"),
        (1_000_000, "Mbit/s"),
        (1_000, "kbit/s"),
    ] {
        if bits.is_multiple_of(scale) {
            return format!("{} {unit}", bits / scale);
        }
    }
    format!("{bits} bit/s")
}

impl StepKind for NetworkStep {
    fn check(&self, table: Range<usize>, check: &StepCheck) -> Result<(), Problem> {
        Self::check(self, table, check)
    }

    fn run<'a>(&'a self, env: &'a Environment, _notes: Notes) -> StepRun<'a> {
        Box::pin(Self::run(self, env))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(toml: &str) -> NetworkStep {
        toml::from_str(toml).unwrap()
    }

    fn ends_problem(toml: &str) -> String {
        let step = step(toml);
        match step.ends(&(0..0)) {
            Ok(_) => panic!("ends accepted: {toml}"),
            Err(problem) => problem.message,
        }
    }

    #[test]
    fn a_shaping_change_takes_both_directions_or_one_and_a_link_change_both_only() {
        let both = step("action = 'set_rate'\nbetween = ['a', 'b']\nrate = '1mbit'");
        assert!(!both.ends(&(0..0)).unwrap().one_way);
        let one = step("action = 'set_netem'\nfrom = 'b'\nto = 'a'\nnetem = {}");
        let ends = one.ends(&(0..0)).unwrap();
        assert_eq!(
            (
                ends.x.get_ref().as_str(),
                ends.y.get_ref().as_str(),
                ends.one_way
            ),
            ("b", "a", true)
        );
        assert!(
            ends_problem("action = 'link_down'\nfrom = 'a'\nto = 'b'")
                .contains("`link_down` acts on both directions")
        );
        assert!(ends_problem("action = 'set_rate'\nfrom = 'a'").contains("`from` and `to`, both"));
        assert!(
            ends_problem("action = 'set_rate'\nbetween = ['a', 'b']\nto = 'b'")
                .contains("not both")
        );
        assert!(ends_problem("action = 'heal'").contains("`heal` needs the two ends"));
        assert!(ends_problem("action = 'heal'\nbetween = ['a']").contains("not 1"));
    }

    #[test]
    fn a_rate_of_none_lifts_the_limit_and_a_bad_one_is_refused() {
        let lift = step("action = 'set_rate'\nbetween = ['a', 'b']\nrate = 'none'");
        assert_eq!(lift.rate(&(0..0)).unwrap(), None);
        let set = step("action = 'set_rate'\nbetween = ['a', 'b']\nrate = '2.5mbit'");
        assert_eq!(set.rate(&(0..0)).unwrap(), Some(Rate::bits(2_500_000)));
        let missing = step("action = 'set_rate'\nbetween = ['a', 'b']");
        assert!(
            missing
                .rate(&(0..0))
                .unwrap_err()
                .message
                .contains("needs the `rate`")
        );
    }

    #[test]
    fn a_round_rate_is_shown_in_its_unit() {
        assert_eq!(describe_rate(Rate::mbit(100)), "100 Mbit/s");
        assert_eq!(describe_rate(Rate::kbit(1500)), "1500 kbit/s");
        assert_eq!(describe_rate(Rate::bits(1234)), "1234 bit/s");
    }
}
