//! Serializing messages and building responses (RFC 3261 §8.2.6).
//!
//! Headers are written back exactly as held (long-form names, raw values), so a parsed
//! message round-trips; Content-Length is always recomputed from the body.

use super::{HeaderName, Headers, Message, Method, Request, Response};
use bytes::Bytes;

const SIP_2_0: &[u8] = b"SIP/2.0";

impl Request {
    /// A new request with no headers.
    pub fn new(method: Method, uri: impl Into<Bytes>) -> Request {
        Request {
            method,
            uri: uri.into(),
            version: Bytes::from_static(SIP_2_0),
            headers: Headers::new(),
            body: Bytes::new(),
        }
    }
    /// Appends the wire form to `out`; Content-Length is written from the body.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.reserve(wire_size_hint(&self.headers, &self.body) + self.uri.len());
        out.extend_from_slice(self.method.as_bytes());
        out.push(b' ');
        out.extend_from_slice(&self.uri);
        out.push(b' ');
        out.extend_from_slice(version(&self.version));
        out.extend_from_slice(b"\r\n");
        write_headers_and_body(&self.headers, &self.body, out);
    }
    pub fn to_bytes(&self) -> Bytes {
        let mut out = Vec::new();
        self.write_to(&mut out);
        Bytes::from(out)
    }
}

impl Response {
    /// A response to `req` with Via, From, To, Call-ID and CSeq copied from it
    /// (§8.2.6.2), plus Timestamp on a 100 (§8.2.6.1); the caller adds a To tag when it
    /// creates a dialog. An empty `reason` takes the default phrase of `status`.
    pub fn for_request(req: &Request, status: u16, reason: &str) -> Response {
        let mut headers = Headers::with_capacity(8);
        let timestamp = HeaderName::Other(Bytes::from_static(b"Timestamp"));
        for h in req.headers.iter() {
            let copy = matches!(
                h.name,
                HeaderName::Via
                    | HeaderName::From
                    | HeaderName::To
                    | HeaderName::CallId
                    | HeaderName::CSeq
            ) || (status == 100 && h.name == timestamp);
            if copy {
                headers.push(h.name.clone(), h.value.clone());
            }
        }
        let reason = if reason.is_empty() {
            Bytes::from_static(reason_phrase(status).as_bytes())
        } else {
            Bytes::copy_from_slice(reason.as_bytes())
        };
        Response {
            version: Bytes::from_static(SIP_2_0),
            status,
            reason,
            headers,
            body: Bytes::new(),
        }
    }
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.reserve(wire_size_hint(&self.headers, &self.body) + self.reason.len());
        out.extend_from_slice(version(&self.version));
        out.push(b' ');
        // A status outside 100..=999 cannot be written as three digits; clamp so the
        // output is at least well-formed (the parser never produces one).
        let status = self.status.clamp(100, 999);
        out.extend_from_slice(&[
            b'0' + (status / 100) as u8,
            b'0' + (status / 10 % 10) as u8,
            b'0' + (status % 10) as u8,
            b' ',
        ]);
        out.extend_from_slice(&self.reason);
        out.extend_from_slice(b"\r\n");
        write_headers_and_body(&self.headers, &self.body, out);
    }
    pub fn to_bytes(&self) -> Bytes {
        let mut out = Vec::new();
        self.write_to(&mut out);
        Bytes::from(out)
    }
}

impl Message {
    pub fn to_bytes(&self) -> Bytes {
        match self {
            Message::Request(r) => r.to_bytes(),
            Message::Response(r) => r.to_bytes(),
        }
    }
}

fn version(v: &Bytes) -> &[u8] {
    if v.is_empty() { SIP_2_0 } else { v }
}

fn wire_size_hint(headers: &Headers, body: &Bytes) -> usize {
    64 + body.len()
        + headers
            .iter()
            .map(|h| h.name.as_str().len() + h.value.len() + 4)
            .sum::<usize>()
}

