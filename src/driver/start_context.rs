use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::Supervisor;
use crate::context::{Endpoint, FromValue, Param, Ref, Template, ValueTable};
use crate::error::Error;
use crate::host::Host;

/// What a driver gets when it starts: its runpath, other drivers' values, and a
/// way to report its own death.
#[derive(Debug)]
pub struct StartContext {
    driver: String,
    runpath: PathBuf,
    created: OnceLock<()>,
    values: ValueTable,
    supervisor: Supervisor,
    host: Host,
}

impl StartContext {
    pub(crate) fn new(
        driver: String,
        runpath: PathBuf,
        values: ValueTable,
        supervisor: Supervisor,
        host: Host,
    ) -> Self {
        Self {
            driver,
            runpath,
            created: OnceLock::new(),
            values,
            supervisor,
            host,
        }
    }

    /// A context outside any environment: no references resolve, deaths go nowhere.
    #[cfg(feature = "testing")]
    pub(crate) fn detached(driver: String, runpath: PathBuf) -> Self {
        Self::new(
            driver,
            runpath,
            ValueTable::new(),
            Supervisor::detached(),
            Host::local(),
        )
    }

    /// The name of the driver being started.
    pub fn driver(&self) -> &str {
        &self.driver
    }

    /// Where the driver runs: make its sockets ([`Host::tcp_listener`],
    /// [`Host::tcp_connect`], [`Host::socket`]) and processes
    /// ([`process::Command::host`](crate::process::Command::host)) there.
    /// [`Host::local`] unless the driver was placed on a host of the environment's network
    /// ([`DriverSpec::on`](crate::DriverSpec::on)).
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The driver's own directory for logs and files, created on first use.
    pub fn runpath(&self) -> std::io::Result<&Path> {
        if self.created.get().is_none() {
            std::fs::create_dir_all(&self.runpath)?;
            let _ = self.created.set(());
        }
        Ok(&self.runpath)
    }

    /// The value behind a reference.
    fn resolve<T: FromValue>(&self, reference: &Ref<T>) -> Result<T, Error> {
        self.values.resolve(reference.key())
    }

    /// A parameter's value: the literal, or the resolved reference.
    pub fn param<T: FromValue + Clone>(&self, param: &Param<T>) -> Result<T, Error> {
        match param {
            Param::Value(v) => Ok(v.clone()),
            Param::Ref(r) => self.resolve(r),
        }
    }

    /// An endpoint's host and port: the literals, or the resolved references; an endpoint
    /// given by its port alone gets the driver's own host's address
    /// ([`Host::address`]: `127.0.0.1` on this machine).
    pub fn endpoint(&self, endpoint: &Endpoint) -> Result<(String, u16), Error> {
        let host = match endpoint.own_host {
            true => self.host.address().to_string(),
            false => self.param(&endpoint.host)?,
        };
        Ok((host, self.param(&endpoint.port)?))
    }

    /// The raw value behind an untyped reference.
    #[cfg(feature = "testing")]
    pub(crate) fn values_get(
        &self,
        key: &crate::context::RefKey,
    ) -> Result<crate::context::Value, Error> {
        self.values.get(key)
    }

    /// A template with its placeholders filled in.
    pub fn render(&self, template: &Template) -> Result<String, Error> {
        template.render(&self.values)
    }

    /// The supervisor to report this driver's death to.
    pub fn supervisor(&self) -> Supervisor {
        self.supervisor.clone()
    }
}
