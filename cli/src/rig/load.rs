use std::ops::Range;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::describe::{describe, owner};
use super::drivers;
use super::fields::RigDuration;
use super::kinds::Kind;
use super::network::{NetworkDecl, NetworkHeader};
use super::read::read_rig_file;
use super::steps;
use super::{DriverDecl, Rig, RigError, Source, StepDecl, TableSpans};

/// Keys every `[[driver]]` has, whatever its kind.
const DRIVER_KEYS: &[&str] = &[
    "name",
    "kind",
    "on",
    "depends_on",
    "start_timeout",
    "stop_timeout",
];

/// Keys every `[[step]]` has, whatever its kind.
const STEP_KEYS: &[&str] = &["name", "kind"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RigHeader {
    name: Spanned<String>,
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DriverHeader {
    name: Option<Spanned<String>>,
    kind: Option<Spanned<String>>,
    on: Option<Spanned<String>>,
    #[serde(default)]
    depends_on: Vec<Spanned<String>>,
    start_timeout: Option<RigDuration>,
    stop_timeout: Option<RigDuration>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StepHeader {
    name: Option<String>,
    kind: Option<Spanned<String>>,
}

impl Rig {
    /// Reads and checks the rig file at `path` (syntax, keys, types, kinds).
    /// References and dependencies are checked by [`Rig::environment`].
    /// Only a regular UTF-8 file of at most
    /// [`MAX_RIG_BYTES`](super::read::MAX_RIG_BYTES) is read.
    pub(crate) fn load(path: &Path) -> Result<Rig, RigError> {
        Self::parse(read_rig_file(path)?)
    }

    /// Reads and checks a rig from its text.
    pub(crate) fn parse(source: Source) -> Result<Rig, RigError> {
        let parts = Loader { source: &source }.load()?;
        Ok(Rig {
            dir: source.dir(),
            source,
            name: parts.name,
            description: parts.description,
            network: parts.network,
            drivers: parts.drivers,
            steps: parts.steps,
        })
    }
}

/// What the loader reads, before the rig takes ownership of its source.
struct Parts {
    name: String,
    description: Option<String>,
    network: NetworkDecl,
    drivers: Vec<DriverDecl>,
    steps: Vec<StepDecl>,
}

struct Loader<'s> {
    source: &'s Source,
}

impl<'s> Loader<'s> {
    fn load(&self) -> Result<Parts, RigError> {
        let root = DeTable::parse(self.source.text()).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            self.error(span, "invalid TOML", e.message().trim_end())
        })?;
        let root = root.get_ref();
        let mut header = None;
        let mut drivers = Vec::new();
        let mut steps = Vec::new();
        let mut network = NetworkDecl::default();
        for (key, value) in root {
            match key.get_ref().as_ref() {
                "rig" => {
                    let rig = RigHeader::deserialize(ValueDeserializer::from(value.clone()))
                        .map_err(|e| self.toml_error(&e, root, &[]))?;
                    header = Some(rig);
                }
                "driver" => {
                    for (index, table) in self.tables("driver", value)?.into_iter().enumerate() {
                        drivers.push(self.driver(root, index, table)?);
                    }
                }
                "step" => {
                    for (index, table) in self.tables("step", value)?.into_iter().enumerate() {
                        steps.push(self.step(root, index, table)?);
                    }
                }
                "network" => {
                    let DeValue::Table(table) = value.get_ref() else {
                        return Err(self.error(
                            value.span(),
                            "",
                            "`network` must be a table: write it as `[network]` (one bracket)",
                        ));
                    };
                    let header = NetworkHeader::deserialize(ValueDeserializer::from(value.clone()))
                        .map_err(|e| self.toml_error(&e, root, &[]))?;
                    let spans = TableSpans::of("[network]".to_owned(), value.span(), table);
                    network.header = Some((header, spans));
                }
                "host" => {
                    network.hosts = self.sections(root, "host", value)?;
                }
                "link" => {
                    network.links = self.sections(root, "link", value)?;
                }
                "switch" => {
                    network.switches = self.sections(root, "switch", value)?;
                }
                other => {
                    return Err(self.error(
                        key.span(),
                        "",
                        format!(
                            "unknown top-level key `{other}`; a rig file has a `[rig]` table, `[[driver]]` tables and `[[step]]` tables, and for an emulated network `[network]`, `[[host]]`, `[[link]]` and `[[switch]]` tables"
                        ),
                    ));
                }
            }
        }
        let Some(header) = header else {
            return Err(self.error(
                0..0,
                "",
                "the rig file has no `[rig]` table; start it with `[rig]` and `name = \"...\"`",
            ));
        };
        let name = header.name;
        if let Some(reason) = invalid_rig_name(name.get_ref()) {
            return Err(self.error(name.span(), "[rig], key `name`", reason));
        }
        Ok(Parts {
            name: name.into_inner(),
            description: header.description,
            network,
            drivers,
            steps,
        })
    }

    /// The tables of `[[driver]]` or `[[step]]`.
    fn tables<'a>(
        &self,
        section: &str,
        value: &'a Spanned<DeValue<'s>>,
    ) -> Result<Vec<(&'a Spanned<DeValue<'s>>, &'a DeTable<'s>)>, RigError> {
        let not_tables = || {
            self.error(
                value.span(),
                "",
                format!(
                    "`{section}` must be a list of tables: write each as a `[[{section}]]` table (two brackets)"
                ),
            )
        };
        let DeValue::Array(items) = value.get_ref() else {
            return Err(not_tables());
        };
        items
            .iter()
            .map(|item| match item.get_ref() {
                DeValue::Table(table) => Ok((item, table)),
                _ => Err(not_tables()),
            })
            .collect()
    }

    /// The `[[host]]`, `[[link]]` or `[[switch]]` tables, each read whole.
    fn sections<T: for<'de> Deserialize<'de>>(
        &self,
        root: &DeTable<'s>,
        section: &str,
        value: &Spanned<DeValue<'s>>,
    ) -> Result<Vec<(T, TableSpans)>, RigError> {
        let mut read = Vec::new();
        for (index, (item, table)) in self.tables(section, value)?.into_iter().enumerate() {
            let spans = TableSpans::of(owner(section, index, table), item.span(), table);
            let options = T::deserialize(ValueDeserializer::from(item.clone()))
                .map_err(|e| self.toml_error(&e, root, &[]))?;
            read.push((options, spans));
        }
        Ok(read)
    }

    fn driver(
        &self,
        root: &DeTable<'s>,
        index: usize,
        (item, table): (&Spanned<DeValue<'s>>, &DeTable<'s>),
    ) -> Result<DriverDecl, RigError> {
        let spans = TableSpans::of(owner("driver", index, table), item.span(), table);
        let (common, own) = split(table, DRIVER_KEYS);
        let header = DriverHeader::deserialize(deserializer(item.span(), common))
            .map_err(|e| self.toml_error(&e, root, &[]))?;
        let Some(name) = header.name else {
            return Err(self.error(
                item.span(),
                &spans.owner,
                "a driver needs a `name` (other drivers and steps refer to it by that name)",
            ));
        };
        let kind = self.kind(
            header.kind,
            &item.span(),
            &spans.owner,
            "driver",
            drivers::KINDS,
            drivers::COMING,
        )?;
        let options = kind
            .read(deserializer(item.span(), own))
            .map_err(|e| self.toml_error(&e, root, DRIVER_KEYS))?;
        Ok(DriverDecl {
            name,
            options,
            on: header.on,
            depends_on: header.depends_on,
            start_timeout: header.start_timeout.map(|d| d.0),
            stop_timeout: header.stop_timeout.map(|d| d.0),
            spans,
        })
    }

    fn step(
        &self,
        root: &DeTable<'s>,
        index: usize,
        (item, table): (&Spanned<DeValue<'s>>, &DeTable<'s>),
    ) -> Result<StepDecl, RigError> {
        let spans = TableSpans::of(owner("step", index, table), item.span(), table);
        let (common, own) = split(table, STEP_KEYS);
        let header = StepHeader::deserialize(deserializer(item.span(), common))
            .map_err(|e| self.toml_error(&e, root, &[]))?;
        let kind = self.kind(
            header.kind,
            &item.span(),
            &spans.owner,
            "step",
            steps::KINDS,
            steps::COMING,
        )?;
        let action = kind
            .read(deserializer(item.span(), own))
            .map_err(|e| self.toml_error(&e, root, STEP_KEYS))?;
        Ok(StepDecl {
            name: header
                .name
                .unwrap_or_else(|| format!("{}-{}", index + 1, action.kind())),
            action,
            spans,
        })
    }

    /// The `kind` of a driver or step: its row of `kinds`.
    fn kind<T: ?Sized>(
        &self,
        kind: Option<Spanned<String>>,
        table: &Range<usize>,
        owner: &str,
        what: &str,
        kinds: &'static [Kind<T>],
        coming: &[&str],
    ) -> Result<&'static Kind<T>, RigError> {
        let listed = kinds
            .iter()
            .map(|k| format!("`{}`", k.name))
            .collect::<Vec<_>>()
            .join(", ");
        let Some(kind) = kind else {
            return Err(self.error(
                table.clone(),
                owner,
                format!("a {what} needs a `kind`: one of {listed}"),
            ));
        };
        if let Some(found) = kinds.iter().find(|k| k.name == kind.get_ref()) {
            return Ok(found);
        }
        let message = if coming.contains(&kind.get_ref().as_str()) {
            format!(
                "{what} kind `{}` is not available in this version of testrig yet; available: {listed}",
                kind.get_ref()
            )
        } else {
            format!(
                "unknown {what} kind `{}`; expected one of {listed}",
                kind.get_ref()
            )
        };
        Err(self.error(kind.span(), owner, message))
    }

    /// A TOML or serde error, located and described; `common` lists the keys
    /// every table of the section has, added to "unknown field" messages.
    fn toml_error(&self, error: &toml::de::Error, root: &DeTable<'_>, common: &[&str]) -> RigError {
        let span = error.span().unwrap_or(0..0);
        let context = describe(root, &span);
        let mut message = error.message().trim_end().to_owned();
        if message.starts_with("unknown field") && !common.is_empty() {
            let listed = common
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ");
            message.push_str(&format!(", or one of the keys all kinds have: {listed}"));
        }
        self.error(span, &context, message)
    }

    fn error(&self, span: Range<usize>, context: &str, message: impl Into<String>) -> RigError {
        RigError::Invalid {
            location: self.source.locate(span),
            context: context.to_owned(),
            message: message.into(),
        }
    }
}

/// Splits a table into the keys in `keys` and the others, spans kept.
fn split<'i>(table: &DeTable<'i>, keys: &[&str]) -> (DeTable<'i>, DeTable<'i>) {
    let mut common = DeTable::new();
    let mut own = DeTable::new();
    for (key, value) in table {
        let half = if keys.contains(&key.get_ref().as_ref()) {
            &mut common
        } else {
            &mut own
        };
        half.insert(key.clone(), value.clone());
    }
    (common, own)
}

fn deserializer(span: Range<usize>, table: DeTable<'_>) -> ValueDeserializer<'_> {
    ValueDeserializer::from(Spanned::new(span, DeValue::Table(table)))
}

fn invalid_rig_name(name: &str) -> Option<&'static str> {
    if name.trim().is_empty() {
        Some("the rig's name is empty")
    } else if name.contains(['/', '\\', '\0']) || name == "." || name == ".." {
        Some(
            "the rig's name names the report files, so it cannot contain `/` or `\\` or be `.` or `..`",
        )
    } else {
        None
    }
}
