//! A real softphone (baresip 1.0, headless) calls the server: the call is established with
//! PCMU, and again with PCMA, then hung up. baresip is driven and observed over its ctrl_tcp
//! interface (netstring JSON); the negotiated codec is read from the server's SDP answer as
//! baresip reports it (`callstat` → "remote formats").
//! Config templates: `tests/baresip/*.template`; the microphone is an espeak-ng WAV.

mod common;

use common::baresip::{Baresip, Ctrl, speech_wav};
use common::{Hotline, Opts, TempDir, require_binary};
use std::time::Duration;

const NUMBER: &str = "400800";
const ESTABLISH_WAIT: Duration = Duration::from_secs(20);
const CLOSE_WAIT: Duration = Duration::from_secs(10);

#[test]
fn baresip_call_is_established_with_pcmu() {
    call_with_codec("PCMU", "PCMA");
}

#[test]
fn baresip_call_is_established_with_pcma() {
    call_with_codec("PCMA", "PCMU");
}

fn call_with_codec(codec: &str, other: &str) {
    require_binary("baresip");
    require_binary("espeak-ng");
    require_binary("sox");
    let server = Hotline::start(Opts::default());
    let mic_dir = TempDir::new("baresip-mic");
    // The padding keeps the call up (baresip hangs up when its microphone file ends).
    let mic = speech_wav(
        mic_dir.path(),
        "Hello, this is a test call to Hotline.",
        30.0,
    );
    let phone = Baresip::start(codec, &mic);
    let mut ctrl = phone.ctrl();

    let target = format!("sip:{NUMBER}@{}", server.sip);
    let established = command_then_event(
        &mut ctrl,
        "dial",
        &target,
        "CALL_ESTABLISHED",
        ESTABLISH_WAIT,
    );
    if let Err(why) = established {
        phone.fail(&format!("dialling {target} with {codec}: {why}"));
    }

    let stat = ctrl.response("callstat", "", Duration::from_secs(5));
    let stat = match stat {
        Ok(data) => data,
        Err(why) => phone.fail(&format!("callstat: {why}")),
    };
    let formats = remote_audio_formats(&stat);
    println!("{codec}: the server answered with {formats:?}");
    if !formats.iter().any(|f| f.eq_ignore_ascii_case(codec))
        || formats.iter().any(|f| f.eq_ignore_ascii_case(other))
    {
        phone.fail(&format!(
            "the server's answer should carry {codec} (and not {other}, which was not offered); \
             it carried {formats:?}. callstat said:\n{stat}"
        ));
    }
    let mentions = server
        .log_text()
        .lines()
        .filter(|l| l.contains(codec))
        .count();
    println!("{codec}: {mentions} server log lines mention it");

    let closed = command_then_event(&mut ctrl, "hangup", "", "CALL_CLOSED", CLOSE_WAIT);
    if let Err(why) = closed {
        phone.fail(&format!("hangup: {why}"));
    }
    let _ = ctrl.response("quit", "", Duration::from_secs(2));
}

/// Sends a ctrl_tcp command, then waits for event `kind`, which may already have arrived
/// while we waited for the command's response (`seen` has it then).
fn command_then_event(
    ctrl: &mut Ctrl,
    command: &str,
    params: &str,
    kind: &str,
    wait: Duration,
) -> Result<(), String> {
    ctrl.response(command, params, Duration::from_secs(5))?;
    if ctrl.seen.iter().any(|e| e == kind) {
        return Ok(());
    }
    ctrl.wait_event(kind, wait).map(|_| ())
}

/// The codec names under the audio stream's "remote formats:" in baresip's call debug text.
fn remote_audio_formats(callstat: &str) -> Vec<String> {
    let mut lines = callstat
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("audio "));
    let mut lines = lines
        .by_ref()
        .skip_while(|l| l.trim() != "remote formats:")
        .skip(1);
    let mut names = Vec::new();
    for line in lines.by_ref() {
        let mut parts = line.split_whitespace();
        let (Some(pt), Some(fmt)) = (parts.next(), parts.next()) else {
            break;
        };
        if pt.parse::<u8>().is_err() {
            break;
        }
        names.push(fmt.split('/').next().unwrap_or(fmt).to_string());
    }
    names
}
