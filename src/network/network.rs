use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex};

use futures_util::future::try_join_all;

use super::error::{InvalidDeclaration, NetworkError, Result};
use super::namespace::Namespace;
use super::netlink::Netlink;
use super::plan::{Plan, SegmentKind};
use super::qdisc;
use super::shaping::{Netem, Rate, Shaping};
use crate::host::{Host, Interface};

/// An emulated network: hosts (network namespaces of this process) joined by links (veth
/// pairs) and switches (bridges, each in a namespace of its own), with addresses, routes,
/// rates and netem; built by [`start`](Network::start), removed by [`stop`](Network::stop).
///
/// Nothing is created in the machine's own namespace and nothing is named in `/run/netns`:
/// the namespaces exist only while this process holds them, so they go, with every
/// interface and qdisc in them, when it stops them or dies (even SIGKILLed).
///
/// Needs CAP_SYS_ADMIN and CAP_NET_ADMIN: root, or a user namespace entered with
/// [`enter_user_namespace`](super::enter_user_namespace); [`availability`](super::availability)
/// says whether this process has them.
///
/// # Examples
/// ```no_run
/// use testrig::network::{Link, Network};
///
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let network = Network::builder("pair")
///     .host("a")
///     .host("b")
///     .link(Link::new("a", "b").subnet("10.0.0.0/24").rate("100mbit"))
///     .build()?;
/// network.start().await?;
/// let b = network.host("b")?;
/// let listener = b.run(|| std::net::TcpListener::bind("10.0.0.2:5000")).await??;
/// let stream = network
///     .host("a")?
///     .run(|| std::net::TcpStream::connect("10.0.0.2:5000"))
///     .await??;
/// network.link_down("a", "b").await?;
/// network.link_up("a", "b").await?;
/// network.stop().await?;
/// # drop((listener, stream)); Ok(()) }
/// ```
#[derive(Debug)]
pub struct Network {
    plan: Plan,
    state: Mutex<State>,
}

#[derive(Debug)]
enum State {
    Declared,
    Starting,
    Running(Arc<Running>),
    Stopping,
    Stopped,
}

impl State {
    fn name(&self) -> &'static str {
        match self {
            State::Declared => "not started",
            State::Starting => "starting",
            State::Running(_) => "running",
            State::Stopping => "stopping",
            State::Stopped => "stopped",
        }
    }
}

#[derive(Debug)]
struct Running {
    hosts: Vec<Host>,
    host_netlink: Vec<Netlink>,
    switches: Vec<Namespace>,
    switch_netlink: Vec<Netlink>,
    /// What each interface sends now, by (namespace label, interface name).
    shaping: Mutex<HashMap<(String, String), Shaping>>,
}

/// One interface to act on: in a host or in a switch.
#[derive(Debug, Clone, Copy)]
enum Side {
    Host { host: usize, interface: usize },
    Port { switch: usize, port: usize },
}

impl Network {
    pub(crate) fn new(plan: Plan) -> Network {
        Network {
            plan,
            state: Mutex::new(State::Declared),
        }
    }

