//! The SIP message model (RFC 3261 §7, §20, §25): zero-copy over `bytes::Bytes`.
//!
//! A parsed message keeps every header as its raw value (a `Bytes` slice of the
//! datagram, or a fresh buffer only when line folding had to be unfolded); typed views
//! (`Via`, `NameAddr`, `CSeq`, …) are parsed on demand by the accessors on
//! [`Headers`], so a proxy-ish path that only needs Call-ID and CSeq never pays for the
//! rest. Serializing writes headers back as they are, with Content-Length recomputed.
//!
//! Layout: `method.rs` (methods), `header.rs` (names, compact forms, the header list),
//! `lex.rs` (character classes and a value cursor shared by the rest),
//! `uri.rs` (SIP/SIPS/tel URIs), `typed.rs` (typed header values and their accessors),
//! `grammar.rs` (the header productions behind them), `parse.rs` (datagram
//! and stream parsing), `validate.rs` (request/response sanity rules of RFC 3261 §8.2
//! and RFC 4475), `build.rs` (serializer and response builder).

mod build;
mod grammar;
mod header;
mod lex;
mod method;
mod parse;
mod typed;
mod uri;
mod validate;

#[cfg(test)]
mod tests;

pub use build::*;
pub use header::*;
pub use method::*;
pub use parse::*;
pub use typed::*;
pub use uri::*;
pub use validate::*;

use bytes::Bytes;

/// A SIP request. `uri` is the raw Request-URI text; [`Uri::parse`] types it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    pub uri: Bytes,
    /// As written on the request line, e.g. `SIP/2.0` (kept so a UAS can answer 505).
    pub version: Bytes,
    pub headers: Headers,
    pub body: Bytes,
}

/// A SIP response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub version: Bytes,
    pub status: u16,
    pub reason: Bytes,
    pub headers: Headers,
    pub body: Bytes,
}

/// Either kind of message, as it comes off the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    Request(Request),
    Response(Response),
}

impl Message {
    pub fn headers(&self) -> &Headers {
        match self {
            Message::Request(r) => &r.headers,
            Message::Response(r) => &r.headers,
        }
    }
}
