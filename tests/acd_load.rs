//! 20 callers and 3 agents under load, with real calls (issue 5, failure cases: "nobody
//! stuck, every caller served or overflowed, stats add up").
//!
//! Twenty SIPp callers, each its own process with its own number (138001380NN), dial a
//! queue within three seconds. Each would wait up to 50 s, but the queue's `max_wait_s` is
//! 25 s: whoever is still waiting then leaves for the flow's fallback, which hangs up.
//! Three agents, each in its own thread, work the queue over the agent WebSocket as the
//! softphone page does: take the offer, answer with a str0m WebRTC client (the browser's
//! side), talk 5 s, hang up, wrap up with a disposition, available again. One of them (cai)
//! lets each offer ring 2.5 s before answering, so callers reaching the maximum wait while
//! ringing there are withdrawn from the page as they overflow. Three agents at over 5 s a
//! call can serve at most 18 callers in 25 s, so some callers always overflow.
//!
//! While the calls run, every published snapshot of `GET /api/v1/queues/stats` must
//! balance: offered = answered + abandoned + overflowed + waiting, and the three agents
//! are always counted once. At the end: every caller's SIPp run succeeded and every caller
//! has exactly one CDR, either served by the agent who took the call (disposition saved)
//! or overflowed after the maximum wait; all three agents are available, nobody waits, and
//! the queue's figures equal the CDRs'.

mod common;

use common::agents::{AgentWs, add_agent};
use common::webrtc_client::Client;
use common::{
    Hotline, Opts, Sipp, SippRun, TempDir, free_port_udp_tcp, http_get, num, scenario, show_calls,
    sipp_media_port, text,
};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};
use str0m::format::Codec;

const NUMBER: &str = "4008009000";
const CALLERS: usize = 20;
const AGENTS: [&str; 3] = ["ann", "ben", "cai"];
/// The queue's maximum wait; the callers' own patience (50 s, in the scenario) is longer.
const MAX_WAIT_S: u64 = 25;
/// How long an agent talks to each caller.
const TALK: Duration = Duration::from_secs(5);
const DISPOSITION: &str = "resolved";
/// This agent lets each offer ring this long before answering.
const HESITANT: &str = "cai";
const HESITATION: Duration = Duration::from_millis(2500);

const FLOW: &str = r#"flow: q
language: en
start: q
nodes:
  q:
    enqueue: { queue: support, fallback: bye }
  bye:
    hangup: no agent in time
"#;

fn queues_toml() -> String {
    format!(
        "[[queues]]\nname = \"support\"\nstrategy = \"longest-idle\"\nannounce_every_s = 0\n\
         ring_timeout_s = 10\nwrap_up_s = 10\nmax_wait_s = {MAX_WAIT_S}\noverflow = \"fallback\"\n"
    )
}

/// The number of caller `i` (1-based): 13800138001 … 13800138020.
fn caller_number(i: usize) -> String {
    format!("138001380{i:02}")
}

/// An agent's WebSocket with lookups over everything it has received, so an event that
/// arrives while the agent waits for another (an offer right behind a state change) is
/// never lost.
struct Desk {
    ws: AgentWs,
}

impl Desk {
    /// The first event at index `from` or later matching `pred`, reading more for up to
    /// `wait`: (its index, the event).
    fn find(
        &mut self,
        from: usize,
        wait: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Option<(usize, Value)> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(i) = (from..self.ws.seen.len()).find(|&i| pred(&self.ws.seen[i])) {
                return Some((i, self.ws.seen[i].clone()));
            }
            if Instant::now() >= deadline {
                return None;
            }
            // Reads whatever comes for 100 ms into `seen` (no event has this type).
            let _ = self
                .ws
                .poll_for("\u{0}", Duration::from_millis(100), |_| false);
        }
    }

    /// As [`Desk::find`], panicking with the agent's events when nothing matches in time.
    fn expect(
        &mut self,
        login: &str,
        what: &str,
        from: usize,
        wait: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> (usize, Value) {
        self.find(from, wait, pred).unwrap_or_else(|| {
            panic!(
                "agent {login}: no {what} within {wait:?}; events:\n{}",
                show_calls(&self.ws.seen[from.min(self.ws.seen.len())..])
            )
        })
    }
}

fn is(v: &Value, kind: &str, call_id: &str) -> bool {
    v["type"] == kind && v["call_id"] == call_id
}

