//! An agent's blind transfers with real calls (issue 5: "blind transfer (to queue, agent,
//! or number)"). The agents' pages are str0m clients that answer with WebRTC, as the
//! softphone page does, over the agent WebSocket; the caller is SIPp; the number is a SIPp
//! callee. The agent who transfers leaves the call and wraps up; the caller is never
//! dropped: a named agent rings even when another is idle longer, a number that answers
//! talks to the caller through Hotline, and a busy number puts the caller back first in
//! line for the next agent.

mod common;

use common::agents::{AgentWs, add_agent};
use common::webrtc_client::Client;
use common::{
    Hotline, Opts, Sipp, TempDir, assert_sipp_succeeded, free_port_udp_tcp, scenario,
    sipp_media_port, text,
};
use serde_json::json;
use std::time::Duration;
use str0m::format::Codec;

const NUMBER: &str = "4008009000";
const FLOW: &str = "flow: q\nlanguage: en\nstart: q\nnodes:\n  q:\n    enqueue: { queue: support, fallback: bye }\n  bye:\n    hangup: no agent\n";

fn server(flows: &TempDir) -> Hotline {
    std::fs::write(flows.path().join("q.yaml"), FLOW).unwrap();
    Hotline::start(Opts {
        flows_dir: Some(flows.path().to_path_buf()),
        rtp_timeout_secs: Some(0),
        numbers_toml: format!("{NUMBER:?} = {{ flow = \"q\" }}\n"),
        tables_toml: "[[queues]]\nname = \"support\"\nannounce_every_s = 0\nring_timeout_s = 20\n\
                      max_wait_s = 300\nwrap_up_s = 30\n"
            .into(),
        ..Opts::default()
    })
}

/// A caller who stays `secs` and then hangs up (in the background).
fn caller(server: &Hotline, secs: u64) -> Sipp {
    Sipp::spawn(
        TempDir::new("caller"),
        &[
            "-sf",
            &scenario("caller_from.xml"),
            &server.sip.to_string(),
            "-s",
            NUMBER,
            "-set",
            "from",
            "13800138000",
            "-m",
            "1",
            "-d",
            &(secs * 1000).to_string(),
        ],
    )
}

/// The agent's page answers the offer over WebRTC and talks for `secs`.
fn answer(agent: &mut AgentWs, secs: u64) -> (String, Client) {
    let offer = agent.wait_for("offer", Duration::from_secs(10), |_| true);
    let call_id = offer["call_id"].as_str().unwrap().to_string();
    let (mut page, sdp) = Client::offer(&[Codec::PCMU]);
    agent.send(json!({"type": "answer", "call_id": call_id, "sdp": sdp}));
    let answer = agent.wait_for("webrtc_answer", Duration::from_secs(10), |_| true);
    page.accept_answer(answer["sdp"].as_str().unwrap());
    page.run(Duration::from_secs(secs), 1000.0);
    assert!(page.connected.is_some(), "the browser leg connected");
    agent.wait_for("state", Duration::from_secs(5), |v| v["state"] == "on-call");
    (call_id, page)
}

fn transferred(agent: &mut AgentWs, call_id: &str) {
    agent.wait_for("call", Duration::from_secs(5), |v| {
        v["call_id"] == call_id && v["state"] == "transferred"
    });
    agent.wait_for("state", Duration::from_secs(5), |v| v["state"] == "wrap-up");
}

#[test]
fn a_transfer_to_a_named_agent_rings_them_though_another_is_idle_longer() {
    let flows = TempDir::new("flows");
    let server = server(&flows);
    for a in ["ann", "ben", "cai"] {
        add_agent(&server, a, None);
    }
    let mut ann = AgentWs::sign_in(&server, "ann");
    ann.go_available();
    let call = caller(&server, 16);
    let (call_id, _page) = answer(&mut ann, 2);
    let mut ben = AgentWs::sign_in(&server, "ben");
    ben.go_available();
    std::thread::sleep(Duration::from_millis(300));
    let mut cai = AgentWs::sign_in(&server, "cai");
    cai.go_available();

    // Wrong targets are refused and the call stays with Ann.
    ann.send(json!({"type": "transfer", "call_id": call_id, "agent": "zed"}));
    let e = ann.wait_for("error", Duration::from_secs(5), |_| true);
    assert!(e["message"].as_str().unwrap().contains("no agent"), "{e}");
    ann.send(json!({"type": "transfer", "call_id": call_id, "agent": "ann"}));
    let e = ann.wait_for("error", Duration::from_secs(5), |_| true);
    assert!(
        e["message"].as_str().unwrap().contains("on this call"),
        "{e}"
    );

    ann.send(json!({"type": "transfer", "call_id": call_id, "agent": "cai"}));
    transferred(&mut ann, &call_id);
    let (again, page) = answer(&mut cai, 3);
    assert_eq!(again, call_id, "the same caller");
    assert!(
        page.packets_in > 50,
        "Cai hears the caller's side: {}",
        page.packets_in
    );
    assert!(
        ben.poll_for("offer", Duration::from_millis(200), |_| true)
            .is_none(),
        "Ben, idle longer, was not offered the call: {:?}",
        ben.seen
    );

    assert_sipp_succeeded(&call.finish(Duration::from_secs(30)), 1);
    let cdr = &server.cdr_of(&call_id);
    assert_eq!(text(cdr, "agent"), "cai", "{cdr}");
    assert_eq!(text(cdr, "hangup_cause"), "caller hung up (BYE)", "{cdr}");
}

