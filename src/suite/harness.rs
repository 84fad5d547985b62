use tokio::runtime::Runtime;

use super::interrupt::Interrupt;
use super::session::Session;

/// What the test trials share: the runtime, the signal listener and each
/// suite's session. Trials run one at a time, in declaration order.
#[derive(Debug)]
pub(crate) struct Harness {
    runtime: Option<Runtime>,
    /// Created inside the runtime at the first case.
    interrupt: Option<Interrupt>,
    handle_signals: bool,
    pub(crate) sessions: Vec<Session>,
}

impl Harness {
    /// A harness on `runtime`, or on a multi-threaded runtime it builds at the
    /// first case; listening for SIGINT/SIGTERM from then on if `handle_signals`.
    pub(crate) fn new(runtime: Option<Runtime>, handle_signals: bool) -> Self {
        Self {
            runtime,
            interrupt: None,
            handle_signals,
            sessions: Vec::new(),
        }
    }

    /// Runs case `case` of suite `suite`; `Err` is the failure message.
    pub(crate) fn run_case(&mut self, suite: usize, case: usize) -> Result<(), String> {
        if let Some(signal) = self.interrupt.as_ref().and_then(Interrupt::received) {
            return Err(format!("not run: the run was interrupted by {signal}"));
        }
        let runtime = runtime(&mut self.runtime)?;
        let (session, interrupt) = (&mut self.sessions[suite], &mut self.interrupt);
        let handle_signals = self.handle_signals;
        runtime.block_on(async {
            let interrupt = interrupt.get_or_insert_with(|| {
                if handle_signals {
                    Interrupt::listen()
                } else {
                    Interrupt::ignore_signals()
                }
            });
            session.run_case(case, interrupt).await
        })
    }

    /// The summaries of the suites that did not pass, to print after the run.
    pub(crate) fn failure_summaries(&mut self) -> Vec<String> {
        self.sessions
            .iter_mut()
            .filter_map(Session::take_failure_summary)
            .collect()
    }

    /// Tears down every suite still up (a backstop: each suite is torn down
    /// after its last selected case); returns what went wrong.
    pub(crate) fn finish_all(&mut self) -> Vec<String> {
        if self.sessions.iter().all(Session::is_finished) {
            return Vec::new();
        }
        let runtime = match runtime(&mut self.runtime) {
            Ok(runtime) => runtime,
            Err(error) => return vec![error],
        };
        let sessions = &mut self.sessions;
        runtime.block_on(async {
            let mut problems = Vec::new();
            for session in sessions.iter_mut() {
                problems.extend(session.finish().await);
            }
            problems
        })
    }
}

/// The harness's runtime, built at first use.
fn runtime(slot: &mut Option<Runtime>) -> Result<&Runtime, String> {
    match slot {
        Some(runtime) => Ok(runtime),
        None => {
            let built = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("not run: cannot build the tokio runtime: {e}"))?;
            Ok(slot.insert(built))
        }
    }
}
