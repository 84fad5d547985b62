//! The quick start, the same environment as `examples/rigs/quickstart.toml`: a TCP
//! server, a reconnecting client wired to the server's kernel-assigned port, a test body
//! that survives a server restart; next to them an iperf server and client (testrig's
//! native engine, no binary needed) and a 16 MiB throughput measurement; then the report.
//!
//! Run: `cargo run --release --example quickstart`

use std::time::Duration;

use testrig::service::RetryPolicy;
use testrig::{Environment, Error, Ref};
use testrig_drivers::iperf::{ClientOptions, IperfClient, IperfServer};
use testrig_drivers::tcp::{TcpClient, TcpServer};

const SECOND: Duration = Duration::from_secs(1);

#[tokio::main]
async fn main() -> Result<(), Error> {
    let env = Environment::builder("quickstart")
        // Binds 127.0.0.1:0; exports `host`, `port` and `address`.
        .driver(TcpServer::new("server"))
        // The reference makes the client start after the server, on its real port.
        .driver(
            TcpClient::new("client", Ref::export("server", "port"))
                .auto_reconnect(|| RetryPolicy::constant(Duration::from_millis(20))),
        )
        .driver(IperfServer::new("receiver"))
        .driver(
            IperfClient::new("sender", Ref::export("receiver", "port"))
                .options(ClientOptions::new().bytes(16 << 20)),
        )
        .handle_signals()
        // Its run directory (the drivers' files, and the reports written below)
        // outlives the run; by default a clean run's directory is removed.
        .keep_runpath(true)
        .build()?;

    env.run(|env| async move {
        let server = env.get::<TcpServer>("server")?;
        let client = env.get::<TcpClient>("client")?;
        println!(
            "server listens on {}",
            server.local_addr().expect("started")
        );

        client.send(b"ping\n").await?;
        let conn = server.accept_connection(SECOND).await?;
        assert_eq!(server.receive_line(conn, SECOND).await?, "ping");
        server.send(conn, b"pong\n").await?;
        assert_eq!(client.receive_line(SECOND).await?, "pong");

        // The server goes away and comes back on the same port; the client reconnects.
        env.resource("server")?.restart().await?;
        client.when_connected(5 * SECOND).await?;
        client.send(b"still here\n").await?;
        let conn = server.accept_connection(SECOND).await?;
        assert_eq!(server.receive_line(conn, SECOND).await?, "still here");
        println!("the client reconnected after a server restart");

        let throughput = env.get::<IperfClient>("sender")?.run(10 * SECOND).await?;
        println!(
            "throughput: {:.2} Gbit/s, {} bytes received",
            throughput.received_bits_per_second() / 1e9,
            throughput.bytes_received()
        );
        Ok::<_, Error>(())
    })
    .await?;

    let report = env.report();
    print!("{}", report.summary());
    // Each run has a fresh directory of its own; the reports go next to the drivers' files.
    let files = report.write_to(env.runpath())?;
    println!(
        "reports: {}",
        files[0].parent().unwrap_or(env.runpath()).display()
    );
    Ok(())
}
