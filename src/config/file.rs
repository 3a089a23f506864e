//! Reading `hotline.toml`: node identity, listen addresses, RTP ports, directories, the
//! database, `[media]` and `[numbers]`. Every key is optional; absent keys take the defaults
//! in `load.rs`, `media.rs` and `numbers.rs`.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use super::error::{Location, Problem, Source, from_toml, sort_by_position};
use super::media::{MAX_MEDIA_SECS, MAX_MEDIA_WORKERS};
use super::numbers::NumberPlan;
use super::numbers_file::{RawNumbers, parse_numbers};
use super::ports::PortRange;
use super::values::{check_name, parse_database, parse_listen};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMain {
    node_id: Option<Spanned<String>>,
    sip_listen: Option<Spanned<String>>,
    http_listen: Option<Spanned<String>>,
    webrtc_listen: Option<Spanned<String>>,
    rtp_ports: Option<Spanned<String>>,
    data_dir: Option<Spanned<String>>,
    recordings_dir: Option<Spanned<String>>,
    prompts_dir: Option<Spanned<String>>,
    flows_dir: Option<Spanned<String>>,
    region_db: Option<Spanned<String>>,
    profiles_dir: Option<Spanned<String>>,
    database: Option<Spanned<String>>,
    media: Option<RawMedia>,
    numbers: Option<RawNumbers>,
    queues: Option<Vec<Spanned<crate::acd::QueueConfig>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMedia {
    workers: Option<Spanned<u64>>,
    rtp_timeout_secs: Option<Spanned<u64>>,
    record: Option<bool>,
    shutdown_grace_secs: Option<Spanned<u64>>,
    opus_complexity: Option<Spanned<u64>>,
}

/// What `[media]` sets; `workers` is still as written (0 = one per core).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct MediaFile {
    pub workers: Option<usize>,
    pub rtp_timeout_secs: Option<u64>,
    pub record: Option<bool>,
    pub shutdown_grace_secs: Option<u64>,
    pub opus_complexity: Option<u8>,
}

/// What hotline.toml sets, with positions for later cross-checks. Paths are as written
/// (not yet resolved against the file's directory).
#[derive(Debug, Default)]
pub(crate) struct MainFile {
    pub node_id: Option<String>,
    pub sip_listen: Option<(SocketAddr, Location)>,
    pub http_listen: Option<(SocketAddr, Location)>,
    pub webrtc_listen: Option<(SocketAddr, Location)>,
    pub rtp_ports: Option<(PortRange, Location)>,
    pub data_dir: Option<PathBuf>,
    pub recordings_dir: Option<PathBuf>,
    pub prompts_dir: Option<PathBuf>,
    pub flows_dir: Option<PathBuf>,
    pub region_db: Option<PathBuf>,
    pub profiles_dir: Option<(PathBuf, Location)>,
    /// Checked by [`parse_database`]; a relative SQLite path is not yet resolved.
    pub database: Option<String>,
    pub media: MediaFile,
    /// `None` without a `[numbers]` table: the built-in plan applies.
    pub numbers: Option<NumberPlan>,
    /// `[[queues]]`: the ACD queues flows can `enqueue` callers to.
    pub queues: Vec<crate::acd::QueueConfig>,
}

