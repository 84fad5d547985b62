//! Reconnecting clients through the proxy, and the driver in an environment.

use std::time::Duration;

use testrig::service::{ClientService, RetryPolicy, ServiceEvent, TcpConnector};
use testrig::{Endpoint, Environment, Error};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::broadcast;
use tokio::time::timeout;

use testrig_drivers::fault_proxy::{FaultProxy, Toxic};
use testrig_drivers::tcp::{TcpClient, TcpError, TcpServer};

use crate::support::{PATIENCE, echo_server, proxy_to};

fn fast_retries() -> RetryPolicy {
    RetryPolicy::constant(Duration::from_millis(20))
}

async fn next_loss(events: &mut broadcast::Receiver<ServiceEvent>) {
    timeout(PATIENCE, async {
        loop {
            if let ServiceEvent::ConnectionLost { .. } = events.recv().await.unwrap() {
                return;
            }
        }
    })
    .await
    .expect("the service sees its connection lost");
}

async fn echo_through<C: AsyncReadExt + AsyncWriteExt + Unpin>(conn: &mut C, message: &[u8]) {
    conn.write_all(message).await.unwrap();
    let mut back = vec![0u8; message.len()];
    timeout(PATIENCE, conn.read_exact(&mut back))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(back, message);
}

#[tokio::test]
async fn a_client_service_reconnects_through_the_proxy_after_disable_and_enable() {
    let echo = echo_server().await;
    let proxy = proxy_to(echo.address);
    let service = ClientService::builder(TcpConnector::new(proxy.local_addr()))
        .retry_policy(fast_retries())
        .start();
    let mut events = service.subscribe();
    let mut first = timeout(PATIENCE, service.when_connected(None))
        .await
        .unwrap()
        .unwrap();
    echo_through(&mut first, b"before").await;
    proxy.disable().await;
    next_loss(&mut events).await;
    // While the link is down each attempt is refused.
    let refused = timeout(PATIENCE, service.when_connected(Some(2)))
        .await
        .unwrap();
    assert!(refused.is_err(), "connected through a disabled proxy");
    proxy.enable().await.unwrap();
    let mut second = timeout(PATIENCE, service.when_connected(None))
        .await
        .unwrap()
        .unwrap();
    assert_ne!(second.local_addr().unwrap(), first.local_addr().unwrap());
    echo_through(&mut second, b"after").await;
    timeout(PATIENCE, service.stop()).await.unwrap();
    proxy.stop().await;
}

#[tokio::test]
async fn a_client_service_reconnects_after_reset_peer() {
    let echo = echo_server().await;
    let proxy = proxy_to(echo.address);
    let service = ClientService::builder(TcpConnector::new(proxy.local_addr()))
        .retry_policy(fast_retries())
        .start();
    let mut events = service.subscribe();
    let mut first = timeout(PATIENCE, service.when_connected(None))
        .await
        .unwrap()
        .unwrap();
    echo_through(&mut first, b"before").await;
    proxy.add_toxic(Toxic::reset_peer(0).upstream()).unwrap();
    first.write_all(b"x").await.unwrap();
    next_loss(&mut events).await;
    proxy.remove_toxic("reset_peer_upstream").unwrap();
    let mut second = timeout(PATIENCE, service.when_connected(None))
        .await
        .unwrap()
        .unwrap();
    assert_ne!(second.local_addr().unwrap(), first.local_addr().unwrap());
    echo_through(&mut second, b"after").await;
    timeout(PATIENCE, service.stop()).await.unwrap();
    proxy.stop().await;
}

