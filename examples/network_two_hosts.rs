//! Two emulated hosts joined by a 50 Mbit/s link, in an environment: a `TcpServer` on one, a
//! `TcpClient` on the other, and a bounded transfer between them, with the sockets created
//! inside each host's namespace by this one process.
//!
//! Works as root, and without root where the kernel allows user namespaces: the first thing
//! `main` does is `enter_user_namespace()`, before any thread starts.
//!
//! ```text
//! cargo run --example network_two_hosts            # build, transfer, report, stop
//! cargo run --example network_two_hosts -- --hold  # build, print the namespaces' inodes, wait (60 s at most)
//! ```

use std::io::Write;
use std::time::{Duration, Instant};

use testrig::network::{Link, Network, enter_user_namespace};
use testrig::{Endpoint, Environment};
use testrig_drivers::tcp::{TcpClient, TcpServer};

/// What crosses the link: bounded, about 170 ms at 50 Mbit/s.
const BYTES: usize = 1 << 20;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Before the runtime's threads exist: a user namespace needs a single-threaded process.
    enter_user_namespace()?;
    let hold = std::env::args().any(|arg| arg == "--hold");
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(run(hold))
}

async fn run(hold: bool) -> Result<(), Box<dyn std::error::Error>> {
    let network = Network::builder("two-hosts")
        .host("a")
        .host("b")
        .link(
            Link::new("a", "b")
                .subnet("10.7.0.0/24")
                .subnet("fd00:7::/64")
                .rate("50mbit"),
        )
        .build()?;
    if hold {
        network.start().await?;
        let inodes: Vec<String> = network
            .namespace_inodes()?
            .iter()
            .map(ToString::to_string)
            .collect();
        println!("holding {}", inodes.join(" "));
        std::io::stdout().flush()?;
        // Until killed; bounded all the same.
        tokio::time::sleep(Duration::from_secs(60)).await;
        network.stop().await?;
        return Ok(());
    }

    let mut builder = Environment::builder("two-hosts").network(network);
    let server = builder.add_on("b", TcpServer::new("server"));
    let client = builder.add_on("a", TcpClient::new("client", Endpoint::of("server")));
    let (elapsed, address) = builder
        .build()?
        .run(|env| async move {
            let (server, client) = (env.get(&server)?, env.get(&client)?);
            let started = Instant::now();
            let deadline = Duration::from_secs(20);
            let data = vec![7u8; BYTES];
            let (sent, received) = tokio::join!(client.send(&data), async {
                let conn = server.accept_connection(deadline).await?;
                server.receive_exact(conn, BYTES, deadline).await
            });
            sent?;
            if received?.len() != BYTES {
                return Err(testrig::Error::other("b received fewer bytes than a sent"));
            }
            Ok((started.elapsed(), server.local_addr().unwrap().ip()))
        })
        .await?;
    let mbit = BYTES as f64 * 8.0 / elapsed.as_secs_f64() / 1e6;
    println!(
        "ok: {BYTES} bytes from a to b ({address}) in {elapsed:.0?}: {mbit:.1} Mbit/s over a 50 Mbit/s link"
    );
    Ok(())
}
