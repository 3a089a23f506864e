//! Digest authentication (RFC 3261 §22, RFC 7616 algorithms, RFC 8760 for SIP), sans-IO.
//!
//! Server side, [`DigestAuth`]: nonces are stateless —
//! `hex(timestamp, 16 digits) + hex(HMAC-SHA-256(secret, timestamp || realm))[..32]` —
//! so every node that shares the secret can verify any node's nonce (scale-out behind
//! Kamailio) and an old nonce is recognised as ours but stale. Wall time comes in as
//! `now_unix`; nothing here reads a clock. Nonce-count replay tracking would need state,
//! so it is not done: a captured response stays replayable until its nonce expires.
//!
//! Client side, [`client_response`]: answers a carrier's challenge when Hotline registers
//! to or calls through a trunk.

use super::message::Challenge;
use md5::Md5;
use sha2::{Digest, Sha256};
use std::fmt;
use std::time::Duration;

/// The hash behind a Digest exchange. `-sess` variants are not supported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DigestAlgorithm {
    Md5,
    Sha256,
}

impl DigestAlgorithm {
    /// The token used in the `algorithm` parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            DigestAlgorithm::Md5 => "MD5",
            DigestAlgorithm::Sha256 => "SHA-256",
        }
    }

    /// Parses an `algorithm` parameter value (case-insensitive).
    pub fn from_token(token: &[u8]) -> Option<DigestAlgorithm> {
        if token.eq_ignore_ascii_case(b"MD5") {
            Some(DigestAlgorithm::Md5)
        } else if token.eq_ignore_ascii_case(b"SHA-256") {
            Some(DigestAlgorithm::Sha256)
        } else {
            None
        }
    }

    /// Lower-case hex of the hash of `parts` joined by `:` (the KD/H notation of RFC 7616).
    fn hex_of(self, parts: &[&[u8]]) -> String {
        fn run<D: Digest>(parts: &[&[u8]]) -> String {
            let mut d = D::new();
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    d.update(b":");
                }
                d.update(p);
            }
            hex::encode(d.finalize())
        }
        match self {
            DigestAlgorithm::Md5 => run::<Md5>(parts),
            DigestAlgorithm::Sha256 => run::<Sha256>(parts),
        }
    }

    /// Length of a `response` value in hex digits.
    fn hex_len(self) -> usize {
        match self {
            DigestAlgorithm::Md5 => 32,
            DigestAlgorithm::Sha256 => 64,
        }
    }
}

/// The inputs of one `response` computation (RFC 7616 §3.4.1). `qop` is `None` for
/// RFC 2069-style credentials, in which case `nc` and `cnonce` are not used.
struct ResponseInput<'a> {
    algorithm: DigestAlgorithm,
    username: &'a [u8],
    realm: &'a [u8],
    password: &'a [u8],
    method: &'a [u8],
    uri: &'a [u8],
    nonce: &'a [u8],
    qop: Option<&'a [u8]>,
    nc: &'a [u8],
    cnonce: &'a [u8],
}

fn digest_response(i: &ResponseInput<'_>) -> String {
    let alg = i.algorithm;
    let ha1 = alg.hex_of(&[i.username, i.realm, i.password]);
    let ha2 = alg.hex_of(&[i.method, i.uri]);
    match i.qop {
        Some(qop) => alg.hex_of(&[ha1.as_bytes(), i.nonce, i.nc, i.cnonce, qop, ha2.as_bytes()]),
        None => alg.hex_of(&[ha1.as_bytes(), i.nonce, ha2.as_bytes()]),
    }
}

/// What [`DigestAuth::verify`] concluded about a set of credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthOutcome {
    Authorized {
        username: String,
    },
    /// Send a new challenge; `stale` when the nonce was ours but expired.
    Challenge {
        stale: bool,
        reason: String,
    },
    /// Wrong scheme (e.g. RFC 4475 `regaut01`'s "NoOneKnowsThisScheme"), realm mismatch,
    /// bad response, unknown user, uri mismatch: caller answers a fresh 401 (never accepts).
    Rejected {
        reason: String,
    },
}

fn rejected(reason: impl Into<String>) -> AuthOutcome {
    AuthOutcome::Rejected {
        reason: reason.into(),
    }
}

