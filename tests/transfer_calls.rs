//! Blind transfer from an IVR flow (issue 4, `transfer` node) with real SIP peers: a SIPp
//! caller runs a flow whose `transfer` places a call to a SIPp callee, and Hotline bridges
//! the two (B2BUA). The callee echoes RTP (`-rtp_echo`), so the caller's own voice coming
//! back on Hotline's channel of the caller's recording proves audio crossed the bridge
//! both ways. A busy callee sends the caller back into the flow's `on_error` branch.
//! SIPp plays pcaps through a raw socket, so these tests need root (as here and in CI).

mod common;

use common::audio::{PcapWriter, closed_wav, rms, ulaw_encode};
use common::{
    Hotline, Opts, Sipp, TempDir, assert_sipp_succeeded, free_port_udp_tcp, scenario,
    sipp_dir_with_pcaps, sipp_in, sipp_media_port, text,
};
use std::path::PathBuf;
use std::time::Duration;

const NUMBER: &str = "4008007777";
const CDR_WAIT: Duration = Duration::from_secs(30);

fn flow_dir(callee_port: u16) -> TempDir {
    let dir = TempDir::new("flows");
    let flow = format!(
        r#"flow: transfer-test
language: en
start: hello
nodes:
  hello:
    say: "Connecting you."
    next: xfer
  xfer:
    transfer: "sip:1001@127.0.0.1:{callee_port}"
    on_error: sorry
  sorry:
    say: "Sorry, nobody can take your call right now. Goodbye."
    next: bye
  bye:
    hangup: transfer failed
"#
    );
    std::fs::write(dir.path().join("transfer-test.yaml"), flow).expect("write flow");
    dir
}

fn server(flows: &TempDir) -> Hotline {
    Hotline::start(Opts {
        flows_dir: Some(flows.path().to_path_buf()),
        rtp_timeout_secs: Some(0),
        numbers_toml: format!("{NUMBER:?} = {{ flow = \"transfer-test\" }}\n"),
        ..Opts::default()
    })
}

/// A 440 Hz tone at speaking level: the caller talks the whole call.
fn voice(secs: f64) -> Vec<i16> {
    (0..(secs * 8000.0) as usize)
        .map(|n| (6000.0 * (2.0 * std::f64::consts::PI * 440.0 * n as f64 / 8000.0).sin()) as i16)
        .collect()
}

fn caller(server: &Hotline, secs: f64) {
    let dir = sipp_dir_with_pcaps();
    let mut pcap = PcapWriter::new(0x7a5f_e201);
    pcap.audio(0, &voice(secs), ulaw_encode);
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

#[test]
fn a_transfer_bridges_the_caller_to_the_callee_both_ways() {
    let callee_port = free_port_udp_tcp("127.0.0.1");
    let flows = flow_dir(callee_port);
    let mut server = server(&flows);
    let (port, mp) = (callee_port.to_string(), sipp_media_port());
    let callee = Sipp::spawn(
        TempDir::new("callee"),
        &[
            "-sn",
            "uas",
            "-p",
            &port,
            "-mp",
            &mp,
            "-rtp_echo",
            "-m",
            "1",
        ],
    );
    caller(&server, 8.0);
    let callee = callee.finish(Duration::from_secs(20));
    assert_sipp_succeeded(&callee, 1);

    let cdr = server.wait_call("ended", CDR_WAIT, |c| text(c, "state") == "ended");
    let check = |ok: bool, what: &str| server.check_cdr(&cdr, ok, what);
    let path = text(&cdr, "ivr_path").to_string();
    check(
        path.contains("xfer(transferred)"),
        &format!("the path shows the transfer succeeded: {path}"),
    );
    check(!path.contains("sorry"), "the error branch was not taken");
    check(
        text(&cdr, "hangup_cause") == "caller hung up (BYE)",
        "the caller ended the call with BYE",
    );
    // The callee echoes what it hears: the caller's tone comes back through the bridge
    // onto Hotline's side of the caller's recording (right channel), after "Connecting
    // you." — the last 3 s are the echo, not a prompt.
    let rec = PathBuf::from(text(&cdr, "recording"));
    let wav = closed_wav(&rec, Duration::from_secs(5));
    let heard = wav.channel(1);
    let tail = &heard[heard.len().saturating_sub(3 * 8000)..];
    let level = rms(tail);
    check(
        level > 1000.0,
        &format!("the caller hears its own voice echoed by the callee (rms {level:.0})"),
    );
    let said = rms(&wav.channel(0));
    check(
        said > 1000.0,
        &format!("the caller's channel holds its voice (rms {said:.0})"),
    );
}

#[test]
fn a_busy_callee_sends_the_caller_back_into_the_flow() {
    let callee_port = free_port_udp_tcp("127.0.0.1");
    let flows = flow_dir(callee_port);
    let mut server = server(&flows);
    let port = callee_port.to_string();
    let callee = Sipp::spawn(
        TempDir::new("callee"),
        &["-sf", &scenario("callee_busy.xml"), "-p", &port, "-m", "1"],
    );
    // The flow hangs up after its apology: a caller that waits for Hotline's BYE.
    let run = sipp_in(
        TempDir::new("caller"),
        &[
            "-sf",
            &scenario("server_bye.xml"),
            &server.sip.to_string(),
            "-s",
            NUMBER,
            "-m",
            "1",
        ],
    );
    assert_sipp_succeeded(&run, 1);
    let callee = callee.finish(Duration::from_secs(20));
    assert_sipp_succeeded(&callee, 1);

    let cdr = server.wait_call("ended", CDR_WAIT, |c| text(c, "state") == "ended");
    let path = text(&cdr, "ivr_path").to_string();
    let check = |ok: bool, what: &str| server.check_cdr(&cdr, ok, what);
    check(
        path.contains("xfer(failed)>sorry"),
        &format!("a busy callee leads to on_error: {path}"),
    );
    check(
        text(&cdr, "hangup_cause") == "transfer failed",
        "the flow's own hang-up cause ends the call",
    );
}

#[test]
fn when_the_callee_hangs_up_the_caller_is_hung_up_too() {
    let callee_port = free_port_udp_tcp("127.0.0.1");
    let flows = flow_dir(callee_port);
    let mut server = server(&flows);
    let (port, mp) = (callee_port.to_string(), sipp_media_port());
    let callee = Sipp::spawn(
        TempDir::new("callee"),
        &[
            "-sf",
            &scenario("callee_hangs_up.xml"),
            "-p",
            &port,
            "-mp",
            &mp,
            "-m",
            "1",
        ],
    );
    // A caller that waits for Hotline's BYE: it comes when the callee leaves.
    let run = sipp_in(
        TempDir::new("caller"),
        &[
            "-sf",
            &scenario("server_bye.xml"),
            &server.sip.to_string(),
            "-s",
            NUMBER,
            "-m",
            "1",
        ],
    );
    assert_sipp_succeeded(&run, 1);
    let callee = callee.finish(Duration::from_secs(20));
    assert_sipp_succeeded(&callee, 1);

    let cdr = server.wait_call("ended", CDR_WAIT, |c| text(c, "state") == "ended");
    let check = |ok: bool, what: &str| server.check_cdr(&cdr, ok, what);
    check(
        text(&cdr, "ivr_path").contains("xfer(transferred)"),
        "the transfer was answered",
    );
    check(
        text(&cdr, "hangup_cause") == "transferred call ended: callee hung up (BYE)",
        "the caller's call ends because the callee hung up",
    );
    check(
        text(&cdr, "hangup_side") == "hotline",
        "Hotline sent the caller's BYE",
    );
}
