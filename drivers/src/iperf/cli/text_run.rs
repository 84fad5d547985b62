//! Running a test the way the iperf3 command prints it: the text report written as the
//! test goes (client) or once it is served (server). The `iperf3` example binary prints
//! through these, so what they write is exactly what it prints.

use std::io;

use super::args::{ClientCommand, ReportOptions};
use super::human::{HumanReport, Printed};
use super::output::TextOutput;
use crate::iperf::engine::{ClientProgress, NativeClient, ServedTest};
use crate::iperf::error::IperfError;
use crate::iperf::result::IperfResult;

/// Runs the client's test, writing iperf3's text report to `output` as it goes: `-V`'s
/// banner, the connections, each interval, the summary and `iperf Done.`.
///
/// # Examples
///
/// ```no_run
/// use testrig_drivers::iperf::cli::{CliCommand, TextOutput, parse_args, run_client_text};
///
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// let CliCommand::Client(command) = parse_args(["-c", "127.0.0.1", "-n", "10M"])? else {
///     unreachable!()
/// };
/// let mut output = TextOutput::new(Box::new(std::io::stdout()));
/// run_client_text(&command, &mut output).await?;
/// # Ok(()) }
/// ```
pub async fn run_client_text(
    command: &ClientCommand,
    output: &mut TextOutput,
) -> Result<IperfResult, IperfError> {
    let config = &command.config;
    let mut report = HumanReport::for_client(config)
        .verbose(command.report.verbose)
        .format(command.report.format);
    // A report that cannot be written (a closed pipe) does not stop the test; iperf3 goes
    // on too.
    let _ = output.emit(&report.version_banner());
    let result = NativeClient::new(config.clone())
        .run_with_progress(|progress| {
            let printed = match progress {
                ClientProgress::Connected(connected) => report.client_connected(config, connected),
                ClientProgress::Interval(interval) => report.interval(interval),
            };
            let _ = output.emit(&printed);
        })
        .await?;
    let _ = output.emit(&report.summary(&result));
    let _ = output.emit(&HumanReport::done());
    Ok(result)
}

/// The server's text for one served test: everything iperf3's server prints after its
/// `Server listening` banner (`-V`'s banner comes before that, from
/// [`HumanReport::version_banner`]). A test that failed prints nothing here; iperf3 writes
/// the error to standard error.
pub fn server_test_text(served: &ServedTest, options: &ReportOptions) -> Vec<Printed> {
    match &served.outcome {
        Ok(result) => HumanReport::for_server(result)
            .verbose(options.verbose)
            .format(options.format)
            .server_test(served.peer, result),
        Err(_) => Vec::new(),
    }
}

/// The output `options` ask for: `--logfile` (appended to, as iperf3 does; what iperf3
/// prints with plain `printf` still goes to standard output) or standard output, with the
/// `--timestamps` prefix and, when `title` applies (the client), the `-T` one.
pub fn open_output(options: &ReportOptions, title: bool) -> io::Result<TextOutput> {
    let output = match &options.logfile {
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| {
                    io::Error::new(
                        e.kind(),
                        format!("unable to open log file {}: {e}", path.display()),
                    )
                })?;
            TextOutput::split(Box::new(file), Box::new(io::stdout()))
        }
        None => TextOutput::new(Box::new(io::stdout())),
    };
    Ok(output
        .title(options.title.clone().filter(|_| title))
        .timestamps(options.timestamps.clone()))
}
