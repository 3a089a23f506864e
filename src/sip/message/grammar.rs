//! The RFC 3261 §25.1 productions behind the typed headers: generic parameters, Via
//! entries, name-addr / addr-spec, and authentication parameters. Each takes a cursor
//! over one header value and returns slices of it.

use super::lex::{Cursor, header_err, is_host_char, is_ws, parse_number, show, upper};
use super::{Challenge, NameAddr, Param, ParseError, Via};
use bytes::Bytes;

/// After an element of a comma-separated list: `true` when a `,` introduces another,
/// `false` at the end of the value; anything else is an error.
pub(super) fn next_element(c: &mut Cursor, name: &str) -> Result<bool, ParseError> {
    c.skip_ws();
    if c.at_end() {
        return Ok(false);
    }
    if c.eat(b',') {
        c.skip_ws();
        if c.at_end() || c.peek() == Some(b',') {
            return Err(header_err(name, "empty element in a comma-separated list"));
        }
        return Ok(true);
    }
    Err(header_err(name, format!("unexpected {}", show(c.peek()))))
}

/// `*( SEMI generic-param )`; stops before anything that is not `;`.
pub(super) fn parse_params(c: &mut Cursor, name: &str) -> Result<Vec<Param>, ParseError> {
    let mut params = Vec::new();
    loop {
        let save = c.pos;
        if !c.eat_ws(b';') {
            c.pos = save;
            return Ok(params);
        }
        c.skip_ws();
        let pname = c.token().ok_or_else(|| {
            header_err(
                name,
                format!("empty or invalid parameter name at {}", show(c.peek())),
            )
        })?;
        let save = c.pos;
        let value = if c.eat_ws(b'=') {
            c.skip_ws();
            Some(gen_value(c, name)?)
        } else {
            c.pos = save;
            None
        };
        params.push(Param { name: pname, value });
    }
}

/// `gen-value = token / host / quoted-string`.
pub(super) fn gen_value(c: &mut Cursor, name: &str) -> Result<Bytes, ParseError> {
    match c.peek() {
        Some(b'"') => c.quoted().map_err(|e| header_err(name, e)),
        Some(b'[') => c.ipv6_ref().map_err(|e| header_err(name, e)),
        _ => c.token().ok_or_else(|| {
            header_err(
                name,
                format!("missing parameter value at {}", show(c.peek())),
            )
        }),
    }
}

/// `host [":" port]` as in Via sent-by.
pub(super) fn parse_host_port(
    c: &mut Cursor,
    name: &str,
) -> Result<(Bytes, Option<u16>), ParseError> {
    let host = if c.peek() == Some(b'[') {
        c.ipv6_ref().map_err(|e| header_err(name, e))?
    } else {
        c.take_while(is_host_char)
    };
    if host.is_empty() {
        return Err(header_err(
            name,
            format!("expected a host, found {}", show(c.peek())),
        ));
    }
    let save = c.pos;
    let port = if c.eat_ws(b':') {
        c.skip_ws();
        let digits = c.take_while(|b| b.is_ascii_digit());
        let p = parse_number(&digits, u64::from(u16::MAX))
            .map_err(|e| header_err(name, format!("port: {e}")))?;
        u16::try_from(p).ok()
    } else {
        c.pos = save;
        None
    };
    Ok((host, port))
}

/// One `via-parm`: `SIP / 2.0 / UDP host[:port] *(;param)`, LWS allowed around `/`.
pub(super) fn parse_via(c: &mut Cursor) -> Result<Via, ParseError> {
    const N: &str = "Via";
    c.skip_ws();
    let proto = c
        .token()
        .ok_or_else(|| header_err(N, "expected SIP/2.0/transport"))?;
    if !proto.eq_ignore_ascii_case(b"SIP") {
        return Err(header_err(N, "protocol name must be SIP"));
    }
    if !c.eat_ws(b'/') {
        return Err(header_err(N, "expected '/' after SIP"));
    }
    c.skip_ws();
    c.token()
        .ok_or_else(|| header_err(N, "missing protocol version"))?;
    if !c.eat_ws(b'/') {
        return Err(header_err(N, "expected '/' after the version"));
    }
    c.skip_ws();
    let transport = c
        .token()
        .ok_or_else(|| header_err(N, "missing transport"))?;
    if !c.skip_ws() {
        return Err(header_err(
            N,
            "expected whitespace between the transport and the host",
        ));
    }
    let (host, port) = parse_host_port(c, N)?;
    let params = parse_params(c, N)?;
    Ok(Via {
        transport: upper(transport),
        host,
        port,
        params,
    })
}

