//! A SIP profile: one listen address with its transports, media preferences, who may call
//! (trunks) and who may register (users). Parsing lives in `profile_file.rs`; this file is
//! the model the SIP core reads, plus the pure "who is calling" decision.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;

/// SIP transports a profile listens on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportKind {
    Udp,
    Tcp,
}

impl TransportKind {
    /// The transports this build can serve, as written in profiles.
    pub const SUPPORTED: [TransportKind; 2] = [TransportKind::Udp, TransportKind::Tcp];

    pub fn as_str(self) -> &'static str {
        match self {
            TransportKind::Udp => "udp",
            TransportKind::Tcp => "tcp",
        }
    }
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A peer allowed to send calls: by source address, by digest credentials, or both.
#[derive(Clone, PartialEq, Eq)]
pub struct Trunk {
    pub name: String,
    /// Source networks; a single IP is stored as /32 or /128.
    pub allow: Vec<IpNet>,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Where calls Hotline places through this trunk go (UDP): a carrier's or PBX's SIP
    /// address. `None`: Hotline places no calls through it.
    pub proxy: Option<SocketAddr>,
}

impl Trunk {
    /// Whether `ip` is inside this trunk's allow list (IPv4-mapped IPv6 counts as IPv4).
    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.allow.iter().any(|net| net.contains(&ip))
    }

    /// `(username, password)` when the trunk authenticates with digest.
    pub fn credentials(&self) -> Option<(&str, &str)> {
        Some((self.username.as_deref()?, self.password.as_deref()?))
    }
}

// Secrets stay out of logs: Debug never prints passwords.
impl fmt::Debug for Trunk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trunk")
            .field("name", &self.name)
            .field("allow", &self.allow)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("proxy", &self.proxy)
            .finish()
    }
}

/// REGISTER credentials of an agent's SIP phone.
#[derive(Clone, PartialEq, Eq)]
pub struct SipUser {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for SipUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SipUser")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Per-source-IP request rate limit for sources outside every trunk's allow list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Sustained requests per second; 0 turns the limit off.
    pub per_second: u32,
    /// Requests allowed in a burst above the sustained rate.
    pub burst: u32,
}

impl RateLimit {
    pub fn is_enabled(&self) -> bool {
        self.per_second > 0
    }
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            per_second: 50,
            burst: 100,
        }
    }
}

/// Limits on REGISTER expiry, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistrarSettings {
    pub min_expires: u32,
    pub max_expires: u32,
    pub default_expires: u32,
}

impl Default for RegistrarSettings {
    fn default() -> Self {
        RegistrarSettings {
            min_expires: 60,
            max_expires: 3600,
            default_expires: 3600,
        }
    }
}

/// RFC 3261 transaction timer bases, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SipTimers {
    pub t1_ms: u64,
    pub t2_ms: u64,
    pub t4_ms: u64,
}

impl SipTimers {
    pub fn t1(&self) -> Duration {
        Duration::from_millis(self.t1_ms)
    }
    pub fn t2(&self) -> Duration {
        Duration::from_millis(self.t2_ms)
    }
    pub fn t4(&self) -> Duration {
        Duration::from_millis(self.t4_ms)
    }
}

impl Default for SipTimers {
    fn default() -> Self {
        SipTimers {
            t1_ms: 500,
            t2_ms: 4000,
            t4_ms: 5000,
        }
    }
}

/// Codecs a profile may offer, in the spelling profiles are normalised to.
pub const SUPPORTED_CODECS: [&str; 2] = ["PCMA", "PCMU"];
/// Digest algorithms a profile may offer, in the default order of offering.
pub const SUPPORTED_DIGEST_ALGORITHMS: [&str; 2] = ["MD5", "SHA-256"];

/// The default SIP listen address.
pub const DEFAULT_SIP_LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 5060);

/// One SIP profile (see `sip-profiles/README.md` for each key).
#[derive(Clone, PartialEq, Eq)]
pub struct Profile {
    pub name: String,
    /// The file it came from, or `<built-in>`.
    pub file: PathBuf,
    pub listen: SocketAddr,
    pub transports: Vec<TransportKind>,
    /// NAT: the address to put in Contact/Via/SDP instead of the bound one.
    pub external_addr: Option<IpAddr>,
    /// The address for SDP `c=` when it differs; see [`Profile::sdp_ip`].
    pub media_addr: Option<IpAddr>,
    /// Preference order, upper case, each one of [`SUPPORTED_CODECS`].
    pub codecs: Vec<String>,
    pub telephone_event: bool,
    pub ptime_ms: u32,
    pub trunks: Vec<Trunk>,
    pub users: Vec<SipUser>,
    pub realm: String,
    /// Digest algorithms offered in 401/407, in order (`MD5`, `SHA-256`). Many phones and
    /// SIPp read only the first challenge, so MD5 leads by default; put `SHA-256` first
    /// when every client speaks RFC 8760.
    pub digest_algorithms: Vec<String>,
    /// Nonce secret; `None` means the server picks a random one at each start.
    pub auth_secret: Option<String>,
    /// Ring (180) this long before answering; 0 answers at once.
    pub ring_ms: u64,
    /// Hang up after this many seconds; 0 means no limit.
    pub max_call_seconds: u64,
    pub tcp_idle_timeout_secs: u64,
    /// Record calls on this profile, overriding `[media] record`; a number's `record`
    /// overrides this in turn (see `Config::record_for`).
    pub record: Option<bool>,
    pub rate_limit: RateLimit,
    pub registrar: RegistrarSettings,
    pub timers: SipTimers,
}

