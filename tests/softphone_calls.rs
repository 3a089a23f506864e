//! The browser softphone end to end (issue 5): Playwright drives Debian's Chromium on
//! Hotline's own `/agent` page (tests/softphone/agent_call.mjs). The agent signs in, goes
//! available; a SIPp caller runs a flow to `enqueue`; the page rings, the agent answers
//! and WebRTC audio flows both ways through Hotline's gateway (the browser's getStats shows
//! packets and level; the caller's recording holds the browser's fake microphone); hold and
//! resume; the caller hangs up; wrap-up; available again. Screenshots of every step are
//! kept under target/softphone-shots/.
//! SIPp plays pcaps through a raw socket, so these tests need root (as here and in CI).

mod common;

use common::softphone::{require_browser, softphone_dir};

use common::agents::add_agent;
use common::audio::{PcapWriter, align, closed_wav, envelope, read_wav, ulaw_encode};
use common::baresip::speech_wav;
use common::{
    Hotline, Opts, TempDir, assert_sipp_succeeded, scenario, sipp_dir_with_pcaps, sipp_in,
    sipp_media_port, text,
};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const NUMBER: &str = "4008009000";

const FLOW: &str = r#"flow: queue-test
language: en
start: hello
nodes:
  hello:
    say: "Please hold for an agent."
    next: q
  q:
    enqueue: { queue: support, fallback: sorry }
  sorry:
    say: "Sorry, nobody can take your call."
    next: bye
  bye:
    hangup: no agent
"#;

fn caller(server: &Hotline, secs: f64) {
    let dir = sipp_dir_with_pcaps();
    let mut pcap = PcapWriter::new(0x50f7_0001);
    let tone: Vec<i16> = (0..(secs * 8000.0) as usize)
        .map(|n| (6000.0 * (2.0 * std::f64::consts::PI * 440.0 * n as f64 / 8000.0).sin()) as i16)
        .collect();
    pcap.audio(0, &tone, ulaw_encode);
    pcap.write(&dir.path().join("pcap/ivr_caller.pcap"));
    let (target, mp, d) = (
        server.sip.to_string(),
        sipp_media_port(),
        ((secs * 1000.0) as u64).to_string(),
    );
    let run = sipp_in(
        dir,
        &[
            "-sf",
            &scenario("ivr_caller.xml"),
            &target,
            "-s",
            NUMBER,
            "-m",
            "1",
            "-mp",
            &mp,
            "-d",
            &d,
        ],
    );
    assert_sipp_succeeded(&run, 1);
}

/// The UTC time (ms since the epoch) of the first log line containing `needle`.
fn log_time_ms(server: &Hotline, needle: &str) -> Option<i64> {
    let line = server
        .log_text()
        .lines()
        .find(|l| l.contains(needle))?
        .to_string();
    let stamp = line.split_whitespace().next()?;
    let stamp = stamp
        .trim_start_matches("\u{1b}[2m")
        .trim_end_matches("\u{1b}[0m");
    chrono::DateTime::parse_from_rfc3339(stamp)
        .ok()
        .map(|t| t.timestamp_millis())
}

