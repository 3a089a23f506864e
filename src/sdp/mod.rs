//! SDP offer/answer for SIP legs. Being written.
