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
