//! The checked declaration of a network: every interface named and numbered, every address
//! and route decided, before anything is created. Pure logic, tested here.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use super::address::Cidr;
use super::declaration::{Declaration, DirectionSetting};
use super::error::{InvalidDeclaration, NetworkError};
use super::shaping::{Netem, Rate, Shaper, Shaping};

/// A fresh namespace has only `lo` (index 1); ours are numbered from 2, so the indexes are
/// known without asking the kernel.
const FIRST_INDEX: u32 = 2;

#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) name: String,
    pub(crate) timeout: Duration,
    pub(crate) hosts: Vec<HostPlan>,
    pub(crate) switches: Vec<SwitchPlan>,
    pub(crate) segments: Vec<SegmentPlan>,
}

#[derive(Debug, Clone)]
pub(crate) struct HostPlan {
    pub(crate) name: String,
    pub(crate) interfaces: Vec<InterfacePlan>,
    pub(crate) routes: Vec<RoutePlan>,
    pub(crate) forwarding: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct InterfacePlan {
    pub(crate) name: String,
    pub(crate) index: u32,
    pub(crate) segment: usize,
    pub(crate) addresses: Vec<Cidr>,
    /// What the host sends on this interface.
    pub(crate) egress: Shaping,
}

#[derive(Debug, Clone)]
pub(crate) struct SwitchPlan {
    pub(crate) name: String,
    pub(crate) bridge_index: u32,
    pub(crate) ports: Vec<PortPlan>,
}

#[derive(Debug, Clone)]
pub(crate) struct PortPlan {
    pub(crate) name: String,
    pub(crate) index: u32,
    pub(crate) host: usize,
    pub(crate) interface: usize,
    /// What the switch sends to the host.
    pub(crate) egress: Shaping,
}

#[derive(Debug, Clone)]
pub(crate) struct SegmentPlan {
    pub(crate) name: String,
    pub(crate) kind: SegmentKind,
    pub(crate) shaper: Shaper,
    pub(crate) subnets: Vec<Cidr>,
}

/// An interface of a host: (host, interface), indexes into the plan.
pub(crate) type End = (usize, usize);

#[derive(Debug, Clone)]
pub(crate) enum SegmentKind {
    /// A veth pair between two hosts; created from `a`'s side.
    Link { a: End, b: End },
    /// A bridge; its ports are in the switch plan.
    Switch { switch: usize },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RoutePlan {
    pub(crate) destination: Cidr,
    pub(crate) via: IpAddr,
}

impl Plan {
    pub(crate) fn segment_ends(&self, segment: usize) -> Vec<End> {
        match self.segments[segment].kind {
            SegmentKind::Link { a, b } => vec![a, b],
            SegmentKind::Switch { switch } => self.switches[switch]
                .ports
                .iter()
                .map(|port| (port.host, port.interface))
                .collect(),
        }
    }

    pub(crate) fn host_index(&self, name: &str) -> Option<usize> {
        self.hosts.iter().position(|host| host.name == name)
    }

    /// The segment joining `x` and `y`: a link between two hosts, or the switch `y` (or `x`)
    /// and a host on it; with the host's end.
    pub(crate) fn find_segment(&self, x: &str, y: &str) -> Option<(usize, Vec<End>)> {
        let (hx, hy) = (self.host_index(x), self.host_index(y));
        self.segments
            .iter()
            .enumerate()
            .find_map(|(index, segment)| match segment.kind {
                SegmentKind::Link { a, b } => {
                    let pair = (Some(a.0), Some(b.0));
                    (pair == (hx, hy) || pair == (hy, hx)).then(|| (index, vec![a, b]))
                }
                SegmentKind::Switch { switch } => {
                    let plan = &self.switches[switch];
                    let host = if plan.name == y {
                        hx
                    } else if plan.name == x {
                        hy
                    } else {
                        None
                    }?;
                    let port = plan.ports.iter().find(|port| port.host == host)?;
                    Some((index, vec![(port.host, port.interface)]))
                }
            })
    }

    pub(crate) fn new(declaration: Declaration) -> Result<Plan, NetworkError> {
        Planner::new(&declaration).plan(declaration)
    }
}

struct Planner {
    network: String,
}

/// A segment while it is planned.
struct Draft {
    what: &'static str,
    name: String,
    members: Vec<usize>,
    subnets: Vec<Cidr>,
    given: Vec<(usize, Cidr)>,
    shaper: Shaper,
    /// Per member: what it sends, what it receives (what the switch or the other end sends).
    shaping: Vec<(Shaping, Shaping)>,
}

impl Planner {
    fn new(builder: &Declaration) -> Planner {
        Planner {
            network: builder.name.clone(),
        }
    }

