//! IVR flows on live calls (issue 4, "What to prove"): SIPp callers walk the shipped
//! `ecommerce-zh` flow — an order lookup whose webhook reaches a real HTTP order service with
//! the entered number, and an after-hours voicemail that holds the caller's audio — and an
//! edit of the flow file is picked up (or, when broken, reported) while the server runs.
//!
//! Business hours depend on the wall clock, so each test runs a copy of the shipped flow
//! whose schedule is rewritten: open all day, or today (Shanghai) added to the holidays.
//! SIPp plays pcaps through a raw socket, so these tests need root (as here and in CI).

mod common;

use common::audio::{PcapWriter, closed_wav, rms, ulaw_encode};
use common::orders::OrderService;
use common::{
    Hotline, Opts, TempDir, assert_sipp_succeeded, http_get, scenario, sipp_dir_with_pcaps,
    sipp_in, sipp_media_port, test_path, text,
};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const NUMBER: &str = "4008001234";
const CDR_WAIT: Duration = Duration::from_secs(30);

/// A copy of the shipped ecommerce-zh flow in its own flows dir, schedule rewritten.
fn flow_copy(open_all_day: bool) -> TempDir {
    let dir = TempDir::new("flows");
    let src = std::fs::read_to_string(test_path("../ivr-flows/ecommerce-zh.yaml"))
        .expect("read ivr-flows/ecommerce-zh.yaml");
    let text = if open_all_day {
        replace_once(&src, "hours: \"09:00-21:00\"", "hours: \"00:00-24:00\"")
    } else {
        // Shanghai is UTC+8 all year.
        let today = (chrono::Utc::now() + chrono::Duration::hours(8)).format("%Y-%m-%d");
        replace_once(&src, "holidays:\n", &format!("holidays:\n  - {today}\n"))
    };
    std::fs::write(dir.path().join("ecommerce-zh.yaml"), text).expect("write flow copy");
    dir
}

fn replace_once(s: &str, from: &str, to: &str) -> String {
    assert!(
        s.contains(from),
        "the shipped flow no longer contains {from:?}: update tests/ivr_calls.rs"
    );
    s.replacen(from, to, 1)
}

fn server(flows: &Path, orders_url: &str) -> Hotline {
    Hotline::start(Opts {
        flows_dir: Some(flows.to_path_buf()),
        rtp_timeout_secs: Some(0),
        numbers_toml: format!(
            "{NUMBER:?} = {{ flow = \"ecommerce-zh\", tenant = \"shop\", vars = {{ orders_url = {orders_url:?} }} }}\n"
        ),
        ..Opts::default()
    })
}

/// `secs` of a 440 Hz tone at a speaking level (the caller "talks").
fn voice(secs: f64) -> Vec<i16> {
    (0..(secs * 8000.0) as usize)
        .map(|n| (6000.0 * (2.0 * std::f64::consts::PI * 440.0 * n as f64 / 8000.0).sin()) as i16)
        .collect()
}

fn silence(secs: f64) -> Vec<i16> {
    vec![0; (secs * 8000.0) as usize]
}

