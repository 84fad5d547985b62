//! Drivers for testing testrig itself and for writing examples: scripted
//! behaviour (slow, failing, dying) over real sockets.

mod journal;
mod scripted;

pub use journal::{Entry, Event, Journal};
pub use scripted::ScriptedDriver;
