//! Media: RTP sessions, G.711, DTMF, prompts, tones, recording (DESIGN.md `media/`).
//! Pure building blocks here; the worker threads that own sockets and calls tick them.

pub mod bridge;
pub mod dtmf;
pub mod g711;
pub mod mixer;
pub mod opus;
pub mod player;
pub mod ports;
pub mod recorder;
pub mod resample;
pub mod rtp;
pub mod tone;
pub mod worker;
