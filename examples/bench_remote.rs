//! Remote starts over SSH: through the host's resident agent, next to a channel per program,
//! a local App and a bare `ssh host true` over the same master; and the first session (connect).
//!
//! ```text
//! cargo run --release --example bench_remote     # as root: a real sshd in a network namespace
//! ```
//!
//! The remote host is `testrig::testing::Sshd`: an sshd inside an emulated host, reached from
//! another (needs root, network namespaces and openssh-server; without them it says so and
//! exits). The agent is this program itself (`bench_remote agent`), installed on the host by
//! content like the `testrig` binary. The TCP connection is made by this program and handed to
//! ssh through the workspace's `testrig` binary (`ssh-dial`) when it is found beside this one:
//! build it first (`cargo build --release -p testrig-cli`), else ssh makes the connection. Figures:
//! p50 / p90 of N runs, each after the connection is up unless it measures the connection.

use std::time::{Duration, Instant};

use testrig::Host;
use testrig::host::ssh::SshAgent;
use testrig::process::{Command, Pattern, Process, Stream};
use testrig::testing::{Sshd, resource_on};
use testrig::{DriverSpec, Status};
use testrig_drivers::app::App;

const RUNS: usize = 20;
const PATIENCE: Duration = Duration::from_secs(20);
/// A classical key exchange instead of OpenSSH 9.x's default post-quantum hybrid
/// (`sntrup761x25519-sha512`, whose key generation is most of a login's CPU time): what a
/// user's config choosing it gets.
const CLASSIC_KEX: &str = "KexAlgorithms=curve25519-sha256";

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() -> Result<()> {
    if std::env::args().nth(1).as_deref() == Some("agent") {
        std::process::exit(testrig::host::ssh::serve_agent());
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run())
}

fn agent() -> Result<SshAgent> {
    Ok(SshAgent::Program {
        program: std::env::current_exe()?,
        args: vec!["agent".into()],
        env: Vec::new(),
    })
}

async fn run() -> Result<()> {
    let Some(sshd) = Sshd::start("bench-remote", 77).await else {
        println!("bench_remote needs root, network namespaces and sshd (see the skip line)");
        return Ok(());
    };
    let runpath = sshd.dir.join("bench");
    println!("testrig remote benchmark: {RUNS} runs each (p50 / p90), sshd in a namespace\n");

    // The first connection ever installs the agent (copies this binary): once per build.
    let started = Instant::now();
    let first = sshd.host().agent(agent()?).connect().await?;
    let app = app_ready_once(&first).await?;
    let first_ready = started.elapsed();
    app.stop().await?;
    drop(first);

    let mut connect_agent = Vec::new();
    let mut connect_plain = Vec::new();
    let mut connect_classic_kex = Vec::new();
    let mut fresh_ssh = Vec::new();
    let mut login = Vec::new();
    let mut connect_then_ready = Vec::new();
    for _ in 0..RUNS {
        login.push(login_only(&sshd).await?);
        let started = Instant::now();
        let host = sshd.host().agent(agent()?).connect().await?;
        let app = app_ready_once(&host).await?;
        connect_then_ready.push(started.elapsed());
        app.stop().await?;
        drop(host);
        let started = Instant::now();
        let host = sshd.host().agent(agent()?).connect().await?;
        connect_agent.push(started.elapsed());
        drop(host);
        let started = Instant::now();
        let host = sshd.host().agent(SshAgent::Off).connect().await?;
        connect_plain.push(started.elapsed());
        drop(host);
        let started = Instant::now();
        let host = sshd
            .host()
            .agent(agent()?)
            .option(CLASSIC_KEX)
            .connect()
            .await?;
        connect_classic_kex.push(started.elapsed());
        drop(host);
        let started = Instant::now();
        fresh_session_true(&sshd).await?;
        fresh_ssh.push(started.elapsed());
    }

    let with_agent = sshd.host().agent(agent()?).connect().await?;
    let per_channel = sshd.host().agent(SshAgent::Off).connect().await?;
    let local = Host::local();

    let mut rows: Vec<(String, Vec<Duration>)> = Vec::new();
    rows.push((
        "remote Process start -> ready, through the agent".into(),
        process_ready(&with_agent, &runpath).await?,
    ));
    rows.push((
        "remote App start -> ready, through the agent (target < 20 ms)".into(),
        app_ready(&with_agent).await?,
    ));
    rows.push((
        "remote App start -> ready, a channel per program".into(),
        app_ready(&per_channel).await?,
    ));
    rows.push((
        "remote Process start -> ready, a channel per program".into(),
        process_ready(&per_channel, &runpath).await?,
    ));
    rows.push(("local App start -> ready".into(), app_ready(&local).await?));
    rows.push((
        "bare `ssh host true` over the same master".into(),
        bare_true(&with_agent).await?,
    ));
    rows.push((
        "connect, with an agent (it starts with the first spawn)".into(),
        connect_agent,
    ));
    rows.push(("connect, no agent".into(), connect_plain));
    rows.push((
        format!("connect, `option(\"{CLASSIC_KEX}\")`"),
        connect_classic_kex,
    ));
    rows.push((
        "connect, then a first remote App ready (starts the agent)".into(),
        connect_then_ready,
    ));
    rows.push((
        "a fresh `ssh host true` (no master: login + 1 channel)".into(),
        fresh_ssh,
    ));
    rows.push((
        "  of which the login (a fresh `ssh -N` until logged in)".into(),
        login,
    ));

    println!("{:<66} {:>10} {:>10}", "measure", "p50", "p90");
    println!("{}", "-".repeat(88));
    for (name, figures) in &rows {
        let (p50, p90) = percentiles(figures);
        println!("{name:<66} {:>10} {:>10}", ms(p50), ms(p90));
    }
    println!(
        "\nfirst connection ever, then a remote App ready (installs the agent: {} MiB, once \
         per build): {}",
        std::fs::metadata(std::env::current_exe()?)?.len() >> 20,
        ms(first_ready)
    );
    drop((with_agent, per_channel));
    sshd.stop().await;
    Ok(())
}

