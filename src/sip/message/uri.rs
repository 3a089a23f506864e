//! SIP/SIPS URIs (RFC 3261 §19.1) and other absolute URIs kept opaque.

use super::lex::{Cursor, is_host_char, lower, parse_number, show, unescape};
use super::{Param, ParseError, find_param};
use bytes::Bytes;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Uri {
    /// Lower-cased scheme: `sip`, `sips`, `tel`, or anything else.
    pub scheme: Bytes,
    /// User part with %-escapes resolved (may contain `;` for `semiuri`, NUL for `escnull`).
    pub user: Option<Bytes>,
    pub password: Option<Bytes>,
    /// Host (for `sip`/`sips`; an IPv6 reference keeps its brackets); for other
    /// schemes (including `tel`) the opaque part after the colon.
    pub host: Bytes,
    pub port: Option<u16>,
    /// URI parameters, names and values with escapes resolved.
    pub params: Vec<Param>,
    /// `?name=value&…` headers, escapes resolved.
    pub headers: Vec<(Bytes, Bytes)>,
}

fn uri_err(reason: impl Into<String>) -> ParseError {
    ParseError::Header {
        name: "URI".to_string(),
        reason: reason.into(),
    }
}

fn unescaped(b: Bytes, what: &str) -> Result<Bytes, ParseError> {
    unescape(b).ok_or_else(|| {
        uri_err(format!(
            "bad %-escape in the {what} (expected % and two hex digits)"
        ))
    })
}

