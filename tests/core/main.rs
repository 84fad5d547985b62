//! Core behaviour: lifecycle, environments, references, teardown, reports.
//! Real tokio runtime, real sockets on 127.0.0.1 where drivers hold them.

mod dead_drivers;
mod failures;
mod lifecycle;
mod order;
mod references;
mod reports;
mod support;
mod teardown;
