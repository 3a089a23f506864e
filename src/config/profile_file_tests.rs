//! Tests for `profile_file.rs`: every value check, with the exact message and position.

use super::*;
use std::net::IpAddr;
use std::path::PathBuf;

use crate::config::profile::SourceClass;

/// Parses `text` as `sip-profiles/<stem>.toml`; the problems are rendered one per string.
fn parse_as(stem: &str, text: &str) -> (Option<Profile>, Vec<String>) {
    let file = PathBuf::from(format!("sip-profiles/{stem}.toml"));
    let src = Source {
        name: file.display().to_string(),
        text,
    };
    let mut problems = Vec::new();
    let loaded = parse_profile(&src, &file, &mut problems);
    (
        loaded.map(|l| l.profile),
        problems.iter().map(Problem::to_string).collect(),
    )
}

fn ok(text: &str) -> Profile {
    let (p, problems) = parse_as("default", text);
    assert_eq!(problems, Vec::<String>::new());
    p.expect("profile without problems")
}

fn errors(text: &str) -> Vec<String> {
    let (p, problems) = parse_as("default", text);
    assert!(p.is_none(), "a profile with problems must not be returned");
    problems
}

#[test]
fn empty_file_gives_defaults_named_after_the_file() {
    let (p, problems) = parse_as("carrier", "");
    assert!(problems.is_empty());
    let p = p.unwrap();
    assert_eq!(p.name, "carrier");
    assert_eq!(p.realm, "carrier");
    assert_eq!(p.file, PathBuf::from("sip-profiles/carrier.toml"));
    assert_eq!(p.listen, "0.0.0.0:5060".parse().unwrap());
    assert_eq!(p.codecs, vec!["PCMA", "PCMU"]);
    // A profile file without trunks admits nobody: the loopback trunk is only in defaults.
    assert!(p.trunks.is_empty());
    // No record key: the number or [media] decides.
    assert_eq!(p.record, None);
}

