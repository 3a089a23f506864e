//! The command line (clap derive): `hotline serve` and `hotline config check`. main.rs parses
//! [`Cli`] and dispatches on [`Command`]; later subcommands (`calls`, `flow`) join the enum.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::{self, ConfigError, PortRange};

/// Hotline: a call-center softswitch. SIP trunks bring calls in; IVR, ACD and WebRTC agents
/// handle them.
#[derive(Debug, Parser)]
#[command(name = "hotline", version, propagate_version = true)]
pub struct Cli {
    /// Log filter: a level (error, warn, info, debug, trace) or per-module directives;
    /// default info (or RUST_LOG when set); example: --log-level hotline::sip=debug,info
    #[arg(long, global = true, value_name = "FILTER")]
    pub log_level: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the softswitch: SIP (UDP and TCP), the HTTP API and media, as configured by
    /// hotline.toml and sip-profiles/; flags override the file.
    Serve(ServeArgs),
    /// Inspect the configuration without starting anything.
    #[command(subcommand)]
    Config(ConfigCmd),
    /// Read the call detail records (CDRs) this node or cluster has written.
    #[command(subcommand)]
    Calls(CallsCmd),
    /// Check IVR flow files (ivr-flows/*.yaml) and try them in the terminal.
    #[command(subcommand)]
    Flow(crate::ivr::cli::FlowCmd),
    /// Manage the agents who take calls (passwords from stdin, stored as Argon2id hashes).
    #[command(subcommand)]
    Agents(crate::store::agents_cli::AgentsCmd),
}

#[derive(Debug, Subcommand)]
pub enum CallsCmd {
    /// List calls, newest first: a table for people, or one JSON object per line (--json).
    List(crate::store::cli::CallsListArgs),
}

#[derive(Debug, Subcommand)]
pub enum ConfigCmd {
    /// Load hotline.toml and every SIP profile as `serve` would (same flags), then print a
    /// summary, or print every error with file:line:col and exit with status 1.
    Check(ServeArgs),
}

/// Where the configuration comes from, and overrides for its most-changed values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
pub struct ServeArgs {
    /// Main configuration file; default ./hotline.toml if it exists, else built-in defaults
    /// (SIP profiles are read from sip-profiles/ next to it); example: --config
    /// /etc/hotline/hotline.toml
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// SIP address (UDP and TCP) of the first SIP profile, overriding sip_listen and the
    /// profile's listen; default 0.0.0.0:5060; example: --sip-listen 10.0.0.5:5070
    #[arg(long, value_name = "ADDR:PORT", value_parser = sip_listen)]
    pub sip_listen: Option<SocketAddr>,

    /// HTTP address for the API, web pages and agent softphones, overriding http_listen;
    /// default 0.0.0.0:8080; example: --http-listen 127.0.0.1:8081
    #[arg(long, value_name = "ADDR:PORT", value_parser = http_listen)]
    pub http_listen: Option<SocketAddr>,

    /// UDP port range for RTP media, two ports per call leg, overriding rtp_ports; default
    /// 20000-29999; example: --rtp-ports 40000-40999
    #[arg(long, value_name = "LO-HI")]
    pub rtp_ports: Option<PortRange>,