#[tokio::test]
async fn a_tcp_client_receive_under_a_timeout_toxic_hits_its_deadline_with_partial_bytes_kept_and_sees_the_close_when_it_goes()
-> testrig::Result<()> {
    let env = Environment::builder("timeout toxic")
        .driver(TcpServer::new("server"))
        .driver(FaultProxy::new("proxy", Endpoint::of("server")))
        .driver(TcpClient::new("client", Endpoint::of("proxy")))
        .build()?;
    env.run(|env| async move {
        let server = env.get::<TcpServer>("server")?;
        let proxy = env.get::<FaultProxy>("proxy")?;
        let client = env.get::<TcpClient>("client")?;
        let short = Duration::from_millis(200);
        let conn = server.accept_connection(PATIENCE).await?;
        server.send(conn, b"hel").await?;
        let partial = client.receive_exact(5, short).await.unwrap_err();
        assert!(
            matches!(partial, TcpError::ReceiveTimeout { buffered: 3, .. }),
            "{partial}"
        );
        proxy.add_toxic(Toxic::timeout(0)).map_err(Error::other)?;
        server.send(conn, b"lo").await?; // dropped by the toxic
        let held = client.receive_exact(5, short).await.unwrap_err();
        assert!(
            matches!(held, TcpError::ReceiveTimeout { buffered: 3, .. }),
            "{held}"
        );
        // Removing the timeout closes the connection, as Toxiproxy's does: the
        // bytes it dropped are lost, and the client sees the end after the 3 kept.
        proxy
            .remove_toxic("timeout_downstream")
            .map_err(Error::other)?;
        let closed = client.receive_exact(5, PATIENCE).await.unwrap_err();
        assert!(matches!(closed, TcpError::PeerClosed { .. }), "{closed}");
        Ok::<_, Error>(())
    })
    .await
}

#[tokio::test]
async fn a_reconnecting_tcp_client_comes_back_through_the_proxy_after_disable_and_enable()
-> testrig::Result<()> {
    let env = Environment::builder("link down")
        .driver(TcpServer::new("server"))
        .driver(FaultProxy::new("proxy", Endpoint::of("server")))
        .driver(TcpClient::new("client", Endpoint::of("proxy")).auto_reconnect(fast_retries))
        .build()?;
    env.run(|env| async move {
        let server = env.get::<TcpServer>("server")?;
        let proxy = env.get::<FaultProxy>("proxy")?;
        let client = env.get::<TcpClient>("client")?;
        client.when_connected(PATIENCE).await?;
        let first = server.accept_connection(PATIENCE).await?;
        client.send(b"one").await?;
        assert_eq!(server.receive_exact(first, 3, PATIENCE).await?, b"one");
        proxy.disable().await.map_err(Error::other)?;
        proxy.enable().await.map_err(Error::other)?;
        // A new upstream connection exists only once the client has reconnected.
        let second = server.accept_connection(PATIENCE).await?;
        client.when_connected(PATIENCE).await?;
        client.send(b"two").await?;
        assert_eq!(server.receive_exact(second, 3, PATIENCE).await?, b"two");
        let stats = proxy.connection_stats();
        assert_eq!(stats.len(), 2);
        // What the server sees as its peer is the proxy's side of each connection.
        assert_eq!(stats[1].upstream_local, Some(server.peer_addr(second)?));
        assert_eq!(stats[1].client, client.local_addr().unwrap());
        Ok::<_, Error>(())
    })
    .await
}

#[tokio::test]
async fn a_restarted_proxy_listens_on_the_same_port_with_its_toxics() -> testrig::Result<()> {
    let echo = echo_server().await;
    let env = Environment::builder("restart")
        .driver(FaultProxy::new("proxy", echo.address).toxic(Toxic::latency(1, 0).named("lag")))
        .build()?;
    env.run(|env| async move {
        let proxy = env.get::<FaultProxy>("proxy")?;
        let before = proxy.local_addr().expect("started");
        env.resource("proxy")?.restart().await?;
        assert_eq!(proxy.local_addr(), Some(before));
        assert_eq!(proxy.toxics(), [Toxic::latency(1, 0).named("lag")]);
        let mut client = tokio::net::TcpStream::connect(before)
            .await
            .map_err(Error::other)?;
        echo_through(&mut client, b"again").await;
        assert_eq!(proxy.connection_stats()[0].toxics, ["lag"]);
        Ok::<_, Error>(())
    })
    .await
}
