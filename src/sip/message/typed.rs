//! Typed views of header values, parsed on demand (RFC 3261 §20, §25.1 grammar).
//! SKELETON: signatures fixed; bodies are being written.

use super::{HeaderName, Headers, Method, ParseError};
use bytes::Bytes;

/// A generic `;name=value` parameter (value absent for flags such as `;lr`, `;rport`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    pub name: Bytes,
    pub value: Option<Bytes>,
}

/// One Via entry (a header line may hold several, comma-separated).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Via {
    /// `UDP`, `TCP`, `TLS`, `WS`, or any token (RFC 4475 `transports`).
    pub transport: Bytes,
    pub host: Bytes,
    pub port: Option<u16>,
    pub params: Vec<Param>,
}

impl Via {
    pub fn branch(&self) -> Option<&Bytes> {
        todo!()
    }
    pub fn received(&self) -> Option<&Bytes> {
        todo!()
    }
    /// `None`: no rport; `Some(None)`: `;rport` flag; `Some(Some(p))`: `;rport=p`.
    pub fn rport(&self) -> Option<Option<u16>> {
        todo!()
    }
    /// RFC 3261 §17.2.3: the branch starts with the magic cookie `z9hG4bK`.
    pub fn is_rfc3261_branch(&self) -> bool {
        todo!()
    }
}

/// `name-addr` / `addr-spec` with header parameters: From, To, Contact, Route, Record-Route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameAddr {
    /// Display name with quotes removed and escapes resolved.
    pub display: Option<Bytes>,
    /// The URI text (inside `<>` when it was enclosed).
    pub uri: Bytes,
    pub params: Vec<Param>,
}

impl NameAddr {
    pub fn tag(&self) -> Option<&Bytes> {
        todo!()
    }
    pub fn param(&self, name: &str) -> Option<Option<&Bytes>> {
        todo!()
    }
}

/// A Contact header entry: `*` (REGISTER removal) or an address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Contact {
    Star,
    Addr(NameAddr),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CSeq {
    pub seq: u32,
    pub method: Method,
}

/// Authorization / WWW-Authenticate / Proxy-* value: scheme plus `name=value` pairs,
/// with quoted values unquoted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    pub scheme: Bytes,
    pub params: Vec<(Bytes, Bytes)>,
}

impl Challenge {
    /// Parameter lookup, name case-insensitive.
    pub fn param(&self, name: &str) -> Option<&Bytes> {
        todo!()
    }
}

/// Typed accessors. Each returns `Err` when the header is present but malformed, or
/// when a single-valued header appears more than once.
impl Headers {
    /// Every Via entry, top first, across all Via lines.
    pub fn vias(&self) -> Result<Vec<Via>, ParseError> {
        todo!()
    }
    pub fn top_via(&self) -> Result<Via, ParseError> {
        todo!()
    }
    pub fn from_addr(&self) -> Result<NameAddr, ParseError> {
        todo!()
    }
    pub fn to_addr(&self) -> Result<NameAddr, ParseError> {
        todo!()
    }
    pub fn call_id(&self) -> Result<Bytes, ParseError> {
        todo!()
    }
    pub fn cseq(&self) -> Result<CSeq, ParseError> {
        todo!()
    }
    pub fn max_forwards(&self) -> Result<Option<u8>, ParseError> {
        todo!()
    }
    pub fn content_length(&self) -> Result<Option<usize>, ParseError> {
        todo!()
    }
    /// `type/subtype` lower-cased, parameters dropped.
    pub fn content_type(&self) -> Result<Option<Bytes>, ParseError> {
        todo!()
    }
    pub fn expires(&self) -> Result<Option<u32>, ParseError> {
        todo!()
    }
    pub fn contacts(&self) -> Result<Vec<Contact>, ParseError> {
        todo!()
    }
    /// Route or Record-Route entries in order.
    pub fn name_addrs(&self, name: &HeaderName) -> Result<Vec<NameAddr>, ParseError> {
        todo!()
    }
    /// Comma-separated token lists (Require, Supported, Allow, Accept, Proxy-Require…),
    /// trimmed, across every line with this name.
    pub fn tokens(&self, name: &HeaderName) -> Vec<Bytes> {
        todo!()
    }
    pub fn challenge(&self, name: &HeaderName) -> Result<Option<Challenge>, ParseError> {
        todo!()
    }
}
