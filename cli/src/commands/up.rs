use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use testrig::report::CaseReport;
use testrig::{Environment, Outcome as CaseOutcome};
use testrig_drivers::fault_proxy::{ProxyRegistry, ToxiproxyApi};

use super::finish::finish;
use super::session::Session;
use crate::exit::Outcome;
use crate::progress::Style;
use crate::stderr;

/// `testrig up RIG`: starts the rig, prints each driver's connection info and
/// exports, and keeps it up until SIGINT, SIGTERM or SIGHUP (exit 0 after a clean
/// teardown) or until a driver fails (exit 1; the report then has a failed
/// case `up` naming the driver). With `toxiproxy_api`, Toxiproxy's HTTP API serves
/// the rig's `fault_proxy` drivers on that address while the rig is up.
pub(crate) async fn up(
    path: &Path,
    report_dir: Option<&Path>,
    toxiproxy_api: Option<SocketAddr>,
    style: Style,
    began: Instant,
) -> Outcome {
    let mut session = match Session::start(path, report_dir, style, began, |_| {}).await {
        Ok(session) => session,
        Err(outcome) => return outcome,
    };
    let env = session.env.clone();

    let mut failure = None;
    let mut api = None;
    if let (None, Some(address)) = (session.interrupted, toxiproxy_api) {
        match ToxiproxyApi::serve(address, ProxyRegistry::of_environment(&env)).await {
            Ok(served) => api = Some(served),
            Err(error) => {
                let message = testrig::error::full_message(&error);
                stderr::line(format_args!("error: {message}"));
                env.record_case(CaseReport {
                    name: "up".to_owned(),
                    outcome: CaseOutcome::Failed,
                    duration: Duration::ZERO,
                    message: Some(message),
                    started_at: None,
                });
                failure = Some("toxiproxy-api".to_owned());
            }
        }
    }
    if session.interrupted.is_none() && failure.is_none() {
        print_hosts(&session, &env);
        print_drivers(&session, &env);
        if let Some(api) = &api {
            session.progress.note(&toxiproxy_line(api));
        }
        session.progress.note(&format!(
            "rig `{}` is up; stop it with Ctrl-C (SIGINT), SIGTERM or SIGHUP",
            session.rig.name
        ));
        let held = Instant::now();
        tokio::select! {
            signal = session.signals.recv() => {
                session.progress.note(&format!("{signal} received: stopping"));
            }
            driver = session.progress.follow(first_failure(&env)) => {
                let message = format!("driver `{driver}` failed while the rig was up{}", last_error(&env, &driver));
                stderr::line(format_args!("error: {message}"));
                // The report says so too (a rig that is only up has no other case).
                env.record_case(CaseReport {
                    name: "up".to_owned(),
                    outcome: CaseOutcome::Failed,
                    duration: held.elapsed(),
                    message: Some(message),
                    started_at: None,
                });
                failure = Some(driver);
            }
        }
    }

    if let Some(api) = api {
        api.stop().await;
    }
    let stopped = session.complete(env.stop()).await;
    if let Err(error) = &stopped {
        stderr::line(format_args!(
            "error: {}",
            testrig::error::full_message(error)
        ));
    }
    let reported = finish(&env, report_dir);
    if failure.is_some() || stopped.is_err() || !reported {
        Outcome::Failed
    } else {
        Outcome::Passed
    }
}

/// One line per host of the rig's network: each interface, its addresses and what it
/// leads to ("a (host)  eth0 10.0.0.1/24 fd00::1/64 to b").
fn print_hosts(session: &Session, env: &Environment) {
    let Some(Ok(hosts)) = env.network().map(|network| network.hosts()) else {
        return;
    };
    let width = hosts.iter().map(|h| h.name().len()).max().unwrap_or(0) + " (host)".len();
    for host in hosts {
        let interfaces: Vec<String> = host
            .interfaces()
            .iter()
            .map(|interface| {
                let addresses: Vec<String> = interface
                    .addresses()
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                format!(
                    "{} {} to {}",
                    interface.name(),
                    addresses.join(" "),
                    interface.peer()
                )
            })
            .collect();
        let label = format!("{} (host)", host.name());
        session
            .progress
            .note(&format!("{label:width$}  {}", interfaces.join("; ")));
    }
}

/// One line per driver: its kind, where it listens or connects, what it exports.
fn print_drivers(session: &Session, env: &Environment) {
    let width = session
        .rig
        .drivers
        .iter()
        .map(|d| d.name.get_ref().len() + d.options.kind().len() + 3)
        .max()
        .unwrap_or(0);
    for decl in &session.rig.drivers {
        let Ok(resource) = env.resource(decl.name.get_ref()) else {
            continue;
        };
        let connections = session.progress.connections(decl.name.get_ref());
        let exports = resource
            .report()
            .exports
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ");
        let label = format!("{} ({})", decl.name.get_ref(), decl.options.kind());
        let parts: Vec<String> = [connections, exports_phrase(&exports)]
            .into_iter()
            .filter(|part| !part.is_empty())
            .collect();
        session
            .progress
            .note(&format!("{label:width$}  {}", parts.join("; ")));
    }
}

/// Where the Toxiproxy API serves, and which proxies.
fn toxiproxy_line(api: &ToxiproxyApi) -> String {
    let names = api.registry().names();
    let proxies = if names.is_empty() {
        "no fault_proxy driver yet; proxies can be created through it".to_owned()
    } else {
        format!("proxies: {}", names.join(", "))
    };
    format!("Toxiproxy API on http://{} ({proxies})", api.local_addr())
}

/// "exports k=v …", or nothing for a driver that exports nothing.
fn exports_phrase(exports: &str) -> String {
    if exports.is_empty() {
        String::new()
    } else {
        format!("exports {exports}")
    }
}

/// The name of the first driver to fail; woken by the status change.
async fn first_failure(env: &Environment) -> String {
    loop {
        if let Some(driver) = env.wait_for_failure(Duration::from_secs(3600)).await {
            return driver;
        }
    }
}

fn last_error(env: &Environment, driver: &str) -> String {
    env.resource(driver)
        .ok()
        .and_then(|r| r.report().errors.pop())
        .map(|e| format!(": {}", e.message))
        .unwrap_or_default()
}