impl Uri {
    /// Parses a URI; LWS or `<>` around it are errors (RFC 4475 `lwsruri`, `ltgtruri`).
    /// Unknown schemes parse, with everything after the colon opaque in `host`.
    pub fn parse(text: &Bytes) -> Result<Uri, ParseError> {
        if text.first() == Some(&b'<') {
            return Err(uri_err("URI must not be enclosed in <> here"));
        }
        if let Some(&b) = text
            .iter()
            .find(|&&b| b <= 0x20 || b == 0x7f || matches!(b, b'<' | b'>' | b'"'))
        {
            return Err(uri_err(format!(
                "URI contains {} (escape it with %XX)",
                show(Some(b))
            )));
        }
        let scheme_len = text
            .iter()
            .take_while(|&&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
            .count();
        if scheme_len == 0
            || !text.first().is_some_and(u8::is_ascii_alphabetic)
            || text.get(scheme_len) != Some(&b':')
        {
            return Err(uri_err("expected scheme:..., e.g. sip:user@host"));
        }
        let scheme = lower(text.slice(..scheme_len));
        let rest = scheme_len + 1;
        if &scheme[..] == b"sip" || &scheme[..] == b"sips" {
            return parse_sip(text, scheme, rest);
        }
        if rest >= text.len() {
            return Err(uri_err("nothing after the scheme"));
        }
        Ok(Uri {
            scheme,
            user: None,
            password: None,
            host: text.slice(rest..),
            port: None,
            params: Vec::new(),
            headers: Vec::new(),
        })
    }
    pub fn is_sip(&self) -> bool {
        &self.scheme[..] == b"sip" || &self.scheme[..] == b"sips"
    }
    pub fn param(&self, name: &str) -> Option<Option<&Bytes>> {
        find_param(&self.params, name)
    }
}

/// `[userinfo "@"] hostport uri-parameters [headers]` after `sip:` / `sips:`.
fn parse_sip(text: &Bytes, scheme: Bytes, rest: usize) -> Result<Uri, ParseError> {
    // Neither user nor password may hold an unescaped '@', so the first one ends userinfo
    // (the user part itself may hold ';' and '?': RFC 4475 `semiuri`, `intmeth`).
    let after = text.get(rest..).unwrap_or_default();
    let (user, password, host_start) = match memchr::memchr(b'@', after) {
        Some(at) => {
            let ui_end = rest + at;
            let (user_end, password) =
                match memchr::memchr(b':', after.get(..at).unwrap_or_default()) {
                    Some(colon) => (
                        rest + colon,
                        Some(unescaped(text.slice(rest + colon + 1..ui_end), "password")?),
                    ),
                    None => (ui_end, None),
                };
            if user_end == rest {
                return Err(uri_err("empty user part before '@'"));
            }
            (
                Some(unescaped(text.slice(rest..user_end), "user part")?),
                password,
                ui_end + 1,
            )
        }
        None => (None, None, rest),
    };
    let mut c = Cursor::new(text);
    c.pos = host_start;
    let host = if c.peek() == Some(b'[') {
        c.ipv6_ref().map_err(uri_err)?
    } else {
        c.take_while(is_host_char)
    };
    if host.is_empty() {
        return Err(uri_err(format!(
            "expected a host, found {}",
            show(c.peek())
        )));
    }
    let port = if c.eat(b':') {
        let digits = c.take_while(|b| b.is_ascii_digit());
        let p = parse_number(&digits, u64::from(u16::MAX))
            .map_err(|e| uri_err(format!("port: {e}")))?;
        u16::try_from(p).ok()
    } else {
        None
    };
    let mut params = Vec::new();
    while c.eat(b';') {
        let name = c.take_while(|b| !matches!(b, b';' | b'?' | b'='));
        if name.is_empty() {
            return Err(uri_err("empty URI parameter name"));
        }
        let value = if c.eat(b'=') {
            let v = c.take_while(|b| !matches!(b, b';' | b'?'));
            if v.is_empty() {
                return Err(uri_err("empty URI parameter value after '='"));
            }
            Some(unescaped(v, "parameter value")?)
        } else {
            None
        };
        params.push(Param {
            name: unescaped(name, "parameter name")?,
            value,
        });
    }
    let mut headers = Vec::new();
    if c.eat(b'?') {
        loop {
            let name = c.take_while(|b| !matches!(b, b'=' | b'&'));
            if name.is_empty() {
                return Err(uri_err("empty URI header name"));
            }
            let value = if c.eat(b'=') {
                c.take_while(|b| b != b'&')
            } else {
                Bytes::new()
            };
            headers.push((
                unescaped(name, "header name")?,
                unescaped(value, "header value")?,
            ));
            if !c.eat(b'&') {
                break;
            }
        }
    }
    if !c.at_end() {
        return Err(uri_err(format!(
            "unexpected {} after the host",
            show(c.peek())
        )));
    }
    Ok(Uri {
        scheme,
        user,
        password,
        host,
        port,
        params,
        headers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Uri, ParseError> {
        Uri::parse(&Bytes::copy_from_slice(s.as_bytes()))
    }
    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn full_sip_uri() {
        let u = p("SIP:alice:secret@Example.com:5061;transport=tcp;lr;n%61me=v%61lue%25%34%31?Route=%3Csip:x%3E&Subject=").unwrap();
        assert_eq!(u.scheme, b("sip"));
        assert!(u.is_sip());
        assert_eq!(u.user, Some(b("alice")));
        assert_eq!(u.password, Some(b("secret")));
        assert_eq!(u.host, b("Example.com"));
        assert_eq!(u.port, Some(5061));
        assert_eq!(u.param("TRANSPORT"), Some(Some(&b("tcp"))));
        assert_eq!(u.param("lr"), Some(None));
        assert_eq!(u.param("name"), Some(Some(&b("value%41"))));
        assert_eq!(
            u.headers,
            vec![(b("Route"), b("<sip:x>")), (b("Subject"), Bytes::new())]
        );
    }

    #[test]
    fn escapes_semicolons_and_ipv6() {
        let u = p("sip:user;par=u%40example.net@example.com").unwrap();
        assert_eq!(u.user, Some(b("user;par=u@example.net")));
        assert_eq!(u.host, b("example.com"));
        let u = p("sip:null-%00-null@example.com").unwrap();
        assert_eq!(u.user, Some(Bytes::from_static(b"null-\0-null")));
        let u = p("sips:[2001:db8::10]:5060").unwrap();
        assert_eq!(u.host, b("[2001:db8::10]"));
        assert_eq!(u.port, Some(5060));
        assert_eq!(u.user, None);
        let u = p("sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com").unwrap();
        assert_eq!(
            u.user,
            Some(b("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"))
        );
        assert_eq!(
            u.password,
            Some(b("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"))
        );
    }

    #[test]
    fn other_schemes_are_opaque() {
        let u = p("nobodyKnowsThisScheme:totallyopaquecontent").unwrap();
        assert_eq!(u.scheme, b("nobodyknowsthisscheme"));
        assert_eq!(u.host, b("totallyopaquecontent"));
        assert!(!u.is_sip());
        let u = p("soap.beep://192.0.2.103:3002").unwrap();
        assert_eq!(u.scheme, b("soap.beep"));
        assert_eq!(u.host, b("//192.0.2.103:3002"));
        assert_eq!(p("tel:+1-201-555-0123").unwrap().host, b("+1-201-555-0123"));
    }

    #[test]
    fn bad_uris() {
        for bad in [
            "",
            "<sip:a@b>",
            "sip:a@b; lr",
            " sip:a@b",
            "sip:",
            "sip:@host",
            "sip:a@",
            "sip:a@b:",
            "sip:a@b:70000",
            "sip:a@b;",
            "sip:a@b;x=",
            "sip:a@b?",
            "sip:a@b?=v",
            "sip:%zz@b",
            "sip:a@[::1",
            "sip:a@b/c",
            "1sip:a@b",
            "nocolon",
            "x:",
        ] {
            assert!(p(bad).is_err(), "{bad:?}");
        }
    }
}
