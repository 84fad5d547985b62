//! `testrig iperf3`: an iperf3-compatible command line on testrig's native iperf engine.
//!
//! ```text
//! testrig iperf3 -s -1
//! testrig iperf3 -c 127.0.0.1 -t 2 -P 2 -J
//! ```
//! The text output is iperf3 3.12's, line for line, and with `-J` the output has iperf3's
//! JSON layout, so scripts written for iperf3 read either. The interop tests run it as a
//! real process against the real `iperf3` (through the `iperf3` example of
//! `testrig-drivers`, which compiles this module), and the native engine on an SSH host runs
//! it there.
//!
//! The command line is parsed here (`args`); the text report's formatting is compiled from
//! the library's own source (`text`), which the library uses for the server's
//! `--get-server-output` text.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use testrig_drivers::iperf::engine::{ClientProgress, NativeClient, NativeServer, ServerConfig};
use testrig_drivers::iperf::{
    AddressFamily, IperfError, ServedTest, iperf3_error_json, iperf3_json_text,
};

use args::{CliCommand, ClientCommand, ReportOptions, ServerCommand, USAGE, parse_args};
use output::TextOutput;
use text::human::{HumanReport, Printed, VERSION};
use text::units::UnitFormat;
use text_run::{ServerText, open_output, run_client_text};

mod args;
mod output;
mod text_run;

/// iperf3's text report: the library's (hidden) module.
use testrig_drivers::iperf::text;

/// Runs the command line `args` (iperf3's, without the program's name) to its end: a client
/// test, a server until it is stopped (or after one test with `-1`), or the version or usage.
/// A server with `-D` forks into the background first, so no runtime may run yet.
pub(crate) fn main(args: impl IntoIterator<Item = String>) -> ExitCode {
    let command = match parse_args(args) {
        Ok(command) => command,
        Err(error) => {
            // As iperf3: getopt's complaint and the usage on standard error; a parameter
            // error on standard error and the usage on standard output.
            match error.getopt_message() {
                Some(message) => eprint!("iperf3: {message}\n{USAGE}"),
                None => {
                    eprint!(
                        "iperf3: parameter error - {}\n\n",
                        error.parameter_message()
                    );
                    print!("{USAGE}");
                }
            }
            return ExitCode::FAILURE;
        }
    };
    json_warnings(&command);
    match command {
        CliCommand::Client(client) => {
            let pidfile = client.pidfile.clone().map(Pidfile::create);
            let code = runtime().block_on(run_client(client));
            drop(pidfile);
            code
        }
        CliCommand::Server(server) => {
            // The output is opened first, so a relative --logfile is the caller's.
            let output = match open_output(&server.report, false) {
                Ok(output) => output,
                Err(error) => {
                    eprintln!("iperf3: error - {error}");
                    return ExitCode::FAILURE;
                }
            };
            // Forking must happen before the runtime's threads exist.
            if server.daemon && !daemonize() {
                return ExitCode::FAILURE;
            }
            let pidfile = server.pidfile.clone().map(Pidfile::create);
            let code = runtime().block_on(run_server(server, output));
            drop(pidfile);
            code
        }
        CliCommand::Version => {
            println!(
                "{VERSION}\n{}\nOptional features available: sendfile / zerocopy",
                system_info()
            );
            ExitCode::SUCCESS
        }
        _ => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
    }
}

