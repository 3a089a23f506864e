//! Typed views of header values, parsed on demand (RFC 3261 §20, §25.1 grammar).
//!
//! Every typed value is built from slices of the raw header value; only quoted strings
//! with escapes and case normalisation (transport, media type) make a copy.

use super::grammar::{next_element, parse_challenge, parse_name_addr, parse_params, parse_via};
use super::lex::{Cursor, header_err, lower, parse_number, show};
use super::{HeaderName, Headers, Method, ParseError};
use bytes::Bytes;

/// A generic `;name=value` parameter (value absent for flags such as `;lr`, `;rport`).
/// A quoted value is stored unquoted, with `\` escapes resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    pub name: Bytes,
    pub value: Option<Bytes>,
}

/// Case-insensitive lookup of a parameter by name.
pub fn find_param<'a>(params: &'a [Param], name: &str) -> Option<Option<&'a Bytes>> {
    params
        .iter()
        .find(|p| p.name.eq_ignore_ascii_case(name.as_bytes()))
        .map(|p| p.value.as_ref())
}

/// One Via entry (a header line may hold several, comma-separated).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Via {
    /// `UDP`, `TCP`, `TLS`, `WS`, or any token (RFC 4475 `transports`), upper-cased.
    pub transport: Bytes,
    /// Host name, IPv4 address, or IPv6 reference with its brackets (`[2001:db8::1]`).
    pub host: Bytes,
    pub port: Option<u16>,
    pub params: Vec<Param>,
}

/// RFC 3261 §8.1.1.7 magic cookie.
const BRANCH_COOKIE: &[u8] = b"z9hG4bK";

impl Via {
    pub fn branch(&self) -> Option<&Bytes> {
        find_param(&self.params, "branch").flatten()
    }
    pub fn received(&self) -> Option<&Bytes> {
        find_param(&self.params, "received").flatten()
    }
    /// `None`: no rport; `Some(None)`: `;rport` flag (or a value that is not a port);
    /// `Some(Some(p))`: `;rport=p`.
    pub fn rport(&self) -> Option<Option<u16>> {
        find_param(&self.params, "rport").map(|v| {
            v.and_then(|v| parse_number(v, u64::from(u16::MAX)).ok())
                .and_then(|n| u16::try_from(n).ok())
        })
    }
    /// RFC 3261 §17.2.3: the branch starts with the magic cookie `z9hG4bK` and has
    /// something after it (a bare cookie, RFC 4475 `badbranch`, identifies nothing, so
    /// such a request is matched the RFC 2543 way).
    pub fn is_rfc3261_branch(&self) -> bool {
        self.branch()
            .is_some_and(|b| b.len() > BRANCH_COOKIE.len() && b.starts_with(BRANCH_COOKIE))
    }
}

/// `name-addr` / `addr-spec` with header parameters: From, To, Contact, Route, Record-Route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameAddr {
    /// Display name with quotes removed and escapes resolved.
    pub display: Option<Bytes>,
    /// The URI text (inside `<>` when it was enclosed).
    pub uri: Bytes,
    pub params: Vec<Param>,
}

impl NameAddr {
    pub fn tag(&self) -> Option<&Bytes> {
        find_param(&self.params, "tag").flatten()
    }
    pub fn param(&self, name: &str) -> Option<Option<&Bytes>> {
        find_param(&self.params, name)
    }
}

/// A Contact header entry: `*` (REGISTER removal) or an address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Contact {
    Star,
    Addr(NameAddr),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CSeq {
    pub seq: u32,
    pub method: Method,
}

/// Authorization / WWW-Authenticate / Proxy-* value: scheme plus `name=value` pairs,
/// with quoted values unquoted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    pub scheme: Bytes,
    pub params: Vec<(Bytes, Bytes)>,
}

impl Challenge {
    /// Parameter lookup, name case-insensitive.
    pub fn param(&self, name: &str) -> Option<&Bytes> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v)
    }
}

