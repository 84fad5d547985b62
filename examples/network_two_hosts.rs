//! Two emulated hosts joined by a 50 Mbit/s link; a bounded TCP transfer from one to the
//! other, with the sockets created inside each host's namespace by this one process.
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
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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
    network.start().await?;
    if hold {
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

    let (a, b) = (network.host("a")?, network.host("b")?);
    let server_address = (b.ipv4().ok_or("b has no IPv4 address")?, 5001);
    let listener = b
        .run(move || std::net::TcpListener::bind(server_address))
        .await??;
    listener.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await?;
        let mut received = 0usize;
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let n = stream.read(&mut buffer).await?;
            if n == 0 {
                return Ok::<usize, std::io::Error>(received);
            }
            received += n;
        }
    });

    let socket = a
        .run(|| socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None))
        .await??;
    socket.set_nonblocking(true)?;
    let socket = tokio::net::TcpSocket::from_std_stream(socket.into());
    let started = Instant::now();
    let transfer = async {
        let mut stream = socket.connect(server_address.into()).await?;
        stream.write_all(&vec![7u8; BYTES]).await?;
        stream.shutdown().await?;
        server.await.map_err(std::io::Error::other)?
    };
    let received = tokio::time::timeout(Duration::from_secs(20), transfer).await??;
    let elapsed = started.elapsed();
    network.stop().await?;
    if received != BYTES {
        return Err(format!("b received {received} bytes of {BYTES}").into());
    }
    let mbit = received as f64 * 8.0 / elapsed.as_secs_f64() / 1e6;
    println!(
        "ok: {received} bytes from a to b ({}) in {elapsed:.0?}: {mbit:.1} Mbit/s over a 50 Mbit/s link",
        server_address.0
    );
    Ok(())
}
