//! The interpreter per node kind, driven with fake time.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};

use crate::ivr::{
    Action, CallInfo, Event, Flow, Interpreter, NoFlows, Speech, Voice, WebhookReply, load_flow_str,
};

fn flow(src: &str) -> Arc<Flow> {
    match load_flow_str(src, Path::new("test.yaml")) {
        Ok(f) => Arc::new(f),
        Err(e) => panic!("flow does not load:\n{e}"),
    }
}

/// 2026-11-23 (a Monday) at `h:m` in Shanghai.
fn shanghai(h: u32, m: u32) -> DateTime<Utc> {
    chrono_tz::Tz::Asia__Shanghai
        .with_ymd_and_hms(2026, 11, 23, h, m, 0)
        .single()
        .expect("valid time")
        .with_timezone(&Utc)
}

struct Call {
    i: Interpreter,
    now: Instant,
    wall: DateTime<Utc>,
    flows: BTreeMap<String, Arc<Flow>>,
}

impl Call {
    fn new(f: Arc<Flow>) -> Call {
        Call::at(f, shanghai(10, 0), "13800138000")
    }

    fn at(f: Arc<Flow>, wall: DateTime<Utc>, caller: &str) -> Call {
        let call = CallInfo {
            call_id: "c1".into(),
            caller: caller.into(),
            called: "4008001234".into(),
            tenant: "acme".into(),
        };
        Call {
            i: Interpreter::new(f, call),
            now: Instant::now(),
            wall,
            flows: BTreeMap::new(),
        }
    }

    fn start(&mut self) -> Vec<Action> {
        self.i.start(self.now, self.wall, &self.flows)
    }

    fn ev(&mut self, e: Event) -> Vec<Action> {
        self.i.handle(e, self.now, self.wall, &self.flows)
    }

    fn advance(&mut self, d: Duration) {
        self.now += d;
        self.wall += chrono::Duration::from_std(d).expect("small");
    }

    /// Moves time to the pending deadline and fires it.
    fn wait(&mut self) -> Vec<Action> {
        let t = self.i.next_timeout().expect("a pending timeout");
        let d = t.saturating_duration_since(self.now);
        self.advance(d);
        self.ev(Event::Timeout)
    }

    fn keys(&mut self, keys: &str) -> Vec<Action> {
        keys.chars()
            .flat_map(|c| self.ev(Event::Digit(c)))
            .collect()
    }
}

fn play_id(actions: &[Action]) -> u64 {
    actions
        .iter()
        .find_map(|a| match a {
            Action::Play { id, .. } => Some(*id),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no Play in {actions:?}"))
}

fn texts(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Play { prompts, .. } => Some(prompts),
            _ => None,
        })
        .flatten()
        .map(|s| match s {
            Speech::Tts { text, .. } => text.clone(),
            Speech::File(p) => p.display().to_string(),
            Speech::Beep => "<beep>".into(),
        })
        .collect()
}

fn done(id: u64) -> Event {
    Event::PlaybackDone {
        id,
        interrupted: false,
    }
}

const MENU: &str = r#"
flow: t
language: en
start: greeting
nodes:
  greeting:
    say: "Welcome, {{caller}}."
    interruptible: true
    next: menu
  menu:
    gather:
      prompt: "Press 1 for orders, 0 for an agent."
      no_input: "Sorry, I did not hear you."
      invalid: "That is not an option."
      first_digit_timeout: 5s
      retries: 2
    menu: { "1": order, "0": agent }
    on_failure: agent
  order:
    gather:
      prompt: [{ say: "Enter your order number, then pound." }]
      max_digits: 12
      min_digits: 5
      pattern: "[0-9]+"
      inter_digit_timeout: 3s
      into: order
    next: readback
  readback:
    say: "Order {{order | digits}}."
    next: bye
  agent:
    say: "Connecting you."
    next: bye
  bye:
    hangup: done
"#;