    /// Directory for the database and other state, overriding data_dir; default ./var (next
    /// to the config file); example: --data-dir /var/lib/hotline
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Directory for call recordings, overriding recordings_dir; default ./recordings (next
    /// to the config file); example: --recordings /srv/recordings
    #[arg(long, value_name = "DIR")]
    pub recordings: Option<PathBuf>,

    /// Database for CDRs and state, overriding database: sqlite://PATH or
    /// postgres://USER:PASSWORD@HOST/DB (prefer the environment variable for a password);
    /// default the SQLite file in the data directory; example: --database
    /// sqlite:///var/lib/hotline/hotline.db
    // Checked by config::load, not clap: clap would echo a bad URL with its password.
    #[arg(long, value_name = "URL", env = "HOTLINE_DATABASE_URL")]
    pub database: Option<String>,
}

fn sip_listen(s: &str) -> Result<SocketAddr, String> {
    config::parse_listen(s, 5060)
}

fn http_listen(s: &str) -> Result<SocketAddr, String> {
    config::parse_listen(s, 8080)
}

/// `hotline config check`: the summary to print on success; on error, print the error
/// (one problem per line) to stderr and exit 1.
pub fn config_check(args: &ServeArgs) -> Result<String, ConfigError> {
    config::load(args).map(|c| c.summary())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("hotline").chain(args.iter().copied()))
    }

    fn serve(args: &[&str]) -> ServeArgs {
        match parse(args).expect("valid command line").command {
            Command::Serve(a) => a,
            other => panic!("expected serve, got {other:?}"),
        }
    }

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn serve_without_flags_overrides_nothing() {
        assert_eq!(serve(&["serve"]), ServeArgs::default());
    }

    #[test]
    fn serve_reads_every_flag() {
        let a = serve(&[
            "serve",
            "--config",
            "/etc/hotline/hotline.toml",
            "--sip-listen",
            "10.0.0.5:5070",
            "--http-listen",
            "[::1]:8081",
            "--rtp-ports",
            "40000-40999",
            "--data-dir",
            "/var/lib/hotline",
            "--recordings",
            "/srv/rec",
            "--database",
            "sqlite:state/h.db",
        ]);
        assert_eq!(a.config, Some(PathBuf::from("/etc/hotline/hotline.toml")));
        assert_eq!(a.sip_listen, Some("10.0.0.5:5070".parse().unwrap()));
        assert_eq!(a.http_listen, Some("[::1]:8081".parse().unwrap()));
        assert_eq!(
            a.rtp_ports,
            Some(PortRange {
                lo: 40000,
                hi: 40999
            })
        );
        assert_eq!(a.data_dir, Some(PathBuf::from("/var/lib/hotline")));
        assert_eq!(a.recordings, Some(PathBuf::from("/srv/rec")));
        // As given: config::load checks it and resolves the path.
        assert_eq!(a.database.as_deref(), Some("sqlite:state/h.db"));
    }

    #[test]
    fn bad_rtp_ports_explains_the_syntax() {
        let e = parse(&["serve", "--rtp-ports", "20000"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("expected LO-HI such as 20000-29999"), "{e}");
        assert!(e.contains("--rtp-ports"), "{e}");
    }

    #[test]
    fn bad_listen_explains_the_syntax() {
        let e = parse(&["serve", "--sip-listen", "localhost"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("expected IP:PORT such as 0.0.0.0:5060"), "{e}");
        let e = parse(&["serve", "--http-listen", "0.0.0.0:0"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("give a fixed port such as 0.0.0.0:8080"), "{e}");
    }

    #[test]
    fn config_check_takes_the_serve_flags() {
        let cli = parse(&["--log-level", "debug", "config", "check", "-c", "x.toml"]).unwrap();
        assert_eq!(cli.log_level.as_deref(), Some("debug"));
        match cli.command {
            Command::Config(ConfigCmd::Check(a)) => {
                assert_eq!(a.config, Some(PathBuf::from("x.toml")))
            }
            other => panic!("expected config check, got {other:?}"),
        }
    }

    #[test]
    fn a_subcommand_is_required() {
        assert!(parse(&[]).is_err());
        assert!(parse(&["config"]).is_err());
    }

    #[test]
    fn help_explains_each_flag_with_default_and_example() {
        let mut cmd = Cli::command();
        let serve = cmd.find_subcommand_mut("serve").expect("serve exists");
        let help = serve.render_long_help().to_string();
        for needle in [
            "--config <FILE>",
            "default ./hotline.toml",
            "--sip-listen <ADDR:PORT>",
            "default 0.0.0.0:5060",
            "--http-listen <ADDR:PORT>",
            "default 0.0.0.0:8080",
            "--rtp-ports <LO-HI>",
            "default 20000-29999",
            "--data-dir <DIR>",
            "default ./var",
            "--recordings <DIR>",
            "default ./recordings",
            "--database <URL>",
            "HOTLINE_DATABASE_URL",
            "example: --rtp-ports 40000-40999",
        ] {
            assert!(
                help.contains(needle),
                "serve --help lacks {needle:?}:\n{help}"
            );
        }
        let top = Cli::command().render_long_help().to_string();
        assert!(top.contains("serve") && top.contains("config"), "{top}");
    }
}
