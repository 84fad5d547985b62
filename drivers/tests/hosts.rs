//! Drivers on hosts of an emulated network, real namespaces and a real veth link between
//! them: a TCP server on one host and a client on another; an `App` spawned inside its host
//! and reached from the other; a reconnecting client across a link that goes down for two
//! seconds.
//!
//! Without the privileges to build networks each test prints `skip: <what is missing>`, and
//! fails when `CI` is set.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use testrig::network::{Link, Network};
use testrig::process::Stream;
use testrig::service::RetryPolicy;
use testrig::{Endpoint, Environment, Ref};
use testrig_drivers::app::App;
use testrig_drivers::fault_proxy::FaultProxy;
use testrig_drivers::tcp::{SocketOptions, TcpClient, TcpError, TcpServer};

/// Deadlines for waits that end on an event: generous, so a busy machine only makes the
/// test slower, never wrong.
const PATIENCE: Duration = Duration::from_secs(20);

/// Whether networks can be built here; if not, a skip line (or a failure when `CI` is set).
fn networks_available() -> bool {
    match testrig::network::availability().missing() {
        None => true,
        Some(missing) if std::env::var_os("CI").is_some() => {
            panic!("CI is set and networks cannot be built here: {missing}")
        }
        Some(missing) => {
            eprintln!("skip: {missing}");
            false
        }
    }
}