/// Largest CSeq number (RFC 3261 §8.1.1.5: less than 2**31).
const MAX_CSEQ: u64 = (1 << 31) - 1;

/// Typed accessors. Each returns `Err` when the header is present but malformed, or
/// when a single-valued header appears more than once.
impl Headers {
    /// Every Via entry, top first, across all Via lines.
    pub fn vias(&self) -> Result<Vec<Via>, ParseError> {
        let mut out = Vec::with_capacity(2);
        for value in self.get_all(&HeaderName::Via) {
            let mut c = Cursor::new(value);
            loop {
                out.push(parse_via(&mut c)?);
                if !next_element(&mut c, "Via")? {
                    break;
                }
            }
        }
        Ok(out)
    }
    pub fn top_via(&self) -> Result<Via, ParseError> {
        let value = self
            .get(&HeaderName::Via)
            .ok_or(ParseError::Missing("Via"))?;
        let mut c = Cursor::new(value);
        let via = parse_via(&mut c)?;
        next_element(&mut c, "Via")?;
        Ok(via)
    }
    pub fn from_addr(&self) -> Result<NameAddr, ParseError> {
        self.single_addr(&HeaderName::From, "From")
    }
    pub fn to_addr(&self) -> Result<NameAddr, ParseError> {
        self.single_addr(&HeaderName::To, "To")
    }
    pub fn call_id(&self) -> Result<Bytes, ParseError> {
        let v = self
            .single(&HeaderName::CallId, "Call-ID")?
            .ok_or(ParseError::Missing("Call-ID"))?;
        let mut c = Cursor::new(v);
        c.skip_ws();
        let id = c.take_while(|b| b > 0x20 && b != 0x7f);
        c.skip_ws();
        if id.is_empty() || !c.at_end() {
            return Err(header_err(
                "Call-ID",
                "expected one word such as abc123@host, without spaces",
            ));
        }
        Ok(id)
    }
    pub fn cseq(&self) -> Result<CSeq, ParseError> {
        let v = self
            .single(&HeaderName::CSeq, "CSeq")?
            .ok_or(ParseError::Missing("CSeq"))?;
        let mut c = Cursor::new(v);
        c.skip_ws();
        let digits = c.take_while(|b| b.is_ascii_digit());
        let seq = parse_number(&digits, MAX_CSEQ)
            .map_err(|e| header_err("CSeq", format!("{e} (sequence number must be below 2^31)")))?;
        if !c.skip_ws() {
            return Err(header_err(
                "CSeq",
                "expected 'number METHOD', e.g. '1 INVITE'",
            ));
        }
        let method = c
            .token()
            .ok_or_else(|| header_err("CSeq", "missing method after the number"))?;
        c.skip_ws();
        if !c.at_end() {
            return Err(header_err(
                "CSeq",
                format!("unexpected {} after the method", show(c.peek())),
            ));
        }
        Ok(CSeq {
            seq: u32::try_from(seq).unwrap_or(u32::MAX),
            method: Method::from_shared(method),
        })
    }
    pub fn max_forwards(&self) -> Result<Option<u8>, ParseError> {
        let Some(v) = self.single(&HeaderName::MaxForwards, "Max-Forwards")? else {
            return Ok(None);
        };
        let n = number(v, 255, "Max-Forwards")?;
        Ok(u8::try_from(n).ok())
    }
    pub fn content_length(&self) -> Result<Option<usize>, ParseError> {
        let Some(v) = self.single(&HeaderName::ContentLength, "Content-Length")? else {
            return Ok(None);
        };
        let n = number(v, u64::from(u32::MAX), "Content-Length")?;
        Ok(usize::try_from(n).ok())
    }
    /// `type/subtype` lower-cased, parameters dropped.
    pub fn content_type(&self) -> Result<Option<Bytes>, ParseError> {
        let Some(v) = self.single(&HeaderName::ContentType, "Content-Type")? else {
            return Ok(None);
        };
        let mut c = Cursor::new(v);
        c.skip_ws();
        let start = c.pos;
        let bad = || {
            header_err(
                "Content-Type",
                "expected type/subtype, e.g. application/sdp",
            )
        };
        let ty = c.token().ok_or_else(bad)?;
        let ty_end = c.pos;
        if !c.eat_ws(b'/') {
            return Err(bad());
        }
        c.skip_ws();
        let sub_start = c.pos;
        let sub = c.token().ok_or_else(bad)?;
        let media = if sub_start == ty_end + 1 {
            c.slice(start, c.pos)
        } else {
            // LWS around the slash: rebuild without it.
            let mut m = Vec::with_capacity(ty.len() + 1 + sub.len());
            m.extend_from_slice(&ty);
            m.push(b'/');
            m.extend_from_slice(&sub);
            Bytes::from(m)
        };
        parse_params(&mut c, "Content-Type")?;
        c.skip_ws();
        if !c.at_end() {
            return Err(header_err(
                "Content-Type",
                format!("unexpected {}", show(c.peek())),
            ));
        }
        Ok(Some(lower(media)))
    }
    pub fn expires(&self) -> Result<Option<u32>, ParseError> {
        let Some(v) = self.single(&HeaderName::Expires, "Expires")? else {
            return Ok(None);
        };
        let n = number(v, u64::from(u32::MAX), "Expires")?;
        Ok(u32::try_from(n).ok())
    }
    pub fn contacts(&self) -> Result<Vec<Contact>, ParseError> {
        let mut out = Vec::new();
        let lines = self.count(&HeaderName::Contact);
        for value in self.get_all(&HeaderName::Contact) {
            let mut c = Cursor::new(value);
            c.skip_ws();
            if c.peek() == Some(b'*') {
                let save = c.pos;
                c.pos += 1;
                c.skip_ws();
                if c.at_end() {
                    if lines > 1 {
                        return Err(header_err("Contact", "'*' must be the only Contact value"));
                    }
                    out.push(Contact::Star);
                    continue;
                }
                c.pos = save;
            }
            loop {
                out.push(Contact::Addr(parse_name_addr(&mut c, "Contact")?));
                if !next_element(&mut c, "Contact")? {
                    break;
                }
            }
        }
        Ok(out)
    }
    /// Route or Record-Route entries in order.
    pub fn name_addrs(&self, name: &HeaderName) -> Result<Vec<NameAddr>, ParseError> {
        let mut out = Vec::new();
        for value in self.get_all(name) {
            let mut c = Cursor::new(value);
            loop {
                out.push(parse_name_addr(&mut c, name.as_str())?);
                if !next_element(&mut c, name.as_str())? {
                    break;
                }
            }
        }
        Ok(out)
    }
    /// Comma-separated token lists (Require, Supported, Allow, Accept, Proxy-Require…),
    /// trimmed, across every line with this name.
    pub fn tokens(&self, name: &HeaderName) -> Vec<Bytes> {
        let mut out = Vec::new();
        for value in self.get_all(name) {
            let mut start = 0;
            for part in value.split(|&b| b == b',') {
                let end = start + part.len();
                let (s, e) = super::lex::trim_range(value, start, end);
                if s < e {
                    out.push(value.slice(s..e));
                }
                start = end + 1;
            }
        }
        out
    }
    /// Every readable challenge on lines with this name (a server may send one per
    /// algorithm, RFC 8760 §2.4); unreadable lines are skipped.
    pub fn challenges(&self, name: &HeaderName) -> Vec<Challenge> {
        self.get_all(name)
            .filter_map(|v| parse_challenge(v, name.as_str()).ok())
            .collect()
    }