#[test]
fn menu_route_with_prompts_and_hangup() {
    let mut c = Call::new(flow(MENU));
    let a = c.start();
    assert_eq!(texts(&a), ["Welcome, 13800138000."]);
    assert!(matches!(
        a[0],
        Action::Play {
            interruptible: true,
            ..
        }
    ));
    let a = c.ev(done(play_id(&a)));
    assert_eq!(texts(&a), ["Press 1 for orders, 0 for an agent."]);
    // No gather timer while its prompt plays.
    assert_eq!(c.i.next_timeout(), None);
    let a = c.ev(done(play_id(&a)));
    assert!(a.is_empty(), "{a:?}");
    assert_eq!(c.i.next_timeout(), Some(c.now + Duration::from_secs(5)));
    let a = c.keys("0");
    assert_eq!(texts(&a), ["Connecting you."]);
    let a = c.ev(done(play_id(&a)));
    assert_eq!(
        a,
        [Action::Hangup {
            cause: "done".into()
        }]
    );
    assert!(c.i.is_finished());
    assert_eq!(c.i.path_summary(), "greeting>menu[0]>agent>bye");
    assert_eq!(c.i.vars()["digits"], "0");
}

#[test]
fn key_during_gather_prompt_stops_it_and_counts() {
    let mut c = Call::new(flow(MENU));
    let a = c.start();
    let a = c.ev(done(play_id(&a)));
    let menu_prompt = play_id(&a);
    let a = c.keys("1");
    assert_eq!(a[0], Action::StopPlayback);
    assert_eq!(texts(&a), ["Enter your order number, then pound."]);
    // The stopped prompt's late report is stale and ignored.
    let late = c.ev(Event::PlaybackDone {
        id: menu_prompt,
        interrupted: true,
    });
    assert!(late.is_empty(), "{late:?}");
    assert_eq!(c.i.path_summary(), "greeting>menu[1]>order");
}

#[test]
fn type_ahead_during_interruptible_greeting_skips_to_the_menu_choice() {
    let mut c = Call::new(flow(MENU));
    c.start();
    let a = c.keys("0");
    assert_eq!(a[0], Action::StopPlayback);
    // The menu prompt is not played: the key already chose.
    assert_eq!(texts(&a), ["Connecting you."]);
    assert_eq!(c.i.path_summary(), "greeting[0](interrupted)>menu[0]>agent");
}

#[test]
fn no_input_retries_then_on_failure() {
    let mut c = Call::new(flow(MENU));
    let a = c.start();
    let a = c.ev(done(play_id(&a)));
    let mut prompt = play_id(&a);
    for _ in 0..2 {
        c.ev(done(prompt));
        let a = c.wait();
        assert_eq!(texts(&a), ["Sorry, I did not hear you."]);
        assert!(matches!(
            a[0],
            Action::Play {
                interruptible: true,
                ..
            }
        ));
        let a = c.ev(done(play_id(&a)));
        assert_eq!(texts(&a), ["Press 1 for orders, 0 for an agent."]);
        prompt = play_id(&a);
    }
    c.ev(done(prompt));
    let a = c.wait();
    // The last failure message is not interruptible; then on_failure.
    assert!(matches!(
        a[0],
        Action::Play {
            interruptible: false,
            ..
        }
    ));
    let a = c.ev(done(play_id(&a)));
    assert_eq!(texts(&a), ["Connecting you."]);
    assert_eq!(c.i.path_summary(), "greeting>menu[-,-,-]>agent");
}

#[test]
fn invalid_key_then_valid_and_key_during_sorry_message() {
    let mut c = Call::new(flow(MENU));
    let a = c.start();
    let a = c.ev(done(play_id(&a)));
    c.ev(done(play_id(&a)));
    let a = c.keys("9");
    assert_eq!(texts(&a), ["That is not an option."]);
    // Pressing during "that is not an option" starts the next attempt at once.
    let a = c.keys("1");
    assert_eq!(a[0], Action::StopPlayback);
    assert_eq!(texts(&a), ["Enter your order number, then pound."]);
    assert_eq!(c.i.path_summary(), "greeting>menu[9,1]>order");
}

