//! Admission checks a UAS runs on a new request before acting on it (RFC 3261 §8.2.1–§8.2.3),
//! in the RFC's order. Each failure names the response to send and why.

use crate::sip::message::{HeaderName, Method, Request, Uri};

/// Methods this endpoint implements; sent in `Allow`.
pub const ALLOW: &str = "INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER, INFO";
/// Option tags we implement; anything else in `Require` gets 420.
pub const SUPPORTED: &[&str] = &[];
/// Bodies we understand on INVITE.
pub const ACCEPT: &str = "application/sdp";

/// A rejection: status code, reason phrase, and headers to add.
#[derive(Debug, PartialEq, Eq)]
pub struct Reject {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(HeaderName, String)>,
}

impl Reject {
    fn new(status: u16, reason: impl Into<String>) -> Reject {
        Reject {
            status,
            reason: reason.into(),
            headers: Vec::new(),
        }
    }
    fn with(mut self, name: HeaderName, value: impl Into<String>) -> Reject {
        self.headers.push((name, value.into()));
        self
    }
}

/// Runs the checks for a request that parsed and validated.
pub fn admit(req: &Request) -> Result<(), Reject> {
    if !req.version.eq_ignore_ascii_case(b"SIP/2.0") {
        return Err(Reject::new(505, "Version Not Supported"));
    }
    check_method(req)?;
    check_uri_scheme(req)?;
    check_require(req)?;
    check_body(req)?;
    check_accept(req)?;
    Ok(())
}

/// §8.2.1: unknown methods get 501, known ones we do not serve get 405, both with Allow.
fn check_method(req: &Request) -> Result<(), Reject> {
    match req.method {
        Method::Invite
        | Method::Ack
        | Method::Bye
        | Method::Cancel
        | Method::Options
        | Method::Register
        | Method::Info => Ok(()),
        Method::Extension(_) => {
            Err(Reject::new(501, "Not Implemented").with(HeaderName::Allow, ALLOW))
        }
        _ => Err(Reject::new(405, "Method Not Allowed").with(HeaderName::Allow, ALLOW)),
    }
}

/// §8.2.2.1: only sip, sips and tel Request-URIs are ours to process.
fn check_uri_scheme(req: &Request) -> Result<(), Reject> {
    let scheme = match Uri::parse(&req.uri) {
        Ok(u) => u.scheme,
        // validate_request already vetted the URI; be safe anyway.
        Err(_) => return Err(Reject::new(400, "Bad Request-URI")),
    };
    match &scheme[..] {
        b"sip" | b"sips" | b"tel" => Ok(()),
        _ => Err(Reject::new(416, "Unsupported URI Scheme")),
    }
}

/// §8.2.2.3: every Require option tag must be one we support (never checked on ACK/CANCEL).
fn check_require(req: &Request) -> Result<(), Reject> {
    if matches!(req.method, Method::Ack | Method::Cancel) {
        return Ok(());
    }
    let unknown: Vec<String> = req
        .headers
        .tokens(&HeaderName::Require)
        .iter()
        .map(|t| String::from_utf8_lossy(t).into_owned())
        .filter(|t| !SUPPORTED.iter().any(|s| s.eq_ignore_ascii_case(t)))
        .collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(Reject::new(420, "Bad Extension").with(HeaderName::Unsupported, unknown.join(", ")))
    }
}

/// §8.2.3: a body we cannot read gets 415 with what we accept. INVITE takes SDP (or
/// multipart holding SDP); INFO takes DTMF relay; others carry no body we act on.
fn check_body(req: &Request) -> Result<(), Reject> {
    if req.body.is_empty() {
        return Ok(());
    }
    let ct = req.headers.content_type().ok().flatten();
    let ct = ct.as_deref().unwrap_or(b"");
    let ok = match req.method {
        Method::Invite | Method::Ack => ct == b"application/sdp" || ct == b"multipart/mixed",
        Method::Info => ct == b"application/dtmf-relay" || ct == b"application/dtmf",
        _ => true,
    };
    if !ok {
        let accept = match req.method {
            Method::Info => "application/dtmf-relay, application/dtmf",
            _ => "application/sdp, multipart/mixed",
        };
        return Err(Reject::new(415, "Unsupported Media Type").with(HeaderName::Accept, accept));
    }
    let encoding = req.headers.tokens(&HeaderName::ContentEncoding);
    if encoding
        .iter()
        .any(|e| !e.eq_ignore_ascii_case(b"identity"))
    {
        return Err(Reject::new(415, "Unsupported Media Type")
            .with(HeaderName::Other("Accept-Encoding".into()), "identity"));
    }
    Ok(())
}

/// RFC 3261 §21.4.7 / RFC 4475 §3.3.15: an INVITE whose Accept excludes SDP cannot be
/// answered with a session description.
fn check_accept(req: &Request) -> Result<(), Reject> {
    if req.method != Method::Invite || req.headers.get(&HeaderName::Accept).is_none() {
        return Ok(());
    }
    let accepts_sdp = req.headers.tokens(&HeaderName::Accept).iter().any(|t| {
        let media = t.split(|&b| b == b';').next().unwrap_or(&[]);
        let media = media.trim_ascii();
        media.eq_ignore_ascii_case(b"application/sdp")
            || media.eq_ignore_ascii_case(b"application/*")
            || media == b"*/*"
    });
    if accepts_sdp {
        Ok(())
    } else {
        Err(Reject::new(406, "Not Acceptable").with(HeaderName::Accept, ACCEPT))
    }
}
