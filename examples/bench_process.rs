//! Process coordination costs of `testrig::process`, next to dummynet's `ProcessMonitor`.
//!
//! ```text
//! cargo run --release --example bench_process
//! ```
//!
//! 1. Coordination overhead: start a daemon (`sleep 1000`), run a 0.2 s task (`sleep 0.2`)
//!    until it exits (`keep_running`), stop everything; the figure is the total minus 0.2 s.
//!    Also the CPU time this program used while `keep_running` waited.
//! 2. Spawn latency (until `Process::spawn` returns, after the `exec`), and stop latency:
//!    stopping a daemon that ends on SIGTERM (`sleep 1000`).
//! 3. Readiness latency: a child (this program, re-executed) takes a wall-clock timestamp, prints
//!    `ready <timestamp>`; the figure is the wall clock when `Process::ready` returns in the
//!    parent minus that timestamp (same machine, same clock).

use std::io::Write;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use testrig::process::{Command, Exit, Pattern, Process, ProcessMonitor};

const ITERATIONS: usize = 30;
const TASK: Duration = Duration::from_millis(200);
const TIMEOUT: Duration = Duration::from_secs(10);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::args().nth(1).as_deref() == Some("--ready-child") {
        ready_child();
    }
    let runpath =
        std::env::temp_dir().join(format!("testrig-bench-process-{}", std::process::id()));
    // The runtime a `#[tokio::test]` gives a test.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(run(&runpath));
    let _ = std::fs::remove_dir_all(&runpath);
    result
}

async fn run(runpath: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    println!("testrig process benchmark: {ITERATIONS} iterations each (median / p90)\n");

    let (overheads, cpu_while_waiting, waited) = coordination(runpath).await?;
    let (spawns, stops) = spawn_and_stop_latency(runpath).await?;
    let readiness = readiness_latency(runpath).await?;

    println!(
        "{:<58} {:>24}   dummynet",
        "measure (median / p90)", "testrig"
    );
    println!("{}", "-".repeat(104));
    row(
        "coordination overhead (total - 0.2 s), target < 5 ms",
        &overheads,
        "109 ms",
    );
    let cpu_share = cpu_while_waiting.as_secs_f64() / waited.as_secs_f64();
    println!(
        "{:<58} {:>24}   ~100% of a core (busy poll)",
        "CPU used by testrig while keep_running waited",
        format!(
            "{:.3} ms/s ({:.2}% of a core)",
            1000.0 * cpu_share,
            100.0 * cpu_share
        ),
    );
    row(
        "  of which: one spawn (log files, fork, exec)",
        &spawns,
        "50 ms (sleep per spawn)",
    );
    row(
        "  (floor on this machine now: std::process spawn, no testrig)",
        &std_spawns(),
        "",
    );
    row(
        "stop a daemon that exits on SIGTERM, target < 2 ms",
        &stops,
        "55 ms",
    );
    row(
        "readiness: line printed -> ready() returns, target < 1 ms",
        &readiness,
        "n/a (no line matcher)",
    );
    Ok(())
}

/// Start a daemon, run a 0.2 s task until it exits, stop everything.
async fn coordination(
    runpath: &std::path::Path,
) -> Result<(Vec<Duration>, Duration, Duration), Box<dyn std::error::Error>> {
    let mut overheads = Vec::new();
    let (mut cpu, mut waited) = (Duration::ZERO, Duration::ZERO);
    for iteration in 0..ITERATIONS {
        let started = Instant::now();
        // A runpath per run, as each test has its own.
        let mut monitor = ProcessMonitor::new(runpath.join(format!("coordination-{iteration}")));
        monitor
            .run(Command::new("sleep").arg("1000").daemon())
            .await?;
        monitor.run(Command::new("sleep").arg("0.2")).await?;
        let (cpu_before, wait_started) = (process_cpu_time(), Instant::now());
        let still_running = monitor.keep_running(TIMEOUT).await?;
        cpu += process_cpu_time() - cpu_before;
        waited += wait_started.elapsed();
        assert!(!still_running, "the task is done");
        monitor.stop(true, Duration::from_secs(1)).await?;
        overheads.push(started.elapsed().saturating_sub(TASK));
    }
    Ok((overheads, cpu, waited))
}

