//! [`load`]: find and read hotline.toml and the SIP profiles, apply the command line, and
//! check what only the whole picture shows (duplicate names, clashing addresses and ports).
//! Relative paths in files are taken against the config file's directory, on the command
//! line against the working directory.

use std::fs;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use super::error::{ConfigError, Location, Problem, Source};
use super::file::{MainFile, MediaFile, parse_main};
use super::media::MediaSettings;
use super::ports::PortRange;
use super::profile::{Profile, TransportKind};
use super::profile_file::{LoadedProfile, parse_profile};
use super::values::{parse_database, sqlite_path};
use super::{Config, DEFAULT_HTTP_LISTEN, DEFAULT_NODE_ID, DEFAULTS_SOURCE};
use crate::cli::ServeArgs;

/// Loads hotline.toml (from `--config`, else `./hotline.toml` if present, else built-in
/// defaults), the SIP profiles (`profiles_dir`, else `sip-profiles/` next to the config file
/// if present, else the built-in default profile), then applies the command-line overrides.
pub fn load(args: &ServeArgs) -> Result<Config, ConfigError> {
    load_in(args, Path::new(""))
}

/// [`load`] with relative paths (the implicit `hotline.toml`, command-line paths) taken
/// against `cwd`; `""` means the process's working directory. Tests pass a temp dir.
pub(crate) fn load_in(args: &ServeArgs, cwd: &Path) -> Result<Config, ConfigError> {
    let main_path = match &args.config {
        Some(p) => Some(resolve(cwd, p)),
        None => Some(cwd.join("hotline.toml")).filter(|p| p.is_file()),
    };
    let mut problems = Vec::new();
    let main = match &main_path {
        Some(path) => {
            let text = read(path, "the config file")?;
            let src = Source {
                name: path.display().to_string(),
                text: &text,
            };
            match parse_main(&src, &mut problems) {
                Some(main) => main,
                // Without a valid hotline.toml we do not know where the profiles are.
                None => return Err(ConfigError::new(problems)),
            }
        }
        None => MainFile::default(),
    };
    let config_dir = main_path
        .as_deref()
        .and_then(Path::parent)
        .unwrap_or(cwd)
        .to_path_buf();
    finish(args, cwd, main, main_path, config_dir, &mut problems)
}

/// Everything after hotline.toml is read: profiles, overrides, cross-checks.
fn finish(
    args: &ServeArgs,
    cwd: &Path,
    main: MainFile,
    source: Option<PathBuf>,
    config_dir: PathBuf,
    problems: &mut Vec<Problem>,
) -> Result<Config, ConfigError> {
    let mut loaded = load_profiles(&main, &config_dir, problems);

    let sip_override = match args.sip_listen {
        Some(addr) => Some((addr, Location::Flag("--sip-listen"))),
        None => main.sip_listen.clone(),
    };
    if let (Some((addr, at)), Some(first)) = (sip_override, loaded.first_mut()) {
        first.profile.listen = addr;
        first.listen_at = at;
    }
    let http = match args.http_listen {
        Some(addr) => (addr, Some(Location::Flag("--http-listen"))),
        None => match &main.http_listen {
            Some((addr, at)) => (*addr, Some(at.clone())),
            None => (DEFAULT_HTTP_LISTEN, None),
        },
    };
    let rtp = match args.rtp_ports {
        Some(r) => (r, Some(Location::Flag("--rtp-ports"))),
        None => match &main.rtp_ports {
            Some((r, at)) => (*r, Some(at.clone())),
            None => (PortRange::DEFAULT, None),
        },
    };
    let database = match &args.database {
        Some(raw) => match parse_database(raw) {
            Ok(url) => Some(resolve_database(cwd, &url)),
            Err(e) => {
                problems.push(Problem::new(Location::Flag("--database"), e));
                None
            }
        },
        None => main
            .database
            .as_deref()
            .map(|url| resolve_database(&config_dir, url)),
    };
    cross_check(&loaded, &http, &rtp, problems);
    if !problems.is_empty() {
        return Err(ConfigError::new(std::mem::take(problems)));
    }

    let dir = |flag: &Option<PathBuf>, file: &Option<PathBuf>, default: &str| match (flag, file) {
        (Some(p), _) => resolve(cwd, p),
        (None, Some(p)) => resolve(&config_dir, p),
        (None, None) => config_dir.join(default),
    };
    Ok(Config {
        node_id: main
            .node_id
            .clone()
            .unwrap_or_else(|| DEFAULT_NODE_ID.to_string()),
        http_listen: http.0,
        webrtc_listen: main
            .webrtc_listen
            .as_ref()
            .map_or(super::DEFAULT_WEBRTC_LISTEN, |(a, _)| *a),
        rtp_ports: rtp.0,
        data_dir: dir(&args.data_dir, &main.data_dir, "var"),
        recordings_dir: dir(&args.recordings, &main.recordings_dir, "recordings"),
        prompts_dir: dir(&None, &main.prompts_dir, "prompts"),
        flows_dir: dir(&None, &main.flows_dir, "ivr-flows"),
        region_db: dir(&None, &main.region_db, "data/phone.dat"),
        database,
        media: media(&main.media),
        numbers: main.numbers.clone().unwrap_or_default(),
        queues: main.queues.clone(),
        profiles: loaded.into_iter().map(|l| l.profile).collect(),
        source: source.unwrap_or_else(|| PathBuf::from(DEFAULTS_SOURCE)),
    })
}

