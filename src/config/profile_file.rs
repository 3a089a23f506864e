//! Reading one `sip-profiles/*.toml` file into a [`Profile`], checking every value and
//! keeping its position so each problem names `file:line:col`.

use std::ops::Range;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::error::{Location, Problem, Source, from_toml, sort_by_position};
use super::profile::{
    Profile, SUPPORTED_CODECS, SUPPORTED_DIGEST_ALGORITHMS, SipUser, TransportKind, Trunk,
};
use super::values::{check_name, parse_advertised_ip, parse_allow, parse_listen};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    name: Option<Spanned<String>>,
    listen: Option<Spanned<String>>,
    transports: Option<Spanned<Vec<Spanned<String>>>>,
    external_addr: Option<Spanned<String>>,
    media_addr: Option<Spanned<String>>,
    codecs: Option<Spanned<Vec<Spanned<String>>>>,
    digest_algorithms: Option<Spanned<Vec<Spanned<String>>>>,
    telephone_event: Option<bool>,
    ptime_ms: Option<Spanned<u32>>,
    realm: Option<Spanned<String>>,
    auth_secret: Option<Spanned<String>>,
    ring_ms: Option<Spanned<u64>>,
    max_call_seconds: Option<u64>,
    tcp_idle_timeout_secs: Option<Spanned<u64>>,
    record: Option<bool>,
    rate_limit: Option<RawRateLimit>,
    registrar: Option<Spanned<RawRegistrar>>,
    timers: Option<Spanned<RawTimers>>,
    #[serde(default)]
    trunks: Vec<Spanned<RawTrunk>>,
    #[serde(default)]
    users: Vec<Spanned<RawUser>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRateLimit {
    per_second: Option<u32>,
    burst: Option<Spanned<u32>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRegistrar {
    min_expires: Option<Spanned<u32>>,
    max_expires: Option<Spanned<u32>>,
    default_expires: Option<Spanned<u32>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTimers {
    t1_ms: Option<Spanned<u64>>,
    t2_ms: Option<Spanned<u64>>,
    t4_ms: Option<Spanned<u64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTrunk {
    name: Spanned<String>,
    #[serde(default)]
    allow: Vec<Spanned<String>>,
    username: Option<Spanned<String>>,
    password: Option<Spanned<String>>,
    proxy: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUser {
    username: Spanned<String>,
    password: Spanned<String>,
}

/// A parsed profile plus the positions the cross-profile checks point at.
pub(crate) struct LoadedProfile {
    pub profile: Profile,
    pub name_at: Location,
    pub listen_at: Location,
}

/// A sample line for each key, shown with type errors and missing keys.
fn example(key: &str) -> Option<&'static str> {
    Some(match key {
        "name" => "name = \"carrier\"",
        "listen" => "listen = \"0.0.0.0:5060\"",
        "transports" => "transports = [\"udp\", \"tcp\"]",
        "external_addr" => "external_addr = \"203.0.113.10\"",
        "media_addr" => "media_addr = \"203.0.113.10\"",
        "codecs" => "codecs = [\"PCMA\", \"PCMU\"]",
        "digest_algorithms" => "digest_algorithms = [\"MD5\", \"SHA-256\"]",
        "telephone_event" => "telephone_event = true",
        "ptime_ms" => "ptime_ms = 20",
        "realm" => "realm = \"hotline\"",
        "auth_secret" => "auth_secret = \"a-long-random-string-shared-by-all-nodes\"",
        "ring_ms" => "ring_ms = 2000",
        "max_call_seconds" => "max_call_seconds = 3600",
        "tcp_idle_timeout_secs" => "tcp_idle_timeout_secs = 300",
        "record" => "record = false",
        "rate_limit" => "[rate_limit] per_second = 50, burst = 100",
        "per_second" => "per_second = 50",
        "burst" => "burst = 100",
        "registrar" => "[registrar] min_expires = 60",
        "min_expires" => "min_expires = 60",
        "max_expires" => "max_expires = 3600",
        "default_expires" => "default_expires = 3600",
        "timers" => "[timers] t1_ms = 500",
        "t1_ms" => "t1_ms = 500",
        "t2_ms" => "t2_ms = 4000",
        "t4_ms" => "t4_ms = 5000",
        "trunks" => "[[trunks]] tables, each with name = \"carrier\"",
        "allow" => "allow = [\"198.51.100.0/24\", \"192.0.2.7\"]",
        "username" => "username = \"pbx1\"",
        "password" => "password = \"change-me\"",
        "proxy" => "proxy = \"192.0.2.20:5060\"",
        "users" => "[[users]] tables, each with username = \"1001\"",
        _ => return None,
    })
}

/// Collects problems against one file.
struct Checker<'s, 'p> {
    src: &'s Source<'s>,
    problems: &'p mut Vec<Problem>,
    failed: bool,
}

impl Checker<'_, '_> {
    fn err(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.failed = true;
        self.problems.push(self.src.problem(span, message));
    }

    /// Runs `parse` on an optional spanned string; errors are prefixed with `key`.
    fn value<T>(
        &mut self,
        key: &str,
        raw: &Option<Spanned<String>>,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Option<T> {
        let raw = raw.as_ref()?;
        match parse(raw.get_ref()) {
            Ok(v) => Some(v),
            Err(e) => {
                self.err(raw.span(), format!("{key}: {e}"));
                None
            }
        }
    }
}

/// Parses one profile file. Problems go to `problems`; `None` when the file had any.
pub(crate) fn parse_profile(
    src: &Source<'_>,
    file: &Path,
    problems: &mut Vec<Problem>,
) -> Option<LoadedProfile> {
    let raw: RawProfile = match toml::from_str(src.text) {
        Ok(raw) => raw,
        Err(e) => {
            problems.push(from_toml(src, &e, example));
            return None;
        }
    };
    let first_problem = problems.len();
    let mut c = Checker {
        src,
        problems,
        failed: false,
    };

    let (name, name_at) = match &raw.name {
        Some(n) => {
            if let Err(e) = check_name(n.get_ref(), "default") {
                c.err(n.span(), format!("name: {e}"));
            }
            (n.get_ref().clone(), src.location(n.span()))
        }
        None => {
            let stem = file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            if let Err(e) = check_name(&stem, "default") {
                c.failed = true;
                c.problems.push(src.whole_file(format!(
                    "the file name gives the profile name: {e}; rename the file or set name"
                )));
            }
            (stem, Location::File(src.name.clone()))
        }
    };
    let mut p = Profile::with_defaults(&name, file.to_path_buf());
    p.trunks.clear();

    let listen_at = match &raw.listen {
        Some(l) => src.location(l.span()),
        None => name_at.clone(),
    };
    if let Some(addr) = c.value("listen", &raw.listen, |t| parse_listen(t, 5060)) {
        p.listen = addr;
    }
    if let Some(list) = &raw.transports {
        p.transports = transports(&mut c, list);
    }
    p.external_addr = c.value("external_addr", &raw.external_addr, parse_advertised_ip);
    p.media_addr = c.value("media_addr", &raw.media_addr, parse_advertised_ip);
    if let Some(list) = &raw.codecs {
        p.codecs = choice_list(&mut c, list, "codecs", &SUPPORTED_CODECS, |upper| {
            (upper == "TELEPHONE-EVENT")
                .then(|| "DTMF is set with telephone_event = true, not in codecs".to_string())
        });
    }
    if let Some(list) = &raw.digest_algorithms {
        p.digest_algorithms = choice_list(
            &mut c,
            list,
            "digest_algorithms",
            &SUPPORTED_DIGEST_ALGORITHMS,
            |_| None,
        );
    }
    if let Some(te) = raw.telephone_event {
        p.telephone_event = te;
    }
    if let Some(pt) = &raw.ptime_ms {
        let v = *pt.get_ref();
        if !(10..=60).contains(&v) || v % 10 != 0 {
            c.err(
                pt.span(),
                format!("ptime_ms: {v} is not allowed; use 10, 20, 30, 40, 50 or 60 (usually 20)"),
            );
        }
        p.ptime_ms = v;
    }
    match &raw.realm {
        Some(r) => {
            if let Err(e) = check_quotable(r.get_ref(), 128) {
                c.err(
                    r.span(),
                    format!("realm: {e}; example: realm = \"hotline\""),
                );
            }
            p.realm = r.get_ref().clone();
        }
        None => p.realm = name.clone(),
    }
    if let Some(s) = &raw.auth_secret {
        if s.get_ref().chars().count() < 16 {
            c.err(
                s.span(),
                "auth_secret: too short to protect nonces; use at least 16 random characters \
                 (e.g. the output of `openssl rand -hex 16`), or remove it for a random secret \
                 per start",
            );
        }
        p.auth_secret = Some(s.get_ref().clone());
    }
    if let Some(r) = &raw.ring_ms {
        let v = *r.get_ref();
        if v > 300_000 {
            c.err(
                r.span(),
                format!("ring_ms: {v} is more than 300000 (5 minutes); use e.g. 2000, or 0 to answer at once"),
            );
        }
        p.ring_ms = v;
    }
    if let Some(v) = raw.max_call_seconds {
        p.max_call_seconds = v;
    }
    if let Some(t) = &raw.tcp_idle_timeout_secs {
        if *t.get_ref() == 0 {
            c.err(
                t.span(),
                "tcp_idle_timeout_secs: must be at least 1; use e.g. 300",
            );
        }
        p.tcp_idle_timeout_secs = *t.get_ref();
    }
    p.record = raw.record;
    if let Some(rl) = &raw.rate_limit {
        if let Some(v) = rl.per_second {
            p.rate_limit.per_second = v;
        }
        if let Some(b) = &rl.burst {
            p.rate_limit.burst = *b.get_ref();
            if p.rate_limit.per_second > 0 && *b.get_ref() == 0 {
                c.err(
                    b.span(),
                    "rate_limit.burst: 0 would drop every request; use e.g. 100, or set \
                     per_second = 0 to turn the limit off",
                );
            }
        }
    }
    if let Some(reg) = &raw.registrar {
        registrar(&mut c, reg, &mut p);
    }
    if let Some(t) = &raw.timers {
        timers(&mut c, t, &mut p);
    }
    // Duplicates are checked against the raw entries, so an earlier entry with its own
    // problem still counts.
    for (i, t) in raw.trunks.iter().enumerate() {
        if let Some(trunk) = trunk(&mut c, t, &raw.trunks[..i]) {
            p.trunks.push(trunk);
        }
    }
    for (i, u) in raw.users.iter().enumerate() {
        if let Some(user) = user(&mut c, u, &raw.users[..i], &raw.trunks) {
            p.users.push(user);
        }
    }

    // Report in reading order, whatever order the checks ran in.
    sort_by_position(&mut c.problems[first_problem..]);
    (!c.failed).then_some(LoadedProfile {
        profile: p,
        name_at,
        listen_at,
    })
}

fn transports(c: &mut Checker<'_, '_>, list: &Spanned<Vec<Spanned<String>>>) -> Vec<TransportKind> {
    let mut out = Vec::new();
    if list.get_ref().is_empty() {
        c.err(list.span(), "transports: list at least one of: udp, tcp");
    }
    for t in list.get_ref() {
        let kind = match t.get_ref().to_ascii_lowercase().as_str() {
            "udp" => TransportKind::Udp,
            "tcp" => TransportKind::Tcp,
            "tls" | "ws" | "wss" => {
                c.err(
                    t.span(),
                    format!(
                        "transports: \"{}\" is not yet supported; use udp/tcp",
                        t.get_ref()
                    ),
                );
                continue;
            }
            _ => {
                c.err(
                    t.span(),
                    format!(
                        "transports: unknown transport \"{}\"; valid: udp, tcp",
                        t.get_ref()
                    ),
                );
                continue;
            }
        };
        if out.contains(&kind) {
            c.err(t.span(), format!("transports: \"{kind}\" is listed twice"));
        } else {
            out.push(kind);
        }
    }
    out
}

/// A non-empty list of distinct names from `valid` (case-insensitive, stored upper-case).
/// `hint` may replace the "valid: …" advice for a well-known mistake.
fn choice_list(
    c: &mut Checker<'_, '_>,
    list: &Spanned<Vec<Spanned<String>>>,
    key: &str,
    valid: &[&str],
    hint: impl Fn(&str) -> Option<String>,
) -> Vec<String> {
    let valid_text = valid.join(", ");
    let mut out: Vec<String> = Vec::new();
    if list.get_ref().is_empty() {
        c.err(
            list.span(),
            format!("{key}: list at least one of: {valid_text}"),
        );
    }
    for item in list.get_ref() {
        let upper = item.get_ref().to_ascii_uppercase();
        if !valid.contains(&upper.as_str()) {
            let advice = hint(&upper).unwrap_or_else(|| format!("valid: {valid_text}"));
            c.err(
                item.span(),
                format!("{key}: unknown value \"{}\"; {advice}", item.get_ref()),
            );
        } else if out.contains(&upper) {
            c.err(item.span(), format!("{key}: \"{upper}\" is listed twice"));
        } else {
            out.push(upper);
        }
    }
    out
}

fn registrar(c: &mut Checker<'_, '_>, reg: &Spanned<RawRegistrar>, p: &mut Profile) {
    let r = reg.get_ref();
    let span_of = |v: &Option<Spanned<u32>>| v.as_ref().map_or(reg.span(), |s| s.span());
    let s = &mut p.registrar;
    if let Some(v) = &r.min_expires {
        s.min_expires = *v.get_ref();
    }
    if let Some(v) = &r.max_expires {
        s.max_expires = *v.get_ref();
    }
    if let Some(v) = &r.default_expires {
        s.default_expires = *v.get_ref();
    }
    let s = *s;
    if s.min_expires == 0 {
        c.err(
            span_of(&r.min_expires),
            "registrar.min_expires: must be at least 1; use e.g. 60",
        );
    } else if s.max_expires < s.min_expires {
        let span = span_of(&r.max_expires);
        c.err(
            span,
            format!(
                "registrar.max_expires: {} is below min_expires {}; use e.g. 3600",
                s.max_expires, s.min_expires
            ),
        );
    } else if !(s.min_expires..=s.max_expires).contains(&s.default_expires) {
        c.err(
            span_of(&r.default_expires),
            format!(
                "registrar.default_expires: {} is outside min_expires..max_expires ({}..{})",
                s.default_expires, s.min_expires, s.max_expires
            ),
        );
    }
}

fn timers(c: &mut Checker<'_, '_>, t: &Spanned<RawTimers>, p: &mut Profile) {
    let r = t.get_ref();
    let span_of = |v: &Option<Spanned<u64>>| v.as_ref().map_or(t.span(), |s| s.span());
    if let Some(v) = &r.t1_ms {
        p.timers.t1_ms = *v.get_ref();
    }
    if let Some(v) = &r.t2_ms {
        p.timers.t2_ms = *v.get_ref();
    }
    if let Some(v) = &r.t4_ms {
        p.timers.t4_ms = *v.get_ref();
    }
    let s = p.timers;
    if !(1..=10_000).contains(&s.t1_ms) {
        let msg = format!(
            "timers.t1_ms: {} is out of range 1..10000; the RFC 3261 value is 500",
            s.t1_ms
        );
        c.err(span_of(&r.t1_ms), msg);
    } else if !(s.t1_ms..=60_000).contains(&s.t2_ms) {
        let msg = format!(
            "timers.t2_ms: {} must be between t1_ms ({}) and 60000; the RFC 3261 value is 4000",
            s.t2_ms, s.t1_ms
        );
        c.err(span_of(&r.t2_ms), msg);
    }
    if !(1..=60_000).contains(&s.t4_ms) {
        let msg = format!(
            "timers.t4_ms: {} is out of range 1..60000; the RFC 3261 value is 5000",
            s.t4_ms
        );
        c.err(span_of(&r.t4_ms), msg);
    }
}

fn trunk(
    c: &mut Checker<'_, '_>,
    raw: &Spanned<RawTrunk>,
    earlier: &[Spanned<RawTrunk>],
) -> Option<Trunk> {
    let t = raw.get_ref();
    let name = t.name.get_ref();
    let before = c.problems.len();
    if let Err(e) = check_name(name, "carrier") {
        c.err(t.name.span(), format!("trunks.name: {e}"));
    } else if earlier.iter().any(|e| e.get_ref().name.get_ref() == name) {
        c.err(
            t.name.span(),
            format!("trunks.name: trunk \"{name}\" is defined twice; give each trunk its own name"),
        );
    }
    let mut allow = Vec::new();
    for a in &t.allow {
        match parse_allow(a.get_ref()) {
            Ok(net) => allow.push(net),
            Err(e) => c.err(a.span(), format!("trunks.allow: {e}")),
        }
    }
    match (&t.username, &t.password) {
        (Some(u), None) => c.err(
            u.span(),
            format!("trunks.username: trunk \"{name}\" has a username but no password; add password = \"...\""),
        ),
        (None, Some(pw)) => c.err(
            pw.span(),
            format!("trunks.password: trunk \"{name}\" has a password but no username; add username = \"...\""),
        ),
        (Some(u), Some(pw)) => {
            if let Err(e) = check_quotable(u.get_ref(), 128) {
                c.err(u.span(), format!("trunks.username: {e}"));
            } else if earlier.iter().any(|e| same(&e.get_ref().username, u)) {
                c.err(
                    u.span(),
                    format!("trunks.username: \"{}\" is used by another trunk; digest usernames must be unique", u.get_ref()),
                );
            }
            if pw.get_ref().is_empty() {
                c.err(pw.span(), "trunks.password: empty; write the trunk's digest password");
            }
        }
        (None, None) if t.allow.is_empty() && t.proxy.is_none() => c.err(
            raw.span(),
            format!(
                "trunk \"{name}\" admits nobody and reaches nobody; add allow = \
                 [\"198.51.100.0/24\"], username and password, or proxy = \"192.0.2.1:5060\""
            ),
        ),
        (None, None) => {}
    }
    let mut proxy = None;
    if let Some(p) = &t.proxy {
        match p.get_ref().parse::<std::net::SocketAddr>() {
            Ok(a) if a.port() != 0 && !a.ip().is_unspecified() => proxy = Some(a),
            _ => c.err(
                p.span(),
                format!(
                    "trunks.proxy: {:?} is not an IP address with a port; write e.g. \
                     proxy = \"192.0.2.1:5060\" (host names are not resolved)",
                    p.get_ref()
                ),
            ),
        }
    }
    (c.problems.len() == before).then(|| Trunk {
        name: name.clone(),
        allow,
        proxy,
        username: t.username.as_ref().map(|u| u.get_ref().clone()),
        password: t.password.as_ref().map(|p| p.get_ref().clone()),
    })
}

fn user(
    c: &mut Checker<'_, '_>,
    raw: &Spanned<RawUser>,
    earlier: &[Spanned<RawUser>],
    trunks: &[Spanned<RawTrunk>],
) -> Option<SipUser> {
    let u = raw.get_ref();
    let name = u.username.get_ref();
    let before = c.problems.len();
    if let Err(e) = check_quotable(name, 128) {
        c.err(u.username.span(), format!("users.username: {e}"));
    } else if earlier
        .iter()
        .any(|x| x.get_ref().username.get_ref() == name)
    {
        c.err(
            u.username.span(),
            format!("users.username: user \"{name}\" is defined twice"),
        );
    } else if trunks
        .iter()
        .any(|t| same(&t.get_ref().username, &u.username))
    {
        c.err(
            u.username.span(),
            format!("users.username: \"{name}\" is also a trunk's username; digest usernames must be unique"),
        );
    }
    if u.password.get_ref().is_empty() {
        c.err(
            u.password.span(),
            format!("users.password: user \"{name}\" has an empty password"),
        );
    }
    (c.problems.len() == before).then(|| SipUser {
        username: name.clone(),
        password: u.password.get_ref().clone(),
    })
}

fn same(a: &Option<Spanned<String>>, b: &Spanned<String>) -> bool {
    a.as_ref().is_some_and(|a| a.get_ref() == b.get_ref())
}

/// Values that go inside a quoted digest parameter: no quotes, backslashes or control chars.
fn check_quotable(text: &str, max: usize) -> Result<(), String> {
    if text.is_empty() {
        return Err("must not be empty".into());
    }
    if text.chars().count() > max {
        return Err(format!("longer than {max} characters"));
    }
    if text
        .chars()
        .any(|ch| ch == '"' || ch == '\\' || ch.is_control())
    {
        return Err(format!(
            "\"{}\" contains a quote, backslash or control character",
            text.escape_debug()
        ));
    }
    Ok(())
}

#[cfg(test)]
#[path = "profile_file_tests.rs"]
mod tests;
