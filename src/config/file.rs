//! Reading `hotline.toml`: node identity, listen addresses, RTP ports and directories.
//! Every key is optional; absent keys take the defaults in `load.rs`.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use super::error::{Location, Problem, Source, from_toml, sort_by_position};
use super::ports::PortRange;
use super::values::{check_name, parse_listen};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMain {
    node_id: Option<Spanned<String>>,
    sip_listen: Option<Spanned<String>>,
    http_listen: Option<Spanned<String>>,
    rtp_ports: Option<Spanned<String>>,
    data_dir: Option<Spanned<String>>,
    recordings_dir: Option<Spanned<String>>,
    profiles_dir: Option<Spanned<String>>,
}

/// What hotline.toml sets, with positions for later cross-checks. Paths are as written
/// (not yet resolved against the file's directory).
#[derive(Debug, Default)]
pub(crate) struct MainFile {
    pub node_id: Option<String>,
    pub sip_listen: Option<(SocketAddr, Location)>,
    pub http_listen: Option<(SocketAddr, Location)>,
    pub rtp_ports: Option<(PortRange, Location)>,
    pub data_dir: Option<PathBuf>,
    pub recordings_dir: Option<PathBuf>,
    pub profiles_dir: Option<(PathBuf, Location)>,
}

fn example(key: &str) -> Option<&'static str> {
    Some(match key {
        "node_id" => "node_id = \"hotline-1\"",
        "sip_listen" => "sip_listen = \"0.0.0.0:5060\"",
        "http_listen" => "http_listen = \"0.0.0.0:8080\"",
        "rtp_ports" => "rtp_ports = \"20000-29999\"",
        "data_dir" => "data_dir = \"var\"",
        "recordings_dir" => "recordings_dir = \"recordings\"",
        "profiles_dir" => "profiles_dir = \"sip-profiles\"",
        _ => return None,
    })
}

