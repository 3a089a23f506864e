//! Configuration: `hotline.toml` (node, listen addresses, ports, directories, database,
//! `[media]`, `[numbers]`) and `sip-profiles/*.toml` (one SIP profile each). [`load`] reads both, applies the command
//! line, checks everything and returns a [`Config`] or a [`ConfigError`] whose every line
//! names `file:line:col`, the key, and what to write instead.

mod error;
mod file;
mod load;
mod media;
mod numbers;
mod numbers_file;
mod ports;
mod profile;
mod profile_file;
mod summary;
mod values;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

pub use error::{ConfigError, Location, Problem};
pub use load::load;
pub use media::{MAX_MEDIA_SECS, MAX_MEDIA_WORKERS, MediaSettings};
pub use numbers::{APP_NAMES, DEFAULT_APP, ECHO_TEST_NUMBER, NumberPlan, NumberRoute};
pub use ports::{PortRange, PortRangeError};
pub use profile::{
    DEFAULT_SIP_LISTEN, Profile, RateLimit, RegistrarSettings, SUPPORTED_CODECS, SipTimers,
    SipUser, SourceClass, TransportKind, Trunk,
};
pub use values::{parse_database, parse_listen, redact_url};

/// The default HTTP listen address.
pub const DEFAULT_HTTP_LISTEN: SocketAddr =
    SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 8080);
/// The default WebRTC (UDP) address: the HTTP port number, over UDP, so one firewall rule
/// names both.
pub const DEFAULT_WEBRTC_LISTEN: SocketAddr =
    SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 8080);
/// The default node id, written into CDRs.
pub const DEFAULT_NODE_ID: &str = "hotline-1";
/// What [`Config::source`] holds when no hotline.toml was read.
pub const DEFAULTS_SOURCE: &str = "<defaults>";

/// Everything the server needs to start, checked.
#[derive(Clone, PartialEq, Eq)]
pub struct Config {
    /// This node's name; goes into CDRs so records from several nodes can be told apart.
    pub node_id: String,
    pub http_listen: SocketAddr,
    /// UDP address of the WebRTC gateway (agents' browser softphones).
    pub webrtc_listen: SocketAddr,
    pub rtp_ports: PortRange,
    pub data_dir: PathBuf,
    pub recordings_dir: PathBuf,
    /// WAV prompts the apps play (made by `scripts/make-prompts.sh`).
    pub prompts_dir: PathBuf,
    /// IVR flow files (`*.yaml`), watched for edits.
    pub flows_dir: PathBuf,
    /// phone.dat (callers' regions for dialect routing; scripts/fetch-phone-dat.sh).
    pub region_db: PathBuf,
    /// `sqlite://PATH` (path resolved) or `postgres://…`; `None` = the SQLite file in
    /// `data_dir`. May hold a password: show it through [`redact_url`].
    pub database: Option<String>,
    pub media: MediaSettings,
    pub numbers: NumberPlan,
    /// ACD queues (`[[queues]]`).
    pub queues: Vec<crate::acd::QueueConfig>,
    /// At least one; the first is the default profile (`--sip-listen` applies to it).
    pub profiles: Vec<Profile>,
    /// The hotline.toml it came from, or `<defaults>`.
    pub source: PathBuf,
}

impl Config {
    /// The default profile: the first one.
    pub fn default_profile(&self) -> &Profile {
        // `load` and `Default` never build a Config without profiles.
        &self.profiles[0]
    }

    /// The profile with this name.
    pub fn profile(&self, name: &str) -> Option<&Profile> {
        self.profiles.iter().find(|p| p.name == name)
    }

    /// Whether to record a call to `dialled` arriving on `profile`: the number's `record`,
    /// else the profile's, else `[media] record`.
    pub fn record_for(&self, profile: &Profile, dialled: &str) -> bool {
        let (_, by_number) = self.numbers.route(dialled);
        by_number.or(profile.record).unwrap_or(self.media.record)
    }
}

// The database URL may carry a password: Debug shows it redacted, like profile secrets.
impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("node_id", &self.node_id)
            .field("http_listen", &self.http_listen)
            .field("webrtc_listen", &self.webrtc_listen)
            .field("rtp_ports", &self.rtp_ports)
            .field("data_dir", &self.data_dir)
            .field("recordings_dir", &self.recordings_dir)
            .field("prompts_dir", &self.prompts_dir)
            .field("flows_dir", &self.flows_dir)
            .field("region_db", &self.region_db)
            .field("database", &self.database.as_deref().map(redact_url))
            .field("media", &self.media)
            .field("numbers", &self.numbers)
            .field("profiles", &self.profiles)
            .field("source", &self.source)
            .finish()
    }
}

/// Built-in defaults with the built-in default profile: what `hotline serve` uses with no
/// hotline.toml and no sip-profiles/ directory.
impl Default for Config {
    fn default() -> Self {
        Config {
            node_id: DEFAULT_NODE_ID.to_string(),
            http_listen: DEFAULT_HTTP_LISTEN,
            webrtc_listen: DEFAULT_WEBRTC_LISTEN,
            rtp_ports: PortRange::DEFAULT,
            data_dir: PathBuf::from("var"),
            recordings_dir: PathBuf::from("recordings"),
            prompts_dir: PathBuf::from("prompts"),
            flows_dir: PathBuf::from("ivr-flows"),
            region_db: PathBuf::from("data/phone.dat"),
            database: None,
            media: MediaSettings::default(),
            numbers: NumberPlan::default(),
            queues: Vec::new(),
            profiles: vec![Profile::builtin_default()],
            source: PathBuf::from(DEFAULTS_SOURCE),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_for_prefers_number_then_profile_then_media() {
        let mut c = Config::default();
        c.numbers.routes.push(NumberRoute {
            number: "4008001234".into(),
            app: "welcome".into(),
            record: Some(false),
            ..NumberRoute::default()
        });
        c.numbers.routes.push(NumberRoute {
            number: "400800*".into(),
            app: "welcome".into(),
            record: Some(true),
            ..NumberRoute::default()
        });
        let mut p = Profile::builtin_default();
        // Nothing set: [media] decides.
        assert!(c.record_for(&p, "9196"));
        c.media.record = false;
        assert!(!c.record_for(&p, "9196"));
        // The profile overrides [media]...
        p.record = Some(true);
        assert!(c.record_for(&p, "9196"));
        // ...and the number overrides the profile, either way.
        assert!(!c.record_for(&p, "4008001234"));
        p.record = Some(false);
        assert!(c.record_for(&p, "4008009999"));
    }

    #[test]
    fn debug_hides_the_database_password() {
        let c = Config {
            database: Some("postgres://hotline:s3cret-pw@db/cdr".into()),
            ..Config::default()
        };
        let d = format!("{c:?}");
        assert!(!d.contains("s3cret-pw"), "{d}");
        assert!(d.contains("postgres://hotline:****@db/cdr"), "{d}");
    }
}