/// iperf3's warnings, on standard error, for text options given with `-J`.
fn json_warnings(command: &CliCommand) {
    let (json, report) = match command {
        CliCommand::Client(c) => (c.json, &c.report),
        CliCommand::Server(s) => (s.json, &s.report),
        _ => return,
    };
    if json && report.format != UnitFormat::AdaptiveBits {
        eprintln!("warning: Report format (-f) flag ignored with JSON output (-J)");
    }
    if json && report.verbose {
        eprintln!("warning: Verbose output (-v) may interfere with JSON output (-J)");
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// `-D`: into the background as iperf3 does (`daemon(3)`: a new session, the working
/// directory `/`, standard input, output and error on `/dev/null`).
fn daemonize() -> bool {
    // SAFETY: called before any other thread exists; daemon(3) forks and the parent exits.
    if unsafe { libc::daemon(0, 0) } != 0 {
        eprintln!(
            "iperf3: error - unable to become a daemon: {}",
            std::io::Error::last_os_error()
        );
        return false;
    }
    true
}

/// `-I`: the process id in a file while the program runs.
struct Pidfile(PathBuf);

impl Pidfile {
    fn create(path: PathBuf) -> Self {
        // Absolute, so that removing it works after -D changed the working directory.
        let path = std::path::absolute(&path).unwrap_or(path);
        if let Err(error) = std::fs::write(&path, format!("{}", std::process::id())) {
            eprintln!("iperf3: error - unable to write PID file: {error}");
        }
        Self(path)
    }
}

impl Drop for Pidfile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn system_info() -> String {
    let mut report = HumanReport::new(
        testrig_drivers::iperf::Protocol::Tcp,
        testrig_drivers::iperf::Direction::Forward,
    )
    .verbose(true)
    .version_banner();
    match report.pop() {
        Some(Printed::Report(line)) => line.trim_end().to_owned(),
        _ => String::new(),
    }
}

/// `-J`'s document as iperf3 prints it (cJSON's layout).
fn json_text(doc: &serde_json::Value) -> String {
    iperf3_json_text(doc)
}

async fn run_client(command: ClientCommand) -> ExitCode {
    if command.json {
        return run_client_json(command).await;
    }
    let mut output = match open_output(&command.report, true) {
        Ok(output) => output,
        Err(error) => {
            eprintln!("iperf3: error - {error}");
            return ExitCode::FAILURE;
        }
    };
    match run_client_text(&command, &mut output, terminated()).await {
        Ok(_) => ExitCode::SUCCESS,
        Err(IperfError::Interrupted { .. }) => {
            eprintln!("iperf3: interrupt - the client has terminated");
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("iperf3: error - {}", error.iperf3_message());
            ExitCode::FAILURE
        }
    }
}

async fn run_client_json(command: ClientCommand) -> ExitCode {
    let outcome = async {
        NativeClient::new(command.host.clone(), command.port, command.engine_options())?
            .run_with_interrupt(terminated(), |progress| {
                // iperf3's warnings go to standard error with -J too.
                if let ClientProgress::Connected {
                    test,
                    control_mss,
                    block_size,
                    ..
                } = progress
                    && let Some(warning) =
                        text::human::udp_block_warning(test.protocol, block_size, control_mss)
                {
                    eprint!("{warning}");
                }
            })
            .await
    }
    .await;
    // iperf3 3.12 with -J reports a failed test in the document's `error` key and exits
    // with status 0; an interrupted one has the document so far, the error, and status 1.
    let (mut doc, error, code) = match outcome {
        Ok(result) => (result.to_iperf3_json(), None, ExitCode::SUCCESS),
        Err(IperfError::Interrupted { partial, .. }) => (
            partial.map_or_else(|| iperf3_error_json(""), |p| p.to_iperf3_json()),
            Some("interrupt - the client has terminated".to_owned()),
            ExitCode::FAILURE,
        ),
        Err(error) => (
            iperf3_error_json(&error.iperf3_message()),
            None,
            ExitCode::SUCCESS,
        ),
    };
    if let Some(title) = &command.report.title {
        doc = with_title(doc, title);
    }
    if let Some(error) = error {
        doc = with_error(doc, &error);
    }
    write_json(&command.report, &json_text(&doc));
    code
}

/// The document with iperf3's `error` key last, where iperf3 adds it when a test ends on
/// an error after the document was begun.
fn with_error(doc: serde_json::Value, error: &str) -> serde_json::Value {
    let serde_json::Value::Object(mut map) = doc else {
        return doc;
    };
    map.shift_remove("error");
    map.insert("error".to_owned(), serde_json::Value::from(error));
    serde_json::Value::Object(map)
}

/// The document with -T's title where iperf3 puts it: at the top level right after `end`
/// (before `extra_data` and the server's output).
fn with_title(doc: serde_json::Value, title: &str) -> serde_json::Value {
    let serde_json::Value::Object(map) = doc else {
        return doc;
    };
    let mut titled = serde_json::Map::new();
    for (key, value) in map {
        let after_end = key == "end";
        titled.insert(key, value);
        if after_end {
            titled.insert("title".to_owned(), serde_json::Value::from(title));
        }
    }
    if !titled.contains_key("title") {
        titled.insert("title".to_owned(), serde_json::Value::from(title));
    }
    serde_json::Value::Object(titled)
}

/// `-J`'s document, appended to `--logfile` when given, as iperf3 does.
fn write_json(report: &ReportOptions, text: &str) {
    let Some(path) = &report.logfile else {
        println!("{text}");
        return;
    };
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut file| file.write_all(format!("{text}\n").as_bytes()));
    if let Err(error) = written {
        eprintln!(
            "iperf3: error - unable to write {}: {error}",
            path.display()
        );
    }
}

async fn run_server(command: ServerCommand, mut output: TextOutput) -> ExitCode {
    let ip = command.bind.unwrap_or(match command.family {
        AddressFamily::V4 => std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
        _ => std::net::IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
    });
    // As iperf3's server, which gives a test announcing no duration (`-n`, `-k`, `-t 0`)
    // no limit.
    let mut config = ServerConfig::default()
        .max_open_ended_test(Duration::MAX)
        .interval(command.interval)
        .json_output(command.json);
    if let Some(timeout) = command.send_timeout {
        config = config.send_timeout(timeout);
    }
    if let Some(timeout) = command.receive_timeout {
        config = config.receive_timeout(timeout);
    }
    if let Some(device) = &command.bind_device {
        config = config.bind_device(device.clone());
    }
    let (progress, mut events) = tokio::sync::mpsc::unbounded_channel();
    let config = if command.json {
        config
    } else {
        // The text is printed as each test goes, as iperf3's server prints it.
        config.progress(progress)
    };
    let mut bound = NativeServer::bind((ip, command.port).into(), config.clone()).await;
    if bound.is_err() && command.bind.is_none() && command.family == AddressFamily::Any {
        // No IPv6 here: fall back to IPv4, as iperf3 does.
        bound = NativeServer::bind(([0, 0, 0, 0], command.port).into(), config).await;
    }
    let server = match bound {
        Ok(server) => server,
        // As iperf3's server: with -J the failure goes in the document's `error` key (with
        // its "error - " prefix), then "iperf3: exiting" on stderr, status 1.
        Err(error) if command.json => {
            write_json(
                &command.report,
                &json_text(&iperf3_error_json(&format!(
                    "error - {}",
                    error.iperf3_message()
                ))),
            );
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
    let mut handle = server;
    let banner = HumanReport::new(
        testrig_drivers::iperf::Protocol::Tcp,
        testrig_drivers::iperf::Direction::Forward,
    )
    .verbose(command.report.verbose);
    let mut text = ServerText::new(&command.report);
    // Listening for the signals from before the first banner on, between tests too.
    let mut terminated = std::pin::pin!(terminated());
    for test_number in 1.. {
        if !command.json {
            let _ = output.emit(&banner.version_banner());
            let _ = output.emit(&HumanReport::server_listening(port, test_number));
        }
        let served = loop {
            tokio::select! {
                Some(event) = events.recv() => {
                    let _ = output.emit(&text.progress(&event));
                }
                served = next_test(&mut handle) => break served,
                () = &mut terminated => {
                    eprintln!("iperf3: interrupt - the server has terminated");
                    handle.shutdown().await;
                    return ExitCode::FAILURE;
                }
            }
        };
        // The test's progress was sent before its end: print what is left of it first.
        while let Ok(event) = events.try_recv() {
            let _ = output.emit(&text.progress(&event));
        }
        report_served(&served, &command, &mut text, &mut output);
        if command.one_off {
            // As iperf3 3.12: a one-off server whose test failed has reported it and
            // exits with status 0 all the same.
            handle.shutdown().await;
            return ExitCode::SUCCESS;
        }
    }
    ExitCode::SUCCESS
}

/// SIGINT, SIGTERM or SIGHUP: iperf3 ends on each, cleaning up (its pid file too). The
/// handlers are in place when this returns, not when the future is first polled, so a
/// signal sent once the program printed something that follows this call is never lost.
fn terminated() -> impl Future<Output = ()> + Send {
    use tokio::signal::unix::{Signal, SignalKind, signal};
    async fn received(stream: Option<Signal>) {
        match stream {
            Some(mut stream) => {
                stream.recv().await;
            }
            None => std::future::pending().await,
        }
    }
    let [interrupt, terminate, hangup] = [
        SignalKind::interrupt(),
        SignalKind::terminate(),
        SignalKind::hangup(),
    ]
    .map(|kind| signal(kind).ok());
    async move {
        tokio::select! {
            () = received(interrupt) => {}
            () = received(terminate) => {}
            () = received(hangup) => {}
        }
    }
}

async fn next_test(handle: &mut NativeServer) -> ServedTest {
    loop {
        if let Ok(served) = handle.next_test(Duration::from_secs(3600)).await {
            return served;
        }
    }
}

fn report_served(
    served: &ServedTest,
    command: &ServerCommand,
    text: &mut ServerText,
    output: &mut TextOutput,
) {
    match (&served.outcome, command.json) {
        (Ok(result), true) => write_json(&command.report, &json_text(&result.to_iperf3_json())),
        (Ok(_), false) => {
            let _ = output.emit(&text.served(served));
        }
        // As iperf3's server: a test the client terminated is not a failure of the
        // server's; it reports what it had and says so, without "error - ".
        (
            Err(IperfError::ClientTerminated {
                partial: Some(partial),
                ..
            }),
            true,
        ) => write_json(
            &command.report,
            &json_text(&with_error(
                partial.to_iperf3_json(),
                "the client has terminated",
            )),
        ),
        (
            Err(
                error @ IperfError::ClientTerminated {
                    partial: Some(_), ..
                },
            ),
            false,
        ) => {
            let _ = output.emit(&text.served(served));
            eprintln!("iperf3: {}", error.iperf3_message());
        }
        (Err(error), true) => write_json(
            &command.report,
            &json_text(&iperf3_error_json(&format!(
                "error - {}",
                error.iperf3_message()
            ))),
        ),
        (Err(error), false) => {
            let _ = text.served(served);
            eprintln!("iperf3: error - {}", error.iperf3_message());
        }
    }
}