/// Why [`client_response`] cannot answer a challenge.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    #[error("challenge scheme is {0:?}, not Digest; Hotline can only answer Digest challenges")]
    UnsupportedScheme(String),
    #[error("the Digest challenge has no {0} parameter; the peer's challenge is malformed")]
    MissingParam(&'static str),
    #[error("Digest algorithm {0:?} is not supported; ask the peer to offer MD5 or SHA-256")]
    UnsupportedAlgorithm(String),
    #[error("the challenge offers qop {0:?} without \"auth\"; auth-int is not supported")]
    UnsupportedQop(String),
    #[error("{0} is not UTF-8 text and cannot be written into an Authorization header")]
    NotText(&'static str),
    #[error("{0} contains a control character (CR, LF, …) and cannot be sent in a header")]
    ControlChar(&'static str),
}

/// A nonce older than the TTL is stale; one dated in the future by more than this is too
/// (another node's clock runs ahead), so the phone retries with one of ours.
const MAX_CLOCK_SKEW_SECS: u64 = 30;
/// Hex digits of the timestamp, then of the (truncated, 128-bit) MAC.
const NONCE_TS_LEN: usize = 16;
const NONCE_MAC_LEN: usize = 32;

/// Server side of Digest: issues challenges and verifies credentials for one realm.
#[derive(Clone)]
pub struct DigestAuth {
    realm: String,
    secret: [u8; 32],
    nonce_ttl: Duration,
    /// Offered in this order; SHA-256 first (RFC 8760 §2.4).
    algorithms: Vec<DigestAlgorithm>,
    /// Derived from the secret, so every node hands out (and expects) the same value.
    opaque: String,
}

impl fmt::Debug for DigestAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the secret.
        f.debug_struct("DigestAuth")
            .field("realm", &self.realm)
            .field("nonce_ttl", &self.nonce_ttl)
            .field("algorithms", &self.algorithms)
            .finish_non_exhaustive()
    }
}

impl DigestAuth {
    /// Offers SHA-256 then MD5. All nodes of a cluster must share `secret` and `realm`.
    pub fn new(realm: impl Into<String>, secret: [u8; 32], nonce_ttl: Duration) -> Self {
        let realm = realm.into();
        let opaque = hex::encode(&hmac_sha256(&secret, &[b"opaque:", realm.as_bytes()])[..16]);
        DigestAuth {
            realm,
            secret,
            nonce_ttl,
            algorithms: vec![DigestAlgorithm::Sha256, DigestAlgorithm::Md5],
            opaque,
        }
    }

    /// Restricts (and orders) the algorithms offered and accepted, e.g. `[Md5]` for a
    /// fleet of old phones that pick the first challenge and know only MD5. Duplicates are
    /// dropped; an empty list keeps the current one.
    pub fn with_algorithms(mut self, algorithms: &[DigestAlgorithm]) -> Self {
        let mut list = Vec::new();
        for a in algorithms {
            if !list.contains(a) {
                list.push(*a);
            }
        }
        if !list.is_empty() {
            self.algorithms = list;
        }
        self
    }

    pub fn realm(&self) -> &str {
        &self.realm
    }

    pub fn algorithms(&self) -> &[DigestAlgorithm] {
        &self.algorithms
    }

    /// A nonce stamped with `now_unix`.
    pub fn nonce(&self, now_unix: u64) -> String {
        let mac = hmac_sha256(
            &self.secret,
            &[b"nonce:", &now_unix.to_be_bytes(), self.realm.as_bytes()],
        );
        let mut n = format!("{now_unix:016x}");
        n.push_str(&hex::encode(&mac[..NONCE_MAC_LEN / 2]));
        n
    }

    /// The timestamp of a nonce we issued; `None` when it is not ours (wrong MAC, realm,
    /// secret or shape).
    fn nonce_timestamp(&self, nonce: &[u8]) -> Option<u64> {
        if nonce.len() != NONCE_TS_LEN + NONCE_MAC_LEN {
            return None;
        }
        let ts_text = std::str::from_utf8(&nonce[..NONCE_TS_LEN]).ok()?;
        let ts = u64::from_str_radix(ts_text, 16).ok()?;
        // Regenerating and comparing the whole text also rejects any other spelling of ts.
        ct_eq(nonce, self.nonce(ts).as_bytes()).then_some(ts)
    }

