//! Registrar for agents' SIP phones (RFC 3261 §10.3), sans-IO: bindings live in memory,
//! time comes in as `now`. Authentication is the caller's job (see `auth.rs`); so is the
//! To tag of the response.
//!
//! A REGISTER is applied to a tentative copy of the address-of-record's bindings and
//! committed only when every Contact succeeded (§10.3 step 7), so a 4xx/5xx changes nothing.

use super::message::{Contact, HeaderName, Method, Param, ParseError, Request, Response, Uri};
use bytes::Bytes;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Expiry limits in seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegistrarConfig {
    /// Shorter non-zero requests get 423 with Min-Expires.
    pub min_expires: u32,
    /// Longer requests are cut down to this.
    pub max_expires: u32,
    /// Used when neither the Contact nor the request says.
    pub default_expires: u32,
}

impl Default for RegistrarConfig {
    fn default() -> Self {
        RegistrarConfig {
            min_expires: 60,
            max_expires: 3600,
            default_expires: 3600,
        }
    }
}

/// One contact registered for an address-of-record.
#[derive(Clone, Debug, PartialEq)]
pub struct Binding {
    /// Canonical AOR, e.g. `sip:1001@example.com` (see [`canonical_aor`]).
    pub aor: String,
    /// The Contact URI text, without `?headers` (RFC 4475 `regescrt`).
    pub contact: Bytes,
    /// Where the REGISTER came from: behind NAT this, not `contact`, is reachable.
    pub source: SocketAddr,
    pub expires_at: Instant,
    pub call_id: Bytes,
    pub cseq: u32,
    pub q: Option<f32>,
}

/// A binding plus its parsed Contact URI, kept for the §19.1.4 comparisons.
#[derive(Clone, Debug)]
struct Entry {
    binding: Binding,
    uri: Uri,
}

/// Most contacts one AOR may hold; a phone fleet needs a handful, a bug or a flood more.
const MAX_BINDINGS_PER_AOR: usize = 16;

#[derive(Debug)]
pub struct Registrar {
    cfg: RegistrarConfig,
    by_aor: HashMap<String, Vec<Entry>>,
}

/// Why a REGISTER was refused; mapped to a response by `handle_register`.
enum Refusal {
    BadRequest(String),
    TooBrief,
    OutOfOrder,
    TooManyBindings,
    NotRegister,
}

impl Registrar {
    pub fn new(cfg: RegistrarConfig) -> Self {
        Registrar {
            cfg,
            by_aor: HashMap::new(),
        }
    }

    /// Processes an (already authenticated) REGISTER and returns the response to send
    /// (200 listing all current bindings with `;expires=N`, or 400/423 with Min-Expires/500).
    /// The caller adds the To tag. `source` is where the REGISTER came from (kept for NAT).
    pub fn handle_register(&mut self, now: Instant, req: &Request, source: SocketAddr) -> Response {
        match self.apply(now, req, source) {
            Ok(aor) => {
                let mut resp = Response::for_request(req, 200, "OK");
                for e in self.by_aor.get(&aor).into_iter().flatten() {
                    let b = &e.binding;
                    let left = b.expires_at.saturating_duration_since(now);
                    let mut v = Vec::with_capacity(b.contact.len() + 24);
                    v.push(b'<');
                    v.extend_from_slice(&b.contact);
                    v.extend_from_slice(format!(">;expires={}", ceil_secs(left)).as_bytes());
                    if let Some(q) = b.q {
                        v.extend_from_slice(format!(";q={q}").as_bytes());
                    }
                    resp.headers.push(HeaderName::Contact, v);
                }
                resp
            }
            Err(Refusal::BadRequest(why)) => {
                Response::for_request(req, 400, &format!("Bad Request ({})", sanitize(&why)))
            }
            Err(Refusal::TooBrief) => {
                let mut resp = Response::for_request(req, 423, "Interval Too Brief");
                resp.headers
                    .push(HeaderName::MinExpires, self.cfg.min_expires.to_string());
                resp
            }
            Err(Refusal::OutOfOrder) => Response::for_request(
                req,
                500,
                "Server Internal Error (out of order REGISTER: Call-ID reused with a CSeq not above the stored one)",
            ),
            Err(Refusal::TooManyBindings) => Response::for_request(
                req,
                503,
                "Service Unavailable (too many contacts registered for this address)",
            ),
            Err(Refusal::NotRegister) => Response::for_request(
                req,
                500,
                "Server Internal Error (registrar was given a request that is not REGISTER)",
            ),
        }
    }

