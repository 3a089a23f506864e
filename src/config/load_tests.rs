//! Tests for `load.rs`: file discovery, defaults, overrides, cross-file checks, and the
//! shipped configuration. Each test works in its own temporary directory.

use super::*;
use std::sync::atomic::{AtomicU32, Ordering};

/// A directory under the system temp dir, removed on drop (std only).
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("hotline-config-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.0.join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("create dir");
        }
        fs::write(&path, text).expect("write file");
        path
    }

    fn load(&self, args: &ServeArgs) -> Result<Config, ConfigError> {
        load_in(args, &self.0)
    }

    fn errors(&self, args: &ServeArgs) -> String {
        let e = self.load(args).expect_err("config must be rejected");
        // Positions are checked; the temp dir prefix is not.
        e.to_string().replace(&format!("{}/", self.0.display()), "")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn with_config(name: &str) -> ServeArgs {
    ServeArgs {
        config: Some(PathBuf::from(name)),
        ..ServeArgs::default()
    }
}

fn names(c: &Config) -> Vec<&str> {
    c.profiles.iter().map(|p| p.name.as_str()).collect()
}

#[test]
fn nothing_on_disk_gives_builtin_defaults() {
    let t = TempDir::new();
    let c = t.load(&ServeArgs::default()).unwrap();
    let expected = Config {
        data_dir: t.0.join("var"),
        recordings_dir: t.0.join("recordings"),
        prompts_dir: t.0.join("prompts"),
        flows_dir: t.0.join("ivr-flows"),
        region_db: t.0.join("data/phone.dat"),
        ..Config::default()
    };
    assert_eq!(c, expected);
    assert_eq!(c.numbers.route("9196"), ("echo", None));
    assert_eq!(c.database, None);
    assert_eq!(c.source, PathBuf::from("<defaults>"));
    assert_eq!(c.default_profile().file, PathBuf::from("<built-in>"));
}

#[test]
fn implicit_hotline_toml_and_profiles_dir_are_found() {
    let t = TempDir::new();
    t.write("hotline.toml", "node_id = \"edge-7\"\n");
    t.write("sip-profiles/default.toml", "listen = \"0.0.0.0:5070\"\n");
    let c = t.load(&ServeArgs::default()).unwrap();
    assert_eq!(c.node_id, "edge-7");
    assert_eq!(c.source, t.0.join("hotline.toml"));
    assert_eq!(c.default_profile().listen, "0.0.0.0:5070".parse().unwrap());
    assert_eq!(
        c.default_profile().file,
        t.0.join("sip-profiles/default.toml")
    );
}

#[test]
fn profiles_dir_without_hotline_toml_is_used() {
    let t = TempDir::new();
    t.write(
        "sip-profiles/main.toml",
        "[[trunks]]\nname = \"c\"\nallow = [\"10.0.0.0/8\"]\n",
    );
    let c = t.load(&ServeArgs::default()).unwrap();
    assert_eq!(c.source, PathBuf::from("<defaults>"));
    assert_eq!(names(&c), vec!["main"]);
}

#[test]
fn explicit_config_that_is_missing_is_an_error() {
    let t = TempDir::new();
    assert_eq!(
        t.errors(&with_config("missing.toml")),
        "missing.toml: the config file does not exist; check the path"
    );
}

#[test]
fn non_utf8_config_is_an_error() {
    let t = TempDir::new();
    t.write("hotline.toml", "");
    fs::write(t.0.join("hotline.toml"), [0xff, 0xfe, b'a']).unwrap();
    assert_eq!(
        t.errors(&with_config("hotline.toml")),
        "hotline.toml: the config file is not UTF-8 text; save it as UTF-8"
    );
}

#[test]
fn file_values_and_relative_paths() {
    let t = TempDir::new();
    t.write(
        "etc/hotline.toml",
        "http_listen = \"127.0.0.1:9000\"\nrtp_ports = \"40000-40999\"\ndata_dir = \"state\"\n\
         recordings_dir = \"/srv/rec\"\nprofiles_dir = \"profiles\"\n",
    );
    t.write("etc/profiles/default.toml", "");
    let c = t.load(&with_config("etc/hotline.toml")).unwrap();
    assert_eq!(c.http_listen, "127.0.0.1:9000".parse().unwrap());
    assert_eq!(
        c.rtp_ports,
        PortRange {
            lo: 40000,
            hi: 40999
        }
    );
    assert_eq!(c.data_dir, t.0.join("etc/state"));
    assert_eq!(c.recordings_dir, PathBuf::from("/srv/rec"));
    assert_eq!(
        c.default_profile().file,
        t.0.join("etc/profiles/default.toml")
    );
}

#[test]
fn flags_override_the_file() {
    let t = TempDir::new();
    t.write(
        "hotline.toml",
        "sip_listen = \"0.0.0.0:5080\"\nhttp_listen = \"127.0.0.1:9000\"\n\
         rtp_ports = \"40000-40999\"\ndata_dir = \"state\"\n",
    );
    let args = ServeArgs {
        config: Some("hotline.toml".into()),
        sip_listen: Some("10.0.0.5:5090".parse().unwrap()),
        http_listen: Some("[::1]:8443".parse().unwrap()),
        rtp_ports: Some(PortRange {
            lo: 30000,
            hi: 30099,
        }),
        data_dir: Some("flag-var".into()),
        recordings: Some("/abs/rec".into()),
        database: Some("sqlite://flag.db".into()),
    };
    let c = t.load(&args).unwrap();
    assert_eq!(c.default_profile().listen, "10.0.0.5:5090".parse().unwrap());
    assert_eq!(c.http_listen, "[::1]:8443".parse().unwrap());
    assert_eq!(
        c.rtp_ports,
        PortRange {
            lo: 30000,
            hi: 30099
        }
    );
    // Flag paths are relative to the working directory, not the config file.
    assert_eq!(c.data_dir, t.0.join("flag-var"));
    assert_eq!(c.recordings_dir, PathBuf::from("/abs/rec"));
    assert_eq!(
        c.database,
        Some(format!("sqlite://{}", t.0.join("flag.db").display()))
    );
}

#[test]
fn media_prompts_database_and_numbers_from_the_file() {
    let t = TempDir::new();
    t.write(
        "etc/hotline.toml",
        "prompts_dir = \"audio\"\ndatabase = \"sqlite:db/cdr.db\"\n\
         [media]\nworkers = 3\nrtp_timeout_secs = 0\nrecord = false\nshutdown_grace_secs = 5\n\
         opus_complexity = 1\n[numbers]\ndefault = \"echo\"\n\"400800*\" = { app = \"welcome\", record = true }\n",
    );
    let c = t.load(&with_config("etc/hotline.toml")).unwrap();
    assert_eq!(c.prompts_dir, t.0.join("etc/audio"));
    // A relative SQLite path is relative to the config file, like the directories.
    assert_eq!(
        c.database,
        Some(format!("sqlite://{}", t.0.join("etc/db/cdr.db").display()))
    );
    assert_eq!(
        c.media,
        MediaSettings {
            workers: 3,
            rtp_timeout_secs: 0,
            record: false,
            shutdown_grace_secs: 5,
            opus_complexity: 1,
        }
    );
    // A [numbers] table replaces the built-in plan, 9196 included.
    assert_eq!(c.numbers.route("9196"), ("echo", None));
    assert_eq!(c.numbers.route("4008001"), ("welcome", Some(true)));
    assert_eq!(c.numbers.routes.len(), 1);
    assert!(c.record_for(c.default_profile(), "4008001"));
    assert!(!c.record_for(c.default_profile(), "9196"));
}

#[test]
fn workers_zero_means_one_per_core_and_absolute_urls_stay() {
    let t = TempDir::new();
    t.write(
        "hotline.toml",
        "database = \"postgres://h:pw@db/cdr\"\n[media]\nworkers = 0\n",
    );
    let c = t.load(&with_config("hotline.toml")).unwrap();
    assert_eq!(c.media.workers, MediaSettings::workers_per_core());
    assert!(c.media.workers >= 1);
    assert_eq!(c.database.as_deref(), Some("postgres://h:pw@db/cdr"));
    // --database replaces the file's URL.
    let args = ServeArgs {
        database: Some("sqlite:///srv/h.db".into()),
        ..with_config("hotline.toml")
    };
    assert_eq!(
        t.load(&args).unwrap().database.as_deref(),
        Some("sqlite:///srv/h.db")
    );
}

#[test]
fn bad_database_flag_is_reported_without_its_password() {
    let t = TempDir::new();
    let args = ServeArgs {
        database: Some("mysql://root:pw@db/x".into()),
        ..ServeArgs::default()
    };
    assert_eq!(
        t.errors(&args),
        "--database: \"mysql://root:****@db/x\" is not a database Hotline can use; write \
         sqlite:///var/lib/hotline/hotline.db or postgres://USER:PASSWORD@HOST/DB, or leave it \
         out for the SQLite file in data_dir"
    );
}

#[test]
fn profile_record_is_read_and_used() {
    let t = TempDir::new();
    t.write(
        "hotline.toml",
        "[numbers]\n\"1\" = { app = \"echo\", record = true }\n",
    );
    t.write("sip-profiles/default.toml", "record = false\n");
    let c = t.load(&with_config("hotline.toml")).unwrap();
    assert_eq!(c.default_profile().record, Some(false));
    assert!(!c.record_for(c.default_profile(), "2"));
    assert!(c.record_for(c.default_profile(), "1"));
}

#[test]
fn bad_numbers_stop_the_load_with_positions() {
    let t = TempDir::new();
    t.write(
        "hotline.toml",
        "[numbers]\n\"9196\" = \"echoo\"\n\"+86 10\" = \"echo\"\n",
    );
    assert_eq!(
        t.errors(&with_config("hotline.toml")),
        "hotline.toml:2:10: numbers.\"9196\": unknown app \"echoo\"; did you mean \"echo\"? \
         valid apps: echo, welcome, reject\n\
         hotline.toml:3:1: numbers: \"+86 10\" is not a number; keys are default = \
         \"welcome\", or a number: digits with an optional leading + and an optional trailing * \
         for a prefix, such as \"9196\", \"+861012345678\" or \"400800*\""
    );
}

#[test]
fn sip_listen_replaces_only_the_first_profile() {
    let t = TempDir::new();
    t.write("hotline.toml", "sip_listen = \"0.0.0.0:5090\"\n");
    t.write("sip-profiles/default.toml", "listen = \"0.0.0.0:5070\"\n");
    t.write("sip-profiles/b.toml", "listen = \"0.0.0.0:5080\"\n");
    let c = t.load(&with_config("hotline.toml")).unwrap();
    assert_eq!(c.profiles[0].listen, "0.0.0.0:5090".parse().unwrap());
    assert_eq!(c.profiles[1].listen, "0.0.0.0:5080".parse().unwrap());
}

#[test]
fn default_toml_comes_first_then_by_name_and_others_are_ignored() {
    let t = TempDir::new();
    t.write("sip-profiles/z.toml", "listen = \"0.0.0.0:5090\"\n");
    t.write("sip-profiles/default.toml", "");
    t.write("sip-profiles/a.toml", "listen = \"0.0.0.0:5070\"\n");
    t.write("sip-profiles/README.md", "not toml");
    t.write("sip-profiles/.draft.toml", "garbage = = =");
    let c = t.load(&ServeArgs::default()).unwrap();
    assert_eq!(names(&c), vec!["default", "a", "z"]);
    assert_eq!(c.profile("a").map(|p| p.listen.port()), Some(5070));
}

#[test]
fn every_broken_profile_is_reported() {
    let t = TempDir::new();
    t.write(
        "sip-profiles/default.toml",
        "ptime_ms = 25\ncodecs = [\"G722\"]\n",
    );
    t.write(
        "sip-profiles/b.toml",
        "listen = \"0.0.0.0:5080\"\ntransport = [\"udp\"]\n",
    );
    assert_eq!(
        t.errors(&ServeArgs::default()),
        "sip-profiles/default.toml:1:12: ptime_ms: 25 is not allowed; use 10, 20, 30, 40, 50 or \
         60 (usually 20)\n\
         sip-profiles/default.toml:2:11: codecs: unknown value \"G722\"; valid: PCMA, PCMU\n\
         sip-profiles/b.toml:2:1: unknown key \"transport\"; did you mean \"transports\"? valid \
         keys: name, listen, transports, external_addr, media_addr, codecs, digest_algorithms, telephone_event, \
         ptime_ms, realm, auth_secret, ring_ms, max_call_seconds, tcp_idle_timeout_secs, \
         record, rate_limit, registrar, timers, trunks, users"
    );
}

#[test]
fn broken_hotline_toml_stops_before_profiles() {
    let t = TempDir::new();
    t.write("hotline.toml", "rtp_ports = \"1-\"\n");
    t.write("sip-profiles/default.toml", "ptime_ms = 25\n");
    assert_eq!(
        t.errors(&with_config("hotline.toml")),
        "hotline.toml:1:13: rtp_ports: \"1-\" is not a port range; expected LO-HI such as \
         20000-29999"
    );
}

#[test]
fn duplicate_profile_names_are_an_error() {
    let t = TempDir::new();
    t.write("sip-profiles/default.toml", "");
    t.write(
        "sip-profiles/other.toml",
        "\nname = \"default\"\nlisten = \"0.0.0.0:5070\"\n",
    );
    assert_eq!(
        t.errors(&ServeArgs::default()),
        "sip-profiles/other.toml:2:8: profile name \"default\" is already used by \
         sip-profiles/default.toml; give each profile its own name \
         (set name = \"...\" or rename the file)"
    );
}

#[test]
fn two_profiles_on_one_address_are_an_error() {
    let t = TempDir::new();
    t.write("sip-profiles/default.toml", "listen = \"0.0.0.0:5060\"\n");
    t.write("sip-profiles/lan.toml", "listen = \"10.1.1.1:5060\"\n");
    // Different family or port: no clash.
    t.write("sip-profiles/v6.toml", "listen = \"[::]:5060\"\n");
    t.write("sip-profiles/w.toml", "listen = \"10.1.1.1:5061\"\n");
    assert_eq!(
        t.errors(&ServeArgs::default()),
        "sip-profiles/lan.toml:1:10: listen: 10.1.1.1:5060 of profile \"lan\" clashes with \
         0.0.0.0:5060 of profile \"default\" (sip-profiles/default.toml:1:10); give each profile \
         its own port or address"
    );
}

#[test]
fn sip_listen_flag_clash_names_the_flag() {
    let t = TempDir::new();
    t.write("sip-profiles/default.toml", "");
    t.write("sip-profiles/b.toml", "listen = \"0.0.0.0:5080\"\n");
    let args = ServeArgs {
        sip_listen: Some("127.0.0.1:5080".parse().unwrap()),
        ..ServeArgs::default()
    };
    assert_eq!(
        t.errors(&args),
        "sip-profiles/b.toml:1:10: listen: 0.0.0.0:5080 of profile \"b\" clashes with \
         127.0.0.1:5080 of profile \"default\" (--sip-listen); give each profile its own port or \
         address"
    );
}

#[test]
fn rtp_range_and_http_must_not_take_sip_ports() {
    let t = TempDir::new();
    t.write(
        "hotline.toml",
        "rtp_ports = \"5000-6000\"\nhttp_listen = \"0.0.0.0:7000\"\n",
    );
    t.write("sip-profiles/default.toml", "listen = \"0.0.0.0:5060\"\n");
    t.write(
        "sip-profiles/web.toml",
        "listen = \"127.0.0.1:7000\"\ntransports = [\"tcp\"]\n",
    );
    assert_eq!(
        t.errors(&with_config("hotline.toml")),
        "sip-profiles/default.toml:1:10: listen: SIP port 5060 of profile \"default\" is inside \
         rtp_ports 5000-6000 (set at hotline.toml:1:13); move one of them, e.g. SIP on 5060 and \
         RTP on 20000-29999\n\
         sip-profiles/web.toml:1:10: listen: SIP TCP 127.0.0.1:7000 of profile \"web\" clashes \
         with http_listen 0.0.0.0:7000 (set at hotline.toml:2:15); give them different ports"
    );
    // A TCP-only profile may sit inside the (UDP) RTP range.
    t.write("hotline.toml", "rtp_ports = \"7000-7999\"\n");
    assert!(t.load(&with_config("hotline.toml")).is_ok());
}

#[test]
fn rtp_flag_clash_names_the_flag() {
    let t = TempDir::new();
    let args = ServeArgs {
        rtp_ports: Some(PortRange { lo: 5000, hi: 5999 }),
        ..ServeArgs::default()
    };
    assert_eq!(
        t.errors(&args),
        "<built-in>: listen: SIP port 5060 of profile \"default\" is inside rtp_ports 5000-5999 \
         (set at --rtp-ports); move one of them, e.g. SIP on 5060 and RTP on 20000-29999"
    );
}

#[test]
fn explicit_profiles_dir_must_exist() {
    let t = TempDir::new();
    t.write("hotline.toml", "\nprofiles_dir = \"nope\"\n");
    let e = t.errors(&with_config("hotline.toml"));
    assert!(
        e.starts_with("hotline.toml:2:16: profiles_dir: directory \"")
            && e.ends_with(
                "nope\" does not exist; create it with a default.toml (see \
                            sip-profiles/README.md) or fix the path"
            ),
        "{e}"
    );
}

#[test]
fn empty_profiles_dir_is_an_error() {
    let t = TempDir::new();
    t.write("sip-profiles/README.md", "");
    assert_eq!(
        t.errors(&ServeArgs::default()),
        "sip-profiles: no SIP profiles (*.toml) in this directory; add default.toml (see \
         sip-profiles/README.md)"
    );
}

/// The repository's own hotline.toml and sip-profiles/default.toml.
fn shipped() -> Config {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let args = ServeArgs {
        config: Some(root.join("hotline.toml")),
        ..ServeArgs::default()
    };
    match load(&args) {
        Ok(c) => c,
        Err(e) => panic!("shipped configuration must load cleanly:\n{e}"),
    }
}

#[test]
fn shipped_configuration_loads_and_matches_the_defaults() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let c = shipped();
    let defaults = Config::default();
    assert_eq!(c.node_id, defaults.node_id);
    assert_eq!(c.http_listen, defaults.http_listen);
    assert_eq!(c.rtp_ports, defaults.rtp_ports);
    assert_eq!(c.data_dir, root.join("var"));
    assert_eq!(c.recordings_dir, root.join("recordings"));
    assert_eq!(c.prompts_dir, root.join("prompts"));
    assert_eq!(c.flows_dir, root.join("ivr-flows"));
    assert_eq!(c.database, None);
    assert_eq!(c.media, defaults.media);
    // The operator's first test call, kept for good; the shipped example flows on two
    // numbers; everything else welcome, as the built-in plan.
    assert_eq!(c.numbers.routes[0], defaults.numbers.routes[0]);
    assert_eq!(c.numbers.default_app, defaults.numbers.default_app);
    assert_eq!(c.numbers.route("9196"), ("echo", None));
    let flow = |n: &str| c.numbers.resolve(n).and_then(|r| r.flow.clone());
    assert_eq!(flow("4008001234").as_deref(), Some("ecommerce-zh"));
    assert_eq!(flow("4008005678").as_deref(), Some("support-en"));
    assert_eq!(c.numbers.route("4008009999"), ("welcome", None));
    // Every *.toml shipped in sip-profiles/ loads; default.toml is first and is the
    // built-in default profile written out.
    let mut builtin = Profile::builtin_default();
    builtin.file = root.join("sip-profiles/default.toml");
    assert_eq!(c.profiles[0], builtin);
}

#[test]
fn config_check_prints_the_summary() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let args = ServeArgs {
        config: Some(root.join("hotline.toml")),
        ..ServeArgs::default()
    };
    let summary = crate::cli::config_check(&args).unwrap();
    assert!(summary.starts_with("configuration OK ("), "{summary}");
    assert!(summary.contains("profile \"default\""), "{summary}");
    assert!(summary.contains("\n  9196            echo\n"), "{summary}");
    assert!(crate::cli::config_check(&with_config("/nonexistent/hotline.toml")).is_err());
}