fn example(key: &str) -> Option<&'static str> {
    Some(match key {
        "node_id" => "node_id = \"hotline-1\"",
        "sip_listen" => "sip_listen = \"0.0.0.0:5060\"",
        "http_listen" => "http_listen = \"0.0.0.0:8080\"",
        "webrtc_listen" => "webrtc_listen = \"0.0.0.0:8080\"",
        "rtp_ports" => "rtp_ports = \"20000-29999\"",
        "data_dir" => "data_dir = \"var\"",
        "recordings_dir" => "recordings_dir = \"recordings\"",
        "prompts_dir" => "prompts_dir = \"prompts\"",
        "flows_dir" => "flows_dir = \"ivr-flows\"",
        "region_db" => "region_db = \"data/phone.dat\"",
        "profiles_dir" => "profiles_dir = \"sip-profiles\"",
        "database" => "database = \"postgres://hotline:PASSWORD@db.example/hotline\"",
        "media" => "[media] workers = 0",
        "workers" => "workers = 0",
        "rtp_timeout_secs" => "rtp_timeout_secs = 60",
        "record" => "record = true",
        "shutdown_grace_secs" => "shutdown_grace_secs = 30",
        "opus_complexity" => "opus_complexity = 3",
        "numbers" => "[numbers] default = \"welcome\"",
        "queues" => "[[queues]] tables, each with name = \"orders\"",
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
    // Port 0 is fine here: browsers learn the port from the SDP answer.
    if let Some(w) = &raw.webrtc_listen {
        match w.get_ref().parse::<SocketAddr>() {
            Ok(addr) => out.webrtc_listen = Some((addr, src.location(w.span()))),
            Err(_) => problems.push(src.problem(
                w.span(),
                format!(
                    "webrtc_listen: invalid address {:?}; expected IP:PORT (UDP), e.g. \
                     0.0.0.0:8080",
                    w.get_ref()
                ),
            )),
        }
    }
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
    out.prompts_dir = dir("prompts_dir", &raw.prompts_dir, "prompts").map(|d| d.0);
    out.flows_dir = dir("flows_dir", &raw.flows_dir, "ivr-flows").map(|d| d.0);
    out.region_db = dir("region_db", &raw.region_db, "data/phone.dat").map(|d| d.0);
    out.profiles_dir = dir("profiles_dir", &raw.profiles_dir, "sip-profiles");
    if let Some(db) = &raw.database {
        match parse_database(db.get_ref()) {
            Ok(url) => out.database = Some(url),
            Err(e) => problems.push(src.problem(db.span(), format!("database: {e}"))),
        }
    }
    if let Some(m) = &raw.media {
        out.media = media(src, m, problems);
    }
    if let Some(n) = &raw.numbers {
        out.numbers = Some(parse_numbers(src, n, problems));
    }
    if let Some(qs) = &raw.queues {
        let all: Vec<crate::acd::QueueConfig> = qs.iter().map(|q| q.get_ref().clone()).collect();
        for (i, q) in qs.iter().enumerate() {
            let cfg = q.get_ref();
            for e in cfg.validate(&all) {
                problems.push(src.problem(q.span(), format!("queues: {e}")));
            }
            if all[..i]
                .iter()
                .any(|o| o.name == cfg.name && o.tenant == cfg.tenant)
            {
                problems.push(src.problem(
                    q.span(),
                    format!(
                        "queues: queue {:?} is defined twice; give each queue its own name",
                        cfg.name
                    ),
                ));
            }
        }
        out.queues = all;
    }

    sort_by_position(&mut problems[before..]);
    (problems.len() == before).then_some(out)
}

fn media(src: &Source<'_>, m: &RawMedia, problems: &mut Vec<Problem>) -> MediaFile {
    let mut out = MediaFile {
        record: m.record,
        ..MediaFile::default()
    };
    if let Some(w) = &m.workers {
        match usize::try_from(*w.get_ref()) {
            Ok(n) if n <= MAX_MEDIA_WORKERS => out.workers = Some(n),
            _ => problems.push(src.problem(
                w.span(),
                format!(
                    "media.workers: {} is more than {MAX_MEDIA_WORKERS}; use 0 for one worker \
                     per core ({} here)",
                    w.get_ref(),
                    super::media::MediaSettings::workers_per_core()
                ),
            )),
        }
    }
    let mut secs = |key: &str, raw: &Option<Spanned<u64>>, usual: u64, zero: &str| {
        let raw = raw.as_ref()?;
        let v = *raw.get_ref();
        if v > MAX_MEDIA_SECS {
            let msg = format!(
                "media.{key}: {v} is more than {MAX_MEDIA_SECS} (1 hour); use e.g. {usual}, or 0 \
                 to {zero}"
            );
            problems.push(src.problem(raw.span(), msg));
            return None;
        }
        Some(v)
    };
    out.rtp_timeout_secs = secs(
        "rtp_timeout_secs",
        &m.rtp_timeout_secs,
        60,
        "never hang up for silence",
    );
    out.shutdown_grace_secs = secs(
        "shutdown_grace_secs",
        &m.shutdown_grace_secs,
        30,
        "hang up every call at once",
    );
    if let Some(c) = &m.opus_complexity {
        match u8::try_from(*c.get_ref()) {
            Ok(v) if v <= 10 => out.opus_complexity = Some(v),
            _ => problems.push(src.problem(
                c.span(),
                format!(
                    "media.opus_complexity: {} is not a libopus complexity; use 0 (cheapest) \
                     to 10 (best), e.g. 3",
                    c.get_ref()
                ),
            )),
        }
    }
    out
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
             profiles_dir = \"profiles\"\nprompts_dir = \"/srv/prompts\"\n\
             database = \"postgres://h:pw@db/cdr\"\n\
             [media]\nworkers = 3\nrtp_timeout_secs = 0\nrecord = false\nshutdown_grace_secs = 3600\n\
             opus_complexity = 0\n\
             [numbers]\ndefault = \"echo\"\n\"1\" = \"welcome\"\n",
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
        assert_eq!(m.prompts_dir, Some(PathBuf::from("/srv/prompts")));
        assert_eq!(m.database.as_deref(), Some("postgres://h:pw@db/cdr"));
        assert_eq!(m.media.workers, Some(3));
        assert_eq!(m.media.rtp_timeout_secs, Some(0));
        assert_eq!(m.media.record, Some(false));
        assert_eq!(m.media.shutdown_grace_secs, Some(3600));
        assert_eq!(m.media.opus_complexity, Some(0));
        let n = m.numbers.unwrap();
        assert_eq!(n.default_app, "echo");
        assert_eq!(n.route("1"), ("welcome", None));
    }

    #[test]
    fn unknown_key_suggests_the_right_one() {
        let (m, problems) = parse("node_id = \"a\"\n\nsip_lisen = \"0.0.0.0:5060\"\n");
        assert!(m.is_none());
        assert_eq!(
            problems,
            vec![
                "hotline.toml:3:1: unknown key \"sip_lisen\"; did you mean \"sip_listen\"? valid \
                 keys: node_id, sip_listen, http_listen, webrtc_listen, rtp_ports, data_dir, recordings_dir, \
                 prompts_dir, flows_dir, region_db, profiles_dir, database, media, numbers, queues"
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
    fn absent_tables_set_nothing() {
        let (m, _) = parse("node_id = \"a\"\n");
        let m = m.unwrap();
        assert!(m.numbers.is_none() && m.database.is_none() && m.prompts_dir.is_none());
        assert!(m.media.workers.is_none() && m.media.record.is_none());
    }

    #[test]
    fn bad_media_database_and_numbers_are_all_reported() {
        let (m, problems) = parse(
            "database = \"/var/h.db\"\nprompts_dir = \" \"\n[media]\nworkers = 1000\n\
             rtp_timeout_secs = 3601\nshutdown_grace_secs = 7200\nopus_complexity = 11\n\
             [numbers]\n\"9x\" = \"echo\"\n",
        );
        assert!(m.is_none());
        let per_core = crate::config::MediaSettings::workers_per_core();
        assert_eq!(
            problems,
            vec![
                "hotline.toml:1:12: database: \"/var/h.db\" is not a database Hotline can use; \
                 write sqlite:///var/lib/hotline/hotline.db or postgres://USER:PASSWORD@HOST/DB, \
                 or leave it out for the SQLite file in data_dir"
                    .to_string(),
                "hotline.toml:2:15: prompts_dir: empty; write a directory such as \"prompts\""
                    .to_string(),
                format!(
                    "hotline.toml:4:11: media.workers: 1000 is more than 256; use 0 for one \
                     worker per core ({per_core} here)"
                ),
                "hotline.toml:5:20: media.rtp_timeout_secs: 3601 is more than 3600 (1 hour); \
                 use e.g. 60, or 0 to never hang up for silence"
                    .to_string(),
                "hotline.toml:6:23: media.shutdown_grace_secs: 7200 is more than 3600 (1 hour); \
                 use e.g. 30, or 0 to hang up every call at once"
                    .to_string(),
                "hotline.toml:7:19: media.opus_complexity: 11 is not a libopus complexity; use \
                 0 (cheapest) to 10 (best), e.g. 3"
                    .to_string(),
                "hotline.toml:9:1: numbers: \"9x\" is not a number; keys are default = \
                 \"welcome\", or a number: digits with an optional leading + and an optional \
                 trailing * for a prefix, such as \"9196\", \"+861012345678\" or \"400800*\""
                    .to_string(),
            ]
        );
    }

    #[test]
    fn media_keys_are_checked_by_name_and_type() {
        let (_, problems) = parse("[media]\nworker = 2\n");
        assert_eq!(
            problems,
            vec![
                "hotline.toml:2:1: unknown key \"worker\" in [media]; did you mean \"workers\"? \
                 valid keys: workers, rtp_timeout_secs, record, shutdown_grace_secs, \
                 opus_complexity"
            ]
        );
        let (_, problems) = parse("[media]\nworkers = -1\n");
        assert_eq!(
            problems,
            vec![
                "hotline.toml:2:11: workers: invalid value: integer `-1`, expected u64; write it \
                 like: workers = 0"
            ]
        );
        let (_, problems) = parse("[media]\nrecord = \"yes\"\n");
        assert_eq!(
            problems,
            vec![
                "hotline.toml:2:10: record: invalid type: string \"yes\", expected a boolean; \
                 write it like: record = true"
            ]
        );
    }

    #[test]
    fn numbers_must_be_a_table() {
        let (_, problems) = parse("numbers = \"echo\"\n");
        assert_eq!(
            problems,
            vec![
                "hotline.toml:1:11: numbers: invalid type: string \"echo\", expected a map; \
                 write it like: [numbers] default = \"welcome\""
            ]
        );
    }

    #[test]
    fn queues_are_read_and_checked_with_positions() {
        let (m, problems) = parse(
            "[[queues]]\nname = \"orders\"\nstrategy = \"skills\"\noverflow = \"queue:general\"\n\n\
             [[queues]]\nname = \"general\"\n",
        );
        assert!(problems.is_empty(), "{problems:?}");
        let qs = m.unwrap().queues;
        assert_eq!(qs.len(), 2);
        assert_eq!(qs[0].strategy, crate::acd::Strategy::Skills);
        let (_, problems) = parse("[[queues]]\nname = \"orders\"\noverflow = \"queue:nowhere\"\n");
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0]
                .starts_with("hotline.toml:1:1: queues: queue orders: overflow queue \"nowhere\""),
            "{problems:?}"
        );
        let (_, problems) = parse("[[queues]]\nname = \"q\"\nstrategy = \"random\"\n");
        assert!(problems[0].contains("ring-all"), "{problems:?}");
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
