//! A TCP server out of file descriptors says so instead of retrying in silence.
//!
//! The descriptor limit is lowered only in a child process (this test binary run
//! again for one ignored test), so other tests never run short.

use std::process::Command;
use std::time::Duration;

use testrig::{Environment, Error};
use testrig_drivers::tcp::{TcpError, TcpServer};

const PATIENCE: Duration = Duration::from_secs(30);
const CHILD: &str = "out_of_descriptors_in_this_process";
const CHILD_VAR: &str = "TESTRIG_EMFILE_CHILD";
const CHILD_DONE: &str = "emfile-child: accept stalled, reported, and recovered";

#[test]
fn a_server_out_of_descriptors_reports_it_and_recovers_when_one_is_freed() {
    let output = Command::new(std::env::current_exe().unwrap())
        .args([CHILD, "--exact", "--include-ignored", "--nocapture"])
        .env(CHILD_VAR, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains(CHILD_DONE),
        "the child failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
}

fn open_descriptors() -> u64 {
    std::fs::read_dir("/proc/self/fd").unwrap().count() as u64
}

/// Sets this process's soft descriptor limit.
fn limit_descriptors(soft: u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read and write one `rlimit` we own.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        limit.rlim_cur = soft;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
    }
}

#[tokio::test]
#[ignore = "run in a child process by a_server_out_of_descriptors_reports_it_and_recovers_when_one_is_freed"]
async fn out_of_descriptors_in_this_process() -> Result<(), Error> {
    assert_eq!(
        std::env::var(CHILD_VAR).as_deref(),
        Ok("1"),
        "lowers the descriptor limit of its whole process: run it alone"
    );
    let env = Environment::builder("emfile")
        .driver(TcpServer::new("server"))
        .build()?;
    env.run(|env| async move {
        let server = env.get::<TcpServer>("server")?;
        let address = server.local_addr().unwrap();
        // Client sockets made before the limit: connecting them needs no new descriptor.
        let sockets: Vec<_> = (0..8)
            .map(|_| tokio::net::TcpSocket::new_v4().unwrap())
            .collect();
        // Room for two accepted connections (one descriptor counted is the
        // directory listing itself).
        limit_descriptors(open_descriptors() + 1);
        let mut peers = Vec::new();
        for socket in sockets {
            peers.push(socket.connect(address).await.unwrap());
        }
        // Short accepts, looked at until the stall shows, within PATIENCE overall.
        let mut accepted = Vec::new();
        let started = std::time::Instant::now();
        let condition = loop {
            assert!(started.elapsed() < PATIENCE, "no stall reported");
            match server.accept_connection(Duration::from_millis(200)).await {
                Ok(index) => accepted.push(index),
                Err(TcpError::AcceptStalled { condition, .. }) => break condition,
                Err(TcpError::AcceptTimeout { .. }) => {}
                Err(other) => return Err(other.into()),
            }
        };
        assert!(condition.contains("EMFILE"), "{condition}");
        assert!(accepted.len() < 8, "accepted {accepted:?}");
        // A freed descriptor lets the waiting connections in.
        server.close_connection(accepted[0]).await?;
        let next = server.accept_connection(PATIENCE).await?;
        assert_eq!(next, accepted.len());
        println!("{CHILD_DONE}");
        Ok::<_, Error>(())
    })
    .await
}
