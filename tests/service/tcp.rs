//! `ClientService` over real TCP sockets on 127.0.0.1, in real time.

use std::time::Duration;

use socket2::SockRef;
use testrig::service::{
    ClientService, Connection, RetryPolicy, ServiceError, ServiceState, TcpConnector,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

const PATIENCE: Duration = Duration::from_secs(5);

fn fast_retries() -> RetryPolicy {
    RetryPolicy::constant(Duration::from_millis(20))
}

async fn listener() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").await.unwrap()
}

async fn accept(listener: &TcpListener) -> TcpStream {
    timeout(PATIENCE, listener.accept())
        .await
        .expect("the service connects")
        .unwrap()
        .0
}

#[tokio::test]
async fn tcp_service_connects_and_exchanges_bytes_both_ways() {
    let listener = listener().await;
    let service = ClientService::builder(TcpConnector::new(listener.local_addr().unwrap()))
        .retry_policy(fast_retries())
        .start();
    let mut server_side = accept(&listener).await;
    let mut conn = timeout(PATIENCE, service.when_connected(None))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(conn.peer_addr().unwrap(), listener.local_addr().unwrap());
    conn.write_all(b"ping").await.unwrap();
    let mut received = [0u8; 4];
    server_side.read_exact(&mut received).await.unwrap();
    assert_eq!(&received, b"ping");
    server_side.write_all(b"pong").await.unwrap();
    conn.read_exact(&mut received).await.unwrap();
    assert_eq!(&received, b"pong");
    timeout(PATIENCE, service.stop()).await.unwrap();
}

#[tokio::test]
async fn tcp_service_reconnects_after_the_server_closes_the_connection() {
    let listener = listener().await;
    let service = ClientService::builder(TcpConnector::new(listener.local_addr().unwrap()))
        .retry_policy(fast_retries())
        .start();
    let first_server_side = accept(&listener).await;
    let first = timeout(PATIENCE, service.when_connected(None))
        .await
        .unwrap()
        .unwrap();
    drop(first_server_side);
    let _second_server_side = accept(&listener).await;
    let second = loop {
        let conn = timeout(PATIENCE, service.when_connected(None))
            .await
            .unwrap()
            .unwrap();
        if conn.local_addr().unwrap() != first.local_addr().unwrap() {
            break conn;
        }
        tokio::task::yield_now().await;
    };
    assert_eq!(service.state(), ServiceState::Connected);
    assert_ne!(second.local_addr().unwrap(), first.local_addr().unwrap());
    timeout(PATIENCE, service.stop()).await.unwrap();
}

#[tokio::test]
async fn tcp_connection_refused_is_retried_until_the_server_listens() {
    let address = listener().await.local_addr().unwrap(); // bound, then closed: refused
    let service = ClientService::builder(TcpConnector::new(address))
        .retry_policy(fast_retries())
        .start();
    match timeout(PATIENCE, service.when_connected(Some(2)))
        .await
        .unwrap()
    {
        Err(ServiceError::ConnectFailed {
            source, failures, ..
        }) => {
            assert_eq!(failures, 2);
            let io = source
                .downcast_ref::<std::io::Error>()
                .expect("an io error");
            assert_eq!(io.kind(), std::io::ErrorKind::ConnectionRefused);
        }
        other => panic!("expected the second refusal, got {other:?}"),
    }
    let listener = TcpListener::bind(address).await.unwrap();
    let _server_side = accept(&listener).await;
    let conn = timeout(PATIENCE, service.when_connected(None))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(conn.peer_addr().unwrap(), address);
    timeout(PATIENCE, service.stop()).await.unwrap();
}

#[tokio::test]
async fn tcp_keepalive_and_nodelay_options_are_set_on_the_socket() {
    let listener = listener().await;
    let connector = TcpConnector::new(listener.local_addr().unwrap())
        .keepalive(Duration::from_secs(7))
        .nodelay(true);
    let service = ClientService::builder(connector).start();
    let _server_side = accept(&listener).await;
    let conn = timeout(PATIENCE, service.when_connected(None))
        .await
        .unwrap()
        .unwrap();
    let socket = SockRef::from(&conn);
    assert!(socket.keepalive().unwrap());
    assert_eq!(socket.tcp_keepalive_time().unwrap(), Duration::from_secs(7));
    assert_eq!(
        socket.tcp_keepalive_interval().unwrap(),
        Duration::from_secs(7)
    );
    assert!(socket.tcp_nodelay().unwrap());
    timeout(PATIENCE, service.stop()).await.unwrap();
}

#[tokio::test]
async fn tcp_local_address_binds_the_client_end() {
    let listener = listener().await;
    let connector = TcpConnector::new(listener.local_addr().unwrap())
        .local_address("127.0.0.1:0".parse().unwrap());
    let service = ClientService::builder(connector).start();
    let server_side = accept(&listener).await;
    let conn = timeout(PATIENCE, service.when_connected(None))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(conn.local_addr().unwrap(), server_side.peer_addr().unwrap());
    timeout(PATIENCE, service.stop()).await.unwrap();
}

