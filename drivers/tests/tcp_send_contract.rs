//! The send contract of a TCP client across reconnections: a send that returned
//! `Ok` was carried by a live connection, and the client says which one.

use std::time::Duration;

use testrig::service::RetryPolicy;
use testrig::{Environment, Error, Ref};
use testrig_drivers::tcp::{SocketOptions, TcpClient, TcpError, TcpServer};

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
        .auto_reconnect(|| RetryPolicy::constant(Duration::ZERO))
        .socket_options(sending_within(PATIENCE));
    pair("restart-then-send", client)
        .run(|env| async move {
            let server = env.get::<TcpServer>("server")?;
            let client = env.get::<TcpClient>("client")?;
            let first = client.send(b"before\n").await?;
            let conn = server.accept_connection(PATIENCE).await?;
            assert_eq!(server.receive_line(conn, PATIENCE).await?, "before");

            env.resource("server")?.restart().await?;
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
        .auto_reconnect(|| RetryPolicy::constant(Duration::ZERO))
        .socket_options(sending_within(PATIENCE));
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
                    env.resource("server")?.restart().await?;
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

/// A server that closes each connection under a running sender, with a
/// half-close (FIN) while it keeps reading each connection to its end, so
/// nothing that reached it is thrown away: a send moved to the next connection
/// after some of its bytes were written would show as a duplicate, an `Ok` for
/// bytes never written as a hole, a send carried out of turn as disorder.
#[tokio::test]
async fn sends_racing_the_server_closing_connections_arrive_exactly_once_in_order() {
    use tokio::io::AsyncReadExt;
    use tokio::sync::mpsc;

    const SENDS: usize = 1000;
    const CLOSES: usize = 20;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    // Every 50th Ok send asks the server to close the connection it is on.
    let (close_tx, mut close_rx) = mpsc::unbounded_channel::<()>();
    let server = tokio::spawn(async move {
        let (mut readers, mut writers) = (Vec::new(), Vec::new());
        for closed in 0..=CLOSES {
            let (stream, _) = tokio::time::timeout(PATIENCE, listener.accept())
                .await
                .expect("the client reconnects")
                .unwrap();
            let (mut read, mut write) = stream.into_split();
            readers.push(tokio::spawn(async move {
                let mut bytes = Vec::new();
                tokio::time::timeout(PATIENCE, read.read_to_end(&mut bytes))
                    .await
                    .expect("the client closes its side")
                    .unwrap();
                bytes
            }));
            if closed < CLOSES {
                tokio::time::timeout(PATIENCE, close_rx.recv())
                    .await
                    .expect("the sender asks")
                    .unwrap();
                tokio::io::AsyncWriteExt::shutdown(&mut write)
                    .await
                    .unwrap();
            }
            // Dropping a write half would close it too: the last must stay open.
            writers.push(write);
        }
        let mut received = Vec::new();
        for reader in readers {
            received.extend(reader.await.unwrap());
        }
        received
    });

    let client = TcpClient::new("client", port)
        .auto_reconnect(|| RetryPolicy::constant(Duration::ZERO))
        .socket_options(sending_within(PATIENCE));
    let env = Environment::builder("racing-closes")
        .driver(client)
        .build()
        .unwrap();
    let promised = env
        .run(|env| async move {
            let client = env.get::<TcpClient>("client")?;
            let mut promised = Vec::new();
            let mut on_this_connection = 0;
            let mut carrier = 1;
            // At least SENDS, and on until the last close was seen: how many land on
            // each connection depends on how fast the closes arrive.
            let mut i = 0;
            while i < SENDS || carrier <= CLOSES as u64 {
                assert!(i < 100 * SENDS, "the closes were never seen");
                let message = format!("{i:06}\n");
                let sent = client.send(message.as_bytes()).await?;
                promised.extend_from_slice(message.as_bytes());
                if sent.connection != carrier {
                    assert_eq!(sent.connection, carrier + 1);
                    carrier = sent.connection;
                    on_this_connection = 0;
                }
                on_this_connection += 1;
                // Not waiting for the close: the next sends race it.
                if on_this_connection == 50 && carrier <= CLOSES as u64 {
                    close_tx.send(()).unwrap();
                }
                i += 1;
            }
            Ok::<_, Error>(promised)
        })
        .await
        .unwrap();
    // The environment's stop closed the client: every reader has its end.
    let received = tokio::time::timeout(PATIENCE, server)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&received),
        String::from_utf8_lossy(&promised)
    );
}

#[tokio::test]
async fn send_acked_returns_once_the_peer_has_acknowledged_the_bytes() {
    pair(
        "acked",
        TcpClient::new("client", Ref::export("server", "port")),
    )
    .run(|env| async move {
        let server = env.get::<TcpServer>("server")?;
        let client = env.get::<TcpClient>("client")?;
        let sent = client.send_acked(b"must arrive\n").await?;
        assert_eq!((sent.bytes, sent.connection), (12, 1));
        let conn = server.accept_connection(PATIENCE).await?;
        assert_eq!(server.receive_line(conn, PATIENCE).await?, "must arrive");
        Ok::<_, Error>(())
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn send_acked_fails_naming_the_unacknowledged_bytes_when_the_peer_never_takes_them() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    // A small receive window that nobody empties: most bytes stay unacknowledged.
    socket2::SockRef::from(&listener)
        .set_recv_buffer_size(4096)
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let client =
        TcpClient::new("client", port).socket_options(sending_within(Duration::from_millis(300)));
    let env = Environment::builder("unacked")
        .driver(client)
        .build()
        .unwrap();
    env.run(|env| async move {
        let (_peer, _) = listener.accept().await.unwrap();
        let client = env.get::<TcpClient>("client")?;
        let error = client.send_acked(&[1u8; 100_000]).await.unwrap_err();
        match &error {
            TcpError::Unacknowledged {
                unacknowledged: Some(n),
                why,
                ..
            } => {
                assert!(*n > 0 && *n <= 100_000, "{error}");
                assert_eq!(why, "within 300ms", "{error}");
            }
            other => panic!("{other}"),
        }
        Ok::<_, Error>(())
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn bytes_a_lost_connection_still_held_are_received_before_the_next_connections() {
    let client = TcpClient::new("client", Ref::export("server", "port"))
        .auto_reconnect(|| RetryPolicy::constant(Duration::ZERO))
        .socket_options(sending_within(PATIENCE));
    pair("draining", client)
        .run(|env| async move {
            let server = env.get::<TcpServer>("server")?;
            let client = env.get::<TcpClient>("client")?;
            let conn = server.accept_connection(PATIENCE).await?;
            server.send(conn, b"last words\n").await?;
            env.resource("server")?.restart().await?;
            // The send moves on to the next connection…
            let sent = client.send(b"hello again\n").await?;
            assert_eq!(sent.connection, 2);
            let conn = server.accept_connection(PATIENCE).await?;
            assert_eq!(server.receive_line(conn, PATIENCE).await?, "hello again");
            server.send(conn, b"welcome back\n").await?;
            // …but what the lost one received is read first, then its end.
            assert_eq!(client.receive_line(PATIENCE).await?, "last words");
            let error = client.receive_line(PATIENCE).await.unwrap_err();
            assert!(matches!(error, TcpError::PeerClosed { .. }), "{error}");
            assert_eq!(client.receive_line(PATIENCE).await?, "welcome back");
            Ok::<_, Error>(())
        })
        .await
        .unwrap();
}

/// The default socket options with sends given `timeout`.
fn sending_within(timeout: Duration) -> SocketOptions {
    SocketOptions {
        send_timeout: timeout,
        ..SocketOptions::default()
    }
}