    fn invalid(
        &self,
        what: &'static str,
        name: &str,
        field: &'static str,
        value: impl ToString,
        problem: impl Into<String>,
    ) -> NetworkError {
        NetworkError::invalid(InvalidDeclaration {
            network: self.network.clone(),
            what,
            name: name.to_owned(),
            field,
            value: value.to_string(),
            problem: problem.into(),
        })
    }

    fn plan(&self, builder: Declaration) -> Result<Plan, NetworkError> {
        if builder.name.trim().is_empty() {
            return Err(self.invalid("network", "", "name", "", "a network needs a name"));
        }
        let mut seen = HashSet::new();
        for host in &builder.hosts {
            if host.trim().is_empty() {
                return Err(self.invalid("host", host, "name", host, "a host needs a name"));
            }
            if !seen.insert(host.as_str()) {
                return Err(self.invalid("host", host, "name", host, "declared twice"));
            }
        }
        for switch in &builder.switches {
            if switch.name.trim().is_empty() || !seen.insert(switch.name.as_str()) {
                return Err(self.invalid(
                    "switch",
                    &switch.name,
                    "name",
                    &switch.name,
                    "a switch needs a name of its own, distinct from every host's and switch's",
                ));
            }
        }
        let hosts: HashMap<&str, usize> = builder
            .hosts
            .iter()
            .enumerate()
            .map(|(index, name)| (name.as_str(), index))
            .collect();
        let known = builder.hosts.join(", ");
        let host = |what, name: &str, field, host: &str| {
            hosts.get(host).copied().ok_or_else(|| {
                self.invalid(
                    what,
                    name,
                    field,
                    host,
                    format!("no such host (the hosts are: {known})"),
                )
            })
        };

        let mut drafts = Vec::new();
        let mut pairs = HashSet::new();
        for link in &builder.links {
            let name = link.name();
            let a = host("link", &name, "a", &link.a)?;
            let b = host("link", &name, "b", &link.b)?;
            if a == b {
                return Err(self.invalid("link", &name, "b", &link.b, "a link joins two hosts"));
            }
            if !pairs.insert((a.min(b), a.max(b))) {
                return Err(self.invalid(
                    "link",
                    &name,
                    "b",
                    &link.b,
                    "a second link between the same two hosts",
                ));
            }
            let members = vec![a, b];
            let rates = self.direction_rates(&name, &link.rates, &builder.hosts, &members)?;
            let netems = self.direction_netems(&name, &link.netems, &builder.hosts, &members)?;
            let sends = |member: usize| Shaping {
                rate: rates[member],
                netem: netems[member],
            };
            drafts.push(Draft {
                what: "link",
                name: name.clone(),
                subnets: self.subnets("link", &name, &link.subnets)?,
                given: self.given("link", &name, &link.addresses, &hosts, &members)?,
                shaper: link.shaper,
                shaping: vec![(sends(0), sends(1)), (sends(1), sends(0))],
                members,
            });
        }
        for switch in &builder.switches {
            let name = &switch.name;
            let mut members = Vec::new();
            for member in &switch.hosts {
                let index = host("switch", name, "hosts", member)?;
                if members.contains(&index) {
                    return Err(self.invalid("switch", name, "hosts", member, "joined twice"));
                }
                members.push(index);
            }
            if members.len() < 2 {
                return Err(self.invalid(
                    "switch",
                    name,
                    "hosts",
                    switch.hosts.join(", "),
                    "a switch joins two hosts or more",
                ));
            }
            let rate = match &switch.rate {
                Some(rate) => Some(self.rate("switch", name, "rate", rate)?),
                None => None,
            };
            if let Some(netem) = &switch.netem {
                self.check_netem("switch", name, netem)?;
            }
            let both = Shaping {
                rate,
                netem: switch.netem,
            };
            drafts.push(Draft {
                what: "switch",
                name: name.clone(),
                subnets: self.subnets("switch", name, &switch.subnets)?,
                given: self.given("switch", name, &switch.addresses, &hosts, &members)?,
                shaper: switch.shaper,
                shaping: vec![(both, both); members.len()],
                members,
            });
        }

        self.derive_subnets(&mut drafts)?;
        self.check_overlaps(&drafts)?;
        self.assign_default_subnets(&mut drafts);
        let addresses = self.allocate(&drafts)?;

        // Interfaces, in declaration order per host.
        let mut host_plans: Vec<HostPlan> = builder
            .hosts
            .iter()
            .map(|name| HostPlan {
                name: name.clone(),
                interfaces: Vec::new(),
                routes: Vec::new(),
                forwarding: false,
            })
            .collect();
        let mut segments = Vec::new();
        let mut switches = Vec::new();
        for (segment, draft) in drafts.iter().enumerate() {
            let mut ends = Vec::new();
            for (member_index, &member) in draft.members.iter().enumerate() {
                let interfaces = &mut host_plans[member].interfaces;
                let ordinal = interfaces.len();
                interfaces.push(InterfacePlan {
                    name: format!("eth{ordinal}"),
                    index: FIRST_INDEX + ordinal as u32,
                    segment,
                    addresses: addresses[segment][member_index].clone(),
                    egress: draft.shaping[member_index].0,
                });
                ends.push((member, ordinal));
            }
            let kind = if draft.what == "link" {
                SegmentKind::Link {
                    a: ends[0],
                    b: ends[1],
                }
            } else {
                let ports = ends
                    .iter()
                    .enumerate()
                    .map(|(port, &(host, interface))| PortPlan {
                        name: format!("p{port}"),
                        index: FIRST_INDEX + 1 + port as u32,
                        host,
                        interface,
                        egress: draft.shaping[port].1,
                    })
                    .collect();
                switches.push(SwitchPlan {
                    name: draft.name.clone(),
                    bridge_index: FIRST_INDEX,
                    ports,
                });
                SegmentKind::Switch {
                    switch: switches.len() - 1,
                }
            };
            segments.push(SegmentPlan {
                name: draft.name.clone(),
                kind,
                shaper: draft.shaper,
                subnets: draft.subnets.clone(),
            });
        }
        let mut plan = Plan {
            name: builder.name,
            timeout: builder.timeout,
            hosts: host_plans,
            switches,
            segments,
        };
        route(&mut plan);
        Ok(plan)
    }

