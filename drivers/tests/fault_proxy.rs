//! The fault proxy with real sockets on 127.0.0.1: each toxic checked as
//! Toxiproxy's own tests check it, run-time changes on live connections,
//! disable/enable, reconnecting clients through the proxy, many connections, and
//! nothing left behind after stop.

#[path = "fault_proxy/support.rs"]
mod support;

#[path = "fault_proxy/toxics.rs"]
mod toxics;

#[path = "fault_proxy/controls.rs"]
mod controls;

#[path = "fault_proxy/clients.rs"]
mod clients;

#[path = "fault_proxy/scale.rs"]
mod scale;

#[path = "fault_proxy/api.rs"]
mod api;

#[path = "fault_proxy/python_client.rs"]
mod python_client;
