//! Load benchmark of the WebRTC gateway with whole calls (issue 5): LEGS SIPp callers
//! (G.711, RTP both ways) are queued by a flow and answered by LEGS browser-like agents —
//! str0m clients signed in over HTTP and the agent WebSocket, like the softphone page —
//! so every call is trunk G.711 ↔ WebRTC G.711 (SRTP, no transcoding) through Hotline;
//! with CODEC=opus the agents offer Opus only, so every call is transcoded PCMA ↔ Opus.
//! Measures Hotline's CPU per bridged call in steady state (from /proc), and the WebRTC
//! setup time (offer to ICE+DTLS done, as the gateway reports it).
//!
//!   LEGS=200 cargo bench --bench webrtc_load
//!   LEGS=200 CODEC=opus cargo bench --bench webrtc_load
//!   LEGS=200 CODEC=opus OPUS_COMPLEXITY=0 cargo bench --bench webrtc_load
//!
//! Not a criterion bench: one long run, figures printed at the end.

// The test harness; its own unit tests are not built here.
#[allow(unused_imports)]
#[path = "../tests/common/mod.rs"]
mod common;

use common::agents::{AgentWs, add_agent_with_skills};
use common::webrtc_client::{Client, run_fleet};
use common::{Hotline, Opts, Sipp, TempDir, sipp_media_port};
use hotline::media::g711;
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, Mutex, mpsc};
use std::time::{Duration, Instant};
use str0m::format::Codec;

const NUMBER: &str = "4008009000";
const FLOW: &str = "flow: load\nlanguage: en\nstart: q\nnodes:\n  q:\n    enqueue: { queue: load, fallback: bye }\n  bye:\n    hangup: no agent\n";
const CALL_SECS: u64 = 60;

fn cpu_ticks(pid: u32) -> u64 {
    stat_ticks(&format!("/proc/{pid}/stat"))
}

/// utime + stime of a /proc stat file.
fn stat_ticks(path: &str) -> u64 {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    // Fields after the command name (which may hold spaces): utime is 14th, stime 15th.
    let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
}

