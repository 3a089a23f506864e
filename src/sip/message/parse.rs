//! Parsing: one message from a datagram (UDP) or a stream of messages (TCP).
//!
//! Only the framing is checked here: start line, header lines (names are tokens, values
//! may fold), Content-Length. Header values stay raw `Bytes` slices of the input; the
//! typed accessors in `typed.rs` parse them when asked.

use super::lex::{is_token_str, is_ws, parse_number, trim_range};
use super::{HeaderName, Headers, Message, Method, Request, Response};
use bytes::{Buf, Bytes, BytesMut};

/// The largest message we accept (a UDP datagram cannot be larger; TCP peers get the same).
pub const MAX_MESSAGE_SIZE: usize = 64 * 1024;

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
    if data.len() > MAX_MESSAGE_SIZE {
        return Err(ParseError::TooLarge(data.len()));
    }
    let start = data
        .iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count();
    let head = parse_head(&data, start)?;
    let rest = data.len().saturating_sub(head.body_start);
    let body = match head.content_length {
        Some(n) if n > rest => {
            return Err(ParseError::Body(format!(
                "Content-Length is {n} but only {rest} octets follow the header section"
            )));
        }
        Some(n) => data.slice(head.body_start..head.body_start + n),
        None => data.slice(head.body_start..),
    };
    Ok(head.into_message(body))
}

/// Splits a TCP byte stream into messages by Content-Length (RFC 3261 §18.3); leading
/// CRLFs (keep-alives, RFC 5626 §4.4.1) are skipped.
#[derive(Default)]
pub struct StreamFramer {
    buf: BytesMut,
    /// How far `buf` has been searched for the end of the header section.
    scanned: usize,
    /// The parsed header section of the message at the front, waiting for its body.
    pending: Option<Head>,
    /// Set after a framing error: the stream position is lost for good.
    failed: bool,
}

impl StreamFramer {
    pub fn new() -> StreamFramer {
        StreamFramer::default()
    }
    pub fn push(&mut self, data: &[u8]) {
        if !self.failed {
            self.buf.extend_from_slice(data);
        }
    }
    /// The next complete message, `None` when more bytes are needed. After an `Err`
    /// the stream cannot be resynchronised: the caller closes the connection (the
    /// framer then only returns `None`).
    pub fn next_message(&mut self) -> Option<Result<Message, ParseError>> {
        if self.failed {
            return None;
        }
        match self.step() {
            Ok(m) => m.map(Ok),
            Err(e) => {
                self.failed = true;
                self.buf.clear();
                self.pending = None;
                Some(Err(e))
            }
        }
    }

    fn step(&mut self) -> Result<Option<Message>, ParseError> {
        if self.pending.is_none() {
            if self.scanned == 0 {
                let skip = self
                    .buf
                    .iter()
                    .take_while(|&&b| b == b'\r' || b == b'\n')
                    .count();
                self.buf.advance(skip);
            }
            let Some(body_start) = find_head_end(&self.buf, self.scanned) else {
                if self.buf.len() > MAX_MESSAGE_SIZE {
                    return Err(ParseError::TooLarge(self.buf.len()));
                }
                // Back off a little: the blank line may be split across pushes.
                self.scanned = self.buf.len().saturating_sub(3);
                return Ok(None);
            };
            self.scanned = 0;
            let head_bytes = self.buf.split_to(body_start).freeze();
            let head = parse_head(&head_bytes, 0)?;
            let Some(len) = head.content_length else {
                return Err(ParseError::Missing("Content-Length"));
            };
            if body_start.saturating_add(len) > MAX_MESSAGE_SIZE {
                return Err(ParseError::TooLarge(body_start.saturating_add(len)));
            }
            self.pending = Some(head);
        }
        let len = self
            .pending
            .as_ref()
            .and_then(|h| h.content_length)
            .unwrap_or(0);
        if self.buf.len() < len {
            return Ok(None);
        }
        let body = self.buf.split_to(len).freeze();
        Ok(self.pending.take().map(|h| h.into_message(body)))
    }
}

/// Finds the blank line ending the header section, searching for line ends from `from`;
/// returns the offset of the first body octet.
fn find_head_end(buf: &[u8], from: usize) -> Option<usize> {
    let mut pos = from;
    loop {
        let lf = pos + memchr::memchr(b'\n', buf.get(pos..)?)?;
        match (buf.get(lf + 1), buf.get(lf + 2)) {
            (Some(b'\n'), _) => return Some(lf + 2),
            (Some(b'\r'), Some(b'\n')) => return Some(lf + 3),
            _ => pos = lf + 1,
        }
    }
}

