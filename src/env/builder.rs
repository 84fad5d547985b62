use std::collections::HashMap;
use std::path::PathBuf;

use super::Handle;
use super::environment::{Places, RunSettings};
use super::graph::Graph;
use super::{Environment, runpath::default_runpath_root};
use crate::driver::{Driver, DriverSpec};
use crate::error::BuildError;
use crate::host::Host;
use crate::host::ssh::SshBuilder;
use crate::network::Network;

/// Describes an environment: its drivers, their dependencies, where files go.
///
/// # Examples
/// ```
/// # use async_trait::async_trait;
/// # use testrig::{BoxError, Driver, StartContext};
/// # #[derive(Debug)] struct D(&'static str);
/// # #[async_trait] impl Driver for D {
/// #   fn name(&self) -> &str { self.0 }
/// #   async fn start(&self, _: &StartContext) -> Result<(), BoxError> { Ok(()) }
/// #   async fn stop(&self) -> Result<(), BoxError> { Ok(()) } }
/// use testrig::Environment;
///
/// let env = Environment::builder("demo")
///     .driver(D("database"))
///     .driver(D("app"))
///     .depends_on("app", "database")
///     .build()
///     .unwrap();
/// let names: Vec<&str> = env.resources().iter().map(|r| r.name()).collect();
/// assert_eq!(names, ["database", "app"]);
/// ```
#[must_use]
#[derive(Debug)]
pub struct EnvironmentBuilder {
    name: String,
    specs: Vec<DriverSpec>,
    dependencies: Vec<(String, String)>,
    runpath: Option<PathBuf>,
    run: RunSettings,
    network: Option<Network>,
    hosts: Vec<Host>,
    ssh_hosts: Vec<SshBuilder>,
}

// Here rather than in environment.rs, so that the builder depends on the environment and
// not the other way round.
impl Environment {
    /// Starts describing an environment called `name`.
    pub fn builder(name: impl Into<String>) -> EnvironmentBuilder {
        EnvironmentBuilder::new(name)
    }
}

