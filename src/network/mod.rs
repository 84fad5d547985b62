//! Emulated networks: hosts, links and switches built for a test, on this machine.
//!
//! A [`Network`] is declared with a builder ([`Network::builder`]): hosts (each a Linux
//! network namespace), links between two hosts (veth pairs) and switches joining several
//! (bridges), IPv4 and IPv6 addresses given or assigned from a subnet, static routes so
//! every host reaches every subnet (hosts on two links or more forward), and per-direction
//! rates (`tbf` or `htb`) and netem. [`Network::start`] builds it; each [`Host`](crate::Host) then runs
//! code ([`Host::run`](crate::Host::run): create sockets there) and programs
//! ([`Host::command`](crate::Host::command)) inside its
//! namespace, from this one process. Faults at run time: [`Network::link_down`],
//! [`Network::link_up`], [`Network::set_rate`], [`Network::set_netem`],
//! [`Network::partition`], [`Network::heal`]. [`Network::stop`] removes it.
//!
//! **No leaks:** the namespaces are held only by this process (a thread in each, a
//! descriptor of each), never named in `/run/netns`, and every interface lives inside
//! them (a switch's bridge in a namespace of its own). If the process dies, even by
//! SIGKILL, the kernel removes all of it.
//!
//! **Privileges:** root, or an unprivileged user namespace entered with
//! [`enter_user_namespace`] first thing in `main`. [`availability`] says which is missing.
//! Capabilities the kernel lacks (netem on some machines) are errors naming them, never a
//! silent no-op.
//!
//! # Examples
//! ```no_run
//! use testrig::network::{Link, Network, Switch};
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let network = Network::builder("lab")
//!     .host("a")
//!     .host("b")
//!     .host("c")
//!     .link(Link::new("a", "b").subnet("10.0.1.0/24").subnet("fd00:1::/64").rate("50mbit"))
//!     .switch(Switch::new("lan").hosts(["b", "c"]).subnet("10.0.2.0/24"))
//!     .build()?;
//! network.start().await?;
//! let c = network.host("c")?;
//! let listener = c.run(|| std::net::TcpListener::bind("0.0.0.0:7000")).await??;
//! let a = network.host("a")?;
//! let address = c.ipv4().unwrap();
//! let stream = a.run(move || std::net::TcpStream::connect((address, 7000))).await??;
//! network.partition("a", "c").await?;
//! network.heal("a", "c").await?;
//! drop((listener, stream));
//! network.stop().await?;
//! # Ok(()) }
//! ```

pub(crate) mod address;
mod builder;
mod declaration;
mod error;
pub(crate) mod namespace;
mod netlink;
#[allow(clippy::module_inception)]
mod network;
mod plan;
mod privileges;
mod qdisc;
mod shaping;

pub use address::{Cidr, CidrParseError};
pub use builder::NetworkBuilder;
pub use declaration::{Link, Switch};
pub use error::{InvalidDeclaration, NetworkError};
pub use network::Network;
pub use privileges::{Availability, availability, enter_user_namespace};
pub use shaping::{Netem, Rate, RateParseError, Shaper};
