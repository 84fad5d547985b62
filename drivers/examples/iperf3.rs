//! An iperf3-compatible command line on testrig's native iperf engine.
//!
//! ```text
//! cargo run --release --example iperf3 -- -s -1
//! cargo run --release --example iperf3 -- -c 127.0.0.1 -t 2 -P 2 -J
//! ```
//! With `-J` the output has iperf3's JSON layout, so scripts written for iperf3 read it.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::json;
use testrig_drivers::iperf::cli::{
    CliCommand, ClientCommand, HumanReport, ServerCommand, USAGE, parse_args,
};
use testrig_drivers::iperf::{
    AddressFamily, IperfResult, NativeClient, NativeServer, ServedTest, ServerConfig,
};

#[tokio::main]
async fn main() -> ExitCode {
    match parse_args(std::env::args().skip(1)) {
        Ok(CliCommand::Client(client)) => {
            let Some(_pidfile) = PidFile::write(client.pidfile.clone()) else {
                return ExitCode::FAILURE;
            };
            run_client(client).await
        }
        Ok(CliCommand::Server(server)) => {
            let Some(_pidfile) = PidFile::write(server.pidfile.clone()) else {
                return ExitCode::FAILURE;
            };
            run_server(server).await
        }
        Ok(_) => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("iperf3: {error}\n\n{USAGE}");
            ExitCode::FAILURE
        }
    }
}

/// iperf3's `-I`: the process id in a file while the program runs, removed at exit.
struct PidFile(Option<std::path::PathBuf>);

impl PidFile {
    /// Writes the file (`None` without `-I`); `None` after printing iperf3's error.
    fn write(path: Option<std::path::PathBuf>) -> Option<Self> {
        if let Some(path) = &path
            && let Err(error) = std::fs::write(path, std::process::id().to_string())
        {
            eprintln!(
                "iperf3: error - unable to write PID file {}: {error}",
                path.display()
            );
            return None;
        }
        Some(Self(path))
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        if let Some(path) = &self.0 {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn error_json(message: &str) -> String {
    let doc = json!({
        "start": { "connected": [], "version": version() },
        "intervals": [],
        "end": {},
        "error": message,
    });
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

fn version() -> &'static str {
    concat!(
        "testrig ",
        env!("CARGO_PKG_VERSION"),
        " (iperf 3.12 protocol)"
    )
}

async fn run_client(command: ClientCommand) -> ExitCode {
    let config = command.config;
    let (host, port) = (config.host().to_owned(), config.port());
    let mut human = HumanReport::new(config.protocol(), config.direction());
    if !command.json {
        println!("Connecting to host {host}, port {port}");
    }
    let client = NativeClient::new(config);
    let run = client.run_with_intervals(|interval| {
        if !command.json {
            print!("{}", human.interval(interval));
            let _ = std::io::stdout().flush();
        }
    });
    let outcome = tokio::select! {
        outcome = run => outcome,
        _ = tokio::signal::ctrl_c() => {
            eprintln!("iperf3: interrupt - the client has terminated");
            return ExitCode::FAILURE;
        }
    };
    match (outcome, command.json) {
        (Ok(result), true) => {
            let mut doc = result.to_iperf3_json();
            doc["start"]["connecting_to"] = json!({ "host": host, "port": port });
            println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
            ExitCode::SUCCESS
        }
        (Ok(result), false) => {
            print!(
                "{}",
                HumanReport::new(result.test.protocol, result.test.direction).summary(&result)
            );
            println!("\niperf Done.");
            ExitCode::SUCCESS
        }
        (Err(error), true) => {
            println!("{}", error_json(&error.to_string()));
            ExitCode::FAILURE
        }
        (Err(error), false) => {
            eprintln!("iperf3: error - {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run_server(command: ServerCommand) -> ExitCode {
    let ip = command.bind.unwrap_or(match command.family {
        AddressFamily::V4 => std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
        _ => std::net::IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
    });
    let mut config = ServerConfig::default().interval(command.interval);
    if let Some(timeout) = command.send_timeout {
        config = config.send_timeout(timeout);
    }
    if let Some(timeout) = command.receive_timeout {
        config = config.receive_timeout(timeout);
    }
    if let Some(device) = &command.bind_device {
        config = config.bind_device(device.clone());
    }
    let mut bound = NativeServer::bind_with((ip, command.port).into(), config.clone()).await;
    if bound.is_err() && command.bind.is_none() && command.family == AddressFamily::Any {
        // No IPv6 here: fall back to IPv4, as iperf3 does.
        bound = NativeServer::bind_with(([0, 0, 0, 0], command.port).into(), config).await;
    }
    let server = match bound {
        Ok(server) => server,
        Err(error) => {
            eprintln!("iperf3: error - {error}");
            return ExitCode::FAILURE;
        }
    };
    let port = server.local_addr().port();
    let mut handle = server.spawn();
    for test_number in 1.. {
        if !command.json {
            println!("-----------------------------------------------------------");
            println!("Server listening on {port} (test #{test_number})");
            println!("-----------------------------------------------------------");
            let _ = std::io::stdout().flush();
        }
        let served = tokio::select! {
            served = next_test(&mut handle) => served,
            _ = tokio::signal::ctrl_c() => {
                eprintln!("iperf3: interrupt - the server has terminated");
                handle.shutdown().await;
                return ExitCode::FAILURE;
            }
        };
        let ok = report_served(&served, command.json);
        if command.one_off {
            handle.shutdown().await;
            return if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            };
        }
    }
    ExitCode::SUCCESS
}

async fn next_test(handle: &mut testrig_drivers::iperf::ServerHandle) -> ServedTest {
    loop {
        if let Ok(served) = handle.next_test(Duration::from_secs(3600)).await {
            return served;
        }
    }
}

fn report_served(served: &ServedTest, json: bool) -> bool {
    match (&served.outcome, json) {
        (Ok(result), true) => {
            let mut doc = result.to_iperf3_json();
            doc["start"]["accepted_connection"] = json!({ "host": served.peer.ip().to_canonical().to_string(), "port": served.peer.port() });
            println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
            true
        }
        (Ok(result), false) => {
            println!(
                "Accepted connection from {}, port {}",
                served.peer.ip().to_canonical(),
                served.peer.port()
            );
            print_server_result(result);
            true
        }
        (Err(error), true) => {
            println!("{}", error_json(&error.to_string()));
            false
        }
        (Err(error), false) => {
            eprintln!("iperf3: error - {error}");
            false
        }
    }
}

fn print_server_result(result: &IperfResult) {
    let mut human = HumanReport::new(result.test.protocol, result.test.direction);
    for interval in &result.intervals {
        print!("{}", human.interval(interval));
    }
    print!("{}", human.summary(result));
}
