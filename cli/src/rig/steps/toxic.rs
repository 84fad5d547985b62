use std::ops::Range;

use serde::Deserialize;
use serde_json::json;
use testrig::{BoxError, Environment};
use testrig_drivers::fault_proxy::{FaultProxy, Stream, Toxic};
use toml::Spanned;

use super::{StepCheck, StepKind, StepRun};
use crate::progress::Notes;
use crate::rig::Problem;

/// `kind = "toxic"`: adds, updates or removes a toxic on a `fault_proxy`, with
/// Toxiproxy's names, attributes and units. It applies to live connections at once.
///
/// ```toml
/// [[step]]
/// kind = "toxic"
/// driver = "proxy"
/// action = "add"                      # add | update | remove
/// type = "latency"                    # add: required
/// toxic = "lag"                       # its name: default <type>_<stream>; update, remove: required
/// stream = "downstream"               # default; or "upstream" (client → server)
/// toxicity = 1.0                      # default
/// attributes = { latency = 100, jitter = 10 }
/// ```
///
/// An update changes only the keys it gives (`toxicity`, and each attribute).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ToxicStep {
    driver: Spanned<String>,
    action: Spanned<ToxicAction>,
    /// The toxic's name (the step's own `name` is the step's).
    #[serde(rename = "toxic")]
    name: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    stream: Option<Stream>,
    toxicity: Option<f32>,
    attributes: Option<toml::Table>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum ToxicAction {
    Add,
    Update,
    Remove,
}

impl ToxicStep {
    /// The toxic to add, as Toxiproxy's JSON reads it.
    fn to_add(&self) -> Result<Toxic, String> {
        let Some(kind) = &self.kind else {
            return Err("`action = \"add\"` needs the toxic's `type`".to_owned());
        };
        let toxic = json!({
            "name": self.name.clone().unwrap_or_default(),
            "stream": self.stream.unwrap_or_default(),
            "toxicity": self.toxicity.unwrap_or(1.0),
            "type": kind,
            "attributes": self.attributes.clone().unwrap_or_default(),
        });
        serde_json::from_value(toxic).map_err(|error| format!("not a toxic: {error}"))
    }

    /// `existing` with this step's toxicity and attributes laid over it.
    fn updated(&self, existing: &Toxic) -> Result<Toxic, String> {
        let mut toxic = serde_json::to_value(existing).map_err(|e| e.to_string())?;
        if let Some(toxicity) = self.toxicity {
            toxic["toxicity"] = json!(toxicity);
        }
        for (key, value) in self.attributes.iter().flatten() {
            toxic["attributes"][key] = serde_json::to_value(value).map_err(|e| e.to_string())?;
        }
        serde_json::from_value(toxic).map_err(|error| format!("not a toxic: {error}"))
    }

    pub(crate) fn check(&self, table: Range<usize>, check: &StepCheck) -> Result<(), Problem> {
        check.driver(&self.driver, &["fault_proxy"])?;
        let problem = |message: String| Problem::new(table.clone(), message);
        match self.action.get_ref() {
            ToxicAction::Add => self.to_add().map(drop).map_err(problem),
            ToxicAction::Update | ToxicAction::Remove if self.name.is_none() => Err(Problem::new(
                self.action.span(),
                "an update or a removal needs the toxic's name: `toxic = \"…\"`".to_owned(),
            )),
            ToxicAction::Update | ToxicAction::Remove => Ok(()),
        }
    }

    pub(crate) async fn run(&self, env: &Environment) -> Result<String, BoxError> {
        let driver = self.driver.get_ref();
        let proxy = env.get::<FaultProxy>(driver)?;
        let name = self.name.clone().unwrap_or_default();
        match self.action.get_ref() {
            ToxicAction::Add => {
                let toxic = proxy.add_toxic(self.to_add()?)?;
                Ok(format!(
                    "added {} toxic `{}` ({}) to `{driver}`",
                    toxic.kind().type_name(),
                    toxic.name(),
                    toxic.stream()
                ))
            }
            ToxicAction::Update => {
                let existing = proxy
                    .get_toxic(&name)
                    .ok_or_else(|| format!("`{driver}` has no toxic named `{name}` to update"))?;
                proxy.update_toxic(self.updated(&existing)?)?;
                Ok(format!("updated toxic `{name}` on `{driver}`"))
            }
            ToxicAction::Remove => {
                proxy.remove_toxic(&name)?;
                Ok(format!("removed toxic `{name}` from `{driver}`"))
            }
        }
    }
}

impl StepKind for ToxicStep {
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

    fn step(toml: &str) -> ToxicStep {
        toml::from_str(toml).unwrap()
    }

    #[test]
    fn an_added_toxic_is_read_in_toxiproxys_shape() {
        let toxic = step(
            r#"driver = "proxy"
               action = "add"
               type = "slicer"
               stream = "upstream"
               toxicity = 0.5
               attributes = { average_size = 10, size_variation = 2, delay = 100 }"#,
        )
        .to_add()
        .unwrap();
        let expected = Toxic::slicer(10, 2, 100).upstream().toxicity(0.5).named("");
        assert_eq!(toxic, expected);
    }

    #[test]
    fn an_unknown_toxic_type_is_refused_naming_it() {
        let error = step(
            r#"driver = "p"
                            action = "add"
                            type = "lag""#,
        )
        .to_add()
        .unwrap_err();
        assert!(error.contains("lag"), "{error}");
    }

    #[test]
    fn an_update_changes_only_the_keys_it_gives() {
        let existing = Toxic::latency(100, 10).named("lag");
        let updated = step(
            r#"driver = "proxy"
               action = "update"
               toxic = "lag"
               attributes = { latency = 20 }"#,
        )
        .updated(&existing)
        .unwrap();
        assert_eq!(updated, Toxic::latency(20, 10).named("lag"));
    }
}
