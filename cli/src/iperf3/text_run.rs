//! Running a test the way the iperf3 command prints it: the text report written as the
//! test goes, by the client and by the server.

use std::io;

use testrig_drivers::iperf::engine::{ClientProgress, NativeClient, ServerProgress};
use testrig_drivers::iperf::{IperfError, IperfResult, ServedTest, ServerOutput, iperf3_json_text};

use super::args::{ClientCommand, ReportOptions};
use super::output::TextOutput;
use testrig_drivers::iperf::text::clock;
use testrig_drivers::iperf::text::human::{ClientRequest, HumanReport, Printed};

/// Runs the client's test, writing iperf3's text report to `output` as it goes: `-V`'s
/// banner, the connections, each interval, the summary and `iperf Done.`. When `interrupt`
/// completes first, the test ends as iperf3's does on a signal: the partial last interval
/// and the summary so far are written, and the run fails with [`IperfError::Interrupted`].
pub(crate) async fn run_client_text(
    command: &ClientCommand,
    output: &mut TextOutput,
    interrupt: impl Future<Output = ()> + Send,
) -> Result<IperfResult, IperfError> {
    let mut report = HumanReport::for_client(ClientRequest {
        host: command.host.clone(),
        port: command.port,
        block_size_given: command.block_size_given,
        mss: command.mss,
        interval: command.interval.map(|i| i.as_secs_f64()),
    })
    .verbose(command.report.verbose)
    .format(command.report.format);
    // A report that cannot be written (a closed pipe) does not stop the test; iperf3 goes
    // on too.
    let _ = output.emit(&report.version_banner());
    let outcome = NativeClient::new(command.host.clone(), command.port, command.engine_options())?
        .run_with_interrupt(interrupt, |progress| {
            let printed = match progress {
                ClientProgress::Connected {
                    test,
                    connections,
                    cookie,
                    control_mss,
                    block_size,
                    ..
                } => report.client_connected(test, connections, cookie, control_mss, block_size),
                ClientProgress::Interval(interval) => report.interval(interval),
                _ => Vec::new(),
            };
            let _ = output.emit(&printed);
        })
        .await;
    let result = match outcome {
        Ok(result) => result,
        Err(IperfError::Interrupted {
            partial: Some(partial),
            phase,
        }) => {
            // As iperf3: the summary so far, without "iperf Done.".
            let _ = output.emit(&report.summary(&partial));
            return Err(IperfError::Interrupted {
                phase,
                partial: Some(partial),
            });
        }
        Err(error) => return Err(error),
    };
    let _ = output.emit(&report.summary(&result));
    // As iperf3's client: the server's report, when asked for, before "iperf Done.".
    match &result.server_output {
        Some(ServerOutput::Json(doc)) => {
            let text = format!("\nServer JSON output:\n{}\n", iperf3_json_text(doc));
            let _ = output.emit(&[Printed::Report(text)]);
        }
        Some(ServerOutput::Text(text)) => {
            let _ = output.emit(&[Printed::Report(format!("\nServer output:\n{text}\n"))]);
        }
        _ => {}
    }
    let _ = output.emit(&HumanReport::done());
    Ok(result)
}

/// A server's text report, printed as the server goes: fed the server's
/// [`ServerProgress`] (its sender given to `ServerConfig::progress`) and each
/// [`ServedTest`], it returns what iperf3's server prints at that point. The `Server
/// listening` banner (and `-V`'s version banner before it) come from
/// [`HumanReport::server_listening`] and [`HumanReport::version_banner`].
///
#[derive(Debug, Clone)]
pub(crate) struct ServerText {
    options: ReportOptions,
    running: Option<HumanReport>,
}

impl ServerText {
    /// A report with these options (`-V`, `-f`).
    pub(crate) fn new(options: &ReportOptions) -> Self {
        Self {
            options: options.clone(),
            running: None,
        }
    }

    fn report(&self, report: HumanReport) -> HumanReport {
        report
            .verbose(self.options.verbose)
            .format(self.options.format)
    }

    /// What iperf3's server prints at this point of a test.
    pub(crate) fn progress(&mut self, progress: &ServerProgress) -> Vec<Printed> {
        match progress {
            ServerProgress::Started {
                peer,
                test,
                connections,
                cookie,
                mss,
            } => {
                let mut report = self.report(HumanReport::for_server_test(test, connections));
                let printed = report.server_started(
                    *peer,
                    test,
                    connections,
                    cookie,
                    *mss,
                    clock::now_secs(),
                );
                self.running = Some(report);
                printed
            }
            ServerProgress::Interval(interval) => match &mut self.running {
                Some(report) => report.interval(interval),
                None => Vec::new(),
            },
            _ => Vec::new(),
        }
    }

    /// What iperf3's server prints when a test ends: the summary (everything, when no
    /// progress of this test was seen). A failed test prints nothing here; iperf3 writes
    /// the error to standard error.
    pub(crate) fn served(&mut self, served: &ServedTest) -> Vec<Printed> {
        match &served.outcome {
            Ok(result) => self.summary(served.peer, result),
            // As iperf3's server: a test the client terminated reports what it had so far.
            Err(IperfError::ClientTerminated {
                partial: Some(partial),
                ..
            }) => self.summary(served.peer, partial),
            Err(_) => {
                self.running = None;
                Vec::new()
            }
        }
    }

    /// The summary of the test served to `peer` (everything, when no progress of it was
    /// seen).
    fn summary(&mut self, peer: std::net::SocketAddr, result: &IperfResult) -> Vec<Printed> {
        match self.running.take() {
            Some(report) => report.summary(result),
            None => self
                .report(HumanReport::for_server(result))
                .server_test(peer, result),
        }
    }
}

/// The output `options` ask for: `--logfile` (appended to, as iperf3 does; what iperf3
/// prints with plain `printf` still goes to standard output) or standard output, with the
/// `--timestamps` prefix and, when `title` applies (the client), the `-T` one.
pub(crate) fn open_output(options: &ReportOptions, title: bool) -> io::Result<TextOutput> {
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