    /// §10.3 steps 5–7; returns the AOR whose bindings the 200 lists.
    fn apply(
        &mut self,
        now: Instant,
        req: &Request,
        source: SocketAddr,
    ) -> Result<String, Refusal> {
        if req.method != Method::Register {
            return Err(Refusal::NotRegister);
        }
        let bad = |what: &str, e: ParseError| Refusal::BadRequest(format!("{what}: {e}"));
        let to = req.headers.to_addr().map_err(|e| bad("To", e))?;
        let aor = canonical_aor(&to.uri).map_err(|e| bad("To", e))?;
        let call_id = req.headers.call_id().map_err(|e| bad("Call-ID", e))?;
        let cseq = req.headers.cseq().map_err(|e| bad("CSeq", e))?.seq;
        let contacts = req.headers.contacts().map_err(|e| bad("Contact", e))?;
        let expires_hdr = req.headers.expires().map_err(|e| bad("Expires", e))?;

        // Expired bindings take no part in the Call-ID/CSeq checks below.
        let mut current: Vec<Entry> = self.by_aor.remove(&aor).unwrap_or_default();
        current.retain(|e| e.binding.expires_at > now);
        let result = self.update(
            now,
            &aor,
            &current,
            &contacts,
            expires_hdr,
            &call_id,
            cseq,
            source,
        );
        let committed = match result {
            Ok(next) => next,
            Err(r) => {
                self.store(aor, current);
                return Err(r);
            }
        };
        self.store(aor.clone(), committed);
        Ok(aor)
    }

    /// The AOR's bindings after this request, or why the request fails (nothing applied).
    #[allow(clippy::too_many_arguments)]
    fn update(
        &self,
        now: Instant,
        aor: &str,
        current: &[Entry],
        contacts: &[Contact],
        expires_hdr: Option<u32>,
        call_id: &Bytes,
        cseq: u32,
        source: SocketAddr,
    ) -> Result<Vec<Entry>, Refusal> {
        // Each pair: the binding and whether this request already wrote it (a contact
        // listed twice in one REGISTER must not trip the CSeq check against itself).
        let mut next: Vec<(Entry, bool)> = current.iter().cloned().map(|e| (e, false)).collect();
        let out_of_order = |b: &Binding| b.call_id == *call_id && cseq <= b.cseq;

        if contacts.iter().any(|c| matches!(c, Contact::Star)) {
            // Step 6: `*` only alone and with Expires: 0; then remove every binding.
            if contacts.len() != 1 {
                return Err(Refusal::BadRequest(
                    "Contact: * must be the only Contact".into(),
                ));
            }
            if expires_hdr != Some(0) {
                return Err(Refusal::BadRequest("Contact: * requires Expires: 0".into()));
            }
            if current.iter().any(|e| out_of_order(&e.binding)) {
                return Err(Refusal::OutOfOrder);
            }
            return Ok(Vec::new());
        }

        for c in contacts {
            let Contact::Addr(na) = c else { continue };
            let text = strip_uri_headers(&na.uri);
            let uri = Uri::parse(&text).map_err(|e| {
                Refusal::BadRequest(format!(
                    "Contact URI {:?}: {e}",
                    String::from_utf8_lossy(&text)
                ))
            })?;
            let requested = match param(&na.params, "expires") {
                Some(v) => parse_delta(v.as_ref()).ok_or_else(|| {
                    Refusal::BadRequest(
                        "Contact expires parameter is not a number of seconds".into(),
                    )
                })?,
                None => expires_hdr.unwrap_or(self.cfg.default_expires),
            };
            if requested != 0 && requested < self.cfg.min_expires {
                return Err(Refusal::TooBrief);
            }
            let expires = requested.min(self.cfg.max_expires);
            let q = match param(&na.params, "q") {
                Some(v) => Some(parse_q(v.as_ref()).ok_or_else(|| {
                    Refusal::BadRequest("Contact q parameter must be between 0 and 1".into())
                })?),
                None => None,
            };

            let found = next.iter().position(|(e, _)| uri_equal(&e.uri, &uri));
            if let Some(i) = found {
                let (existing, touched) = &next[i];
                if !touched && out_of_order(&existing.binding) {
                    return Err(Refusal::OutOfOrder);
                }
                if expires == 0 {
                    next.remove(i);
                    continue;
                }
            } else if expires == 0 {
                continue;
            }
            let entry = Entry {
                binding: Binding {
                    aor: aor.to_owned(),
                    contact: text,
                    source,
                    expires_at: now + Duration::from_secs(u64::from(expires)),
                    call_id: call_id.clone(),
                    cseq,
                    q,
                },
                uri,
            };
            match found {
                Some(i) => next[i] = (entry, true),
                None => next.push((entry, true)),
            }
        }
        if next.len() > MAX_BINDINGS_PER_AOR && next.len() > current.len() {
            return Err(Refusal::TooManyBindings);
        }
        Ok(next.into_iter().map(|(e, _)| e).collect())
    }

