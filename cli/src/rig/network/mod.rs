//! The emulated network of a rig: `[network]`, `[[host]]`, `[[link]]` and
//! `[[switch]]`, read into [`NetworkDecl`] and built into a
//! [`testrig::network::Network`] with the Rust builder's own words.

mod build;
mod netem;
mod sections;
mod ssh;
mod strings;

pub(crate) use netem::NetemOptions;
pub(crate) use sections::{LinkSection, NetworkDecl, NetworkHeader, SwitchSection};
pub(crate) use strings::Strings;
