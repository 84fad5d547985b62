//! Links, addresses and routes of one namespace, over an rtnetlink socket created inside it
//! (a netlink socket talks to the namespace it was created in, whichever thread uses it).

use std::net::IpAddr;
use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd, RawFd};

use rtnetlink::packet_route::address::{AddressAttribute, AddressFlags};
use rtnetlink::packet_route::link::{InfoData, InfoKind, InfoVeth};
use rtnetlink::packet_route::route::RouteType;
use rtnetlink::sys::TokioSocket;
use rtnetlink::{Handle, LinkBridge, LinkMessageBuilder, LinkUnspec, RouteMessageBuilder};

use super::address::Cidr;
use super::error::{NetworkError, Result};
use super::namespace::Namespace;
use super::plan::RoutePlan;

#[derive(Debug)]
pub(crate) struct Netlink {
    namespace: String,
    handle: Handle,
    /// The task serving the socket; `None` once closed.
    connection: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Netlink {
    /// A connection to `namespace`'s netlink; the socket is made on the namespace's thread,
    /// then served by a task of the current runtime.
    pub(crate) async fn open(namespace: &Namespace) -> Result<Netlink> {
        let label = namespace.label().to_owned();
        let io_error = |source| NetworkError::Io {
            action: "open a netlink socket".into(),
            namespace: label.clone(),
            source,
        };
        let answer = namespace
            .run(netlink_socket)
            .map_err(|_| io_error(std::io::Error::other("the namespace is closed")))?;
        let fd = answer
            .await
            .map_err(|_| io_error(std::io::Error::other("the namespace thread ended")))?
            .map_err(io_error)?;
        // SAFETY: a netlink socket we own, handed over whole.
        let socket = unsafe { TokioSocket::from_raw_fd(fd.into_raw_fd()) };
        let (connection, handle, _) = rtnetlink::from_socket(socket);
        Ok(Netlink {
            namespace: label,
            handle,
            connection: std::sync::Mutex::new(Some(tokio::spawn(connection))),
        })
    }

    /// Closes the socket, which holds a reference to the namespace: done when the task
    /// serving it is gone, not merely told to go.
    pub(crate) async fn close(&self) {
        let task = self
            .connection
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(task) = task {
            task.abort();
            let _ = task.await;
        }
    }

    fn failed(&self, action: String) -> impl FnOnce(rtnetlink::Error) -> NetworkError + '_ {
        move |source| NetworkError::Netlink {
            action,
            namespace: self.namespace.clone(),
            source,
        }
    }

    /// A veth pair: `name` (number `index`) here, up; `peer` (`peer_index`) in the namespace
    /// of `peer_namespace`, down (the kernel cannot open a veth end before its pair exists:
    /// bring it up from its own namespace).
    pub(crate) async fn create_veth(
        &self,
        name: &str,
        index: u32,
        peer: &str,
        peer_index: u32,
        peer_namespace: RawFd,
        peer_label: &str,
    ) -> Result<()> {
        let peer_message = LinkMessageBuilder::<LinkUnspec>::new()
            .name(peer)
            .index(peer_index)
            .setns_by_fd(peer_namespace)
            .build();
        let message = LinkMessageBuilder::<LinkUnspec>::new_with_info_kind(InfoKind::Veth)
            .name(name)
            .index(index)
            .up()
            .set_info_data(InfoData::Veth(InfoVeth::Peer(peer_message)))
            .build();
        self.handle
            .link()
            .add(message)
            .execute()
            .await
            .map_err(self.failed(format!("create veth {name} to {peer} in `{peer_label}`")))
    }

    pub(crate) async fn create_bridge(&self, name: &str, index: u32) -> Result<()> {
        let message = LinkBridge::new(name).index(index).up().build();
        self.handle
            .link()
            .add(message)
            .execute()
            .await
            .map_err(self.failed(format!("create bridge {name}")))
    }

