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

use testrig_drivers::iperf::cli::{
    CliCommand, ClientCommand, HumanReport, ServerCommand, USAGE, parse_args, server_report_text,
};
use testrig_drivers::iperf::{
    NativeClient, NativeServer, ServedTest, ServerConfig, ServerOutput, iperf3_error_json,
    iperf3_json_text,
};

#[tokio::main]
async fn main() -> ExitCode {
    match parse_args(std::env::args().skip(1)) {
        Ok(CliCommand::Client(client)) => run_client(client).await,
        Ok(CliCommand::Server(server)) => run_server(server).await,
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

/// Prints a `-J` document as iperf3 does (cJSON's layout, then a newline).
fn print_json(doc: &serde_json::Value) {
    println!("{}", iperf3_json_text(doc));
    let _ = std::io::stdout().flush();
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
            print_json(&result.to_iperf3_json());
            ExitCode::SUCCESS
        }
        (Ok(result), false) => {
            print!(
                "{}",
                HumanReport::new(result.test.protocol, result.test.direction).summary(&result)
            );
            // As iperf3's client: the server's report, when asked for, before "iperf Done.".
            match &result.server_output {
                Some(ServerOutput::Json(doc)) => {
                    println!("\nServer JSON output:\n{}", iperf3_json_text(doc));
                }
                Some(ServerOutput::Text(text)) => println!("\nServer output:\n{text}"),
                _ => {}
            }
            println!("\niperf Done.");
            ExitCode::SUCCESS
        }
        // iperf3 3.12 with -J reports a failed test in the document's `error` key and exits
        // with status 0.
        (Err(error), true) => {
            print_json(&iperf3_error_json(&error.iperf3_message()));
            ExitCode::SUCCESS
        }
        (Err(error), false) => {
            eprintln!("iperf3: error - {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run_server(command: ServerCommand) -> ExitCode {
    let ip = command
        .bind
        .unwrap_or(std::net::IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED));
    let config = ServerConfig::default()
        .interval(command.interval)
        .json_output(command.json);
    let mut bound = NativeServer::bind_with((ip, command.port).into(), config.clone()).await;
    if bound.is_err() && command.bind.is_none() {
        // No IPv6 here: fall back to IPv4, as iperf3 does.
        bound = NativeServer::bind_with(([0, 0, 0, 0], command.port).into(), config).await;
    }
    let server = match bound {
        Ok(server) => server,
        // As iperf3's server: with -J the failure goes in the document's `error` key (with
        // its "error - " prefix), then "iperf3: exiting" on stderr, status 1.
        Err(error) if command.json => {
            print_json(&iperf3_error_json(&format!(
                "error - {}",
                error.iperf3_message()
            )));
            eprintln!("iperf3: exiting");
            return ExitCode::FAILURE;
        }
        Err(error) => {
            eprintln!("iperf3: error - {}", error.iperf3_message());
            eprintln!("iperf3: exiting");
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
        report_served(&served, command.json);
        if command.one_off {
            // As iperf3 3.12: a one-off server whose test failed has reported it and
            // exits with status 0 all the same.
            handle.shutdown().await;
            return ExitCode::SUCCESS;
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

fn report_served(served: &ServedTest, json: bool) {
    match (&served.outcome, json) {
        (Ok(result), true) => print_json(&result.to_iperf3_json()),
        (Ok(result), false) => print!("{}", server_report_text(result)),
        (Err(error), true) => print_json(&iperf3_error_json(&format!(
            "error - {}",
            error.iperf3_message()
        ))),
        (Err(error), false) => eprintln!("iperf3: error - {}", error.iperf3_message()),
    }
}