/// A daemon printing `up`, spawned on `host` until it is ready, then killed.
async fn process_ready(host: &Host, runpath: &std::path::Path) -> Result<Vec<Duration>> {
    let mut figures = Vec::new();
    for run in 0..RUNS {
        let command = Command::new("sh")
            .args(["-c", "echo up; exec sleep 1000"])
            .name(format!("ready-{run}"))
            .daemon()
            .ready_when(Pattern::stdout("^up$")?)
            .host(host.clone());
        let started = Instant::now();
        let process = Process::spawn(command, runpath).await?;
        process.ready(PATIENCE).await?;
        figures.push(started.elapsed());
        process.stop(PATIENCE).await?;
    }
    Ok(figures)
}

/// An App printing `serving on port N`, placed on `host`, from start to ready (exports
/// captured), then stopped.
async fn app_ready(host: &Host) -> Result<Vec<Duration>> {
    let mut figures = Vec::new();
    for _ in 0..RUNS {
        let app = resource_on(
            DriverSpec::new(
                App::new("app", "sh")
                    .args(["-c", "echo serving on port 4242; exec sleep 1000"])
                    .ready_on(Stream::Stdout, r"serving on port (?P<port>\d+)"),
            ),
            host.clone(),
        );
        let started = Instant::now();
        app.start().await?;
        figures.push(started.elapsed());
        assert_eq!(app.status(), Status::Started);
        app.stop().await?;
    }
    Ok(figures)
}

/// A remote App started until ready.
async fn app_ready_once(host: &Host) -> Result<testrig::Resource> {
    let app = resource_on(
        DriverSpec::new(
            App::new("app", "sh")
                .args(["-c", "echo serving on port 4242; exec sleep 1000"])
                .ready_on(Stream::Stdout, r"serving on port (?P<port>\d+)"),
        ),
        host.clone(),
    );
    app.start().await?;
    Ok(app)
}

/// `ssh host true` over the host's master.
async fn bare_true(host: &Host) -> Result<Vec<Duration>> {
    let mut figures = Vec::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        let status = tokio::process::Command::from(host.command("true")?)
            .status()
            .await?;
        figures.push(started.elapsed());
        assert!(status.success());
    }
    Ok(figures)
}

/// A fresh `ssh -N` until it has logged in (its `LocalCommand` runs then), from host `client`.
async fn login_only(sshd: &Sshd) -> Result<Duration> {
    use tokio::io::AsyncBufReadExt;
    let mut ssh = fresh_ssh(sshd)?;
    ssh.args([
        "-N",
        "-o",
        "PermitLocalCommand=yes",
        "-o",
        "LocalCommand=echo in",
    ]);
    let started = Instant::now();
    let mut child = tokio::process::Command::from(ssh)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("piped")).lines();
    let line = tokio::time::timeout(PATIENCE, lines.next_line()).await??;
    let figure = started.elapsed();
    assert_eq!(line.as_deref(), Some("in"));
    child.kill().await?;
    Ok(figure)
}

/// `ssh host true` on a connection of its own, from host `client`.
async fn fresh_session_true(sshd: &Sshd) -> Result<()> {
    let mut ssh = fresh_ssh(sshd)?;
    ssh.arg("true");
    let status = tokio::process::Command::from(ssh).status().await?;
    assert!(status.success());
    Ok(())
}

/// `ssh` to the sshd with its keys, from host `client`, on a connection of its own.
fn fresh_ssh(sshd: &Sshd) -> Result<std::process::Command> {
    Ok(sshd.fresh_ssh())
}

fn percentiles(figures: &[Duration]) -> (Duration, Duration) {
    let mut sorted = figures.to_vec();
    sorted.sort();
    let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.9))
}

fn ms(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
}