    pub(crate) async fn set_controller(&self, index: u32, controller: u32) -> Result<()> {
        let message = LinkUnspec::new_with_index(index)
            .controller(controller)
            .up()
            .build();
        self.handle
            .link()
            .set(message)
            .execute()
            .await
            .map_err(self.failed(format!("attach interface #{index} to bridge #{controller}")))
    }

    pub(crate) async fn set_up(&self, index: u32, name: &str, up: bool) -> Result<()> {
        let builder = LinkUnspec::new_with_index(index);
        let message = if up { builder.up() } else { builder.down() }.build();
        let state = if up { "up" } else { "down" };
        self.handle
            .link()
            .set(message)
            .execute()
            .await
            .map_err(self.failed(format!("set {name} {state}")))
    }

    /// Adds `address` to interface `index`; `replace` if it may be there already.
    pub(crate) async fn add_address(
        &self,
        index: u32,
        name: &str,
        address: Cidr,
        replace: bool,
    ) -> Result<()> {
        let mut request = self
            .handle
            .address()
            .add(index, address.address(), address.prefix());
        if replace {
            request = request.replace();
        }
        // Without it an IPv6 address stays "tentative" (unusable) for a second or more of
        // duplicate address detection, pointless on a link we built.
        request
            .message_mut()
            .attributes
            .push(AddressAttribute::Flags(AddressFlags::Nodad));
        request
            .execute()
            .await
            .map_err(self.failed(format!("add address {address} to {name}")))
    }

    /// Adds `route`; `replace` if it may be there already.
    pub(crate) async fn add_route(&self, route: &RoutePlan, replace: bool) -> Result<()> {
        let destination = route.destination;
        let message = match (destination.address(), route.via) {
            (IpAddr::V4(address), IpAddr::V4(via)) => {
                RouteMessageBuilder::<std::net::Ipv4Addr>::new()
                    .destination_prefix(address, destination.prefix())
                    .gateway(via)
                    .build()
            }
            (IpAddr::V6(address), IpAddr::V6(via)) => {
                RouteMessageBuilder::<std::net::Ipv6Addr>::new()
                    .destination_prefix(address, destination.prefix())
                    .gateway(via)
                    .build()
            }
            _ => unreachable!("the plan routes each IP version through its own version"),
        };
        let mut request = self.handle.route().add(message);
        if replace {
            request = request.replace();
        }
        request
            .execute()
            .await
            .map_err(self.failed(format!("add route {destination} via {}", route.via)))
    }

    /// A route that drops what is sent to `address` (a partition), or removes it.
    pub(crate) async fn blackhole(&self, address: IpAddr, present: bool) -> Result<()> {
        let message = match address {
            IpAddr::V4(address) => RouteMessageBuilder::<std::net::Ipv4Addr>::new()
                .destination_prefix(address, 32)
                .kind(RouteType::BlackHole)
                .build(),
            IpAddr::V6(address) => RouteMessageBuilder::<std::net::Ipv6Addr>::new()
                .destination_prefix(address, 128)
                .kind(RouteType::BlackHole)
                .build(),
        };
        let routes = self.handle.route();
        if present {
            routes
                .add(message)
                .execute()
                .await
                .map_err(self.failed(format!("add blackhole route to {address}")))
        } else {
            routes
                .del(message)
                .execute()
                .await
                .map_err(self.failed(format!("remove blackhole route to {address}")))
        }
    }
}

impl Drop for Netlink {
    fn drop(&mut self) {
        // The socket closes with the task: the namespace is no longer held by it.
        if let Some(task) = self.connection.get_mut().unwrap_or_else(|e| e.into_inner()) {
            task.abort();
        }
    }
}

/// Runs on a namespace's thread.
fn netlink_socket() -> std::io::Result<OwnedFd> {
    // SAFETY: socket(2); the descriptor is owned at once.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            libc::NETLINK_ROUTE,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: just created, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}