/// The line starting at `pos`: (end of its content without CR, start of the next line).
fn line_at(buf: &[u8], pos: usize) -> Option<(usize, usize)> {
    let lf = pos + memchr::memchr(b'\n', buf.get(pos..)?)?;
    let end = if lf > pos && buf.get(lf - 1) == Some(&b'\r') {
        lf - 1
    } else {
        lf
    };
    Some((end, lf + 1))
}

enum StartLine {
    Request {
        method: Method,
        uri: Bytes,
        version: Bytes,
    },
    Response {
        version: Bytes,
        status: u16,
        reason: Bytes,
    },
}

/// A parsed start line and header section.
struct Head {
    start: StartLine,
    headers: Headers,
    body_start: usize,
    content_length: Option<usize>,
}

impl Head {
    fn into_message(self, body: Bytes) -> Message {
        let headers = self.headers;
        match self.start {
            StartLine::Request {
                method,
                uri,
                version,
            } => Message::Request(Request {
                method,
                uri,
                version,
                headers,
                body,
            }),
            StartLine::Response {
                version,
                status,
                reason,
            } => Message::Response(Response {
                version,
                status,
                reason,
                headers,
                body,
            }),
        }
    }
}

fn parse_head(data: &Bytes, start: usize) -> Result<Head, ParseError> {
    let buf: &[u8] = data;
    let (sl_end, mut pos) = line_at(buf, start).ok_or(ParseError::Incomplete)?;
    let start_line = parse_start_line(data, start, sl_end)?;
    if buf.get(pos).is_some_and(|&b| is_ws(b)) {
        return Err(ParseError::StartLine(
            "the line after the start line begins with whitespace (folding is only allowed in header values)"
                .into(),
        ));
    }
    let mut headers = Headers::with_capacity(16);
    let mut content_length = None;
    loop {
        let (end, next) = line_at(buf, pos).ok_or(ParseError::Incomplete)?;
        if end == pos {
            return Ok(Head {
                start: start_line,
                headers,
                body_start: next,
                content_length,
            });
        }
        // Continuation lines (starting with SP/HT) belong to this header (§7.3.1).
        let mut after = next;
        while buf.get(after).is_some_and(|&b| is_ws(b)) {
            let (_, n) = line_at(buf, after).ok_or(ParseError::Incomplete)?;
            after = n;
        }
        let line = buf.get(pos..end).unwrap_or_default();
        let Some(colon) = memchr::memchr(b':', line) else {
            return Err(ParseError::Header {
                name: String::from_utf8_lossy(line.get(..40).unwrap_or(line)).into_owned(),
                reason: "header line has no ':' (expected 'Name: value')".into(),
            });
        };
        let (ns, ne) = trim_range(buf, pos, pos + colon);
        let raw_name = buf.get(ns..ne).unwrap_or_default();
        if !is_token_str(raw_name) {
            return Err(ParseError::Header {
                name: String::from_utf8_lossy(raw_name).into_owned(),
                reason: "header name must be a token (letters, digits, -.!%*_+`'~)".into(),
            });
        }
        let name = HeaderName::from_shared(data.slice(ns..ne));
        let value = if after == next {
            let (vs, ve) = trim_range(buf, pos + colon + 1, end);
            data.slice(vs..ve)
        } else {
            unfold(buf, pos + colon + 1, end, next, after)
        };
        if name == HeaderName::ContentLength {
            if content_length.is_some() {
                return Err(ParseError::Duplicate("Content-Length"));
            }
            let n = parse_number(&value, u64::from(u32::MAX)).map_err(|e| ParseError::Header {
                name: "Content-Length".into(),
                reason: format!("{e}: {:?}", String::from_utf8_lossy(&value)),
            })?;
            content_length = usize::try_from(n).ok();
        }
        headers.push(name, value);
        pos = after;
    }
}

