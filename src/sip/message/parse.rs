//! Parsing: one message from a datagram (UDP) or a stream of messages (TCP).
//! SKELETON: signatures fixed; bodies are being written.

use super::Message;
use bytes::Bytes;

/// Why a message could not be parsed or fails a sanity rule. `Display` names the
/// problem precisely; the UAS puts it in the 400 reason phrase and the debug log.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("bad start line: {0}")]
    StartLine(String),
    #[error("bad header {name}: {reason}")]
    Header { name: String, reason: String },
    #[error("missing header {0}")]
    Missing(&'static str),
    #[error("header {0} appears more than once")]
    Duplicate(&'static str),
    #[error("body: {0}")]
    Body(String),
    #[error("incomplete message")]
    Incomplete,
    #[error("message too large ({0} bytes)")]
    TooLarge(usize),
}

/// Parses one message from a datagram. Octets after the Content-Length body are ignored
/// (RFC 3261 §18.3, RFC 4475 `dblreq`); a body shorter than Content-Length is an error;
/// without Content-Length the body is the rest of the datagram.
pub fn parse_datagram(data: Bytes) -> Result<Message, ParseError> {
    todo!()
}

/// Splits a TCP byte stream into messages by Content-Length (RFC 3261 §18.3); leading
/// CRLFs (keep-alives, RFC 5626 §4.4.1) are skipped.
#[derive(Default)]
pub struct StreamFramer {
    _buf: bytes::BytesMut,
}

impl StreamFramer {
    pub fn new() -> StreamFramer {
        todo!()
    }
    pub fn push(&mut self, data: &[u8]) {
        todo!()
    }
    /// The next complete message, `None` when more bytes are needed. After an `Err`
    /// the stream cannot be resynchronised: the caller closes the connection.
    pub fn next_message(&mut self) -> Option<Result<Message, ParseError>> {
        todo!()
    }
}