#[test]
fn a_transfer_to_a_number_bridges_the_caller_to_it_and_the_agent_wraps_up() {
    let flows = TempDir::new("flows");
    let server = server(&flows);
    add_agent(&server, "ann", None);
    let port = free_port_udp_tcp("127.0.0.1");
    let callee = Sipp::spawn(
        TempDir::new("callee"),
        &[
            "-sn",
            "uas",
            "-p",
            &port.to_string(),
            "-mp",
            &sipp_media_port(),
            "-rtp_echo",
            "-m",
            "1",
        ],
    );
    let mut ann = AgentWs::sign_in(&server, "ann");
    ann.go_available();
    let call = caller(&server, 12);
    let (call_id, _page) = answer(&mut ann, 2);
    // A number with no trunk that has a proxy cannot be reached: said, call kept.
    ann.send(json!({"type": "transfer", "call_id": call_id, "number": "13900001111"}));
    let e = ann.wait_for("error", Duration::from_secs(5), |_| true);
    assert!(e["message"].as_str().unwrap().contains("trunk"), "{e}");

    let target = format!("sip:1001@127.0.0.1:{port}");
    ann.send(json!({"type": "transfer", "call_id": call_id, "number": target}));
    transferred(&mut ann, &call_id);

    // The caller hangs up at 12 s; Hotline ends the callee's leg too.
    assert_sipp_succeeded(&call.finish(Duration::from_secs(30)), 1);
    assert_sipp_succeeded(&callee.finish(Duration::from_secs(20)), 1);
    let log = server.log_lines(&["transferred-to", "number the agent transferred to"]);
    assert!(log.contains("answered"), "{log}");
    let cdr = &server.cdr_of(&call_id);
    assert_eq!(text(cdr, "agent"), "ann", "the agent who handled it: {cdr}");
    assert_eq!(text(cdr, "hangup_cause"), "caller hung up (BYE)", "{cdr}");
}

#[test]
fn a_busy_number_puts_the_caller_back_first_in_line_for_the_next_agent() {
    let flows = TempDir::new("flows");
    let server = server(&flows);
    add_agent(&server, "ann", None);
    add_agent(&server, "ben", None);
    let port = free_port_udp_tcp("127.0.0.1");
    let callee = Sipp::spawn(
        TempDir::new("callee"),
        &[
            "-sf",
            &scenario("callee_busy.xml"),
            "-p",
            &port.to_string(),
            "-m",
            "1",
        ],
    );
    let mut ann = AgentWs::sign_in(&server, "ann");
    ann.go_available();
    let call = caller(&server, 14);
    let (call_id, _page) = answer(&mut ann, 2);
    let mut ben = AgentWs::sign_in(&server, "ben");
    ben.go_available();
    let target = format!("sip:1001@127.0.0.1:{port}");
    ann.send(json!({"type": "transfer", "call_id": call_id, "number": target}));
    transferred(&mut ann, &call_id);
    assert_sipp_succeeded(&callee.finish(Duration::from_secs(10)), 1);

    let (again, _page) = answer(&mut ben, 2);
    assert_eq!(again, call_id, "the same caller, back from the busy number");
    let log = server.log_lines(&["did not answer"]);
    assert!(log.contains("back first in the queue"), "{log}");
    assert_sipp_succeeded(&call.finish(Duration::from_secs(30)), 1);
    let cdr = &server.cdr_of(&call_id);
    assert_eq!(text(cdr, "agent"), "ben", "{cdr}");
}
