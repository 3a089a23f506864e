//! Parsers for the value kinds used in several config files and on the command line. Each
//! error message says what was found and gives an example of what to write.

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;

/// A listen address `IP:PORT` with a fixed (non-zero) port. `example_port` is used in the
/// message (5060 for SIP, 8080 for HTTP).
pub fn parse_listen(text: &str, example_port: u16) -> Result<SocketAddr, String> {
    let addr: SocketAddr = text.trim().parse().map_err(|_| {
        format!(
            "invalid address \"{text}\"; expected IP:PORT such as 0.0.0.0:{example_port} \
             or [::]:{example_port} (host names are not allowed)"
        )
    })?;
    if addr.port() == 0 {
        return Err(format!(
            "port 0 would pick a random port that peers cannot know; \
             give a fixed port such as {}:{example_port}",
            bracketed(addr.ip())
        ));
    }
    Ok(addr)
}

/// `[::1]` for IPv6, `1.2.3.4` for IPv4: how the address is written before `:PORT`.
fn bracketed(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

/// An address that peers are told to send to (NAT external or media address): a concrete
/// unicast IP, not 0.0.0.0 or a multicast group.
pub fn parse_advertised_ip(text: &str) -> Result<IpAddr, String> {
    let ip: IpAddr = text.trim().parse().map_err(|_| {
        format!(
            "invalid IP address \"{text}\"; expected an address such as 203.0.113.10 \
             (host names are not allowed)"
        )
    })?;
    if ip.is_unspecified() || ip.is_multicast() {
        return Err(format!(
            "{ip} is not an address peers can send to; write this host's public address \
             such as 203.0.113.10"
        ));
    }
    Ok(ip)
}

/// One allow-list entry: a CIDR (`198.51.100.0/24`) or a single IP (`192.0.2.7`, taken as
/// /32 or /128). Host bits in a CIDR are cleared (`10.1.2.3/8` means `10.0.0.0/8`).
pub fn parse_allow(text: &str) -> Result<IpNet, String> {
    let t = text.trim();
    if let Ok(net) = t.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    if let Ok(ip) = t.parse::<IpAddr>() {
        return Ok(IpNet::from(ip));
    }
    Err(format!(
        "invalid IP or CIDR \"{text}\"; expected e.g. 198.51.100.0/24, 192.0.2.7 or \
         2001:db8::/32 (host names are not allowed)"
    ))
}

/// Names that appear in logs, CDRs and URLs (node ids, profile and trunk names).
pub fn check_name(text: &str, example: &str) -> Result<(), String> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if text.is_empty() || text.len() > 64 || !text.chars().all(ok_char) {
        return Err(format!(
            "invalid name \"{text}\"; use 1 to 64 letters, digits, '-', '_' or '.' such as \
             \"{example}\""
        ));
    }
    Ok(())
}

/// The `database` key and `--database`: `sqlite://PATH` (also `sqlite:PATH`,
/// `sqlite::memory:`) or `postgres://USER:PASSWORD@HOST/DB`. Returns the trimmed URL with
/// `sqlite:PATH` spelled `sqlite://PATH`; relative paths are resolved by the caller.
pub fn parse_database(text: &str) -> Result<String, String> {
    let t = text.trim();
    let advice = "write sqlite:///var/lib/hotline/hotline.db or \
                  postgres://USER:PASSWORD@HOST/DB, or leave it out for the SQLite file in \
                  data_dir";
    if t.is_empty() {
        return Err(format!("empty; {advice}"));
    }
    if let Some(rest) = t
        .strip_prefix("postgres://")
        .or_else(|| t.strip_prefix("postgresql://"))
    {
        if rest.is_empty() || rest.starts_with('/') {
            return Err(format!(
                "\"{}\" names no PostgreSQL host; write postgres://USER:PASSWORD@HOST/DB",
                redact_url(t)
            ));
        }
        return Ok(t.to_string());
    }
    if t == "sqlite::memory:" {
        return Ok(t.to_string());
    }
    if let Some(path) = sqlite_path(t) {
        if path.is_empty() || path.contains('?') {
            return Err(format!(
                "\"{t}\" needs a plain file path (no ?options); {advice}"
            ));
        }
        return Ok(format!("sqlite://{path}"));
    }
    Err(format!(
        "\"{}\" is not a database Hotline can use; {advice}",
        redact_url(t)
    ))
}

/// The file path of a `sqlite://PATH` or `sqlite:PATH` URL.
pub fn sqlite_path(url: &str) -> Option<&str> {
    if url == "sqlite::memory:" {
        return None;
    }
    url.strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
}

