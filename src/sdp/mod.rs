//! SDP offer/answer (RFC 3264) for SIP legs.
//!
//! Parsing and writing SDP text is the `sdp-types` crate's job: it is lenient where real
//! peers are sloppy (missing `o=`/`s=`/`t=`, lines out of order, unknown attributes kept
//! as text), while `webrtc-sdp` rejects offers without `t=` or a `c=` per stream.
//! Negotiation is ours: which codec, which payload type numbers, telephone-event,
//! ptime, direction and hold.
//!
//! Layout: `codec.rs` (codecs and the payload formats of an m-line), `negotiate.rs`
//! (answering offers, reading answers), `write.rs` (our own SDP text), `body.rs`
//! (finding SDP in a SIP body, multipart included).

mod body;
mod codec;
mod negotiate;
mod write;

#[cfg(test)]
mod tests;

pub use body::sdp_body;
pub use codec::{Codec, DTMF_PT};
pub use negotiate::{answer, offer, read_answer};

use std::net::{IpAddr, SocketAddr};

/// Media direction of a stream, from the point of view of whoever wrote it (RFC 3264 §5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    pub fn from_flags(send: bool, recv: bool) -> Direction {
        match (send, recv) {
            (true, true) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (false, false) => Direction::Inactive,
        }
    }

    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }

    /// The attribute name (`a=sendrecv` …).
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// Case-insensitive attribute name to direction.
    pub fn from_attribute(name: &str) -> Option<Direction> {
        [
            Direction::SendRecv,
            Direction::SendOnly,
            Direction::RecvOnly,
            Direction::Inactive,
        ]
        .into_iter()
        .find(|d| name.trim().eq_ignore_ascii_case(d.as_str()))
    }

    /// What we may do given what we want (`self`) and what the peer declared: we send
    /// only if the peer receives, we receive only if the peer sends.
    pub fn answer_to(self, remote: Direction) -> Direction {
        Direction::from_flags(
            self.sends() && remote.receives(),
            self.receives() && remote.sends(),
        )
    }
}

/// Our side of an audio stream: what we offer or accept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalMedia {
    /// Address written in `c=` and `o=` (IPv6 gives `IN IP6`).
    pub addr: IpAddr,
    /// Our RTP port (RTCP on port + 1).
    pub port: u16,
    /// Codecs in our order of preference. When empty, [`offer`] offers PCMA and PCMU
    /// (G.711 is always possible) and [`answer`] finds no common codec.
    pub codecs: Vec<Codec>,
    /// Our packetization time, used when the peer states none we support (10–60 ms).
    pub ptime_ms: u32,
    /// Whether to negotiate RFC 4733 telephone-event (DTMF).
    pub telephone_event: bool,
    /// `o=` session id: random per call, never changes.
    pub session_id: u64,
    /// `o=` session version: the caller bumps it whenever our SDP changes (re-INVITE).
    pub session_version: u64,
    /// What we want: `SendRecv` normally, `SendOnly` to put the peer on hold,
    /// `Inactive` to stop media both ways.
    pub direction: Direction,
}

/// The outcome of an offer/answer exchange: how to send and receive RTP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Negotiated {
    pub codec: Codec,
    /// Payload type number for `codec` (the offer's number, which may be dynamic).
    pub pt: u8,
    /// Payload type of telephone-event, when both sides do RFC 4733 DTMF.
    pub dtmf_pt: Option<u8>,
    pub ptime_ms: u32,
    /// Where to send RTP (RTCP goes to port + 1). `0.0.0.0` when the peer holds with it.
    pub remote_rtp: SocketAddr,
    /// The direction on our side of the stream: whether we may send and should expect
    /// to receive.
    pub local_direction: Direction,
    /// The direction the peer declared, with an unspecified `c=` address (old-style hold)
    /// counted as "does not receive".
    pub remote_direction: Direction,
    /// remote put us on hold (sendonly/inactive or c=0.0.0.0)
    pub on_hold: bool,
}

/// Our answer to an offer: the SDP to send and what it settles.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub sdp: bytes::Bytes,
    pub negotiated: Negotiated,
}

/// Why an SDP body cannot be used. [`SdpError::status`] and [`SdpError::warning_code`]
/// give the SIP response to send; the message is one line, fit for a `Warning` header.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SdpError {
    #[error("SDP does not parse: {0}; send RFC 8866 SDP")]
    Parse(String),
    #[error(
        "SDP has no usable audio stream: offer an m=audio line with RTP/AVP and a non-zero port"
    )]
    NoAudio,
    #[error(
        "no codec in common: the peer offers {offered}; \
         it must offer one of this leg's codecs (PCMU or PCMA at 8000 Hz)"
    )]
    NoCommonCodec { offered: String },
    #[error(
        "audio transport {proto} is not supported: offer plain RTP (RTP/AVP or RTP/AVPF), not SRTP"
    )]
    UnsupportedTransport { proto: String },
    #[error(
        "audio connection address is unusable: {0}; write c=IN IP4 <address> or c=IN IP6 <address>"
    )]
    BadConnection(String),
    #[error(
        "body type {0} is not SDP: send application/sdp or multipart/mixed with an application/sdp part"
    )]
    UnsupportedBody(String),
    #[error("malformed multipart body: {0}")]
    BadMultipart(String),
}

impl SdpError {
    /// SIP status for a request whose body fails so: 415 (with `Accept: application/sdp`)
    /// for a body type we do not read, 400 for a broken multipart body, 488 for SDP we
    /// cannot answer.
    pub fn status(&self) -> u16 {
        match self {
            SdpError::UnsupportedBody(_) => 415,
            SdpError::BadMultipart(_) => 400,
            _ => 488,
        }
    }

    /// RFC 3261 §20.43 warn-code for the `Warning` header of a 488.
    pub fn warning_code(&self) -> u16 {
        match self {
            SdpError::NoAudio => 304,                     // Media type not available
            SdpError::NoCommonCodec { .. } => 305,        // Incompatible media format
            SdpError::UnsupportedTransport { .. } => 302, // Incompatible transport protocol
            SdpError::BadConnection(_) => 301,            // Incompatible network address formats
            _ => 399,                                     // Miscellaneous warning
        }
    }
}