    /// The network's name.
    pub fn name(&self) -> &str {
        &self.plan.name
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn running(&self, operation: &'static str) -> Result<Arc<Running>> {
        match &*self.lock() {
            State::Running(running) => Ok(running.clone()),
            other => Err(NetworkError::State {
                network: self.plan.name.clone(),
                operation,
                state: other.name(),
                needed: "running",
            }),
        }
    }

    async fn with_deadline<T>(
        &self,
        operation: String,
        work: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        tokio::time::timeout(self.plan.timeout, work)
            .await
            .map_err(|_| NetworkError::Timeout {
                operation,
                after: self.plan.timeout,
            })?
    }

    /// Creates the network: namespaces, links, addresses, routes, forwarding, qdiscs.
    ///
    /// On failure nothing is left: what was created goes with its namespaces. A stopped
    /// network starts again afresh (new namespaces; the hosts handed out before are gone),
    /// as an environment does when it is started again.
    ///
    /// # Errors
    /// [`NetworkError::Unsupported`] when netem (or `tc`) is asked for and missing, before
    /// anything is created; [`NetworkError::Netlink`], [`NetworkError::Tc`] naming the step
    /// and the namespace; [`NetworkError::Timeout`]; [`NetworkError::State`] while it is
    /// starting, running or stopping.
    pub async fn start(&self) -> Result<()> {
        {
            let mut state = self.lock();
            if !matches!(*state, State::Declared | State::Stopped) {
                return Err(NetworkError::State {
                    network: self.plan.name.clone(),
                    operation: "start",
                    state: state.name(),
                    needed: "not started or stopped",
                });
            }
            *state = State::Starting;
        }
        // Cancelled mid-way (the future dropped), the network is left stopped: what was
        // created goes with the dropped namespaces.
        let cancelled = CancelGuard(self);
        let built = self
            .with_deadline(format!("start network `{}`", self.plan.name), self.build())
            .await;
        std::mem::forget(cancelled);
        let mut state = self.lock();
        match built {
            Ok(running) => {
                *state = State::Running(Arc::new(running));
                Ok(())
            }
            Err(error) => {
                // Dropped namespaces take everything created in them.
                *state = State::Stopped;
                Err(error)
            }
        }
    }

    async fn build(&self) -> Result<Running> {
        let plan = &self.plan;
        self.check_netem().await?;

        let label = |name: &str| format!("{}/{}", plan.name, name);
        let io_error = |name: &str| {
            let namespace = label(name);
            move |source| NetworkError::Io {
                action: "create a network namespace".into(),
                namespace,
                source,
            }
        };
        let host_namespaces = try_join_all(plan.hosts.iter().map(|host| async {
            Namespace::create(&label(&host.name))
                .await
                .map_err(io_error(&host.name))
        }))
        .await?;
        let switches = try_join_all(plan.switches.iter().map(|switch| async {
            Namespace::create(&label(&switch.name))
                .await
                .map_err(io_error(&switch.name))
        }))
        .await?;
        let host_netlink = try_join_all(host_namespaces.iter().map(Netlink::open)).await?;
        let switch_netlink = try_join_all(switches.iter().map(Netlink::open)).await?;

        let host_fd = |host: usize| {
            host_namespaces[host]
                .fd()
                .expect("just created")
                .as_raw_fd()
        };
        let switch_fd = |switch: usize| switches[switch].fd().expect("just created").as_raw_fd();

        // Bridges, then every veth pair, each made from its host's side.
        try_join_all(
            plan.switches
                .iter()
                .enumerate()
                .map(|(s, switch)| switch_netlink[s].create_bridge("br0", switch.bridge_index)),
        )
        .await?;
        let mut veths = Vec::new();
        for segment in &plan.segments {
            match segment.kind {
                SegmentKind::Link { a, b } => {
                    let (ai, bi) = (
                        &plan.hosts[a.0].interfaces[a.1],
                        &plan.hosts[b.0].interfaces[b.1],
                    );
                    veths.push(host_netlink[a.0].create_veth(
                        &ai.name,
                        ai.index,
                        &bi.name,
                        bi.index,
                        host_fd(b.0),
                        host_namespaces[b.0].label(),
                    ));
                }
                SegmentKind::Switch { switch } => {
                    for port in &plan.switches[switch].ports {
                        let interface = &plan.hosts[port.host].interfaces[port.interface];
                        veths.push(host_netlink[port.host].create_veth(
                            &interface.name,
                            interface.index,
                            &port.name,
                            port.index,
                            switch_fd(switch),
                            switches[switch].label(),
                        ));
                    }
                }
            }
        }
        try_join_all(veths).await?;

        // The far ends up, ports into their bridges (which brings them up); addresses; then
        // routes (their gateways must be on a connected subnet, which needs the addresses).
        let mut steps = Vec::new();
        for segment in &plan.segments {
            if let SegmentKind::Link { b, .. } = segment.kind {
                let interface = &plan.hosts[b.0].interfaces[b.1];
                steps.push(host_netlink[b.0].set_up(interface.index, &interface.name, true));
            }
        }
        let mut attach = Vec::new();
        for (s, switch) in plan.switches.iter().enumerate() {
            for port in &switch.ports {
                attach.push(switch_netlink[s].set_controller(port.index, switch.bridge_index));
            }
        }
        futures_util::try_join!(try_join_all(steps), try_join_all(attach))?;
        let mut steps = Vec::new();
        for (h, host) in plan.hosts.iter().enumerate() {
            for interface in &host.interfaces {
                for &address in &interface.addresses {
                    steps.push(host_netlink[h].add_address(
                        interface.index,
                        &interface.name,
                        address,
                        false,
                    ));
                }
            }
        }
        try_join_all(steps).await?;
        let mut steps = Vec::new();
        for (h, host) in plan.hosts.iter().enumerate() {
            for route in &host.routes {
                steps.push(host_netlink[h].add_route(route, false));
            }
        }
        try_join_all(steps).await?;

        try_join_all(
            plan.hosts
                .iter()
                .zip(&host_namespaces)
                .filter(|(host, _)| host.forwarding)
                .map(|(_, namespace)| enable_forwarding(namespace)),
        )
        .await?;

        let mut shaping = HashMap::new();
        let mut tc_runs = Vec::new();
        for (h, host) in plan.hosts.iter().enumerate() {
            for interface in &host.interfaces {
                if !interface.egress.is_none() {
                    let shaper = plan.segments[interface.segment].shaper;
                    for args in qdisc::commands(&interface.name, &interface.egress, shaper) {
                        tc_runs.push((h, None, args));
                    }
                    shaping.insert(
                        (
                            host_namespaces[h].label().to_owned(),
                            interface.name.clone(),
                        ),
                        interface.egress,
                    );
                }
            }
        }
        for (s, switch) in plan.switches.iter().enumerate() {
            let shaper = plan.segments
                [plan.hosts[switch.ports[0].host].interfaces[switch.ports[0].interface].segment]
                .shaper;
            for port in &switch.ports {
                if !port.egress.is_none() {
                    for args in qdisc::commands(&port.name, &port.egress, shaper) {
                        tc_runs.push((0, Some(s), args));
                    }
                    shaping.insert(
                        (switches[s].label().to_owned(), port.name.clone()),
                        port.egress,
                    );
                }
            }
        }
        // One interface's commands run in order (an htb class needs its qdisc).
        let mut by_namespace: HashMap<(usize, Option<usize>), Vec<Vec<String>>> = HashMap::new();
        for (h, s, args) in tc_runs {
            by_namespace.entry((h, s)).or_default().push(args);
        }
        try_join_all(by_namespace.into_iter().map(|((h, s), runs)| {
            let namespace = match s {
                Some(s) => &switches[s],
                None => &host_namespaces[h],
            };
            async move {
                for args in runs {
                    qdisc::tc(namespace, &args).await?;
                }
                Ok::<(), NetworkError>(())
            }
        }))
        .await?;

        let hosts = plan
            .hosts
            .iter()
            .zip(host_namespaces)
            .map(|(host, namespace)| {
                let interfaces = self.planned_interfaces(host);
                Host::emulated(&plan.name, &host.name, interfaces, namespace)
            })
            .collect();
        Ok(Running {
            hosts,
            host_netlink,
            switches,
            switch_netlink,
            shaping: Mutex::new(shaping),
        })
    }

    /// The host or switch at the other end of `segment`, seen from `host`.
    fn peer_name(&self, segment: usize, host: &str) -> String {
        let segment = &self.plan.segments[segment];
        match segment.kind {
            SegmentKind::Link { a, b } => {
                let (a, b) = (&self.plan.hosts[a.0].name, &self.plan.hosts[b.0].name);
                if a == host { b.clone() } else { a.clone() }
            }
            SegmentKind::Switch { .. } => segment.name.clone(),
        }
    }

    async fn check_netem(&self) -> Result<()> {
        let plan = &self.plan;
        let wanted = plan.hosts.iter().find_map(|host| {
            host.interfaces.iter().find_map(|interface| {
                interface.egress.netem.map(|_| {
                    format!(
                        "netem on {} from `{}`",
                        plan.segments[interface.segment].name, host.name
                    )
                })
            })
        });
        match wanted {
            None => Ok(()),
            Some(wanted) => qdisc::netem_available()
                .await
                .map_err(|missing| NetworkError::Unsupported { wanted, missing }),
        }
    }

    /// Removes the network: lets go of every namespace (closes the netlink sockets, ends
    /// the threads, closes the descriptors) and returns once this process holds none of
    /// them. The kernel then removes the namespaces with all their links and qdiscs, in the
    /// background and in one batch, exactly as when the process dies.
    ///
    /// Why not delete each link first: every deletion waits for RCU grace periods under the
    /// kernel's rtnl lock (about 20 ms a veth pair here), one after the other, while the
    /// namespaces' own teardown does all of them at once. A network never started just
    /// becomes stopped.
    ///
    /// Sockets created in a host and still open keep its namespace alive: close them first.
    ///
    /// # Errors
    /// [`NetworkError::Timeout`] when a namespace's thread does not end within the
    /// deadline (a [`Host::run`] job still busy); every namespace is let go all the same.
    pub async fn stop(&self) -> Result<()> {
        let running = {
            let mut state = self.lock();
            match std::mem::replace(&mut *state, State::Stopping) {
                State::Running(running) => running,
                State::Declared | State::Stopped => {
                    *state = State::Stopped;
                    return Ok(());
                }
                other @ (State::Starting | State::Stopping) => {
                    let error = NetworkError::State {
                        network: self.plan.name.clone(),
                        operation: "stop",
                        state: other.name(),
                        needed: "running or stopped",
                    };
                    *state = other;
                    return Err(error);
                }
            }
        };
        let deadline = self.plan.timeout;
        let namespaces: Vec<&Namespace> = running
            .hosts
            .iter()
            .map(namespace_of)
            .chain(running.switches.iter())
            .collect();
        futures_util::future::join_all(
            running
                .host_netlink
                .iter()
                .chain(&running.switch_netlink)
                .map(Netlink::close),
        )
        .await;
        let closed = futures_util::future::join_all(
            namespaces.iter().map(|namespace| namespace.close(deadline)),
        )
        .await;
        drop(running);
        *self.lock() = State::Stopped;
        if closed.iter().any(|ended| !ended) {
            return Err(NetworkError::Timeout {
                operation: format!(
                    "end the namespace threads of network `{}` (a Host::run job still busy?)",
                    self.plan.name
                ),
                after: deadline,
            });
        }
        Ok(())
    }

    /// Whether it is running (started and not stopped).
    pub(crate) fn is_running(&self) -> bool {
        matches!(*self.lock(), State::Running(_))
    }

    /// Its part of the report: every host with its interfaces, as declared.
    pub(crate) fn report(&self) -> crate::report::NetworkReport {
        crate::report::NetworkReport {
            name: self.plan.name.clone(),
            hosts: self
                .plan
                .hosts
                .iter()
                .map(|host| (host.name.clone(), self.planned_interfaces(host)))
                .collect(),
        }
    }

    /// The names of its hosts, in declaration order.
    pub(crate) fn host_names(&self) -> Vec<String> {
        self.plan
            .hosts
            .iter()
            .map(|host| host.name.clone())
            .collect()
    }

    /// What host `name` will export once the network runs ([`Host::exports`]), known from
    /// the declaration; `None` when there is no such host.
    pub(crate) fn planned_exports(&self, name: &str) -> Option<crate::Exports> {
        let host = &self.plan.hosts[self.plan.host_index(name)?];
        Some(crate::host::exports_of(&self.planned_interfaces(host)))
    }

    fn planned_interfaces(&self, host: &super::plan::HostPlan) -> Vec<Interface> {
        host.interfaces
            .iter()
            .map(|interface| Interface {
                name: interface.name.clone(),
                peer: self.peer_name(interface.segment, &host.name),
                addresses: interface.addresses.clone(),
            })
            .collect()
    }

    /// The host `name` of the running network.
    ///
    /// # Errors
    /// [`NetworkError::Unknown`], or [`NetworkError::State`] when not running.
    pub fn host(&self, name: &str) -> Result<Host> {
        let running = self.running("host")?;
        running
            .hosts
            .iter()
            .find(|host| host.name() == name)
            .cloned()
            .ok_or_else(|| self.unknown("host", name))
    }

    /// Every host of the running network, in declaration order.
    ///
    /// # Errors
    /// [`NetworkError::State`] when not running.
    pub fn hosts(&self) -> Result<Vec<Host>> {
        Ok(self.running("hosts")?.hosts.clone())
    }

    /// The inodes of every namespace of the running network, hosts' and switches', to check
    /// after [`stop`](Network::stop) that none is held any more.
    ///
    /// # Errors
    /// [`NetworkError::State`] when not running.
    pub fn namespace_inodes(&self) -> Result<Vec<u64>> {
        let running = self.running("namespace_inodes")?;
        Ok(running
            .hosts
            .iter()
            .map(|host| namespace_of(host).inode())
            .chain(running.switches.iter().map(Namespace::inode))
            .collect())
    }

    fn unknown(&self, what: &'static str, name: &str) -> NetworkError {
        NetworkError::Unknown {
            network: self.plan.name.clone(),
            what,
            name: name.to_owned(),
        }
    }

    /// The interfaces of the link or switch port between `x` and `y`, both sides.
    fn sides(&self, x: &str, y: &str) -> Result<Vec<Side>> {
        let (segment, ends) = self
            .plan
            .find_segment(x, y)
            .ok_or_else(|| self.unknown("link", &format!("{x}-{y}")))?;
        Ok(match self.plan.segments[segment].kind {
            SegmentKind::Link { .. } => ends
                .into_iter()
                .map(|(host, interface)| Side::Host { host, interface })
                .collect(),
            SegmentKind::Switch { switch } => {
                let (host, interface) = ends[0];
                let port = self.plan.switches[switch]
                    .ports
                    .iter()
                    .position(|port| port.host == host)
                    .expect("a host on the switch has a port");
                vec![Side::Host { host, interface }, Side::Port { switch, port }]
            }
        })
    }

    /// The interface that carries what `from` sends to `to` (a neighbour host or switch).
    fn egress(&self, from: &str, to: &str) -> Result<(Side, usize)> {
        let (segment, _) = self
            .plan
            .find_segment(from, to)
            .ok_or_else(|| self.unknown("link", &format!("{from}-{to}")))?;
        let sides = self.sides(from, to)?;
        let side = sides
            .into_iter()
            .find(|side| match *side {
                Side::Host { host, .. } => self.plan.hosts[host].name == from,
                Side::Port { switch, .. } => self.plan.switches[switch].name == from,
            })
            .expect("one side sends from `from`");
        Ok((side, segment))
    }

    fn side_names<'r>(
        &self,
        running: &'r Running,
        side: Side,
    ) -> (&'r Netlink, &'r Namespace, u32, String) {
        match side {
            Side::Host { host, interface } => {
                let plan = &self.plan.hosts[host].interfaces[interface];
                (
                    &running.host_netlink[host],
                    namespace_of(&running.hosts[host]),
                    plan.index,
                    plan.name.clone(),
                )
            }
            Side::Port { switch, port } => {
                let plan = &self.plan.switches[switch].ports[port];
                (
                    &running.switch_netlink[switch],
                    &running.switches[switch],
                    plan.index,
                    plan.name.clone(),
                )
            }
        }
    }

