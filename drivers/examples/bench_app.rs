//! `App` readiness detection speed.
//!
//! Run: `cargo run --release -p testrig-drivers --example bench_app`
//!
//! The child (this program, re-executed) takes the wall-clock time and prints it in its ready
//! line, `ready at <ns since the epoch>`, in one write. The driver extracts that timestamp with
//! the readiness regex; the lifecycle engine records the wall-clock time of the `Started`
//! transition (`Transition.at`). Their difference is the detection latency: pipe → output pump
//! → line dispatch → readiness wake-up → exports published → `Started`.
//! Target: median < 1 ms. Baseline: testplan's `App` checks its log for the ready line on a
//! poll interval lower-bounded at 0.1 s, so it notices the line ~50 ms after it is printed on
//! average (up to 100 ms).
//!
//! Three cases: the child prints at once (often before the driver has begun to wait, so the
//! line is found already there), the child prints after a 10 ms pause (the driver is waiting:
//! this is the wake-up path), and the child appends its line to a log file after 10 ms (inotify).
//! Also shown: spawn-to-started (`Starting` → `Started`, monotonic), which includes fork/exec,
//! the child's startup and its pause. Each case runs on a current-thread runtime (that of
//! `#[tokio::test]`) and on the default multi-thread runtime.

use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use testrig::process::Stream;
use testrig::{Environment, Status};
use testrig_drivers::app::App;

const RUNS: usize = 50;
const MODE: &str = "TESTRIG_BENCH_APP_CHILD";

fn main() {
    if let Ok(mode) = std::env::var(MODE) {
        child(&mode);
    }
    println!("App readiness detection, {RUNS} runs each (target: median < 1 ms;");
    println!("testplan polls at >= 0.1 s: ~50 ms on average)\n");
    println!(
        "{:<22} {:<14} {:>10} {:>10} {:>10}   {:>14} {:>14}",
        "readiness", "runtime", "median", "p90", "max", "spawn→started", "p90"
    );
    for (label, flavour) in [("current-thread", false), ("multi-thread", true)] {
        let runtime = if flavour {
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
        } else {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
        }
        .expect("a tokio runtime");
        for readiness in [
            Readiness::StdoutAtOnce,
            Readiness::StdoutLater,
            Readiness::LogFileLater,
        ] {
            let samples = runtime.block_on(measure(readiness));
            print_row(readiness.label(), label, samples);
        }
    }
}

#[derive(Clone, Copy)]
enum Readiness {
    /// The child prints its line as soon as it runs, often before the driver waits for it.
    StdoutAtOnce,
    /// The child prints its line after a pause, while the driver waits: the wake-up path.
    StdoutLater,
    /// The child appends its line to a log file after a pause.
    LogFileLater,
}

impl Readiness {
    fn label(self) -> &'static str {
        match self {
            Readiness::StdoutAtOnce => "stdout, at once",
            Readiness::StdoutLater => "stdout, after 10 ms",
            Readiness::LogFileLater => "log file, after 10 ms",
        }
    }

    fn child_mode(self) -> &'static str {
        match self {
            Readiness::StdoutAtOnce => "stdout 0",
            Readiness::StdoutLater => "stdout 10",
            Readiness::LogFileLater => "log-file 10",
        }
    }
}

struct Sample {
    detection: Duration,
    spawn_to_started: Duration,
}

async fn measure(readiness: Readiness) -> Vec<Sample> {
    let root = std::env::temp_dir().join(format!("testrig-bench-app-{}", std::process::id()));
    let me = std::env::current_exe().expect("this program's path");
    let regex = r"^ready at (?P<at>\d+)$";
    let mut samples = Vec::with_capacity(RUNS);
    for run in 0..RUNS {
        let app = App::new("child", &me).env(MODE, readiness.child_mode());
        let app = match readiness {
            Readiness::StdoutAtOnce | Readiness::StdoutLater => app.ready_on(Stream::Stdout, regex),
            Readiness::LogFileLater => app.ready_on_log_file("child.log", regex),
        };
        let env = Environment::builder("bench")
            .runpath(root.join(run.to_string()))
            .driver(app)
            .build()
            .expect("a valid environment");
        env.start().await.expect("the child starts");
        let resource = env.resource("child").expect("the child driver");
        let history = resource.report().transitions;
        let at = |status| {
            history
                .iter()
                .find(|t| t.to == status)
                .expect("the transition happened")
                .clone()
        };
        let (starting, started) = (at(Status::Starting), at(Status::Started));
        let printed_ns: u64 = resource.report().exports["at"]
            .to_string()
            .parse()
            .expect("a timestamp");
        let printed = UNIX_EPOCH + Duration::from_nanos(printed_ns);
        samples.push(Sample {
            detection: started.at.duration_since(printed).unwrap_or_default(),
            spawn_to_started: started.elapsed - starting.elapsed,
        });
        env.stop().await.expect("the child stops");
    }
    let _ = std::fs::remove_dir_all(&root);
    samples
}

fn print_row(readiness: &str, runtime: &str, samples: Vec<Sample>) {
    let percentile = |mut values: Vec<Duration>, p: usize| {
        values.sort();
        values[(values.len() * p / 100).min(values.len() - 1)]
    };
    let detection: Vec<Duration> = samples.iter().map(|s| s.detection).collect();
    let total: Vec<Duration> = samples.iter().map(|s| s.spawn_to_started).collect();
    println!(
        "{:<22} {:<14} {:>10} {:>10} {:>10}   {:>14} {:>14}",
        readiness,
        runtime,
        micros(percentile(detection.clone(), 50)),
        micros(percentile(detection.clone(), 90)),
        micros(percentile(detection, 100)),
        micros(percentile(total.clone(), 50)),
        micros(percentile(total, 90)),
    );
}

fn micros(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

/// The child: after `<pause>` ms, prints (or appends to `child.log`) its ready line with the
/// time it was written, then waits to be stopped. `mode` is `<where> <pause>`.
fn child(mode: &str) -> ! {
    let (target, pause) = mode.split_once(' ').expect("`<where> <pause>`");
    std::thread::sleep(Duration::from_millis(pause.parse().expect("a pause in ms")));
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after the epoch")
        .as_nanos();
    let line = format!("ready at {now}\n");
    match target {
        "stdout" => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(line.as_bytes()).expect("write stdout");
            stdout.flush().expect("flush stdout");
        }
        "log-file" => {
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open("child.log")
                .expect("open child.log");
            file.write_all(line.as_bytes()).expect("write child.log");
        }
        other => panic!("unknown mode {other}"),
    }
    std::thread::sleep(Duration::from_secs(3600));
    std::process::exit(0);
}
