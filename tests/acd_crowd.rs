//! 20 callers and 3 agents with real calls (issue 5, failure cases: "nobody stuck, every
//! caller served or overflowed, stats add up"). Twenty SIPp callers arrive within two
//! seconds and wait as long as it takes; three agents — str0m pages that answer over WebRTC
//! through the agent WebSocket, as the softphone does — take calls one after another: talk
//! 3 s, hang up, wrap up, available again. Callers still waiting after `max_wait_s` leave the
//! queue for the flow's fallback, which says goodbye and hangs up.
//!
//! At the end: every caller's CDR exists and is either answered by an agent or overflowed;
//! no agent is left ringing, on a call or in wrap-up; and the queue's figures match the
//! CDRs (offered = answered + abandoned + overflowed, answered = CDRs with an agent).

mod common;

use common::agents::{AgentWs, add_agent};
use common::webrtc_client::Client;
use common::{Hotline, Opts, TempDir, assert_sipp_succeeded, http_get, scenario, sipp_in, text};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use str0m::format::Codec;

const NUMBER: &str = "4008009000";
const CALLERS: usize = 20;
const FLOW: &str = "flow: q\nlanguage: en\nstart: q\nnodes:\n  q:\n    enqueue: { queue: support, fallback: bye }\n  bye:\n    hangup: no agent in time\n";
const QUEUES: &str = "[[queues]]\nname = \"support\"\nstrategy = \"longest-idle\"\nannounce_every_s = 0\n\
                      ring_timeout_s = 10\nwrap_up_s = 30\nmax_wait_s = 12\noverflow = \"fallback\"\n";

/// One agent's shift: take offers until none comes for `idle` (bounded by `until`).
fn shift(server: Arc<Hotline>, login: &'static str, until: Instant) -> (usize, Vec<Value>) {
    let mut agent = AgentWs::sign_in(&server, login);
    agent.go_available();
    let mut served = 0;
    while Instant::now() < until {
        let Some(offer) = agent.poll_for("offer", Duration::from_secs(8), |_| true) else {
            break;
        };
        let call_id = offer["call_id"].as_str().unwrap().to_string();
        let (mut page, sdp) = Client::offer(&[Codec::PCMU]);
        page.decode = false;
        agent.send(json!({"type": "answer", "call_id": call_id, "sdp": sdp}));
        let Some(answer) = agent.poll_for("webrtc_answer", Duration::from_secs(5), |v| {
            v["call_id"] == call_id.as_str() || v.get("call_id").is_none()
        }) else {
            continue; // the caller left before the answer: the next offer
        };
        page.accept_answer(answer["sdp"].as_str().unwrap());
        page.run(Duration::from_secs(3), 700.0);
        agent.send(json!({"type": "hangup", "call_id": call_id}));
        agent.wait_for("state", Duration::from_secs(5), |v| v["state"] == "wrap-up");
        agent.send(json!({"type": "wrap_up", "call_id": call_id, "disposition": "resolved"}));
        agent.wait_for("state", Duration::from_secs(5), |v| {
            v["state"] == "available"
        });
        served += 1;
    }
    (served, agent.seen)
}

#[test]
fn twenty_callers_three_agents_everyone_served_or_overflowed_and_the_figures_add_up() {
    let flows = TempDir::new("flows");
    std::fs::write(flows.path().join("q.yaml"), FLOW).unwrap();
    let server = Arc::new(Hotline::start(Opts {
        flows_dir: Some(flows.path().to_path_buf()),
        rtp_timeout_secs: Some(0),
        record: Some(false),
        numbers_toml: format!("{NUMBER:?} = {{ flow = \"q\" }}\n"),
        tables_toml: QUEUES.into(),
        ..Opts::default()
    }));
    let logins = ["ann", "ben", "cai"];
    for a in logins {
        add_agent(&server, a, None);
    }
    let until = Instant::now() + Duration::from_secs(90);
    let agents: Vec<_> = logins
        .into_iter()
        .map(|login| {
            let server = server.clone();
            std::thread::spawn(move || shift(server, login, until))
        })
        .collect();
    std::thread::sleep(Duration::from_secs(1));

    // Twenty callers at 10 per second, each waiting for Hotline to hang up.
    let started = Instant::now();
    let run = sipp_in(
        TempDir::new("callers"),
        &[
            "-sf",
            &scenario("caller_until_bye.xml"),
            &server.sip.to_string(),
            "-s",
            NUMBER,
            "-m",
            &CALLERS.to_string(),
            "-l",
            &CALLERS.to_string(),
            "-r",
            "10",
        ],
    );
    assert_sipp_succeeded(&run, CALLERS as u64);
    let took = started.elapsed();
    let served: Vec<usize> = agents
        .into_iter()
        .map(|a| a.join().expect("agent thread").0)
        .collect();

    // Every caller has a CDR: served by an agent, or overflowed to the fallback.
    let deadline = Instant::now() + Duration::from_secs(20);
    let cdrs = loop {
        let calls = server.calls();
        let ended: Vec<Value> = calls
            .into_iter()
            .filter(|c| text(c, "state") == "ended" && text(c, "queue") == "support")
            .collect();
        if ended.len() >= CALLERS || Instant::now() > deadline {
            break ended;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(cdrs.len(), CALLERS, "{cdrs:#?}");
    let answered = cdrs.iter().filter(|c| !text(c, "agent").is_empty()).count();
    let overflowed = cdrs
        .iter()
        .filter(|c| {
            text(c, "agent").is_empty() && text(c, "ivr_path").contains("q(unavailable)>bye")
        })
        .count();
    assert_eq!(
        answered + overflowed,
        CALLERS,
        "each caller served or overflowed: {cdrs:#?}"
    );
    assert_eq!(
        answered,
        served.iter().sum::<usize>(),
        "agents' count vs CDRs"
    );
    assert!(
        answered >= 6,
        "three agents serve several callers each: {answered}"
    );
    assert!(
        overflowed >= 1,
        "12 s max wait cannot serve all 20: {overflowed}"
    );
    for c in cdrs.iter().filter(|c| !text(c, "agent").is_empty()) {
        assert_eq!(text(c, "disposition"), "resolved", "{c}");
    }

    // Nobody stuck: every agent is available, nobody waits, and the figures add up.
    let (code, body) = http_get(server.http, "/api/v1/queues/stats").unwrap();
    assert_eq!(code, 200);
    let stats: Value = serde_json::from_str(&body).unwrap();
    let q = stats
        .as_array()
        .and_then(|a| a.iter().find(|q| q["queue"] == "support"))
        .unwrap_or_else(|| panic!("no support queue in {stats}"))
        .clone();
    assert_eq!(q["waiting"], 0, "{q}");
    assert_eq!(q["agents"], json!({"available": 3}), "nobody stuck: {q}");
    let today = &q["today"];
    let n = |k: &str| today[k].as_u64().unwrap_or(u64::MAX);
    assert_eq!(n("offered"), CALLERS as u64, "{q}");
    assert_eq!(n("answered") as usize, answered, "{q}");
    assert_eq!(n("overflowed") as usize, overflowed, "{q}");
    assert_eq!(
        n("offered"),
        n("answered") + n("abandoned") + n("overflowed"),
        "{q}"
    );
    eprintln!(
        "20 callers, 3 agents: {answered} served ({served:?} per agent), {overflowed} overflowed, \
         in {took:.1?}; ASA {} s, service level {} %",
        today["asa_s"], today["service_level_pct"]
    );
}
