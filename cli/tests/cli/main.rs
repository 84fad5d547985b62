//! The `testrig` binary, run as a user runs it: real rigs, real sockets on
//! 127.0.0.1, real signals.

mod agent;
mod app;
mod bad_rigs;
mod check;
mod connect;
mod doc_samples;
mod hangup;
mod iperf;
mod iperf_interrupt;
mod iperf_remote;
mod live;
mod network;
mod paths;
mod remote;
mod report_dir;
mod rig_files;
mod run;
mod support;
mod toxiproxy_api;
mod up;
