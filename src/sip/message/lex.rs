//! Byte scanning shared by the parser, the URI code and the typed headers: the RFC 3261
//! §25.1 character classes, a cursor over a header value that understands LWS, quoted
//! strings and `%`-escapes. Everything returns slices of the input when it can.

use super::ParseError;
use bytes::Bytes;

/// RFC 3261 `token` characters: alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~".
const TOKEN: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
            );
        i += 1;
    }
    t
};

pub(super) fn is_token(b: u8) -> bool {
    TOKEN[b as usize]
}

/// Linear white space inside a value once folding has been undone.
pub(super) fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Hostname / IPv4 characters (`_` tolerated: some deployments use it in host names).
pub(super) fn is_host_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_'
}

pub(super) fn is_token_str(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_token(b))
}

pub(super) fn header_err(name: &str, reason: impl Into<String>) -> ParseError {
    ParseError::Header {
        name: name.to_string(),
        reason: reason.into(),
    }
}

/// Shows a byte for an error message without ever failing.
pub(super) fn show(b: Option<u8>) -> String {
    match b {
        None => "end of value".to_string(),
        Some(b) if b.is_ascii_graphic() => format!("'{}'", b as char),
        Some(b) => format!("byte 0x{b:02x}"),
    }
}

/// Trims SP/HT on both sides of `s[start..end]`, returning the new range.
pub(super) fn trim_range(s: &[u8], mut start: usize, mut end: usize) -> (usize, usize) {
    while start < end && s.get(start).is_some_and(|&b| is_ws(b)) {
        start += 1;
    }
    while end > start && s.get(end - 1).is_some_and(|&b| is_ws(b)) {
        end -= 1;
    }
    (start, end)
}

/// A slice of `b` lower-cased, copying only when it holds an upper-case letter.
pub(super) fn lower(b: Bytes) -> Bytes {
    if b.iter().any(u8::is_ascii_uppercase) {
        Bytes::from(b.to_ascii_lowercase())
    } else {
        b
    }
}

/// A slice of `b` upper-cased, copying only when it holds a lower-case letter.
pub(super) fn upper(b: Bytes) -> Bytes {
    if b.iter().any(u8::is_ascii_lowercase) {
        Bytes::from(b.to_ascii_uppercase())
    } else {
        b
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Resolves `%HH` escapes in `src` (RFC 3261 `escaped`); a slice when there is none.
/// `None` when a `%` is not followed by two hex digits.
pub(super) fn unescape(src: Bytes) -> Option<Bytes> {
    if memchr::memchr(b'%', &src).is_none() {
        return Some(src);
    }
    let mut out = Vec::with_capacity(src.len());
    let mut i = 0;
    while let Some(&b) = src.get(i) {
        if b == b'%' {
            let hi = src.get(i + 1).copied().and_then(hex)?;
            let lo = src.get(i + 2).copied().and_then(hex)?;
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    Some(Bytes::from(out))
}

/// Parses a run of ASCII digits as a number no greater than `max`.
pub(super) fn parse_number(s: &[u8], max: u64) -> Result<u64, &'static str> {
    if s.is_empty() {
        return Err("expected a number");
    }
    let mut n: u64 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return Err("expected only decimal digits");
        }
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(b - b'0')))
            .filter(|&n| n <= max)
            .ok_or("number out of range")?;
    }
    Ok(n)
}

