//! `hotline`: the command line. Wiring only; every piece lives in the library.

use anyhow::Context;
use clap::Parser;
use hotline::api::{self, ApiState, ProfileStats};
use hotline::call::CallManager;
use hotline::call::apps::Prompts;
use hotline::call::ivr_setup;
use hotline::cli::{CallsCmd, Cli, Command, ConfigCmd, ServeArgs};
use hotline::config::{self, Config, TransportKind};
use hotline::media::ports::RtpPorts;
use hotline::media::worker::{MediaConfig, MediaPool};
use hotline::sip::endpoint::{Endpoint, EndpointStats};
use hotline::sip::transport::EndpointCommand;
use hotline::sip::transport::{self, DriverConfig};
use hotline::store::{self, Store, WriterConfig};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::sync::watch;
use tracing::{error, info, warn};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = match &cli.log_level {
        Some(level) => tracing_subscriber::EnvFilter::new(level),
        None => tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Serve(args) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")
            .and_then(|rt| rt.block_on(serve(args))),
        Command::Config(cmd) => config_cmd(cmd),
        Command::Calls(CallsCmd::List(args)) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")
            .and_then(|rt| rt.block_on(hotline::store::cli::calls_list(args))),
        Command::Flow(cmd) => hotline::ivr::cli::run(cmd),
        Command::Agents(cmd) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")
            .and_then(|rt| rt.block_on(hotline::store::agents_cli::main(cmd))),
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
    let cfg = Arc::new(cfg);

    // CDRs: open the store, close out calls a crash left open, then start the writer.
    let store = Arc::new(
        Store::open(&Store::configured_location(&cfg))
            .await
            .context("cannot open the CDR store (check `database` in hotline.toml)")?,
    );
    let interrupted = store
        .mark_interrupted(&cfg.node_id)
        .await
        .context("cannot mark calls interrupted by the last stop")?;
    if interrupted > 0 {
        warn!(
            calls = interrupted,
            "calls left open by the last stop are marked interrupted"
        );
    }
    let recordings_dir = cfg.recordings_dir.clone();
    tokio::task::spawn_blocking(move || repair_recordings(&recordings_dir));
    let (cdr_tx, cdr_rx) = mpsc::channel(65_536);
    let mut writer_cfg = WriterConfig::new(cfg.node_id.clone());
    // A CDR is retried for hours rather than dropped while the database is away.
    writer_cfg.attempts = 10_000;
    let writer = tokio::spawn(store::writer::run(store.clone(), cdr_rx, writer_cfg));

    // Media workers.
    let (media_tx, media_rx) = mpsc::unbounded_channel();
    let media_cfg = MediaConfig {
        recordings_dir: cfg.recordings_dir.clone(),
        rtp_timeout: Duration::from_secs(cfg.media.rtp_timeout_secs),
        prompts: Arc::new(Prompts::load(&cfg.prompts_dir)),
    };
    let media = Arc::new(
        MediaPool::start(cfg.media.workers, media_cfg, media_tx)
            .context("cannot start the media workers")?,
    );
    let flows_dir = cfg.flows_dir.clone();
    let (flows, ivr) = {
        let (media, data_dir) = (media.clone(), cfg.data_dir.clone());
        tokio::task::spawn_blocking(move || ivr_setup::setup(media, &flows_dir, &data_dir))
            .await
            .context("IVR set-up failed")?
    };

    // SIP: one driver per profile; their events are tagged with the profile's index.
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let (sip_tx, sip_rx) = mpsc::unbounded_channel();
    let mut drivers = Vec::new();
    let mut commands = Vec::new();
    let mut profile_stats = Vec::new();
    let ranges = split_ports(cfg.rtp_ports.lo, cfg.rtp_ports.hi, cfg.profiles.len());
    for (index, (profile, (lo, hi))) in cfg.profiles.iter().cloned().zip(ranges).enumerate() {
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
        let (ev_tx, mut ev_rx) = mpsc::unbounded_channel();
        let tagged = sip_tx.clone();
        tokio::spawn(async move {
            while let Some(ev) = ev_rx.recv().await {
                if tagged.send((index, ev)).is_err() {
                    break;
                }
            }
        });
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        commands.push(cmd_tx);
        let links = transport::DriverLinks {
            events: ev_tx,
            commands: cmd_rx,
        };
        let endpoint = Endpoint::new(profile, ports, rand::random());
        let run = transport::bind(driver_cfg, endpoint, stats_tx, shutdown_rx.clone(), links)
            .await
            .context("cannot start SIP (is another server on that port? use --sip-listen)")?;
        drivers.push(tokio::spawn(run));
    }
    drop(sip_tx);
    // Queues and agents: the engine runs on the call manager's task; softphones reach it
    // through the agent hub (WebSocket), and sign in against the store.
    let (agent_tx, agent_rx) = tokio::sync::mpsc::unbounded_channel();
    let hub = Arc::new(api::agent_ws::AgentHub::new(agent_tx));
    let agent_auth = api::agent_auth::AgentAuth::new(store.clone());
    let moh_path = cfg.prompts_dir.join("moh.wav");
    let moh = match hotline::media::resample::load_prompt(&moh_path) {
        Ok(p) => Some(p),
        Err(e) => {
            warn!(error = %e, "no music on hold: queued callers hear silence; run scripts/make-prompts.sh");
            None
        }
    };
    // Browser agents' audio: browsers reach the gateway at the default SIP profile's public
    // address when it has one, else at the bound address.
    let advertise = cfg
        .default_profile()
        .external_addr
        .or(cfg.default_profile().media_addr);
    let (gateway, gateway_events) =
        hotline::webrtc::start(cfg.webrtc_listen, advertise, cfg.media.opus_complexity)
            .with_context(|| {
                format!(
                    "cannot start WebRTC on udp {} (set webrtc_listen in hotline.toml)",
                    cfg.webrtc_listen
                )
            })?;
    if advertise.is_none() && cfg.webrtc_listen.ip().is_unspecified() {
        warn!(
            "WebRTC answers with 127.0.0.1: browsers on other machines cannot reach it; set external_addr in the default SIP profile"
        );
    }
    let region = match hotline::region::RegionDb::load(&cfg.region_db) {
        Ok(db) => {
            info!(
                version = db.version(),
                prefixes = db.prefixes(),
                "caller regions loaded"
            );
            Some(Arc::new(db))
        }
        Err(e) => {
            warn!(error = %e, "callers' regions are unknown: no dialect routing");
            None
        }
    };
    let (mut acd_rt, queue_stats) = hotline::call::queueing::AcdRuntime::new(
        hotline::acd::Acd::new(cfg.queues.clone()),
        Some(hub.clone()),
        Some(store.clone()),
        moh,
        Some(gateway),
        region,
    );
    acd_rt.restore().await;
    acd_rt.restore_stats().await;
    let tts = ivr.as_ref().map(|d| d.tts.clone());
    let manager = CallManager::new(cfg.clone(), media, ivr, commands.clone(), cdr_tx).with_acd(
        acd_rt,
        agent_rx,
        gateway_events,
    );
    let manager = tokio::spawn(manager.run(sip_rx, media_rx));

    let state = Arc::new(ApiState {
        node_id: cfg.node_id.clone(),
        version: env!("CARGO_PKG_VERSION"),
        profiles: profile_stats,
    });
    let stats_view: Vec<_> = state.profiles.iter().map(|p| p.stats.clone()).collect();
    let http = tokio::net::TcpListener::bind(cfg.http_listen)
        .await
        .with_context(|| format!("cannot bind HTTP {} (use --http-listen)", cfg.http_listen))?;
    info!(http = %cfg.http_listen, node = %cfg.node_id, "Hotline is up");
    let mut http_shutdown = shutdown_rx.clone();
    let http_task = tokio::spawn(async move {
        let app = api::router(state)
            .merge(api::agent_auth::router(agent_auth.clone()))
            .merge(api::agent_ws::router(agent_auth, hub))
            .merge(api::queues::router(queue_stats))
            .merge(api::agent_page::router())
            .merge(api::tts::router(tts))
            .merge(api::calls::router(store))
            .merge(api::flows::router(flows));
        let stop = async move {
            let _ = http_shutdown.wait_for(|s| *s).await;
        };
        if let Err(e) = axum::serve(http, app).with_graceful_shutdown(stop).await {
            error!(error = %e, "HTTP server failed");
        }
    });

    wait_for_signal().await;
    // Graceful stop: refuse new calls (503, a dispatcher fails them over), let calls in
    // progress finish within the grace period, then hang up the rest.
    let grace = Duration::from_secs(cfg.media.shutdown_grace_secs);
    info!(
        grace_secs = grace.as_secs(),
        "draining: new calls get 503; waiting for calls to end"
    );
    // Wait for each driver to republish its counters after draining, so a call answered a
    // moment ago is counted (the counters are otherwise up to 200 ms old).
    let mut fresh = stats_view.clone();
    for v in &mut fresh {
        v.mark_unchanged();
    }
    for c in &commands {
        let _ = c.send(EndpointCommand::Drain);
    }
    for v in &mut fresh {
        let _ = tokio::time::timeout(Duration::from_secs(1), v.changed()).await;
    }
    let active = || {
        stats_view
            .iter()
            .map(|s| s.borrow().active_calls)
            .sum::<usize>()
    };
    let until = tokio::time::Instant::now() + grace;
    tokio::select! {
        _ = async {
            while active() > 0 && tokio::time::Instant::now() < until {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        } => {}
        _ = wait_for_signal() => info!("second signal: hanging up at once"),
    }
    info!(active = active(), "shutting down: hanging up what is left");
    let _ = shutdown_tx.send(true);
    for d in drivers {
        let _ = tokio::time::timeout(Duration::from_secs(5), d).await;
    }
    if let Ok(Ok(open)) = tokio::time::timeout(Duration::from_secs(10), manager).await
        && open > 0
    {
        warn!(
            calls = open,
            "calls whose media did not report in time: their CDRs stay open"
        );
    }
    let _ = tokio::time::timeout(Duration::from_secs(10), writer).await;
    let _ = tokio::time::timeout(Duration::from_secs(2), http_task).await;
    info!("stopped");
    Ok(())
}

/// After a crash, recordings may have headers that lag their data; fix every one so each
/// file is a playable WAV (cheap: header and size only).
fn repair_recordings(dir: &std::path::Path) {
    let mut stack = vec![dir.to_path_buf()];
    let mut fixed = 0usize;
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|x| x == "wav") {
                match hotline::media::recorder::repair(&path) {
                    Ok(true) => fixed += 1,
                    Ok(false) => {}
                    Err(err) => {
                        warn!(path = %path.display(), error = %err, "recording cannot be repaired")
                    }
                }
            }
        }
    }
    if fixed > 0 {
        info!(fixed, "recordings repaired after an unclean stop");
    }
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