    fn rate(
        &self,
        what: &'static str,
        name: &str,
        field: &'static str,
        text: &str,
    ) -> Result<Rate, NetworkError> {
        text.parse()
            .map_err(|error: super::shaping::RateParseError| {
                self.invalid(what, name, field, text, error.to_string())
            })
    }

    fn check_netem(
        &self,
        what: &'static str,
        name: &str,
        netem: &Netem,
    ) -> Result<(), NetworkError> {
        match netem.invalid_field() {
            Some((field, value, problem)) => Err(self.invalid(what, name, field, value, problem)),
            None => Ok(()),
        }
    }

    /// Which member a `*_from(host)` setting is about; `None` for both.
    fn direction<T>(
        &self,
        link: &str,
        field: &'static str,
        setting: &DirectionSetting<T>,
        names: &[String],
        members: &[usize],
    ) -> Result<Option<usize>, NetworkError> {
        match &setting.from {
            None => Ok(None),
            Some(from) => members
                .iter()
                .position(|&member| names[member] == *from)
                .map(Some)
                .ok_or_else(|| {
                    self.invalid("link", link, field, from, "not one of the link's two hosts")
                }),
        }
    }

    fn direction_rates(
        &self,
        link: &str,
        settings: &[DirectionSetting<String>],
        names: &[String],
        members: &[usize],
    ) -> Result<Vec<Option<Rate>>, NetworkError> {
        let mut rates = vec![None; members.len()];
        for setting in settings {
            let field = if setting.from.is_some() {
                "rate_from"
            } else {
                "rate"
            };
            let rate = self.rate("link", link, field, &setting.value)?;
            match self.direction(link, field, setting, names, members)? {
                Some(member) => rates[member] = Some(rate),
                None => rates.iter_mut().for_each(|slot| *slot = Some(rate)),
            }
        }
        Ok(rates)
    }

    fn direction_netems(
        &self,
        link: &str,
        settings: &[DirectionSetting<Netem>],
        names: &[String],
        members: &[usize],
    ) -> Result<Vec<Option<Netem>>, NetworkError> {
        let mut netems = vec![None; members.len()];
        for setting in settings {
            self.check_netem("link", link, &setting.value)?;
            match self.direction(link, "netem_from", setting, names, members)? {
                Some(member) => netems[member] = Some(setting.value),
                None => netems
                    .iter_mut()
                    .for_each(|slot| *slot = Some(setting.value)),
            }
        }
        Ok(netems)
    }

