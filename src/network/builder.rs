use std::time::Duration;

use super::error::NetworkError;
use super::network::Network;
use super::plan::Plan;
use super::shaping::{Netem, Shaper};

/// Declares a [`Network`]: its hosts, the links and switches between them. Checked by
/// [`build`](NetworkBuilder::build), which refuses unknown hosts, overlapping or too small
/// subnets, addresses outside their subnet and bad rates, naming the part, the field and the
/// value. Nothing is created before [`Network::start`].
///
/// # Examples
/// ```
/// use testrig::network::{Link, Network, Switch};
///
/// let network = Network::builder("lab")
///     .host("client")
///     .host("router")
///     .host("server")
///     .link(Link::new("client", "router").subnet("10.0.1.0/24").subnet("fd00:1::/64").rate("100mbit"))
///     .link(Link::new("router", "server").subnet("10.0.2.0/24"))
///     .build()
///     .unwrap();
/// # let _ = network;
/// let error = Network::builder("lab").host("a").link(Link::new("a", "b")).build().unwrap_err();
/// assert!(error.to_string().contains("link `a-b`"), "{error}");
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct NetworkBuilder {
    pub(crate) name: String,
    pub(crate) hosts: Vec<String>,
    pub(crate) links: Vec<Link>,
    pub(crate) switches: Vec<Switch>,
    pub(crate) timeout: Duration,
}

impl NetworkBuilder {
    pub(crate) fn new(name: impl Into<String>) -> NetworkBuilder {
        NetworkBuilder {
            name: name.into(),
            hosts: Vec::new(),
            links: Vec::new(),
            switches: Vec::new(),
            timeout: Duration::from_secs(10),
        }
    }

    /// A host: a network namespace of its own, with a loopback interface up.
    pub fn host(mut self, name: impl Into<String>) -> NetworkBuilder {
        self.hosts.push(name.into());
        self
    }

    /// A link between two hosts: a veth pair, one end in each.
    pub fn link(mut self, link: Link) -> NetworkBuilder {
        self.links.push(link);
        self
    }

    /// A switch: a bridge joining several hosts, each by a veth pair.
    pub fn switch(mut self, switch: Switch) -> NetworkBuilder {
        self.switches.push(switch);
        self
    }

    /// The deadline of [`Network::start`], [`Network::stop`] and of each fault (10 s unless
    /// told).
    pub fn timeout(mut self, timeout: Duration) -> NetworkBuilder {
        self.timeout = timeout;
        self
    }

    /// Checks the declaration and plans the network: interface names, addresses, routes.
    ///
    /// # Errors
    /// [`NetworkError::Invalid`] naming the host, link or switch, the field and the value.
    pub fn build(self) -> Result<Network, NetworkError> {
        Ok(Network::new(Plan::new(self)?))
    }
}

/// A setting of one direction of a link, or of both (`from` is `None`).
#[derive(Debug, Clone)]
pub(crate) struct DirectionSetting<T> {
    pub(crate) from: Option<String>,
    pub(crate) value: T,
}

/// A link between two hosts, declared for [`NetworkBuilder::link`]: a veth pair.
///
/// Addresses come from the link's subnets (one IPv4, one IPv6 at most), in the order the
/// hosts are named (`a` first), except those given with [`address`](Link::address). A link
/// given no subnet and no address gets an IPv4 /24 and an IPv6 /64 of its own.
///
/// Rates and netem apply to one direction (`*_from(host, …)`: the packets `host` sends on
/// the link) or to both.
#[derive(Debug, Clone)]
#[must_use]
pub struct Link {
    pub(crate) a: String,
    pub(crate) b: String,
    pub(crate) subnets: Vec<String>,
    pub(crate) addresses: Vec<(String, String)>,
    pub(crate) rates: Vec<DirectionSetting<String>>,
    pub(crate) netems: Vec<DirectionSetting<Netem>>,
    pub(crate) shaper: Shaper,
}

impl Link {
    /// A link between hosts `a` and `b`. Its name, in errors and faults, is `a-b`.
    pub fn new(a: impl Into<String>, b: impl Into<String>) -> Link {
        Link {
            a: a.into(),
            b: b.into(),
            subnets: Vec::new(),
            addresses: Vec::new(),
            rates: Vec::new(),
            netems: Vec::new(),
            shaper: Shaper::default(),
        }
    }

