use std::time::Duration;

use super::declaration::{Declaration, Link, Switch};
use super::error::NetworkError;
use super::network::Network;
use super::plan::Plan;

impl Network {
    /// Declares a network named `name` (in errors and thread names).
    pub fn builder(name: impl Into<String>) -> NetworkBuilder {
        NetworkBuilder {
            declaration: Declaration {
                name: name.into(),
                hosts: Vec::new(),
                links: Vec::new(),
                switches: Vec::new(),
                timeout: Duration::from_secs(10),
            },
        }
    }
}

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
    declaration: Declaration,
}

impl NetworkBuilder {
    /// A host: a network namespace of its own, with a loopback interface up.
    pub fn host(mut self, name: impl Into<String>) -> NetworkBuilder {
        self.declaration.hosts.push(name.into());
        self
    }

    /// A link between two hosts: a veth pair, one end in each.
    pub fn link(mut self, link: Link) -> NetworkBuilder {
        self.declaration.links.push(link);
        self
    }

    /// A switch: a bridge joining several hosts, each by a veth pair.
    pub fn switch(mut self, switch: Switch) -> NetworkBuilder {
        self.declaration.switches.push(switch);
        self
    }

    /// The deadline of [`Network::start`], [`Network::stop`] and of each fault (10 s unless
    /// told).
    pub fn timeout(mut self, timeout: Duration) -> NetworkBuilder {
        self.declaration.timeout = timeout;
        self
    }