/// What one agent did in their shift.
struct Shift {
    login: &'static str,
    /// Calls answered, talked, hung up and wrapped up.
    served: Vec<String>,
    /// Offers that went away before the answer took (the caller overflowed meanwhile).
    missed: Vec<(String, Value)>,
    /// Still signed in: the page stays open until the test has checked the end state.
    desk: Desk,
}

/// One agent's shift: take every offer until the callers are gone (`done`), bounded by
/// `until` and by the number of callers.
fn shift(
    server: Arc<Hotline>,
    login: &'static str,
    ready: mpsc::Sender<()>,
    done: Arc<AtomicBool>,
    until: Instant,
) -> Shift {
    let mut desk = Desk {
        ws: AgentWs::sign_in(&server, login),
    };
    desk.ws.go_available();
    let _ = ready.send(());
    let mut served = Vec::new();
    let mut missed = Vec::new();
    let mut next = desk.ws.seen.len();
    for _ in 0..CALLERS {
        let offer = loop {
            if let Some(found) =
                desk.find(next, Duration::from_millis(500), |v| v["type"] == "offer")
            {
                break Some(found);
            }
            if done.load(Ordering::SeqCst) || Instant::now() >= until {
                break None;
            }
        };
        let Some((at, offer)) = offer else { break };
        next = at + 1;
        let call_id = offer["call_id"].as_str().unwrap_or_default().to_string();
        assert!(
            !call_id.is_empty(),
            "agent {login}: an offer without call_id: {offer}"
        );

        // One agent reads the screen pop before answering; a caller reaching the maximum
        // wait meanwhile leaves the queue, and the offer is withdrawn.
        if login == HESITANT
            && let Some((_, gone)) =
                desk.find(at + 1, HESITATION, |v| is(v, "offer_withdrawn", &call_id))
        {
            desk.expect(
                login,
                "available after a withdrawn offer",
                next,
                Duration::from_secs(5),
                |v| v["type"] == "state" && v["state"] == "available",
            );
            missed.push((call_id, gone));
            continue;
        }

        // Answer in the "browser": the page's WebRTC offer goes with the answer.
        let (mut page, sdp) = Client::offer(&[Codec::PCMU]);
        desk.ws
            .send(json!({"type": "answer", "call_id": call_id, "sdp": sdp}));
        let (at, reply) = desk.expect(
            login,
            "reply to the answer",
            at + 1,
            Duration::from_secs(10),
            |v| {
                is(v, "webrtc_answer", &call_id)
                    || is(v, "offer_withdrawn", &call_id)
                    || v["type"] == "error"
            },
        );
        if reply["type"] != "webrtc_answer" {
            // The caller reached the maximum wait as the agent answered: the agent must be
            // available again for the next offer.
            desk.expect(
                login,
                "available after a lost offer",
                next,
                Duration::from_secs(5),
                |v| v["type"] == "state" && v["state"] == "available",
            );
            missed.push((call_id, reply));
            continue;
        }
        page.accept_answer(reply["sdp"].as_str().unwrap_or_default());
        page.run(TALK, 440.0);
        assert!(
            page.connected.is_some(),
            "agent {login}: the browser leg of {call_id} never connected"
        );

        // Hang up, wrap up with a disposition, available again.
        desk.ws.send(json!({"type": "hangup", "call_id": call_id}));
        let (at, _) = desk.expect(login, "wrap-up", at + 1, Duration::from_secs(10), |v| {
            v["type"] == "state" && v["state"] == "wrap-up" && v["call_id"] == call_id.as_str()
        });
        desk.ws.send(json!({
            "type": "wrap_up", "call_id": call_id, "disposition": DISPOSITION,
            "notes": format!("load test, {login}"),
        }));
        desk.expect(
            login,
            "available after wrap-up",
            at + 1,
            Duration::from_secs(5),
            |v| v["type"] == "state" && v["state"] == "available",
        );
        // The next offer is looked for from just after this one (`next`), so one that came
        // in among the state events is not skipped.
        served.push(call_id);
    }
    let errors: Vec<&Value> = desk
        .ws
        .seen
        .iter()
        .filter(|v| v["type"] == "error")
        .filter(|v| {
            // An answer that crossed the withdrawal is refused: that is expected.
            let m = v["message"].as_str().unwrap_or("");
            !missed.iter().any(|(id, _)| m.contains(id.as_str()))
        })
        .collect();
    assert!(errors.is_empty(), "agent {login}: errors {errors:?}");
    let away: Vec<&Value> = desk
        .ws
        .seen
        .iter()
        .filter(|v| v["type"] == "state")
        .filter(|v| {
            let state = v["state"].as_str().unwrap_or("");
            !["available", "ringing", "on-call", "wrap-up"].contains(&state)
        })
        .collect();
    assert!(
        away.is_empty(),
        "agent {login} left the cycle (away, signed out): {away:?}"
    );
    Shift {
        login,
        served,
        missed,
        desk,
    }
}

