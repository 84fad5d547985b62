use std::ops::Range;
use std::sync::Arc;

use testrig::{Driver, Environment, RefKey};
use toml::Spanned;

use crate::rig::Problem;
use crate::rig::fields::TemplateText;
use crate::rig::network::NetworkDecl;

/// What steps may name: the rig's drivers, their kinds and what they export.
/// Used when the rig is checked, so a bad name fails before anything starts.
#[derive(Debug)]
pub(crate) struct StepCheck {
    /// (name, kind, export keys), in the rig's order.
    drivers: Vec<(String, &'static str, Vec<String>)>,
    /// The hosts of the rig's emulated network (empty without one; not the SSH hosts,
    /// which network faults do not reach).
    hosts: Vec<String>,
    /// (host, "host", the keys it will export), for references in steps: the SSH hosts'
    /// too.
    host_exports: Vec<(String, &'static str, Vec<String>)>,
    /// The switches of the rig's network.
    switches: Vec<String>,
    /// The pairs a link or a switch port joins: (x, y) both ways.
    joined: Vec<(String, String)>,
    /// "a-b, lan (a, b, c)", for messages.
    segments: String,
    /// The environment built from the rig (not started), for a step that needs
    /// to look at a driver's settings.
    env: Environment,
}

impl StepCheck {
    pub(crate) fn new<'a>(
        drivers: impl IntoIterator<Item = (&'a str, &'static str)>,
        network: &NetworkDecl,
        env: &Environment,
    ) -> Self {
        let drivers = drivers
            .into_iter()
            .map(|(name, kind)| {
                let exports = env
                    .resource(name)
                    .map(|r| r.driver().export_keys())
                    .unwrap_or_default();
                (name.to_owned(), kind, exports)
            })
            .collect();
        let hosts: Vec<String> = network
            .host_names()
            .into_iter()
            .map(str::to_owned)
            .collect();
        let switches: Vec<String> = network
            .switches
            .iter()
            .map(|(switch, _)| switch.name.get_ref().clone())
            .collect();
        let nodes: Vec<&String> = hosts.iter().chain(&switches).collect();
        let mut joined = Vec::new();
        for x in &nodes {
            for y in &nodes {
                if network.joined(x, y) {
                    joined.push(((*x).clone(), (*y).clone()));
                }
            }
        }
        let host_exports = hosts
            .iter()
            .map(|host| (host.clone(), "host", network.export_keys(host)))
            .chain(network.ssh_hosts().map(|(host, _)| {
                (
                    host.name.get_ref().clone(),
                    "host",
                    NetworkDecl::ssh_export_keys(),
                )
            }))
            .collect();
        Self {
            drivers,
            host_exports,
            hosts,
            switches,
            joined,
            segments: network.segments(),
            env: env.clone(),
        }
    }

    /// `name` must be a host of the rig's network.
    pub(crate) fn host(&self, name: &Spanned<String>) -> Result<(), Problem> {
        if self.hosts.contains(name.get_ref()) {
            return Ok(());
        }
        Err(Problem::new(
            name.span(),
            self.no_such("host", name.get_ref()),
        ))
    }

    /// `x` and `y` must be joined by a link, or be a switch and a host on it.
    pub(crate) fn joined(
        &self,
        x: &Spanned<String>,
        y: &Spanned<String>,
        span: Range<usize>,
    ) -> Result<(), Problem> {
        for end in [x, y] {
            let name = end.get_ref();
            if !self.hosts.contains(name) && !self.switches.contains(name) {
                return Err(Problem::new(
                    end.span(),
                    self.no_such("host or switch", name),
                ));
            }
        }
        let pair = (x.get_ref().clone(), y.get_ref().clone());
        if self.joined.contains(&pair) {
            return Ok(());
        }
        Err(Problem::new(
            span,
            format!(
                "no link joins `{}` and `{}`; the network has: {}",
                x.get_ref(),
                y.get_ref(),
                self.segments
            ),
        ))
    }

    fn no_such(&self, what: &str, name: &str) -> String {
        if self.hosts.is_empty() {
            return format!(
                "no {what} is named `{name}`: the rig declares no network (`[[host]]`, `[[link]]`)"
            );
        }
        let mut known = self.hosts.clone();
        if what != "host" {
            known.extend(self.switches.iter().cloned());
        }
        format!(
            "no {what} is named `{name}`; the network has: {}",
            known.join(", ")
        )
    }

    /// The driver named `name`, if it is a `T`.
    pub(crate) fn get<T: Driver>(&self, name: &str) -> Option<Arc<T>> {
        self.env.get::<T>(name).ok()
    }

    /// `name` must be a driver of one of `kinds` (any kind when empty).
    pub(crate) fn driver(&self, name: &Spanned<String>, kinds: &[&str]) -> Result<(), Problem> {
        let Some((_, kind, _)) = self.find(name.get_ref()) else {
            return Err(Problem::new(
                name.span(),
                format!(
                    "no driver is named `{}`; the rig has: {}",
                    name.get_ref(),
                    self.names()
                ),
            ));
        };
        if !kinds.is_empty() && !kinds.contains(kind) {
            return Err(Problem::new(
                name.span(),
                format!(
                    "`{}` is {} {kind}; this key needs {}",
                    name.get_ref(),
                    article(kind),
                    kinds
                        .iter()
                        .map(|k| format!("{} {k}", article(k)))
                        .collect::<Vec<_>>()
                        .join(" or ")
                ),
            ));
        }
        Ok(())
    }

    /// Every `${driver.key}` of `text` must name a driver that exports the key.
    pub(crate) fn text(&self, text: &Spanned<TemplateText>) -> Result<(), Problem> {
        self.references(&text.get_ref().0.references(), text.span())
    }

    /// Every one of `references`, found in the value at `span`, must name a
    /// driver that exports the key.
    pub(crate) fn references(
        &self,
        references: &[RefKey],
        span: Range<usize>,
    ) -> Result<(), Problem> {
        for reference in references {
            let exporter = self.find(&reference.driver).or_else(|| {
                self.host_exports
                    .iter()
                    .find(|(host, _, _)| *host == reference.driver)
            });
            let Some((_, kind, exports)) = exporter else {
                return Err(Problem::new(
                    span,
                    format!(
                        "`${{{reference}}}` refers to driver `{}`, but the rig has no such driver (it has: {})",
                        reference.driver,
                        self.names()
                    ),
                ));
            };
            if !exports.contains(&reference.key) {
                return Err(Problem::new(
                    span,
                    format!(
                        "`${{{reference}}}`: `{}` ({kind}) exports no `{}`; it exports: {}",
                        reference.driver,
                        reference.key,
                        exports.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    fn find(&self, name: &str) -> Option<&(String, &'static str, Vec<String>)> {
        self.drivers.iter().find(|(n, _, _)| n == name)
    }

    fn names(&self) -> String {
        if self.drivers.is_empty() {
            return "no drivers".to_owned();
        }
        self.drivers
            .iter()
            .map(|(n, _, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// "a" or "an" before a kind: "a tcp_client", "an app".
fn article(kind: &str) -> &'static str {
    match kind.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => "an",
        _ => "a",
    }
}