/// `p` against `dir` unless absolute; an empty `dir` leaves `p` as written.
fn resolve(dir: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        dir.join(p)
    }
}

/// A `sqlite://` URL with a relative path made relative to `dir`; other URLs unchanged.
fn resolve_database(dir: &Path, url: &str) -> String {
    match sqlite_path(url) {
        Some(path) => format!("sqlite://{}", resolve(dir, Path::new(path)).display()),
        None => url.to_string(),
    }
}

/// `[media]` over the defaults, with `workers = 0` made one per core.
fn media(file: &MediaFile) -> MediaSettings {
    let d = MediaSettings::default();
    MediaSettings {
        workers: match file.workers {
            Some(0) | None => d.workers,
            Some(n) => n,
        },
        rtp_timeout_secs: file.rtp_timeout_secs.unwrap_or(d.rtp_timeout_secs),
        record: file.record.unwrap_or(d.record),
        shutdown_grace_secs: file.shutdown_grace_secs.unwrap_or(d.shutdown_grace_secs),
        opus_complexity: file.opus_complexity.unwrap_or(d.opus_complexity),
    }
}

fn read(path: &Path, what: &str) -> Result<String, ConfigError> {
    fs::read_to_string(path).map_err(|e| ConfigError::new(vec![read_problem(path, what, &e)]))
}

fn read_problem(path: &Path, what: &str, e: &io::Error) -> Problem {
    let why = match e.kind() {
        io::ErrorKind::NotFound => "does not exist; check the path".to_string(),
        io::ErrorKind::InvalidData => "is not UTF-8 text; save it as UTF-8".to_string(),
        _ => format!("cannot be read: {e}"),
    };
    Problem::new(
        Location::File(path.display().to_string()),
        format!("{what} {why}"),
    )
}