    async fn set_link(&self, x: &str, y: &str, up: bool) -> Result<()> {
        let running = self.running(if up { "link_up" } else { "link_down" })?;
        let sides = self.sides(x, y)?;
        let operation = format!("set link {x}-{y} {}", if up { "up" } else { "down" });
        self.with_deadline(operation, async {
            try_join_all(sides.iter().map(|&side| {
                let (netlink, _, index, name) = self.side_names(&running, side);
                async move { netlink.set_up(index, &name, up).await }
            }))
            .await?;
            if up {
                self.restore(&running, &sides).await?;
            }
            Ok(())
        })
        .await
    }

    /// Taking an interface down drops the routes through it (the kernel flushes routes
    /// whose next hop is gone); bringing it up must give them back, and the addresses too
    /// should the kernel have dropped them.
    async fn restore(&self, running: &Running, sides: &[Side]) -> Result<()> {
        let mut steps = Vec::new();
        for side in sides {
            if let Side::Host { host, interface } = *side {
                let plan = &self.plan.hosts[host];
                let interface = &plan.interfaces[interface];
                for &address in &interface.addresses {
                    steps.push(running.host_netlink[host].add_address(
                        interface.index,
                        &interface.name,
                        address,
                        true,
                    ));
                }
            }
        }
        try_join_all(steps).await?;
        let mut steps = Vec::new();
        for side in sides {
            if let Side::Host { host, .. } = *side {
                for route in &self.plan.hosts[host].routes {
                    steps.push(running.host_netlink[host].add_route(route, true));
                }
            }
        }
        try_join_all(steps).await.map(drop)
    }