    /// WWW-Authenticate (or Proxy-Authenticate) values to put in a 401/407, one per
    /// algorithm, SHA-256 first (RFC 8760 §2.4), with qop="auth", opaque, and stale=TRUE when asked.
    pub fn challenges(&self, now_unix: u64, stale: bool) -> Vec<String> {
        let nonce = self.nonce(now_unix);
        self.algorithms
            .iter()
            .map(|alg| {
                let mut c = format!(
                    "Digest realm={}, nonce=\"{nonce}\", opaque=\"{}\", algorithm={}, qop=\"auth\"",
                    quote(&self.realm),
                    self.opaque,
                    alg.as_str()
                );
                if stale {
                    c.push_str(", stale=TRUE");
                }
                c
            })
            .collect()
    }

    /// Checks an Authorization/Proxy-Authorization value (already parsed into
    /// `crate::sip::message::Challenge`) for `method` and the request's Request-URI text.
    /// `password_for(username)` returns the user's password (None: unknown user).
    pub fn verify(
        &self,
        creds: &Challenge,
        method: &[u8],
        request_uri: &[u8],
        now_unix: u64,
        password_for: impl Fn(&str) -> Option<String>,
    ) -> AuthOutcome {
        match self.check(creds, method, request_uri, now_unix, password_for) {
            Ok(username) => AuthOutcome::Authorized { username },
            Err(outcome) => outcome,
        }
    }

    fn check(
        &self,
        creds: &Challenge,
        method: &[u8],
        request_uri: &[u8],
        now_unix: u64,
        password_for: impl Fn(&str) -> Option<String>,
    ) -> Result<String, AuthOutcome> {
        if !creds.scheme.eq_ignore_ascii_case(b"Digest") {
            return Err(rejected(format!(
                "authorization scheme {:?} is not supported; only Digest is",
                String::from_utf8_lossy(&creds.scheme)
            )));
        }
        let need = |name: &'static str| {
            creds
                .param(name)
                .ok_or_else(|| rejected(format!("credentials lack the {name} parameter")))
        };
        let username = need("username")?;
        let realm = need("realm")?;
        let nonce = need("nonce")?;
        let uri = need("uri")?;
        let response = need("response")?;

        if realm[..] != *self.realm.as_bytes() {
            return Err(rejected(format!(
                "realm {:?} is not ours ({:?})",
                String::from_utf8_lossy(realm),
                self.realm
            )));
        }
        let algorithm = match creds.param("algorithm") {
            // Absent means MD5 (RFC 7616 §3.3).
            None => DigestAlgorithm::Md5,
            Some(tok) => DigestAlgorithm::from_token(tok).ok_or_else(|| {
                rejected(format!(
                    "algorithm {:?} is not supported; use MD5 or SHA-256",
                    String::from_utf8_lossy(tok)
                ))
            })?,
        };
        if !self.algorithms.contains(&algorithm) {
            return Err(rejected(format!(
                "algorithm {} is not offered by this server",
                algorithm.as_str()
            )));
        }

        let Some(issued) = self.nonce_timestamp(nonce) else {
            return Err(rejected(
                "nonce was not issued by this realm (forged, tampered, or another secret)",
            ));
        };
        if now_unix.saturating_sub(issued) > self.nonce_ttl.as_secs() {
            return Err(AuthOutcome::Challenge {
                stale: true,
                reason: format!("nonce expired ({}s old)", now_unix - issued),
            });
        }
        if issued > now_unix.saturating_add(MAX_CLOCK_SKEW_SECS) {
            return Err(AuthOutcome::Challenge {
                stale: true,
                reason: format!(
                    "nonce is dated {}s in the future; node clocks disagree",
                    issued - now_unix
                ),
            });
        }
        if let Some(opaque) = creds.param("opaque")
            && opaque[..] != *self.opaque.as_bytes()
        {
            return Err(rejected("opaque does not match the one we issued"));
        }
        if uri[..] != *request_uri {
            return Err(rejected(format!(
                "digest uri {:?} differs from the Request-URI {:?}",
                String::from_utf8_lossy(uri),
                String::from_utf8_lossy(request_uri)
            )));
        }

