//! `iperf3 -c … -J`, run to completion and read into an [`IperfResult`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use testrig::Host;
use testrig::process::{Command, Process, ProcessError, Stream};

use super::args::client_args;
use super::program::{DEFAULT_IPERF3_PROGRAM, check_available, missing_on};
use crate::iperf::client_options::ClientOptions;
use crate::iperf::config::ClientConfig;
use crate::iperf::error::IperfError;
use crate::iperf::result::{IntervalReport, IperfResult};

/// How long a client that overran its deadline gets to end after `SIGTERM`.
const STOP_GRACE: Duration = Duration::from_secs(1);

/// A client that runs the real `iperf3 -c` for each test and parses its `-J` output.
///
/// Each run's output is kept in the runpath as `iperf3-client.stdout.log` (earlier runs are
/// archived as `iperf3-client.stdout.1.log`, …).
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
/// use testrig_drivers::iperf::ClientOptions;
/// use testrig_drivers::iperf::engine::Iperf3Client;
///
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// let options = ClientOptions::new().duration(Duration::from_secs(1));
/// let result = Iperf3Client::new("127.0.0.1", 5201, options)?
///     .run("/tmp/iperf-run", Duration::from_secs(30))
///     .await?;
/// println!("{:.2} Gbit/s", result.received_bits_per_second() / 1e9);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Iperf3Client {
    program: PathBuf,
    /// Arguments before iperf3's flags (`iperf3` for `testrig iperf3 -c …`).
    leading: Vec<String>,
    config: ClientConfig,
    host: Host,
}

impl Iperf3Client {
    /// A client running `iperf3` from `PATH` against `host:port` with `options`, every
    /// value checked.
    pub fn new(
        host: impl Into<String>,
        port: u16,
        options: ClientOptions,
    ) -> Result<Self, IperfError> {
        Ok(Self::with_config(ClientConfig::new(host, port, &options)?))
    }

    /// A client of an already checked configuration.
    pub(crate) fn with_config(config: ClientConfig) -> Self {
        Self {
            program: PathBuf::from(DEFAULT_IPERF3_PROGRAM),
            leading: Vec::new(),
            config,
            host: Host::local(),
        }
    }

    /// Runs `iperf3 -c` on `host` (default [`Host::local`], this machine), inside its
    /// network namespace: its connections leave from there. The
    /// [`IperfClient`](crate::iperf::IperfClient) driver sets it to its own placement
    /// ([`DriverSpec::on`](testrig::DriverSpec::on)).
    #[must_use]
    pub fn on(mut self, host: Host) -> Self {
        self.host = host;
        self
    }

    /// Runs this program instead of `iperf3` from `PATH`.
    #[must_use]
    pub fn program(mut self, program: impl Into<PathBuf>) -> Self {
        self.program = program.into();
        self
    }

    /// Runs `program` with `leading` arguments before iperf3's flags.
    pub(crate) fn program_with(
        mut self,
        program: impl Into<PathBuf>,
        leading: Vec<String>,
    ) -> Self {
        self.program = program.into();
        self.leading = leading;
        self
    }

    /// The arguments each run passes to iperf3.
    pub(crate) fn args(&self) -> Vec<String> {
        client_args(&self.config)
    }

    /// Runs one test with its logs in `runpath`; a client still running after `deadline` is
    /// stopped and the run fails.
    pub async fn run(
        &self,
        runpath: impl AsRef<Path>,
        deadline: Duration,
    ) -> Result<IperfResult, IperfError> {
        self.run_with_intervals(runpath, deadline, |_| {}).await
    }

    /// Like [`run`](Self::run), then calls `on_interval` with each interval report. iperf3
    /// 3.12 prints its JSON only at the end, so the reports come after the test, in order.
    ///
    /// Dropping the future kills the process.
    pub async fn run_with_intervals(
        &self,
        runpath: impl AsRef<Path>,
        deadline: Duration,
        mut on_interval: impl FnMut(&IntervalReport) + Send,
    ) -> Result<IperfResult, IperfError> {
        self.config
            .options
            .check_it_ends("an iperf3 binary run cannot be interrupted")?;
        check_available(&self.program, &self.host)?;
        let command = Command::new(&self.program)
            .args(self.leading.iter().cloned())
            .args(self.args())
            .name("iperf3-client")
            .host(self.host.clone());
        let process =
            Process::spawn(command, runpath.as_ref())
                .await
                .map_err(|error| match error {
                    ProcessError::ProgramNotFound { program, .. } => {
                        IperfError::NotInstalled { program }
                    }
                    other => other.into(),
                })?;
        let exit = match tokio::time::timeout(deadline, process.exited()).await {
            Ok(exit) => exit,
            Err(_) => {
                let _ = process.stop(STOP_GRACE).await;
                return Err(IperfError::ProcessTimeout {
                    pid: process.pid(),
                    after: deadline,
                    tail: process.tail(),
                });
            }
        };
        if let Some(missing) = missing_on(&self.host, &self.program, exit, &process.tail()) {
            return Err(missing);
        }
        let path = process.log_file(Stream::Stdout).to_path_buf();
        let output = tokio::fs::read_to_string(&path)
            .await
            .map_err(|source| IperfError::ReadOutput { path, source })?;
        let result =
            IperfResult::from_iperf3_json(&output).map_err(|source| IperfError::Output {
                exit,
                source: Box::new(source),
                stderr: process
                    .tail()
                    .lines()
                    .filter(|(stream, _)| *stream == Stream::Stderr)
                    .map(|(_, text)| text.to_owned())
                    .collect(),
            })?;
        for interval in &result.intervals {
            on_interval(interval);
        }
        Ok(result)
    }
}
