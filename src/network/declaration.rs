use super::shaping::{Netem, Shaper};

/// A network as declared: what the builder collected, checked and planned by
/// `Plan::new`.
#[derive(Debug, Clone)]
pub(crate) struct Declaration {
    pub(crate) name: String,
    pub(crate) hosts: Vec<String>,
    pub(crate) links: Vec<Link>,
    pub(crate) switches: Vec<Switch>,
    pub(crate) timeout: std::time::Duration,
}

/// A setting of one direction of a link, or of both (`from` is `None`).
#[derive(Debug, Clone)]
pub(crate) struct DirectionSetting<T> {
    pub(crate) from: Option<String>,
    pub(crate) value: T,
}

/// A link between two hosts, declared for
/// [`NetworkBuilder::link`](super::NetworkBuilder::link): a veth pair.
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

/// A switch, declared for [`NetworkBuilder::switch`](super::NetworkBuilder::switch): a
/// bridge in a namespace of its own, joined to each of its hosts by a veth pair. Its
/// addresses work as a [`Link`]'s.
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