/// Spawn a daemon, then stop it (it exits on SIGTERM).
async fn spawn_and_stop_latency(
    runpath: &std::path::Path,
) -> Result<(Vec<Duration>, Vec<Duration>), Box<dyn std::error::Error>> {
    let (mut spawns, mut stops) = (Vec::new(), Vec::new());
    for iteration in 0..ITERATIONS {
        let started = Instant::now();
        let daemon = Process::spawn(
            Command::new("sleep").arg("1000").daemon(),
            runpath.join(format!("stop-{iteration}")),
        )
        .await?;
        spawns.push(started.elapsed());
        let started = Instant::now();
        let exit = daemon.stop(Duration::from_secs(1)).await?;
        stops.push(started.elapsed());
        assert!(matches!(exit, Exit::Terminated(_)), "{exit:?}");
    }
    Ok((spawns, stops))
}

/// The same spawn with the standard library alone (`posix_spawn`, no log files, no process group
/// or parent-death signal): what the machine costs, to compare with testrig's spawn.
fn std_spawns() -> Vec<Duration> {
    (0..ITERATIONS)
        .map(|_| {
            let started = Instant::now();
            let mut child = std::process::Command::new("sleep")
                .arg("1000")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn sleep");
            let spawned = started.elapsed();
            child.kill().expect("kill sleep");
            child.wait().expect("reap sleep");
            spawned
        })
        .collect()
}

/// From the child printing its ready line to `ready()` returning in the parent.
async fn readiness_latency(
    runpath: &std::path::Path,
) -> Result<Vec<Duration>, Box<dyn std::error::Error>> {
    let me = std::env::current_exe()?;
    let mut latencies = Vec::new();
    for iteration in 0..ITERATIONS {
        let child = Process::spawn(
            Command::new(&me)
                .arg("--ready-child")
                .name("ready-child")
                .daemon()
                .ready_when(Pattern::stdout(r"^ready (?P<nanos>\d+)$")?),
            runpath.join(format!("ready-{iteration}")),
        )
        .await?;
        let captures = child.ready(TIMEOUT).await?;
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?;
        let printed = Duration::from_nanos(captures.get("nanos").expect("nanos").parse()?);
        latencies.push(now.saturating_sub(printed));
        child.stop(Duration::from_secs(1)).await?;
    }
    Ok(latencies)
}

/// The re-executed child: let the parent get to its `ready()` call, print the ready line with a
/// wall-clock timestamp, then wait to be stopped.
fn ready_child() -> ! {
    std::thread::sleep(Duration::from_millis(20));
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970");
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "ready {}", now.as_nanos()).expect("print");
    stdout.flush().expect("flush");
    std::thread::sleep(Duration::from_secs(1000));
    std::process::exit(0);
}

/// CPU time (user + system) used by this program so far, all threads.
fn process_cpu_time() -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::uninit();
    // SAFETY: `getrusage` fills the `rusage` it is given a valid pointer to; it is initialised
    // when the call returns 0.
    let usage = unsafe {
        assert_eq!(libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()), 0);
        usage.assume_init()
    };
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    time(usage.ru_utime) + time(usage.ru_stime)
}

fn row(label: &str, samples: &[Duration], dummynet: &str) {
    let (median, p90) = percentiles(samples);
    let figures = format!("{:.3} / {:.3} ms", ms(median), ms(p90));
    println!("{label:<58} {figures:>24}   {dummynet}");
}

fn percentiles(samples: &[Duration]) -> (Duration, Duration) {
    let mut sorted = samples.to_vec();
    sorted.sort();
    let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.9))
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