fn two_hosts(name: &str) -> Network {
    Network::builder(name)
        .host("a")
        .host("b")
        .link(Link::new("a", "b").subnet("10.78.0.0/24"))
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_server_on_one_host_and_a_client_on_another_talk_across_the_link() {
    if !networks_available() {
        return;
    }
    let mut builder = Environment::builder("tcp-hosts").network(two_hosts("tcp"));
    let server = builder.add_on("b", TcpServer::new("server"));
    let client = builder.add_on("a", TcpClient::new("client", Endpoint::of("server")));
    builder
        .build()
        .unwrap()
        .run(|env| async move {
            let server = env.get(&server)?;
            let client = env.get(&client)?;
            // The server listened on b's address (its endpoint gave no host).
            assert_eq!(server.local_addr().unwrap().ip().to_string(), "10.78.0.2");
            client.send(b"hello from a\n").await?;
            let conn = server.accept_connection(PATIENCE).await?;
            assert_eq!(server.receive_line(conn, PATIENCE).await?, "hello from a");
            // The connection came from host a, across the link.
            assert_eq!(server.peer_addr(conn)?.ip().to_string(), "10.78.0.1");
            assert_eq!(client.local_addr().unwrap().ip().to_string(), "10.78.0.1");
            server.send(conn, b"hello from b\n").await?;
            assert_eq!(client.receive_line(PATIENCE).await?, "hello from b");
            Ok::<_, testrig::Error>(())
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn a_reconnecting_client_sees_the_loss_when_its_link_goes_down_and_reconnects_after() {
    if !networks_available() {
        return;
    }
    // Bytes unacknowledged for a second drop the connection (TCP_USER_TIMEOUT); the send
    // deadline is longer, so the loss is what ends the acknowledged send.
    let options = SocketOptions {
        user_timeout: Some(Duration::from_secs(1)),
        send_timeout: Duration::from_secs(5),
        ..SocketOptions::default()
    };
    let mut builder = Environment::builder("link-down").network(two_hosts("down"));
    let server = builder.add_on("b", TcpServer::new("server"));
    let client = builder.add_on(
        "a",
        TcpClient::new("client", Endpoint::of("server"))
            .auto_reconnect(|| RetryPolicy::constant(Duration::from_millis(100)))
            .socket_options(options),
    );
    builder
        .build()
        .unwrap()
        .run(|env| async move {
            let network = env.network().unwrap();
            let server = env.get(&server)?;
            let client = env.get(&client)?;
            let before = client.send_acked(b"before\n").await?;
            let first = server.accept_connection(PATIENCE).await?;
            assert_eq!(server.receive_line(first, PATIENCE).await?, "before");

            network.link_down("a", "b").await?;
            let down_at = Instant::now();
            let during = client.send_acked(b"during\n").await;
            // The loss is what ended the send, before its deadline: the kernel dropped the
            // connection after a second of silence (the user timeout), and counted the
            // bytes it never got acknowledged.
            match during {
                Err(TcpError::Unacknowledged { unacknowledged, .. }) => {
                    assert_eq!(unacknowledged, Some(b"during\n".len() as u64));
                }
                other => {
                    panic!("a send across a dead link must not be reported delivered: {other:?}")
                }
            }
            assert!(
                down_at.elapsed() < Duration::from_secs(4),
                "the loss ended the send, not its 5 s deadline"
            );

            let down_for = Duration::from_secs(2).saturating_sub(down_at.elapsed());
            tokio::time::sleep(down_for).await; // the outage itself: two seconds of it
            network.link_up("a", "b").await?;

            client.when_connected(PATIENCE).await?;
            let after = client.send_acked(b"after\n").await?;
            assert_eq!(after.connection, before.connection + 1, "a new connection");
            let second = server.accept_connection(PATIENCE).await?;
            // The next line the server gets is the one sent after the outage: "during" was
            // never delivered, on either connection.
            assert_eq!(server.receive_line(second, PATIENCE).await?, "after");
            let loss = client.last_loss().expect("the lost connection is recorded");
            assert_eq!(loss.connection, before.connection);
            assert_eq!(loss.unacknowledged_bytes, Some(b"during\n".len() as u64));
            let address: SocketAddr = server.peer_addr(second)?;
            assert_eq!(address.ip().to_string(), "10.78.0.1");
            Ok::<_, testrig::Error>(())
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn an_app_runs_inside_its_host_and_a_client_on_another_host_reaches_it() {
    if !networks_available() {
        return;
    }
    // A one-connection echo server in host b, on b's address (a reference to the host's
    // export), that says its network namespace and port when ready.
    let script = "import os, socket\n\
        s = socket.create_server((os.environ['ADDRESS'], 0))\n\
        print('namespace', os.readlink('/proc/self/ns/net'), 'port', s.getsockname()[1], flush=True)\n\
        c, _ = s.accept()\n\
        c.sendall(c.recv(100))\n";
    let mut builder = Environment::builder("app-hosts").network(two_hosts("app"));
    let app = builder.add_on(
        "b",
        App::new("echo", "python3")
            .args(["-c", script])
            .env("ADDRESS", "${b.address}")
            .ready_on(
                Stream::Stdout,
                r"namespace net:\[(?P<inode>\d+)\] port (?P<port>\d+)",
            ),
    );
    let client = builder.add_on(
        "a",
        TcpClient::new(
            "client",
            Endpoint::new(Ref::export("b", "address"), Ref::export("echo", "port")),
        ),
    );
    builder
        .build()
        .unwrap()
        .run(|env| async move {
            let b = env.network().unwrap().host("b")?;
            let inode = env.get(&app)?.extracted("inode").unwrap();
            assert_eq!(
                inode.parse::<u64>().unwrap(),
                b.namespace_inode().unwrap(),
                "the process runs in host b's namespace"
            );
            let client = env.get(&client)?;
            client.send(b"ping\n").await?;
            assert_eq!(client.receive_line(PATIENCE).await?, "ping");
            Ok::<_, testrig::Error>(())
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn a_fault_proxy_placed_on_a_host_fails_its_start_saying_it_runs_here_only() {
    if !networks_available() {
        return;
    }
    let mut builder = Environment::builder("proxy-on-host").network(two_hosts("proxy"));
    builder.add_on("b", TcpServer::new("server"));
    builder.add_on("a", FaultProxy::new("proxy", Endpoint::of("server")));
    let error = builder.build().unwrap().start().await.unwrap_err();
    let text = format!("{error:#}");
    assert!(
        text.contains("fault proxy `proxy`: host = `a`: a fault proxy runs on this machine only"),
        "{text}"
    );
}
