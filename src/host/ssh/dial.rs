//! The connection's TCP socket, made here and handed to the master, so its first session does
//! not wait on Nagle's algorithm.
//!
//! OpenSSH turns Nagle's algorithm off only for a session with a terminal; the sessions of a
//! test have none, so both ends keep it, and the peer acknowledges late (Linux delays an ACK up
//! to 40 ms). Twice in every first session a side sends a small message while its previous one
//! is unacknowledged, and waits for that ACK: after the key exchange (the client's `NEWKEYS`,
//! then its `SERVICE_REQUEST`), and after login (the server's `hostkeys-00@openssh.com`, then
//! its confirmation of the first channel). Measured against an sshd in a network namespace:
//! 41–47 ms each, about 85 of the ~230 ms a connect took.
//!
//! So where the user's ssh config does not route the connection itself (`ProxyCommand`,
//! `ProxyJump`, a bind address) and the `testrig` binary is at hand, testrig makes the
//! connection: resolved and connected from the [`via`](super::SshBuilder::via) host, with
//! `TCP_NODELAY` (the client side of the first wait) and `SO_KEEPALIVE` (as ssh's
//! `TCPKeepAlive`). The master gets it through `ProxyUseFdpass`: its `ProxyCommand` is
//! `testrig ssh-dial <socket>`, which fetches the descriptor from this process over a Unix
//! socket and passes it on to ssh ([`relay_dialed`]). While the master logs in and the janitor
//! opens the first channel, this process acknowledges at once what arrives
//! ([`Dialed::hurry_acks`], `TCP_QUICKACK` every millisecond), which ends the server's wait.
//! Then its copy of the socket is closed: from then on the connection is the master's alone,
//! and its end is the connection's end.
//!
//! Anything else (no binary, a proxy in the config, a failed resolve or connect) leaves the
//! connection to ssh, as before, with ssh's own words for a failure.

