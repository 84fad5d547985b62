//! A case's panic, kept for the failure report instead of printed in the middle of
//! libtest's lines: where it happened (file:line:column), and the backtrace when
//! `RUST_BACKTRACE` asks for one.

use std::sync::{Arc, Mutex};

/// What a panic inside a step left: its location, and a backtrace if asked for.
#[derive(Debug, Clone, Default)]
pub(crate) struct PanicSite {
    pub(crate) location: Option<String>,
    pub(crate) backtrace: Option<String>,
}

type Slot = Arc<Mutex<Option<PanicSite>>>;

tokio::task_local! {
    /// Set while a step's task runs: where its panic is kept.
    static CAPTURE: Slot;
}

/// Runs `step` so that a panic in it is kept in the returned slot instead of being
/// printed (once [`Hook::install`] is in place).
pub(crate) fn capturing<F: std::future::Future>(
    step: F,
) -> (Slot, impl std::future::Future<Output = F::Output>) {
    let slot = Slot::default();
    (Arc::clone(&slot), CAPTURE.scope(slot, step))
}

/// The panic hook of a suite run: a panic in a step is recorded, not printed; any
/// other panic goes to the hook that was there before. Restored on drop.
pub(crate) struct Hook {
    previous: Option<Arc<PanicHook>>,
}

type PanicHook = Box<dyn Fn(&std::panic::PanicHookInfo<'_>) + Send + Sync>;

impl Hook {
    pub(crate) fn install() -> Self {
        let previous = Arc::new(std::panic::take_hook());
        let chained = Arc::clone(&previous);
        std::panic::set_hook(Box::new(move |info| {
            let kept = CAPTURE.try_with(|slot| {
                let site = PanicSite {
                    location: info
                        .location()
                        .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column())),
                    backtrace: backtrace_if_asked(),
                };
                *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(site);
            });
            if kept.is_err() {
                chained(info);
            }
        }));
        Self {
            previous: Some(previous),
        }
    }
}

impl Drop for Hook {
    fn drop(&mut self) {
        // Ours holds the other reference to the previous hook: drop it first.
        drop(std::panic::take_hook());
        if let Some(previous) = self.previous.take().and_then(|p| Arc::try_unwrap(p).ok()) {
            std::panic::set_hook(previous);
        }
    }
}

fn backtrace_if_asked() -> Option<String> {
    let backtrace = std::backtrace::Backtrace::capture();
    match backtrace.status() {
        std::backtrace::BacktraceStatus::Captured => Some(short(&backtrace.to_string())),
        _ => None,
    }
}

/// The frames that matter, as the default hook's short backtrace shows them: from the
/// one after the panic machinery to the one before the async runtime's.
fn short(full: &str) -> String {
    let mut frames: Vec<Vec<&str>> = Vec::new();
    for line in full.lines() {
        let starts_frame = line
            .trim_start()
            .split_once(':')
            .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        match frames.last_mut() {
            Some(frame) if !starts_frame => frame.push(line),
            _ => frames.push(vec![line]),
        }
    }
    fn name<'a>(frame: &[&'a str]) -> &'a str {
        frame[0].split_once(':').map_or("", |(_, n)| n).trim()
    }
    let first = frames
        .iter()
        .rposition(|f| name(f).starts_with("core::panicking") || name(f).contains("begin_unwind"))
        .map_or(0, |i| i + 1);
    let last = frames[first..]
        .iter()
        .position(|f| {
            let name = name(f);
            name.starts_with("tokio::")
                || name.starts_with("<tokio::")
                || name.starts_with("std::rt")
        })
        .map_or(frames.len(), |i| first + i);
    frames[first..last]
        .iter()
        .flatten()
        .copied()
        .collect::<Vec<_>>()
        .join("\n")
}
