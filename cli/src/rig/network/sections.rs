use std::collections::BTreeMap;

use serde::Deserialize;
use testrig::network::Shaper;
use toml::Spanned;

use super::{NetemOptions, Strings};
use crate::rig::TableSpans;
use crate::rig::fields::{RigDuration, RigPath};

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
    /// Whether the rig declares an emulated network (SSH hosts alone are not one).
    pub(crate) fn is_declared(&self) -> bool {
        self.header.is_some()
            || self.emulated_hosts().next().is_some()
            || !self.links.is_empty()
            || !self.switches.is_empty()
    }

    /// The hosts of the emulated network (not the SSH hosts), in file order.
    pub(crate) fn emulated_hosts(
        &self,
    ) -> impl DoubleEndedIterator<Item = &(HostSection, TableSpans)> {
        self.hosts.iter().filter(|(host, _)| !host.is_ssh())
    }

    /// The SSH hosts (`ssh = "…"`), in file order.
    pub(crate) fn ssh_hosts(&self) -> impl Iterator<Item = &(HostSection, TableSpans)> {
        self.hosts.iter().filter(|(host, _)| host.is_ssh())
    }

    /// The emulated network's hosts' names, in file order.
    pub(crate) fn host_names(&self) -> Vec<&str> {
        self.emulated_hosts()
            .map(|(host, _)| host.name.get_ref().as_str())
            .collect()
    }

    /// Every host's name, the SSH hosts' too, in file order.
    pub(crate) fn all_host_names(&self) -> Vec<&str> {
        self.hosts
            .iter()
            .map(|(host, _)| host.name.get_ref().as_str())
            .collect()
    }

    /// The keys an SSH host exports once connected.
    pub(crate) fn ssh_export_keys() -> Vec<String> {
        ["address", "ipv4", "ipv6", "port", "runpath", "ssh", "user"]
            .map(str::to_owned)
            .into()
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

/// `[[host]]`: a host drivers are placed on with `on = "<name>"`: a host of the
/// emulated network (a network namespace), or, with `ssh = "user@address"`, a remote
/// machine the run connects to over SSH (`EnvironmentBuilder::ssh_host`) with the
/// other keys.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct HostSection {
    pub(crate) name: Spanned<String>,
    /// `ssh = "user@address"`: a remote host, reached over SSH.
    pub(crate) ssh: Option<Spanned<String>>,
    /// The sshd's port.
    pub(crate) port: Option<Spanned<i64>>,
    /// The private key to log in with (relative: from the rig file's directory).
    pub(crate) identity: Option<Spanned<RigPath>>,
    /// The known_hosts file to check the host's key against.
    pub(crate) known_hosts: Option<Spanned<RigPath>>,
    /// `"strict"` (the default) or `"accept-new"`.
    pub(crate) host_keys: Option<Spanned<HostKeysName>>,
    /// Leave the remote runpath on the host after the run.
    pub(crate) keep_runpath: Option<Spanned<bool>>,
    /// A host of the emulated network to connect from.
    pub(crate) via: Option<Spanned<String>>,
    /// How long connecting may take.
    pub(crate) connect_timeout: Option<Spanned<RigDuration>>,
    /// OpenSSH options for this host, as `ssh -o` takes them (`"Key=Value"`).
    pub(crate) ssh_options: Option<Spanned<Vec<String>>>,
}

/// The keys only an SSH host (`ssh = "…"`) has.
pub(crate) const SSH_ONLY_KEYS: &[&str] = &[
    "port",
    "identity",
    "known_hosts",
    "host_keys",
    "keep_runpath",
    "via",
    "connect_timeout",
    "ssh_options",
];

impl HostSection {
    /// Whether it is a remote host reached over SSH.
    pub(crate) fn is_ssh(&self) -> bool {
        self.ssh.is_some()
    }
}

/// `host_keys = "strict" | "accept-new"` ([`testrig::host::ssh::HostKeys`]).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum HostKeysName {
    Strict,
    AcceptNew,
}

impl HostKeysName {
    pub(crate) fn host_keys(self) -> testrig::host::ssh::HostKeys {
        match self {
            HostKeysName::Strict => testrig::host::ssh::HostKeys::Strict,
            HostKeysName::AcceptNew => testrig::host::ssh::HostKeys::AcceptNew,
        }
    }
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