/// Joins a folded header value: every line trimmed, joined by one SP (§7.3.1).
fn unfold(buf: &[u8], first: usize, first_end: usize, mut pos: usize, end: usize) -> Bytes {
    let mut out = Vec::with_capacity(end.saturating_sub(first));
    let mut push = |s: usize, e: usize| {
        let (s, e) = trim_range(buf, s, e);
        if let Some(seg) = buf.get(s..e).filter(|seg| !seg.is_empty()) {
            if !out.is_empty() {
                out.push(b' ');
            }
            out.extend_from_slice(seg);
        }
    };
    push(first, first_end);
    while pos < end {
        let Some((e, next)) = line_at(buf, pos) else {
            break;
        };
        push(pos, e);
        pos = next;
    }
    Bytes::from(out)
}

fn start_err(msg: impl Into<String>) -> ParseError {
    ParseError::StartLine(msg.into())
}

fn parse_start_line(data: &Bytes, s: usize, e: usize) -> Result<StartLine, ParseError> {
    let line = data.get(s..e).unwrap_or_default();
    if line
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case(b"SIP/"))
    {
        parse_status_line(data, s, line)
    } else {
        parse_request_line(data, s, line)
    }
}

/// `SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT`.
fn check_version(v: &[u8]) -> Result<(), ParseError> {
    let ok = v.get(..4).is_some_and(|p| p.eq_ignore_ascii_case(b"SIP/"))
        && v.get(4..).is_some_and(|n| {
            let mut parts = n.split(|&b| b == b'.');
            let major = parts.next().unwrap_or_default();
            let minor = parts.next().unwrap_or_default();
            parts.next().is_none()
                && !major.is_empty()
                && !minor.is_empty()
                && major.iter().chain(minor).all(u8::is_ascii_digit)
        });
    if ok {
        Ok(())
    } else {
        Err(start_err(format!(
            "version {:?} is not of the form SIP/2.0",
            String::from_utf8_lossy(v)
        )))
    }
}

fn parse_status_line(data: &Bytes, s: usize, line: &[u8]) -> Result<StartLine, ParseError> {
    let sp =
        memchr::memchr(b' ', line).ok_or_else(|| start_err("status line has no status code"))?;
    let version = line.get(..sp).unwrap_or_default();
    check_version(version)?;
    let rest = line.get(sp + 1..).unwrap_or_default();
    let code_len = memchr::memchr(b' ', rest).unwrap_or(rest.len());
    let code = rest.get(..code_len).unwrap_or_default();
    if code.len() != 3 || !code.iter().all(u8::is_ascii_digit) {
        return Err(start_err(format!(
            "status code must be three digits, got {:?}",
            String::from_utf8_lossy(code.get(..12).unwrap_or(code))
        )));
    }
    let status = code.iter().fold(0u16, |n, &d| n * 10 + u16::from(d - b'0'));
    if !(100..=699).contains(&status) {
        return Err(start_err(format!(
            "status code {status} is outside 100..=699"
        )));
    }
    let reason_start = (sp + 1 + code_len + 1).min(line.len());
    let reason = line.get(reason_start..).unwrap_or_default();
    if reason
        .iter()
        .any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f)
    {
        return Err(start_err("reason phrase contains a control character"));
    }
    Ok(StartLine::Response {
        version: data.slice(s..s + sp),
        status,
        reason: data.slice(s + reason_start..s + line.len()),
    })
}

