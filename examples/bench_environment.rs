//! Framework overhead: bring-up + teardown of 100 trivial in-process drivers in 50
//! dependent pairs (each second driver references the first one's exported value).
//!
//! Run: `cargo run --release --example bench_environment`
//!
//! Baseline (issue 2, same shape on this machine): testplan needs 1.76 s with 50
//! TCP server/client pairs started one by one, 2.95 s with its dependency scheduler.

use std::time::{Duration, Instant};

use testrig::testing::ScriptedDriver;
use testrig::{Environment, Ref, Value};

const PAIRS: usize = 50;
const ROUNDS: usize = 200;

fn environment() -> Environment {
    let mut builder =
        Environment::builder("bench").runpath(std::env::temp_dir().join("testrig-bench"));
    for i in 0..PAIRS {
        let first = format!("first{i}");
        builder = builder
            .driver(ScriptedDriver::new(first.clone()).export("value", i))
            .driver(
                ScriptedDriver::new(format!("second{i}"))
                    .needs(Ref::<Value>::export(first, "value")),
            );
    }
    builder.build().expect("a valid environment")
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn p90(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() * 9 / 10]
}

#[tokio::main]
async fn main() {
    let (mut build, mut start, mut stop, mut total) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS + 20 {
        let t0 = Instant::now();
        let env = environment();
        let t1 = Instant::now();
        env.start().await.expect("starts");
        let t2 = Instant::now();
        env.stop().await.expect("stops");
        let t3 = Instant::now();
        let second = env.get::<ScriptedDriver>("second7").unwrap();
        assert_eq!(second.resolved()["first7.value"], Value::from(7u16));
        if round >= 20 {
            // The first rounds warm up allocator and runtime.
            build.push(t1 - t0);
            start.push(t2 - t1);
            stop.push(t3 - t2);
            total.push(t3 - t0);
        }
    }
    let fmt = |d: Duration| format!("{:8.3} ms", d.as_secs_f64() * 1e3);
    println!("100 drivers in {PAIRS} dependent pairs, {ROUNDS} rounds (release build)");
    println!("{:<24}{:>12}{:>12}", "", "median", "p90");
    for (label, samples) in [
        ("build", &mut build),
        ("start", &mut start),
        ("stop", &mut stop),
        ("total", &mut total),
    ] {
        println!(
            "{label:<24}{:>12}{:>12}",
            fmt(median(samples)),
            fmt(p90(samples))
        );
    }
    let total_median = median(&mut total);
    println!();
    println!(
        "testrig total (median)   {}   target < 5 ms: {}",
        fmt(total_median),
        if total_median < Duration::from_millis(5) {
            "MET"
        } else {
            "MISSED"
        }
    );
    println!(
        "testplan, one by one     {}",
        fmt(Duration::from_millis(1760))
    );
    println!(
        "testplan, dependencies   {}",
        fmt(Duration::from_millis(2950))
    );
    println!(
        "speed-up vs testplan     {:.0}x",
        1.76 / total_median.as_secs_f64()
    );
}