    fn store(&mut self, aor: String, entries: Vec<Entry>) {
        if !entries.is_empty() {
            self.by_aor.insert(aor, entries);
        }
    }

    /// Live bindings of an AOR, highest q first (absent q counts as 1.0), otherwise in
    /// registration order. `aor` may be any spelling of the URI (it is canonicalised).
    pub fn lookup(&self, now: Instant, aor: &str) -> Vec<&Binding> {
        let key = canonical_aor(&Bytes::copy_from_slice(aor.as_bytes()))
            .unwrap_or_else(|_| aor.to_owned());
        let mut found: Vec<&Binding> = self
            .by_aor
            .get(&key)
            .into_iter()
            .flatten()
            .map(|e| &e.binding)
            .filter(|b| b.expires_at > now)
            .collect();
        found.sort_by(|a, b| b.q.unwrap_or(1.0).total_cmp(&a.q.unwrap_or(1.0)));
        found
    }

    /// Live bindings of every AOR whose user part is `user` (an agent's phone, whatever
    /// host it registered under), best first as in [`Registrar::lookup`].
    pub fn lookup_user(&self, now: Instant, user: &str) -> Vec<&Binding> {
        let mut found: Vec<&Binding> = self
            .by_aor
            .iter()
            .filter(|(aor, _)| {
                aor.split_once(':')
                    .and_then(|(_, rest)| rest.split_once('@'))
                    .is_some_and(|(u, _)| u == user)
            })
            .flat_map(|(_, v)| v.iter().map(|e| &e.binding))
            .filter(|b| b.expires_at > now)
            .collect();
        found.sort_by(|a, b| b.q.unwrap_or(1.0).total_cmp(&a.q.unwrap_or(1.0)));
        found
    }

    /// Drops expired bindings; returns how many.
    pub fn expire(&mut self, now: Instant) -> usize {
        let mut dropped = 0;
        self.by_aor.retain(|_, entries| {
            let before = entries.len();
            entries.retain(|e| e.binding.expires_at > now);
            dropped += before - entries.len();
            !entries.is_empty()
        });
        dropped
    }

    /// When the next binding expires (call [`Registrar::expire`] then). A scan: the
    /// binding count is the agents' phones, not the calls.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.by_aor
            .values()
            .flatten()
            .map(|e| e.binding.expires_at)
            .min()
    }

    /// Bindings held, expired ones included until [`Registrar::expire`] runs.
    pub fn len(&self) -> usize {
        self.by_aor.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.by_aor.is_empty()
    }
}

/// The AOR a To URI registers (§10.3 step 5): `scheme:user@host` with the host
/// lower-cased, the user %-escaped canonically, and port, parameters and headers dropped.
/// Only `sip:` and `sips:` URIs name an AOR.
pub fn canonical_aor(uri: &Bytes) -> Result<String, ParseError> {
    let u = Uri::parse(uri)?;
    if !u.is_sip() {
        return Err(ParseError::Header {
            name: "To".into(),
            reason: format!(
                "{:?} is not a sip: or sips: URI, so it cannot be registered",
                String::from_utf8_lossy(uri)
            ),
        });
    }
    let mut aor = String::with_capacity(uri.len());
    aor.push_str(&String::from_utf8_lossy(&u.scheme));
    aor.push(':');
    if let Some(user) = &u.user {
        for &b in user.iter() {
            if b.is_ascii_alphanumeric() || b"-_.!~*'()&=+$,;?/".contains(&b) {
                aor.push(char::from(b));
            } else {
                aor.push_str(&format!("%{b:02X}"));
            }
        }
        aor.push('@');
    }
    aor.push_str(&String::from_utf8_lossy(&u.host).to_ascii_lowercase());
    Ok(aor)
}