/// What the source address of a request makes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceClass<'a> {
    /// The source is inside this trunk's allow list: accept without authentication.
    Trunk(&'a Trunk),
    /// Unknown source, but some trunk has digest credentials: challenge it.
    NeedsDigest,
    /// Unknown source and nobody can authenticate: answer 403.
    Forbidden,
}

impl Profile {
    /// The profile used when there is no `sip-profiles/` directory. It equals the shipped
    /// `sip-profiles/default.toml`: UDP and TCP on 0.0.0.0:5060, calls from loopback only.
    pub fn builtin_default() -> Profile {
        Profile::with_defaults("default", PathBuf::from("<built-in>"))
    }

    /// Every key at its default, with the loopback trunk `local`.
    pub(crate) fn with_defaults(name: &str, file: PathBuf) -> Profile {
        let loopback = ["127.0.0.0/8", "::1/128"]
            .iter()
            .filter_map(|n| n.parse().ok())
            .collect();
        Profile {
            name: name.to_string(),
            file,
            listen: DEFAULT_SIP_LISTEN,
            transports: TransportKind::SUPPORTED.to_vec(),
            external_addr: None,
            media_addr: None,
            codecs: SUPPORTED_CODECS.iter().map(|c| c.to_string()).collect(),
            telephone_event: true,
            ptime_ms: 20,
            trunks: vec![Trunk {
                name: "local".into(),
                allow: loopback,
                username: None,
                password: None,
                proxy: None,
            }],
            users: Vec::new(),
            realm: name.to_string(),
            digest_algorithms: SUPPORTED_DIGEST_ALGORITHMS
                .iter()
                .map(|a| a.to_string())
                .collect(),
            auth_secret: None,
            ring_ms: 0,
            max_call_seconds: 0,
            tcp_idle_timeout_secs: 300,
            record: None,
            rate_limit: RateLimit::default(),
            registrar: RegistrarSettings::default(),
            timers: SipTimers::default(),
        }
    }

    /// Who may call: a source inside a trunk's allow list is that trunk (first match);
    /// otherwise digest is required if any trunk has credentials; otherwise forbidden.
    pub fn classify_source(&self, ip: IpAddr) -> SourceClass<'_> {
        if let Some(trunk) = self.trunks.iter().find(|t| t.allows(ip)) {
            return SourceClass::Trunk(trunk);
        }
        if self.trunks.iter().any(|t| t.credentials().is_some()) {
            SourceClass::NeedsDigest
        } else {
            SourceClass::Forbidden
        }
    }

    /// The trunk whose digest username is `username`, for checking a caller's credentials.
    pub fn digest_trunk(&self, username: &str) -> Option<&Trunk> {
        self.trunks
            .iter()
            .find(|t| t.credentials().is_some_and(|(u, _)| u == username))
    }

    /// The address to advertise in Contact/Via: `external_addr`, else the listen IP, else
    /// `None` when listening on 0.0.0.0/:: (then use the local address a request came to).
    pub fn advertised_ip(&self) -> Option<IpAddr> {
        self.external_addr
            .or_else(|| Some(self.listen.ip()).filter(|ip| !ip.is_unspecified()))
    }

    /// The address for SDP `c=`: `media_addr`, else [`Profile::advertised_ip`].
    pub fn sdp_ip(&self) -> Option<IpAddr> {
        self.media_addr.or_else(|| self.advertised_ip())
    }
}