    pub fn challenge(&self, name: &HeaderName) -> Result<Option<Challenge>, ParseError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => parse_challenge(v, name.as_str()).map(Some),
        }
    }

    /// The only line with this name; `Duplicate` when there are several.
    fn single<'a>(
        &'a self,
        name: &'a HeaderName,
        label: &'static str,
    ) -> Result<Option<&'a Bytes>, ParseError> {
        let mut it = self.get_all(name);
        let first = it.next();
        if it.next().is_some() {
            return Err(ParseError::Duplicate(label));
        }
        Ok(first)
    }

    fn single_addr(&self, name: &HeaderName, label: &'static str) -> Result<NameAddr, ParseError> {
        let v = self
            .single(name, label)?
            .ok_or(ParseError::Missing(label))?;
        let mut c = Cursor::new(v);
        let addr = parse_name_addr(&mut c, label)?;
        if next_element(&mut c, label)? {
            return Err(header_err(
                label,
                "holds more than one address (only one is allowed)",
            ));
        }
        Ok(addr)
    }
}

fn number(v: &Bytes, max: u64, name: &str) -> Result<u64, ParseError> {
    let (s, e) = super::lex::trim_range(v, 0, v.len());
    parse_number(v.get(s..e).unwrap_or_default(), max)
        .map_err(|e| header_err(name, format!("{e} (expected 0..={max})")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdrs(lines: &[(&str, &str)]) -> Headers {
        let mut h = Headers::new();
        for (n, v) in lines {
            h.push(
                HeaderName::from_bytes(n.as_bytes()),
                Bytes::copy_from_slice(v.as_bytes()),
            );
        }
        h
    }

    #[test]
    fn via_with_lws_ipv6_and_params() {
        let h = hdrs(&[
            (
                "Via",
                "SIP  / 2.0  / tcp     spindle.example.com   ; branch  =   z9hG4bK9ikj8  , SIP/2.0/UDP [2001:db8::10]:5060;rport;received=192.0.2.1",
            ),
            ("v", "SIP/2.0/UDP h3:5062;rport=5063;ttl=1"),
        ]);
        let v = h.vias().unwrap();
        assert_eq!(v.len(), 3);
        assert_eq!(&v[0].transport[..], b"TCP");
        assert_eq!(&v[0].host[..], b"spindle.example.com");
        assert_eq!(v[0].branch().map(|b| &b[..]), Some(&b"z9hG4bK9ikj8"[..]));
        assert!(v[0].is_rfc3261_branch());
        assert_eq!(&v[1].host[..], b"[2001:db8::10]");
        assert_eq!(v[1].port, Some(5060));
        assert_eq!(v[1].rport(), Some(None));
        assert_eq!(v[1].received().map(|b| &b[..]), Some(&b"192.0.2.1"[..]));
        assert_eq!(v[2].rport(), Some(Some(5063)));
        assert_eq!(v[0].rport(), None);
        assert_eq!(h.top_via().unwrap(), v[0]);
    }

    #[test]
    fn bad_vias() {
        for bad in [
            "SIP/2.0/UDP 192.0.2.15;;,;,,",
            "SIP/2.0/UDP",
            "SIP/2.0/UDPhost",
            "HTTP/1.1/TCP h",
            "SIP/2.0/UDP h;branch=",
            "SIP/2.0/UDP h:99999",
            "SIP/2.0/UDP [::1",
            "SIP/2.0/UDP h,",
        ] {
            assert!(hdrs(&[("Via", bad)]).vias().is_err(), "{bad}");
        }
        let bare = hdrs(&[("Via", "SIP/2.0/UDP h;branch=z9hG4bK")])
            .top_via()
            .unwrap();
        assert!(!bare.is_rfc3261_branch());
        assert_eq!(hdrs(&[]).top_via(), Err(ParseError::Missing("Via")));
    }

    #[test]
    fn name_addr_forms() {
        let h = hdrs(&[
            (
                "From",
                r#""J Rosenberg \\\""       <sip:jdrosen@example.com> ; tag = 98asjd8"#,
            ),
            (
                "To",
                "sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n",
            ),
        ]);
        let f = h.from_addr().unwrap();
        assert_eq!(f.display.as_deref(), Some(&br#"J Rosenberg \""#[..]));
        assert_eq!(&f.uri[..], b"sip:jdrosen@example.com");
        assert_eq!(f.tag().map(|t| &t[..]), Some(&b"98asjd8"[..]));
        let t = h.to_addr().unwrap();
        assert_eq!(t.display, None);
        assert_eq!(&t.uri[..], b"sip:vivekg@chair-dnrc.example.com");
        assert_eq!(t.tag().map(|t| &t[..]), Some(&b"1918181833n"[..]));

        let h = hdrs(&[
            ("f", "caller<sip:caller@example.com>;tag=323"),
            ("t", "A. Bell <sip:a@b;lr>;x"),
        ]);
        let f = h.from_addr().unwrap();
        assert_eq!(f.display.as_deref(), Some(&b"caller"[..]));
        let t = h.to_addr().unwrap();
        assert_eq!(t.display.as_deref(), Some(&b"A. Bell"[..]));
        assert_eq!(&t.uri[..], b"sip:a@b;lr");
        assert_eq!(t.param("X"), Some(None));
        assert_eq!(t.param("y"), None);
    }

    #[test]
    fn bad_name_addrs() {
        for bad in [
            r#""Mr. J. User <sip:j.user@example.com>"#,
            "sip:user@example.com?Route=%3Csip:sip.example.com%3E",
            "< sip:t.watson@example.org >",
            "Watson, Thomas <sip:t.watson@example.org>",
            "<sip:a@b",
            "\"x\" sip:a@b",
            "<sip:a@b>;;",
            "<sip:a@b>;tag=",
            "nocolon",
            "sip:a@b, sip:c@d",
            "",
        ] {
            assert!(hdrs(&[("To", bad)]).to_addr().is_err(), "{bad}");
        }
        assert_eq!(
            hdrs(&[("To", "sip:a@b"), ("t", "sip:c@d")]).to_addr(),
            Err(ParseError::Duplicate("To"))
        );
        assert_eq!(hdrs(&[]).from_addr(), Err(ParseError::Missing("From")));
    }

    #[test]
    fn contacts_star_and_lists() {
        let h = hdrs(&[("m", " * ")]);
        assert_eq!(h.contacts().unwrap(), vec![Contact::Star]);
        let h = hdrs(&[("m", "*"), ("Contact", "<sip:a@b>")]);
        assert!(h.contacts().is_err());
        let h = hdrs(&[
            (
                "Contact",
                r#""Quoted string \"\"" <sip:jdrosen@example.com> ; newparam = newvalue ; secondparam ; q = 0.33"#,
            ),
            ("Contact", "<sip:a@b?x=1,2>;expires=60, sip:c@d;q=0.5"),
        ]);
        let c = h.contacts().unwrap();
        assert_eq!(c.len(), 3);
        let Contact::Addr(a) = &c[0] else {
            panic!("star")
        };
        assert_eq!(a.display.as_deref(), Some(&br#"Quoted string """#[..]));
        assert_eq!(
            a.param("newparam"),
            Some(Some(&Bytes::from_static(b"newvalue")))
        );
        assert_eq!(a.param("secondparam"), Some(None));
        assert_eq!(a.param("q"), Some(Some(&Bytes::from_static(b"0.33"))));
        let Contact::Addr(b) = &c[1] else {
            panic!("star")
        };
        assert_eq!(&b.uri[..], b"sip:a@b?x=1,2");
        let Contact::Addr(d) = &c[2] else {
            panic!("star")
        };
        assert_eq!(&d.uri[..], b"sip:c@d");
        assert!(
            hdrs(&[("Contact", r#""Joe" <sip:joe@example.org>;;;;"#)])
                .contacts()
                .is_err()
        );
    }

    #[test]
    fn cseq_and_scalars() {
        let h = hdrs(&[
            ("CSeq", "0009 INVITE"),
            ("Max-Forwards", "0068"),
            ("Expires", "4294967295"),
            ("l", "0"),
        ]);
        assert_eq!(
            h.cseq().unwrap(),
            CSeq {
                seq: 9,
                method: Method::Invite
            }
        );
        assert_eq!(h.max_forwards(), Ok(Some(68)));
        assert_eq!(h.expires(), Ok(Some(u32::MAX)));
        assert_eq!(h.content_length(), Ok(Some(0)));
        assert_eq!(
            hdrs(&[("CSeq", "2147483647 FOO")]).cseq().unwrap().seq,
            2_147_483_647
        );
        for bad in [
            "2147483648 INVITE",
            "36893488147419103232 REGISTER",
            "1",
            "1INVITE",
            "x INVITE",
            "1 INVITE x",
            "-1 INVITE",
        ] {
            assert!(hdrs(&[("CSeq", bad)]).cseq().is_err(), "{bad}");
        }
        assert!(hdrs(&[("Max-Forwards", "300")]).max_forwards().is_err());
        assert!(hdrs(&[("Expires", "4294967296")]).expires().is_err());
        assert!(hdrs(&[("Expires", "1e3")]).expires().is_err());
        assert_eq!(hdrs(&[]).max_forwards(), Ok(None));
        assert_eq!(
            hdrs(&[("CSeq", "1 A"), ("CSeq", "2 A")]).cseq(),
            Err(ParseError::Duplicate("CSeq"))
        );
    }

    #[test]
    fn call_id_content_type_tokens() {
        let h = hdrs(&[
            ("i", "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"),
            ("c", "Multipart/Mixed ; boundary=7a9cbec02ceef655"),
            ("Require", "a, b,,c "),
            ("Require", "d"),
        ]);
        assert_eq!(
            &h.call_id().unwrap()[..],
            b"intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
        );
        assert_eq!(
            h.content_type().unwrap().as_deref(),
            Some(&b"multipart/mixed"[..])
        );
        let t: Vec<_> = h
            .tokens(&HeaderName::Require)
            .iter()
            .map(|t| t.to_vec())
            .collect();
        assert_eq!(
            t,
            vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec(), b"d".to_vec()]
        );
        assert_eq!(
            hdrs(&[("c", "text / plain")])
                .content_type()
                .unwrap()
                .as_deref(),
            Some(&b"text/plain"[..])
        );
        assert!(hdrs(&[("c", "text")]).content_type().is_err());
        assert!(hdrs(&[("i", "a b")]).call_id().is_err());
        assert!(hdrs(&[("i", "")]).call_id().is_err());
    }

    #[test]
    fn challenges() {
        let h = hdrs(&[
            (
                "WWW-Authenticate",
                r#"Digest realm="a.example", nonce="n\"1", algorithm=MD5, qop="auth,auth-int""#,
            ),
            ("Authorization", "NoOneKnowsThisScheme opaque-data=here"),
            ("Proxy-Authorization", "Basic dXNlcjpwYXNz"),
        ]);
        let c = h.challenge(&HeaderName::WwwAuthenticate).unwrap().unwrap();
        assert_eq!(&c.scheme[..], b"Digest");
        assert_eq!(c.param("REALM").map(|v| &v[..]), Some(&b"a.example"[..]));
        assert_eq!(c.param("nonce").map(|v| &v[..]), Some(&b"n\"1"[..]));
        assert_eq!(c.param("qop").map(|v| &v[..]), Some(&b"auth,auth-int"[..]));
        assert_eq!(c.param("algorithm").map(|v| &v[..]), Some(&b"MD5"[..]));
        let a = h.challenge(&HeaderName::Authorization).unwrap().unwrap();
        assert_eq!(a.param("opaque-data").map(|v| &v[..]), Some(&b"here"[..]));
        let b = h
            .challenge(&HeaderName::ProxyAuthorization)
            .unwrap()
            .unwrap();
        assert!(b.params.is_empty());
        assert_eq!(h.challenge(&HeaderName::ProxyAuthenticate), Ok(None));
        assert!(
            hdrs(&[("Authorization", r#"Digest realm="x"#)])
                .challenge(&HeaderName::Authorization)
                .is_err()
        );
    }
}