#[test]
fn every_key_is_read() {
    let p = ok(r#"
name = "edge"
listen = "10.0.0.5:5070"
transports = ["TCP"]
external_addr = "203.0.113.10"
media_addr = "203.0.113.20"
codecs = ["pcmu", "Pcma"]
telephone_event = false
ptime_ms = 30
realm = "example.com"
auth_secret = "0123456789abcdef0123"
ring_ms = 2000
max_call_seconds = 3600
tcp_idle_timeout_secs = 60
record = false

[rate_limit]
per_second = 0
burst = 0

[registrar]
min_expires = 30
max_expires = 600
default_expires = 300

[timers]
t1_ms = 250
t2_ms = 2000
t4_ms = 2500

[[trunks]]
name = "carrier"
allow = ["198.51.100.0/24", "192.0.2.7", "2001:db8::/32"]

[[trunks]]
name = "pbx"
username = "pbx1"
password = "secret"

[[users]]
username = "1001"
password = "pw1"
"#);
    assert_eq!(p.name, "edge");
    assert_eq!(p.listen, "10.0.0.5:5070".parse().unwrap());
    assert_eq!(p.transports, vec![TransportKind::Tcp]);
    assert_eq!(p.external_addr, Some("203.0.113.10".parse().unwrap()));
    assert_eq!(p.media_addr, Some("203.0.113.20".parse().unwrap()));
    assert_eq!(p.codecs, vec!["PCMU", "PCMA"]);
    assert!(!p.telephone_event);
    assert_eq!(p.ptime_ms, 30);
    assert_eq!(p.realm, "example.com");
    assert_eq!(p.auth_secret.as_deref(), Some("0123456789abcdef0123"));
    assert_eq!(p.ring_ms, 2000);
    assert_eq!(p.max_call_seconds, 3600);
    assert_eq!(p.tcp_idle_timeout_secs, 60);
    assert_eq!(p.record, Some(false));
    assert!(!p.rate_limit.is_enabled());
    assert_eq!(
        (
            p.registrar.min_expires,
            p.registrar.max_expires,
            p.registrar.default_expires
        ),
        (30, 600, 300)
    );
    assert_eq!(
        (p.timers.t1_ms, p.timers.t2_ms, p.timers.t4_ms),
        (250, 2000, 2500)
    );
    assert_eq!(p.trunks.len(), 2);
    assert_eq!(
        p.trunks[0].allow,
        vec![
            "198.51.100.0/24".parse().unwrap(),
            "192.0.2.7/32".parse().unwrap(),
            "2001:db8::/32".parse().unwrap()
        ]
    );
    assert_eq!(p.trunks[1].credentials(), Some(("pbx1", "secret")));
    assert_eq!(p.users.len(), 1);
    assert_eq!(p.users[0].username, "1001");
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    assert!(
        matches!(p.classify_source(ip("192.0.2.7")), SourceClass::Trunk(t) if t.name == "carrier")
    );
    assert_eq!(p.classify_source(ip("192.0.2.8")), SourceClass::NeedsDigest);
}

#[test]
fn unknown_transport_names_choices() {
    assert_eq!(
        errors("listen = \"0.0.0.0:5060\"\ntransports = [\"udp\", \"sctp\"]\n"),
        vec![
            "sip-profiles/default.toml:2:22: transports: unknown transport \"sctp\"; valid: udp, tcp"
        ]
    );
}

#[test]
fn tls_and_ws_are_not_yet_supported() {
    assert_eq!(
        errors("transports = [\"tls\", \"ws\", \"udp\", \"udp\"]"),
        vec![
            "sip-profiles/default.toml:1:15: transports: \"tls\" is not yet supported; use udp/tcp",
            "sip-profiles/default.toml:1:22: transports: \"ws\" is not yet supported; use udp/tcp",
            "sip-profiles/default.toml:1:35: transports: \"udp\" is listed twice",
        ]
    );
    assert_eq!(
        errors("transports = []"),
        vec!["sip-profiles/default.toml:1:14: transports: list at least one of: udp, tcp"]
    );
}

#[test]
fn unknown_key_suggests_and_lists() {
    let e = errors("# comment\nlisten_addr = \"0.0.0.0:5060\"\n");
    assert_eq!(e.len(), 1);
    assert!(
        e[0].starts_with(
            "sip-profiles/default.toml:2:1: unknown key \"listen_addr\"; did you mean \"listen\"? \
             valid keys: name, listen, transports, external_addr,"
        ),
        "{}",
        e[0]
    );
}

#[test]
fn unknown_key_in_trunk_names_the_table() {
    assert_eq!(
        errors("[[trunks]]\nname = \"c\"\nallow_ips = [\"1.2.3.4\"]\n"),
        vec![
            "sip-profiles/default.toml:3:1: unknown key \"allow_ips\" in [[trunks]]; did you mean \
             \"allow\"? valid keys: name, allow, username, password, proxy"
        ]
    );
}

#[test]
fn bad_listen_and_addresses() {
    assert_eq!(
        errors("listen = \"0.0.0.0\"\nexternal_addr = \"0.0.0.0\"\nmedia_addr = \"nat.example\"\n"),
        vec![
            "sip-profiles/default.toml:1:10: listen: invalid address \"0.0.0.0\"; expected \
             IP:PORT such as 0.0.0.0:5060 or [::]:5060 (host names are not allowed)",
            "sip-profiles/default.toml:2:17: external_addr: 0.0.0.0 is not an address peers can \
             send to; write this host's public address such as 203.0.113.10",
            "sip-profiles/default.toml:3:14: media_addr: invalid IP address \"nat.example\"; \
             expected an address such as 203.0.113.10 (host names are not allowed)",
        ]
    );
    assert_eq!(
        errors("listen = \"0.0.0.0:0\""),
        vec![
            "sip-profiles/default.toml:1:10: listen: port 0 would pick a random port that peers \
             cannot know; give a fixed port such as 0.0.0.0:5060"
        ]
    );
}

#[test]
fn codecs_are_checked_case_insensitively() {
    assert_eq!(
        errors("codecs = [\"pcma\", \"G729\", \"telephone-event\", \"PCMA\"]"),
        vec![
            "sip-profiles/default.toml:1:19: codecs: unknown value \"G729\"; valid: PCMA, PCMU",
            "sip-profiles/default.toml:1:27: codecs: unknown value \"telephone-event\"; DTMF is \
             set with telephone_event = true, not in codecs",
            "sip-profiles/default.toml:1:46: codecs: \"PCMA\" is listed twice",
        ]
    );
    assert_eq!(
        errors("codecs = []"),
        vec!["sip-profiles/default.toml:1:10: codecs: list at least one of: PCMA, PCMU"]
    );
}

#[test]
fn digest_algorithms_are_checked() {
    assert_eq!(
        errors("digest_algorithms = [\"sha-256\", \"SHA-512\"]"),
        vec![
            "sip-profiles/default.toml:1:33: digest_algorithms: unknown value \"SHA-512\"; \
             valid: MD5, SHA-256"
        ]
    );
    assert_eq!(
        ok("digest_algorithms = [\"sha-256\"]").digest_algorithms,
        vec!["SHA-256"]
    );
    assert_eq!(ok("").digest_algorithms, vec!["MD5", "SHA-256"]);
}

#[test]
fn numeric_ranges() {
    assert_eq!(
        errors(
            "ptime_ms = 25\nring_ms = 300001\ntcp_idle_timeout_secs = 0\nauth_secret = \"short\"\n"
        ),
        vec![
            "sip-profiles/default.toml:1:12: ptime_ms: 25 is not allowed; use 10, 20, 30, 40, 50 \
             or 60 (usually 20)",
            "sip-profiles/default.toml:2:11: ring_ms: 300001 is more than 300000 (5 minutes); use \
             e.g. 2000, or 0 to answer at once",
            "sip-profiles/default.toml:3:25: tcp_idle_timeout_secs: must be at least 1; use e.g. 300",
            "sip-profiles/default.toml:4:15: auth_secret: too short to protect nonces; use at \
             least 16 random characters (e.g. the output of `openssl rand -hex 16`), or remove \
             it for a random secret per start",
        ]
    );
    assert_eq!(errors("ptime_ms = 70").len(), 1);
    assert_eq!(ok("ptime_ms = 10").ptime_ms, 10);
    assert_eq!(ok("ptime_ms = 60").ptime_ms, 60);
}

#[test]
fn wrong_type_names_key_and_example() {
    assert_eq!(
        errors("ptime_ms = \"20\""),
        vec![
            "sip-profiles/default.toml:1:12: ptime_ms: invalid type: string \"20\", expected u32; \
             write it like: ptime_ms = 20"
        ]
    );
    assert_eq!(
        errors("[[trunks]]\nname = \"c\"\nallow = \"1.2.3.4\"\n"),
        vec![
            "sip-profiles/default.toml:3:9: allow: invalid type: string \"1.2.3.4\", expected a \
             sequence; write it like: allow = [\"198.51.100.0/24\", \"192.0.2.7\"]"
        ]
    );
    assert_eq!(
        errors("record = \"no\"\n"),
        vec![
            "sip-profiles/default.toml:1:10: record: invalid type: string \"no\", expected a \
             boolean; write it like: record = false"
        ]
    );
}

#[test]
fn rate_limit_burst_zero_with_rate_is_an_error() {
    assert_eq!(
        errors("[rate_limit]\nper_second = 10\nburst = 0\n"),
        vec![
            "sip-profiles/default.toml:3:9: rate_limit.burst: 0 would drop every request; use e.g. \
             100, or set per_second = 0 to turn the limit off"
        ]
    );
    let p = ok("[rate_limit]\nper_second = 5\n");
    assert_eq!((p.rate_limit.per_second, p.rate_limit.burst), (5, 100));
}

#[test]
fn registrar_and_timer_orderings() {
    assert_eq!(
        errors("[registrar]\nmin_expires = 600\nmax_expires = 60\n"),
        vec![
            "sip-profiles/default.toml:3:15: registrar.max_expires: 60 is below min_expires 600; \
             use e.g. 3600"
        ]
    );
    // default_expires not written: the error points at the [registrar] table.
    assert_eq!(
        errors("[registrar]\nmax_expires = 1800\n"),
        vec![
            "sip-profiles/default.toml:1:1: registrar.default_expires: 3600 is outside \
             min_expires..max_expires (60..1800)"
        ]
    );
    assert_eq!(
        errors("[registrar]\nmin_expires = 0\n"),
        vec![
            "sip-profiles/default.toml:2:15: registrar.min_expires: must be at least 1; use e.g. 60"
        ]
    );
    assert_eq!(
        errors("[timers]\nt1_ms = 1000\nt2_ms = 500\nt4_ms = 0\n"),
        vec![
            "sip-profiles/default.toml:3:9: timers.t2_ms: 500 must be between t1_ms (1000) and \
             60000; the RFC 3261 value is 4000",
            "sip-profiles/default.toml:4:9: timers.t4_ms: 0 is out of range 1..60000; the RFC 3261 \
             value is 5000",
        ]
    );
    assert_eq!(
        errors("[timers]\nt1_ms = 0\n"),
        vec![
            "sip-profiles/default.toml:2:9: timers.t1_ms: 0 is out of range 1..10000; the RFC 3261 \
             value is 500"
        ]
    );
}

#[test]
fn allow_list_errors_point_at_the_entry() {
    assert_eq!(
        errors(
            "[[trunks]]\nname = \"carrier\"\nallow = [\"198.51.100.0/24\", \"carrier.example\"]\n"
        ),
        vec![
            "sip-profiles/default.toml:3:29: trunks.allow: invalid IP or CIDR \"carrier.example\"; \
             expected e.g. 198.51.100.0/24, 192.0.2.7 or 2001:db8::/32 (host names are not allowed)"
        ]
    );
}

#[test]
fn trunk_consistency() {
    assert_eq!(
        errors(
            "[[trunks]]\nname = \"a\"\n\n[[trunks]]\nname = \"a\"\nallow = [\"::1\"]\n\n\
             [[trunks]]\nname = \"b\"\nusername = \"u\"\n\n[[trunks]]\nname = \"c\"\npassword = \"p\"\n"
        ),
        vec![
            "sip-profiles/default.toml:1:1: trunk \"a\" admits nobody and reaches nobody; add \
             allow = [\"198.51.100.0/24\"], username and password, or proxy = \"192.0.2.1:5060\"",
            "sip-profiles/default.toml:5:8: trunks.name: trunk \"a\" is defined twice; give each \
             trunk its own name",
            "sip-profiles/default.toml:10:12: trunks.username: trunk \"b\" has a username but no \
             password; add password = \"...\"",
            "sip-profiles/default.toml:14:12: trunks.password: trunk \"c\" has a password but no \
             username; add username = \"...\"",
        ]
    );
}

#[test]
fn missing_trunk_name_is_reported_with_example() {
    assert_eq!(
        errors("[[trunks]]\nallow = [\"::1\"]\n"),
        vec![
            "sip-profiles/default.toml:1:1: missing key \"name\" in [[trunks]]; add e.g. name = \"carrier\""
        ]
    );
}

#[test]
fn users_are_unique_and_not_trunk_usernames() {
    assert_eq!(
        errors(
            "[[trunks]]\nname = \"pbx\"\nusername = \"pbx1\"\npassword = \"x\"\n\
             [[users]]\nusername = \"1001\"\npassword = \"a\"\n\
             [[users]]\nusername = \"1001\"\npassword = \"\"\n\
             [[users]]\nusername = \"pbx1\"\npassword = \"b\"\n"
        ),
        vec![
            "sip-profiles/default.toml:9:12: users.username: user \"1001\" is defined twice",
            "sip-profiles/default.toml:10:12: users.password: user \"1001\" has an empty password",
            "sip-profiles/default.toml:12:12: users.username: \"pbx1\" is also a trunk's username; \
             digest usernames must be unique",
        ]
    );
}

#[test]
fn names_and_realm_are_checked() {
    assert_eq!(
        errors("name = \"my profile\"\nrealm = \"a\\\"b\"\n"),
        vec![
            "sip-profiles/default.toml:1:8: name: invalid name \"my profile\"; use 1 to 64 letters, \
             digits, '-', '_' or '.' such as \"default\"",
            "sip-profiles/default.toml:2:9: realm: \"a\\\"b\" contains a quote, backslash or \
             control character; example: realm = \"hotline\"",
        ]
    );
    let (p, problems) = parse_as("my profile", "");
    assert!(p.is_none());
    assert_eq!(
        problems,
        vec![
            "sip-profiles/my profile.toml: the file name gives the profile name: invalid name \
             \"my profile\"; use 1 to 64 letters, digits, '-', '_' or '.' such as \"default\"; \
             rename the file or set name"
        ]
    );
}

#[test]
fn syntax_error_has_position() {
    let e = errors("listen = \"0.0.0.0:5060\"\ncodecs = [\"PCMA\"\n");
    assert_eq!(e.len(), 1);
    assert!(
        e[0].starts_with("sip-profiles/default.toml:3:1: TOML syntax:"),
        "{}",
        e[0]
    );
}

#[test]
fn a_trunk_may_only_call_out_through_its_proxy() {
    let p = ok("[[trunks]]\nname = \"pbx-out\"\nproxy = \"192.0.2.20:5070\"\n");
    assert_eq!(p.trunks[0].proxy, Some("192.0.2.20:5070".parse().unwrap()));
    assert!(p.trunks[0].allow.is_empty());
    assert_eq!(
        errors("[[trunks]]\nname = \"pbx\"\nproxy = \"pbx.example.com:5060\"\n"),
        vec![
            "sip-profiles/default.toml:3:9: trunks.proxy: \"pbx.example.com:5060\" is not an IP \
             address with a port; write e.g. proxy = \"192.0.2.1:5060\" (host names are not resolved)"
        ]
    );
}
