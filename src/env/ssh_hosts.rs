//! The SSH hosts an environment connects at start and closes at stop
//! ([`EnvironmentBuilder::ssh_host`](super::EnvironmentBuilder::ssh_host)).

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use crate::context::Exports;
use crate::host::Host;
use crate::host::ssh::SshBuilder;
use crate::network::Network;
use crate::report::HostReport;

/// The directory of the environment's runpath the SSH hosts' remote runpaths are fetched into,
/// each in `<runpath>/hosts/<host name>`.
pub(super) const FETCHED_DIR: &str = "hosts";

/// How long fetching one host's remote runpath may take.
pub(super) const FETCH_DEADLINE: Duration = Duration::from_secs(30);

/// How long closing one host (its runpath's removal, then its connection) may take.
pub(super) const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// The keys an SSH host exports once connected, for the build's check of references.
pub(super) fn planned_exports() -> Exports {
    ["address", "ipv4", "ipv6", "user", "port", "ssh", "runpath"]
        .into_iter()
        .map(|key| (key.to_owned(), String::new().into()))
        .collect()
}

/// An SSH host of the environment: how to connect it, the connected host while the
/// environment runs, and its part of the report.
#[derive(Debug)]
pub(super) struct SshPlace {
    pub(super) builder: SshBuilder,
    pub(super) host: Mutex<Option<Host>>,
    pub(super) report: Mutex<HostReport>,
}

impl SshPlace {
    pub(super) fn new(builder: SshBuilder) -> SshPlace {
        let report = HostReport {
            name: builder.host_name().to_owned(),
            kind: "ssh".to_owned(),
            destination: builder.destination().to_owned(),
            address: None,
            remote_runpath: None,
            remote_runpath_kept: builder.keeps_runpath(),
            fetched_into: None,
            files: Vec::new(),
            errors: Vec::new(),
        };
        SshPlace {
            builder,
            host: Mutex::new(None),
            report: Mutex::new(report),
        }
    }

    pub(super) fn name(&self) -> &str {
        self.builder.host_name()
    }

    /// The connected host, while the environment runs.
    pub(super) fn host(&self) -> Option<Host> {
        self.host.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn report(&self) -> std::sync::MutexGuard<'_, HostReport> {
        self.report.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Connects (from the network's host named by `via_host`, if any); the error names the
    /// host.
    pub(super) async fn connect(&self, network: Option<&Network>) -> Result<Host, String> {
        let mut builder = self.builder.clone();
        if let Some(via) = self.builder.via_host_name() {
            let host = network
                .ok_or_else(|| format!("via_host `{via}`: the environment has no network"))
                .and_then(|network| network.host(via).map_err(|error| error.to_string()))
                .map_err(|said| format!("ssh host `{}`: {said}", self.name()))?;
            builder = builder.via(host).via_host_cleared();
        }
        match builder.connect().await {
            Ok(host) => {
                let mut report = self.report();
                report.address = Some(host.address().to_string());
                report.remote_runpath = host.remote_runpath().map(Path::to_owned);
                report.fetched_into = None;
                report.files.clear();
                drop(report);
                *self.host.lock().unwrap_or_else(|e| e.into_inner()) = Some(host.clone());
                Ok(host)
            }
            Err(error) => {
                let message = error.to_string();
                self.report().errors.push(message.clone());
                Err(message)
            }
        }
    }

    /// Fetches the remote runpath into `<runpath>/hosts/<name>` and closes the host; what
    /// failed goes to the host's report. Nothing to do when not connected.
    pub(super) async fn fetch_and_close(&self, runpath: &Path) {
        let Some(host) = self.host.lock().unwrap_or_else(|e| e.into_inner()).take() else {
            return;
        };
        let into = runpath.join(FETCHED_DIR).join(self.name());
        match host.fetch_runpath(&into, FETCH_DEADLINE).await {
            Ok(fetched) => {
                let mut report = self.report();
                report.fetched_into = Some(fetched.local);
                report.files = fetched.files;
            }
            Err(error) => {
                tracing::warn!(host = %self.name(), %error, "cannot fetch the remote runpath");
                self.report().errors.push(error.to_string());
            }
        }
        if let Err(error) = host.close(CLOSE_TIMEOUT).await {
            tracing::warn!(host = %self.name(), %error, "cannot close the SSH host cleanly");
            self.report().errors.push(error.to_string());
        }
    }

    /// Closes the host without fetching its runpath (a start that failed).
    pub(super) async fn close(&self) {
        let Some(host) = self.host.lock().unwrap_or_else(|e| e.into_inner()).take() else {
            return;
        };
        if let Err(error) = host.close(CLOSE_TIMEOUT).await {
            self.report().errors.push(error.to_string());
        }
    }

    /// Its part of the report.
    pub(super) fn host_report(&self) -> HostReport {
        self.report().clone()
    }
}
