use std::fmt;
use std::time::Duration;

use super::{Outcome, Report};

/// A short human summary of a [`Report`], for the terminal.
struct Summary<'a>(&'a Report);

impl Report {
    /// A short human summary for the terminal, several lines.
    pub fn summary(&self) -> String {
        Summary(self).to_string()
    }
}

impl fmt::Display for Summary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self.0;
        let verdict = match r.outcome {
            Outcome::Passed => "PASSED",
            Outcome::Failed => "FAILED",
            Outcome::NotRun => "NOT RUN",
        };
        writeln!(
            f,
            "environment {} {verdict}: setup {}, teardown {}",
            r.environment,
            human(r.setup),
            human(r.teardown)
        )?;
        if let Some(network) = &r.network {
            write!(f, "  network {}:", network.name)?;
            for (host, interfaces) in &network.hosts {
                write!(f, " {host}")?;
                for interface in interfaces {
                    let addresses: Vec<String> = interface
                        .addresses()
                        .iter()
                        .map(ToString::to_string)
                        .collect();
                    write!(
                        f,
                        " [{} {} to {}]",
                        interface.name(),
                        addresses.join(" "),
                        interface.peer()
                    )?;
                }
                write!(f, ";")?;
            }
            writeln!(f)?;
        }
        for host in &r.hosts {
            write!(
                f,
                "  host {} ({} {})",
                host.name, host.kind, host.destination
            )?;
            if let Some(address) = &host.address {
                write!(f, " at {address}")?;
            }
            if let Some(remote) = &host.remote_runpath {
                let fate = if host.remote_runpath_kept {
                    "kept"
                } else {
                    "removed"
                };
                write!(f, ": runpath {} ({fate})", remote.display())?;
            }
            if let Some(local) = &host.fetched_into {
                write!(
                    f,
                    ", fetched into {} ({} files)",
                    local.display(),
                    host.files.len()
                )?;
            }
            writeln!(f)?;
            for error in &host.errors {
                writeln!(f, "    ! {error}")?;
            }
        }
        let width = r.drivers.iter().map(|d| d.name.len()).max().unwrap_or(0);
        let kind_width = r.drivers.iter().map(|d| d.kind.len()).max().unwrap_or(0);
        for d in &r.drivers {
            write!(
                f,
                "  {:width$}  {:kind_width$}  {:8}  up {:>9}  down {:>9}",
                d.name,
                d.kind,
                d.status.as_str(),
                human(d.setup),
                human(d.teardown),
            )?;
            if let Some(host) = &d.host {
                write!(f, "  on {host}")?;
            }
            for (key, value) in &d.exports {
                write!(f, "  {key}={value}")?;
            }
            for (key, value) in &d.counters {
                write!(f, "  {key}={value}")?;
            }
            if d.cpu_time.is_some() {
                write!(f, "  cpu {}", human(d.cpu_time))?;
            }
            writeln!(f)?;
            for warning in &d.warnings {
                writeln!(f, "    warning: {warning}")?;
            }
            for error in &d.errors {
                for (i, line) in error.message.lines().enumerate() {
                    let mark = if i == 0 { "!" } else { " " };
                    writeln!(f, "    {mark} {line}")?;
                }
            }
        }
        for case in &r.cases {
            let verdict = match case.outcome {
                Outcome::Passed => "ok",
                Outcome::Failed => "FAILED",
                Outcome::NotRun => "not run",
            };
            write!(
                f,
                "  case {} {verdict} ({})",
                case.name,
                human(Some(case.duration))
            )?;
            if let Some(message) = &case.message {
                write!(f, ": {}", message.lines().next().unwrap_or(""))?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

fn human(d: Option<Duration>) -> String {
    match d {
        None => "-".to_owned(),
        Some(d) if d < Duration::from_millis(1) => format!("{} µs", d.as_micros()),
        Some(d) if d < Duration::from_secs(1) => format!("{:.2} ms", d.as_secs_f64() * 1e3),
        Some(d) => format!("{:.2} s", d.as_secs_f64()),
    }
}
