//! The reconnecting client service (Twisted `ClientService` parity).
//!
//! A [`ClientService`] keeps one connection to a target: it connects through a
//! [`Connector`], retries after failures and losses as its [`RetryPolicy`] says, runs an
//! optional `prepare_connection` hook on every new connection, and hands the live
//! connection to [`ClientService::when_connected`] callers. [`TcpConnector`] is the TCP
//! transport.

mod actor;
mod builder;
mod client_service;
mod connector;
mod error;
mod event;
mod jitter;
mod policy;
mod shared;
mod state;
mod tcp;

pub use builder::{ClientServiceBuilder, DEFAULT_CONNECT_TIMEOUT, DEFAULT_DISCONNECT_TIMEOUT};
pub use client_service::ClientService;
pub use connector::{Connection, Connector};
pub use error::{ServiceError, SharedError};
pub use event::ServiceEvent;
pub use policy::RetryPolicy;
pub use state::ServiceState;
pub use tcp::{TcpConnection, TcpConnector};
