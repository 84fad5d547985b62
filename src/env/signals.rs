use tokio::signal::unix::{SignalKind, signal};

/// Resolves with the name of the first SIGINT or SIGTERM received.
///
/// Note that once listened for, tokio keeps these signals handled for the rest of
/// the process: they no longer kill it by default. Programs that use this should
/// exit after their teardown.
pub async fn shutdown_signal() -> &'static str {
    let (interrupt, terminate) = match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(i), Ok(t)) => (i, t),
        (Err(e), _) | (_, Err(e)) => {
            tracing::warn!(error = %e, "cannot listen for SIGINT/SIGTERM; signals will not stop the environment");
            return std::future::pending().await;
        }
    };
    let (mut interrupt, mut terminate) = (interrupt, terminate);
    tokio::select! {
        _ = interrupt.recv() => "SIGINT",
        _ = terminate.recv() => "SIGTERM",
    }
}
