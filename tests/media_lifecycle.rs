//! End-to-end call lifecycle with real peers (issue 3, "What to prove"): the RTP timeout,
//! the SIGTERM drain, and recovery after kill -9 (interrupted CDR, repaired recording).
//! Audio, echo and hold/resume live in `media_calls.rs`, DTMF in `media_dtmf.rs`.
//!
//! Each test starts its own server (tests/common). SIPp plays pcaps through a raw socket,
//! so these tests need root, as they have here and in CI. Every wait is bounded; nothing
//! about timing is asserted.

mod common;

use common::audio::{read_wav, rms, wav_layout};
use common::{
    Hotline, Opts, Sipp, TempDir, assert_sipp_succeeded, branch, free_port_udp_tcp, require_binary,
    scenario, sipp, sipp_dir_with_pcaps, sipp_media_port, text, unique,
};
use serde_json::Value;
use std::fs;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

const ECHO: &str = "9196";
/// Routed to echo as well: a second, distinguishable call (drain test).
const ECHO2: &str = "9197";
/// How long a CDR may take to reach the state a test waits for.
const CDR_WAIT: Duration = Duration::from_secs(20);

/// The shipped number plan (`hotline.toml`), plus a second echo number.
fn media_opts() -> Opts {
    Opts {
        numbers: vec![
            ("default".into(), "welcome".into()),
            (ECHO.into(), "echo".into()),
            (ECHO2.into(), "echo".into()),
        ],
        ..Opts::default()
    }
}

// ---------------------------------------------------------------------------------------------
// 7. RTP timeout

#[test]
fn a_call_without_rtp_is_hung_up_by_the_rtp_timeout() {
    let mut server = Hotline::start(Opts {
        rtp_timeout_secs: Some(2),
        ..media_opts()
    });
    let target = server.sip.to_string();
    let mp = sipp_media_port();
    // SIPp sends no RTP and waits (up to 15 s) for Hotline's BYE, which it answers.
    let run = sipp(&[
        "-sf",
        &scenario("server_bye.xml"),
        &target,
        "-s",
        ECHO,
        "-m",
        "1",
        "-mp",
        &mp,
    ]);
    assert_sipp_succeeded(&run, 1);
    let cdr = server.wait_call("in state ended", CDR_WAIT, |c| text(c, "state") == "ended");
    let check = |ok: bool, what: &str| server.check_cdr(&cdr, ok, what);
    check(
        text(&cdr, "hangup_cause").contains("RTP timeout"),
        "the cause should mention the RTP timeout",
    );
    check(
        text(&cdr, "hangup_side") == "system",
        "an RTP timeout is the system's hang-up",
    );
    check(text(&cdr, "digits").is_empty(), "no digits were sent");
}

// ---------------------------------------------------------------------------------------------
// 8. SIGTERM drain

/// Tells SIPp running `held_until_info.xml` on `sipp_port` to hang up call `call_id`: an
/// INFO carrying that Call-ID (SIPp matches it to the call). Sent once: SIPp, as a client,
/// sends its 200 to the server it calls, not to us, so the caller confirms through the CDR.
fn tell_sipp_to_hang_up(sipp_port: u16, call_id: &str) {
    let sock = UdpSocket::bind(("127.0.0.1", 0)).expect("bind udp");
    let local = sock.local_addr().expect("local addr");
    let info = format!(
        "INFO sip:sipp@127.0.0.1:{sipp_port} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {local};branch={}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:test@{local}>;tag=trigger{}\r\n\
         To: <sip:sipp@127.0.0.1:{sipp_port}>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 INFO\r\n\
         Content-Length: 0\r\n\r\n",
        branch(),
        unique()
    );
    sock.send_to(info.as_bytes(), ("127.0.0.1", sipp_port))
        .expect("send INFO to SIPp");
}

/// Starts SIPp running `held_until_info.xml` to `number` on its own SIP port.
fn held_call(server: &Hotline, number: &str) -> (Sipp, u16) {
    let port = free_port_udp_tcp("127.0.0.1");
    let mp = sipp_media_port();
    let target = server.sip.to_string();
    let sipp = Sipp::spawn(
        sipp_dir_with_pcaps(),
        &[
            "-sf",
            &scenario("held_until_info.xml"),
            &target,
            "-s",
            number,
            "-m",
            "1",
            "-p",
            &port.to_string(),
            "-mp",
            &mp,
        ],
    );
    (sipp, port)
}

