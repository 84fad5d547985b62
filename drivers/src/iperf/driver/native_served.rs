//! A native server under supervision: its served tests are forwarded to the driver, and
//! its end while the driver is started is reported as a death.

use std::time::Duration;

use testrig::Supervisor;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::iperf::engine::NativeServer;
use crate::iperf::engine::server::ServedTest;
use crate::iperf::error::IperfError;

/// How many served tests nobody has read the driver keeps (newer ones are dropped).
pub(super) const SERVED_CAPACITY: usize = 64;

/// How long each wait on the server lasts before it is renewed; only bounds the wait, an
/// end or a test wakes it at once.
const RENEW_WAIT: Duration = Duration::from_secs(3600);

/// Forwards `handle`'s tests to `served` until `cancel` fires (then shuts the server down
/// and returns) or the server stops by itself (then reports the death to `supervisor`).
pub(super) fn supervise(
    mut handle: NativeServer,
    served: mpsc::Sender<ServedTest>,
    cancel: CancellationToken,
    supervisor: Supervisor,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = cancel.cancelled() => {
                    handle.shutdown().await;
                    return;
                }
                next = handle.next_test(RENEW_WAIT) => match next {
                    Ok(test) => {
                        let _ = served.try_send(test);
                    }
                    Err(IperfError::Timeout { .. }) => {}
                    Err(error) => {
                        supervisor.died(format!("the native iperf server stopped serving: {error}"));
                        return;
                    }
                }
            }
        }
    })
}
