//! `hotline`: the command line. Wiring only; every piece lives in the library.

use anyhow::Context;
use clap::Parser;
use hotline::api::{self, ApiState, ProfileStats};
use hotline::cli::{Cli, Command, ConfigCmd, ServeArgs};
use hotline::config::{self, Config, TransportKind};
use hotline::media::ports::RtpPorts;
use hotline::sip::endpoint::{Endpoint, EndpointStats};
use hotline::sip::transport::{self, DriverConfig};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tracing::{error, info};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = match &cli.log_level {
        Some(level) => tracing_subscriber::EnvFilter::new(level),
        None => tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Serve(args) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")
            .and_then(|rt| rt.block_on(serve(args))),
        Command::Config(cmd) => config_cmd(cmd),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hotline: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn config_cmd(cmd: ConfigCmd) -> anyhow::Result<()> {
    match cmd {
        ConfigCmd::Check(args) => {
            print!("{}", hotline::cli::config_check(&args)?);
            Ok(())
        }
    }
}

/// Splits the RTP range evenly between profiles (even port boundaries, RTCP = RTP + 1).
fn split_ports(lo: u16, hi: u16, parts: usize) -> Vec<(u16, u16)> {
    let parts = parts.max(1) as u32;
    let span = (hi as u32 - lo as u32 + 1) / parts;
    (0..parts)
        .map(|i| {
            let a = lo as u32 + i * span;
            let b = if i + 1 == parts {
                hi as u32
            } else {
                a + span - 1
            };
            (a as u16, b as u16)
        })
        .collect()
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let cfg: Config = config::load(&args)?;
    for dir in [&cfg.data_dir, &cfg.recordings_dir] {
        std::fs::create_dir_all(dir).with_context(|| {
            format!(
                "cannot create {} (check permissions or pass --data-dir/--recordings)",
                dir.display()
            )
        })?;
    }
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let mut drivers = Vec::new();
    let mut profile_stats = Vec::new();
    let ranges = split_ports(cfg.rtp_ports.lo, cfg.rtp_ports.hi, cfg.profiles.len());
    for (profile, (lo, hi)) in cfg.profiles.iter().cloned().zip(ranges) {
        let ports = RtpPorts::new(lo, hi).with_context(|| {
            format!(
                "RTP port range {lo}-{hi} for profile {} is unusable",
                profile.name
            )
        })?;
        let driver_cfg = DriverConfig {
            listen: profile.listen,
            udp: profile.transports.contains(&TransportKind::Udp),
            tcp: profile.transports.contains(&TransportKind::Tcp),
            tcp_idle_timeout: Duration::from_secs(profile.tcp_idle_timeout_secs),
        };
        let (stats_tx, stats_rx) = watch::channel(EndpointStats::default());
        profile_stats.push(ProfileStats {
            name: profile.name.clone(),
            listen: profile.listen.to_string(),
            stats: stats_rx,
        });
        let endpoint = Endpoint::new(profile, ports, rand::random());
        let (ev_tx, mut ev_rx) = tokio::sync::mpsc::unbounded_channel();
        let (_cmd_tx, cmd_rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move { while ev_rx.recv().await.is_some() {} });
        let links = transport::DriverLinks {
            events: ev_tx,
            commands: cmd_rx,
        };
        let run = transport::bind(driver_cfg, endpoint, stats_tx, shutdown_rx.clone(), links)
            .await
            .context("cannot start SIP (is another server on that port? use --sip-listen)")?;
        drivers.push(tokio::spawn(run));
    }
    let state = Arc::new(ApiState {
        node_id: cfg.node_id.clone(),
        version: env!("CARGO_PKG_VERSION"),
        profiles: profile_stats,
    });
    let http = tokio::net::TcpListener::bind(cfg.http_listen)
        .await
        .with_context(|| format!("cannot bind HTTP {} (use --http-listen)", cfg.http_listen))?;
    info!(http = %cfg.http_listen, node = %cfg.node_id, "Hotline is up");
    let mut http_shutdown = shutdown_rx.clone();
    let http_task = tokio::spawn(async move {
        let app = api::router(state);
        let stop = async move {
            let _ = http_shutdown.wait_for(|s| *s).await;
        };
        if let Err(e) = axum::serve(http, app).with_graceful_shutdown(stop).await {
            error!(error = %e, "HTTP server failed");
        }
    });
    wait_for_signal().await;
    info!("shutting down: hanging up calls");
    let _ = shutdown_tx.send(true);
    for d in drivers {
        let _ = tokio::time::timeout(Duration::from_secs(5), d).await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), http_task).await;
    Ok(())
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