    fn subnets(
        &self,
        what: &'static str,
        name: &str,
        texts: &[String],
    ) -> Result<Vec<Cidr>, NetworkError> {
        let mut subnets: Vec<Cidr> = Vec::new();
        for text in texts {
            let subnet: Cidr = text
                .parse()
                .map_err(|error: super::address::CidrParseError| {
                    self.invalid(what, name, "subnet", text, error.to_string())
                })?;
            if subnets
                .iter()
                .any(|other| other.is_ipv4() == subnet.is_ipv4())
            {
                return Err(self.invalid(
                    what,
                    name,
                    "subnet",
                    text,
                    "a second subnet of the same IP version",
                ));
            }
            subnets.push(subnet.network());
        }
        Ok(subnets)
    }

    fn given(
        &self,
        what: &'static str,
        name: &str,
        addresses: &[(String, String)],
        hosts: &HashMap<&str, usize>,
        members: &[usize],
    ) -> Result<Vec<(usize, Cidr)>, NetworkError> {
        let mut given = Vec::new();
        for (host, text) in addresses {
            let value = format!("{host} = {text}");
            let member = hosts
                .get(host.as_str())
                .and_then(|index| members.iter().position(|member| member == index))
                .ok_or_else(|| {
                    self.invalid(
                        what,
                        name,
                        "address",
                        &value,
                        format!("`{host}` is not on this {what}"),
                    )
                })?;
            let address: Cidr = text
                .parse()
                .map_err(|error: super::address::CidrParseError| {
                    self.invalid(what, name, "address", &value, error.to_string())
                })?;
            if given.iter().any(|(other, cidr): &(usize, Cidr)| {
                *other == member && cidr.is_ipv4() == address.is_ipv4()
            }) {
                return Err(self.invalid(
                    what,
                    name,
                    "address",
                    &value,
                    "a second address of the same IP version for this host",
                ));
            }
            given.push((member, address));
        }
        Ok(given)
    }

