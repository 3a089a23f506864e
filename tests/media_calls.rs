//! End-to-end media with real peers (issue 3, "What to prove"): the caller's audio reaches
//! the recording, echo sends it back, hold/resume by re-INVITE. DTMF lives in
//! `media_dtmf.rs`; the RTP timeout, SIGTERM drain and kill -9 in `media_lifecycle.rs`.
//!
//! Each test starts its own server (tests/common). SIPp plays pcaps through a raw socket,
//! so these tests need root, as they have here and in CI. Every wait is bounded; nothing
//! about timing is asserted.

mod common;

use common::audio::{
    PcapWriter, alaw_decode, align, closed_wav, envelope, pearson, read_pcap_rtp, read_wav, rms,
    ulaw_encode,
};
use common::baresip::{Baresip, speech_wav};
use common::{
    Hotline, Opts, SIPP_PCAPS, TempDir, assert_sipp_succeeded, num, require_binary, scenario,
    sipp_dir_with_pcaps, sipp_in, sipp_media_port, text,
};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

const ECHO: &str = "9196";
/// How long a CDR may take to reach the state a test waits for.
const CDR_WAIT: Duration = Duration::from_secs(20);

/// The shipped number plan (`hotline.toml`).
fn media_opts() -> Opts {
    Opts {
        numbers: vec![
            ("default".into(), "welcome".into()),
            (ECHO.into(), "echo".into()),
        ],
        ..Opts::default()
    }
}