/// The CDR that dialled `to` once it is `state`.
fn wait_state(server: &mut Hotline, to: &str, state: &str) -> Value {
    server.wait_call(&format!("to {to} in state {state}"), CDR_WAIT, |c| {
        text(c, "to") == to && text(c, "state") == state
    })
}

#[test]
fn sigterm_drains_refuses_new_calls_and_exits_with_complete_cdrs() {
    let mut server = Hotline::start(Opts {
        shutdown_grace_secs: Some(5),
        ..media_opts()
    });
    // Call A: the test tells SIPp when to hang up. Call B: waits for Hotline's BYE.
    let (sipp_a, port_a) = held_call(&server, ECHO);
    let mp = sipp_media_port();
    let target = server.sip.to_string();
    let sipp_b = Sipp::spawn(
        TempDir::new("sipp-b"),
        &[
            "-sf",
            &scenario("server_bye.xml"),
            &target,
            "-s",
            ECHO2,
            "-m",
            "1",
            "-mp",
            &mp,
        ],
    );
    // SIGTERM as soon as both calls are answered (the log says so before the CDR store
    // does): a call answered just before the signal must be drained like any other.
    let deadline = Instant::now() + CDR_WAIT;
    while server.log_text().matches("call answered").count() < 2 {
        assert!(
            Instant::now() < deadline,
            "the two calls were not answered within {CDR_WAIT:?}; log tail:\n{}",
            server.log_tail(40)
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    server.sigterm();
    // The signal reaches the SIP drivers through a channel: wait (bounded) for the drain to
    // begin, so the probe below cannot overtake it.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server.log_text().contains("draining") {
        assert!(
            Instant::now() < deadline,
            "no \"draining\" log line within 10 s of SIGTERM; log tail:\n{}",
            server.log_tail(40)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(200));
    let refused = common::invite_udp(server.sip, ECHO, Duration::from_secs(5));
    match &refused {
        Some(r) if r.code == 503 && r.header("retry-after").is_some() => {}
        other => panic!(
            "a new INVITE while draining (2 calls up, shutdown_grace_secs = 5) should get 503 \
             with Retry-After; got {:?}\n---- drain and call lines of the hotline log ----\n{}",
            other.as_ref().map(|r| r.text.clone()),
            server.log_lines(&[
                "draining",
                "shutting down",
                "incoming call",
                "call ended",
                "stopped"
            ])
        ),
    }
    server.assert_running();
    let a = wait_state(&mut server, ECHO, "up");
    wait_state(&mut server, ECHO2, "up");
    let a_id = text(&a, "call_id").to_string();

    // A hangs up during the grace period; its BYE must still be answered.
    tell_sipp_to_hang_up(port_a, &a_id);
    server.wait_ended(&a_id, CDR_WAIT);
    let run_a = sipp_a.finish(Duration::from_secs(30));
    assert_sipp_succeeded(&run_a, 1);
    // B is still up: Hotline hangs it up when the grace period ends, then exits by itself.
    let status = server.wait_exit(Duration::from_secs(30));
    assert!(
        status.is_some_and(|s| s.success()),
        "hotline should exit by itself (status 0) after the 5 s grace period; status \
         {status:?}; log tail:\n{}",
        server.log_tail(60)
    );
    let run_b = sipp_b.finish(Duration::from_secs(30));
    assert_sipp_succeeded(&run_b, 1);

    let calls = server.calls();
    let find = |to: &str| {
        calls
            .iter()
            .find(|c| text(c, "to") == to)
            .cloned()
            .unwrap_or_else(|| panic!("no CDR to {to}; CDRs:\n{}", common::show_calls(&calls)))
    };
    for (to, side, cause) in [(ECHO, "caller", "BYE"), (ECHO2, "system", "shutting down")] {
        let cdr = find(to);
        let check = |ok: bool, what: &str| server.check_cdr(&cdr, ok, what);
        check(
            text(&cdr, "state") == "ended",
            "every call should have ended cleanly",
        );
        check(
            text(&cdr, "hangup_side") == side,
            &format!("call to {to}: side {side}"),
        );
        check(
            text(&cdr, "hangup_cause").contains(cause),
            &format!("call to {to}: the cause should mention {cause:?}"),
        );
        for key in [
            "answered_at",
            "ended_at",
            "duration_s",
            "billable_s",
            "codec",
        ] {
            check(!cdr[key].is_null(), &format!("a complete CDR has {key}"));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 9. kill -9 recovery

#[test]
fn after_kill_9_a_restart_marks_the_call_interrupted_and_the_recording_is_a_valid_wav() {
    require_binary("sox");
    let mut server = Hotline::start(Opts {
        record: Some(true),
        ..media_opts()
    });
    let (_sipp, _) = held_call(&server, ECHO);
    let up = wait_state(&mut server, ECHO, "up");
    let call_id = text(&up, "call_id").to_string();

    // Let at least 2 s of audio reach the file (the recorder hands it to the OS each second).
    let deadline = Instant::now() + Duration::from_secs(15);
    let file = loop {
        let files = server.recording_files();
        if let [f] = files.as_slice()
            && fs::metadata(f).is_ok_and(|m| m.len() >= 44 + 2 * 32_000)
        {
            break f.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no recording with 2 s of audio within 15 s; files {files:?}; log tail:\n{}",
            server.log_tail(40)
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    server.kill9();
    let before =
        wav_layout(&file).unwrap_or_else(|e| panic!("{} after kill -9: {e}", file.display()));
    // What a crash in the middle of a flush leaves: audio on disk that the header does not
    // count yet, ending in half a sample frame. Start-up must repair it.
    let tail_bytes: Vec<u8> = (0..8002u32).map(|i| (i % 251) as u8).collect();
    fs::OpenOptions::new()
        .append(true)
        .open(&file)
        .and_then(|mut f| std::io::Write::write_all(&mut f, &tail_bytes))
        .expect("append to the recording");
    println!("after kill -9: {before:?}; appended 8002 bytes");
    server.restart();

    let cdr = server.wait_call("in state interrupted", CDR_WAIT, |c| {
        text(c, "call_id") == call_id && text(c, "state") == "interrupted"
    });
    let check = |ok: bool, what: &str| server.check_cdr(&cdr, ok, what);
    check(
        text(&cdr, "hangup_side") == "system",
        "an interrupted call is the system's end",
    );
    check(
        !cdr["ended_at"].is_null(),
        "an interrupted call gets an end time",
    );

    // Start-up repairs recordings in the background: wait (bounded) for a consistent header.
    let deadline = Instant::now() + Duration::from_secs(10);
    let layout = loop {
        let l = wav_layout(&file);
        if let Ok(l) = &l
            && l.riff_size + 8 == l.file_len
            && l.data_offset + l.data_size == l.file_len
        {
            break l.clone();
        }
        assert!(
            Instant::now() < deadline,
            "{} is not a consistent WAV 10 s after restart: {l:?}; log tail:\n{}",
            file.display(),
            server.log_tail(40)
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        (layout.format, layout.channels, layout.rate, layout.bits),
        (1, 2, 8000, 16),
        "{}: expected 8 kHz stereo 16-bit PCM: {layout:?}",
        file.display()
    );
    assert_eq!(
        layout.data_size,
        before.data_size + 8000,
        "repair should count the unflushed audio and cut the half frame: before {before:?}, \
         after {layout:?}"
    );
    let sox = std::process::Command::new("sox")
        .arg(&file)
        .args(["-n", "stat"])
        .output()
        .expect("run sox");
    assert!(
        sox.status.success(),
        "sox cannot read {}: {}",
        file.display(),
        String::from_utf8_lossy(&sox.stderr)
    );
    let wav = read_wav(&file);
    assert!(
        wav.seconds() >= 1.5,
        "{} holds only {:.2} s",
        file.display(),
        wav.seconds()
    );
    let caller_level = rms(&wav.channel(0));
    assert!(
        caller_level > 300.0,
        "the caller channel of the recovered recording is silent (RMS {caller_level:.0})"
    );
}