#[test]
fn digits_with_terminator_pattern_and_readback() {
    let mut c = Call::new(flow(MENU));
    c.start();
    let a = c.keys("1");
    c.ev(done(play_id(&a)));
    let a = c.keys("20240615#");
    assert_eq!(texts(&a), ["Order 2 0 2 4 0 6 1 5."]);
    assert_eq!(c.i.vars()["order"], "20240615");
    assert_eq!(
        c.i.path_summary(),
        "greeting[1](interrupted)>menu[1]>order[20240615#]>readback"
    );
}

#[test]
fn inter_digit_timeout_ends_input_and_short_input_is_invalid() {
    let mut c = Call::new(flow(MENU));
    c.start();
    let a = c.keys("1");
    c.ev(done(play_id(&a)));
    c.keys("123");
    c.advance(Duration::from_secs(2));
    assert!(c.ev(Event::Timeout).is_empty(), "fired before the deadline");
    assert_eq!(c.i.next_timeout(), Some(c.now + Duration::from_secs(1)));
    // 3 digits < min_digits 5, and there are no invalid prompts: straight to a retry.
    let a = c.wait();
    assert_eq!(texts(&a), ["Enter your order number, then pound."]);
    c.ev(done(play_id(&a)));
    c.keys("12345");
    let a = c.wait();
    assert_eq!(texts(&a), ["Order 1 2 3 4 5."]);
    assert!(
        c.i.path_summary().contains("order[123,12345]"),
        "{}",
        c.i.path_summary()
    );
}

#[test]
fn non_interruptible_prompt_ignores_keys_but_records_them() {
    let f =
        flow("flow: t\nstart: a\nnodes:\n  a:\n    say: 您好\n    next: b\n  b:\n    hangup:\n");
    let mut c = Call::new(f);
    let a = c.start();
    assert_eq!(
        a,
        [Action::Play {
            id: 1,
            prompts: vec![Speech::Tts {
                voice: Voice::Zh,
                text: "您好".into()
            }],
            interruptible: false
        }]
    );
    assert!(c.keys("5x").is_empty());
    let a = c.ev(done(1));
    assert_eq!(
        a,
        [Action::Hangup {
            cause: "normal".into()
        }]
    );
    assert_eq!(c.i.path_summary(), "a[5]>b");
}

const HOURS: &str = r#"
flow: t
start: hours
holidays: [2026-10-01..2026-10-07]
lists:
  vips: ["13900000001", "13900000002"]
nodes:
  hours:
    condition:
      - if: { hours: "09:00-21:00", days: mon-sun }
        goto: vip
      - else: closed
  vip:
    condition:
      - if: { caller_in: vips }
        goto: priority
    next: open
  priority:
    set: { priority: "high", note: "VIP {{caller}} at {{now}}" }
    next: open
  open:
    hangup: open
  closed:
    hangup: closed
"#;

fn cause(actions: &[Action]) -> String {
    match actions.last() {
        Some(Action::Hangup { cause }) => cause.clone(),
        other => panic!("expected a hangup, got {other:?}"),
    }
}

#[test]
fn business_hours_in_shanghai_and_vips() {
    let f = flow(HOURS);
    let mut c = Call::at(f.clone(), shanghai(20, 59), "13800138000");
    assert_eq!(cause(&c.start()), "open");
    assert_eq!(c.i.path_summary(), "hours(1)>vip(else)>open");
    let mut c = Call::at(f.clone(), shanghai(21, 0), "13800138000");
    assert_eq!(cause(&c.start()), "closed");
    let holiday = chrono_tz::Tz::Asia__Shanghai
        .with_ymd_and_hms(2026, 10, 3, 10, 0, 0)
        .single()
        .expect("t")
        .with_timezone(&Utc);
    let mut c = Call::at(f.clone(), holiday, "13800138000");
    assert_eq!(cause(&c.start()), "closed");
    let mut c = Call::at(f, shanghai(10, 30), "+8613900000002");
    assert_eq!(cause(&c.start()), "open");
    assert_eq!(c.i.vars()["priority"], "high");
    assert_eq!(c.i.vars()["note"], "VIP +8613900000002 at 10:30");
    assert_eq!(c.i.path_summary(), "hours(1)>vip(1)>priority>open");
}