/// CPU ticks of the gateway thread ("webrtc") and of the media workers ("media-N").
fn thread_ticks(pid: u32) -> (u64, u64) {
    let (mut gateway, mut media) = (0, 0);
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return (0, 0);
    };
    for task in dir.flatten() {
        let p = task.path();
        let comm = std::fs::read_to_string(p.join("comm")).unwrap_or_default();
        let ticks = stat_ticks(&p.join("stat").display().to_string());
        match comm.trim() {
            "webrtc" => gateway += ticks,
            c if c.starts_with("media-") => media += ticks,
            _ => {}
        }
    }
    (gateway, media)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn main() {
    let legs: usize = std::env::var("LEGS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let opus = std::env::var("CODEC").is_ok_and(|c| c.eq_ignore_ascii_case("opus"));
    let offer_codecs = if opus { Codec::Opus } else { Codec::PCMU };
    let flows = TempDir::new("flows");
    std::fs::write(flows.path().join("load.yaml"), FLOW).unwrap();
    let server = Hotline::start(Opts {
        flows_dir: Some(flows.path().to_path_buf()),
        rtp_timeout_secs: Some(0),
        record: Some(false),
        numbers_toml: format!("{NUMBER:?} = {{ flow = \"load\" }}\n"),
        tables_toml: "[[queues]]\nname = \"load\"\nring_timeout_s = 60\nannounce_every_s = 0\nwrap_up_s = 0\nmax_wait_s = 120\nmusic_on_hold = false\n".into(),
        rust_log: Some("warn".into()),
        opus_complexity: std::env::var("OPUS_COMPLEXITY")
            .ok()
            .and_then(|c| c.parse().ok()),
        ..Opts::default()
    });
    eprintln!("adding {legs} agents…");
    for i in 0..legs {
        add_agent_with_skills(&server, &format!("a{i}"), None, "lang:en=5");
    }
    let setups = Arc::new(Mutex::new(Vec::<f64>::new()));
    let signed_in = Arc::new(Barrier::new(legs + 1));
    let connected = Arc::new(Barrier::new(legs + 1));
    let hang_up = Arc::new(Barrier::new(legs + 1));
    // Connected clients join one fleet thread (see `run_fleet`): a load generator's shape,
    // and the gateway's loopback sends then wake no thread per leg.
    let (join, joined) = mpsc::channel::<Client>();
    let stop = Arc::new(AtomicBool::new(false));
    let fleet = {
        let stop = stop.clone();
        std::thread::spawn(move || run_fleet(joined, &stop, 1000.0))
    };
    let mut threads = Vec::new();
    let server = Arc::new(server);
    for i in 0..legs {
        let (server, setups) = (server.clone(), setups.clone());
        let (connected, hang_up, join) = (connected.clone(), hang_up.clone(), join.clone());
        let signed_in = signed_in.clone();
        threads.push(std::thread::spawn(move || {
            let mut agent = AgentWs::sign_in(&server, &format!("a{i}"));
            agent.go_available();
            signed_in.wait();
            let offer = agent.wait_for("offer", Duration::from_secs(120), |_| true);
            let call_id = offer["call_id"].as_str().unwrap_or_default().to_string();
            let (mut client, sdp) = Client::offer(&[offer_codecs]);
            client.decode = false;
            client.loop_opus = true;
            agent.send(json!({"type": "answer", "call_id": call_id, "sdp": sdp}));
            let answer = agent.wait_for("webrtc_answer", Duration::from_secs(10), |_| true);
            client.accept_answer(answer["sdp"].as_str().unwrap_or_default());
            // ICE and DTLS on this thread (exact timers, as a browser's), then the fleet.
            let deadline = Instant::now() + Duration::from_secs(10);
            while client.connected.is_none() && Instant::now() < deadline {
                client.run(Duration::from_millis(100), 1000.0);
            }
            let _ = join.send(client);
            let media = agent.wait_for("media", Duration::from_secs(10), |v| {
                v["state"] == "connected"
            });
            if let Some(ms) = media["setup_ms"].as_f64() {
                setups.lock().unwrap().push(ms);
            }
            connected.wait();
            // The agent stays signed in until the calls have ended.
            hang_up.wait();
        }));
    }
    drop(join);
    // Every agent available before the first call: the calls then connect within seconds
    // of each other and last well past the measurement.
    signed_in.wait();
    // The callers: LEGS calls at 50 per second, each CALL_SECS long, PCMA both ways. SIPp's
    // rtp_stream (not play_pcap_audio, whose raw sockets make every loopback send dearer:
    // BENCHMARKS.md §8) plays A-law files made here: the media_load caller scenario.
    let dir = TempDir::new("sipp");
    let tone: Vec<i16> = (0..8000 * 20)
        .map(|n| (6000.0 * (2.0 * std::f64::consts::PI * 440.0 * n as f64 / 8000.0).sin()) as i16)
        .collect();
    let mut alaw = vec![0u8; tone.len()];
    g711::encode(hotline::sdp::Codec::Pcma, &tone, &mut alaw);
    for f in ["lead.alaw", "caller.alaw"] {
        std::fs::write(dir.path().join(f), &alaw).unwrap();
    }
    let scenario =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/media_load/uac_rtp.xml");
    let (target, mp) = (server.sip.to_string(), sipp_media_port());
    let (n, d) = (legs.to_string(), ((CALL_SECS - 14) * 1000).to_string());
    let sipp = Sipp::spawn(
        dir,
        &[
            "-sf",
            &scenario.display().to_string(),
            &target,
            "-s",
            NUMBER,
            "-m",
            &n,
            "-l",
            &n,
            "-r",
            "50",
            "-mp",
            &mp,
            "-d",
            &d,
            "-timeout",
            &format!("{}s", CALL_SECS + 60),
        ],
    );
    connected.wait();
    eprintln!("all {legs} calls bridged to WebRTC; measuring 20 s…");
    let pid = server.pid();
    let hz = 100.0; // USER_HZ on Linux
    let (t0, c0, (g0, m0)) = (Instant::now(), cpu_ticks(pid), thread_ticks(pid));
    std::thread::sleep(Duration::from_secs(20));
    let (t1, c1, (g1, m1)) = (Instant::now(), cpu_ticks(pid), thread_ticks(pid));
    let pct = |ticks: u64| ticks as f64 / hz / (t1 - t0).as_secs_f64() * 100.0;
    let cpu_pct = pct(c1 - c0);
    let (gateway_pct, media_pct) = (pct(g1 - g0), pct(m1 - m0));
    let run = sipp.finish(Duration::from_secs(CALL_SECS + 60));
    stop.store(true, Ordering::Relaxed);
    let received: Vec<u64> = fleet
        .join()
        .map(|clients| clients.iter().map(|c| c.packets_in).collect())
        .unwrap_or_default();
    hang_up.wait();
    for t in threads {
        let _ = t.join();
    }
    let mut s = setups.lock().unwrap().clone();
    let p95 = {
        let mut v = s.clone();
        v.sort_by(f64::total_cmp);
        v.get(v.len() * 95 / 100).copied().unwrap_or(f64::NAN)
    };
    if opus {
        println!("webrtc_load: {legs} bridged calls (SIP PCMA ↔ WebRTC Opus/SRTP, transcoded)");
    } else {
        println!("webrtc_load: {legs} bridged calls (SIP G.711 ↔ WebRTC G.711/SRTP)");
    }
    println!(
        "  Hotline CPU          {cpu_pct:.1} % of a core = {:.3} % per call",
        cpu_pct / legs as f64
    );
    println!(
        "    of which the WebRTC gateway thread {gateway_pct:.1} % ({:.3} % per call), media workers {media_pct:.1} % ({:.3} % per call)",
        gateway_pct / legs as f64,
        media_pct / legs as f64
    );
    println!(
        "  WebRTC setup (offer → DTLS done)  median {:.1} ms, p95 {p95:.1} ms over {} legs",
        median(&mut s),
        s.len()
    );
    println!(
        "  browser legs that got audio: {} of {legs} (min {} packets)",
        received.iter().filter(|p| **p > 1000).count(),
        received.iter().min().copied().unwrap_or(0)
    );
    println!(
        "  SIPp: exit {:?}, successful {:?}, failed {:?}",
        run.code,
        run.stat("SuccessfulCall(C)"),
        run.stat("FailedCall(C)")
    );
    if run.code != Some(0) {
        println!("  SIPp report:\n{}", run.report());
    }
    let warnings = server.log_lines(&[" WARN ", " ERROR "]);
    if !warnings.is_empty() {
        println!("  Hotline warnings (last 40):\n{warnings}");
    }
}