#[test]
fn an_agent_takes_a_queued_call_in_the_browser_and_audio_flows_both_ways() {
    require_browser();
    let flows = TempDir::new("flows");
    std::fs::write(flows.path().join("queue-test.yaml"), FLOW).unwrap();
    let prompts = TempDir::new("prompts");
    let mut server = Hotline::start(Opts {
        flows_dir: Some(flows.path().to_path_buf()),
        rtp_timeout_secs: Some(0),
        numbers_toml: format!("{NUMBER:?} = {{ flow = \"queue-test\" }}\n"),
        tables_toml: "[[queues]]\nname = \"support\"\nring_timeout_s = 15\nannounce_every_s = 0\n\
                      wrap_up_s = 120\n"
            .into(),
        prompts_dir: Some(common::make_prompts(prompts.path())),
        ..Opts::default()
    });
    add_agent(&server, "bob", None);
    let mic_dir = TempDir::new("browser-mic");
    let mic = speech_wav(
        mic_dir.path(),
        "Good morning, this is Bob at the help desk. I can see your order here. \
         It will be delivered tomorrow before noon.",
        20.0,
    );
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("../softphone-shots");
    let _ = std::fs::remove_dir_all(&shots);
    std::fs::create_dir_all(&shots).unwrap();

    let mut browser = Command::new("node")
        .arg(softphone_dir().join("agent_call.mjs"))
        .arg(format!("http://{}", server.http))
        .args(["default", "bob", "correct horse battery"])
        .arg(&mic)
        .arg(&shots)
        .current_dir(softphone_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run node tests/softphone/agent_call.mjs");
    let (tx, lines) = mpsc::channel::<String>();
    let out = browser.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut seen = Vec::new();
    let mut wait_line = |prefix: &str, wait: Duration| -> String {
        let deadline = Instant::now() + wait;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match lines.recv_timeout(left) {
                Ok(l) => {
                    seen.push(l.clone());
                    if l.starts_with(prefix) {
                        return l;
                    }
                }
                Err(_) => break,
            }
        }
        panic!(
            "the browser did not print {prefix} within {wait:?}; it printed {seen:?}; \
             screenshots in {}",
            shots.display()
        );
    };
    wait_line("READY", Duration::from_secs(60));

    // The caller talks for 16 s, then hangs up; the page answers meanwhile.
    caller(&server, 16.0);
    let result = wait_line("RESULT ", Duration::from_secs(60));
    let _ = browser.wait();
    let r: Value = serde_json::from_str(result.trim_start_matches("RESULT ")).unwrap();
    assert_eq!(
        r["ok"],
        true,
        "the browser's walk failed: {r}; screenshots in {}",
        shots.display()
    );

    // The page rang within a second of the caller entering the queue.
    let queued =
        log_time_ms(&server, "caller queued").expect("the log says when the caller was queued");
    let rang = r["ringing_at_ms"].as_i64().unwrap();
    let ring_ms = rang - queued;
    eprintln!("page rang {ring_ms} ms after the caller was queued");
    assert!(ring_ms < 1000, "the page rang {ring_ms} ms after enqueue");
    assert!(
        r["screen"]["path"].as_str().unwrap_or("").contains("hello"),
        "{r}"
    );

    // Audio reached the browser: packets and level (the caller's tone).
    let inbound = &r["inbound"];
    assert!(
        inbound["packetsReceived"].as_u64().unwrap_or(0) > 100,
        "{r}"
    );
    assert!(inbound["audioLevel"].as_f64().unwrap_or(0.0) > 0.05, "{r}");
    assert!(
        r["inbound_after_resume"]["packetsReceived"].as_u64() > inbound["packetsReceived"].as_u64(),
        "audio flows again after resume: {r}"
    );

    let cdr = server.wait_call("ended", Duration::from_secs(30), |c| {
        text(c, "state") == "ended"
    });
    let check = |ok: bool, what: &str| server.check_cdr(&cdr, ok, what);
    check(
        text(&cdr, "agent") == "bob",
        "the CDR names the browser agent",
    );
    check(
        text(&cdr, "ivr_path").contains("q(agent bob)"),
        "the path ends at the agent",
    );
    // The browser's microphone reached the caller: its words are in the recording.
    let wav = closed_wav(
        &PathBuf::from(text(&cdr, "recording")),
        Duration::from_secs(5),
    );
    let heard = envelope(&wav.channel(1), 160);
    let spoken = envelope(&read_wav(&mic).channel(0)[..4 * 8000], 160);
    let found = align(&spoken, &heard, heard.len());
    eprintln!("browser speech in the caller's audio: {found:?}");
    check(
        found.peak > 0.6 && found.peak > 2.0 * found.chance,
        &format!("the caller hears the agent's browser microphone ({found:?})"),
    );
    let steps = r["steps"].as_array().map_or(0, Vec::len);
    assert_eq!(steps, 8, "a screenshot per step: {r}");
    eprintln!("screenshots: {}", shots.display());
}