/// Cuts `?headers` off a URI. Neither parameters nor headers may hold a raw `@`, so the
/// host part starts after the last `@`; a `?` before it belongs to the user part.
fn strip_uri_headers(uri: &Bytes) -> Bytes {
    let host_start = uri.iter().rposition(|&b| b == b'@').map_or(0, |i| i + 1);
    match uri[host_start..].iter().position(|&b| b == b'?') {
        Some(q) => uri.slice(..host_start + q),
        None => uri.clone(),
    }
}

/// RFC 3261 §19.1.4 URI equality: user and password case-sensitive, host
/// case-insensitive, port as written, `user`/`ttl`/`method`/`maddr`/`transport` must agree
/// when either side has them, other parameters only when both do. Headers were stripped.
fn uri_equal(a: &Uri, b: &Uri) -> bool {
    if a.scheme != b.scheme {
        return false;
    }
    if !a.is_sip() {
        return a.user == b.user && a.host == b.host;
    }
    if a.user != b.user
        || a.password != b.password
        || !a.host.eq_ignore_ascii_case(&b.host)
        || a.port != b.port
    {
        return false;
    }
    let same = |x: Option<&Option<Bytes>>, y: Option<&Option<Bytes>>| match (x, y) {
        (Some(Some(x)), Some(Some(y))) => x.eq_ignore_ascii_case(y),
        (x, y) => x.map(Option::is_some) == y.map(Option::is_some),
    };
    for name in ["user", "ttl", "method", "maddr", "transport"] {
        if !same(param(&a.params, name), param(&b.params, name)) {
            return false;
        }
    }
    a.params.iter().all(|p| {
        let name = std::str::from_utf8(&p.name).unwrap_or("");
        match param(&b.params, name) {
            Some(other) => same(Some(&p.value), Some(other)),
            None => true,
        }
    })
}

/// A parameter by name (case-insensitive): `Some(None)` for a flag.
fn param<'a>(params: &'a [Param], name: &str) -> Option<&'a Option<Bytes>> {
    params
        .iter()
        .find(|p| p.name.eq_ignore_ascii_case(name.as_bytes()))
        .map(|p| &p.value)
}

/// `delta-seconds`; values past u32 saturate (they are capped at max_expires anyway).
fn parse_delta(v: Option<&Bytes>) -> Option<u32> {
    let v = v?;
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(v.iter().fold(0u32, |n, d| {
        n.saturating_mul(10).saturating_add(u32::from(d - b'0'))
    }))
}

