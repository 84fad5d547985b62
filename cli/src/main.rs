//! `testrig`: check, bring up and run rigs declared in TOML.
//!
//! ```text
//! testrig check RIG.toml          validate only
//! testrig up RIG.toml             start, print exports, stay up until Ctrl-C
//! testrig run RIG.toml            start, run the steps, report, stop
//! testrig iperf3 -s | -c HOST …   iperf3's command line on the native engine
//! ```
//! Exit codes: 0 ok, 1 a step failed, 2 the rig could not start, 3 bad rig
//! file, 4 bad command line. See `docs/cli.md`.
#![warn(missing_debug_implementations, unreachable_pub)]

mod args;
mod commands;
mod exit;
mod iperf3;
mod progress;
mod rig;
mod stderr;

use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;

use args::{Args, Command};
use exit::Outcome;
use progress::Style;

fn main() -> ExitCode {
    let began = Instant::now();
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() {
                Outcome::Usage
            } else {
                Outcome::Passed
            }
            .into();
        }
    };
    let style = Style::detect();
    if let Command::Up { rig, .. } | Command::Run { rig, .. } = &args.command {
        enter_user_namespace_for(rig);
    }
    let outcome = match args.command {
        Command::Check { rig } => commands::check(&rig),
        Command::Up {
            rig,
            report_dir,
            toxiproxy_api,
        } => in_runtime(|| commands::up(&rig, report_dir.as_deref(), toxiproxy_api, style, began)),
        Command::Run { rig, report_dir } => {
            in_runtime(|| commands::run(&rig, report_dir.as_deref(), style, began))
        }
        Command::Agent => return commands::agent(),
        Command::SshDial { socket } => {
            let code = testrig::host::ssh::relay_dialed(&socket);
            return std::process::ExitCode::from(u8::try_from(code).unwrap_or(1));
        }
        // Its own exit codes, iperf3's; its own runtime, after `-D`'s fork.
        Command::Iperf3 { args } => return iperf3::main(args),
    };
    outcome.into()
}

/// Lets a user without root run a rig with an emulated network: moves this process
/// into a user namespace of its own, where it may create network namespaces (its
/// files and the programs it starts stay the user's). Only a single-threaded process
/// may enter one, so this comes before the runtime starts; a rig without a network,
/// root, or a rig that does not load (its error comes later) leave the process as it
/// is. Where the kernel refuses, the network's start says what is missing.
fn enter_user_namespace_for(rig: &std::path::Path) {
    // SAFETY: geteuid has no side effects.
    if unsafe { libc::geteuid() } == 0 {
        return;
    }
    let Ok(loaded) = rig::Rig::load(rig) else {
        return;
    };
    if !loaded.network.is_declared() {
        return;
    }
    if let Err(error) = testrig::network::enter_user_namespace() {
        stderr::line(format_args!(
            "note: not root, and no user namespace for the rig's network: {error}"
        ));
    }
}

/// Runs a command on a two-thread tokio runtime (the machine's drivers are
/// I/O-bound; two workers keep a slow driver from stalling the progress display).
fn in_runtime<F, Fut>(command: F) -> Outcome
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Outcome>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build();
    match runtime {
        Ok(runtime) => runtime.block_on(command()),
        Err(error) => {
            stderr::line(format_args!(
                "error: cannot start the async runtime: {error}"
            ));
            Outcome::StartFailed
        }
    }
}