        let (qop, nc, cnonce): (Option<&[u8]>, &[u8], &[u8]) = match creds.param("qop") {
            None if algorithm == DigestAlgorithm::Md5 => (None, b"", b""),
            // RFC 2069 compatibility is for old MD5 phones only; RFC 7616 requires qop.
            None => return Err(rejected("qop is required with SHA-256")),
            Some(q) if q.eq_ignore_ascii_case(b"auth") => {
                let nc = need("nc")?;
                let cnonce = need("cnonce")?;
                if nc.len() != 8 || !nc.iter().all(u8::is_ascii_hexdigit) {
                    return Err(rejected("nc must be 8 hex digits"));
                }
                if cnonce.is_empty() {
                    return Err(rejected("cnonce is empty"));
                }
                (Some(&q[..]), &nc[..], &cnonce[..])
            }
            Some(q) => {
                return Err(rejected(format!(
                    "qop {:?} was not offered; use auth",
                    String::from_utf8_lossy(q)
                )));
            }
        };
        if response.len() != algorithm.hex_len() || !response.iter().all(u8::is_ascii_hexdigit) {
            return Err(rejected(format!(
                "response is not {} hex digits",
                algorithm.hex_len()
            )));
        }

        let Ok(username) = std::str::from_utf8(username) else {
            return Err(rejected("username is not UTF-8"));
        };
        let Some(password) = password_for(username) else {
            return Err(rejected(format!("unknown user {username:?}")));
        };
        let expected = digest_response(&ResponseInput {
            algorithm,
            username: username.as_bytes(),
            realm,
            password: password.as_bytes(),
            method,
            uri,
            nonce,
            qop,
            nc,
            cnonce,
        });
        let given = response.to_ascii_lowercase();
        if !ct_eq(&given, expected.as_bytes()) {
            return Err(rejected(format!(
                "response for user {username:?} does not match (wrong password?)"
            )));
        }
        Ok(username.to_owned())
    }
}

/// Client side, for when Hotline itself registers to / authenticates at a carrier trunk:
/// the Authorization (or Proxy-Authorization) value answering `challenge`. `nc` is the
/// nonce count (1 for the first use of a nonce); `cnonce` a fresh random token.
pub fn client_response(
    challenge: &Challenge,
    method: &[u8],
    uri: &[u8],
    username: &str,
    password: &str,
    cnonce: &str,
    nc: u32,
) -> Result<String, AuthError> {
    if !challenge.scheme.eq_ignore_ascii_case(b"Digest") {
        return Err(AuthError::UnsupportedScheme(
            String::from_utf8_lossy(&challenge.scheme).into_owned(),
        ));
    }
    let text = |name: &'static str, v: &[u8]| -> Result<String, AuthError> {
        let s = std::str::from_utf8(v).map_err(|_| AuthError::NotText(name))?;
        if s.chars().any(char::is_control) {
            return Err(AuthError::ControlChar(name));
        }
        Ok(s.to_owned())
    };
    let realm = challenge
        .param("realm")
        .ok_or(AuthError::MissingParam("realm"))?;
    let nonce = challenge
        .param("nonce")
        .ok_or(AuthError::MissingParam("nonce"))?;
    let alg_param = challenge.param("algorithm");
    let algorithm = match alg_param {
        None => DigestAlgorithm::Md5,
        Some(tok) => DigestAlgorithm::from_token(tok).ok_or_else(|| {
            AuthError::UnsupportedAlgorithm(String::from_utf8_lossy(tok).into_owned())
        })?,
    };
    let qop_auth = match challenge.param("qop") {
        None => false,
        Some(list) => {
            let offers_auth = list
                .split(|&b| b == b',')
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"auth"));
            if !offers_auth {
                return Err(AuthError::UnsupportedQop(
                    String::from_utf8_lossy(list).into_owned(),
                ));
            }
            true
        }
    };
    let realm_s = text("realm", realm)?;
    let nonce_s = text("nonce", nonce)?;
    let uri_s = text("uri", uri)?;
    text("username", username.as_bytes())?;
    text("cnonce", cnonce.as_bytes())?;
    let nc_s = format!("{nc:08x}");

    let response = digest_response(&ResponseInput {
        algorithm,
        username: username.as_bytes(),
        realm,
        password: password.as_bytes(),
        method,
        uri,
        nonce,
        qop: qop_auth.then_some(&b"auth"[..]),
        nc: nc_s.as_bytes(),
        cnonce: cnonce.as_bytes(),
    });
    let mut out = format!(
        "Digest username={}, realm={}, nonce={}, uri={}, response=\"{response}\"",
        quote(username),
        quote(&realm_s),
        quote(&nonce_s),
        quote(&uri_s)
    );
    // Echo `algorithm` only when the challenge named it: RFC 2069 servers never saw it.
    if alg_param.is_some() {
        out.push_str(", algorithm=");
        out.push_str(algorithm.as_str());
    }
    if qop_auth {
        out.push_str(&format!(", qop=auth, nc={nc_s}, cnonce={}", quote(cnonce)));
    }
    if let Some(opaque) = challenge.param("opaque") {
        out.push_str(", opaque=");
        out.push_str(&quote(&text("opaque", opaque)?));
    }
    Ok(out)
}