/// One `(name-addr / addr-spec) *(SEMI generic-param)` (RFC 3261 §20.10, §20.20, §20.39).
pub(super) fn parse_name_addr(c: &mut Cursor, name: &str) -> Result<NameAddr, ParseError> {
    c.skip_ws();
    let (display, uri) = match c.peek() {
        Some(b'"') => {
            let d = c.quoted().map_err(|e| header_err(name, e))?;
            if !c.eat_ws(b'<') {
                return Err(header_err(
                    name,
                    "expected <uri> after the quoted display name",
                ));
            }
            (Some(d).filter(|d| !d.is_empty()), angle_uri(c, name)?)
        }
        Some(b'<') => {
            c.pos += 1;
            (None, angle_uri(c, name)?)
        }
        _ => {
            // Either `token *(LWS token) <uri>` or a bare addr-spec.
            let start = c.pos;
            let mut end = start;
            while c.token().is_some() {
                end = c.pos;
                c.skip_ws();
            }
            if end > start && c.eat(b'<') {
                (Some(c.slice(start, end)), angle_uri(c, name)?)
            } else {
                c.pos = start;
                (None, bare_uri(c, name)?)
            }
        }
    };
    let params = parse_params(c, name)?;
    Ok(NameAddr {
        display,
        uri,
        params,
    })
}

/// The URI after `<`, up to `>`.
pub(super) fn angle_uri(c: &mut Cursor, name: &str) -> Result<Bytes, ParseError> {
    let start = c.pos;
    let rel = c
        .src
        .get(start..)
        .and_then(|s| memchr::memchr(b'>', s))
        .ok_or_else(|| header_err(name, "missing '>' after the URI"))?;
    let uri = c.slice(start, start + rel);
    c.pos = start + rel + 1;
    if uri
        .iter()
        .any(|&b| b <= 0x20 || b == b'<' || b == b'"' || b == 0x7f)
    {
        return Err(header_err(
            name,
            "URI inside <> contains whitespace or '<' or '\"'",
        ));
    }
    check_scheme(&uri, name)?;
    Ok(uri)
}

/// An addr-spec without `<>`: it ends at LWS, `;` or `,` (§20: its `;` parameters are
/// header parameters), so a `?` in it is ambiguous and rejected (RFC 4475 `regbadct`).
pub(super) fn bare_uri(c: &mut Cursor, name: &str) -> Result<Bytes, ParseError> {
    let uri = c.take_while(|b| !is_ws(b) && b != b';' && b != b',');
    if uri.is_empty() {
        return Err(header_err(
            name,
            format!("expected an address, found {}", show(c.peek())),
        ));
    }
    if uri
        .iter()
        .any(|&b| matches!(b, b'?' | b'<' | b'>' | b'"') || b < 0x20 || b == 0x7f)
    {
        return Err(header_err(
            name,
            "a URI with '?', ',' or ';' parameters must be enclosed in <> (RFC 3261 §20)",
        ));
    }
    check_scheme(&uri, name)?;
    Ok(uri)
}

/// `scheme ":" …` with `scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`.
pub(super) fn check_scheme(uri: &[u8], name: &str) -> Result<(), ParseError> {
    let n = uri
        .iter()
        .take_while(|&&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
        .count();
    if n == 0 || !uri.first().is_some_and(u8::is_ascii_alphabetic) || uri.get(n) != Some(&b':') {
        return Err(header_err(
            name,
            "expected a URI with a scheme, e.g. sip:user@host",
        ));
    }
    Ok(())
}

/// `scheme [param *(COMMA param)]` with `param = token EQUAL (token / quoted-string)`;
/// stops at a second challenge in the same line.
pub(super) fn parse_challenge(v: &Bytes, name: &str) -> Result<Challenge, ParseError> {
    let mut c = Cursor::new(v);
    c.skip_ws();
    let scheme = c
        .token()
        .ok_or_else(|| header_err(name, "missing authentication scheme"))?;
    let mut params = Vec::new();
    if !c.skip_ws() && !c.at_end() {
        return Err(header_err(
            name,
            format!("unexpected {} after the scheme", show(c.peek())),
        ));
    }
    while !c.at_end() {
        let pname = c
            .token()
            .ok_or_else(|| header_err(name, format!("unexpected {}", show(c.peek()))))?;
        if !c.eat_ws(b'=') {
            // `token68` credentials or the scheme of a second challenge: not ours to type.
            break;
        }
        c.skip_ws();
        let value = if c.peek() == Some(b'"') {
            c.quoted().map_err(|e| header_err(name, e))?
        } else {
            // Lenient: some clients send unquoted values with '/', '=' or ':'.
            c.take_while(|b| !is_ws(b) && b != b',')
        };
        params.push((pname, value));
        c.skip_ws();
        if !c.eat(b',') {
            if !c.at_end() {
                return Err(header_err(
                    name,
                    format!("expected ',' between parameters, found {}", show(c.peek())),
                ));
            }
            break;
        }
        c.skip_ws();
    }
    Ok(Challenge { scheme, params })
}
