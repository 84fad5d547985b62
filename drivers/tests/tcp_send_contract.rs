//! The send contract of a TCP client across reconnections: a send that returned
//! `Ok` was carried by a live connection, and the client says which one.

use std::time::Duration;

use testrig::service::RetryPolicy;
use testrig::{Environment, Error, Ref};
use testrig_drivers::tcp::{TcpClient, TcpError, TcpServer};

/// Deadlines for waits that end on an event: generous, so a busy machine only
/// makes the test slower, never wrong.
const PATIENCE: Duration = Duration::from_secs(30);

fn pair(name: &str, client: TcpClient) -> Environment {
    Environment::builder(name)
        .driver(TcpServer::new("server"))
        .driver(client)
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_send_right_after_a_server_restart_is_carried_by_the_next_connection() {
    let client = TcpClient::new("client", Ref::export("server", "port"))
        .auto_reconnect(RetryPolicy::immediate)
        .send_timeout(PATIENCE);
    pair("restart-then-send", client)
        .run(|env| async move {
            let server = env.get::<TcpServer>("server")?;
            let client = env.get::<TcpClient>("client")?;
            let first = client.send(b"before\n").await?;
            let conn = server.accept_connection(PATIENCE).await?;
            assert_eq!(server.receive_line(conn, PATIENCE).await?, "before");

            env.restart("server").await?;
            let sent = client.send(b"during-reconnect\n").await?;
            assert_eq!(sent.bytes, 17);
            assert_eq!(sent.connection, first.connection + 1);
            let conn = server.accept_connection(PATIENCE).await?;
            assert_eq!(
                server.receive_line(conn, PATIENCE).await?,
                "during-reconnect"
            );
            let loss = client.last_loss().expect("the first connection was lost");
            assert_eq!(loss.connection, first.connection);
            assert_eq!(loss.unacknowledged_bytes, Some(0), "nothing was in flight");
            Ok::<_, Error>(())
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn without_auto_reconnect_a_send_on_a_connection_the_peer_closed_fails() {
    pair(
        "direct",
        TcpClient::new("client", Ref::export("server", "port")),
    )
    .run(|env| async move {
        let server = env.get::<TcpServer>("server")?;
        let client = env.get::<TcpClient>("client")?;
        let conn = server.accept_connection(PATIENCE).await?;
        server.close_connection(conn).await?;
        let error = client.send(b"lost?\n").await.unwrap_err();
        assert!(matches!(error, TcpError::PeerClosed { .. }), "{error}");
        assert_eq!(client.last_loss().map(|loss| loss.connection), Some(1));
        Ok::<_, Error>(())
    })
    .await
    .unwrap();
}

/// 1000 sends, the server restarted (`env.restart`) after every 50th (20
/// restarts), and a last send on the 21st connection: the server
/// side reads each connection until it has everything the client was told was
/// sent, then the restart closes it. Any `Ok` for bytes written to a closed
/// connection would leave them missing (the wait for them would time out).
#[tokio::test]
async fn every_send_that_returned_ok_arrives_exactly_once_in_order_across_20_restarts() {
    let client = TcpClient::new("client", Ref::export("server", "port"))
        .auto_reconnect(RetryPolicy::immediate)
        .send_timeout(PATIENCE);
    pair("thousand-sends", client)
        .run(|env| async move {
            let server = env.get::<TcpServer>("server")?;
            let client = env.get::<TcpClient>("client")?;
            let mut promised = Vec::new(); // every message whose send returned Ok
            let mut received = Vec::new(); // every server connection, concatenated
            let mut carriers = Vec::new(); // the connection of each Ok send
            // Accepted when the server side first reads it, so the send right after
            // a restart races the client's reconnection, as in real use.
            let mut conn = None;
            let mut carrier = 1;
            for i in 0..=1000 {
                let message = if i < 1000 {
                    format!("{i:04}\n")
                } else {
                    "end\n".to_owned()
                };
                let sent = client.send(message.as_bytes()).await?;
                assert_eq!(sent.bytes, message.len());
                promised.extend_from_slice(message.as_bytes());
                carriers.push(sent.connection);
                if sent.connection != carrier {
                    // The first send after a restart found the old connection
                    // closed, before writing, and moved on.
                    assert_eq!(sent.connection, carrier + 1);
                    let loss = client.last_loss().expect("a restart is a loss");
                    assert_eq!(loss.connection, carrier);
                    assert_eq!(loss.unacknowledged_bytes, Some(0), "nothing was in flight");
                    carrier = sent.connection;
                }
                if i % 50 == 49 {
                    let reading = match conn {
                        Some(reading) => reading,
                        None => server.accept_connection(PATIENCE).await?,
                    };
                    while received.len() < promised.len() {
                        received.extend(server.receive(reading, 1 << 16, PATIENCE).await?);
                    }
                    env.restart("server").await?;
                    conn = None;
                }
            }
            client.close().await;
            let last = server.accept_connection(PATIENCE).await?;
            loop {
                match server.receive(last, 1 << 16, PATIENCE).await {
                    Ok(bytes) => received.extend(bytes),
                    Err(TcpError::PeerClosed { .. }) => break,
                    Err(other) => return Err(other.into()),
                }
            }
            assert_eq!(
                String::from_utf8_lossy(&received),
                String::from_utf8_lossy(&promised)
            );
            assert_eq!(
                carriers.last().copied(),
                Some(21),
                "20 restarts, 21 connections"
            );
            Ok::<_, Error>(())
        })
        .await
        .unwrap();
}
