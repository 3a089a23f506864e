//! Sanity rules applied after parsing (RFC 3261 §8.2, §16.3; RFC 4475 §3.1.2, §3.3).
//!
//! Parsing keeps header values raw; these checks run every typed accessor a UAS or UAC
//! relies on, so the layers above can call them without re-checking.

use super::lex::{header_err, parse_number};
use super::{Contact, HeaderName, Headers, ParseError, Request, Response, Uri};

/// Headers that may appear at most once (RFC 3261 §7.3.1, RFC 4475 `multi01`).
const SINGLE: &[(HeaderName, &str)] = &[
    (HeaderName::From, "From"),
    (HeaderName::To, "To"),
    (HeaderName::CallId, "Call-ID"),
    (HeaderName::CSeq, "CSeq"),
    (HeaderName::MaxForwards, "Max-Forwards"),
    (HeaderName::ContentLength, "Content-Length"),
    (HeaderName::ContentType, "Content-Type"),
];

/// Checks a request a UAS is about to process: mandatory headers present and well
/// formed (Via, From, To, Call-ID, CSeq; Max-Forwards when present), single-valued headers
/// single, CSeq method equal to the request method, scalars in range, Request-URI
/// well formed. An `Err` means answer 400 with the error as reason.
///
/// An unknown Request-URI scheme passes (the UAS answers 416 itself), and so does any
/// SIP version of the form `SIP/x.y` (the UAS answers 505).
pub fn validate_request(req: &Request) -> Result<(), ParseError> {
    let h = &req.headers;
    common(h, req.body.len())?;
    let cseq = h.cseq()?;
    if cseq.method != req.method {
        return Err(header_err(
            "CSeq",
            format!(
                "method {} does not match the request method {}",
                cseq.method, req.method
            ),
        ));
    }
    h.max_forwards()?;
    h.expires()?;
    let uri = Uri::parse(&req.uri).map_err(|e| match e {
        ParseError::Header { reason, .. } => header_err("Request-URI", reason),
        other => other,
    })?;
    if !uri.headers.is_empty() {
        return Err(header_err(
            "Request-URI",
            "must not carry ?headers (RFC 3261 §19.1.5)",
        ));
    }
    Ok(())
}

/// Checks a response before it is matched to a client transaction; an `Err` means drop it.
pub fn validate_response(resp: &Response) -> Result<(), ParseError> {
    if !(100..=699).contains(&resp.status) {
        return Err(ParseError::StartLine(format!(
            "status code {} is outside 100..=699",
            resp.status
        )));
    }
    if !resp.version.eq_ignore_ascii_case(b"SIP/2.0") {
        return Err(ParseError::StartLine(format!(
            "version {:?} is not SIP/2.0",
            String::from_utf8_lossy(&resp.version)
        )));
    }
    let h = &resp.headers;
    let vias = common(h, resp.body.len())?;
    if vias != 1 {
        return Err(header_err(
            "Via",
            format!("a response must carry exactly one Via (RFC 3261 §8.1.3.3), found {vias}"),
        ));
    }
    h.cseq()?;
    Ok(())
}

/// The rules shared by requests and responses; returns the number of Via entries.
fn common(h: &Headers, body_len: usize) -> Result<usize, ParseError> {
    for (name, label) in [
        (HeaderName::Via, "Via"),
        (HeaderName::From, "From"),
        (HeaderName::To, "To"),
        (HeaderName::CallId, "Call-ID"),
        (HeaderName::CSeq, "CSeq"),
    ] {
        if h.get(&name).is_none() {
            return Err(ParseError::Missing(label));
        }
    }
    for (name, label) in SINGLE {
        if h.count(name) > 1 {
            return Err(ParseError::Duplicate(label));
        }
    }
    let vias = h.vias()?.len();
    h.from_addr()?;
    h.to_addr()?;
    h.call_id()?;
    if let Some(n) = h.content_length()?
        && n != body_len
    {
        return Err(header_err(
            "Content-Length",
            format!("says {n} but the body has {body_len} octets"),
        ));
    }
    h.content_type()?;
    for c in h.contacts()? {
        if let Contact::Addr(a) = c
            && let Some(v) = a.param("expires")
        {
            let v = v.ok_or_else(|| header_err("Contact", "expires parameter without a value"))?;
            parse_number(v, u64::from(u32::MAX))
                .map_err(|e| header_err("Contact", format!("expires parameter: {e}")))?;
        }
    }
    Ok(vias)
}