const WEBHOOK: &str = r#"
flow: t
start: lookup
vars: { api: "http://127.0.0.1:9/orders" }
nodes:
  lookup:
    webhook:
      url: "{{api}}?caller={{caller}}"
      timeout: 2s
      sets: [status]
      may_goto: [special]
    next: status
    on_error: sorry
  status:
    hangup: "status {{status}}"
  special:
    hangup: special
  sorry:
    hangup: sorry
"#;

fn webhook_id(actions: &[Action]) -> u64 {
    match actions.first() {
        Some(Action::Webhook { id, .. }) => *id,
        other => panic!("expected a webhook, got {other:?}"),
    }
}

#[test]
fn webhook_posts_the_call_and_applies_the_reply() {
    let mut c = Call::new(flow(WEBHOOK));
    let a = c.start();
    let Some(Action::Webhook {
        id,
        url,
        body,
        timeout,
    }) = a.first()
    else {
        panic!("expected a webhook, got {a:?}")
    };
    assert_eq!(url, "http://127.0.0.1:9/orders?caller=13800138000");
    assert_eq!(*timeout, Duration::from_secs(2));
    assert_eq!(body["call"]["caller"], "13800138000");
    assert_eq!(body["call"]["tenant"], "acme");
    assert_eq!(body["node"], "lookup");
    assert_eq!(body["vars"]["api"], "http://127.0.0.1:9/orders");
    let id = *id;
    // A stale id changes nothing.
    let stale = c.ev(Event::WebhookDone {
        id: id + 7,
        result: Err("x".into()),
    });
    assert!(stale.is_empty());
    let mut vars = BTreeMap::new();
    vars.insert("status".to_string(), "shipped".to_string());
    vars.insert("caller".to_string(), "spoofed".to_string());
    let a = c.ev(Event::WebhookDone {
        id,
        result: Ok(WebhookReply { vars, next: None }),
    });
    // The hangup cause is not a template: it is said as written.
    assert_eq!(cause(&a), "status {{status}}");
    assert_eq!(c.i.vars()["status"], "shipped");
    assert_eq!(c.i.vars()["caller"], "13800138000");
    assert_eq!(c.i.path_summary(), "lookup(ok)>status");
}

#[test]
fn webhook_reply_may_choose_the_next_node_or_fail() {
    let f = flow(WEBHOOK);
    let mut c = Call::new(f.clone());
    let id = webhook_id(&c.start());
    let a = c.ev(Event::WebhookDone {
        id,
        result: Ok(WebhookReply {
            vars: BTreeMap::new(),
            next: Some("special".into()),
        }),
    });
    assert_eq!(cause(&a), "special");

    let mut c = Call::new(f.clone());
    let id = webhook_id(&c.start());
    let a = c.ev(Event::WebhookDone {
        id,
        result: Ok(WebhookReply {
            vars: BTreeMap::new(),
            next: Some("nowhere".into()),
        }),
    });
    assert_eq!(cause(&a), "sorry");
    assert!(c.i.vars()["webhook_error"].contains("nowhere"));

    let mut c = Call::new(f);
    c.start();
    assert_eq!(
        c.i.next_timeout(),
        Some(c.now + Duration::from_secs(3)),
        "timeout plus grace"
    );
    let a = c.wait();
    assert_eq!(cause(&a), "sorry");
    assert_eq!(c.i.path_summary(), "lookup(timeout)>sorry");
}

