//! Media: RTP port allocation now; RTP sessions, codecs and the rest come with the media core.

pub mod ports;
