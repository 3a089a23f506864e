//! WebRTC (DESIGN.md `webrtc/`): the agents' browser softphones reach calls through one
//! gateway thread running many str0m peers (sans-IO) on one UDP socket.

pub mod gateway;
mod outbox;
pub mod peer;
mod socket;

pub use gateway::{GatewayEvent, GatewayHandle, WebrtcError, start};
pub use peer::PeerId;