#[test]
fn webhook_reply_json() {
    let v = serde_json::json!({"vars": {"status": "shipped", "amount": 128.5, "paid": true, "x": null}, "next": "status"});
    let r = WebhookReply::from_json(&v).expect("valid");
    assert_eq!(r.vars["amount"], "128.5");
    assert_eq!(r.vars["paid"], "true");
    assert_eq!(r.vars["x"], "");
    assert_eq!(r.next.as_deref(), Some("status"));
    assert!(WebhookReply::from_json(&serde_json::json!([1])).is_err());
    assert!(WebhookReply::from_json(&serde_json::json!({"vars": 3})).is_err());
    assert_eq!(
        WebhookReply::from_json(&serde_json::json!({})),
        Ok(WebhookReply::default())
    );
}

const ENDINGS: &str = r#"
flow: t
start: rec
nodes:
  rec:
    record: { max: 60s, silence: 4s }
    next: xfer
  xfer:
    transfer: { to: "sip:{{digits}}@pbx.example.com", trunk: pbx }
    on_error: queue
  queue:
    enqueue: { queue: orders, fallback: bye }
  bye:
    say: "Goodbye."
"#;

#[test]
fn record_transfer_enqueue_and_flow_end() {
    let mut c = Call::new(flow(ENDINGS));
    let a = c.start();
    assert_eq!(
        a,
        [Action::Record {
            id: 1,
            beep: true,
            max: Duration::from_secs(60),
            silence: Duration::from_secs(4),
            end_on_hash: true
        }]
    );
    let a = c.ev(Event::RecordDone {
        id: 1,
        path: Some(PathBuf::from("/rec/vm1.wav")),
        duration: Duration::from_secs(12),
    });
    assert_eq!(
        a,
        [Action::Transfer {
            to: "sip:@pbx.example.com".into(),
            trunk: Some("pbx".into())
        }]
    );
    assert_eq!(c.i.vars()["recording"], "/rec/vm1.wav");
    assert_eq!(c.i.vars()["recording_seconds"], "12");
    let a = c.ev(Event::TransferDone {
        ok: false,
        reason: "486 Busy Here".into(),
    });
    assert_eq!(
        a,
        [Action::Enqueue {
            queue: "orders".into()
        }]
    );
    assert_eq!(c.i.vars()["transfer_error"], "486 Busy Here");
    let a = c.ev(Event::EnqueueUnavailable);
    assert_eq!(texts(&a), ["Goodbye."]);
    let a = c.ev(done(play_id(&a)));
    assert_eq!(cause(&a), "flow ended");
    assert_eq!(
        c.i.path_summary(),
        "rec(12s)>xfer(failed)>queue(unavailable)>bye"
    );
}

#[test]
fn an_agent_answering_a_queued_call_ends_the_flow_without_hangup() {
    let mut c = Call::new(flow(ENDINGS));
    c.start();
    c.ev(Event::RecordDone {
        id: 1,
        path: None,
        duration: Duration::ZERO,
    });
    c.ev(Event::TransferDone {
        ok: false,
        reason: "busy".into(),
    });
    // Waiting in the queue: no timer of the flow's own runs meanwhile.
    assert_eq!(c.i.next_timeout(), None);
    assert!(c.ev(Event::Digit('5')).is_empty());
    let a = c.ev(Event::AgentAnswered {
        agent: "alice".into(),
    });
    assert!(a.is_empty());
    assert!(c.i.is_finished());
    assert!(
        c.i.path_summary().ends_with("queue[5](agent alice)"),
        "{}",
        c.i.path_summary()
    );
}

#[test]
fn successful_transfer_finishes_without_hangup_and_caller_hangup_is_recorded() {
    let mut c = Call::new(flow(ENDINGS));
    c.start();
    c.ev(Event::RecordDone {
        id: 1,
        path: None,
        duration: Duration::ZERO,
    });
    let a = c.ev(Event::TransferDone {
        ok: true,
        reason: String::new(),
    });
    assert!(a.is_empty());
    assert!(c.i.is_finished());
    assert!(c.ev(Event::Digit('1')).is_empty());

    let mut c = Call::new(flow(MENU));
    c.start();
    assert!(c.ev(Event::Hangup).is_empty());
    assert!(c.i.is_finished());
    assert_eq!(c.i.path_summary(), "greeting(hangup)");
}

