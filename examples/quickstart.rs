//! The quick start: an environment of a server and a client that references the
//! server's port, a test body, and the report.
//!
//! Run: `cargo run --release --example quickstart`

use testrig::testing::ScriptedDriver;
use testrig::{Environment, Error, Ref};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let report_dir = std::env::temp_dir().join("testrig-quickstart");
    let env = Environment::builder("quickstart")
        // A server on a kernel-assigned port of 127.0.0.1; it exports `port`.
        .driver(ScriptedDriver::new("server").listen())
        // The client connects to that port: the reference makes it start second.
        .driver(ScriptedDriver::new("client").connect_to(Ref::export("server", "port")))
        .report_dir(&report_dir)
        .handle_signals()
        .build()?;

    env.run(|env| async move {
        let server = env.get::<ScriptedDriver>("server")?;
        let client = env.get::<ScriptedDriver>("client")?;
        println!(
            "server listens on 127.0.0.1:{}",
            server.port().unwrap_or_default()
        );
        assert_eq!(client.connected_port(), server.port());
        Ok::<_, Error>(())
    })
    .await?;

    let report = env.report();
    print!("{}", report.summary());
    println!("reports: {}", report_dir.display());
    Ok(())
}
