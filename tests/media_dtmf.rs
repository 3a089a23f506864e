//! DTMF end to end with real peers (issue 3, "What to prove"): RFC 4733 events from two
//! streams, SIP INFO and in-band tones in one call, and baresip keying `123#` into the
//! welcome app, which then says goodbye and hangs up. The CDR must hold every digit, in
//! order. SIPp plays pcaps through a raw socket, so these tests need root (as here and in
//! CI). Every wait is bounded; nothing about timing is asserted.

mod common;

use common::audio::{PcapWriter, closed_wav, read_wav, rms, ulaw_encode};
use common::baresip::{Baresip, event_type};
use common::{
    Hotline, Opts, TempDir, assert_sipp_succeeded, make_prompts, require_binary, scenario,
    sipp_dir_with_pcaps, sipp_in, sipp_media_port, text,
};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const ECHO: &str = "9196";
/// Any number but 9196 reaches the welcome app.
const WELCOME: &str = "4008001234";
const CDR_WAIT: Duration = Duration::from_secs(20);

/// The shipped number plan (`hotline.toml`).
fn numbers() -> Vec<(String, String)> {
    vec![
        ("default".into(), "welcome".into()),
        (ECHO.into(), "echo".into()),
    ]
}

/// `secs` of a 440 Hz sine, amplitude 8000, 8 kHz.
fn tone(secs: f64) -> Vec<i16> {
    (0..(secs * 8000.0) as usize)
        .map(|n| (8000.0 * (2.0 * std::f64::consts::PI * 440.0 * n as f64 / 8000.0).sin()) as i16)
        .collect()
}