fn parse_request_line(data: &Bytes, s: usize, line: &[u8]) -> Result<StartLine, ParseError> {
    // Trailing whitespace after the version (RFC 4475 `trws`) is tolerated.
    let (_, end) = trim_range(line, 0, line.len());
    let line = line.get(..end).unwrap_or_default();
    let shape = "expected 'METHOD Request-URI SIP/2.0'";
    let sp1 = memchr::memchr(b' ', line).ok_or_else(|| start_err(shape))?;
    let sp2 = memchr::memrchr(b' ', line)
        .filter(|&p| p > sp1)
        .ok_or_else(|| start_err(shape))?;
    let method = line.get(..sp1).unwrap_or_default();
    if !is_token_str(method) {
        return Err(start_err(format!(
            "method {:?} is not a token",
            String::from_utf8_lossy(method.get(..40).unwrap_or(method))
        )));
    }
    let uri = line.get(sp1 + 1..sp2).unwrap_or_default();
    if uri.is_empty() || uri.first() == Some(&b' ') || uri.last() == Some(&b' ') {
        return Err(start_err(
            "request-line elements must be separated by exactly one space",
        ));
    }
    if uri.iter().any(|&b| is_ws(b)) {
        return Err(start_err(
            "Request-URI contains whitespace (escape it as %20)",
        ));
    }
    if uri.first() == Some(&b'<') {
        return Err(start_err("Request-URI must not be enclosed in <>"));
    }
    if uri.iter().any(|&b| b < 0x20 || b == 0x7f) {
        return Err(start_err("Request-URI contains a control character"));
    }
    let scheme_len = uri
        .iter()
        .position(|&b| !(b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')))
        .unwrap_or(uri.len());
    if scheme_len == 0
        || !uri.first().is_some_and(u8::is_ascii_alphabetic)
        || uri.get(scheme_len) != Some(&b':')
    {
        return Err(start_err(
            "Request-URI must be an absolute URI such as sip:user@host",
        ));
    }
    let version = line.get(sp2 + 1..).unwrap_or_default();
    check_version(version)?;
    Ok(StartLine::Request {
        method: Method::from_shared(data.slice(s..s + sp1)),
        uri: data.slice(s + sp1 + 1..s + sp2),
        version: data.slice(s + sp2 + 1..s + line.len()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(text: &str) -> Request {
        match parse_datagram(Bytes::copy_from_slice(text.as_bytes())) {
            Ok(Message::Request(r)) => r,
            other => panic!("expected a request, got {other:?}"),
        }
    }

    #[test]
    fn request_line_and_headers() {
        let r = req("\r\n\r\nINVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h\r\nX-Y :  z \r\n\r\n");
        assert_eq!(r.method, Method::Invite);
        assert_eq!(&r.uri[..], b"sip:a@b");
        assert_eq!(&r.version[..], b"SIP/2.0");
        assert_eq!(r.headers.len(), 2);
        let xy = HeaderName::from_bytes(b"x-y");
        assert_eq!(r.headers.get(&xy).map(|v| &v[..]), Some(&b"z"[..]));
        assert!(r.body.is_empty());
    }

    #[test]
    fn folding_is_unfolded_to_one_space() {
        let r = req(
            "OPTIONS sip:a@b SIP/2.0\r\nSubject: one\r\n  two\r\n\tthree\r\nTo:\r\n sip:x@y\r\n\r\n",
        );
        assert_eq!(
            r.headers.get(&HeaderName::Subject).map(|v| &v[..]),
            Some(&b"one two three"[..])
        );
        assert_eq!(
            r.headers.get(&HeaderName::To).map(|v| &v[..]),
            Some(&b"sip:x@y"[..])
        );
    }

    #[test]
    fn body_by_content_length() {
        let r = req("MESSAGE sip:a@b SIP/2.0\r\nl: 3\r\n\r\nabcdef");
        assert_eq!(&r.body[..], b"abc");
        let r = req("MESSAGE sip:a@b SIP/2.0\r\n\r\nabcdef");
        assert_eq!(&r.body[..], b"abcdef");
        let short = parse_datagram(Bytes::from_static(
            b"MESSAGE sip:a@b SIP/2.0\r\nl: 9\r\n\r\nabc",
        ));
        assert!(matches!(short, Err(ParseError::Body(_))));
        let neg = parse_datagram(Bytes::from_static(
            b"MESSAGE sip:a@b SIP/2.0\r\nl: -1\r\n\r\n",
        ));
        assert!(matches!(neg, Err(ParseError::Header { .. })));
        let two = parse_datagram(Bytes::from_static(
            b"MESSAGE sip:a@b SIP/2.0\r\nl: 0\r\nContent-Length: 0\r\n\r\n",
        ));
        assert_eq!(two, Err(ParseError::Duplicate("Content-Length")));
    }

    #[test]
    fn status_lines() {
        let m = parse_datagram(Bytes::from_static(b"SIP/2.0 180 \r\n\r\n")).unwrap();
        let Message::Response(r) = m else {
            panic!("not a response")
        };
        assert_eq!(r.status, 180);
        assert!(r.reason.is_empty());
        let m = parse_datagram(Bytes::from_static(b"SIP/2.0 200\r\n\r\n")).unwrap();
        assert!(matches!(m, Message::Response(Response { status: 200, .. })));
        for bad in [
            &b"SIP/2.0 4294967301 big\r\n\r\n"[..],
            b"SIP/2.0 099 low\r\n\r\n",
            b"SIP/2.0 700 high\r\n\r\n",
            b"SIP/2.0 2x0 OK\r\n\r\n",
            b"SIP/2 200 OK\r\n\r\n",
        ] {
            assert!(
                matches!(
                    parse_datagram(Bytes::copy_from_slice(bad)),
                    Err(ParseError::StartLine(_))
                ),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn bad_request_lines() {
        for bad in [
            "INVITE  sip:a@b SIP/2.0\r\n\r\n",
            "INVITE sip:a@b; lr SIP/2.0\r\n\r\n",
            "INVITE <sip:a@b> SIP/2.0\r\n\r\n",
            "INVITE sip:a@b\r\n\r\n",
            "INVITE sip:a@b HTTP/1.1\r\n\r\n",
            "INV<ITE sip:a@b SIP/2.0\r\n\r\n",
            "INVITE nocolon SIP/2.0\r\n\r\n",
        ] {
            assert!(
                matches!(
                    parse_datagram(Bytes::from(bad)),
                    Err(ParseError::StartLine(_))
                ),
                "{bad:?}"
            );
        }
        // Trailing whitespace after the version is tolerated; the version is kept as written.
        assert_eq!(
            &req("OPTIONS sip:a@b sip/7.0  \r\n\r\n").version[..],
            b"sip/7.0"
        );
    }

    #[test]
    fn bad_header_lines() {
        for bad in [
            "OPTIONS sip:a@b SIP/2.0\r\nno colon here\r\n\r\n",
            "OPTIONS sip:a@b SIP/2.0\r\nBad Name: x\r\n\r\n",
            "OPTIONS sip:a@b SIP/2.0\r\n: x\r\n\r\n",
            "OPTIONS sip:a@b SIP/2.0\r\n folded: start\r\n\r\n",
        ] {
            assert!(parse_datagram(Bytes::from(bad)).is_err(), "{bad:?}");
        }
        let unterminated =
            parse_datagram(Bytes::from_static(b"OPTIONS sip:a@b SIP/2.0\r\nTo: x\r\n"));
        assert_eq!(unterminated, Err(ParseError::Incomplete));
        let big = vec![b'a'; MAX_MESSAGE_SIZE + 1];
        assert_eq!(
            parse_datagram(Bytes::from(big)),
            Err(ParseError::TooLarge(MAX_MESSAGE_SIZE + 1))
        );
    }

    #[test]
    fn header_values_are_slices_of_the_input() {
        let data = Bytes::from_static(b"OPTIONS sip:a@b SIP/2.0\r\nCall-ID: abc\r\n\r\n");
        let Ok(Message::Request(r)) = parse_datagram(data.clone()) else {
            panic!("parse failed")
        };
        let v = r.headers.get(&HeaderName::CallId).unwrap();
        let range = data.as_ptr() as usize..data.as_ptr() as usize + data.len();
        assert!(range.contains(&(v.as_ptr() as usize)));
    }

    #[test]
    fn framer_splits_and_joins() {
        let one = b"OPTIONS sip:a@b SIP/2.0\r\nl: 2\r\n\r\nhi";
        let mut all = b"\r\n\r\n".to_vec();
        all.extend_from_slice(one);
        all.extend_from_slice(b"\r\n");
        all.extend_from_slice(one);
        let mut f = StreamFramer::new();
        // Byte by byte: every prefix must be "need more" until a message is whole.
        let mut got = Vec::new();
        for b in &all {
            f.push(std::slice::from_ref(b));
            while let Some(m) = f.next_message() {
                got.push(m.unwrap());
            }
        }
        assert_eq!(got.len(), 2);
        for m in &got {
            let Message::Request(r) = m else {
                panic!("not a request")
            };
            assert_eq!(&r.body[..], b"hi");
        }
        // All at once.
        let mut f = StreamFramer::new();
        f.push(&all);
        assert!(f.next_message().unwrap().is_ok());
        assert!(f.next_message().unwrap().is_ok());
        assert!(f.next_message().is_none());
    }

    #[test]
    fn framer_requires_content_length_and_stops_after_error() {
        let mut f = StreamFramer::new();
        f.push(b"OPTIONS sip:a@b SIP/2.0\r\nTo: x\r\n\r\nOPTIONS sip:a@b SIP/2.0\r\nl: 0\r\n\r\n");
        assert_eq!(
            f.next_message(),
            Some(Err(ParseError::Missing("Content-Length")))
        );
        assert!(f.next_message().is_none());
        let mut f = StreamFramer::new();
        f.push(&vec![b'x'; MAX_MESSAGE_SIZE + 10]);
        assert!(matches!(
            f.next_message(),
            Some(Err(ParseError::TooLarge(_)))
        ));
    }
}
