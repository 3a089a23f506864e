//! A browser agent's tab closes in the middle of a call (issue 5, failure cases): the caller
//! is not lost. The agent's page — here a str0m client that answered with WebRTC, as the
//! page does — and its WebSocket vanish; after the reconnect grace (30 s) the caller goes
//! back to the head of the queue, hears hold music, and the next agent's page rings for the
//! same call. The caller's own BYE ends the call long after.

mod common;

use common::agents::{AgentWs, add_agent};
use common::webrtc_client::Client;
use common::{Hotline, Opts, Sipp, TempDir, assert_sipp_succeeded, scenario, text};
use serde_json::json;
use std::time::Duration;
use str0m::format::Codec;

const NUMBER: &str = "4008009000";
const FLOW: &str = "flow: q\nlanguage: en\nstart: q\nnodes:\n  q:\n    enqueue: { queue: support, fallback: bye }\n  bye:\n    hangup: no agent\n";

#[test]
fn a_tab_closed_mid_call_puts_the_caller_back_at_the_head_for_the_next_agent() {
    let flows = TempDir::new("flows");
    std::fs::write(flows.path().join("q.yaml"), FLOW).unwrap();
    let server = Hotline::start(Opts {
        flows_dir: Some(flows.path().to_path_buf()),
        rtp_timeout_secs: Some(0),
        numbers_toml: format!("{NUMBER:?} = {{ flow = \"q\" }}\n"),
        tables_toml: "[[queues]]\nname = \"support\"\nannounce_every_s = 0\nring_timeout_s = 30\n\
                      max_wait_s = 300\n"
            .into(),
        ..Opts::default()
    });
    add_agent(&server, "ann", None);
    add_agent(&server, "ben", None);
    let mut ann = AgentWs::sign_in(&server, "ann");
    ann.go_available();

    // A caller who stays 50 s.
    let target = server.sip.to_string();
    let caller = Sipp::spawn(
        TempDir::new("caller"),
        &[
            "-sf",
            &scenario("caller_from.xml"),
            &target,
            "-s",
            NUMBER,
            "-set",
            "from",
            "13800138000",
            "-m",
            "1",
            "-d",
            "50000",
        ],
    );

    // Ann answers in her "browser" and talks for 2 s.
    let offer = ann.wait_for("offer", Duration::from_secs(10), |_| true);
    let call_id = offer["call_id"].as_str().unwrap().to_string();
    let (mut page, sdp) = Client::offer(&[Codec::PCMU]);
    ann.send(json!({"type": "answer", "call_id": call_id, "sdp": sdp}));
    let answer = ann.wait_for("webrtc_answer", Duration::from_secs(10), |_| true);
    page.accept_answer(answer["sdp"].as_str().unwrap());
    page.run(Duration::from_secs(2), 1000.0);
    assert!(page.connected.is_some(), "the browser leg connected");
    ann.wait_for("state", Duration::from_secs(5), |v| v["state"] == "on-call");

    // The tab closes: page and WebSocket gone.
    drop(page);
    drop(ann);
    let mut ben = AgentWs::sign_in(&server, "ben");
    ben.go_available();
    // Within the grace Ben gets nothing: Ann may still come back.
    assert!(
        ben.poll_for("offer", Duration::from_secs(20), |_| true)
            .is_none(),
        "no re-offer during the grace: {:?}",
        ben.seen
    );
    let again = ben.wait_for("offer", Duration::from_secs(20), |_| true);
    assert_eq!(
        again["call_id"],
        call_id.as_str(),
        "the same caller: {again}"
    );
    let log = server.log_lines(&["caller back in the queue"]);
    assert!(log.contains("lost their connection"), "{log}");

    // The caller was never dropped: it hangs up itself at 50 s.
    assert_sipp_succeeded(&caller.finish(Duration::from_secs(60)), 1);
    let cdr = &server.cdr_of(&call_id);
    assert_eq!(text(cdr, "hangup_cause"), "caller hung up (BYE)", "{cdr}");
}