    /// A subnet the link's addresses come from, e.g. `10.0.0.0/24` or `fd00::/64`.
    pub fn subnet(mut self, subnet: impl Into<String>) -> Link {
        self.subnets.push(subnet.into());
        self
    }

    /// `host`'s address on this link, with its prefix (`10.0.0.7/24`), instead of the next
    /// free one of the subnet.
    pub fn address(mut self, host: impl Into<String>, address: impl Into<String>) -> Link {
        self.addresses.push((host.into(), address.into()));
        self
    }

    /// Limits both directions to `rate` (`100mbit`, see [`Rate`](super::Rate)).
    pub fn rate(mut self, rate: impl Into<String>) -> Link {
        self.rates.push(DirectionSetting {
            from: None,
            value: rate.into(),
        });
        self
    }

    /// Limits what `host` sends on this link to `rate`.
    pub fn rate_from(mut self, host: impl Into<String>, rate: impl Into<String>) -> Link {
        self.rates.push(DirectionSetting {
            from: Some(host.into()),
            value: rate.into(),
        });
        self
    }

    /// Emulates `netem` in both directions.
    pub fn netem(mut self, netem: Netem) -> Link {
        self.netems.push(DirectionSetting {
            from: None,
            value: netem,
        });
        self
    }

    /// Emulates `netem` on what `host` sends on this link.
    pub fn netem_from(mut self, host: impl Into<String>, netem: Netem) -> Link {
        self.netems.push(DirectionSetting {
            from: Some(host.into()),
            value: netem,
        });
        self
    }

    /// How rates are enforced (`tbf` unless told).
    pub fn shaper(mut self, shaper: Shaper) -> Link {
        self.shaper = shaper;
        self
    }

    pub(crate) fn name(&self) -> String {
        format!("{}-{}", self.a, self.b)
    }
}

/// A switch, declared for [`NetworkBuilder::switch`]: a bridge in a namespace of its own,
/// joined to each of its hosts by a veth pair. Its addresses work as a [`Link`]'s.
#[derive(Debug, Clone)]
#[must_use]
pub struct Switch {
    pub(crate) name: String,
    pub(crate) hosts: Vec<String>,
    pub(crate) subnets: Vec<String>,
    pub(crate) addresses: Vec<(String, String)>,
    pub(crate) rate: Option<String>,
    pub(crate) netem: Option<Netem>,
    pub(crate) shaper: Shaper,
}

impl Switch {
    /// A switch named `name` (distinct from every host's name).
    pub fn new(name: impl Into<String>) -> Switch {
        Switch {
            name: name.into(),
            hosts: Vec::new(),
            subnets: Vec::new(),
            addresses: Vec::new(),
            rate: None,
            netem: None,
            shaper: Shaper::default(),
        }
    }

    /// Joins `host` to the switch.
    pub fn host(mut self, host: impl Into<String>) -> Switch {
        self.hosts.push(host.into());
        self
    }

    /// Joins each of `hosts` to the switch.
    pub fn hosts<I>(mut self, hosts: I) -> Switch
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.hosts.extend(hosts.into_iter().map(Into::into));
        self
    }

    /// A subnet the switch's addresses come from.
    pub fn subnet(mut self, subnet: impl Into<String>) -> Switch {
        self.subnets.push(subnet.into());
        self
    }

    /// `host`'s address on this switch, with its prefix.
    pub fn address(mut self, host: impl Into<String>, address: impl Into<String>) -> Switch {
        self.addresses.push((host.into(), address.into()));
        self
    }

    /// Limits every port, both directions, to `rate`.
    pub fn rate(mut self, rate: impl Into<String>) -> Switch {
        self.rate = Some(rate.into());
        self
    }

    /// Emulates `netem` on every port, both directions.
    pub fn netem(mut self, netem: Netem) -> Switch {
        self.netem = Some(netem);
        self
    }

    /// How rates are enforced (`tbf` unless told).
    pub fn shaper(mut self, shaper: Shaper) -> Switch {
        self.shaper = shaper;
        self
    }
}
