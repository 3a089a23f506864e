//! RTP sessions, jitter buffer, RTCP. Being written.
