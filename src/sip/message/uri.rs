//! SIP/SIPS URIs (RFC 3261 §19.1) and other absolute URIs kept opaque.
//! SKELETON: signatures fixed; bodies are being written.

use super::{Param, ParseError};
use bytes::Bytes;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Uri {
    /// Lower-cased scheme: `sip`, `sips`, `tel`, or anything else.
    pub scheme: Bytes,
    /// User part with %-escapes resolved (may contain `;` for `semiuri`, NUL for `escnull`).
    pub user: Option<Bytes>,
    pub password: Option<Bytes>,
    /// Host (for `sip`/`sips`); for other schemes the opaque part after the colon.
    pub host: Bytes,
    pub port: Option<u16>,
    pub params: Vec<Param>,
    /// `?name=value&…` headers, escapes resolved.
    pub headers: Vec<(Bytes, Bytes)>,
}

impl Uri {
    /// Parses a URI; LWS or `<>` around it are errors (RFC 4475 `lwsruri`, `ltgtruri`).
    pub fn parse(text: &Bytes) -> Result<Uri, ParseError> {
        todo!()
    }
    pub fn is_sip(&self) -> bool {
        &self.scheme[..] == b"sip" || &self.scheme[..] == b"sips"
    }
    pub fn param(&self, name: &str) -> Option<Option<&Bytes>> {
        todo!()
    }
}