/// The decoded audio of a pcap's RTP packets of payload type `pt` (G.711 A-law for 8), in
/// the order SIPp sends them.
fn pcap_audio(path: &Path, pt: u8) -> Vec<i16> {
    read_pcap_rtp(path)
        .iter()
        .filter(|p| p.pt == pt)
        .flat_map(|p| p.payload.iter().map(|b| alaw_decode(*b)))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// 1. SIPp uac_pcap: PCMA + RFC 4733 '1' into echo

#[test]
fn sipp_uac_pcap_pcma_call_is_recorded_with_the_callers_audio() {
    let mut server = Hotline::start(media_opts());
    let target = server.sip.to_string();
    let mp = sipp_media_port();
    let run = sipp_in(
        sipp_dir_with_pcaps(),
        &[
            "-sn", "uac_pcap", &target, "-s", ECHO, "-m", "1", "-mp", &mp,
        ],
    );
    assert_sipp_succeeded(&run, 1);

    let cdr = server.wait_call("in state ended", CDR_WAIT, |c| text(c, "state") == "ended");
    // `hotline calls list --json` and `GET /api/v1/calls` print the same record.
    let listed = server.calls();
    assert_eq!(
        listed.as_slice(),
        std::slice::from_ref(&cdr),
        "calls list --json should print exactly the record the API returns"
    );
    let check = |ok: bool, what: &str| server.check_cdr(&cdr, ok, what);
    check(
        text(&cdr, "codec") == "PCMA",
        "codec should be PCMA, the only one SIPp offered",
    );
    check(
        text(&cdr, "digits") == "1",
        "digits should be \"1\" (dtmf_2833_1.pcap)",
    );
    check(
        text(&cdr, "hangup_side") == "caller",
        "SIPp hung up: side caller",
    );
    check(
        num(&cdr, "mos").is_some_and(|m| m > 3.0),
        "MOS should be above 3 for a clean loopback stream",
    );
    let rec = PathBuf::from(text(&cdr, "recording"));
    check(rec.is_file(), "the CDR's recording should be a file");

    let wav = read_wav(&rec);
    assert_eq!(
        (wav.channels, wav.rate),
        (2, 8000),
        "recording {} should be 8 kHz stereo",
        rec.display()
    );
    let caller = wav.channel(0);
    let hotline = wav.channel(1);
    let sent = pcap_audio(&Path::new(SIPP_PCAPS).join("g711a.pcap"), 8);
    let level = rms(&caller);
    let a = align(&envelope(&sent, 160), &envelope(&caller, 160), 150);
    println!(
        "recording {:.1} s, caller RMS {level:.0}, alignment with g711a.pcap {a:?}",
        wav.seconds()
    );
    assert!(
        level > 300.0,
        "the caller (left) channel of {} is silent (RMS {level:.0})",
        rec.display()
    );
    assert!(
        a.peak > 0.8 && a.peak > a.chance + 0.4,
        "the caller channel of {} does not follow the audio SIPp sent (g711a.pcap): best \
         envelope correlation {:.3} at {} ms, chance level {:.3}",
        rec.display(),
        a.peak,
        a.lag * 20,
        a.chance
    );
    // Echo: what Hotline sent (right) is what the caller said (left).
    let same = pearson(&envelope(&caller, 160), &envelope(&hotline, 160));
    assert!(
        same > 0.9,
        "echo: the Hotline (right) channel should follow the caller's; correlation {same:.3}"
    );
}

// ---------------------------------------------------------------------------------------------
// 5. Echo with a real softphone

#[test]
fn echo_sends_back_what_baresip_says() {
    require_binary("baresip");
    let mut server = Hotline::start(media_opts());
    let tmp = TempDir::new("echo-mic");
    let mic = speech_wav(
        tmp.path(),
        "Hello, I would like to check the status of my order, please. One, two, three.",
        1.5,
    );
    let phone = Baresip::start("PCMU", &mic);
    let mut ctrl = phone.ctrl();
    ctrl.send("dial", &server.uri(ECHO));
    let established = ctrl
        .wait_event("CALL_ESTABLISHED", Duration::from_secs(20))
        .unwrap_or_else(|e| phone.fail(&format!("dialling {}: {e}", server.uri(ECHO))));
    let call_id = established
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_else(|| phone.fail(&format!("CALL_ESTABLISHED without an id: {established}")))
        .to_string();
    // baresip hangs up when its microphone file ends.
    if let Err(e) = ctrl.wait_event("CALL_CLOSED", Duration::from_secs(40)) {
        phone.fail(&format!(
            "the call did not end with the microphone file: {e}"
        ));
    }

    let cdr = server.wait_ended(&call_id, CDR_WAIT);
    let check = |ok: bool, what: &str| server.check_cdr(&cdr, ok, what);
    check(
        text(&cdr, "codec") == "PCMU",
        "codec should be PCMU (all baresip offered)",
    );
    check(
        text(&cdr, "hangup_side") == "caller",
        "baresip hung up: side caller",
    );

    let sent = closed_wav(&phone.dump("-enc.wav"), Duration::from_secs(10));
    let got = closed_wav(&phone.dump("-dec.wav"), Duration::from_secs(10));
    let a = align(
        &envelope(&sent.samples, 80),
        &envelope(&got.samples, 80),
        150,
    );
    println!(
        "sent {:.1} s (RMS {:.0}), received {:.1} s (RMS {:.0}); alignment {a:?}",
        sent.seconds(),
        rms(&sent.samples),
        got.seconds(),
        rms(&got.samples)
    );
    assert!(
        a.peak > 0.8 && a.peak > a.chance + 0.4,
        "what baresip received from echo does not follow what it sent: best envelope \
         correlation {:.3} at {} ms, chance level {:.3}; dumps in {}",
        a.peak,
        a.lag * 10,
        a.chance,
        phone.rec.display()
    );
}

// ---------------------------------------------------------------------------------------------
// 6. Hold and resume

/// The body of the response with status `code` to the request with CSeq `cseq`, from
/// SIPp's `-trace_msg` log (messages are separated by lines of dashes).
fn response_body(messages: &str, code: u16, cseq: &str) -> Option<String> {
    let status = format!("SIP/2.0 {code} ");
    messages
        .split("\n----------------------------------------------")
        .filter_map(|block| {
            let start = block.find(&status)?;
            Some(&block[start..])
        })
        .find(|msg| {
            msg.lines().any(|l| {
                l.split_once(':').is_some_and(|(name, value)| {
                    name.trim().eq_ignore_ascii_case("cseq")
                        && value.split_whitespace().collect::<Vec<_>>().join(" ") == cseq
                })
            })
        })
        .and_then(|msg| {
            let msg = msg.replace("\r\n", "\n");
            msg.split_once("\n\n")
                .map(|(_, body)| body.trim().to_string())
        })
}

#[test]
fn hold_and_resume_by_reinvite_answer_recvonly_then_sendrecv_and_the_call_goes_on() {
    hold_and_resume(media_opts());
}

/// The caller sends no RTP while it holds the call (1.5 s): a hold longer than the RTP
/// timeout must neither end the call during the hold nor right after the resume.
#[test]
fn resume_after_a_silent_hold_longer_than_the_rtp_timeout_keeps_the_call() {
    hold_and_resume(Opts {
        rtp_timeout_secs: Some(1),
        ..media_opts()
    });
}

/// Runs `hold_resume.xml` against a server started with `opts` and checks the answers and
/// the CDR.
fn hold_and_resume(opts: Opts) {
    let mut server = Hotline::start(opts);
    let target = server.sip.to_string();
    let dir = sipp_dir_with_pcaps();
    let mut tone = PcapWriter::new(0x0bad_cafe);
    tone.audio(0, &sine(440.0, 1.0, 8000.0), ulaw_encode);
    tone.write(&dir.path().join("pcap/tone.pcap"));
    let mp = sipp_media_port();
    let run = sipp_in(
        dir,
        &[
            "-sf",
            &scenario("hold_resume.xml"),
            &target,
            "-s",
            ECHO,
            "-m",
            "1",
            "-mp",
            &mp,
        ],
    );
    if run.code != Some(0) {
        panic!(
            "hold/resume scenario failed:\n{}\n---- call lines of the hotline log ----\n{}",
            run.report(),
            server.log_lines(&["re-INVITE", "call ended", "hang up", "timeout"])
        );
    }
    assert_sipp_succeeded(&run, 1);

    let hold = response_body(&run.messages, 200, "2 INVITE");
    let resume = response_body(&run.messages, 200, "3 INVITE");
    assert!(
        hold.as_deref().is_some_and(|b| b.contains("a=recvonly")),
        "the answer to the hold (sendonly) re-INVITE should say a=recvonly; it was {hold:?}\n{}",
        run.report()
    );
    assert!(
        resume.as_deref().is_some_and(|b| b.contains("a=sendrecv")
            && !["a=recvonly", "a=sendonly", "a=inactive"]
                .iter()
                .any(|d| b.contains(d))),
        "the answer to the resume (sendrecv) re-INVITE should say a=sendrecv only; it was \
         {resume:?}\n{}",
        run.report()
    );

    let cdr = server.wait_call("in state ended", CDR_WAIT, |c| text(c, "state") == "ended");
    let check = |ok: bool, what: &str| server.check_cdr(&cdr, ok, what);
    check(
        text(&cdr, "hangup_side") == "caller",
        "SIPp's BYE ended the call: side caller",
    );
    check(
        text(&cdr, "hangup_cause").contains("BYE"),
        "the cause should be the caller's BYE, not a hold side effect",
    );
    check(text(&cdr, "codec") == "PCMU", "codec should stay PCMU");
    check(
        num(&cdr, "billable_s").is_some_and(|s| s >= 3.0),
        "the call lasted through hold and resume (about 4 s): billable_s should be ≥ 3",
    );
    check(
        num(&cdr, "mos").is_some(),
        "RTP was received, so the CDR should carry a MOS",
    );
}

/// `secs` of a sine at `freq` Hz, amplitude 8000, sampled at `rate`.
fn sine(freq: f64, secs: f64, rate: f64) -> Vec<i16> {
    (0..(secs * rate) as usize)
        .map(|n| (8000.0 * (2.0 * std::f64::consts::PI * freq * n as f64 / rate).sin()) as i16)
        .collect()
}