/// `scheme://user:****@host/…`: a URL fit for logs and summaries.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_string();
    };
    let rest = &url[scheme_end..];
    let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
    // The password is between the first ':' and the last '@' of the authority.
    match (authority.rfind('@'), authority.find(':')) {
        (Some(at), Some(colon)) if colon < at => format!(
            "{}{}:****{}",
            &url[..scheme_end],
            &authority[..colon],
            &rest[at..]
        ),
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_accepts_v4_v6_and_rejects_port_zero_and_names() {
        assert_eq!(
            parse_listen("127.0.0.1:5060", 5060),
            Ok("127.0.0.1:5060".parse().unwrap())
        );
        assert_eq!(
            parse_listen("[::]:5070", 5060),
            Ok("[::]:5070".parse().unwrap())
        );
        assert_eq!(
            parse_listen("localhost:5060", 5060),
            Err(
                "invalid address \"localhost:5060\"; expected IP:PORT such as 0.0.0.0:5060 \
                 or [::]:5060 (host names are not allowed)"
                    .into()
            )
        );
        assert_eq!(
            parse_listen("[::1]:0", 8080),
            Err(
                "port 0 would pick a random port that peers cannot know; give a fixed port \
                 such as [::1]:8080"
                    .into()
            )
        );
    }

    #[test]
    fn advertised_ip_must_be_concrete() {
        assert_eq!(
            parse_advertised_ip("203.0.113.10"),
            Ok("203.0.113.10".parse().unwrap())
        );
        assert!(
            parse_advertised_ip("0.0.0.0")
                .unwrap_err()
                .contains("not an address")
        );
        assert!(parse_advertised_ip("224.0.0.1").is_err());
        assert!(
            parse_advertised_ip("example.com")
                .unwrap_err()
                .contains("203.0.113.10")
        );
    }

    #[test]
    fn allow_takes_cidr_or_single_ip() {
        assert_eq!(
            parse_allow("198.51.100.0/24"),
            Ok("198.51.100.0/24".parse().unwrap())
        );
        assert_eq!(parse_allow("10.1.2.3/8"), Ok("10.0.0.0/8".parse().unwrap()));
        assert_eq!(
            parse_allow("192.0.2.7"),
            Ok("192.0.2.7/32".parse().unwrap())
        );
        assert_eq!(parse_allow("::1"), Ok("::1/128".parse().unwrap()));
        assert_eq!(
            parse_allow("10.0.0.0/33"),
            Err(
                "invalid IP or CIDR \"10.0.0.0/33\"; expected e.g. 198.51.100.0/24, \
                 192.0.2.7 or 2001:db8::/32 (host names are not allowed)"
                    .into()
            )
        );
    }

    #[test]
    fn names_are_restricted() {
        assert_eq!(check_name("carrier-1.sh_a", "x"), Ok(()));
        assert!(check_name("", "x").is_err());
        assert!(check_name("has space", "x").is_err());
        assert!(check_name(&"a".repeat(65), "x").is_err());
        assert_eq!(
            check_name("a/b", "carrier"),
            Err(
                "invalid name \"a/b\"; use 1 to 64 letters, digits, '-', '_' or '.' such as \
                 \"carrier\""
                    .into()
            )
        );
    }

    #[test]
    fn database_urls() {
        assert_eq!(
            parse_database(" sqlite:///var/lib/h.db "),
            Ok("sqlite:///var/lib/h.db".into())
        );
        assert_eq!(
            parse_database("sqlite:db/h.db"),
            Ok("sqlite://db/h.db".into())
        );
        assert_eq!(
            parse_database("sqlite::memory:"),
            Ok("sqlite::memory:".into())
        );
        assert_eq!(
            parse_database("postgres://h:pw@db.example/hotline"),
            Ok("postgres://h:pw@db.example/hotline".into())
        );
        assert!(parse_database("postgresql://db/hotline").is_ok());
        assert_eq!(
            parse_database("mysql://root:pw@db/x"),
            Err(
                "\"mysql://root:****@db/x\" is not a database Hotline can use; write \
                 sqlite:///var/lib/hotline/hotline.db or postgres://USER:PASSWORD@HOST/DB, or \
                 leave it out for the SQLite file in data_dir"
                    .into()
            )
        );
        assert_eq!(
            parse_database("postgres:///hotline"),
            Err("\"postgres:///hotline\" names no PostgreSQL host; write \
                 postgres://USER:PASSWORD@HOST/DB"
                .into())
        );
        assert!(parse_database("/var/lib/h.db").is_err());
        assert!(
            parse_database("")
                .unwrap_err()
                .starts_with("empty; write sqlite:///")
        );
        assert!(parse_database("sqlite://").is_err());
        assert!(parse_database("sqlite://h.db?mode=ro").is_err());
    }

    #[test]
    fn urls_are_redacted() {
        assert_eq!(
            redact_url("postgres://hotline:s3cr@t@db:5432/cdr"),
            "postgres://hotline:****@db:5432/cdr"
        );
        assert_eq!(redact_url("postgres://db/cdr"), "postgres://db/cdr");
        assert_eq!(
            redact_url("postgres://user@db/cdr"),
            "postgres://user@db/cdr"
        );
        assert_eq!(redact_url("sqlite:///a:b@c"), "sqlite:///a:b@c");
        assert_eq!(redact_url("no scheme"), "no scheme");
    }
}