use std::io::{self, IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::time::Instant;

use super::ControlDir;
use super::builder::SshBuilder;
use super::install::testrig_binary;

/// The `testrig` subcommand that relays the socket (hidden).
pub const RELAY_SUBCOMMAND: &str = "ssh-dial";

/// A connection made here for the master: this process's copy of the socket, and the task that
/// hands it to the master's `ProxyCommand`.
#[derive(Debug)]
pub(super) struct Dialed {
    socket: socket2::Socket,
    relay: PathBuf,
    listener: PathBuf,
    handing: tokio::task::JoinHandle<bool>,
}

/// What the user's ssh config says about where the connection goes (`ssh -G`).
#[derive(Debug, PartialEq, Eq)]
struct Route {
    hostname: String,
    port: u16,
    family: Family,
    keepalive: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Any,
    V4,
    V6,
}

/// What [`dial`] came to.
#[derive(Debug)]
pub(super) enum Dial {
    /// The connection is made, for the master to take.
    Made(Dialed),
    /// ssh makes the connection itself.
    Ssh,
    /// No address answered before `deadline`: ssh would not do better.
    TimedOut,
}

/// Makes the connection for the master by `deadline` (`ssh -G` and the connect included),
/// or leaves it to ssh.
pub(super) async fn dial(options: &SshBuilder, control: &ControlDir, deadline: Instant) -> Dial {
    match dial_by(options, control, deadline).await {
        Ok(Some(dialed)) => Dial::Made(dialed),
        Ok(None) => Dial::Ssh,
        Err(TimedOut) => Dial::TimedOut,
    }
}

/// The connect did not finish by the deadline.
struct TimedOut;

async fn dial_by(
    options: &SshBuilder,
    control: &ControlDir,
    deadline: Instant,
) -> Result<Option<Dialed>, TimedOut> {
    let host = options.host_name().to_owned();
    let Ok(relay) = testrig_binary() else {
        return Ok(None);
    };
    // `ssh -G` takes a few milliseconds: meanwhile connect where the destination names,
    // which is where the config sends it unless it says otherwise.
    // (An address only: resolving a name the config may alias could wait on DNS.)
    let guess = guessed_route(options);
    let speculate = async {
        match &guess {
            Some(guess) => Some(connect(options, guess, deadline).await),
            None => None,
        }
    };
    let (route, early) = tokio::join!(route(options, deadline), speculate);
    let route = match route {
        Ok(Some(route)) => route,
        Ok(None) => {
            tracing::debug!(host, "the ssh config routes the connection: ssh makes it");
            return Ok(None);
        }
        Err(error) => {
            tracing::debug!(host, %error, "`ssh -G` failed: ssh makes the connection");
            return Ok(None);
        }
    };
    let connected = match (early, guess) {
        (Some(Ok(stream)), Some(guess))
            if route.hostname == guess.hostname && route.port == guess.port =>
        {
            let family_fits = match (route.family, stream.peer_addr()) {
                (Family::V4, Ok(peer)) => peer.is_ipv4(),
                (Family::V6, Ok(peer)) => peer.is_ipv6(),
                (Family::Any, Ok(_)) => true,
                (_, Err(_)) => false,
            };
            if family_fits {
                Ok(stream)
            } else {
                connect(options, &route, deadline).await
            }
        }
        _ => connect(options, &route, deadline).await,
    };
    let stream = match connected {
        Ok(stream) => stream,
        Err(error) if error.kind() == io::ErrorKind::TimedOut => return Err(TimedOut),
        Err(error) => {
            // ssh tries again and says why in its own words (a refusal, an unknown name).
            tracing::debug!(host, %error, "connecting here failed: ssh makes the connection");
            return Ok(None);
        }
    };
    let socket = socket2::Socket::from(stream);
    let prepared = socket
        .set_tcp_nodelay(true)
        .and_then(|()| socket.set_keepalive(route.keepalive))
        // ssh's own connect leaves its socket blocking; it sets what it needs itself.
        .and_then(|()| socket.set_nonblocking(false));
    let listener_path = control.path().join("dial");
    let listener = prepared.and_then(|()| {
        let listener = std::os::unix::net::UnixListener::bind(&listener_path)?;
        listener.set_nonblocking(true)?;
        tokio::net::UnixListener::from_std(listener)
    });
    let listener = match listener {
        Ok(listener) => listener,
        Err(error) => {
            tracing::debug!(host, %error, "cannot hand a socket over: ssh makes the connection");
            return Ok(None);
        }
    };
    let copy = match socket.try_clone() {
        Ok(copy) => copy,
        Err(error) => {
            tracing::debug!(host, %error, "cannot hand a socket over: ssh makes the connection");
            return Ok(None);
        }
    };
    let handing = tokio::spawn(async move {
        let hand = async {
            let (peer, _) = listener.accept().await?;
            let peer = peer.into_std()?;
            peer.set_nonblocking(false)?;
            send_fd(&peer, copy.as_fd())
        };
        matches!(tokio::time::timeout_at(deadline, hand).await, Ok(Ok(())))
    });
    Ok(Some(Dialed {
        socket,
        relay,
        listener: listener_path,
        handing,
    }))
}

impl Dialed {
    /// The master's options that make it take this connection.
    pub(super) fn master_options(&self) -> [String; 2] {
        let command = super::supervisor::join(&[
            self.relay.clone().into_os_string(),
            RELAY_SUBCOMMAND.into(),
            self.listener.clone().into_os_string(),
        ]);
        // ssh expands `%` tokens in a ProxyCommand.
        let command = command.to_string_lossy().replace('%', "%%");
        [
            "ProxyUseFdpass=yes".to_owned(),
            format!("ProxyCommand={command}"),
        ]
    }

    /// Runs `work` while acknowledging at once what arrives on the connection (see
    /// [`hurry_acks`](Self::hurry_acks)).
    pub(super) async fn hurrying<T>(&self, work: impl Future<Output = T>) -> T {
        tokio::select! {
            done = work => done,
            never = self.hurry_acks() => match never {},
        }
    }

    /// Acknowledges at once what arrives, every millisecond, for as long as it is polled.
    async fn hurry_acks(&self) -> std::convert::Infallible {
        loop {
            // Leaves the delayed-ACK mode and sends an ACK the kernel was holding back.
            // Nothing to do with a failure: the ACK comes later, as it would have.
            let _ = self.socket.set_tcp_quickack(true);
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Whether the relay took the socket; `false` when the master never asked (its
    /// `ProxyCommand` failed) or did not yet.
    pub(super) async fn handed(mut self) -> bool {
        self.handing.abort();
        matches!((&mut self.handing).await, Ok(true))
    }
}

impl Drop for Dialed {
    fn drop(&mut self) {
        // Its copy of the socket must not outlive the master's: the connection ends with it.
        self.handing.abort();
    }
}

/// Where `options` connect to by the user's ssh config, or `None` when the config routes the
/// connection itself (a proxy, a bind address): `ssh -G`.
async fn route(options: &SshBuilder, deadline: Instant) -> io::Result<Option<Route>> {
    let mut command = tokio::process::Command::new("ssh");
    command.arg("-G").arg("-T");
    if let Some(port) = options.port {
        command.arg("-p").arg(port.to_string());
    }
    for option in &options.options {
        command.arg("-o").arg(option);
    }
    command
        .arg(&options.destination)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout_at(deadline, command.output())
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "`ssh -G` did not answer"))??;
    if !output.status.success() {
        return Err(io::Error::other(format!("`ssh -G` {}", output.status)));
    }
    Ok(parse_route(&String::from_utf8_lossy(&output.stdout)))
}

/// The address the destination names, with the port given or ssh's default: the route unless
/// the config says otherwise; `None` for a name.
fn guessed_route(options: &SshBuilder) -> Option<Route> {
    let host = options
        .destination
        .rsplit_once('@')
        .map_or(options.destination.as_str(), |(_, host)| host);
    let address: std::net::IpAddr = host.parse().ok()?;
    Some(Route {
        hostname: address.to_string(),
        port: options.port.unwrap_or(22),
        family: Family::Any,
        keepalive: true,
    })
}

/// The route in `ssh -G`'s output, `None` when ssh must make the connection itself.
fn parse_route(config: &str) -> Option<Route> {
    let mut hostname = None;
    let mut port = None;
    let mut family = Family::Any;
    let mut keepalive = true;
    for line in config.lines() {
        let (key, value) = line.split_once(' ').unwrap_or((line, ""));
        match (key, value) {
            ("proxycommand" | "proxyjump", "none") => {}
            ("proxycommand" | "proxyjump" | "bindaddress" | "bindinterface", _) => return None,
            ("hostname", name) => hostname = Some(name.to_owned()),
            ("port", number) => port = number.parse().ok(),
            ("addressfamily", "inet") => family = Family::V4,
            ("addressfamily", "inet6") => family = Family::V6,
            ("tcpkeepalive", setting) => keepalive = setting == "yes",
            _ => {}
        }
    }
    Some(Route {
        hostname: hostname?,
        port: port?,
        family,
        keepalive,
    })
}

/// Connects to the route's first address that answers, from the `via` host, within the connect
/// timeout overall, the name's resolution included (ssh tries the addresses in order too).
async fn connect(
    options: &SshBuilder,
    route: &Route,
    deadline: Instant,
) -> io::Result<std::net::TcpStream> {
    let target = (route.hostname.clone(), route.port);
    let family = route.family;
    let attempt = async {
        let addresses = options
            .via
            .run(move || {
                std::net::ToSocketAddrs::to_socket_addrs(&target).map(|addresses| {
                    addresses
                        .filter(|address| match family {
                            Family::Any => true,
                            Family::V4 => address.is_ipv4(),
                            Family::V6 => address.is_ipv6(),
                        })
                        .collect::<Vec<_>>()
                })
            })
            .await
            .map_err(io::Error::other)??;
        let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
        for address in addresses {
            match options.via.tcp_connect(address).await {
                Ok(stream) => return stream.into_std(),
                Err(error) => last = error,
            }
        }
        Err(last)
    };
    tokio::time::timeout_at(deadline, attempt)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))?
}