impl fmt::Debug for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Profile")
            .field("name", &self.name)
            .field("file", &self.file)
            .field("listen", &self.listen)
            .field("transports", &self.transports)
            .field("external_addr", &self.external_addr)
            .field("media_addr", &self.media_addr)
            .field("codecs", &self.codecs)
            .field("telephone_event", &self.telephone_event)
            .field("ptime_ms", &self.ptime_ms)
            .field("trunks", &self.trunks)
            .field("users", &self.users)
            .field("realm", &self.realm)
            .field("digest_algorithms", &self.digest_algorithms)
            .field(
                "auth_secret",
                &self.auth_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("ring_ms", &self.ring_ms)
            .field("max_call_seconds", &self.max_call_seconds)
            .field("tcp_idle_timeout_secs", &self.tcp_idle_timeout_secs)
            .field("record", &self.record)
            .field("rate_limit", &self.rate_limit)
            .field("registrar", &self.registrar)
            .field("timers", &self.timers)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn trunk(name: &str, allow: &[&str], user: Option<(&str, &str)>) -> Trunk {
        Trunk {
            name: name.into(),
            allow: allow.iter().map(|a| a.parse().unwrap()).collect(),
            username: user.map(|u| u.0.into()),
            password: user.map(|u| u.1.into()),
            proxy: None,
        }
    }

    #[test]
    fn builtin_default_values() {
        let p = Profile::builtin_default();
        assert_eq!(p.name, "default");
        assert_eq!(p.listen, "0.0.0.0:5060".parse().unwrap());
        assert_eq!(p.transports, vec![TransportKind::Udp, TransportKind::Tcp]);
        assert_eq!(p.codecs, vec!["PCMA", "PCMU"]);
        assert!(p.telephone_event);
        assert_eq!(p.ptime_ms, 20);
        assert_eq!(p.realm, "default");
        assert_eq!(p.tcp_idle_timeout_secs, 300);
        assert_eq!(p.record, None);
        assert_eq!(
            p.rate_limit,
            RateLimit {
                per_second: 50,
                burst: 100
            }
        );
        assert_eq!(p.registrar.min_expires, 60);
        assert_eq!(p.timers.t1(), Duration::from_millis(500));
        assert_eq!(p.trunks.len(), 1);
        assert_eq!(p.trunks[0].allow.len(), 2);
    }

    #[test]
    fn classify_by_allow_list_first_match_wins() {
        let mut p = Profile::builtin_default();
        p.trunks = vec![
            trunk("carrier", &["198.51.100.0/24"], None),
            trunk("wide", &["198.51.0.0/16", "2001:db8::/32"], None),
        ];
        match p.classify_source(ip("198.51.100.9")) {
            SourceClass::Trunk(t) => assert_eq!(t.name, "carrier"),
            other => panic!("expected trunk, got {other:?}"),
        }
        match p.classify_source(ip("198.51.7.1")) {
            SourceClass::Trunk(t) => assert_eq!(t.name, "wide"),
            other => panic!("expected trunk, got {other:?}"),
        }
        match p.classify_source(ip("2001:db8::5")) {
            SourceClass::Trunk(t) => assert_eq!(t.name, "wide"),
            other => panic!("expected trunk, got {other:?}"),
        }
        assert_eq!(p.classify_source(ip("203.0.113.1")), SourceClass::Forbidden);
    }

    #[test]
    fn ipv4_mapped_source_matches_ipv4_allow() {
        let p = Profile::builtin_default();
        match p.classify_source(ip("::ffff:127.0.0.1")) {
            SourceClass::Trunk(t) => assert_eq!(t.name, "local"),
            other => panic!("expected local trunk, got {other:?}"),
        }
        assert!(matches!(
            p.classify_source(ip("::1")),
            SourceClass::Trunk(_)
        ));
        assert_eq!(p.classify_source(ip("10.0.0.1")), SourceClass::Forbidden);
    }

    #[test]
    fn unknown_source_needs_digest_when_a_trunk_has_credentials() {
        let mut p = Profile::builtin_default();
        p.trunks.push(trunk("pbx", &[], Some(("pbx1", "s3cret"))));
        assert_eq!(
            p.classify_source(ip("203.0.113.1")),
            SourceClass::NeedsDigest
        );
        assert!(matches!(
            p.classify_source(ip("127.0.0.5")),
            SourceClass::Trunk(t) if t.name == "local"
        ));
        assert_eq!(p.digest_trunk("pbx1").map(|t| t.name.as_str()), Some("pbx"));
        assert!(p.digest_trunk("nobody").is_none());
    }

    #[test]
    fn no_trunks_forbids_everyone() {
        let mut p = Profile::builtin_default();
        p.trunks.clear();
        assert_eq!(p.classify_source(ip("127.0.0.1")), SourceClass::Forbidden);
    }

    #[test]
    fn advertised_and_sdp_addresses() {
        let mut p = Profile::builtin_default();
        assert_eq!(p.advertised_ip(), None);
        assert_eq!(p.sdp_ip(), None);
        p.listen = "10.0.0.5:5060".parse().unwrap();
        assert_eq!(p.advertised_ip(), Some(ip("10.0.0.5")));
        p.external_addr = Some(ip("203.0.113.10"));
        assert_eq!(p.advertised_ip(), Some(ip("203.0.113.10")));
        assert_eq!(p.sdp_ip(), Some(ip("203.0.113.10")));
        p.media_addr = Some(ip("203.0.113.20"));
        assert_eq!(p.sdp_ip(), Some(ip("203.0.113.20")));
    }

    #[test]
    fn debug_hides_secrets() {
        let mut p = Profile::builtin_default();
        p.auth_secret = Some("nonce-secret-value".into());
        p.trunks
            .push(trunk("pbx", &[], Some(("pbx1", "trunkpass"))));
        p.users.push(SipUser {
            username: "1001".into(),
            password: "phonepass".into(),
        });
        let dbg = format!("{p:?}");
        assert!(dbg.contains("pbx1") && dbg.contains("1001"), "{dbg}");
        for secret in ["nonce-secret-value", "trunkpass", "phonepass"] {
            assert!(!dbg.contains(secret), "{secret} leaked: {dbg}");
        }
    }
}