/// Parses hotline.toml. Problems go to `problems`; `None` when there were any.
pub(crate) fn parse_main(src: &Source<'_>, problems: &mut Vec<Problem>) -> Option<MainFile> {
    let raw: RawMain = match toml::from_str(src.text) {
        Ok(raw) => raw,
        Err(e) => {
            problems.push(from_toml(src, &e, example));
            return None;
        }
    };
    let before = problems.len();
    let mut out = MainFile::default();

    if let Some(id) = &raw.node_id {
        match check_name(id.get_ref(), "hotline-1") {
            Ok(()) => out.node_id = Some(id.get_ref().clone()),
            Err(e) => problems.push(src.problem(id.span(), format!("node_id: {e}"))),
        }
    }
    let mut listen = |key: &str, raw: &Option<Spanned<String>>, port: u16| {
        let raw = raw.as_ref()?;
        match parse_listen(raw.get_ref(), port) {
            Ok(addr) => Some((addr, src.location(raw.span()))),
            Err(e) => {
                problems.push(src.problem(raw.span(), format!("{key}: {e}")));
                None
            }
        }
    };
    out.sip_listen = listen("sip_listen", &raw.sip_listen, 5060);
    out.http_listen = listen("http_listen", &raw.http_listen, 8080);
    if let Some(r) = &raw.rtp_ports {
        match r.get_ref().parse::<PortRange>() {
            Ok(range) => out.rtp_ports = Some((range, src.location(r.span()))),
            Err(e) => problems.push(src.problem(r.span(), format!("rtp_ports: {e}"))),
        }
    }
    let mut dir = |key: &str, raw: &Option<Spanned<String>>, ex: &str| {
        let raw = raw.as_ref()?;
        if raw.get_ref().trim().is_empty() {
            let msg = format!("{key}: empty; write a directory such as \"{ex}\"");
            problems.push(src.problem(raw.span(), msg));
            return None;
        }
        Some((PathBuf::from(raw.get_ref()), src.location(raw.span())))
    };
    out.data_dir = dir("data_dir", &raw.data_dir, "var").map(|d| d.0);
    out.recordings_dir = dir("recordings_dir", &raw.recordings_dir, "recordings").map(|d| d.0);
    out.profiles_dir = dir("profiles_dir", &raw.profiles_dir, "sip-profiles");

    sort_by_position(&mut problems[before..]);
    (problems.len() == before).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> (Option<MainFile>, Vec<String>) {
        let src = Source {
            name: "hotline.toml".into(),
            text,
        };
        let mut problems = Vec::new();
        let main = parse_main(&src, &mut problems);
        (main, problems.iter().map(Problem::to_string).collect())
    }

    #[test]
    fn empty_file_sets_nothing() {
        let (m, problems) = parse("# nothing\n");
        assert!(problems.is_empty());
        let m = m.unwrap();
        assert!(m.node_id.is_none() && m.sip_listen.is_none() && m.rtp_ports.is_none());
    }

    #[test]
    fn reads_every_key() {
        let (m, problems) = parse(
            "node_id = \"edge-2\"\nsip_listen = \"10.0.0.1:5080\"\nhttp_listen = \"[::1]:9000\"\n\
             rtp_ports = \"40000-40999\"\ndata_dir = \"/srv/var\"\nrecordings_dir = \"rec\"\n\
             profiles_dir = \"profiles\"\n",
        );
        assert!(problems.is_empty(), "{problems:?}");
        let m = m.unwrap();
        assert_eq!(m.node_id.as_deref(), Some("edge-2"));
        assert_eq!(m.sip_listen.unwrap().0, "10.0.0.1:5080".parse().unwrap());
        let (http, at) = m.http_listen.unwrap();
        assert_eq!(http, "[::1]:9000".parse().unwrap());
        assert_eq!(at.to_string(), "hotline.toml:3:15");
        assert_eq!(
            m.rtp_ports.unwrap().0,
            PortRange {
                lo: 40000,
                hi: 40999
            }
        );
        assert_eq!(m.data_dir, Some(PathBuf::from("/srv/var")));
        assert_eq!(m.recordings_dir, Some(PathBuf::from("rec")));
        assert_eq!(m.profiles_dir.unwrap().0, PathBuf::from("profiles"));
    }

    #[test]
    fn unknown_key_suggests_the_right_one() {
        let (m, problems) = parse("node_id = \"a\"\n\nsip_lisen = \"0.0.0.0:5060\"\n");
        assert!(m.is_none());
        assert_eq!(
            problems,
            vec![
                "hotline.toml:3:1: unknown key \"sip_lisen\"; did you mean \"sip_listen\"? valid \
                 keys: node_id, sip_listen, http_listen, rtp_ports, data_dir, recordings_dir, \
                 profiles_dir"
            ]
        );
    }

    #[test]
    fn bad_values_are_all_reported_with_positions() {
        let (m, problems) = parse(
            "node_id = \"a b\"\nhttp_listen = \"0.0.0.0\"\nrtp_ports = \"20000:29999\"\n\
             data_dir = \"\"\n",
        );
        assert!(m.is_none());
        assert_eq!(
            problems,
            vec![
                "hotline.toml:1:11: node_id: invalid name \"a b\"; use 1 to 64 letters, digits, \
                 '-', '_' or '.' such as \"hotline-1\"",
                "hotline.toml:2:15: http_listen: invalid address \"0.0.0.0\"; expected IP:PORT \
                 such as 0.0.0.0:8080 or [::]:8080 (host names are not allowed)",
                "hotline.toml:3:13: rtp_ports: \"20000:29999\" is not a port range; expected \
                 LO-HI such as 20000-29999",
                "hotline.toml:4:12: data_dir: empty; write a directory such as \"var\"",
            ]
        );
    }

    #[test]
    fn wrong_type_gives_example() {
        let (_, problems) = parse("rtp_ports = [20000, 29999]\n");
        assert_eq!(
            problems,
            vec![
                "hotline.toml:1:13: rtp_ports: invalid type: sequence, expected a string; write \
                 it like: rtp_ports = \"20000-29999\""
            ]
        );
    }
}