/// `qvalue` (RFC 3261 §20.10): a number from 0 to 1.
fn parse_q(v: Option<&Bytes>) -> Option<f32> {
    let v = v?;
    if v.is_empty() || !v.iter().all(|b| b.is_ascii_digit() || *b == b'.') {
        return None;
    }
    let q: f32 = std::str::from_utf8(v).ok()?.parse().ok()?;
    (0.0..=1.0).contains(&q).then_some(q)
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// A reason phrase may not hold CR, LF or other controls (it ends the status line).
fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::message::{Message, parse_datagram};

    const AOR: &str = "sip:1001@example.com";
    const A: &str = "Contact: <sip:a@192.0.2.1>";
    const B: &str = "Contact: <sip:b@192.0.2.2>";

    fn src() -> SocketAddr {
        SocketAddr::from(([198, 51, 100, 7], 40000))
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn parse_req(text: &[u8]) -> Request {
        match parse_datagram(Bytes::copy_from_slice(text)).expect("parses") {
            Message::Request(r) => r,
            Message::Response(_) => panic!("not a request"),
        }
    }

    /// A REGISTER for 1001 (To spelled with an upper-case host) with `extra` header lines.
    fn register(call_id: &str, cseq: u32, extra: &[&str]) -> Request {
        let mut s = format!(
            "REGISTER sip:example.com SIP/2.0\r\n\
             Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK{cseq}x\r\n\
             Max-Forwards: 70\r\nFrom: <sip:1001@example.com>;tag=a1\r\n\
             To: <sip:1001@Example.COM>\r\nCall-ID: {call_id}\r\nCSeq: {cseq} REGISTER\r\n"
        );
        for h in extra {
            s.push_str(h);
            s.push_str("\r\n");
        }
        s.push_str("Content-Length: 0\r\n\r\n");
        parse_req(s.as_bytes())
    }

    fn send(r: &mut Registrar, now: Instant, call_id: &str, cseq: u32, extra: &[&str]) -> Response {
        r.handle_register(now, &register(call_id, cseq, extra), src())
    }

    fn contacts(resp: &Response) -> Vec<String> {
        let values = resp.headers.get_all(&HeaderName::Contact);
        values
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .collect()
    }

    fn reg() -> Registrar {
        Registrar::new(RegistrarConfig::default())
    }

    fn rfc4475(name: &str) -> Request {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/rfc4475/");
        parse_req(&std::fs::read(format!("{dir}{name}.dat")).expect("test file"))
    }

    #[test]
    fn register_then_lookup() {
        let (t0, mut r) = (Instant::now(), reg());
        let phone = "sip:1001@192.0.2.10:5060";
        let resp = send(
            &mut r,
            t0,
            "c1",
            1,
            &[&format!("Contact: <{phone}>;expires=120")],
        );
        assert_eq!(resp.status, 200);
        assert_eq!(contacts(&resp), [format!("<{phone}>;expires=120")]);
        assert_eq!(resp.headers.call_id().unwrap(), "c1");

        let found = r.lookup(t0, AOR);
        assert_eq!(found.len(), 1);
        let b = found[0];
        assert_eq!(
            (b.aor.as_str(), &b.contact[..], b.source),
            (AOR, phone.as_bytes(), src())
        );
        assert_eq!((&b.call_id[..], b.cseq, b.q), (&b"c1"[..], 1, None));
        assert_eq!(b.expires_at, t0 + secs(120));
        // Any spelling of the AOR finds it.
        assert_eq!(
            r.lookup(t0, "sip:1001@EXAMPLE.com:5060;transport=udp")
                .len(),
            1
        );
        assert!(r.lookup(t0, "sip:1002@example.com").is_empty());
        assert_eq!((r.len(), r.is_empty()), (1, false));
        assert_eq!(r.poll_timeout(), Some(t0 + secs(120)));
    }

    #[test]
    fn a_phone_is_found_by_its_user_whatever_host_it_registered_under() {
        let (t0, mut r) = (Instant::now(), reg());
        let phone = "sip:1001@192.0.2.10:5060";
        send(
            &mut r,
            t0,
            "c1",
            1,
            &[&format!("Contact: <{phone}>;expires=120")],
        );
        let found = r.lookup_user(t0, "1001");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].contact, phone);
        assert!(
            r.lookup_user(t0, "100").is_empty(),
            "the whole user part must match"
        );
        assert!(
            r.lookup_user(t0 + Duration::from_secs(121), "1001")
                .is_empty()
        );
    }

    #[test]
    fn expiry_comes_from_param_then_header_then_default_and_is_capped() {
        let t0 = Instant::now();
        for (extra, want) in [
            (vec![A], 3600),
            (vec![A, "Expires: 300"], 300),
            (
                vec!["Contact: <sip:a@192.0.2.1>;expires=200", "Expires: 300"],
                200,
            ),
            (vec!["Contact: <sip:a@192.0.2.1>;expires=100000"], 3600),
            (
                vec!["Contact: <sip:a@192.0.2.1>;expires=99999999999999"],
                3600,
            ),
        ] {
            let resp = send(&mut reg(), t0, "c", 1, &extra);
            assert_eq!(resp.status, 200, "{extra:?}");
            let want = format!("<sip:a@192.0.2.1>;expires={want}");
            assert_eq!(contacts(&resp), [want], "{extra:?}");
        }
    }

    #[test]
    fn refresh_extends_and_lists_remaining_time_of_others() {
        let (t0, mut r) = (Instant::now(), reg());
        send(&mut r, t0, "ca", 1, &[A, "Expires: 600"]);
        let t1 = t0 + Duration::from_millis(100_500);
        let resp = send(&mut r, t1, "cb", 7, &[B, "Expires: 600"]);
        // a has 499.5 s left: rounded up.
        let want = [
            "<sip:a@192.0.2.1>;expires=500",
            "<sip:b@192.0.2.2>;expires=600",
        ];
        assert_eq!(contacts(&resp), want);
        assert_eq!(send(&mut r, t1, "ca", 2, &[A, "Expires: 600"]).status, 200);
        assert_eq!(r.len(), 2);
        let refreshed = r.lookup(t1, AOR)[0];
        assert_eq!((refreshed.cseq, refreshed.expires_at), (2, t1 + secs(600)));
    }

    #[test]
    fn expires_zero_removes_one_binding() {
        let (t0, mut r) = (Instant::now(), reg());
        send(&mut r, t0, "c", 1, &[A, B]);
        assert_eq!(r.len(), 2);
        let resp = send(
            &mut r,
            t0,
            "c",
            2,
            &["Contact: <sip:a@192.0.2.1>;expires=0"],
        );
        assert_eq!(resp.status, 200);
        assert_eq!(contacts(&resp), ["<sip:b@192.0.2.2>;expires=3600"]);
        // Removing what is not there is fine too.
        let resp = send(
            &mut r,
            t0,
            "c",
            3,
            &["Contact: <sip:zz@192.0.2.9>", "Expires: 0"],
        );
        assert_eq!((resp.status, r.len()), (200, 1));
    }

    #[test]
    fn star_removes_all_but_only_alone_with_expires_zero() {
        let (t0, mut r) = (Instant::now(), reg());
        send(
            &mut r,
            t0,
            "c",
            1,
            &["Contact: <sip:a@192.0.2.1>, <sip:b@192.0.2.2>"],
        );
        assert_eq!(r.len(), 2);
        for bad in [
            vec!["Contact: *"],
            vec!["Contact: *", "Expires: 60"],
            vec!["Contact: *", A, "Expires: 0"],
        ] {
            assert_eq!(send(&mut r, t0, "c", 5, &bad).status, 400, "{bad:?}");
            assert_eq!(r.len(), 2, "{bad:?}");
        }
        // Same Call-ID with an old CSeq may not wipe the bindings.
        let star = ["Contact: *", "Expires: 0"];
        assert_eq!((send(&mut r, t0, "c", 1, &star).status, r.len()), (500, 2));
        let resp = send(&mut r, t0, "other", 1, &star);
        assert_eq!((resp.status, contacts(&resp).len()), (200, 0));
        assert!(r.is_empty());
        assert_eq!(r.poll_timeout(), None);
    }

    #[test]
    fn too_brief_gets_423_and_changes_nothing() {
        let (t0, mut r) = (Instant::now(), reg());
        let brief = "Contact: <sip:b@192.0.2.2>;expires=30";
        let resp = send(&mut r, t0, "c", 1, &[A, brief]);
        assert_eq!(resp.status, 423);
        assert_eq!(resp.headers.get(&HeaderName::MinExpires).unwrap(), "60");
        assert!(r.is_empty());
        assert_eq!(send(&mut r, t0, "c", 1, &[A, "Expires: 59"]).status, 423);
        assert_eq!(send(&mut r, t0, "c", 2, &[A, "Expires: 60"]).status, 200);
    }

    #[test]
    fn bindings_expire() {
        let (t0, mut r) = (Instant::now(), reg());
        send(&mut r, t0, "c", 1, &[A, "Expires: 60"]);
        send(&mut r, t0, "c", 2, &[B, "Expires: 120"]);
        let t60 = t0 + secs(60);
        assert_eq!(r.lookup(t60 - Duration::from_millis(1), AOR).len(), 2);
        assert_eq!(r.lookup(t60, AOR).len(), 1);
        assert_eq!(r.len(), 2);
        assert_eq!(r.poll_timeout(), Some(t60));
        assert_eq!(r.expire(t60), 1);
        assert_eq!(r.poll_timeout(), Some(t0 + secs(120)));
        assert_eq!(r.expire(t0 + secs(500)), 1);
        assert!(r.is_empty() && r.lookup(t0, AOR).is_empty());
    }

    #[test]
    fn out_of_order_and_call_id_change() {
        let (t0, mut r) = (Instant::now(), reg());
        send(&mut r, t0, "c1", 5, &[A]);
        for cseq in [5, 4] {
            assert_eq!(send(&mut r, t0, "c1", cseq, &[A, "Expires: 0"]).status, 500);
            assert_eq!(r.len(), 1);
        }
        // A new Call-ID (the phone rebooted) replaces the binding whatever its CSeq.
        let later = t0 + secs(10);
        let other = SocketAddr::from(([198, 51, 100, 8], 5060));
        assert_eq!(
            r.handle_register(later, &register("c2", 1, &[A]), other)
                .status,
            200
        );
        let b = r.lookup(later, AOR);
        assert_eq!(b.len(), 1);
        assert_eq!(
            (&b[0].call_id[..], b[0].cseq, b[0].source),
            (&b"c2"[..], 1, other)
        );
        // The same contact twice in one request is not out of order against itself.
        let resp = send(
            &mut r,
            later,
            "c2",
            2,
            &[A, "Contact: <sip:a@192.0.2.1>;expires=300"],
        );
        assert_eq!(contacts(&resp), ["<sip:a@192.0.2.1>;expires=300"]);
    }

    #[test]
    fn no_contact_is_a_query() {
        let (t0, mut r) = (Instant::now(), reg());
        assert!(contacts(&send(&mut r, t0, "c", 1, &[])).is_empty());
        send(&mut r, t0, "c", 2, &[A]);
        let resp = send(&mut r, t0 + secs(1), "q", 1, &[]);
        assert_eq!((resp.status, contacts(&resp).len()), (200, 1));
        assert_eq!(r.lookup(t0, AOR)[0].call_id, "c");
    }

    #[test]
    fn contact_matching_follows_uri_comparison() {
        let (t0, mut r) = (Instant::now(), reg());
        let mut count = |cseq, c: &str| {
            let resp = send(&mut r, t0, "c", cseq, &[&format!("Contact: <{c}>")]);
            assert_eq!(resp.status, 200, "{c}");
            r.len()
        };
        assert_eq!(count(1, "sip:a@host.example"), 1);
        assert_eq!(count(2, "sip:a@HOST.example"), 1); // host case-insensitive
        assert_eq!(count(3, "sip:A@host.example"), 2); // user case-sensitive
        assert_eq!(count(4, "sip:a@host.example:5060"), 3); // explicit port differs
        assert_eq!(count(5, "sip:a@host.example;transport=tcp"), 4);
        assert_eq!(count(6, "sip:a@host.example;transport=TCP"), 4);
        assert_eq!(count(7, "sip:a@host.example;foo=1"), 4); // only on one side
    }

    #[test]
    fn lookup_orders_by_q() {
        let (t0, mut r) = (Instant::now(), reg());
        let list =
            "Contact: <sip:low@192.0.2.1>;q=0.1, <sip:none@192.0.2.2>, <sip:mid@192.0.2.3>;q=0.5";
        let resp = send(&mut r, t0, "c", 1, &[list]);
        assert!(contacts(&resp).contains(&"<sip:mid@192.0.2.3>;expires=3600;q=0.5".to_owned()));
        let order: Vec<_> = r
            .lookup(t0, AOR)
            .iter()
            .map(|b| b.contact.clone())
            .collect();
        assert_eq!(
            order,
            [
                "sip:none@192.0.2.2",
                "sip:mid@192.0.2.3",
                "sip:low@192.0.2.1"
            ]
        );
    }

    #[test]
    fn malformed_requests_get_400_or_500() {
        let (t0, mut r) = (Instant::now(), reg());
        for bad in ["q=2", "q=high", "expires=soon", "expires"] {
            let resp = send(
                &mut r,
                t0,
                "c",
                1,
                &[&format!("Contact: <sip:a@192.0.2.1>;{bad}")],
            );
            assert_eq!(resp.status, 400, "{bad}");
            let reason = String::from_utf8_lossy(&resp.reason).into_owned();
            assert!(reason.starts_with("Bad Request (Contact"), "{reason}");
        }
        let tel = parse_req(
            b"REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
              From: <tel:+15551234>;tag=1\r\nTo: <tel:+15551234>\r\nCall-ID: t\r\n\
              CSeq: 1 REGISTER\r\nContact: <sip:a@192.0.2.1>\r\nContent-Length: 0\r\n\r\n",
        );
        assert_eq!(r.handle_register(t0, &tel, src()).status, 400);
        let mut options = register("c", 1, &[A]);
        options.method = Method::Options;
        assert_eq!(r.handle_register(t0, &options, src()).status, 500);
        assert!(r.is_empty());
    }

    #[test]
    fn too_many_contacts_are_refused() {
        let (t0, mut r) = (Instant::now(), reg());
        let list: Vec<String> = (0..=MAX_BINDINGS_PER_AOR)
            .map(|i| format!("Contact: <sip:p{i}@192.0.2.1>"))
            .collect();
        let refs: Vec<&str> = list.iter().map(String::as_str).collect();
        assert_eq!(send(&mut r, t0, "c", 1, &refs).status, 503);
        assert!(r.is_empty());
        let resp = send(&mut r, t0, "c", 2, &refs[1..]);
        assert_eq!((resp.status, r.len()), (200, MAX_BINDINGS_PER_AOR));
    }

    /// Registers an RFC 4475 message and returns the stored contact and the 200's Contacts.
    fn rfc4475_binding(name: &str, aor: &str, cseq: u32) -> (String, Vec<String>) {
        let (t0, mut r) = (Instant::now(), reg());
        let resp = r.handle_register(t0, &rfc4475(name), src());
        assert_eq!(resp.status, 200, "{name}");
        let b = r.lookup(t0, aor);
        assert_eq!((b.len(), b[0].cseq), (1, cseq), "{name}");
        (
            String::from_utf8_lossy(&b[0].contact).into_owned(),
            contacts(&resp),
        )
    }

    #[test]
    fn rfc4475_cparam01_unknown_contact_param_is_not_part_of_the_uri() {
        let (stored, listed) = rfc4475_binding("cparam01", "sip:watson@example.com", 2);
        assert_eq!(stored, "sip:+19725552222@gw1.example.net");
        assert_eq!(listed, ["<sip:+19725552222@gw1.example.net>;expires=3600"]);
    }

    #[test]
    fn rfc4475_cparam02_uri_param_stays_in_the_contact() {
        let (stored, listed) = rfc4475_binding("cparam02", "sip:watson@example.com", 3);
        assert_eq!(stored, "sip:+19725552222@gw1.example.net;unknownparam");
        assert_eq!(
            listed,
            ["<sip:+19725552222@gw1.example.net;unknownparam>;expires=3600"]
        );
    }

    #[test]
    fn rfc4475_regescrt_drops_the_escaped_route_header() {
        let (stored, listed) = rfc4475_binding("regescrt", "sip:user@example.com", 14398234);
        assert_eq!(stored, "sip:user@example.com");
        assert_eq!(listed, ["<sip:user@example.com>;expires=3600"]);
    }

    #[test]
    fn canonical_aor_forms() {
        let aor = |s: &'static str| canonical_aor(&Bytes::from_static(s.as_bytes()));
        assert_eq!(
            aor("sip:%31001@Example.COM:5070;user=phone?x=y").unwrap(),
            AOR
        );
        assert_eq!(
            aor("SIPS:alice@example.com").unwrap(),
            "sips:alice@example.com"
        );
        assert_eq!(
            aor("sip:a%20b@example.com").unwrap(),
            "sip:a%20b@example.com"
        );
        assert_eq!(aor("sip:example.com").unwrap(), "sip:example.com");
        assert!(aor("tel:+15551234").is_err());
        assert!(aor("not a uri").is_err());
    }

    #[test]
    fn uri_headers_are_cut_after_the_host() {
        let strip = |s: &'static str| strip_uri_headers(&Bytes::from_static(s.as_bytes()));
        assert_eq!(
            strip("sip:user@example.com?Route=%3Csip:x%3E"),
            "sip:user@example.com"
        );
        assert_eq!(strip("sip:a?b@host;lr?h=v&i=w"), "sip:a?b@host;lr");
        assert_eq!(strip("sip:host?h=v"), "sip:host");
        assert_eq!(strip("sip:a@host"), "sip:a@host");
    }
}