/// `testrig ssh-dial <socket>` (hidden): fetches the descriptor testrig offers on the Unix
/// socket `path` and passes it to ssh on stdout (`ProxyUseFdpass`); returns the exit code.
#[doc(hidden)]
pub fn relay_dialed(path: &Path) -> i32 {
    let relayed = UnixStream::connect(path)
        .and_then(receive_fd)
        .and_then(|socket| send_fd(io::stdout(), socket.as_fd()));
    match relayed {
        Ok(()) => 0,
        Err(error) => {
            eprintln!("testrig {RELAY_SUBCOMMAND}: {}: {error}", path.display());
            1
        }
    }
}

/// Sends the descriptor `fd` over the Unix socket `to` (`SCM_RIGHTS`, with one byte, as
/// OpenSSH's `mm_send_fd` does).
fn send_fd(to: impl AsFd, fd: BorrowedFd<'_>) -> io::Result<()> {
    use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags, sendmsg};
    let fds = [fd];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    control.push(SendAncillaryMessage::ScmRights(&fds));
    loop {
        match sendmsg(&to, &[IoSlice::new(&[0])], &mut control, SendFlags::empty()) {
            Ok(_) => return Ok(()),
            Err(rustix::io::Errno::INTR) => {}
            Err(error) => return Err(error.into()),
        }
    }
}

