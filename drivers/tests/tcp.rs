//! TCP drivers on real sockets on 127.0.0.1 with kernel-assigned ports.

use std::time::{Duration, SystemTime};

use testrig::testing::ScriptedDriver;
use testrig::{Environment, Error, Ref, Status};
use testrig_drivers::tcp::{ConnectionIndex, SocketOptions, TcpClient, TcpError, TcpServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const T: Duration = Duration::from_secs(2);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn pair(name: &str) -> Environment {
    Environment::builder(name)
        .driver(TcpServer::new("server"))
        .driver(TcpClient::new("client", Ref::export("server", "port")))
        .build()
        .unwrap()
}

async fn refused(port: u16) -> bool {
    matches!(
        tokio::net::TcpStream::connect(("127.0.0.1", port)).await,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused
    )
}

#[tokio::test]
async fn a_client_referencing_the_server_port_exchanges_messages_both_ways() {
    pair("echo")
        .run(|env| async move {
            let server = env.get::<TcpServer>("server")?;
            let client = env.get::<TcpClient>("client")?;
            assert_eq!(
                client.target().unwrap().port(),
                server.local_addr().unwrap().port()
            );
            client.send(b"ping").await?;
            let conn = server.accept_connection(T).await?;
            assert_eq!(server.receive_exact(conn, 4, T).await?, b"ping");
            server.send(conn, b"pong\n").await?;
            assert_eq!(client.receive_line(T).await?, "pong");
            let exports = env.resource("server")?.report().exports;
            assert_eq!(exports["host"].to_string(), "127.0.0.1");
            assert_ne!(exports["port"].to_string(), "0");
            Ok::<_, Error>(())
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn accept_connection_hands_out_indexes_in_arrival_order_and_times_out() {
    pair("many")
        .run(|env| async move {
            let server = env.get::<TcpServer>("server")?;
            let port = server.local_addr().unwrap().port();
            assert_eq!(server.accept_connection(T).await?, 0); // the client driver's
            let mut raw = Vec::new();
            for i in 1..=3u8 {
                let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .unwrap();
                stream.write_all(&[i]).await.unwrap();
                assert_eq!(server.accept_connection(T).await?, usize::from(i));
                raw.push(stream);
            }
            for i in 1..=3u8 {
                assert_eq!(server.receive_exact(usize::from(i), 1, T).await?, [i]);
            }
            assert_eq!(server.connection_count().checked_sub(1), Some(3));
            let error = server.accept_connection(ms(50)).await.unwrap_err();
            assert!(matches!(error, TcpError::AcceptTimeout { .. }));
            assert_eq!(
                error.to_string(),
                "driver `server`: no new connection arrived within 50ms"
            );
            Ok::<_, Error>(())
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn bytes_read_before_a_timeout_are_kept_for_the_next_receive() {
    pair("partial")
        .run(|env| async move {
            let server = env.get::<TcpServer>("server")?;
            let client = env.get::<TcpClient>("client")?;
            client.send(b"ab").await?;
            let conn = server.accept_connection(T).await?;
            let error = server.receive_exact(conn, 4, ms(100)).await.unwrap_err();
            assert!(
                matches!(error, TcpError::ReceiveTimeout { buffered: 2, .. }),
                "{error}"
            );
            client.send(b"cd").await?;
            assert_eq!(server.receive_exact(conn, 4, T).await?, b"abcd");
            Ok::<_, Error>(())
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn up_to_n_until_delimiter_and_text_receives() {
    pair("variants")
        .run(|env| async move {
            let server = env.get::<TcpServer>("server")?;
            let client = env.get::<TcpClient>("client")?;
            let conn = server.accept_connection(T).await?;
            server.send(conn, b"hello world|rest").await?;
            assert_eq!(client.receive_until(b"|", 64, T).await?, b"hello world|");
            assert_eq!(client.receive(2, T).await?, b"re");
            assert_eq!(client.receive(100, T).await?, b"st");
            server.send(conn, b"no delimiter here").await?;
            let error = client.receive_until(b"|", 8, T).await.unwrap_err();
            assert_eq!(
                error.to_string(),
                "driver `client`: no \"|\" within 8 bytes"
            );
            Ok::<_, Error>(())
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn a_peer_close_is_a_distinct_error_and_unread_bytes_stay_readable() {
    pair("close")
        .run(|env| async move {
            let server = env.get::<TcpServer>("server")?;
            let client = env.get::<TcpClient>("client")?;
            let conn = server.accept_connection(T).await?;
            client.send(b"ab").await?;
            client.close().await;
            let error = server.receive_exact(conn, 4, T).await.unwrap_err();
            assert!(
                matches!(error, TcpError::PeerClosed { buffered: 2, .. }),
                "{error}"
            );
            assert_eq!(server.receive(conn, 10, T).await?, b"ab");
            let error = server.receive(conn, 10, T).await.unwrap_err();
            assert_eq!(
                error.to_string(),
                "driver `server`: connection 0 was closed by the peer (0 byte(s) left unread)"
            );
            assert!(matches!(
                client.send(b"x").await.unwrap_err(),
                TcpError::NotConnected { .. }
            ));
            Ok::<_, Error>(())
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn sends_are_whole_even_for_megabytes() {
    pair("whole")
        .run(|env| async move {
            let server = env.get::<TcpServer>("server")?;
            let client = env.get::<TcpClient>("client")?;
            let conn = server.accept_connection(T).await?;
            let data: Vec<u8> = (0..4 << 20).map(|i: u32| (i % 251) as u8).collect();
            let expected = data.clone();
            let sender = tokio::spawn(async move { client.send(&data).await });
            let received = server
                .receive_exact(conn, expected.len(), Duration::from_secs(10))
                .await?;
            assert_eq!(sender.await.unwrap()?.bytes, expected.len());
            assert!(received == expected);
            Ok::<_, Error>(())
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn a_send_reports_its_start_time_and_byte_count() {
    pair("tsp")
        .run(|env| async move {
            let client = env.get::<TcpClient>("client")?;
            let before = SystemTime::now();
            let sent = client.send(b"12345").await?;
            assert_eq!(sent.bytes, 5);
            let at = sent.started_at;
            assert!(at >= before && at <= SystemTime::now());
            Ok::<_, Error>(())
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn close_connection_reaches_the_client_as_a_peer_close() {
    pair("server-close")
        .run(|env| async move {
            let server = env.get::<TcpServer>("server")?;
            let client = env.get::<TcpClient>("client")?;
            let conn = server.accept_connection(T).await?;
            server.close_connection(conn).await?;
            assert!(matches!(
                client.receive(1, T).await.unwrap_err(),
                TcpError::PeerClosed { .. }
            ));
            assert!(matches!(
                server.send(conn, b"x").await.unwrap_err(),
                TcpError::Closed { .. }
            ));
            Ok::<_, Error>(())
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn stop_closes_the_listener_and_every_connection_at_once() {
    let env = Environment::builder("stop")
        .driver(TcpServer::new("server"))
        .build()
        .unwrap();
    env.start().await.unwrap();
    let server = env.get::<TcpServer>("server").unwrap();
    let port = server.local_addr().unwrap().port();
    let mut peer = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    server.accept_connection(T).await.unwrap();
    // A receive pending on the server side when it stops ends at once.
    let pending = {
        let server = server.clone();
        tokio::spawn(async move { server.receive(0, 1, Duration::from_secs(30)).await })
    };
    tokio::task::yield_now().await;
    env.stop().await.unwrap();
    assert!(refused(port).await, "a connect after stop must be refused");
    let mut buf = [0u8; 1];
    let read = tokio::time::timeout(T, peer.read(&mut buf)).await.unwrap();
    assert!(matches!(read, Ok(0) | Err(_)), "the peer sees the close");
    let outcome = tokio::time::timeout(T, pending).await.unwrap().unwrap();
    assert!(outcome.is_err());
}

#[tokio::test]
async fn a_restarted_server_keeps_its_port_and_a_client_reconnects() {
    pair("restart")
        .run(|env| async move {
            let server = env.get::<TcpServer>("server")?;
            let client = env.get::<TcpClient>("client")?;
            let port = server.local_addr().unwrap().port();
            env.resource("server")?.restart().await?;
            assert_eq!(server.local_addr().map(|a| a.port()), Some(port));
            assert!(matches!(
                client.receive(1, T).await.unwrap_err(),
                TcpError::PeerClosed { .. }
            ));
            client.reconnect().await?;
            client.send(b"again").await?;
            let conn = server.accept_connection(T).await?;
            assert_eq!(conn, 0, "a restart starts a fresh connection table");
            assert_eq!(server.receive_exact(conn, 5, T).await?, b"again");
            Ok::<_, Error>(())
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn a_client_can_bind_a_local_interface() {
    let env = Environment::builder("iface")
        .driver(TcpServer::new("server"))
        .driver(
            TcpClient::new("client", Ref::export("server", "port"))
                .interface("127.0.0.2:0".parse().unwrap()),
        )
        .build()
        .unwrap();
    env.run(|env| async move {
        let server = env.get::<TcpServer>("server")?;
        let conn = server.accept_connection(T).await?;
        assert_eq!(server.peer_addr(conn)?.ip().to_string(), "127.0.0.2");
        let client = env.get::<TcpClient>("client")?;
        assert_eq!(client.local_addr().unwrap().ip().to_string(), "127.0.0.2");
        Ok::<_, Error>(())
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn a_client_that_connects_later_can_connect_on_demand() {
    let env = Environment::builder("later")
        .driver(TcpServer::new("server"))
        .driver(TcpClient::new("client", Ref::export("server", "port")).connect_at_start(false))
        .build()
        .unwrap();
    env.run(|env| async move {
        let client = env.get::<TcpClient>("client")?;
        assert!(!client.is_connected());
        assert_eq!(
            client.send(b"x").await.unwrap_err().to_string(),
            "driver `client` is not connected"
        );
        client.connect().await?;
        assert!(client.is_connected());
        Ok::<_, Error>(())
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn an_unresolvable_host_fails_the_start_naming_driver_and_host() {
    let env = Environment::builder("badhost")
        .driver(TcpClient::new("client", ("no-such-host.invalid", 80)))
        .build()
        .unwrap();
    let error = env.start().await.unwrap_err().to_string();
    assert!(error.contains("driver `client` failed in start: driver `client`: host `no-such-host.invalid` does not resolve"), "{error}");
}

/// Starting `env`, whose driver `client` dials 127.0.0.1:`port`, fails as refused.
async fn assert_the_start_is_refused(env: &Environment, port: u16) {
    let error = env.start().await.unwrap_err().to_string();
    assert!(
        error.contains(&format!(
            "driver `client`: connection to 127.0.0.1:{port} refused (nothing listens there)"
        )),
        "{error}"
    );
    assert_eq!(env.resource("client").unwrap().status(), Status::Failed);
}

#[tokio::test]
async fn a_connect_that_meets_itself_is_refused_not_connected() {
    // Bound to the very address it dials, with nothing listening there: the kernel joins
    // the connect to itself (TCP's simultaneous open), as it can when a connect to a free
    // port picks that port as its own. A client must not take that for a server.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let env = Environment::builder("itself")
        .driver(TcpClient::new("client", port).interface(address))
        .build()
        .unwrap();
    assert_the_start_is_refused(&env, port).await;
}

#[tokio::test]
async fn a_refused_connect_fails_the_start_naming_driver_and_address() {
    let closed = testrig::testing::ClosedPort::new();
    let port = closed.port();
    let env = Environment::builder("refused")
        .driver(TcpClient::new("client", port))
        .build()
        .unwrap();
    assert_the_start_is_refused(&env, port).await;
}

#[tokio::test]
async fn port_zero_and_an_out_of_range_port_reference_are_clear_errors() {
    let env = Environment::builder("zero")
        .driver(TcpClient::new("client", 0))
        .build()
        .unwrap();
    let error = env.start().await.unwrap_err().to_string();
    assert!(
        error.contains(
            "driver `client`: port 0 is invalid: a client needs the server's port, not 0"
        ),
        "{error}"
    );

    let env = Environment::builder("range")
        .driver(ScriptedDriver::new("config").export("port", 70000u32))
        .driver(TcpClient::new("client", Ref::export("config", "port")))
        .build()
        .unwrap();
    let error = env.start().await.unwrap_err().to_string();
    assert!(
        error.contains("cannot resolve `config.port`: value 70000: 70000 does not fit in u16"),
        "{error}"
    );
}

#[tokio::test]
async fn receive_on_an_unknown_connection_names_the_driver() {
    pair("unknown")
        .run(|env| async move {
            let server = env.get::<TcpServer>("server")?;
            server.accept_connection(T).await?;
            let error = server.receive(7, 1, T).await.unwrap_err();
            assert_eq!(
                error.to_string(),
                "driver `server`: no connection 7 (it has accepted 1)"
            );
            Ok::<_, Error>(())
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn send_and_receive_default_to_the_latest_connection() {
    pair("latest")
        .run(|env| async move {
            let server = env.get::<TcpServer>("server")?;
            let client = env.get::<TcpClient>("client")?;
            assert_eq!(server.accept_connection(T).await?, 0);
            let port = server.local_addr().unwrap().port();
            let mut second = tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .unwrap();
            assert_eq!(server.accept_connection(T).await?, 1);

            server.send(ConnectionIndex::Latest, b"hi").await?;
            let mut got = [0u8; 2];
            second.read_exact(&mut got).await.unwrap();
            assert_eq!(&got, b"hi");
            second.write_all(b"yo\n").await.unwrap();
            assert_eq!(
                server.receive_line(ConnectionIndex::default(), T).await?,
                "yo"
            );
            // The first connection heard nothing of it.
            let silent = client.receive(1, ms(50)).await.unwrap_err();
            assert!(matches!(silent, TcpError::ReceiveTimeout { .. }));
            Ok::<_, Error>(())
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn the_latest_connection_before_any_is_a_clear_error() {
    Environment::builder("none")
        .driver(TcpServer::new("server"))
        .build()
        .unwrap()
        .run(|env| async move {
            let server = env.get::<TcpServer>("server")?;
            let error = server
                .send(ConnectionIndex::Latest, b"x")
                .await
                .unwrap_err();
            assert_eq!(
                error.to_string(),
                "driver `server` has accepted no connection yet"
            );
            Ok::<_, Error>(())
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn a_send_to_a_peer_that_never_reads_fails_with_a_timeout_within_the_deadline() {
    let timeout = ms(200);
    Environment::builder("stuck")
        .driver(TcpServer::new("server").socket_options(SocketOptions {
            send_timeout: timeout,
            ..SocketOptions::default()
        }))
        .build()
        .unwrap()
        .run(|env| async move {
            let server = env.get::<TcpServer>("server")?;
            let socket = tokio::net::TcpSocket::new_v4().unwrap();
            socket.set_recv_buffer_size(4096).unwrap();
            let _never_reads = socket
                .connect(server.local_addr().unwrap())
                .await
                .unwrap();
            let conn = server.accept_connection(T).await?;
            let data = vec![7u8; 32 << 20];
            let started = tokio::time::Instant::now();
            let error = server.send(conn, &data).await.unwrap_err();
            let elapsed = started.elapsed();
            let TcpError::SendTimeout {
                written, total, ..
            } = error
            else {
                panic!("expected a send timeout, got {error}");
            };
            assert_eq!(total, data.len());
            assert!(written < total);
            assert!(elapsed >= timeout, "gave up early: {elapsed:?}");
            assert!(elapsed < timeout + ms(2000), "took {elapsed:?}");
            assert!(error.to_string().starts_with(&format!(
                "driver `server`: sending {total} byte(s) on connection 0 timed out after 200ms ({written} byte(s) written"
            )));
            Ok::<_, Error>(())
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn two_concurrent_receives_each_end_by_their_own_overall_deadline() {
    // Were the wait for the other receive not counted, the second would take
    // two timeouts; each must end after about one (with room for a busy machine).
    let timeout = ms(1000);
    pair("concurrent")
        .run(|env| async move {
            let server = env.get::<TcpServer>("server")?;
            let conn = server.accept_connection(T).await?;
            let started = tokio::time::Instant::now();
            let timed = || async {
                let result = server.receive_exact(conn, 1, timeout).await;
                (result, started.elapsed())
            };
            let ((first, first_took), (second, second_took)) = tokio::join!(timed(), timed());
            for (result, took) in [(first, first_took), (second, second_took)] {
                assert!(
                    matches!(result, Err(TcpError::ReceiveTimeout { .. })),
                    "{result:?}"
                );
                assert!(took >= timeout, "gave up early: {took:?}");
                assert!(took < ms(1800), "not an overall deadline: {took:?}");
            }
            Ok::<_, Error>(())
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn a_server_that_is_not_started_says_so() {
    let server = TcpServer::new("idle");
    let error = server.accept_connection(ms(10)).await.unwrap_err();
    assert_eq!(error.to_string(), "driver `idle` is not started");
}

#[tokio::test]
async fn a_client_that_is_not_started_says_so_in_either_mode() {
    let direct = TcpClient::new("direct", 1);
    let reconnecting = TcpClient::new("reconnecting", 1)
        .auto_reconnect(|| testrig::service::RetryPolicy::constant(Duration::ZERO));
    for client in [direct, reconnecting] {
        for error in [
            client.send(b"x").await.unwrap_err(),
            client.receive(1, ms(10)).await.unwrap_err(),
            client.connect().await.unwrap_err(),
            client.when_connected(ms(10)).await.unwrap_err(),
        ] {
            assert!(matches!(error, TcpError::NotStarted { .. }), "{error}");
        }
        assert!(!client.is_connected());
    }
}

#[tokio::test]
async fn prepare_connection_without_auto_reconnect_is_refused_at_start_naming_both() {
    let env = Environment::builder("no-handshake")
        .driver(TcpServer::new("server"))
        .driver(
            TcpClient::new("client", Ref::export("server", "port"))
                .prepare_connection(|_connection| async { Ok::<_, std::io::Error>(()) }),
        )
        .build()
        .unwrap();
    let error = env.start().await.unwrap_err().to_string();
    assert!(
        error.contains(
            "driver `client`: option `prepare_connection` needs `auto_reconnect`: \
             only a reconnecting client runs it"
        ),
        "{error}"
    );
}

#[tokio::test]
async fn an_error_names_what_failed_and_gives_its_cause_as_its_source_once() {
    let env = Environment::builder("taken")
        .driver(TcpServer::new("first"))
        .driver(TcpServer::new("second").listen(Ref::export("first", "port")))
        .build()
        .unwrap();
    let error = env.start().await.unwrap_err();
    let Error::Start { failures, .. } = &error else {
        panic!("{error}")
    };
    let lifecycle: &dyn std::error::Error = &failures[0];
    let tcp = lifecycle.source().unwrap();
    let message = tcp.to_string();
    assert!(
        message.starts_with("driver `second`: bind 127.0.0.1:") && message.ends_with(" failed"),
        "{message}"
    );
    let cause = tcp.source().unwrap().to_string();
    assert!(cause.contains("in use"), "{cause}");
    // The environment's message shows the cause once, below what failed.
    let shown = error.to_string();
    assert_eq!(shown.matches(&cause).count(), 1, "{shown}");
}

#[tokio::test(flavor = "current_thread")]
async fn once_a_stop_has_begun_the_server_answers_as_stopped_everywhere() {
    use futures_util::FutureExt;
    use testrig::Driver;

    let env = Environment::builder("window")
        .driver(TcpServer::new("server"))
        .build()
        .unwrap();
    env.run(|env| async move {
        let server = env.get::<TcpServer>("server")?;
        let port = server.local_addr().unwrap().port();
        let _peer = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let conn = server.accept_connection(T).await?;
        let mut waiting = std::pin::pin!(server.accept_connection(T));
        assert!(waiting.as_mut().now_or_never().is_none(), "nothing arrived");
        // The driver's own stop, polled once: it has begun and now waits for its
        // accept loop, which cannot run before this (single-threaded) test yields.
        let mut stop = std::pin::pin!(server.stop());
        assert!(stop.as_mut().now_or_never().is_none(), "stop did not wait");
        let waited = waiting.now_or_never().expect("the wait ended with the run");
        assert!(
            matches!(waited, Err(TcpError::NotStarted { .. })),
            "{waited:?}"
        );
        assert_eq!(server.local_addr(), None);
        assert_eq!(
            (server.connection_count(), server.open_connection_count()),
            (0, 0)
        );
        assert_eq!(server.connection_count().checked_sub(1), None);
        for error in [
            server.send(conn, b"late").await.unwrap_err(),
            server.receive(conn, 1, ms(10)).await.unwrap_err(),
            server.peer_addr(conn).unwrap_err(),
            server.accept_connection(ms(10)).await.unwrap_err(),
        ] {
            assert!(matches!(error, TcpError::NotStarted { .. }), "{error}");
        }
        stop.await.map_err(Error::other)?;
        assert!(refused(port).await, "the listener outlived the stop");
        Ok::<_, Error>(())
    })
    .await
    .unwrap();
}

mod auto_reconnect {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use testrig::service::RetryPolicy;
    use tokio::io::AsyncWriteExt;

    use super::*;

    fn reconnecting_pair(name: &str, client: TcpClient) -> Environment {
        Environment::builder(name)
            .driver(TcpServer::new("server"))
            .driver(client)
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn a_reconnecting_client_survives_its_server_restarting_on_the_same_port() {
        let client = TcpClient::new("client", Ref::export("server", "port"))
            .auto_reconnect(|| RetryPolicy::constant(ms(20)));
        reconnecting_pair("survive", client)
            .run(|env| async move {
                let server = env.get::<TcpServer>("server")?;
                let client = env.get::<TcpClient>("client")?;
                let port = server.local_addr().unwrap().port();
                client.send(b"one").await?;
                let conn = server.accept_connection(T).await?;
                assert_eq!(server.receive_exact(conn, 3, T).await?, b"one");

                env.resource("server")?.restart().await?;
                assert_eq!(server.local_addr().map(|a| a.port()), Some(port));
                client.when_connected(Duration::from_secs(5)).await?;
                client.send(b"two").await?;
                let conn = server.accept_connection(T).await?;
                assert_eq!(server.receive_exact(conn, 3, T).await?, b"two");
                server.send(conn, b"back").await?;
                assert_eq!(client.receive_exact(4, T).await?, b"back");
                Ok::<_, Error>(())
            })
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn prepare_connection_runs_a_handshake_on_every_connection() {
        let handshakes = Arc::new(AtomicUsize::new(0));
        let counted = handshakes.clone();
        let client = TcpClient::new("client", Ref::export("server", "port"))
            .auto_reconnect(|| RetryPolicy::constant(ms(20)))
            .prepare_connection(move |mut connection| {
                let counted = counted.clone();
                async move {
                    connection.write_all(b"HELLO\n").await?;
                    counted.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, std::io::Error>(())
                }
            });
        reconnecting_pair("handshake", client)
            .run(|env| async move {
                let server = env.get::<TcpServer>("server")?;
                let client = env.get::<TcpClient>("client")?;
                let conn = server.accept_connection(T).await?;
                assert_eq!(server.receive_line(conn, T).await?, "HELLO");
                env.resource("server")?.restart().await?;
                client.when_connected(Duration::from_secs(5)).await?;
                let conn = server.accept_connection(T).await?;
                assert_eq!(server.receive_line(conn, T).await?, "HELLO");
                assert_eq!(handshakes.load(Ordering::SeqCst), 2);
                Ok::<_, Error>(())
            })
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_reconnecting_client_waits_out_a_stopped_server_and_reconnects_when_it_is_back() {
        let client = TcpClient::new("client", Ref::export("server", "port"))
            .auto_reconnect(|| RetryPolicy::constant(ms(10)));
        reconnecting_pair("outage", client)
            .run(|env| async move {
                let server = env.resource("server")?.clone();
                let client = env.get::<TcpClient>("client")?;
                server.stop().await?;
                let error = client.when_connected(ms(100)).await.unwrap_err();
                assert!(
                    matches!(error, TcpError::ConnectionWaitTimeout { .. }),
                    "{error}"
                );
                assert_eq!(
                    error.to_string(),
                    "driver `client`: when_connected waited 100ms for a connection and none came"
                );
                server.start().await?;
                client.when_connected(Duration::from_secs(5)).await?;
                client.send(b"ok").await?;
                let tcp = env.get::<TcpServer>("server")?;
                let conn = tcp.accept_connection(T).await?;
                assert_eq!(tcp.receive_exact(conn, 2, T).await?, b"ok");
                Ok::<_, Error>(())
            })
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn close_stops_a_reconnecting_client_from_reconnecting() {
        let client = TcpClient::new("client", Ref::export("server", "port"))
            .auto_reconnect(|| RetryPolicy::constant(ms(10)));
        reconnecting_pair("closing", client)
            .run(|env| async move {
                let server = env.get::<TcpServer>("server")?;
                let client = env.get::<TcpClient>("client")?;
                server.accept_connection(T).await?;
                client.close().await;
                assert!(!client.is_connected());
                assert!(
                    server.accept_connection(ms(100)).await.is_err(),
                    "no reconnect after close"
                );
                client.connect().await?;
                assert!(client.is_connected());
                server.accept_connection(T).await?;
                Ok::<_, Error>(())
            })
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_connection_the_peer_closed_is_released_only_once_its_bytes_are_received() {
    let env = Environment::builder("release")
        .driver(TcpServer::new("server"))
        .build()
        .unwrap();
    env.run(|env| async move {
        let server = env.get::<TcpServer>("server")?;
        let port = server.local_addr().unwrap().port();
        let mut peer = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let conn = server.accept_connection(T).await?;
        peer.write_all(b"last words").await.unwrap();
        drop(peer); // FIN after the bytes
        // Unread bytes keep it: they are never lost to a release.
        let error = server.receive_exact(conn, 100, T).await.unwrap_err();
        assert!(
            matches!(error, TcpError::PeerClosed { buffered: 10, .. }),
            "{error}"
        );
        assert_eq!(server.open_connection_count(), 1);
        assert_eq!(server.receive(conn, 100, T).await?, b"last words");
        // Taken: released (nothing signals it to the test; look within a deadline).
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while server.open_connection_count() != 0 {
            assert!(tokio::time::Instant::now() < deadline, "never released");
            tokio::time::sleep(ms(5)).await;
        }
        let error = server.receive(conn, 1, T).await.unwrap_err();
        assert_eq!(
            error.to_string(),
            "driver `server`: connection 0 was closed by the peer (0 byte(s) left unread)"
        );
        assert!(server.peer_addr(conn).is_ok());
        server.close_connection(conn).await.unwrap_err();
        Ok::<_, Error>(())
    })
    .await
    .unwrap();
}