impl EnvironmentBuilder {
    fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            specs: Vec::new(),
            dependencies: Vec::new(),
            runpath: None,
            run: RunSettings::default(),
            network: None,
            hosts: Vec::new(),
            ssh_hosts: Vec::new(),
        }
    }

    /// Adds a driver (anything that implements `Driver`, or a [`DriverSpec`]).
    pub fn driver(mut self, spec: impl Into<DriverSpec>) -> Self {
        self.specs.push(spec.into());
        self
    }

    /// Adds a driver and hands back its typed [`Handle`], for
    /// [`Environment::get`], [`Environment::resource`] and [`Handle::export`].
    ///
    /// # Examples
    /// ```
    /// # fn main() -> testrig::Result<()> {
    /// use testrig::Environment;
    /// use testrig::testing::ScriptedDriver;
    ///
    /// let mut builder = Environment::builder("demo");
    /// let server = builder.add(ScriptedDriver::new("server").listen());
    /// builder.add(ScriptedDriver::new("client").connect_to(server.export("port")));
    /// let env = builder.build()?;
    /// # drop(env); Ok(()) }
    /// ```
    pub fn add<D: Driver>(&mut self, driver: D) -> Handle<D> {
        let handle = Handle::new(driver.name());
        self.specs.push(DriverSpec::new(driver));
        handle
    }

    /// Adds a driver that runs on `host`, a host of the environment's
    /// [`network`](Self::network) (see [`DriverSpec::on`]), and hands back its [`Handle`].
    ///
    /// # Examples
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use testrig::network::{Link, Network};
    /// use testrig::testing::ScriptedDriver;
    /// use testrig::Environment;
    ///
    /// let network = Network::builder("lab")
    ///     .host("a")
    ///     .host("b")
    ///     .link(Link::new("a", "b").subnet("10.0.0.0/24"))
    ///     .build()?;
    /// let mut builder = Environment::builder("two-hosts").network(network);
    /// builder.add_on("b", ScriptedDriver::new("server"));
    /// builder.add_on("a", ScriptedDriver::new("client"));
    /// let env = builder.build()?;
    /// # drop(env); Ok(()) }
    /// ```
    pub fn add_on<D: Driver>(&mut self, host: impl Into<String>, driver: D) -> Handle<D> {
        let handle = Handle::new(driver.name());
        self.specs.push(DriverSpec::new(driver).on(host));
        handle
    }

    /// The emulated network the environment's drivers run on ([`DriverSpec::on`],
    /// [`add_on`](Self::add_on)): started before any driver, stopped after they all
    /// stopped, and started afresh when the environment starts again. Its hosts export
    /// their addresses and interfaces ([`Host::exports`](crate::Host::exports)) under their
    /// names, like drivers: `Ref::export("b", "address")`, `${b.address}` in a rig; a host
    /// cannot have a driver's name. Faults at run time go through
    /// [`Environment::network`].
    ///
    /// Building the network needs root or a user namespace
    /// ([`network::availability`](crate::network::availability)); where neither is there,
    /// [`Environment::start`] fails with [`Error::Network`](crate::Error::Network) naming
    /// what is missing.
    pub fn network(mut self, network: Network) -> Self {
        self.network = Some(network);
        self
    }

    /// A host drivers can be placed on by its name ([`DriverSpec::on`], [`add_on`](Self::add_on)),
    /// besides the hosts of the [`network`](Self::network): a remote host connected with
    /// [`Host::ssh`](crate::Host::ssh), or a host of a network the test runs itself. Its
    /// exports ([`Host::exports`]) are published under its name when the environment
    /// starts; like a network's host, it cannot have a driver's name. The environment
    /// neither connects nor closes it.
    pub fn host(mut self, host: Host) -> Self {
        self.hosts.push(host);
        self
    }

    /// A remote host the environment connects over SSH when it starts and closes when it
    /// stops: drivers are placed on it by its name ([`DriverSpec::on`],
    /// [`add_on`](Self::add_on)), and its exports (`address`, `ipv4`/`ipv6`, `user`, `port`,
    /// `ssh`, `runpath`: see [`Host::exports`]) are published under its name, like a network
    /// host's: `${remote.address}`, `${remote.runpath}`.
    ///
    /// - **Start**: after the [network](Self::network) is up (so [`via`](SshBuilder::via)
    ///   may be one of its hosts, [`SshBuilder::via_host`] by name), every SSH host is
    ///   connected, concurrently, before any driver starts; [`Environment::host`] returns
    ///   it until the stop. A host that cannot connect fails the start
    ///   ([`Error::Other`](crate::Error::Other)), naming each such host and what ssh said;
    ///   nothing is left running (the other hosts are closed, the network stopped).
    /// - **Stop**: once every driver has stopped, each host's remote runpath
    ///   ([`Host::remote_runpath`]) is fetched into `<runpath>/hosts/<host name>/` (within a
    ///   deadline; a failure is reported in the report's [`hosts`](crate::report::Report::hosts)
    ///   and does not change the test's outcome; a fresh run directory is then kept), then
    ///   the host is closed: its remote runpath is removed unless
    ///   [kept](SshBuilder::keep_runpath), and its connection ended.
    ///
    /// The build refuses an SSH host with invalid options ([`SshBuilder::validate`]), two
    /// hosts of one name, a host named like a driver, and a driver named `hosts` (the
    /// directory of the fetched runpaths).
    ///
    /// # Examples
    /// ```no_run
    /// # async fn example(app: impl testrig::Driver) -> testrig::Result<()> {
    /// use testrig::{Environment, Host};
    ///
    /// let mut builder = Environment::builder("lab")
    ///     .ssh_host(Host::ssh("tester@192.0.2.10").name("lab1"));
    /// builder.add_on("lab1", app); // e.g. an `App`: its program runs there
    /// let env = builder.build()?;
    /// env.run(|env| async move {
    ///     let lab1 = env.host("lab1").expect("connected while the environment runs");
    ///     println!("files there go in {:?}", lab1.remote_runpath());
    ///     Ok::<_, testrig::Error>(())
    /// })
    /// .await?; // stopped: the remote runpath is in <runpath>/hosts/lab1, removed there
    /// # Ok(()) }
    /// ```
    pub fn ssh_host(mut self, host: SshBuilder) -> Self {
        self.ssh_hosts.push(host);
        self
    }

    /// Declares that `dependent` starts only after `dependency` is started (and
    /// stops before it).
    pub fn depends_on(mut self, dependent: impl AsRef<str>, dependency: impl AsRef<str>) -> Self {
        self.dependencies.push((
            dependent.as_ref().to_owned(),
            dependency.as_ref().to_owned(),
        ));
        self
    }

    /// The directory for this run's files; each driver gets `<dir>/<driver>`.
    /// Default: a fresh directory under `$TESTRIG_RUNPATH` or the temp directory,
    /// removed when the environment is dropped after a clean run (every driver
    /// stopped without an error, no failed case) and kept otherwise, its path
    /// printed on stderr; see [`keep_runpath`](Self::keep_runpath). A directory
    /// given here is never removed.
    pub fn runpath(mut self, dir: impl Into<PathBuf>) -> Self {
        self.runpath = Some(dir.into());
        self
    }

    /// Where [`Environment::run`] writes the JSON and JUnit reports. Unset,
    /// `run` writes them to `$TESTRIG_REPORT_DIR` when that is set (and not
    /// empty), else nowhere; set, it wins over the variable.
    pub fn report_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.run.report_dir = Some(dir.into());
        self
    }

    /// Makes [`Environment::run`] stop the environment cleanly on SIGINT/SIGTERM/SIGHUP
    /// (during the start too: it is cancelled and what started is stopped)
    /// and return [`Error::Interrupted`](crate::Error::Interrupted).
    pub fn handle_signals(mut self) -> Self {
        self.run.handle_signals = true;
        self
    }

    /// Keeps the fresh run directory after a clean run too (as `$TESTRIG_KEEP_RUNS=1`
    /// does for every environment).
    pub fn keep_runpath(mut self, keep: bool) -> Self {
        self.run.keep_runpath = keep;
        self
    }

    /// The name [`Environment::run`] gives the body's case in the report (and the
    /// JUnit `testcase`). Default: the name of the test running it (libtest names
    /// each test's thread after it, as `module::test`), else the environment's name.
    pub fn case_name(mut self, name: impl Into<String>) -> Self {
        self.run.case_name = Some(name.into());
        self
    }

    /// Checks the description and builds the environment.
    ///
    /// Errors name what is wrong: a driver's invalid configuration
    /// ([`Driver::check`](crate::Driver::check)), an invalid or duplicate name, a dependency or
    /// reference to an unknown driver, a reference to a key the driver does not
    /// export, a dependency cycle, a driver whose own stop deadline
    /// ([`Driver::own_stop_timeout`](crate::Driver::own_stop_timeout)) is not
    /// below its `DriverSpec::stop_timeout`.
    pub fn build(self) -> Result<Environment, BuildError> {
        let env = &self.name;
        let mut index = HashMap::with_capacity(self.specs.len());
        for (i, spec) in self.specs.iter().enumerate() {
            let name = spec.name();
            if let Some(reason) = invalid_name(name) {
                return Err(BuildError::InvalidName {
                    environment: env.clone(),
                    name: name.to_owned(),
                    reason,
                });
            }
            if index.insert(name.to_owned(), i).is_some() {
                return Err(BuildError::DuplicateDriver {
                    environment: env.clone(),
                    name: name.to_owned(),
                });
            }
        }

        let mut host_names = self
            .network
            .as_ref()
            .map(Network::host_names)
            .unwrap_or_default();
        let network_hosts = host_names.clone();
        let declared = self
            .hosts
            .iter()
            .map(Host::name)
            .chain(self.ssh_hosts.iter().map(SshBuilder::host_name));
        for name in declared {
            if host_names.iter().any(|known| known == name) {
                return Err(BuildError::InvalidNetwork {
                    environment: env.clone(),
                    reason: format!("two hosts are named `{name}`"),
                });
            }
            host_names.push(name.to_owned());
        }
        for ssh in &self.ssh_hosts {
            let invalid = |reason: String| BuildError::InvalidNetwork {
                environment: env.clone(),
                reason,
            };
            if let Some(reason) = invalid_name(ssh.host_name()) {
                return Err(invalid(format!(
                    "ssh host name `{}` is invalid: {reason}",
                    ssh.host_name()
                )));
            }
            ssh.validate().map_err(|error| invalid(error.to_string()))?;
            if let Some(via) = ssh.via_host_name()
                && !network_hosts.iter().any(|name| name == via)
            {
                return Err(invalid(format!(
                    "ssh host `{}`: via_host `{via}` is not a host of the environment's network ({})",
                    ssh.host_name(),
                    match network_hosts.is_empty() {
                        true => "it has none".to_owned(),
                        false => format!("its hosts: {}", network_hosts.join(", ")),
                    }
                )));
            }
            if index.contains_key(super::ssh_hosts::FETCHED_DIR) {
                return Err(invalid(format!(
                    "a driver is named `{dir}`, the directory of the runpaths fetched from the SSH hosts (`<runpath>/{dir}/{}`); rename it",
                    ssh.host_name(),
                    dir = super::ssh_hosts::FETCHED_DIR
                )));
            }
        }
        for host in &host_names {
            if index.contains_key(host) {
                return Err(BuildError::InvalidNetwork {
                    environment: env.clone(),
                    reason: format!(
                        "host `{host}` has the name of a driver (references `${{{host}.key}}` could not tell them apart)"
                    ),
                });
            }
        }
        for spec in &self.specs {
            if let Some(host) = &spec.options.host
                && !host_names.contains(host)
            {
                return Err(BuildError::UnknownHost {
                    environment: env.clone(),
                    driver: spec.name().to_owned(),
                    host: host.clone(),
                    hosts: host_names,
                });
            }
        }

        let mut graph = Graph::new(self.specs.len());
        for (dependent, dependency) in &self.dependencies {
            let find = |name: &String| {
                index
                    .get(name)
                    .copied()
                    .ok_or_else(|| BuildError::UnknownDependency {
                        environment: env.clone(),
                        driver: dependent.clone(),
                        dependency: name.clone(),
                    })
            };
            let (a, b) = (find(dependent)?, find(dependency)?);
            graph.add(a, b);
        }
        for spec in &self.specs {
            if let Err(error) = spec.driver.check() {
                let driver = spec.name();
                let reason = crate::error::full_message(&*error);
                // The driver's error may name the driver itself; the variant does.
                let prefix = format!("driver `{driver}`: ");
                let reason = reason.strip_prefix(&prefix).unwrap_or(&reason).to_owned();
                return Err(BuildError::InvalidDriver {
                    environment: env.clone(),
                    driver: driver.to_owned(),
                    reason,
                });
            }
            if let Some((field, own)) = spec.driver.own_stop_timeout()
                && own >= spec.options.stop_timeout
            {
                return Err(BuildError::StopTimeoutNotBelow {
                    environment: env.clone(),
                    driver: spec.name().to_owned(),
                    field,
                    own,
                    spec: spec.options.stop_timeout,
                });
            }
        }
        for (i, spec) in self.specs.iter().enumerate() {
            for reference in spec.driver.references() {
                let host = self
                    .network
                    .as_ref()
                    .and_then(|network| network.planned_exports(&reference.driver))
                    .or_else(|| {
                        self.hosts
                            .iter()
                            .find(|host| host.name() == reference.driver)
                            .map(Host::exports)
                    })
                    .or_else(|| {
                        self.ssh_hosts
                            .iter()
                            .find(|ssh| ssh.host_name() == reference.driver)
                            .map(|_| super::ssh_hosts::planned_exports())
                    });
                if let Some(exports) = host {
                    // A host: up before any driver starts.
                    if !exports.contains_key(&reference.key) {
                        return Err(BuildError::MissingExport {
                            environment: env.clone(),
                            driver: spec.name().to_owned(),
                            reference,
                            exported: exports.into_keys().collect(),
                        });
                    }
                    continue;
                }
                let Some(&target) = index.get(&reference.driver) else {
                    return Err(BuildError::UnknownReference {
                        environment: env.clone(),
                        driver: spec.name().to_owned(),
                        reference,
                    });
                };
                let exported = self.specs[target].driver.export_keys();
                if !exported.contains(&reference.key) {
                    return Err(BuildError::MissingExport {
                        environment: env.clone(),
                        driver: spec.name().to_owned(),
                        reference,
                        exported,
                    });
                }
                graph.add(i, target);
            }
        }
        if let Some(cycle) = graph.find_cycle() {
            return Err(BuildError::Cycle {
                environment: env.clone(),
                cycle: cycle
                    .iter()
                    .map(|&i| self.specs[i].name().to_owned())
                    .collect(),
            });
        }

        let mut run = self.run;
        run.runpath_is_fresh = self.runpath.is_none();
        let runpath = self.runpath.unwrap_or_else(|| default_runpath_root(env));
        Ok(Environment::assemble(
            self.name,
            self.specs,
            index,
            graph,
            runpath,
            run,
            Places {
                network: self.network,
                hosts: self.hosts,
                ssh: self
                    .ssh_hosts
                    .into_iter()
                    .map(super::ssh_hosts::SshPlace::new)
                    .collect(),
            },
        ))
    }
}

fn invalid_name(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("it is empty")
    } else if name == "." || name == ".." {
        Some("it cannot be `.` or `..`")
    } else if name.chars().any(|c| c == '/' || c == '\\' || c == '\0') {
        Some("it cannot contain `/`, `\\` or NUL (it names a directory)")
    } else if name
        .chars()
        .any(|c| c == '.' || c == '$' || c == '{' || c == '}' || c.is_whitespace())
    {
        Some(
            "it cannot contain `.`, `$`, `{`, `}` or whitespace (it is used in `${driver.key}` references)",
        )
    } else {
        None
    }
}