/// The profiles in order (default.toml first, then by file name), or the built-in one.
fn load_profiles(
    main: &MainFile,
    config_dir: &Path,
    problems: &mut Vec<Problem>,
) -> Vec<LoadedProfile> {
    let (dir, explicit) = match &main.profiles_dir {
        Some((p, at)) => (resolve(config_dir, p), Some(at)),
        None => (config_dir.join("sip-profiles"), None),
    };
    if !dir.is_dir() {
        if let Some(at) = explicit {
            problems.push(Problem::new(
                at.clone(),
                format!(
                    "profiles_dir: directory \"{}\" does not exist; create it with a default.toml \
                     (see sip-profiles/README.md) or fix the path",
                    dir.display()
                ),
            ));
            return Vec::new();
        }
        let p = Profile::builtin_default();
        let at = Location::File(p.file.display().to_string());
        return vec![LoadedProfile {
            profile: p,
            name_at: at.clone(),
            listen_at: at,
        }];
    }
    let files = match profile_files(&dir) {
        Ok(files) => files,
        Err(e) => {
            problems.push(read_problem(&dir, "the profiles directory", &e));
            return Vec::new();
        }
    };
    if files.is_empty() {
        problems.push(Problem::new(
            Location::File(dir.display().to_string()),
            "no SIP profiles (*.toml) in this directory; add default.toml \
             (see sip-profiles/README.md)",
        ));
    }
    let mut out = Vec::new();
    for file in files {
        let text = match fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) => {
                problems.push(read_problem(&file, "the profile file", &e));
                continue;
            }
        };
        let src = Source {
            name: file.display().to_string(),
            text: &text,
        };
        if let Some(p) = parse_profile(&src, &file, problems) {
            out.push(p);
        }
    }
    out
}

/// `*.toml` files (not hidden) in `dir`: default.toml first, the rest by name.
fn profile_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let is_toml = path.extension().is_some_and(|e| e == "toml");
        if is_toml && !name.starts_with('.') && path.is_file() {
            files.push(path);
        }
    }
    files.sort_by_key(|p| (p.file_name().is_none_or(|n| n != "default.toml"), p.clone()));
    Ok(files)
}

/// Where a value came from, for messages about a clash with it.
fn origin(at: &Option<Location>) -> String {
    match at {
        Some(at) => format!("set at {at}"),
        None => "the default".to_string(),
    }
}

/// Whether two listen addresses would fight over one port.
fn overlaps(a: SocketAddr, b: SocketAddr) -> bool {
    a.port() == b.port()
        && a.is_ipv4() == b.is_ipv4()
        && (a.ip() == b.ip() || a.ip().is_unspecified() || b.ip().is_unspecified())
}

fn cross_check(
    loaded: &[LoadedProfile],
    http: &(SocketAddr, Option<Location>),
    rtp: &(PortRange, Option<Location>),
    problems: &mut Vec<Problem>,
) {
    for (i, l) in loaded.iter().enumerate() {
        let p = &l.profile;
        for earlier in &loaded[..i] {
            let e = &earlier.profile;
            if e.name == p.name {
                problems.push(Problem::new(
                    l.name_at.clone(),
                    format!(
                        "profile name \"{}\" is already used by {}; give each profile its own \
                         name (set name = \"...\" or rename the file)",
                        p.name, earlier.name_at
                    ),
                ));
            }
            if overlaps(e.listen, p.listen) {
                problems.push(Problem::new(
                    l.listen_at.clone(),
                    format!(
                        "listen: {} of profile \"{}\" clashes with {} of profile \"{}\" ({}); give \
                         each profile its own port or address",
                        p.listen, p.name, e.listen, e.name, earlier.listen_at
                    ),
                ));
            }
        }
        if p.transports.contains(&TransportKind::Udp) && rtp.0.contains(p.listen.port()) {
            problems.push(Problem::new(
                l.listen_at.clone(),
                format!(
                    "listen: SIP port {} of profile \"{}\" is inside rtp_ports {} ({}); move one of \
                     them, e.g. SIP on 5060 and RTP on 20000-29999",
                    p.listen.port(),
                    p.name,
                    rtp.0,
                    origin(&rtp.1)
                ),
            ));
        }
        if p.transports.contains(&TransportKind::Tcp) && overlaps(p.listen, http.0) {
            problems.push(Problem::new(
                l.listen_at.clone(),
                format!(
                    "listen: SIP TCP {} of profile \"{}\" clashes with http_listen {} ({}); give \
                     them different ports",
                    p.listen,
                    p.name,
                    http.0,
                    origin(&http.1)
                ),
            ));
        }
    }
}

#[cfg(test)]
#[path = "load_tests.rs"]
mod tests;
