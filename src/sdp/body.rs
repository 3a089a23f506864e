//! Finding the SDP in a SIP message body: plain `application/sdp`, or the
//! `application/sdp` part of a multipart body (RFC 5621; carriers' SIP-I sends SDP with
//! an ISUP part, RFC 4475 `mpart01` is the torture case).

use std::ops::Range;

use bytes::Bytes;

use super::SdpError;

/// How deep multipart bodies may nest before we stop looking.
const MAX_DEPTH: usize = 4;

/// The SDP of a body, given its `Content-Type` value.
///
/// - empty (or blank) body → `None`, whatever the type says;
/// - `application/sdp` → the body;
/// - `multipart/*` (`boundary` parameter, quoted or not) → the first `application/sdp`
///   part as a slice of `body`, or `None` when no part is SDP (other parts such as ISUP
///   are not ours to read);
/// - no `Content-Type` on a body that starts with `v=` → the body (lenient; RFC 3261
///   requires the header);
/// - anything else → [`SdpError::UnsupportedBody`] (answer 415 with
///   `Accept: application/sdp, multipart/mixed`); a multipart body without boundary or
///   parts → [`SdpError::BadMultipart`] (answer 400).
pub fn sdp_body(content_type: Option<&[u8]>, body: &Bytes) -> Result<Option<Bytes>, SdpError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    match content_type {
        Some(ct) => find_sdp(ct, body, 0),
        None if body.trim_ascii_start().starts_with(b"v=") => Ok(Some(body.clone())),
        None => Err(SdpError::UnsupportedBody("(no Content-Type)".into())),
    }
}

fn find_sdp(content_type: &[u8], body: &Bytes, depth: usize) -> Result<Option<Bytes>, SdpError> {
    let ct = ContentType::parse(content_type);
    match (ct.kind.as_str(), ct.subtype.as_str()) {
        ("application", "sdp") => Ok(Some(body.clone())),
        ("multipart", _) if depth < MAX_DEPTH => {
            let boundary = ct.param("boundary").ok_or_else(|| {
                SdpError::BadMultipart(format!(
                    "Content-Type {}/{} has no boundary parameter",
                    ct.kind, ct.subtype
                ))
            })?;
            for part in parts(body, boundary.as_bytes())? {
                let part_body = body.slice(part.body.clone());
                // RFC 2045 §5.2: a part without Content-Type is text/plain.
                let part_type = part.content_type.map(|r| &body[r]).unwrap_or(b"text/plain");
                // Parts we cannot read are skipped, not fatal: the SDP may be elsewhere.
                if let Ok(Some(sdp)) = find_sdp(part_type, &part_body, depth + 1) {
                    return Ok(Some(sdp));
                }
            }
            Ok(None)
        }
        _ => Err(SdpError::UnsupportedBody(format!(
            "{}/{}",
            ct.kind, ct.subtype
        ))),
    }
}

/// A `Content-Type` value: lowercased type and subtype, parameters with quotes removed.
struct ContentType {
    kind: String,
    subtype: String,
    params: Vec<(String, String)>,
}

impl ContentType {
    fn parse(raw: &[u8]) -> ContentType {
        let raw = String::from_utf8_lossy(raw);
        let mut items = split_params(&raw).into_iter();
        let media = items.next().unwrap_or_default();
        let (kind, subtype) = media.split_once('/').unwrap_or((media.as_str(), ""));
        let params = items
            .filter_map(|p| {
                let (name, value) = p.split_once('=')?;
                Some((name.trim().to_ascii_lowercase(), unquote(value.trim())))
            })
            .collect();
        ContentType {
            kind: kind.trim().to_ascii_lowercase(),
            subtype: subtype.trim().to_ascii_lowercase(),
            params,
        }
    }

    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Splits at `;` outside quoted strings.
fn split_params(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut escaped = false;
    for c in s.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ';' if !quoted => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur);
    out
}

fn unquote(v: &str) -> String {
    let Some(inner) = v.strip_prefix('"').and_then(|v| v.strip_suffix('"')) else {
        return v.to_string();
    };
    let mut out = String::with_capacity(inner.len());
    let mut escaped = false;
    for c in inner.chars() {
        if !escaped && c == '\\' {
            escaped = true;
            continue;
        }
        escaped = false;
        out.push(c);
    }
    out
}

/// One body part: where its Content-Type value and its body sit in the whole body.
struct Part {
    content_type: Option<Range<usize>>,
    body: Range<usize>,
}

