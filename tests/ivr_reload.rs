//! Hot reload on live calls (issue 4): a valid edit of a flow file takes effect for the next
//! call within 2 s while a call in progress finishes on the version it started with; a
//! broken edit then keeps the last good version in service and is reported with its
//! position. Paths in the CDRs tell which version each call ran.
//! SIPp plays pcaps through a raw socket, so these tests need root (as here and in CI).

mod common;

use common::audio::{PcapWriter, ulaw_encode};
use common::{
    Hotline, Opts, Sipp, TempDir, assert_sipp_succeeded, http_get, scenario, sipp_dir_with_pcaps,
    sipp_media_port, text,
};
use serde_json::Value;
use std::time::{Duration, Instant};

const NUMBER: &str = "4008007000";

fn flow(version: &str) -> String {
    format!(
        r#"flow: reload-test
language: en
start: menu
nodes:
  menu:
    gather:
      prompt: [{{ beep: true }}]
      max_digits: 1
      first_digit_timeout: 20s
    menu: {{ "1": {version} }}
  {version}:
    say: "This is {version}."
    next: hold
  hold:
    gather:
      prompt: [{{ beep: true }}]
      max_digits: 1
      first_digit_timeout: 20s
    next: bye
  bye:
    hangup: normal
"#
    )
}

/// A caller who waits `wait_s`, presses 1, and hangs up at `len_s` (in the background).
fn caller(server: &Hotline, wait_s: f64, len_s: f64) -> Sipp {
    let dir = sipp_dir_with_pcaps();
    let mut pcap = PcapWriter::new(0x7e10_ad00);
    let silence = |s: f64| vec![0i16; (s * 8000.0) as usize];
    pcap.audio(0, &silence(wait_s), ulaw_encode);
    pcap.event(101, '1');
    pcap.audio(0, &silence(len_s - wait_s), ulaw_encode);
    pcap.write(&dir.path().join("pcap/ivr_caller.pcap"));
    let (target, mp, d) = (
        server.sip.to_string(),
        sipp_media_port(),
        ((len_s * 1000.0) as u64).to_string(),
    );
    Sipp::spawn(
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
    )
}

/// The flow's status in `GET /api/v1/flows` once `ready` holds (at most 2 s).
fn status_within_2s(server: &Hotline, ready: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let (code, body) = http_get(server.http, "/api/v1/flows").expect("GET /api/v1/flows");
        assert_eq!(code, 200, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        if ready(&v[0]) {
            return v[0].clone();
        }
        assert!(
            Instant::now() < deadline,
            "the edit was not picked up within 2 s: {v}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn paths(server: &Hotline) -> Vec<String> {
    let mut calls = server.calls();
    calls.sort_by(|a, b| text(a, "started_at").cmp(text(b, "started_at")));
    calls
        .iter()
        .filter(|c| text(c, "state") == "ended")
        .map(|c| text(c, "ivr_path").to_string())
        .collect()
}

#[test]
fn edits_reach_the_next_call_while_the_call_in_progress_keeps_its_version() {
    let flows = TempDir::new("flows");
    let file = flows.path().join("reload-test.yaml");
    std::fs::write(&file, flow("v1")).unwrap();
    let server = Hotline::start(Opts {
        flows_dir: Some(flows.path().to_path_buf()),
        rtp_timeout_secs: Some(0),
        numbers_toml: format!("{NUMBER:?} = {{ flow = \"reload-test\" }}\n"),
        ..Opts::default()
    });
    let first = status_within_2s(&server, |s| s["flow"] == "reload-test");
    let loaded_v1 = first["loaded_at"].as_str().unwrap_or("").to_string();

    // Call 1 starts on v1 and waits in the menu while the file changes under it.
    let call1 = caller(&server, 4.0, 6.0);
    std::thread::sleep(Duration::from_millis(1500));
    // Different length too, so the file's fingerprint changes even within one mtime tick.
    std::fs::write(&file, flow("v2_edited")).unwrap();
    status_within_2s(&server, |s| {
        s["loaded_at"].as_str().is_some_and(|t| t != loaded_v1) && s["error"].is_null()
    });
    // Call 2 starts after the edit.
    let call2 = caller(&server, 1.0, 3.0);
    assert_sipp_succeeded(&call2.finish(Duration::from_secs(30)), 1);
    assert_sipp_succeeded(&call1.finish(Duration::from_secs(30)), 1);

    // A broken edit: call 3 still runs the last good version; the error has a position.
    std::fs::write(&file, format!("{}\n  oops: [\n", flow("v3"))).unwrap();
    let broken = status_within_2s(&server, |s| s["error"].is_string());
    let err = broken["error"].as_str().unwrap();
    assert!(
        err.contains("reload-test.yaml:"),
        "the error names file:line:col: {err}"
    );
    let call3 = caller(&server, 1.0, 3.0);
    assert_sipp_succeeded(&call3.finish(Duration::from_secs(30)), 1);

    let deadline = Instant::now() + Duration::from_secs(20);
    let mut got = paths(&server);
    while got.len() < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(300));
        got = paths(&server);
    }
    assert_eq!(got.len(), 3, "three calls ended: {got:?}");
    // Sorted by start: call 1 (v1, started before the edit), call 2 and call 3 (v2).
    assert!(got[0].contains("v1"), "call 1 kept v1: {got:?}");
    assert!(got[1].contains("v2_edited"), "call 2 ran the edit: {got:?}");
    assert!(
        got[2].contains("v2_edited"),
        "call 3 ran the last good version: {got:?}"
    );
}
