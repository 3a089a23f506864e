//! Region and dialect routing with real calls (issue 5, from the seeds: a caller from Sichuan
//! reaches an agent who speaks Sichuanese). Two agents signed in over the agent WebSocket
//! (their pages; nobody answers here): a Mandarin speaker, free the longest, and a Sichuanese
//! speaker. A caller from a Chengdu mobile number is offered to the Sichuanese speaker, with
//! the region on the screen pop; a caller from Guangzhou goes to the longest idle.

mod common;

use common::agents::{AgentWs, add_agent_with_skills};
use common::{Hotline, Opts, Sipp, TempDir, scenario};
use std::time::Duration;

const NUMBER: &str = "4008009000";

const FLOW: &str = r#"flow: queue-test
language: zh
start: q
nodes:
  q:
    enqueue: { queue: orders, fallback: bye }
  bye:
    hangup: no agent
"#;

const QUEUES: &str = r#"[[queues]]
name = "orders"
strategy = "skills"
steps = [{ after_s = 0, require = ["lang:zh>=3"] }]
ring_timeout_s = 20
announce_every_s = 0
"#;

/// A caller from `from` who stays 4 s (in the background).
fn call_from(server: &Hotline, from: &str) -> Sipp {
    let target = server.sip.to_string();
    Sipp::spawn(
        TempDir::new("caller"),
        &[
            "-sf",
            &scenario("caller_from.xml"),
            &target,
            "-s",
            NUMBER,
            "-set",
            "from",
            from,
            "-m",
            "1",
            "-d",
            "4000",
        ],
    )
}

#[test]
fn a_sichuan_caller_is_offered_to_the_agent_who_speaks_sichuanese() {
    let flows = TempDir::new("flows");
    std::fs::write(flows.path().join("queue-test.yaml"), FLOW).unwrap();
    let server = Hotline::start(Opts {
        flows_dir: Some(flows.path().to_path_buf()),
        rtp_timeout_secs: Some(0),
        numbers_toml: format!("{NUMBER:?} = {{ flow = \"queue-test\" }}\n"),
        tables_toml: QUEUES.into(),
        ..Opts::default()
    });
    add_agent_with_skills(&server, "mandarin", None, "lang:zh=5");
    add_agent_with_skills(&server, "chuan", None, "lang:zh=3,dialect:sichuan=4");
    let mut mandarin = AgentWs::sign_in(&server, "mandarin");
    mandarin.go_available();
    std::thread::sleep(Duration::from_millis(300));
    let mut chuan = AgentWs::sign_in(&server, "chuan");
    chuan.go_available();

    // A Chengdu mobile (四川 成都): the Sichuanese speaker, though the other is idle longer.
    let caller = call_from(&server, "15202881234");
    let offer = chuan.wait_for("offer", Duration::from_secs(10), |_| true);
    assert_eq!(offer["region"], "四川 成都 · 中国移动", "{offer}");
    assert!(
        mandarin
            .poll_for("offer", Duration::from_millis(500), |_| true)
            .is_none(),
        "the Mandarin agent must not ring: {:?}",
        mandarin.seen
    );
    let log = server.log_lines(&["caller queued"]);
    assert!(log.contains("dialect=Some(\"sichuan\")"), "{log}");
    drop(caller.finish(Duration::from_secs(20)));
    chuan.wait_for("offer_withdrawn", Duration::from_secs(10), |_| true);

    // A Guangzhou mobile: nobody speaks Cantonese, so the longest idle takes it.
    let caller = call_from(&server, "13500001111");
    let offer = mandarin.wait_for("offer", Duration::from_secs(10), |_| true);
    assert_eq!(offer["region"], "广东 广州 · 中国移动", "{offer}");
    drop(caller.finish(Duration::from_secs(20)));
}

/// Failures while ringing: the first agent lets it ring out (set away "no-answer", the
/// call goes on to the next), the next closes their tab while it rings (the offer is
/// withdrawn), and with nobody left the caller takes the flow's fallback — no agent stuck
/// ringing, no caller stuck waiting.
#[test]
fn ring_no_answer_then_a_closed_tab_then_nobody_left_sends_the_caller_to_the_fallback() {
    let flows = TempDir::new("flows");
    std::fs::write(flows.path().join("queue-test.yaml"), FLOW).unwrap();
    let mut server = Hotline::start(Opts {
        flows_dir: Some(flows.path().to_path_buf()),
        rtp_timeout_secs: Some(0),
        numbers_toml: format!("{NUMBER:?} = {{ flow = \"queue-test\" }}\n"),
        tables_toml: QUEUES.replace(
            "ring_timeout_s = 20",
            "ring_timeout_s = 3\nno_agents = \"callback\"",
        ),
        ..Opts::default()
    });
    add_agent_with_skills(&server, "first", None, "lang:zh=5");
    add_agent_with_skills(&server, "second", None, "lang:zh=5");
    let mut first = AgentWs::sign_in(&server, "first");
    first.go_available();
    std::thread::sleep(Duration::from_millis(300));
    let mut second = AgentWs::sign_in(&server, "second");
    second.go_available();

    let caller = call_from(&server, "01062345678");
    let offer = first.wait_for("offer", Duration::from_secs(10), |_| true);
    assert_eq!(offer["region"], "北京", "a Beijing landline: {offer}");
    assert_eq!(offer["ring_timeout_s"], 3, "the queue's ring time: {offer}");
    // Nobody answers on the first page: after 3 s it stops ringing there…
    first.wait_for("offer_withdrawn", Duration::from_secs(6), |_| true);
    assert!(
        first
            .seen
            .iter()
            .any(|v| v["type"] == "state" && v["state"] == "away" && v["reason"] == "no-answer"),
        "the agent who let it ring is set away: {:?}",
        first.seen
    );
    // …and rings on the second, whose tab then closes.
    second.wait_for("offer", Duration::from_secs(3), |_| true);
    drop(second);
    let run = caller.finish(Duration::from_secs(20));
    let cdr = server.wait_call("ended", Duration::from_secs(30), |c| {
        common::text(c, "state") == "ended"
    });
    let path = common::text(&cdr, "ivr_path").to_string();
    server.check_cdr(
        &cdr,
        path == "q(unavailable)>bye",
        &format!("with both agents gone the caller took the fallback: {path}"),
    );
    // The caller's number is kept for a callback, and signed-in agents see it.
    let cbs = first.wait_for("callbacks", Duration::from_secs(5), |v| {
        v["items"].as_array().is_some_and(|a| !a.is_empty())
    });
    assert_eq!(cbs["items"][0]["number"], "010****5678", "{cbs}");
    assert_eq!(cbs["items"][0]["queue"], "orders", "{cbs}");
    drop(run);
    let (code, body) = common::http_get(server.http, "/api/v1/queues/stats").unwrap();
    assert_eq!(code, 200);
    let stats: serde_json::Value = serde_json::from_str(&body).unwrap();
    let q = &stats[0];
    assert_eq!(q["waiting"], 0, "{q}");
    assert_eq!(q["today"]["offered"], 1, "{q}");
    assert_eq!(q["today"]["overflowed"], 1, "{q}");
    assert_eq!(q["agents"]["away"], 2, "no agent left ringing: {q}");
}
