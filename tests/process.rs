//! Integration tests of `testrig::process`, with real programs: `sh`, `sleep`, `seq`, and this
//! test binary itself acting as a helper program (see `support::helper`).

#[path = "process/support.rs"]
mod support;

#[path = "process/containment.rs"]
mod containment;
#[path = "process/monitor.rs"]
mod monitor;
#[path = "process/output.rs"]
mod output;
#[path = "process/spawning.rs"]
mod spawning;
#[path = "process/stopping.rs"]
mod stopping;

/// Not a test: the helper program the other tests run, by re-executing this binary with
/// `--ignored --exact helper_program` and the mode in an environment variable.
#[test]
#[ignore = "the helper program other tests run; not a test by itself"]
fn helper_program() {
    support::helper::main();
}