/// Receives one descriptor sent with [`send_fd`] over the Unix socket `from`.
fn receive_fd(from: impl AsFd) -> io::Result<OwnedFd> {
    use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, recvmsg};
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let mut byte = [0u8; 1];
    loop {
        let iov = &mut [IoSliceMut::new(&mut byte)];
        match recvmsg(&from, iov, &mut control, RecvFlags::CMSG_CLOEXEC) {
            Ok(_) => break,
            Err(rustix::io::Errno::INTR) => {}
            Err(error) => return Err(error.into()),
        }
    }
    control
        .drain()
        .find_map(|message| match message {
            RecvAncillaryMessage::ScmRights(mut fds) => fds.next(),
            _ => None,
        })
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no descriptor came"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_config_is_a_route_to_its_hostname_and_port() {
        let config = "user root\nhostname 10.0.0.2\nport 2222\naddressfamily any\n\
                      tcpkeepalive yes\nconnecttimeout none\nproxyusefdpass no\n";
        assert_eq!(
            parse_route(config),
            Some(Route {
                hostname: "10.0.0.2".into(),
                port: 2222,
                family: Family::Any,
                keepalive: true,
            })
        );
        let config = "hostname lab\nport 22\naddressfamily inet6\ntcpkeepalive no\n";
        assert_eq!(
            parse_route(config).map(|route| (route.family, route.keepalive)),
            Some((Family::V6, false))
        );
    }

    #[test]
    fn a_proxy_or_a_bind_address_in_the_config_leaves_the_connection_to_ssh() {
        for routed in [
            "proxyjump a@b",
            "proxycommand nc %h %p",
            "bindaddress 10.0.0.1",
            "bindinterface eth1",
        ] {
            let config = format!("hostname h\nport 22\n{routed}\n");
            assert_eq!(parse_route(&config), None, "{routed}");
        }
        assert!(parse_route("hostname h\nport 22\nproxycommand none\n").is_some());
    }

    #[test]
    fn a_descriptor_sent_over_a_unix_socket_arrives_as_the_same_socket() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let (here, there) = UnixStream::pair().unwrap();
        send_fd(&here, listener.as_fd()).unwrap();
        let received = receive_fd(&there).unwrap();
        let received = std::net::TcpListener::from(received);
        assert_eq!(
            received.local_addr().unwrap(),
            listener.local_addr().unwrap()
        );
    }
}
