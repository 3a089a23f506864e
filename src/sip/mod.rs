//! SIP: messages (ours), transactions and dialogs (sans-IO), registrar, digest auth,
//! and the tokio transports that drive them.

pub mod auth;
pub mod endpoint;
pub mod message;
pub mod registrar;
pub mod transaction;
pub mod transport;
