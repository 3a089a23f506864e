//! Configuration: `hotline.toml` (node, listen addresses, ports, directories) and
//! `sip-profiles/*.toml` (one SIP profile each). [`load`] reads both, applies the command
//! line, checks everything and returns a [`Config`] or a [`ConfigError`] whose every line
//! names `file:line:col`, the key, and what to write instead.

mod error;
mod file;
mod load;
mod ports;
mod profile;
mod profile_file;
mod summary;
mod values;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

pub use error::{ConfigError, Location, Problem};
pub use load::load;
pub use ports::{PortRange, PortRangeError};
pub use profile::{
    DEFAULT_SIP_LISTEN, Profile, RateLimit, RegistrarSettings, SUPPORTED_CODECS, SipTimers,
    SipUser, SourceClass, TransportKind, Trunk,
};
pub use values::parse_listen;

/// The default HTTP listen address.
pub const DEFAULT_HTTP_LISTEN: SocketAddr =
    SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 8080);
/// The default node id, written into CDRs.
pub const DEFAULT_NODE_ID: &str = "hotline-1";
/// What [`Config::source`] holds when no hotline.toml was read.
pub const DEFAULTS_SOURCE: &str = "<defaults>";

/// Everything the server needs to start, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// This node's name; goes into CDRs so records from several nodes can be told apart.
    pub node_id: String,
    pub http_listen: SocketAddr,
    pub rtp_ports: PortRange,
    pub data_dir: PathBuf,
    pub recordings_dir: PathBuf,
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
}

/// Built-in defaults with the built-in default profile: what `hotline serve` uses with no
/// hotline.toml and no sip-profiles/ directory.
impl Default for Config {
    fn default() -> Self {
        Config {
            node_id: DEFAULT_NODE_ID.to_string(),
            http_listen: DEFAULT_HTTP_LISTEN,
            rtp_ports: PortRange::DEFAULT,
            data_dir: PathBuf::from("var"),
            recordings_dir: PathBuf::from("recordings"),
            profiles: vec![Profile::builtin_default()],
            source: PathBuf::from(DEFAULTS_SOURCE),
        }
    }
}