/// The parts between `--boundary` delimiter lines (RFC 2046 §5.1.1). A missing close
/// delimiter is tolerated: the last part runs to the end of the body.
fn parts(body: &[u8], boundary: &[u8]) -> Result<Vec<Part>, SdpError> {
    let mut delim = b"--".to_vec();
    delim.extend_from_slice(boundary);
    // Delimiter positions: at the start of the body or of a line.
    let mut starts = Vec::new();
    let mut from = 0;
    while let Some(at) = find(body, &delim, from) {
        let line_start = at == 0 || body[at - 1] == b'\n';
        // `--b` must not match the start of `--bx`: padding, line end or `--` follows.
        let whole = body
            .get(at + delim.len())
            .is_none_or(|c| matches!(c, b'-' | b' ' | b'\t' | b'\r' | b'\n'));
        if line_start && whole {
            starts.push(at);
        }
        from = at + delim.len();
    }
    if starts.is_empty() || boundary.is_empty() {
        return Err(SdpError::BadMultipart(format!(
            "no part starts with --{}",
            String::from_utf8_lossy(boundary)
        )));
    }

    let mut out = Vec::new();
    for (i, &at) in starts.iter().enumerate() {
        let after = at + delim.len();
        if body[after..].starts_with(b"--") {
            break; // close delimiter
        }
        // The rest of the delimiter line is transport padding.
        let Some(nl) = find(body, b"\n", after) else {
            break;
        };
        let content_start = nl + 1;
        // The line break before the next delimiter belongs to that delimiter.
        let content_end = match starts.get(i + 1) {
            Some(&next) => strip_line_break(body, content_start, next),
            None => body.len(),
        };
        if content_start > content_end {
            continue;
        }
        out.push(part(body, content_start..content_end));
    }
    Ok(out)
}

fn strip_line_break(body: &[u8], start: usize, mut end: usize) -> usize {
    if end > start && body[end - 1] == b'\n' {
        end -= 1;
        if end > start && body[end - 1] == b'\r' {
            end -= 1;
        }
    }
    end
}

/// Splits a part into its headers (only Content-Type matters here) and its body.
fn part(body: &[u8], range: Range<usize>) -> Part {
    let mut content_type = None;
    let mut pos = range.start;
    loop {
        let line_end = find(&body[..range.end], b"\n", pos).unwrap_or(range.end);
        let line = &body[pos..line_end];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let next = (line_end + 1).min(range.end);
        if line.is_empty() {
            // Blank line: the body follows.
            return Part {
                content_type,
                body: next..range.end,
            };
        }
        if let Some(colon) = line.iter().position(|b| *b == b':') {
            let name = line[..colon].trim_ascii();
            if name.eq_ignore_ascii_case(b"content-type") {
                let value_start = pos + colon + 1;
                let value = &body[value_start..pos + line.len()];
                let lead = value.len() - value.trim_ascii_start().len();
                let trimmed = value.trim_ascii();
                content_type = Some(value_start + lead..value_start + lead + trimmed.len());
            }
        }
        if line_end >= range.end {
            // Headers without a blank line: no body.
            return Part {
                content_type,
                body: range.end..range.end,
            };
        }
        pos = next;
    }
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || from > hay.len() {
        return None;
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_type_parameters() {
        let ct = ContentType::parse(b"Multipart/Mixed ; Boundary=\"a;b\\\"c\" ; x=1");
        assert_eq!(ct.kind, "multipart");
        assert_eq!(ct.subtype, "mixed");
        assert_eq!(ct.param("boundary"), Some("a;b\"c"));
        assert_eq!(ct.param("x"), Some("1"));
        assert_eq!(ct.param("y"), None);
    }

    #[test]
    fn parts_split_on_line_start_delimiters_only() {
        let body = b"preamble --b not here\r\n--b\r\nContent-Type: text/plain\r\n\r\none --b\r\n--b  \r\n\r\ntwo\r\n--b--\r\nepilogue";
        let p = parts(body, b"b").unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(&body[p[0].body.clone()], b"one --b");
        assert_eq!(&body[p[0].content_type.clone().unwrap()], b"text/plain");
        assert_eq!(&body[p[1].body.clone()], b"two");
        assert!(p[1].content_type.is_none());
    }

    #[test]
    fn headers_without_body_and_missing_close() {
        let body = b"--b\nContent-Type: application/sdp";
        let p = parts(body, b"b").unwrap();
        assert_eq!(p.len(), 1);
        assert!(p[0].body.is_empty());
        assert!(parts(b"no delimiters", b"b").is_err());
    }
}