    /// Takes the link (or switch port) between `x` and `y` down, both ends: nothing passes
    /// until [`link_up`](Network::link_up).
    ///
    /// # Errors
    /// [`NetworkError::Unknown`] when no link joins them; [`NetworkError::State`] when not
    /// running.
    pub async fn link_down(&self, x: &str, y: &str) -> Result<()> {
        self.set_link(x, y, false).await
    }

    /// Brings the link (or switch port) between `x` and `y` back up.
    ///
    /// # Errors
    /// As [`link_down`](Network::link_down).
    pub async fn link_up(&self, x: &str, y: &str) -> Result<()> {
        self.set_link(x, y, true).await
    }

    async fn reshape(&self, from: &str, to: &str, change: impl FnOnce(&mut Shaping)) -> Result<()> {
        let running = self.running("a shaping change")?;
        let (side, segment) = self.egress(from, to)?;
        let (_, namespace, _, name) = self.side_names(&running, side);
        let key = (namespace.label().to_owned(), name.clone());
        let mut shaping = running
            .shaping
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .copied()
            .unwrap_or_default();
        change(&mut shaping);
        if let Some(netem) = shaping.netem {
            if let Some((field, value, problem)) = netem.invalid_field() {
                return Err(NetworkError::invalid(InvalidDeclaration {
                    network: self.plan.name.clone(),
                    what: "link",
                    name: format!("{from}-{to}"),
                    field,
                    value,
                    problem: problem.into(),
                }));
            }
            qdisc::netem_available()
                .await
                .map_err(|missing| NetworkError::Unsupported {
                    wanted: format!(
                        "netem on {} from `{from}`",
                        self.plan.segments[segment].name
                    ),
                    missing,
                })?;
        }
        let shaper = self.plan.segments[segment].shaper;
        self.with_deadline(format!("change the shaping from {from} to {to}"), async {
            for args in qdisc::commands(&name, &shaping, shaper) {
                qdisc::tc(namespace, &args).await?;
            }
            Ok(())
        })
        .await?;
        running
            .shaping
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, shaping);
        Ok(())
    }

    /// Limits what `from` sends to its neighbour `to` (a host or a switch) to `rate`, or
    /// lifts the limit (`None`). Netem set on that direction stays.
    ///
    /// # Errors
    /// [`NetworkError::Unknown`] when `from` and `to` are not neighbours; [`NetworkError::Tc`].
    pub async fn set_rate(&self, from: &str, to: &str, rate: Option<Rate>) -> Result<()> {
        self.reshape(from, to, |shaping| shaping.rate = rate).await
    }

    /// Sets netem on what `from` sends to its neighbour `to`, or removes it (`None`).
    ///
    /// # Errors
    /// [`NetworkError::Unsupported`] naming netem where the kernel lacks it;
    /// [`NetworkError::Invalid`] for a percentage out of range; as
    /// [`set_rate`](Network::set_rate).
    pub async fn set_netem(&self, from: &str, to: &str, netem: Option<Netem>) -> Result<()> {
        self.reshape(from, to, |shaping| shaping.netem = netem)
            .await
    }

    async fn blackholes(&self, x: &str, y: &str, present: bool) -> Result<()> {
        let running = self.running(if present { "partition" } else { "heal" })?;
        let hx = self
            .plan
            .host_index(x)
            .ok_or_else(|| self.unknown("host", x))?;
        let hy = self
            .plan
            .host_index(y)
            .ok_or_else(|| self.unknown("host", y))?;
        let operation = format!("{} {x} and {y}", if present { "partition" } else { "heal" });
        self.with_deadline(operation, async {
            let mut changes = Vec::new();
            for (here, there) in [(hx, hy), (hy, hx)] {
                let addresses: Vec<IpAddr> = running.hosts[there].addresses();
                for address in addresses {
                    changes.push(running.host_netlink[here].blackhole(address, present));
                }
            }
            try_join_all(changes).await.map(drop)
        })
        .await
    }

    /// Cuts hosts `x` and `y` apart, wherever they are in the network: each drops what it
    /// sends to the other's addresses (blackhole routes), other traffic flows on.
    ///
    /// # Errors
    /// [`NetworkError::Unknown`] for an unknown host; [`NetworkError::Netlink`] (e.g.
    /// partitioned twice).
    pub async fn partition(&self, x: &str, y: &str) -> Result<()> {
        self.blackholes(x, y, true).await
    }

    /// Undoes [`partition`](Network::partition).
    ///
    /// # Errors
    /// As [`partition`](Network::partition) (e.g. not partitioned).
    pub async fn heal(&self, x: &str, y: &str) -> Result<()> {
        self.blackholes(x, y, false).await
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        // The backstop of stop(): dropping the namespaces ends their threads and closes
        // their descriptors; the kernel removes the rest.
        let state = std::mem::replace(
            self.state.get_mut().unwrap_or_else(|e| e.into_inner()),
            State::Stopped,
        );
        drop(state);
    }
}

/// Turns on IPv4 and IPv6 forwarding in `namespace` (its own /proc/sys/net, as seen by its
/// thread).
async fn enable_forwarding(namespace: &Namespace) -> Result<()> {
    let label = namespace.label().to_owned();
    let error = |source| NetworkError::Io {
        action: "enable forwarding".into(),
        namespace: label.clone(),
        source,
    };
    let answer = namespace
        .run(|| {
            std::fs::write("/proc/sys/net/ipv4/ip_forward", "1")?;
            std::fs::write("/proc/sys/net/ipv6/conf/all/forwarding", "1")
        })
        .map_err(|_| error(std::io::Error::other("the namespace is closed")))?;
    answer
        .await
        .map_err(|_| error(std::io::Error::other("the namespace thread ended")))?
        .map_err(error)
}

/// The namespace of one of the network's own hosts (always emulated).
fn namespace_of(host: &Host) -> &Namespace {
    host.namespace()
        .expect("a network's hosts are emulated: each has its namespace")
}

/// Leaves a network whose start was cancelled `Stopped` rather than `Starting` for good.
struct CancelGuard<'n>(&'n Network);

impl Drop for CancelGuard<'_> {
    fn drop(&mut self) {
        *self.0.lock() = State::Stopped;
    }
}
