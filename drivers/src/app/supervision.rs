//! Supervision of a started program: its death moves the driver to `Failed`.

use testrig::Supervisor;
use testrig::process::Process;
use tokio_util::sync::CancellationToken;

use super::Expectation;

/// Watches `process` until it ends or `cancel` fires, and reports an end that was
/// neither asked for (stop, kill) nor expected (a task's exit code) to `supervisor`.
///
/// A deliberate stop cancels the watch before sending the stop signal, so it never
/// counts as a death (and an end testrig asked for is accepted anyway).
pub(super) fn supervise(
    process: Process,
    expectation: Expectation,
    supervisor: Supervisor,
    cancel: CancellationToken,
) {
    tokio::spawn(async move {
        let exit = tokio::select! {
            () = cancel.cancelled() => return,
            exit = process.exited() => exit,
        };
        if expectation.accepts(exit) {
            tracing::debug!(process = %process.name(), pid = process.pid(), %exit, "the program ended as expected");
            return;
        }
        let reason = format!(
            "the program (pid {}) {exit}; expected: it {expectation}",
            process.pid()
        );
        supervisor.died(reason);
    });
}
