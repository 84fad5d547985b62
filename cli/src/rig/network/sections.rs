use std::collections::BTreeMap;

use serde::Deserialize;
use testrig::network::Shaper;
use toml::Spanned;

use super::{NetemOptions, Strings};
use crate::rig::TableSpans;
use crate::rig::fields::RigDuration;

/// A rig's emulated network: its `[network]` table, `[[host]]`, `[[link]]` and
/// `[[switch]]` tables, each with where its keys are.
#[derive(Debug, Default)]
pub(crate) struct NetworkDecl {
    /// `[network]`, when the rig has one.
    pub(crate) header: Option<(NetworkHeader, TableSpans)>,
    pub(crate) hosts: Vec<(HostSection, TableSpans)>,
    pub(crate) links: Vec<(LinkSection, TableSpans)>,
    pub(crate) switches: Vec<(SwitchSection, TableSpans)>,
}

impl NetworkDecl {
    /// Whether the rig declares any of it.
    pub(crate) fn is_declared(&self) -> bool {
        self.header.is_some()
            || !self.hosts.is_empty()
            || !self.links.is_empty()
            || !self.switches.is_empty()
    }

    /// The hosts' names, in file order.
    pub(crate) fn host_names(&self) -> Vec<&str> {
        self.hosts
            .iter()
            .map(|(host, _)| host.name.get_ref().as_str())
            .collect()
    }

    /// Whether `x` and `y` are joined by a link, or `x` (or `y`) is a switch the
    /// other is on: the pairs `link_down` and `set_rate` take.
    pub(crate) fn joined(&self, x: &str, y: &str) -> bool {
        let link = self.links.iter().any(|(link, _)| {
            let [a, b] = link.ends();
            (a == x && b == y) || (a == y && b == x)
        });
        let port = self.switches.iter().any(|(switch, _)| {
            let on = |host: &str| switch.hosts.iter().any(|h| h.get_ref() == host);
            let name = switch.name.get_ref();
            (name == x && on(y)) || (name == y && on(x))
        });
        link || port
    }

    /// The keys host `name` will export once the network runs (`Host::exports`):
    /// `address`, `ipv4`, `ipv6`, `interface`, and `eth0.address`, `eth0.ipv4`,
    /// `eth0.ipv6`, `eth0.peer` for each of its interfaces (one per link or switch it
    /// is on). Both families are listed: a host without one fails where the value is
    /// used, when its step runs. (The environment checks drivers' references against
    /// the network's own plan, which the core does not publish.)
    pub(crate) fn export_keys(&self, name: &str) -> Vec<String> {
        let links = self
            .links
            .iter()
            .filter(|(link, _)| link.ends().contains(&name))
            .count();
        let switches = self
            .switches
            .iter()
            .filter(|(switch, _)| switch.hosts.iter().any(|h| h.get_ref() == name))
            .count();
        let mut keys: Vec<String> = ["address", "interface", "ipv4", "ipv6"]
            .map(str::to_owned)
            .into();
        for n in 0..links + switches {
            for key in ["address", "ipv4", "ipv6", "peer"] {
                keys.push(format!("eth{n}.{key}"));
            }
        }
        keys
    }

    /// "a-b, lan (a, b, c)": what the hosts are joined by, for messages.
    pub(crate) fn segments(&self) -> String {
        let mut parts: Vec<String> = self
            .links
            .iter()
            .map(|(link, _)| link.ends().join("-"))
            .collect();
        parts.extend(self.switches.iter().map(|(switch, _)| {
            let hosts: Vec<&str> = switch.hosts.iter().map(|h| h.get_ref().as_str()).collect();
            format!("{} ({})", switch.name.get_ref(), hosts.join(", "))
        }));
        if parts.is_empty() {
            "no links".to_owned()
        } else {
            parts.join(", ")
        }
    }
}

/// `[network]`: the network's name (default: the rig's) and the deadline of its
/// start, stop and each fault (`NetworkBuilder::timeout`, 10 s unless told).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NetworkHeader {
    pub(crate) name: Option<Spanned<String>>,
    pub(crate) timeout: Option<RigDuration>,
}

/// `[[host]]`: a host of the network (a network namespace), where drivers are
/// placed with `on = "<name>"`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HostSection {
    pub(crate) name: Spanned<String>,
}

/// `[[link]]`: a veth pair between two hosts (`Link::new(a, b)` and its methods).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LinkSection {
    pub(crate) between: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    pub(crate) subnet: Strings,
    /// Each end's addresses, by host: `addresses = { a = "10.0.0.7/24" }`.
    #[serde(default)]
    pub(crate) addresses: BTreeMap<String, Strings>,
    pub(crate) rate: Option<String>,
    /// Each direction's rate, by the host that sends: `rate_from = { a = "10mbit" }`.
    #[serde(default)]
    pub(crate) rate_from: BTreeMap<String, String>,
    pub(crate) netem: Option<NetemOptions>,
    /// Each direction's netem, by the host that sends.
    #[serde(default)]
    pub(crate) netem_from: BTreeMap<String, NetemOptions>,
    pub(crate) shaper: Option<ShaperName>,
}

impl LinkSection {
    /// The two hosts (empty names where `between` lacks them; the loader
    /// refuses such a link before anything asks).
    pub(crate) fn ends(&self) -> [&str; 2] {
        let end = |i: usize| {
            self.between
                .get_ref()
                .get(i)
                .map_or("", |h| h.get_ref().as_str())
        };
        [end(0), end(1)]
    }
}

/// `[[switch]]`: a bridge joining several hosts (`Switch::new(name)` and its methods).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SwitchSection {
    pub(crate) name: Spanned<String>,
    pub(crate) hosts: Vec<Spanned<String>>,
    #[serde(default)]
    pub(crate) subnet: Strings,
    #[serde(default)]
    pub(crate) addresses: BTreeMap<String, Strings>,
    pub(crate) rate: Option<String>,
    pub(crate) netem: Option<NetemOptions>,
    pub(crate) shaper: Option<ShaperName>,
}

/// `shaper = "tbf" | "htb"`: how rates are enforced ([`Shaper`]).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ShaperName {
    Tbf,
    Htb,
}

impl ShaperName {
    pub(crate) fn shaper(self) -> Shaper {
        match self {
            ShaperName::Tbf => Shaper::Tbf,
            ShaperName::Htb => Shaper::Htb,
        }
    }
}