    /// A family with given addresses and no declared subnet takes the subnet of the first
    /// given address; every given address must then be inside its family's subnet.
    fn derive_subnets(&self, drafts: &mut [Draft]) -> Result<(), NetworkError> {
        for draft in drafts {
            for &(_, address) in &draft.given {
                if !draft
                    .subnets
                    .iter()
                    .any(|s| s.is_ipv4() == address.is_ipv4())
                {
                    draft.subnets.push(address.network());
                }
            }
            for &(member, address) in &draft.given {
                let subnet = draft
                    .subnets
                    .iter()
                    .find(|s| s.is_ipv4() == address.is_ipv4())
                    .expect("a subnet per family of the given addresses");
                if !subnet.contains(address.address()) || subnet.prefix() != address.prefix() {
                    return Err(self.invalid(
                        draft.what,
                        &draft.name,
                        "address",
                        address,
                        format!(
                            "not an address of the {what}'s subnet {subnet} (host #{member})",
                            what = draft.what
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    fn check_overlaps(&self, drafts: &[Draft]) -> Result<(), NetworkError> {
        for (i, first) in drafts.iter().enumerate() {
            for second in &drafts[i + 1..] {
                for subnet in &second.subnets {
                    if let Some(other) = first.subnets.iter().find(|other| other.overlaps(subnet)) {
                        return Err(self.invalid(
                            second.what,
                            &second.name,
                            "subnet",
                            subnet,
                            format!("overlaps {other} of {} `{}`", first.what, first.name),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Segments declared with no address at all get 10.100.k.0/24 and fd00:7e57:0:k::/64,
    /// the k-th pair that overlaps nothing declared.
    fn assign_default_subnets(&self, drafts: &mut [Draft]) {
        let declared: Vec<Cidr> = drafts.iter().flat_map(|d| d.subnets.clone()).collect();
        let free = |candidate: &Cidr| !declared.iter().any(|taken| taken.overlaps(candidate));
        let mut k: u32 = 0;
        for draft in drafts.iter_mut().filter(|draft| draft.subnets.is_empty()) {
            loop {
                let v4 = Cidr::new(IpAddr::V4(Ipv4Addr::from(0x0a64_0000 + (k << 8))), 24)
                    .expect("a /24");
                let v6 = Cidr::new(
                    IpAddr::V6(Ipv6Addr::new(
                        0xfd00,
                        0x7e57,
                        (k >> 16) as u16,
                        k as u16,
                        0,
                        0,
                        0,
                        0,
                    )),
                    64,
                )
                .expect("a /64");
                k += 1;
                if free(&v4) && free(&v6) {
                    draft.subnets = vec![v4, v6];
                    break;
                }
            }
        }
    }

    /// Per segment, per member: its addresses.
    fn allocate(&self, drafts: &[Draft]) -> Result<Vec<Vec<Vec<Cidr>>>, NetworkError> {
        let mut all = Vec::new();
        for draft in drafts {
            let mut per_member = vec![Vec::new(); draft.members.len()];
            for subnet in &draft.subnets {
                let given: Vec<(usize, Cidr)> = draft
                    .given
                    .iter()
                    .copied()
                    .filter(|(_, address)| address.is_ipv4() == subnet.is_ipv4())
                    .collect();
                let needed = draft.members.len() as u128;
                if subnet.host_capacity() < needed {
                    return Err(self.invalid(
                        draft.what,
                        &draft.name,
                        "subnet",
                        subnet,
                        format!(
                            "too small: room for {} addresses, {} hosts on it",
                            subnet.host_capacity(),
                            needed
                        ),
                    ));
                }
                let mut taken: HashSet<IpAddr> = HashSet::new();
                for (_, address) in &given {
                    if !taken.insert(address.address()) {
                        return Err(self.invalid(
                            draft.what,
                            &draft.name,
                            "address",
                            address,
                            "given to two hosts",
                        ));
                    }
                }
                let mut next = 0u128;
                for (member, slot) in per_member.iter_mut().enumerate() {
                    if let Some((_, address)) = given.iter().find(|(m, _)| *m == member) {
                        slot.push(*address);
                        continue;
                    }
                    let address = loop {
                        if next >= subnet.host_capacity() {
                            return Err(self.invalid(
                                draft.what,
                                &draft.name,
                                "subnet",
                                subnet,
                                "too small: the given addresses leave no room for the other hosts",
                            ));
                        }
                        let candidate = subnet.host(next);
                        next += 1;
                        if !taken.contains(&candidate.address()) {
                            break candidate;
                        }
                    };
                    taken.insert(address.address());
                    slot.push(address);
                }
            }
            all.push(per_member);
        }
        Ok(all)
    }
}

/// Static routes so every host reaches every subnet: for each subnet not on a host, a route
/// via the neighbour on the shortest path (breadth first, per IP version); hosts on two
/// segments or more forward.
fn route(plan: &mut Plan) {
    let host_count = plan.hosts.len();
    for ipv4 in [true, false] {
        // neighbours[h] = (neighbour host, its address of this version on the shared segment)
        let mut neighbours: Vec<Vec<(usize, IpAddr)>> = vec![Vec::new(); host_count];
        for segment in 0..plan.segments.len() {
            let ends = plan.segment_ends(segment);
            for &(h, _) in &ends {
                for &(n, ni) in &ends {
                    if n == h {
                        continue;
                    }
                    if let Some(address) = plan.hosts[n].interfaces[ni]
                        .addresses
                        .iter()
                        .find(|a| a.is_ipv4() == ipv4)
                    {
                        neighbours[h].push((n, address.address()));
                    }
                }
            }
        }
        for source in 0..host_count {
            // First hop towards every host, breadth first.
            let mut first_hop: Vec<Option<IpAddr>> = vec![None; host_count];
            let mut visited = vec![false; host_count];
            visited[source] = true;
            let mut queue = VecDeque::new();
            for &(n, address) in &neighbours[source] {
                if !visited[n] {
                    visited[n] = true;
                    first_hop[n] = Some(address);
                    queue.push_back(n);
                }
            }
            while let Some(h) = queue.pop_front() {
                for &(n, _) in &neighbours[h] {
                    if !visited[n] {
                        visited[n] = true;
                        first_hop[n] = first_hop[h];
                        queue.push_back(n);
                    }
                }
            }
            let attached: HashSet<usize> = plan.hosts[source]
                .interfaces
                .iter()
                .map(|interface| interface.segment)
                .collect();
            let mut routes = Vec::new();
            for (segment, plan_segment) in plan.segments.iter().enumerate() {
                if attached.contains(&segment) {
                    continue;
                }
                let Some(subnet) = plan_segment.subnets.iter().find(|s| s.is_ipv4() == ipv4) else {
                    continue;
                };
                // The nearest host on that segment decides the first hop.
                let via = plan
                    .segment_ends(segment)
                    .iter()
                    .filter_map(|&(h, _)| first_hop[h])
                    .next();
                if let Some(via) = via {
                    routes.push(RoutePlan {
                        destination: *subnet,
                        via,
                    });
                }
            }
            plan.hosts[source].routes.extend(routes);
        }
    }
    for host in &mut plan.hosts {
        host.forwarding = host.interfaces.len() >= 2;
    }
}