/// Of several challenges (one per algorithm, RFC 8760 §2.4), the Digest one with the
/// strongest algorithm we support.
pub fn pick_challenge(challenges: &[Challenge]) -> Option<&Challenge> {
    let rank = |c: &Challenge| -> Option<u8> {
        if !c.scheme.eq_ignore_ascii_case(b"Digest") {
            return None;
        }
        match c.param("algorithm") {
            None => Some(1),
            Some(tok) => match DigestAlgorithm::from_token(tok)? {
                DigestAlgorithm::Sha256 => Some(2),
                DigestAlgorithm::Md5 => Some(1),
            },
        }
    };
    challenges
        .iter()
        .filter_map(|c| rank(c).map(|r| (r, c)))
        // max_by_key keeps the last of equals; reverse so the first listed wins ties.
        .rev()
        .max_by_key(|(r, _)| *r)
        .map(|(_, c)| c)
}

/// A quoted-string with `"` and `\` escaped (RFC 3261 §25.1).
fn quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for ch in s.chars() {
        if ch == '"' || ch == '\\' {
            q.push('\\');
        }
        q.push(ch);
    }
    q.push('"');
    q
}

/// Compares without an early exit, so timing does not reveal how many leading bytes match.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// HMAC-SHA-256 (RFC 2104) over the concatenation of `parts`.
fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut k = [0u8; BLOCK];
    if key.len() > BLOCK {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    for p in parts {
        inner.update(p);
    }
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    const SECRET: [u8; 32] = [7; 32];
    const NOW: u64 = 1_700_000_000;
    const RURI: &[u8] = b"sip:example.com";

    /// Splits a header value whose values hold no ", " into a `Challenge`, so these tests
    /// do not depend on the header parser.
    fn parse(value: &str) -> Challenge {
        let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
        let params = rest.split(", ").filter(|p| !p.is_empty()).map(|p| {
            let (n, v) = p.split_once('=').expect("name=value");
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v);
            (Bytes::from(n.to_owned()), Bytes::from(v.to_owned()))
        });
        Challenge {
            scheme: Bytes::from(scheme.to_owned()),
            params: params.collect(),
        }
    }

    fn param(c: &Challenge, name: &str) -> String {
        String::from_utf8(c.param(name).expect(name).to_vec()).unwrap()
    }

    fn auth() -> DigestAuth {
        DigestAuth::new("example.com", SECRET, Duration::from_secs(300))
    }

    fn alice(user: &str) -> Option<String> {
        (user == "alice").then(|| "s3cret".to_owned())
    }

    /// Credentials for REGISTER `RURI` answering the challenge for `alg` issued at `issued`.
    fn creds(a: &DigestAuth, alg: DigestAlgorithm, issued: u64, password: &str) -> Challenge {
        let cs = a.challenges(issued, false);
        let c = parse(cs.iter().find(|c| c.contains(alg.as_str())).unwrap());
        parse(&client_response(&c, b"REGISTER", RURI, "alice", password, "c0", 1).unwrap())
    }

    fn verify(a: &DigestAuth, c: &Challenge, now: u64) -> AuthOutcome {
        a.verify(c, b"REGISTER", RURI, now, alice)
    }

    fn authorized(o: &AuthOutcome) -> bool {
        *o == AuthOutcome::Authorized {
            username: "alice".into(),
        }
    }

    fn rejected_(o: &AuthOutcome) -> bool {
        matches!(o, AuthOutcome::Rejected { .. })
    }

    /// RFC 4475 `regaut01`'s credentials.
    fn on_scheme(a: &DigestAuth) -> AuthOutcome {
        verify(a, &parse("NoOneKnowsThisScheme opaque-data=here"), NOW)
    }

    fn stale(o: &AuthOutcome) -> bool {
        matches!(o, AuthOutcome::Challenge { stale: true, .. })
    }

    /// Replaces (or with `None` removes) one parameter.
    fn with(c: &Challenge, name: &str, value: Option<&str>) -> Challenge {
        let mut c = c.clone();
        c.params
            .retain(|(n, _)| !n.eq_ignore_ascii_case(name.as_bytes()));
        if let Some(v) = value {
            c.params
                .push((Bytes::from(name.to_owned()), Bytes::from(v.to_owned())));
        }
        c
    }

    /// Mufasa's answer to an RFC example challenge for GET /dir/index.html.
    fn mufasa(challenge: &str, password: &str, cnonce: &str) -> String {
        let (uri, c) = (b"/dir/index.html", parse(challenge));
        client_response(&c, b"GET", uri, "Mufasa", password, cnonce, 1).unwrap()
    }

    #[test]
    fn rfc2617_section_3_5_example() {
        let c = "Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", \
                 nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", \
                 opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";
        assert_eq!(
            mufasa(c, "Circle Of Life", "0a4f113b"),
            "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", \
             nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"/dir/index.html\", \
             response=\"6629fae49393a05397450978507c4ef1\", qop=auth, nc=00000001, \
             cnonce=\"0a4f113b\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\""
        );
        // The same inputs without qop (RFC 2069 style); value computed with Python hashlib.
        let old = parse(&mufasa(
            "Digest realm=\"testrealm@host.com\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\"",
            "Circle Of Life",
            "unused",
        ));
        assert_eq!(param(&old, "response"), "670fd8c2df070c60b045671b8b24ff02");
    }

    #[test]
    fn rfc7616_section_3_9_1_examples() {
        let sha = "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1";
        for (alg, expected) in [
            ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
            ("SHA-256", sha),
        ] {
            let c = format!(
                "Digest realm=\"http-auth@example.org\", qop=\"auth,auth-int\", algorithm={alg}, \
                 nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", \
                 opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""
            );
            let cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
            let v = parse(&mufasa(&c, "Circle of Life", cnonce));
            assert_eq!(param(&v, "response"), expected, "{alg}");
            assert_eq!(param(&v, "algorithm"), alg);
            assert_eq!(param(&v, "nc"), "00000001");
            assert_eq!(param(&v, "qop"), "auth");
            assert_eq!(param(&v, "cnonce"), cnonce);
        }
    }

    #[test]
    fn hmac_matches_rfc4231_case_2() {
        let mac = hmac_sha256(b"Jefe", &[b"what do ya ", b"want for nothing?"]);
        let want = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        assert_eq!(hex::encode(mac), want);
    }

    #[test]
    fn challenges_offer_sha256_first_with_qop_and_opaque() {
        let a = auth();
        let cs: Vec<Challenge> = a.challenges(NOW, false).iter().map(|c| parse(c)).collect();
        assert_eq!(cs.len(), 2);
        assert_eq!(
            (param(&cs[0], "algorithm"), param(&cs[1], "algorithm")),
            ("SHA-256".into(), "MD5".into())
        );
        for c in &cs {
            assert_eq!(&c.scheme[..], b"Digest");
            assert_eq!(param(c, "realm"), "example.com");
            assert_eq!(param(c, "qop"), "auth");
            assert_eq!(param(c, "nonce"), a.nonce(NOW));
            assert_eq!(param(c, "opaque").len(), 32);
            assert!(c.param("stale").is_none());
        }
        assert!(a.challenges(NOW, true)[0].ends_with(", stale=TRUE"));
        let md5 = auth().with_algorithms(&[DigestAlgorithm::Md5, DigestAlgorithm::Md5]);
        assert_eq!(md5.challenges(NOW, false).len(), 1);
        assert_eq!(md5.algorithms(), [DigestAlgorithm::Md5]);
    }

    #[test]
    fn round_trip_both_algorithms_and_across_nodes() {
        let a = auth();
        let other_node = DigestAuth::new("example.com", SECRET, Duration::from_secs(300));
        for alg in [DigestAlgorithm::Sha256, DigestAlgorithm::Md5] {
            let c = creds(&a, alg, NOW, "s3cret");
            assert!(authorized(&verify(&a, &c, NOW + 10)), "{alg:?}");
            assert!(authorized(&verify(&other_node, &c, NOW + 10)), "{alg:?}");
        }
        // The response may arrive in upper case; it is still the same digest.
        let c = creds(&a, DigestAlgorithm::Sha256, NOW, "s3cret");
        let upper = with(&c, "response", Some(&param(&c, "response").to_uppercase()));
        assert!(authorized(&verify(&a, &upper, NOW)));
    }

    #[test]
    fn bad_credentials_are_rejected() {
        let a = auth();
        let good = creds(&a, DigestAlgorithm::Sha256, NOW, "s3cret");
        let md5_only = auth().with_algorithms(&[DigestAlgorithm::Md5]);
        let evil = DigestAuth::new("evil.com", SECRET, Duration::from_secs(300));
        let rekeyed = DigestAuth::new("example.com", [8; 32], Duration::from_secs(300));
        let m = |name, value| verify(&a, &with(&good, name, value), NOW);
        let on = |server: &DigestAuth| verify(server, &good, NOW);
        let by = |method, uri| a.verify(&good, method, uri, NOW, alice);
        let guess = creds(&a, DigestAlgorithm::Sha256, NOW, "guess");
        let cases = [
            ("wrong password", verify(&a, &guess, NOW)),
            (
                "unknown user",
                a.verify(&good, b"REGISTER", RURI, NOW, |_| None),
            ),
            ("uri mismatch", by(b"REGISTER", b"sip:other.example.com")),
            ("method mismatch", by(b"INVITE", RURI)),
            ("wrong realm", m("realm", Some("evil.com"))),
            ("server of another realm", on(&evil)),
            ("server with another secret", on(&rekeyed)),
            ("algorithm not offered", on(&md5_only)),
            ("unknown scheme", on_scheme(&a)),
            ("sess algorithm", m("algorithm", Some("SHA-256-sess"))),
            ("algorithm swapped", m("algorithm", Some("MD5"))),
            ("opaque changed", m("opaque", Some("00"))),
            ("qop auth-int", m("qop", Some("auth-int"))),
            ("short nc", m("nc", Some("1"))),
            ("no cnonce", m("cnonce", None)),
            ("no response", m("response", None)),
            ("no username", m("username", None)),
            ("response not hex", m("response", Some(&"g".repeat(64)))),
        ];
        for (what, o) in &cases {
            assert!(rejected_(o), "{what}: {o:?}");
        }
        let reason = "unknown user \"alice\"".into();
        assert_eq!(cases[1].1, AuthOutcome::Rejected { reason });
    }

    #[test]
    fn expired_nonce_asks_for_a_stale_challenge() {
        let a = auth();
        let c = creds(&a, DigestAlgorithm::Sha256, NOW, "s3cret");
        assert!(authorized(&verify(&a, &c, NOW + 300)));
        assert!(stale(&verify(&a, &c, NOW + 301)));
        let md5 = |issued, password| creds(&a, DigestAlgorithm::Md5, issued, password);
        // Even with a wrong password: the phone just retries with a new nonce.
        assert!(stale(&verify(&a, &md5(NOW, "guess"), NOW + 301)));
        // A nonce from a node whose clock runs far ahead is stale too; small skew is fine.
        assert!(authorized(&verify(&a, &md5(NOW + 10, "s3cret"), NOW)));
        assert!(stale(&verify(&a, &md5(NOW + 100, "s3cret"), NOW)));
    }

    #[test]
    fn tampered_nonce_is_rejected() {
        let a = auth();
        let c = creds(&a, DigestAlgorithm::Sha256, NOW - 1000, "s3cret");
        let nonce = param(&c, "nonce");
        // Moving the timestamp forward to dodge expiry breaks the MAC.
        let forged_ts = format!("{NOW:016x}{}", &nonce[16..]);
        let last = if nonce.ends_with('0') { "1" } else { "0" };
        let flipped_mac = format!("{}{last}", &nonce[..47]);
        let bad = [
            forged_ts,
            flipped_mac,
            nonce.to_uppercase(),
            nonce[..40].into(),
            String::new(),
        ];
        for n in bad {
            let o = verify(&a, &with(&c, "nonce", Some(&n)), NOW);
            assert!(rejected_(&o), "{n}: {o:?}");
        }
    }

    #[test]
    fn rfc2069_credentials_only_for_md5() {
        let a = auth();
        let legacy = |alg: &str| {
            let c = parse(&format!(
                "Digest realm=\"example.com\", nonce=\"{}\", algorithm={alg}",
                a.nonce(NOW)
            ));
            parse(&client_response(&c, b"REGISTER", RURI, "alice", "s3cret", "x", 1).unwrap())
        };
        let md5 = legacy("MD5");
        assert!(
            md5.param("qop").is_none()
                && md5.param("cnonce").is_none()
                && md5.param("nc").is_none()
        );
        assert!(authorized(&verify(&a, &md5, NOW)));
        assert!(rejected_(&verify(&a, &legacy("SHA-256"), NOW)));
    }

    #[test]
    fn client_errors_and_quoting() {
        let answer =
            |c: &str, user: &str| client_response(&parse(c), b"INVITE", RURI, user, "p", "c", 255);
        let e = answer("Digest realm=r, nonce=n, qop=auth-int", "u");
        assert_eq!(e, Err(AuthError::UnsupportedQop("auth-int".into())));
        let e = answer("Digest realm=r, nonce=n, algorithm=MD5-sess", "u");
        assert_eq!(e, Err(AuthError::UnsupportedAlgorithm("MD5-sess".into())));
        assert_eq!(
            answer("digest realm=r", "u"),
            Err(AuthError::MissingParam("nonce"))
        );
        assert_eq!(
            answer("Basic realm=r", "u"),
            Err(AuthError::UnsupportedScheme("Basic".into()))
        );
        assert_eq!(
            answer("Digest realm=r, nonce=n", "u\r\nX: y"),
            Err(AuthError::ControlChar("username"))
        );
        let v = answer("Digest realm=r, nonce=n, qop=\"auth-int,auth\"", "a\"b").unwrap();
        assert!(
            v.starts_with("Digest username=\"a\\\"b\", realm=\"r\""),
            "{v}"
        );
        assert!(v.contains("qop=auth, nc=000000ff, cnonce=\"c\""), "{v}");
        assert!(!v.contains("algorithm"), "{v}");
    }

    #[test]
    fn pick_prefers_sha256_then_first_listed() {
        let [md5, plain, sha, basic] = [
            "Digest realm=a, algorithm=MD5",
            "Digest realm=b",
            "Digest realm=c, algorithm=sha-256",
            "Basic realm=d",
        ]
        .map(parse);
        let all = [basic.clone(), md5.clone(), sha.clone(), plain.clone()];
        assert_eq!(pick_challenge(&all), Some(&sha));
        assert_eq!(pick_challenge(&[plain.clone(), md5]), Some(&plain));
        assert_eq!(pick_challenge(&[basic]), None);
    }

    #[test]
    fn rfc4475_regaut01_is_not_accepted() {
        use crate::sip::message::{HeaderName, Message, parse_datagram};
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/rfc4475/regaut01.dat"
        );
        let data = Bytes::from(std::fs::read(path).unwrap());
        let Ok(Message::Request(req)) = parse_datagram(data) else {
            panic!("regaut01 is a request")
        };
        let creds = req
            .headers
            .challenge(&HeaderName::Authorization)
            .unwrap()
            .unwrap();
        let o = auth().verify(&creds, req.method.as_bytes(), &req.uri, NOW, alice);
        assert!(rejected_(&o), "{o:?}");
    }
}
