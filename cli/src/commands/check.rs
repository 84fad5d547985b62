use std::io::Write;
use std::path::Path;

use crate::exit::Outcome;
use crate::rig::Rig;
use crate::stderr;

/// `testrig check RIG`: reads the rig and builds its environment without
/// starting anything.
pub(crate) fn check(path: &Path) -> Outcome {
    let checked = Rig::load(path).and_then(|rig| rig.environment(None).map(|_| rig));
    match checked {
        Ok(rig) => {
            let drivers = rig
                .drivers
                .iter()
                .map(|d| match &d.on {
                    Some(host) => format!(
                        "{} ({} on {})",
                        d.name.get_ref(),
                        d.options.kind(),
                        host.get_ref()
                    ),
                    None => format!("{} ({})", d.name.get_ref(), d.options.kind()),
                })
                .collect::<Vec<_>>()
                .join(", ");
            let mut network = match rig.network.is_declared() {
                true => format!(
                    ", {} host(s) [{}] joined by {}",
                    rig.network.host_names().len(),
                    rig.network.host_names().join(", "),
                    rig.network.segments()
                )
                .replace(" joined by no links", ""),
                false => String::new(),
            };
            let ssh: Vec<String> = rig
                .network
                .ssh_hosts()
                .filter_map(|(host, _)| {
                    let destination = host.ssh.as_ref()?.get_ref();
                    Some(format!("{} ({destination})", host.name.get_ref()))
                })
                .collect();
            if !ssh.is_empty() {
                network.push_str(&format!(
                    ", {} ssh host(s) [{}], not connected by check",
                    ssh.len(),
                    ssh.join(", ")
                ));
            }
            // A closed stdout (`| head -0`) must not turn the verdict into a panic.
            let _ = writeln!(
                std::io::stdout().lock(),
                "{}: rig `{}` is valid: {} driver(s) [{drivers}]{network}, {} step(s)",
                path.display(),
                rig.name,
                rig.drivers.len(),
                rig.steps.len()
            );
            Outcome::Passed
        }
        Err(error) => {
            stderr::line(format_args!("error: {}", error.render()));
            Outcome::BadRig
        }
    }
}