/// A position in one header value (already unfolded, so LWS is just SP/HT).
pub(super) struct Cursor<'a> {
    pub src: &'a Bytes,
    pub pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(src: &'a Bytes) -> Cursor<'a> {
        Cursor { src, pos: 0 }
    }
    pub fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }
    pub fn at_end(&self) -> bool {
        self.pos >= self.src.len()
    }
    /// Skips LWS; true when there was some.
    pub fn skip_ws(&mut self) -> bool {
        let start = self.pos;
        while self.peek().is_some_and(is_ws) {
            self.pos += 1;
        }
        self.pos > start
    }
    pub fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    /// Skips LWS, then takes `b`.
    pub fn eat_ws(&mut self, b: u8) -> bool {
        self.skip_ws();
        self.eat(b)
    }
    pub fn slice(&self, start: usize, end: usize) -> Bytes {
        self.src.slice(start.min(end)..end.min(self.src.len()))
    }
    pub fn take_while(&mut self, pred: impl Fn(u8) -> bool) -> Bytes {
        let start = self.pos;
        while self.peek().is_some_and(&pred) {
            self.pos += 1;
        }
        self.slice(start, self.pos)
    }
    /// A non-empty token, or `None` (position unchanged).
    pub fn token(&mut self) -> Option<Bytes> {
        let t = self.take_while(is_token);
        if t.is_empty() { None } else { Some(t) }
    }
    /// A quoted string starting at the cursor (which must be on `"`), with the quotes
    /// removed and `\x` pairs resolved; a slice of the input when there is no escape.
    pub fn quoted(&mut self) -> Result<Bytes, &'static str> {
        if !self.eat(b'"') {
            return Err("expected '\"'");
        }
        let start = self.pos;
        let mut escaped = false;
        loop {
            match self.peek() {
                None => return Err("unterminated quoted string (missing closing '\"')"),
                Some(b'"') => break,
                Some(b'\\') => {
                    escaped = true;
                    if self.src.get(self.pos + 1).is_none() {
                        return Err("unterminated quoted string (ends in a backslash)");
                    }
                    self.pos += 2;
                }
                Some(_) => self.pos += 1,
            }
        }
        let end = self.pos;
        self.pos += 1; // the closing quote
        let raw = self.slice(start, end);
        if !escaped {
            return Ok(raw);
        }
        let mut out = Vec::with_capacity(raw.len());
        let mut it = raw.iter();
        while let Some(&b) = it.next() {
            if b == b'\\' {
                if let Some(&n) = it.next() {
                    out.push(n);
                }
            } else {
                out.push(b);
            }
        }
        Ok(Bytes::from(out))
    }
    /// An IPv6 reference `[...]`, brackets included, starting at the cursor.
    pub fn ipv6_ref(&mut self) -> Result<Bytes, &'static str> {
        let start = self.pos;
        if !self.eat(b'[') {
            return Err("expected '['");
        }
        let inner = self.take_while(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
        if !self.eat(b']') {
            return Err("unterminated or invalid IPv6 reference (expected ']')");
        }
        if !inner.contains(&b':') {
            return Err("IPv6 reference without ':'");
        }
        Ok(self.slice(start, self.pos))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_resolves_escapes_and_rejects_unterminated() {
        let v = Bytes::from_static(br#""J Rosenberg \\\"" rest"#);
        let mut c = Cursor::new(&v);
        assert_eq!(
            c.quoted().unwrap(),
            Bytes::from_static(br#"J Rosenberg \""#)
        );
        assert_eq!(c.peek(), Some(b' '));
        let bad = Bytes::from_static(b"\"Mr. J. User <sip:j@x>");
        assert!(Cursor::new(&bad).quoted().is_err());
        let tail = Bytes::from_static(b"\"abc\\");
        assert!(Cursor::new(&tail).quoted().is_err());
    }

    #[test]
    fn unescape_hex_and_invalid() {
        assert_eq!(
            unescape(Bytes::from_static(b"%75se%72")).unwrap(),
            Bytes::from_static(b"user")
        );
        assert_eq!(
            unescape(Bytes::from_static(b"a%00b")).unwrap(),
            Bytes::from_static(b"a\0b")
        );
        assert!(unescape(Bytes::from_static(b"%Z1")).is_none());
        assert!(unescape(Bytes::from_static(b"ab%4")).is_none());
    }

    #[test]
    fn numbers_are_bounded() {
        assert_eq!(parse_number(b"0068", 255), Ok(68));
        assert!(parse_number(b"256", 255).is_err());
        assert!(parse_number(b"-1", 255).is_err());
        assert!(parse_number(b"", 255).is_err());
        assert!(parse_number(b"36893488147419103232", u64::MAX).is_err());
    }

    #[test]
    fn token_class() {
        assert!(is_token_str(b"!interesting-Method0123456789_*+`.%indeed'~"));
        assert!(!is_token_str(b"a b"));
        assert!(!is_token_str(b"<"));
        assert!(!is_token_str(b""));
    }
}
