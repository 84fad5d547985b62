//! Integration tests of `testrig::network`: real namespaces, veths, bridges, routes and
//! qdiscs, real sockets created inside the hosts by this one test process. Traffic goes only
//! to addresses of the namespaces the tests create; every transfer is bounded.
//!
//! Without the privileges to create namespaces each test prints `skip: <what is missing>`,
//! and fails when `CI` is set.

#[path = "network/support.rs"]
mod support;

#[path = "network/environment.rs"]
mod environment;
#[path = "network/faults.rs"]
mod faults;
#[path = "network/leaks.rs"]
mod leaks;
#[path = "network/shaping.rs"]
mod shaping;
#[path = "network/traffic.rs"]
mod traffic;
