//! A best-effort 400 for a request too broken to parse (RFC 3261 §8.2.6 still wants an
//! answer so the sender stops retransmitting). It copies the raw Via, From, To, Call-ID
//! and CSeq lines it can find; whatever we cannot read, we do not invent.

/// Builds the 400 text, or `None` when the datagram is not a request at all (a broken
/// response is dropped, §18.1.2) or holds no Via to answer.
pub fn bad_request(raw: &[u8], why: &str) -> Option<Vec<u8>> {
    let start = raw.iter().position(|&b| b != b'\r' && b != b'\n')?;
    let raw = &raw[start..];
    if raw.starts_with(b"SIP/") || raw.is_empty() {
        return None;
    }
    let head_end = find(raw, b"\r\n\r\n").unwrap_or(raw.len());
    let mut copied = Vec::new();
    let mut saw_via = false;
    for line in raw[..head_end].split(|&b| b == b'\n').skip(1) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = line[..colon].trim_ascii();
        let keep = [
            &b"via"[..],
            b"v",
            b"from",
            b"f",
            b"to",
            b"t",
            b"call-id",
            b"i",
            b"cseq",
        ]
        .iter()
        .any(|n| name.eq_ignore_ascii_case(n));
        if keep && line.iter().all(|&b| b != 0) {
            saw_via |= name.eq_ignore_ascii_case(b"via") || name.eq_ignore_ascii_case(b"v");
            copied.extend_from_slice(line);
            copied.extend_from_slice(b"\r\n");
        }
    }
    if !saw_via {
        return None;
    }
    let reason: String = why
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(120)
        .collect();
    let mut out = format!("SIP/2.0 400 Bad Request ({reason})\r\n").into_bytes();
    out.extend_from_slice(&copied);
    out.extend_from_slice(b"Content-Length: 0\r\n\r\n");
    Some(out)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_the_dialog_identifying_lines() {
        let raw = b"INVITE  sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nf: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nSubject: hi\r\n\r\n";
        let out = String::from_utf8(bad_request(raw, "two spaces\r\n").unwrap()).unwrap();
        assert!(out.starts_with("SIP/2.0 400 Bad Request (two spaces  )\r\n"));
        for l in [
            "Via: SIP/2.0/UDP h;branch=z9hG4bK1",
            "f: <sip:x@y>;tag=1",
            "Call-ID: c1",
            "CSeq: 1 INVITE",
        ] {
            assert!(out.contains(l), "{l} missing in {out}");
        }
        assert!(!out.contains("Subject"));
    }

    #[test]
    fn responses_and_garbage_get_nothing() {
        assert!(bad_request(b"SIP/2.0 200 OK\r\nVia: x\r\n\r\n", "x").is_none());
        assert!(bad_request(b"\r\n\r\n", "x").is_none());
        assert!(bad_request(b"hello", "x").is_none());
    }
}
