//! Serializing messages and building responses (RFC 3261 §8.2.6).
//! SKELETON: signatures fixed; bodies are being written.

use super::{Message, Method, Request, Response};
use bytes::Bytes;

impl Request {
    /// A new request with no headers.
    pub fn new(method: Method, uri: impl Into<Bytes>) -> Request {
        todo!()
    }
    /// Appends the wire form to `out`; Content-Length is written from the body.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        todo!()
    }
    pub fn to_bytes(&self) -> Bytes {
        todo!()
    }
}

impl Response {
    /// A response to `req` with Via, From, To, Call-ID and CSeq copied from it
    /// (§8.2.6.2); the caller adds a To tag when it creates a dialog.
    pub fn for_request(req: &Request, status: u16, reason: &str) -> Response {
        todo!()
    }
    pub fn write_to(&self, out: &mut Vec<u8>) {
        todo!()
    }
    pub fn to_bytes(&self) -> Bytes {
        todo!()
    }
}

impl Message {
    pub fn to_bytes(&self) -> Bytes {
        todo!()
    }
}

/// The default reason phrase of a status code (RFC 3261 §21).
pub fn reason_phrase(status: u16) -> &'static str {
    todo!()
}
