//! The reconnecting client service (Twisted `ClientService` parity).
