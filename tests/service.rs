//! `ClientService`: Twisted parity, the fixes over Twisted, and TCP.

#[path = "service/better_than_twisted.rs"]
mod better_than_twisted;
#[path = "service/support.rs"]
mod support;
#[path = "service/tcp.rs"]
mod tcp;
#[path = "service/twisted_parity.rs"]
mod twisted_parity;