/// Places one call to the flow number playing `pcap`, lasting `call_ms`.
fn call(server: &Hotline, pcap: PcapWriter, call_ms: u64) {
    let dir = sipp_dir_with_pcaps();
    pcap.write(&dir.path().join("pcap/ivr_caller.pcap"));
    let (target, mp, d) = (
        server.sip.to_string(),
        sipp_media_port(),
        call_ms.to_string(),
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

#[test]
fn an_order_lookup_walks_the_menu_calls_the_webhook_and_the_cdr_shows_the_path() {
    let flows = flow_copy(true);
    let orders = OrderService::start();
    let mut server = server(flows.path(), &orders.lookup_url());
    // Keys typed ahead during the greeting: '1' (order status), then the order number and
    // '#'. The flow keeps early keys for the next gather (barge-in through both prompts).
    let mut pcap = PcapWriter::new(0x0bad_cafe);
    pcap.audio(0, &silence(1.0), ulaw_encode);
    for key in "112345678#".chars() {
        pcap.event(101, key);
        pcap.audio(0, &silence(0.1), ulaw_encode);
    }
    pcap.audio(0, &silence(8.0), ulaw_encode);
    call(&server, pcap, 10_000);

    let cdr = server.wait_call("ended", CDR_WAIT, |c| text(c, "state") == "ended");
    let path = text(&cdr, "ivr_path").to_string();
    let check = |ok: bool, what: &str| server.check_cdr(&cdr, ok, what);
    check(text(&cdr, "flow") == "ecommerce-zh", "flow is ecommerce-zh");
    check(
        text(&cdr, "tenant") == "shop",
        "tenant comes from the number",
    );
    check(path.contains("menu[1]"), "the path shows menu choice 1");
    check(
        path.contains("order_number[12345678#]"),
        "the path shows the order number as keyed",
    );
    check(path.contains("order_lookup"), "the path shows the lookup");
    check(
        path.contains("order_status"),
        "the found order's status was read out",
    );
    let bodies = orders.requests();
    assert_eq!(bodies.len(), 1, "one webhook call: {bodies:?}");
    assert_eq!(bodies[0]["vars"]["order"], "12345678", "{}", bodies[0]);
    assert!(
        bodies[0]["vars"]["caller"].is_string(),
        "the call context goes with it: {}",
        bodies[0]
    );
    // What Hotline said (right channel) is speech: TTS prompts, not silence or beeps only.
    let rec = PathBuf::from(text(&cdr, "recording"));
    let wav = closed_wav(&rec, Duration::from_secs(5));
    let said = rms(&wav.channel(1));
    check(
        said > 300.0,
        &format!("Hotline's channel carries speech (rms {said:.0})"),
    );
}

#[test]
fn after_hours_the_caller_leaves_a_voicemail_that_holds_their_audio() {
    let flows = flow_copy(false);
    let mut server = server(flows.path(), "http://127.0.0.1:9/unused");
    // The caller talks all along; the message is what follows the prompt and the beep.
    let mut pcap = PcapWriter::new(0x5eed_1234);
    pcap.audio(0, &voice(24.0), ulaw_encode);
    call(&server, pcap, 24_000);

    let cdr = server.wait_call("ended", CDR_WAIT, |c| text(c, "state") == "ended");
    let path = text(&cdr, "ivr_path").to_string();
    let check = |ok: bool, what: &str| server.check_cdr(&cdr, ok, what);
    check(
        path.starts_with("hours(else)>after_hours>voicemail"),
        "closed today: after hours, then voicemail",
    );
    let vm = text(&cdr, "voicemail").to_string();
    check(!vm.is_empty(), "the CDR lists the voicemail");
    let wav = closed_wav(Path::new(&vm), Duration::from_secs(5));
    check(wav.seconds() > 2.0, "the voicemail lasts more than 2 s");
    let caller = rms(&wav.channel(0));
    check(
        caller > 1000.0,
        &format!("the voicemail holds the caller's audio (rms {caller:.0})"),
    );
}

#[test]
fn a_broken_edit_keeps_the_flow_in_service_and_is_reported_with_its_position() {
    let flows = flow_copy(true);
    let server = server(flows.path(), "http://127.0.0.1:9/unused");
    let file = flows.path().join("ecommerce-zh.yaml");
    let good = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, format!("{good}\nnodes: [\n")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        let (code, body) = http_get(server.http, "/api/v1/flows").expect("GET /api/v1/flows");
        assert_eq!(code, 200, "{body}");
        let v: Value = serde_json::from_str(&body).expect("JSON");
        let entry = v[0].clone();
        if entry["error"].is_string() || Instant::now() > deadline {
            break entry;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let err = status["error"].as_str().unwrap_or_else(|| {
        panic!(
            "a broken edit must be reported within 2 s: {status}\n{}",
            server.log_tail(30)
        )
    });
    assert!(err.contains("ecommerce-zh.yaml:"), "file:line:col: {err}");
    assert_eq!(
        status["flow"], "ecommerce-zh",
        "the last good version stays in service"
    );
}

#[test]
fn an_unknown_number_hears_not_in_service_and_the_cdr_says_404() {
    let dir = TempDir::new("prompts");
    let prompts = common::make_prompts(dir.path());
    let mut server = Hotline::start(Opts {
        prompts_dir: Some(prompts),
        rtp_timeout_secs: Some(0),
        numbers_toml: "default = \"reject\"\n".into(),
        ..Opts::default()
    });
    let (target, mp) = (server.sip.to_string(), sipp_media_port());
    // SIPp sends no audio and waits (up to 15 s) for Hotline's BYE after the prompts.
    let run = common::sipp(&[
        "-sf",
        &scenario("server_bye.xml"),
        &target,
        "-s",
        "4000000000",
        "-m",
        "1",
        "-mp",
        &mp,
    ]);
    assert_sipp_succeeded(&run, 1);
    let cdr = server.wait_call("ended", CDR_WAIT, |c| text(c, "state") == "ended");
    let check = |ok: bool, what: &str| server.check_cdr(&cdr, ok, what);
    check(
        text(&cdr, "hangup_cause").starts_with("404"),
        "the cause is 404-style",
    );
    check(text(&cdr, "hangup_side") == "hotline", "Hotline hung up");
    let wav = closed_wav(Path::new(text(&cdr, "recording")), Duration::from_secs(5));
    let said = rms(&wav.channel(1));
    check(
        said > 300.0 && wav.seconds() > 3.0,
        &format!(
            "the caller heard the prompt (rms {said:.0}, {:.1} s)",
            wav.seconds()
        ),
    );
}

/// Where the last sample louder than `level` is, in seconds (0 if none).
fn last_loud(samples: &[i16], level: i16) -> f64 {
    samples
        .iter()
        .rposition(|s| s.unsigned_abs() > level.unsigned_abs())
        .map_or(0.0, |i| i as f64 / 8000.0)
}

#[test]
fn a_key_during_a_long_prompt_stops_it_at_once() {
    // A flow with one long interruptible prompt, then a gather that waits 20 s.
    let mut server = Hotline::start(Opts {
        flows_dir: Some(test_path("data/flows/live")),
        rtp_timeout_secs: Some(0),
        numbers_toml: format!("{NUMBER:?} = {{ flow = \"bargein\" }}\n"),
        ..Opts::default()
    });
    let mut pcap = PcapWriter::new(0x0ba2_9e10);
    pcap.audio(0, &silence(3.0), ulaw_encode);
    pcap.event(101, '5');
    pcap.audio(0, &silence(5.0), ulaw_encode);
    call(&server, pcap, 8_000);

    let cdr = server.wait_call("ended", CDR_WAIT, |c| text(c, "state") == "ended");
    let wav = closed_wav(Path::new(text(&cdr, "recording")), Duration::from_secs(5));
    let said = wav.channel(1);
    // The recording starts with the call and SIPp's keys start with it too (within a few
    // ms): the key's first RFC 4733 packet is at 3.0 s; its end at 3.16 s. Allow detection
    // on the end packet, one tick and the jitter buffer (60 ms): the prompt must stop by
    // 3.3 s, and must have been playing until the key (it is ~15 s long).
    let stop = last_loud(&said, 1000);
    eprintln!("barge-in: last speech at {stop:.3} s, key sent at 3.000 s");
    let check = |ok: bool, what: &str| server.check_cdr(&cdr, ok, what);
    check(
        stop > 2.9 && stop < 3.3,
        &format!("the prompt stops when the key comes (last speech at {stop:.3} s, key at 3.0 s)"),
    );
    check(
        text(&cdr, "ivr_path").contains("long") && text(&cdr, "digits") == "5",
        "the path shows the interrupted prompt and the key",
    );
}