#[tokio::test]
async fn tcp_stop_closes_the_connection_so_the_server_reads_end_of_stream() {
    let listener = listener().await;
    let service = ClientService::builder(TcpConnector::new(listener.local_addr().unwrap())).start();
    let mut server_side = accept(&listener).await;
    let conn = timeout(PATIENCE, service.when_connected(None))
        .await
        .unwrap()
        .unwrap();
    timeout(PATIENCE, service.stop()).await.unwrap();
    assert_eq!(service.state(), ServiceState::Stopped);
    let mut buffer = [0u8; 8];
    let read = timeout(PATIENCE, server_side.read(&mut buffer))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read, 0, "the server sees the client's FIN");
    timeout(PATIENCE, conn.closed()).await.unwrap();
}

#[tokio::test]
async fn tcp_prepare_connection_runs_a_handshake_on_every_connection() {
    let listener = listener().await;
    let service = ClientService::builder(TcpConnector::new(listener.local_addr().unwrap()))
        .retry_policy(fast_retries())
        .prepare_connection(|mut conn| async move { conn.write_all(b"HELLO\n").await })
        .start();
    for _ in 0..2 {
        let mut server_side = accept(&listener).await;
        let mut greeting = [0u8; 6];
        timeout(PATIENCE, server_side.read_exact(&mut greeting))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&greeting, b"HELLO\n");
        // Closing makes the service reconnect, and greet again.
    }
    timeout(PATIENCE, service.stop()).await.unwrap();
}

#[tokio::test]
async fn tcp_loss_behind_unread_data_is_noticed_once_the_data_is_read() {
    let listener = listener().await;
    let service = ClientService::builder(TcpConnector::new(listener.local_addr().unwrap()))
        .retry_policy(RetryPolicy::constant(Duration::from_secs(60)))
        .start();
    let mut server_side = accept(&listener).await;
    let mut conn = timeout(PATIENCE, service.when_connected(None))
        .await
        .unwrap()
        .unwrap();
    let mut events = service.subscribe();
    server_side.write_all(b"last words").await.unwrap();
    drop(server_side);
    let mut received = Vec::new();
    timeout(PATIENCE, conn.read_to_end(&mut received))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(received, b"last words");
    loop {
        let event = timeout(PATIENCE, events.recv()).await.unwrap().unwrap();
        if let testrig::service::ServiceEvent::StateChanged { to, .. } = event {
            assert_eq!(to, ServiceState::Waiting);
            break;
        }
    }
    timeout(PATIENCE, service.stop()).await.unwrap();
}

#[tokio::test]
async fn tcp_unresolvable_host_is_a_failed_attempt_naming_the_host() {
    let service = ClientService::builder(TcpConnector::to_host("no-such-host.invalid", 80))
        .retry_policy(fast_retries())
        .start();
    let error = timeout(PATIENCE, service.when_connected(Some(1)))
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        error.to_string().contains("no-such-host.invalid:80"),
        "{error}"
    );
    timeout(PATIENCE, service.stop()).await.unwrap();
}

/// The next `ConnectionLost` event: its generation and unacknowledged bytes.
async fn next_loss(
    events: &mut tokio::sync::broadcast::Receiver<testrig::service::ServiceEvent>,
) -> (u64, Option<u64>) {
    loop {
        let event = timeout(PATIENCE, events.recv()).await.unwrap().unwrap();
        if let testrig::service::ServiceEvent::ConnectionLost {
            generation,
            unacknowledged_bytes,
        } = event
        {
            return (generation, unacknowledged_bytes);
        }
    }
}

#[tokio::test]
async fn a_loss_after_the_peer_took_every_byte_reports_nothing_in_flight() {
    let listener = listener().await;
    let service = ClientService::builder(TcpConnector::new(listener.local_addr().unwrap()))
        .retry_policy(fast_retries())
        .start();
    let mut server_side = accept(&listener).await;
    let mut conn = timeout(PATIENCE, service.when_connected(None))
        .await
        .unwrap()
        .unwrap();
    let mut events = service.subscribe();
    conn.write_all(b"ping").await.unwrap();
    let mut received = [0u8; 4];
    server_side.read_exact(&mut received).await.unwrap();
    drop(server_side); // FIN, which acknowledges everything received
    assert_eq!(next_loss(&mut events).await, (1, Some(0)));
    timeout(PATIENCE, service.stop()).await.unwrap();
}

#[tokio::test]
async fn a_loss_with_bytes_the_peer_never_took_reports_them_unacknowledged() {
    let listener = listener().await;
    let service = ClientService::builder(TcpConnector::new(listener.local_addr().unwrap()))
        .retry_policy(fast_retries())
        .start();
    let server_side = accept(&listener).await;
    let conn = timeout(PATIENCE, service.when_connected(None))
        .await
        .unwrap()
        .unwrap();
    let mut events = service.subscribe();
    // Fill the peer's receive window and our send buffer: the rest waits unsent.
    let stream = SockRef::from(&conn);
    stream.set_nonblocking(true).unwrap();
    let chunk = [7u8; 64 * 1024];
    let mut written = 0u64;
    loop {
        match std::io::Write::write(&mut &*stream, &chunk) {
            Ok(n) => written += n as u64,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("{e}"),
        }
    }
    // The peer resets without reading.
    SockRef::from(&server_side)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(server_side);
    let (generation, unacknowledged) = next_loss(&mut events).await;
    assert_eq!(generation, 1);
    let unacknowledged = unacknowledged.expect("TCP can tell");
    assert!(
        unacknowledged > 0 && unacknowledged <= written,
        "{unacknowledged} of {written}"
    );
    timeout(PATIENCE, service.stop()).await.unwrap();
}