#[test]
fn subflow_runs_and_returns() {
    let main = flow(
        "flow: main\nstart: s\nnodes:\n  s:\n    subflow: survey\n    return: bye\n  bye:\n    hangup: main-done\n",
    );
    let survey = flow(
        "flow: survey\nstart: q\nvars: { score: none }\nnodes:\n  q:\n    gather:\n      prompt: Rate us 1 to 5.\n      into: score\n",
    );
    let mut c = Call::new(main.clone());
    c.flows.insert("survey".into(), survey);
    let a = c.start();
    assert_eq!(texts(&a), ["Rate us 1 to 5."]);
    assert_eq!(c.i.vars()["score"], "none");
    let a = c.keys("4#");
    assert_eq!(cause(&a), "main-done");
    assert_eq!(c.i.vars()["score"], "4");
    assert_eq!(c.i.path_summary(), "s>survey:q[4#]>bye");

    let mut c = Call::new(main);
    let a = c.i.start(c.now, c.wall, &NoFlows);
    assert_eq!(cause(&a), "flow error: sub-flow \"survey\" is not loaded");
}

#[test]
fn instant_loop_is_cut_off() {
    let f = flow(
        "flow: t\nstart: a\nnodes:\n  a:\n    condition:\n      - if: { var: x, eq: \"1\" }\n        goto: b\n      - else: a\n  b:\n    hangup:\n",
    );
    assert!(
        f.warnings()
            .iter()
            .any(|w| w.message.contains("leads back to itself")),
        "{:?}",
        f.warnings()
    );
    let mut c = Call::new(f);
    let a = c.start();
    assert!(cause(&a).starts_with("flow loop at node a"), "{a:?}");
}

#[test]
fn static_prompts_are_the_constant_texts() {
    let f = flow(MENU);
    let p = f.static_prompts();
    let en = |t: &str| Speech::Tts {
        voice: Voice::En,
        text: t.into(),
    };
    assert!(p.contains(&en("Press 1 for orders, 0 for an agent.")));
    assert!(p.contains(&en("Sorry, I did not hear you.")));
    assert!(p.contains(&en("Connecting you.")));
    assert!(
        !p.iter()
            .any(|s| matches!(s, Speech::Tts { text, .. } if text.contains("{{")))
    );
    assert_eq!(p.len(), 5, "{p:?}");
}

#[test]
fn with_vars_overrides_flow_defaults() {
    let f = flow(WEBHOOK);
    let call = CallInfo::default();
    let mut i =
        Interpreter::new(f, call).with_vars([("api".to_string(), "http://10.1.2.3/x".to_string())]);
    let a = i.start(Instant::now(), shanghai(10, 0), &NoFlows);
    assert!(matches!(&a[0], Action::Webhook { url, .. } if url == "http://10.1.2.3/x?caller="));
}

#[test]
fn path_is_bounded_for_endless_callers() {
    let f = flow(
        "flow: t\nstart: m\nnodes:\n  m:\n    gather: { prompt: Press 9 to repeat. }\n    menu: { \"9\": m }\n",
    );
    let mut c = Call::new(f);
    c.start();
    for _ in 0..1500 {
        c.keys("9");
    }
    assert_eq!(c.i.path().len(), 1001);
    assert_eq!(c.i.path()[1000].node, "...");
    assert!(c.i.path_summary().ends_with("m[9]>..."));

    let f = flow("flow: t\nstart: a\nnodes:\n  a:\n    say: Long.\n");
    let mut c = Call::new(f);
    c.start();
    c.keys(&"1".repeat(500));
    assert_eq!(c.i.path()[0].inputs.concat().len(), 64);
}