/// The `support` entry of `GET /api/v1/queues/stats`.
fn support_stats(server: &Hotline) -> Value {
    let (code, body) = http_get(server.http, "/api/v1/queues/stats").expect("GET queue stats");
    assert_eq!(code, 200, "{body}");
    let stats: Value = serde_json::from_str(&body).expect("stats are JSON");
    stats
        .as_array()
        .and_then(|a| a.iter().find(|q| q["queue"] == "support"))
        .cloned()
        .unwrap_or_else(|| panic!("no support queue in {stats}"))
}

fn count(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} is not a count in {v}"))
}

/// A snapshot balances: every call offered is answered, abandoned, overflowed or still
/// waiting, and each of the three agents is in exactly one state.
fn check_balance(q: &Value) {
    let t = &q["today"];
    assert_eq!(
        count(t, "offered"),
        count(t, "answered") + count(t, "abandoned") + count(t, "overflowed") + count(q, "waiting"),
        "offered = answered + abandoned + overflowed + waiting: {q}"
    );
    let agents: u64 = q["agents"]
        .as_object()
        .map(|m| m.values().filter_map(Value::as_u64).sum())
        .unwrap_or(0);
    assert_eq!(agents, AGENTS.len() as u64, "each agent counted once: {q}");
}

#[test]
fn twenty_callers_three_agents_nobody_stuck_every_caller_served_or_overflowed_figures_add_up() {
    let t0 = Instant::now();
    let flows = TempDir::new("flows");
    std::fs::write(flows.path().join("q.yaml"), FLOW).unwrap();
    let server = Arc::new(Hotline::start(Opts {
        flows_dir: Some(flows.path().to_path_buf()),
        rtp_timeout_secs: Some(0),
        record: Some(false),
        numbers_toml: format!("{NUMBER:?} = {{ flow = \"q\" }}\n"),
        tables_toml: queues_toml(),
        ..Opts::default()
    }));
    for a in AGENTS {
        add_agent(&server, a, None);
    }

    // Three agents, each in their own thread, signed in and available.
    let (ready, signed_in) = mpsc::channel();
    let done = Arc::new(AtomicBool::new(false));
    let until = Instant::now() + Duration::from_secs(100);
    let agents: Vec<_> = AGENTS
        .into_iter()
        .map(|login| {
            let (server, ready, done) = (server.clone(), ready.clone(), done.clone());
            std::thread::Builder::new()
                .name(format!("agent-{login}"))
                .spawn(move || shift(server, login, ready, done, until))
                .unwrap()
        })
        .collect();
    for _ in AGENTS {
        signed_in
            .recv_timeout(Duration::from_secs(20))
            .expect("the three agents sign in and go available (see an agent's panic above)");
    }
    let before = support_stats(&server);
    assert_eq!(before["agents"], json!({"available": 3}), "{before}");
    assert_eq!(count(&before["today"], "offered"), 0, "{before}");

    // Twenty callers, one every 150 ms, each its own SIPp with its own number and ports.
    let started = Instant::now();
    let sf = scenario("caller_from_until_bye.xml");
    let target = server.sip.to_string();
    // One block of 100 media ports for all of them (SIPp binds -mp and -mp+2), so the
    // callers take a single block of the peers' range, as one SIPp would.
    let media_base: u16 = sipp_media_port().parse().expect("a port");
    let mut callers: Vec<(String, Sipp)> = Vec::new();
    for i in 1..=CALLERS {
        let from = caller_number(i);
        let port = free_port_udp_tcp("127.0.0.1").to_string();
        let mp = (media_base + 4 * (i as u16 - 1)).to_string();
        let sipp = Sipp::spawn(
            TempDir::new("caller"),
            &[
                "-sf", &sf, &target, "-s", NUMBER, "-set", "from", &from, "-m", "1", "-p", &port,
                "-mp", &mp,
            ],
        );
        callers.push((from, sipp));
        std::thread::sleep(Duration::from_millis(150));
    }

    // While they run, every snapshot of the figures balances.
    let mut snapshots = 0;
    let mut most_waiting = 0;
    let watch_until = Instant::now() + Duration::from_secs(70);
    while Instant::now() < watch_until && callers.iter_mut().any(|(_, s)| s.is_running()) {
        let q = support_stats(&server);
        check_balance(&q);
        most_waiting = most_waiting.max(count(&q, "waiting"));
        snapshots += 1;
        std::thread::sleep(Duration::from_millis(500));
    }
    let runs: Vec<(String, SippRun)> = callers
        .into_iter()
        .map(|(from, s)| (from, s.finish(Duration::from_secs(15))))
        .collect();
    let took = started.elapsed();
    done.store(true, Ordering::SeqCst);
    let mut shifts: Vec<Shift> = agents
        .into_iter()
        .map(|a| {
            a.join()
                .expect("an agent's thread failed (see its panic above)")
        })
        .collect();

    // Every caller's SIPp call succeeded, whichever side hung up.
    let failed: Vec<String> = runs
        .iter()
        .filter(|(_, r)| {
            r.code != Some(0)
                || r.stat("SuccessfulCall(C)") != Some(1)
                || r.stat("FailedCall(C)") != Some(0)
        })
        .map(|(from, r)| format!("caller {from}:\n{}", r.report()))
        .collect();
    assert!(failed.is_empty(), "{}", failed.join("\n\n"));

    // Exactly one ended CDR per caller number.
    let numbers: BTreeSet<String> = (1..=CALLERS).map(caller_number).collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    let cdrs: Vec<Value> = loop {
        let mine: Vec<Value> = server
            .calls()
            .into_iter()
            .filter(|c| numbers.iter().any(|n| text(c, "from").contains(n.as_str())))
            .collect();
        let ended = mine.iter().filter(|c| text(c, "state") == "ended").count();
        if ended >= CALLERS || Instant::now() > deadline {
            break mine;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let all = show_calls(&cdrs);
    for n in &numbers {
        let of_n: Vec<&Value> = cdrs
            .iter()
            .filter(|c| text(c, "from").contains(n.as_str()))
            .collect();
        assert_eq!(of_n.len(), 1, "one CDR for caller {n}:\n{all}");
        assert_eq!(text(of_n[0], "state"), "ended", "caller {n}:\n{all}");
        assert_eq!(text(of_n[0], "queue"), "support", "caller {n}:\n{all}");
    }

    // Each CDR is served by an agent or overflowed at the maximum wait.
    let mut served_by: BTreeMap<String, String> = BTreeMap::new();
    let mut overflowed = Vec::new();
    for c in &cdrs {
        let (id, agent, path) = (text(c, "call_id"), text(c, "agent"), text(c, "ivr_path"));
        let wait = num(c, "queue_wait_s").unwrap_or(-1.0);
        if !agent.is_empty() {
            assert_eq!(path, format!("q(agent {agent})"), "served: {c}");
            assert_eq!(text(c, "disposition"), DISPOSITION, "wrapped up: {c}");
            assert!(
                text(c, "hangup_cause").contains(&format!("agent {agent} hung up")),
                "the agent hung up: {c}"
            );
            assert!(
                (0.0..=MAX_WAIT_S as f64).contains(&wait),
                "answered within the maximum wait: {c}"
            );
            served_by.insert(id.to_string(), agent.to_string());
        } else {
            assert_eq!(
                path, "q(unavailable)>bye",
                "neither served nor overflowed: {c}"
            );
            assert!(
                text(c, "hangup_cause").contains("no agent in time"),
                "the fallback hung up: {c}"
            );
            assert!(
                (MAX_WAIT_S as f64 - 1.0..=MAX_WAIT_S as f64 + 3.0).contains(&wait),
                "overflowed at the maximum wait ({MAX_WAIT_S} s): {c}"
            );
            assert!(text(c, "disposition").is_empty(), "{c}");
            overflowed.push(id.to_string());
        }
    }
    let served = served_by.len();
    assert_eq!(served + overflowed.len(), CALLERS, "{all}");

    // The CDRs name the agent who took each call, and nobody else.
    let mut by_agent: BTreeMap<String, String> = BTreeMap::new();
    for s in &shifts {
        for id in &s.served {
            assert!(
                by_agent.insert(id.clone(), s.login.to_string()).is_none(),
                "call {id} served twice"
            );
        }
    }
    assert_eq!(
        served_by, by_agent,
        "who served which call: CDRs vs the agents' own record"
    );
    // An offer withdrawn from an agent went with its caller to the overflow.
    for s in &shifts {
        for (id, why) in &s.missed {
            assert!(
                overflowed.contains(id),
                "{} lost the offer of {id} ({why}), yet it did not overflow:\n{all}",
                s.login
            );
            if why["type"] == "offer_withdrawn" {
                assert_eq!(why["reason"], "the caller left the queue", "{why}");
            }
        }
    }
    for s in &shifts {
        assert!(
            s.served.len() >= 2,
            "longest-idle shares the calls: {} served {:?}",
            s.login,
            s.served
        );
    }
    assert!(
        overflowed.len() >= 2,
        "3 agents at >= {TALK:?} a call cannot serve 20 callers in {MAX_WAIT_S} s: \
         {served} served"
    );

    // Nobody stuck: all three available, nobody waiting (wrap-up is over by now).
    let deadline = Instant::now() + Duration::from_secs(5);
    let q = loop {
        let q = support_stats(&server);
        let settled = q["waiting"] == 0 && q["agents"] == json!({"available": 3});
        if settled || Instant::now() > deadline {
            break q;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    check_balance(&q);
    assert_eq!(count(&q, "waiting"), 0, "nobody left waiting: {q}");
    assert_eq!(count(&q, "longest_wait_s"), 0, "{q}");
    assert_eq!(
        q["agents"],
        json!({"available": 3}),
        "no agent stuck ringing, on a call or in wrap-up: {q}"
    );
    // Each page, still open, last heard "available" and has no offer left unhandled.
    for s in &mut shifts {
        let _ = s
            .desk
            .find(s.desk.ws.seen.len(), Duration::from_millis(300), |_| false);
        let last = s.desk.ws.seen.iter().rev().find(|v| v["type"] == "state");
        assert_eq!(
            last.map(|v| v["state"].clone()),
            Some(json!("available")),
            "{}'s page: {:?}",
            s.login,
            s.desk.ws.seen
        );
        let offers = s
            .desk
            .ws
            .seen
            .iter()
            .filter(|v| v["type"] == "offer")
            .count();
        assert_eq!(
            offers,
            s.served.len() + s.missed.len(),
            "{}: every offer answered or withdrawn",
            s.login
        );
    }

    // The figures are the CDRs'.
    let t = &q["today"];
    assert_eq!(count(t, "offered"), CALLERS as u64, "{q}");
    assert_eq!(count(t, "answered") as usize, served, "{q}");
    assert_eq!(count(t, "overflowed") as usize, overflowed.len(), "{q}");
    assert_eq!(count(t, "abandoned"), 0, "nobody hung up on their own: {q}");
    assert_eq!(
        count(t, "offered"),
        count(t, "answered") + count(t, "abandoned") + count(t, "overflowed"),
        "{q}"
    );
    assert_eq!(
        t, &q["last_15_min"],
        "all of today is in the last 15 minutes: {q}"
    );
    let aht = t["aht_s"].as_f64().unwrap_or(0.0);
    assert!(
        aht >= TALK.as_secs_f64(),
        "handle time includes the {TALK:?} talk: {q}"
    );

    let errors = server.log_lines(&[" ERROR ", "panicked"]);
    assert!(errors.is_empty(), "the server logged errors:\n{errors}");

    let per_agent: Vec<String> = shifts
        .iter()
        .map(|s| format!("{} {}", s.login, s.served.len()))
        .collect();
    let missed: usize = shifts.iter().map(|s| s.missed.len()).sum();
    eprintln!(
        "acd_load: {CALLERS} callers, 3 agents: {served} served ({}), {} overflowed after \
         {MAX_WAIT_S} s, {missed} offer(s) withdrawn as the caller overflowed; callers done \
         in {took:.1?}, test {:.1?}; up to {most_waiting} waiting, {snapshots} balanced \
         snapshots; ASA {} s, AHT {} s, service level {} %",
        per_agent.join(", "),
        overflowed.len(),
        t0.elapsed(),
        t["asa_s"],
        t["aht_s"],
        t["service_level_pct"]
    );
}