/// Runs sox with `args`, panicking with its stderr on failure.
fn sox(args: &[&str]) {
    let out = Command::new("sox")
        .args(args)
        .output()
        .expect("run sox (scripts/install-deps.sh test installs it)");
    assert!(
        out.status.success(),
        "sox {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---------------------------------------------------------------------------------------------
// 2. RFC 4733 from two streams

#[test]
fn rfc4733_digits_from_the_audio_stream_and_another_ssrc_reach_the_cdr_in_order() {
    let mut server = Hotline::start(Opts {
        numbers: numbers(),
        ..Opts::default()
    });
    let dir = sipp_dir_with_pcaps();
    // 3 s of PCMU tone with an RFC 4733 '1' in the middle, one SSRC and sequence.
    let mut pcap = PcapWriter::new(0x1234_5678);
    pcap.audio(0, &tone(1.5), ulaw_encode);
    pcap.event(101, '1');
    pcap.audio(0, &tone(1.5), ulaw_encode);
    pcap.write(&dir.path().join("pcap/pcmu_tone_dtmf1.pcap"));
    let target = server.sip.to_string();
    let mp = sipp_media_port();
    let run = sipp_in(
        dir,
        &[
            "-sf",
            &scenario("pcmu_dtmf.xml"),
            &target,
            "-s",
            ECHO,
            "-m",
            "1",
            "-mp",
            &mp,
        ],
    );
    assert_sipp_succeeded(&run, 1);
    let cdr = server.wait_call("in state ended", CDR_WAIT, |c| text(c, "state") == "ended");
    let check = |ok: bool, what: &str| server.check_cdr(&cdr, ok, what);
    check(
        text(&cdr, "digits") == "15",
        "digits should be \"15\": '1' in the audio stream, then '5' from the stock pcap",
    );
    check(
        text(&cdr, "codec") == "PCMU",
        "codec should be PCMU, the only one offered",
    );
    check(
        text(&cdr, "hangup_side") == "caller",
        "SIPp hung up: side caller",
    );
}

// ---------------------------------------------------------------------------------------------
// 3. SIP INFO and in-band tones

/// DTMF row and column frequencies (Hz) of a key.
fn dtmf_pair(key: char) -> (u32, u32) {
    let keys = ["123A", "456B", "789C", "*0#D"];
    let rows = [697, 770, 852, 941];
    let cols = [1209, 1336, 1477, 1633];
    for (r, line) in keys.iter().enumerate() {
        if let Some(c) = line.find(key) {
            return (rows[r], cols[c]);
        }
    }
    panic!("{key:?} is not a DTMF key");
}

/// Renders `keys` as DTMF tones with sox (150 ms tone, -6 dBFS peak, 250 ms silence either
/// side, 300 ms lead-in) into one 8 kHz mono 16-bit WAV.
fn dtmf_wav(dir: &Path, keys: &str) -> std::path::PathBuf {
    let mut parts = Vec::new();
    for (i, key) in keys.chars().enumerate() {
        let (low, high) = dtmf_pair(key);
        let part = dir.join(format!("key{i}.wav"));
        let part_s = part.display().to_string();
        sox(&[
            "-n",
            "-r",
            "8000",
            "-c",
            "1",
            "-b",
            "16",
            &part_s,
            "synth",
            "0.15",
            "sine",
            &low.to_string(),
            "synth",
            "0.15",
            "sine",
            "mix",
            &high.to_string(),
            "gain",
            "-n",
            "-6",
            "pad",
            "0.25",
            "0.25",
        ]);
        parts.push(part_s);
    }
    let out = dir.join("dtmf.wav");
    let out_s = out.display().to_string();
    let mut args: Vec<&str> = parts.iter().map(String::as_str).collect();
    args.push(&out_s);
    args.extend(["pad", "0.3", "0"]);
    sox(&args);
    out
}

#[test]
fn sip_info_and_inband_digits_reach_the_cdr_in_order() {
    require_binary("sox");
    let mut server = Hotline::start(Opts {
        numbers: numbers(),
        ..Opts::default()
    });
    let dir = sipp_dir_with_pcaps();
    let wav = read_wav(&dtmf_wav(dir.path(), "456"));
    assert_eq!(
        (wav.rate, wav.channels),
        (8000, 1),
        "sox should render 8 kHz mono"
    );
    let mut pcap = PcapWriter::new(0x0d7f_0001);
    pcap.audio(0, &wav.samples, ulaw_encode);
    pcap.write(&dir.path().join("pcap/inband.pcap"));

    let target = server.sip.to_string();
    let mp = sipp_media_port();
    let run = sipp_in(
        dir,
        &[
            "-sf",
            &scenario("info_inband.xml"),
            &target,
            "-s",
            ECHO,
            "-m",
            "1",
            "-mp",
            &mp,
        ],
    );
    assert_sipp_succeeded(&run, 1);
    let cdr = server.wait_call("in state ended", CDR_WAIT, |c| text(c, "state") == "ended");
    server.check_cdr(
        &cdr,
        text(&cdr, "digits") == "234567",
        "digits should be \"234567\": INFO 2 and 3, in-band 4 5 6, INFO 7",
    );
}

// ---------------------------------------------------------------------------------------------
// 4. baresip keys 123# into welcome

#[test]
fn baresip_keys_123_pound_into_welcome_and_hotline_hangs_up_after_goodbye() {
    require_binary("baresip");
    require_binary("sox");
    let tmp = TempDir::new("welcome");
    let prompts = make_prompts(tmp.path());
    let mut server = Hotline::start(Opts {
        numbers: numbers(),
        prompts_dir: Some(prompts),
        ..Opts::default()
    });
    // The microphone: 40 s of silence, longer than the call, so baresip does not hang up.
    let mic = tmp.path().join("silence.wav");
    let mic_s = mic.display().to_string();
    sox(&[
        "-n", "-r", "8000", "-c", "1", "-b", "16", &mic_s, "trim", "0", "40",
    ]);
    let phone = Baresip::start("PCMU", &mic);
    let mut ctrl = phone.ctrl();
    ctrl.send("dial", &server.uri(WELCOME));
    let established = ctrl
        .wait_event("CALL_ESTABLISHED", Duration::from_secs(20))
        .unwrap_or_else(|e| phone.fail(&format!("dialling {}: {e}", server.uri(WELCOME))));
    let call_id = established
        .get("id")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_else(|| phone.fail(&format!("CALL_ESTABLISHED without an id: {established}")))
        .to_string();
    if let Err(e) = ctrl.response("sndcode", "123#", Duration::from_secs(5)) {
        phone.fail(&format!("sndcode 123#: {e}"));
    }
    // Hotline plays goodbye (about 6 s) and hangs up; baresip reports the close.
    let deadline = Instant::now() + Duration::from_secs(30);
    let closed = loop {
        match ctrl.next(deadline) {
            Some(m) if event_type(&m) == Some("CALL_CLOSED") => break m,
            Some(_) => {}
            None => phone.fail(&format!(
                "Hotline did not hang up within 30 s of 123#; events seen: {:?}\n\
                 ---- hotline log tail ----\n{}",
                ctrl.seen,
                server.log_tail(40)
            )),
        }
    };
    println!("baresip: {closed}");

    let cdr = server.wait_ended(&call_id, CDR_WAIT);
    let check = |ok: bool, what: &str| server.check_cdr(&cdr, ok, what);
    check(text(&cdr, "digits") == "123#", "digits should be \"123#\"");
    check(
        text(&cdr, "hangup_side") == "hotline",
        "welcome hangs up after goodbye: side hotline",
    );
    check(
        text(&cdr, "hangup_cause").contains("welcome"),
        "the cause should name the welcome app",
    );
    // The caller heard something: the greeting until the first key, then goodbye.
    let heard = closed_wav(&phone.dump("-dec.wav"), Duration::from_secs(10));
    let level = rms(&heard.samples);
    assert!(
        level > 200.0,
        "baresip's received audio is silent (RMS {level:.0}): no prompt reached the caller; \
         dumps in {}",
        phone.rec.display()
    );
}
