//! Requests a transaction user derives from an INVITE it sent: the CANCEL (RFC 3261 §9.1)
//! and the ACK for a non-2xx final response (§17.1.1.3). Both copy header text as written,
//! so they never fail; a header missing from the INVITE is simply missing from the result.

use crate::sip::message::{HeaderName, Method, Request, Response};
use bytes::Bytes;

/// The CANCEL for `invite`: same Request-URI, Call-ID, From, To, CSeq number and Route
/// set, and one Via equal to the INVITE's top Via, so it follows the INVITE and shares
/// its branch (§9.1).
pub fn build_cancel(invite: &Request) -> Request {
    derive(
        invite,
        Method::Cancel,
        invite.headers.get(&HeaderName::To).cloned(),
    )
}

/// The ACK for a 300–699 final response to `invite` (§17.1.1.3): like the CANCEL, but the
/// To header is the response's (it carries the UAS's tag).
pub fn build_ack_for_non2xx(invite: &Request, resp: &Response) -> Request {
    let to = resp
        .headers
        .get(&HeaderName::To)
        .or_else(|| invite.headers.get(&HeaderName::To));
    derive(invite, Method::Ack, to.cloned())
}

fn derive(invite: &Request, method: Method, to: Option<Bytes>) -> Request {
    let h = &invite.headers;
    let mut req = Request::new(method.clone(), invite.uri.clone());
    if let Some(via) = h.get(&HeaderName::Via) {
        req.headers.push(HeaderName::Via, first_entry(via));
    }
    let max_forwards = h
        .get(&HeaderName::MaxForwards)
        .cloned()
        .unwrap_or(Bytes::from_static(b"70"));
    req.headers.push(HeaderName::MaxForwards, max_forwards);
    for route in h.get_all(&HeaderName::Route) {
        req.headers.push(HeaderName::Route, route.clone());
    }
    if let Some(from) = h.get(&HeaderName::From) {
        req.headers.push(HeaderName::From, from.clone());
    }
    if let Some(to) = to {
        req.headers.push(HeaderName::To, to);
    }
    if let Some(call_id) = h.get(&HeaderName::CallId) {
        req.headers.push(HeaderName::CallId, call_id.clone());
    }
    if let Some(number) = h.get(&HeaderName::CSeq).and_then(cseq_number) {
        let mut cseq = number.to_vec();
        cseq.push(b' ');
        cseq.extend_from_slice(method.as_bytes());
        req.headers.push(HeaderName::CSeq, cseq);
    }
    req
}

/// The first entry of a comma-separated header value (a Via line may carry several);
/// commas inside quoted strings do not count.
fn first_entry(value: &Bytes) -> Bytes {
    let mut quoted = false;
    let mut escaped = false;
    for (i, &c) in value.iter().enumerate() {
        if escaped {
            escaped = false;
        } else if quoted && c == b'\\' {
            escaped = true;
        } else if c == b'"' {
            quoted = !quoted;
        } else if c == b',' && !quoted {
            return trim_end(value.slice(..i));
        }
    }
    value.clone()
}

fn trim_end(b: Bytes) -> Bytes {
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(0, |e| e + 1);
    b.slice(..end)
}

/// The sequence number of a CSeq value (`"4711 INVITE"` → `"4711"`).
fn cseq_number(value: &Bytes) -> Option<Bytes> {
    let start = value.iter().position(|c| !c.is_ascii_whitespace())?;
    let len = value[start..]
        .iter()
        .take_while(|c| c.is_ascii_digit())
        .count();
    (len > 0).then(|| value.slice(start..start + len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_entry_splits_at_top_level_comma() {
        let v = Bytes::from_static(b"SIP/2.0/UDP a.example;branch=z9hG4bK1 , SIP/2.0/UDP b");
        assert_eq!(
            first_entry(&v),
            Bytes::from_static(b"SIP/2.0/UDP a.example;branch=z9hG4bK1")
        );
        let q = Bytes::from_static(b"SIP/2.0/UDP a;x=\"p,q\\\",r\",SIP/2.0/UDP b");
        assert_eq!(
            first_entry(&q),
            Bytes::from_static(b"SIP/2.0/UDP a;x=\"p,q\\\",r\"")
        );
        let one = Bytes::from_static(b"SIP/2.0/TCP c:5061;branch=z9hG4bKx");
        assert_eq!(first_entry(&one), one);
    }

    #[test]
    fn cseq_number_takes_leading_digits() {
        assert_eq!(
            cseq_number(&Bytes::from_static(b" 4711 INVITE")),
            Some(Bytes::from_static(b"4711"))
        );
        assert_eq!(cseq_number(&Bytes::from_static(b"INVITE")), None);
        assert_eq!(cseq_number(&Bytes::new()), None);
    }
}