fn write_headers_and_body(headers: &Headers, body: &Bytes, out: &mut Vec<u8>) {
    for h in headers.iter() {
        if h.name == HeaderName::ContentLength {
            continue;
        }
        out.extend_from_slice(h.name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(&h.value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Content-Length: ");
    let mut digits = [0u8; 20];
    let mut n = body.len();
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(body);
}

/// The default reason phrase of a status code (RFC 3261 §21 and the extensions a
/// call-center meets); an unknown code gets its class name.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        199 => "Early Dialog Terminated",
        200 => "OK",
        202 => "Accepted",
        204 => "No Notification",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Moved Temporarily",
        305 => "Use Proxy",
        380 => "Alternative Service",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        410 => "Gone",
        412 => "Conditional Request Failed",
        413 => "Request Entity Too Large",
        414 => "Request-URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        417 => "Unknown Resource-Priority",
        420 => "Bad Extension",
        421 => "Extension Required",
        422 => "Session Interval Too Small",
        423 => "Interval Too Brief",
        428 => "Use Identity Header",
        429 => "Provide Referrer Identity",
        430 => "Flow Failed",
        433 => "Anonymity Disallowed",
        436 => "Bad Identity-Info",
        437 => "Unsupported Certificate",
        438 => "Invalid Identity Header",
        439 => "First Hop Lacks Outbound Support",
        440 => "Max-Breadth Exceeded",
        469 => "Bad Info Package",
        470 => "Consent Needed",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        484 => "Address Incomplete",
        485 => "Ambiguous",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        489 => "Bad Event",
        491 => "Request Pending",
        493 => "Undecipherable",
        494 => "Security Agreement Required",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        555 => "Push Notification Service Not Supported",
        580 => "Precondition Failure",
        600 => "Busy Everywhere",
        603 => "Decline",
        604 => "Does Not Exist Anywhere",
        606 => "Not Acceptable",
        607 => "Unwanted",
        608 => "Rejected",
        _ => match status / 100 {
            1 => "Informational",
            2 => "Success",
            3 => "Redirection",
            4 => "Client Error",
            5 => "Server Error",
            6 => "Global Failure",
            _ => "Unknown",
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_serialization_recomputes_content_length() {
        let mut r = Request::new(Method::Options, Bytes::from_static(b"sip:a@b"));
        r.headers.push(
            HeaderName::Via,
            Bytes::from_static(b"SIP/2.0/UDP h;branch=z9hG4bK1"),
        );
        r.headers
            .push(HeaderName::ContentLength, Bytes::from_static(b"99"));
        r.headers
            .push(HeaderName::from_bytes(b"X-Foo"), Bytes::from_static(b"bar"));
        r.body = Bytes::from_static(b"hello");
        assert_eq!(
            &r.to_bytes()[..],
            &b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nX-Foo: bar\r\nContent-Length: 5\r\n\r\nhello"[..]
        );
    }

    #[test]
    fn response_for_request_copies_the_right_headers() {
        let mut r = Request::new(Method::Invite, Bytes::from_static(b"sip:a@b"));
        r.headers.push(
            HeaderName::Via,
            Bytes::from_static(b"SIP/2.0/UDP p1;branch=z9hG4bK1"),
        );
        r.headers.push(
            HeaderName::Via,
            Bytes::from_static(b"SIP/2.0/UDP p2;branch=z9hG4bK2"),
        );
        r.headers
            .push(HeaderName::MaxForwards, Bytes::from_static(b"70"));
        r.headers
            .push(HeaderName::From, Bytes::from_static(b"<sip:x@y>;tag=1"));
        r.headers
            .push(HeaderName::To, Bytes::from_static(b"<sip:a@b>"));
        r.headers
            .push(HeaderName::CallId, Bytes::from_static(b"c1"));
        r.headers
            .push(HeaderName::CSeq, Bytes::from_static(b"1 INVITE"));
        r.headers.push(
            HeaderName::from_bytes(b"Timestamp"),
            Bytes::from_static(b"54"),
        );
        r.headers
            .push(HeaderName::Contact, Bytes::from_static(b"<sip:x@h>"));
        let resp = Response::for_request(&r, 486, "");
        assert_eq!(&resp.reason[..], b"Busy Here");
        let names: Vec<&str> = resp.headers.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["Via", "Via", "From", "To", "Call-ID", "CSeq"]);
        assert_eq!(
            &resp.to_bytes()[..],
            &b"SIP/2.0 486 Busy Here\r\nVia: SIP/2.0/UDP p1;branch=z9hG4bK1\r\nVia: SIP/2.0/UDP p2;branch=z9hG4bK2\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"[..]
        );
        let trying = Response::for_request(&r, 100, "Trying");
        assert_eq!(trying.headers.len(), 7);
        assert_eq!(
            trying
                .headers
                .get(&HeaderName::from_bytes(b"timestamp"))
                .map(|v| &v[..]),
            Some(&b"54"[..])
        );
    }

    #[test]
    fn reason_phrases() {
        for (code, phrase) in [
            (100, "Trying"),
            (180, "Ringing"),
            (183, "Session Progress"),
            (200, "OK"),
            (202, "Accepted"),
            (400, "Bad Request"),
            (401, "Unauthorized"),
            (403, "Forbidden"),
            (404, "Not Found"),
            (406, "Not Acceptable"),
            (407, "Proxy Authentication Required"),
            (408, "Request Timeout"),
            (415, "Unsupported Media Type"),
            (416, "Unsupported URI Scheme"),
            (420, "Bad Extension"),
            (421, "Extension Required"),
            (423, "Interval Too Brief"),
            (480, "Temporarily Unavailable"),
            (481, "Call/Transaction Does Not Exist"),
            (482, "Loop Detected"),
            (483, "Too Many Hops"),
            (486, "Busy Here"),
            (487, "Request Terminated"),
            (488, "Not Acceptable Here"),
            (491, "Request Pending"),
            (501, "Not Implemented"),
            (503, "Service Unavailable"),
            (505, "Version Not Supported"),
            (299, "Success"),
            (999, "Unknown"),
        ] {
            assert_eq!(reason_phrase(code), phrase, "{code}");
        }
    }
}
