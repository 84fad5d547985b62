use std::ops::Range;
use std::path::Path;

use testrig::{BuildError, Environment};

use super::steps::StepCheck;
use super::{DriverDecl, Rig, RigError};

impl Rig {
    /// Builds the rig's environment without starting it, and checks the steps
    /// against it. Every problem the environment builder finds (an unknown
    /// driver, a key not exported, a cycle, a duplicate name) is reported at the
    /// place in the file that causes it. A clean run's directory is removed when
    /// the environment is dropped; without a `report_dir` the reports go in it, so
    /// it is kept.
    pub(crate) fn environment(&self, report_dir: Option<&Path>) -> Result<Environment, RigError> {
        let mut builder = Environment::builder(&self.name).keep_runpath(report_dir.is_none());
        if let Some(dir) = report_dir {
            builder = builder.report_dir(dir);
        }
        if let Some(network) = self.build_network()? {
            builder = builder.network(network);
        }
        for host in self.ssh_hosts()? {
            builder = builder.ssh_host(host);
        }
        for decl in &self.drivers {
            let mut spec = decl
                .options
                .spec(decl.name.get_ref(), decl.stop_timeout, &self.dir)
                .map_err(|invalid| {
                    self.error_in(&decl.spans, decl.spans.key(&invalid.key), invalid.message)
                })?;
            if let Some(host) = &decl.on {
                spec = spec.on(host.get_ref());
            }
            if let Some(timeout) = decl.start_timeout {
                spec = spec.start_timeout(timeout);
            }
            if let Some(timeout) = decl.stop_timeout {
                spec = spec.stop_timeout(decl.options.stop_deadline(timeout));
            }
            builder = builder.driver(spec);
            for dependency in &decl.depends_on {
                builder = builder.depends_on(decl.name.get_ref(), dependency.get_ref());
            }
        }
        let env = builder.build().map_err(|e| self.locate_build_error(e))?;
        let check = StepCheck::new(
            self.drivers
                .iter()
                .map(|d| (d.name.get_ref().as_str(), d.options.kind())),
            &self.network,
            &env,
        );
        for step in &self.steps {
            step.action
                .check(step.spans.table.clone(), &check)
                .map_err(|problem| self.problem(&step.spans, problem))?;
        }
        Ok(env)
    }

    fn locate_build_error(&self, error: BuildError) -> RigError {
        let fallback = || self.error_at(0..0, "", error.to_string());
        match &error {
            BuildError::DuplicateDriver { name, .. } => {
                let (Some(first), Some(second)) = (self.driver(name, 0), self.driver(name, 1))
                else {
                    return fallback();
                };
                let first_line = self.source.locate(first.name.span()).line;
                self.error_in(
                    &second.spans,
                    second.name.span(),
                    format!("two drivers are named `{name}` (the first is on line {first_line})"),
                )
            }
            BuildError::InvalidName { name, reason, .. } => match self.driver(name, 0) {
                Some(decl) => self.error_in(
                    &decl.spans,
                    decl.name.span(),
                    format!("driver name `{name}` is invalid: {reason}"),
                ),
                None => fallback(),
            },
            BuildError::UnknownDependency {
                driver, dependency, ..
            } => {
                let Some(decl) = self.driver(driver, 0) else {
                    return fallback();
                };
                let span = decl
                    .depends_on
                    .iter()
                    .find(|d| d.get_ref() == dependency)
                    .map_or_else(|| decl.spans.key("depends_on"), |d| d.span());
                self.error_in(
                    &decl.spans,
                    span,
                    format!(
                        "depends on `{dependency}`, but the rig has no driver `{dependency}` (it has: {})",
                        self.driver_list()
                    ),
                )
            }
            BuildError::UnknownReference {
                driver, reference, ..
            } => {
                let Some(decl) = self.driver(driver, 0) else {
                    return fallback();
                };
                self.error_in(
                    &decl.spans,
                    decl.spans.reference(reference).unwrap_or(decl.spans.table.clone()),
                    match self.network.all_host_names() {
                        hosts if hosts.is_empty() => format!(
                            "`${{{reference}}}` refers to driver `{}`, but the rig has no such driver (it has: {})",
                            reference.driver,
                            self.driver_list()
                        ),
                        hosts => format!(
                            "`${{{reference}}}` refers to `{}`, but the rig has no such driver or host (drivers: {}; hosts: {})",
                            reference.driver,
                            self.driver_list(),
                            hosts.join(", ")
                        ),
                    },
                )
            }
            BuildError::MissingExport {
                driver,
                reference,
                exported,
                ..
            } => {
                let Some(decl) = self.driver(driver, 0) else {
                    return fallback();
                };
                let target_kind = match self.driver(&reference.driver, 0) {
                    Some(target) => target.options.kind(),
                    None => "host",
                };
                self.error_in(
                    &decl.spans,
                    decl.spans
                        .reference(reference)
                        .unwrap_or(decl.spans.table.clone()),
                    format!(
                        "`${{{reference}}}`: `{}` ({target_kind}) exports no `{}`; it exports: {}",
                        reference.driver,
                        reference.key,
                        exported.join(", ")
                    ),
                )
            }
            BuildError::UnknownHost {
                driver,
                host,
                hosts,
                ..
            } => {
                let Some(decl) = self.driver(driver, 0) else {
                    return fallback();
                };
                let span = decl
                    .on
                    .as_ref()
                    .map_or_else(|| decl.spans.key("on"), |on| on.span());
                let message = if hosts.is_empty() {
                    format!(
                        "host `{host}`: the rig declares no hosts; add a `[[host]]` table with `name = \"{host}\"`"
                    )
                } else {
                    format!(
                        "host `{host}`: the rig has no such host (it has: {})",
                        hosts.join(", ")
                    )
                };
                self.error_in(&decl.spans, span, message)
            }
            BuildError::Cycle { cycle, .. } => {
                let (Some(first), Some(next)) = (cycle.first(), cycle.get(1)) else {
                    return fallback();
                };
                let Some(decl) = self.driver(first, 0) else {
                    return fallback();
                };
                self.error_in(
                    &decl.spans,
                    edge(decl, next),
                    format!("dependency cycle: {}", cycle.join(" -> ")),
                )
            }
            _ => fallback(),
        }
    }
}

/// Where `decl` says it needs `dependency`: its `depends_on` entry or a
/// reference to it; else its header.
fn edge(decl: &DriverDecl, dependency: &str) -> Range<usize> {
    decl.depends_on
        .iter()
        .find(|d| d.get_ref() == dependency)
        .map(|d| d.span())
        .or_else(|| decl.spans.reference_to(dependency))
        .unwrap_or_else(|| decl.spans.table.clone())
}