    /// Checks the declaration and plans the network: interface names, addresses, routes.
    ///
    /// # Errors
    /// [`NetworkError::Invalid`] naming the host, link or switch, the field and the value.
    pub fn build(self) -> Result<Network, NetworkError> {
        Ok(Network::new(Plan::new(self.declaration)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(builder: NetworkBuilder) -> Result<Plan, NetworkError> {
        Plan::new(builder.declaration)
    }

    fn chain(n: usize) -> NetworkBuilder {
        let mut builder = Network::builder("chain");
        for i in 0..n {
            builder = builder.host(format!("h{i}"));
        }
        for i in 1..n {
            builder = builder.link(Link::new(format!("h{}", i - 1), format!("h{i}")));
        }
        builder
    }

    #[test]
    fn a_link_gets_addresses_from_its_subnet_in_host_order() {
        let plan = plan(
            Network::builder("n").host("a").host("b").link(
                Link::new("a", "b")
                    .subnet("10.9.0.0/24")
                    .subnet("fd00:9::/64"),
            ),
        )
        .unwrap();
        let a = &plan.hosts[0].interfaces[0];
        assert_eq!((a.name.as_str(), a.index), ("eth0", 2));
        let text: Vec<String> = a.addresses.iter().map(ToString::to_string).collect();
        assert_eq!(text, ["10.9.0.1/24", "fd00:9::1/64"]);
        assert_eq!(
            plan.hosts[1].interfaces[0].addresses[0].to_string(),
            "10.9.0.2/24"
        );
        assert!(plan.hosts[0].routes.is_empty());
    }

    #[test]
    fn given_addresses_are_kept_and_skipped_by_the_others() {
        let plan = plan(
            Network::builder("n").host("a").host("b").link(
                Link::new("a", "b")
                    .subnet("10.9.0.0/24")
                    .address("b", "10.9.0.1/24"),
            ),
        )
        .unwrap();
        assert_eq!(
            plan.hosts[0].interfaces[0].addresses[0].to_string(),
            "10.9.0.2/24"
        );
        assert_eq!(
            plan.hosts[1].interfaces[0].addresses[0].to_string(),
            "10.9.0.1/24"
        );
    }

    #[test]
    fn links_without_subnets_get_distinct_default_ones() {
        let plan = plan(chain(3)).unwrap();
        assert_eq!(plan.segments[0].subnets[0].to_string(), "10.100.0.0/24");
        assert_eq!(plan.segments[1].subnets[0].to_string(), "10.100.1.0/24");
        assert_eq!(
            plan.segments[1].subnets[1].to_string(),
            "fd00:7e57:0:1::/64"
        );
    }

    #[test]
    fn a_chain_routes_every_subnet_through_the_next_host() {
        let plan = plan(chain(4)).unwrap();
        let first = &plan.hosts[0];
        let v4: Vec<String> = first
            .routes
            .iter()
            .filter(|r| r.destination.is_ipv4())
            .map(|r| format!("{} via {}", r.destination, r.via))
            .collect();
        assert_eq!(
            v4,
            [
                "10.100.1.0/24 via 10.100.0.2",
                "10.100.2.0/24 via 10.100.0.2"
            ]
        );
        assert!(!first.forwarding);
        assert!(plan.hosts[1].forwarding);
        let last = &plan.hosts[3];
        assert!(
            last.routes
                .iter()
                .any(|r| r.destination.to_string() == "fd00:7e57::/64"
                    && r.via.to_string() == "fd00:7e57:0:2::1")
        );
    }

    #[test]
    fn a_switch_numbers_its_ports_after_the_bridge() {
        let plan = plan(
            Network::builder("n").host("a").host("b").host("c").switch(
                Switch::new("lan")
                    .hosts(["a", "b", "c"])
                    .subnet("192.168.5.0/29"),
            ),
        )
        .unwrap();
        let switch = &plan.switches[0];
        assert_eq!(switch.bridge_index, 2);
        assert_eq!(switch.ports[2].name, "p2");
        assert_eq!(switch.ports[2].index, 5);
        assert_eq!(
            plan.hosts[2].interfaces[0].addresses[0].to_string(),
            "192.168.5.3/29"
        );
        assert_eq!(plan.find_segment("b", "lan").unwrap().1, vec![(1, 0)]);
    }

    fn refused(builder: NetworkBuilder) -> String {
        plan(builder).unwrap_err().to_string()
    }

    #[test]
    fn an_unknown_host_is_named_with_the_link_and_the_field() {
        let error = refused(
            Network::builder("n")
                .host("a")
                .link(Link::new("a", "ghost")),
        );
        assert_eq!(
            error,
            "network `n`: link `a-ghost`: b = `ghost`: no such host (the hosts are: a)"
        );
    }

    #[test]
    fn overlapping_subnets_are_refused_naming_both() {
        let error = refused(
            Network::builder("n")
                .host("a")
                .host("b")
                .host("c")
                .link(Link::new("a", "b").subnet("10.0.0.0/16"))
                .link(Link::new("b", "c").subnet("10.0.3.0/24")),
        );
        assert!(
            error
                .contains("link `b-c`: subnet = `10.0.3.0/24`: overlaps 10.0.0.0/16 of link `a-b`"),
            "{error}"
        );
    }

    #[test]
    fn a_subnet_too_small_for_its_hosts_is_refused() {
        let error = refused(
            Network::builder("n").host("a").host("b").host("c").switch(
                Switch::new("lan")
                    .hosts(["a", "b", "c"])
                    .subnet("10.0.0.0/31"),
            ),
        );
        assert!(
            error.contains(
                "switch `lan`: subnet = `10.0.0.0/31`: too small: room for 2 addresses, 3 hosts"
            ),
            "{error}"
        );
    }

    #[test]
    fn a_bad_rate_is_refused_with_its_value() {
        let error = refused(
            Network::builder("n")
                .host("a")
                .host("b")
                .link(Link::new("a", "b").rate("fast")),
        );
        assert!(
            error.contains("link `a-b`: rate = `fast`: `fast` is not a rate"),
            "{error}"
        );
        let error = refused(
            Network::builder("n")
                .host("a")
                .host("b")
                .link(Link::new("a", "b").rate_from("c", "1mbit")),
        );
        assert!(
            error.contains("rate_from = `c`: not one of the link's two hosts"),
            "{error}"
        );
    }

    #[test]
    fn an_address_outside_the_subnet_is_refused() {
        let error = refused(
            Network::builder("n").host("a").host("b").link(
                Link::new("a", "b")
                    .subnet("10.0.0.0/24")
                    .address("a", "10.1.0.1/24"),
            ),
        );
        assert!(
            error.contains(
                "address = `10.1.0.1/24`: not an address of the link's subnet 10.0.0.0/24"
            ),
            "{error}"
        );
    }

    #[test]
    fn duplicate_hosts_and_self_links_are_refused() {
        assert!(refused(Network::builder("n").host("a").host("a")).contains("declared twice"));
        assert!(
            refused(Network::builder("n").host("a").link(Link::new("a", "a")))
                .contains("joins two hosts")
        );
    }
}
