//! Hotline: a call-center softswitch. See `DESIGN.md` in the shared docs for the picture;
//! each module below owns one part of the call path.

pub mod acd;
pub mod api;
pub mod call;
pub mod cli;
pub mod config;
pub mod ivr;
pub mod media;
pub mod region;
pub mod sdp;
pub mod sip;
pub mod store;
pub mod tts;
pub mod udp_options;
pub mod webrtc;
