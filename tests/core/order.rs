use std::time::Instant;

use testrig::Environment;
use testrig::testing::{Event, Journal, ScriptedDriver};

use crate::support::ms;

#[tokio::test]
async fn start_order_follows_dependencies_and_stop_order_is_the_reverse() {
    let journal = Journal::new();
    let d = |name| ScriptedDriver::new(name).journal(&journal);
    let env = Environment::builder("order")
        .driver(d("app"))
        .driver(d("cache"))
        .driver(d("db"))
        .depends_on("app", "cache")
        .depends_on("cache", "db")
        .build()
        .unwrap();
    env.start().await.unwrap();
    assert_eq!(journal.order_of(Event::Ready), ["db", "cache", "app"]);
    env.stop().await.unwrap();
    assert_eq!(journal.order_of(Event::StopCalled), ["app", "cache", "db"]);
}

#[tokio::test]
async fn a_slow_driver_does_not_delay_an_independent_fast_one() {
    let journal = Journal::new();
    let env = Environment::builder("concurrent")
        .driver(
            ScriptedDriver::new("slow")
                .start_delay(ms(300))
                .journal(&journal),
        )
        .driver(ScriptedDriver::new("fast").journal(&journal))
        .driver(ScriptedDriver::new("after_fast").journal(&journal))
        .depends_on("after_fast", "fast")
        .build()
        .unwrap();
    let began = Instant::now();
    env.start().await.unwrap();
    let fast = journal.time_of("fast", Event::Ready).unwrap();
    let after_fast = journal.time_of("after_fast", Event::Ready).unwrap();
    let slow = journal.time_of("slow", Event::Ready).unwrap();
    assert!(
        fast - began < ms(100),
        "fast was ready after {:?}",
        fast - began
    );
    assert!(
        after_fast < slow,
        "the chain behind `fast` waited for `slow`"
    );
    assert!(slow - began >= ms(300));
    env.stop().await.unwrap();
}

#[tokio::test]
async fn independent_drivers_stop_concurrently_and_dependents_first() {
    let journal = Journal::new();
    let env = Environment::builder("stop")
        .driver(ScriptedDriver::new("base").journal(&journal))
        .driver(
            ScriptedDriver::new("left")
                .stop_delay(ms(200))
                .journal(&journal),
        )
        .driver(
            ScriptedDriver::new("right")
                .stop_delay(ms(200))
                .journal(&journal),
        )
        .depends_on("left", "base")
        .depends_on("right", "base")
        .build()
        .unwrap();
    env.start().await.unwrap();
    let began = Instant::now();
    env.stop().await.unwrap();
    let took = began.elapsed();
    assert!(
        took < ms(380),
        "two 200 ms stops took {took:?}: not concurrent"
    );
    let base_stop = journal.time_of("base", Event::StopCalled).unwrap();
    assert!(base_stop >= journal.time_of("left", Event::StopDone).unwrap());
    assert!(base_stop >= journal.time_of("right", Event::StopDone).unwrap());
}

#[tokio::test]
async fn stop_is_idempotent() {
    let journal = Journal::new();
    let env = Environment::builder("twice")
        .driver(ScriptedDriver::new("a").journal(&journal))
        .build()
        .unwrap();
    env.start().await.unwrap();
    env.stop().await.unwrap();
    env.stop().await.unwrap();
    assert_eq!(journal.count("a", Event::StopCalled), 1);
}
