//! A TCP server releases connections its peers closed: descriptors and memory
//! come back, indices stay valid. Alone in its test binary, because it counts
//! the descriptors of the whole process.

use std::time::Duration;

use socket2::SockRef;
use testrig::{Environment, Error};
use testrig_drivers::tcp::{TcpError, TcpServer};
use tokio::time::Instant;

/// Deadline of waits that end on an event or a condition: generous, so a busy
/// machine only makes the test slower.
const PATIENCE: Duration = Duration::from_secs(30);
/// Waves whose peers reset (SO_LINGER 0, then close)…
const RESET_WAVES: usize = 10;
/// …then waves whose peers close with a FIN.
const FIN_WAVES: usize = 2;
const PEERS_PER_WAVE: usize = 500;

/// Open descriptors of this process.
fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Waits until `condition` holds, looking every few milliseconds (nothing
/// signals a descriptor being closed), within `PATIENCE`.
async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !condition() {
        assert!(Instant::now() < deadline, "{what}: not within {PATIENCE:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn waves_of_peers_that_reset_or_close_leave_the_descriptor_count_at_its_baseline()
-> Result<(), Error> {
    let env = Environment::builder("waves")
        .driver(TcpServer::new("server"))
        .build()?;
    env.run(|env| async move {
        let server = env.get::<TcpServer>("server")?;
        let port = server.local_addr().unwrap().port();
        let baseline = open_descriptors();
        for wave in 0..RESET_WAVES + FIN_WAVES {
            let mut peers = Vec::with_capacity(PEERS_PER_WAVE);
            for _ in 0..PEERS_PER_WAVE {
                peers.push(
                    tokio::net::TcpStream::connect(("127.0.0.1", port))
                        .await
                        .unwrap(),
                );
            }
            let mut indices = Vec::with_capacity(PEERS_PER_WAVE);
            for _ in 0..PEERS_PER_WAVE {
                indices.push(server.accept_connection(PATIENCE).await?);
            }
            assert_eq!(indices.len(), PEERS_PER_WAVE);
            for peer in peers {
                if wave < RESET_WAVES {
                    // A reset, not a FIN: SO_LINGER 0, then close.
                    SockRef::from(&peer)
                        .set_linger(Some(Duration::ZERO))
                        .unwrap();
                }
                drop(peer);
            }
            eventually(&format!("wave {wave}: every connection released"), || {
                server.open_connection_count() == 0
            })
            .await;
            eventually(
                &format!("wave {wave}: descriptors back to {baseline} ± 10"),
                || open_descriptors() <= baseline + 10,
            )
            .await;
            // Indices stay stable: a released one answers as closed by the peer.
            let error = server.receive(indices[0], 1, PATIENCE).await.unwrap_err();
            assert!(matches!(error, TcpError::PeerClosed { .. }), "{error}");
            assert!(server.peer_addr(indices[0]).is_ok());
        }
        assert_eq!(
            server.connection_count(),
            (RESET_WAVES + FIN_WAVES) * PEERS_PER_WAVE
        );
        Ok::<_, Error>(())
    })
    .await
}
