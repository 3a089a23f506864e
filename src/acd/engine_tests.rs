//! The engine with fake time: strategies, steps, priorities, failures, and a busy hour.

use super::*;
use crate::acd::config::{SkillReq, Step, Strategy};
use rand::{Rng, SeedableRng, rngs::StdRng};

fn s(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn key(login: &str) -> AgentKey {
    AgentKey::new("default", login)
}

struct T {
    acd: Acd,
    t0: Instant,
    now: Instant,
}

impl T {
    fn new(q: QueueConfig, agents: &[(&str, &[(&str, u8)])]) -> T {
        T::with_queues(vec![q], agents)
    }

    fn with_queues(qs: Vec<QueueConfig>, agents: &[(&str, &[(&str, u8)])]) -> T {
        let t0 = Instant::now();
        let mut acd = Acd::new(qs);
        for (login, skills) in agents {
            let skills: Vec<(String, u8)> =
                skills.iter().map(|(n, l)| (n.to_string(), *l)).collect();
            acd.add_agent(key(login), &skills, t0);
        }
        T { acd, t0, now: t0 }
    }

    fn at(&mut self, secs: u64) {
        self.now = self.t0 + s(secs);
        while let Some(t) = self.acd.poll_timeout() {
            if t > self.now {
                break;
            }
            self.acd.handle_timeout(self.now);
        }
    }

    fn login(&mut self, who: &[&str]) {
        for w in who {
            self.acd.login(&key(w), self.now).unwrap();
        }
    }

    fn out(&mut self) -> Vec<Output> {
        std::iter::from_fn(|| self.acd.poll_output()).collect()
    }

    /// Agents offered `call` in the outputs so far.
    fn offers(&mut self) -> Vec<(String, String)> {
        self.out()
            .into_iter()
            .filter_map(|o| match o {
                Output::Offer { call, agent, .. } => Some((call, agent.login)),
                _ => None,
            })
            .collect()
    }

    fn enqueue(&mut self, call: &str, info: CallerInfo) {
        self.acd
            .enqueue(call, "default", "q", info, self.now)
            .unwrap();
    }
}

fn queue(strategy: Strategy) -> QueueConfig {
    let mut q = QueueConfig::named("q");
    q.strategy = strategy;
    q
}

#[test]
fn longest_idle_picks_the_agent_free_the_longest() {
    let mut t = T::new(
        queue(Strategy::LongestIdle),
        &[("a", &[]), ("b", &[]), ("c", &[])],
    );
    t.login(&["b"]);
    t.at(10);
    t.login(&["a", "c"]);
    t.out();
    t.enqueue("c1", CallerInfo::default());
    assert_eq!(t.offers(), vec![("c1".into(), "b".into())]);
}

#[test]
fn round_robin_goes_on_after_the_last_agent() {
    let mut t = T::new(
        queue(Strategy::RoundRobin),
        &[("a", &[]), ("b", &[]), ("c", &[])],
    );
    t.login(&["a", "b", "c"]);
    t.out();
    let mut got = Vec::new();
    for i in 0..4 {
        let call = format!("c{i}");
        t.enqueue(&call, CallerInfo::default());
        let (_, agent) = t.offers()[0].clone();
        t.acd.accept(&call, &key(&agent), t.now).unwrap();
        t.acd.call_ended(&call, t.now);
        t.acd.wrap_up_done(&key(&agent), t.now).unwrap();
        t.out();
        got.push(agent);
    }
    assert_eq!(got, ["a", "b", "c", "a"]);
}

#[test]
fn fewest_calls_balances_the_day() {
    let mut t = T::new(queue(Strategy::FewestCalls), &[("a", &[]), ("b", &[])]);
    t.login(&["a"]);
    t.out();
    t.enqueue("c1", CallerInfo::default());
    t.acd.accept("c1", &key("a"), t.now).unwrap();
    t.acd.call_ended("c1", t.now);
    t.acd.wrap_up_done(&key("a"), t.now).unwrap();
    t.at(5);
    t.login(&["b"]);
    t.out();
    // a has been idle longer, but b has taken fewer calls.
    t.enqueue("c2", CallerInfo::default());
    assert_eq!(t.offers(), vec![("c2".into(), "b".into())]);
}

#[test]
fn ring_all_rings_everyone_and_the_first_answer_wins() {
    let mut t = T::new(
        queue(Strategy::RingAll),
        &[("a", &[]), ("b", &[]), ("c", &[])],
    );
    t.login(&["a", "b", "c"]);
    t.out();
    t.enqueue("c1", CallerInfo::default());
    assert_eq!(t.offers().len(), 3);
    t.acd.accept("c1", &key("b"), t.now).unwrap();
    let out = t.out();
    let withdrawn: Vec<_> = out
        .iter()
        .filter_map(|o| match o {
            Output::Withdraw { agent, .. } => Some(agent.login.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(withdrawn, ["a", "c"]);
    assert_eq!(t.acd.agent_state(&key("a")), Some(&AgentState::Available));
    assert!(matches!(
        t.acd.agent_state(&key("b")),
        Some(AgentState::OnCall { .. })
    ));
    // A late answer from another agent finds the call gone.
    assert_eq!(
        t.acd.accept("c1", &key("c"), t.now),
        Err(AcdError::CallGone("c1".into()))
    );
}

fn sichuan_queue() -> QueueConfig {
    let mut q = queue(Strategy::Skills);
    q.steps = vec![
        Step {
            after_s: 0,
            require: vec![SkillReq::parse("dialect:sichuan>=3").unwrap()],
            prefer: vec![],
        },
        Step {
            after_s: 20,
            require: vec![SkillReq::parse("lang:zh").unwrap()],
            prefer: vec![],
        },
        Step {
            after_s: 40,
            ..Default::default()
        },
    ];
    q
}

#[test]
fn steps_widen_the_requirements_as_the_caller_waits() {
    let mut t = T::new(
        sichuan_queue(),
        &[
            ("mandarin", &[("lang:zh", 5)]),
            ("english", &[("lang:en", 5)]),
            ("sichuanese", &[("lang:zh", 5), ("dialect:sichuan", 4)]),
        ],
    );
    t.login(&["mandarin", "english"]);
    t.out();
    t.enqueue("c1", CallerInfo::default());
    assert!(t.offers().is_empty(), "nobody speaks Sichuanese yet");
    t.at(19);
    assert!(t.offers().is_empty());
    t.at(20);
    assert_eq!(t.offers(), vec![("c1".into(), "mandarin".into())]);
    // Mandarin agent lets it ring out: at 40 s anyone may take it.
    t.at(40);
    let offers = t.offers();
    assert_eq!(offers, vec![("c1".into(), "english".into())]);
    assert_eq!(
        t.acd.agent_state(&key("mandarin")),
        Some(&AgentState::Away {
            reason: "no-answer".into()
        })
    );
}

#[test]
fn skills_routing_prefers_the_callers_dialect() {
    let mut t = T::new(
        queue(Strategy::Skills),
        &[
            ("mandarin", &[("lang:zh", 5)]),
            ("sichuanese", &[("lang:zh", 3), ("dialect:sichuan", 4)]),
        ],
    );
    t.login(&["sichuanese"]);
    t.at(5);
    t.login(&["mandarin"]);
    t.out();
    let caller = CallerInfo {
        dialect: Some("sichuan".into()),
        ..Default::default()
    };
    t.enqueue("c1", caller);
    assert_eq!(t.offers(), vec![("c1".into(), "sichuanese".into())]);
}

#[test]
fn vips_go_first_and_ageing_lets_others_catch_up() {
    let mut q = queue(Strategy::LongestIdle);
    q.vip_priority = 5;
    q.ageing_per_minute = 1;
    let mut t = T::new(q, &[("a", &[])]);
    t.login(&["a"]);
    t.enqueue("busy", CallerInfo::default());
    t.acd.accept("busy", &key("a"), t.now).unwrap();
    t.enqueue("early", CallerInfo::default());
    t.at(60 * 6);
    let vip = CallerInfo {
        vip: true,
        ..Default::default()
    };
    t.enqueue("vip", vip.clone());
    assert_eq!(
        t.acd.position("vip", t.now),
        Some(2),
        "6 min of ageing beat +5"
    );
    t.enqueue("vip2", vip);
    assert_eq!(t.acd.position("vip2", t.now), Some(3));
    t.out();
    t.acd.call_ended("busy", t.now);
    t.acd.wrap_up_done(&key("a"), t.now).unwrap();
    assert_eq!(t.offers(), vec![("early".into(), "a".into())]);
}

#[test]
fn all_agents_away_overflows_and_max_wait_overflows_to_another_queue() {
    let mut q = queue(Strategy::LongestIdle);
    q.max_wait_s = 30;
    q.overflow = Overflow::Queue("general".into());
    let mut general = QueueConfig::named("general");
    general.max_wait_s = 60;
    general.overflow = Overflow::Callback;
    let mut t = T::with_queues(vec![q, general], &[("a", &[])]);
    // Nobody signed in: out at once to the flow's fallback.
    t.enqueue("c1", CallerInfo::default());
    assert!(t.out().iter().any(|o| matches!(o,
        Output::Overflow { call, to: Overflow::Fallback, .. } if call == "c1")));
    t.login(&["a"]);
    t.acd.set_away(&key("a"), "meeting", t.now).unwrap();
    t.out();
    t.enqueue("c2", CallerInfo::default());
    assert!(
        t.out().iter().any(|o| matches!(o, Output::Overflow { .. })),
        "all away"
    );
    // Signed in but busy: the caller waits, then moves on.
    t.acd.set_available(&key("a"), t.now).unwrap();
    t.enqueue("busy", CallerInfo::default());
    t.acd.accept("busy", &key("a"), t.now).unwrap();
    t.enqueue("c3", CallerInfo::default());
    t.out();
    t.at(30);
    assert!(t.out().is_empty(), "moved to general inside the engine");
    assert_eq!(t.acd.position("c3", t.now), Some(1));
    t.at(90);
    assert!(t.out().iter().any(|o| matches!(o,
        Output::Overflow { call, to: Overflow::Callback, .. } if call == "c3")));
    assert_eq!(t.acd.callbacks()[0].call, "c3");
}

#[test]
fn a_tab_closed_while_ringing_sends_the_call_to_the_next_agent() {
    let mut t = T::new(queue(Strategy::LongestIdle), &[("a", &[]), ("b", &[])]);
    t.login(&["a"]);
    t.at(1);
    t.login(&["b"]);
    t.out();
    t.enqueue("c1", CallerInfo::default());
    assert_eq!(t.offers(), vec![("c1".into(), "a".into())]);
    t.acd.device_lost(&key("a"), t.now).unwrap();
    assert_eq!(t.offers(), vec![("c1".into(), "b".into())]);
}

#[test]
fn a_device_lost_mid_call_gets_a_grace_period_then_the_caller_is_requeued_at_the_head() {
    let mut t = T::new(queue(Strategy::LongestIdle), &[("a", &[]), ("b", &[])]);
    t.login(&["a", "b"]);
    t.enqueue("c1", CallerInfo::default());
    t.acd.accept("c1", &key("a"), t.now).unwrap();
    t.acd.accept("x", &key("b"), t.now).unwrap_err();
    t.out();
    // b is busy with another call meanwhile.
    t.enqueue("c2", CallerInfo::default());
    t.acd.accept("c2", &key("b"), t.now).unwrap();
    t.enqueue("c3", CallerInfo::default());
    t.acd.device_lost(&key("a"), t.now).unwrap();
    t.at(10);
    t.acd.device_back(&key("a"), t.now).unwrap();
    t.at(60);
    assert!(
        matches!(
            t.acd.agent_state(&key("a")),
            Some(AgentState::OnCall { .. })
        ),
        "back within the grace: the call goes on"
    );
    t.acd.device_lost(&key("a"), t.now).unwrap();
    t.out();
    t.at(60 + 30);
    let out = t.out();
    assert!(
        out.iter()
            .any(|o| matches!(o, Output::Requeued { call, .. } if call == "c1")),
        "{out:?}"
    );
    assert_eq!(t.acd.agent_state(&key("a")), Some(&AgentState::LoggedOut));
    assert_eq!(
        t.acd.position("c1", t.now),
        Some(1),
        "ahead of c3, who came later"
    );
    t.acd.call_ended("c2", t.now);
    t.acd.wrap_up_done(&key("b"), t.now).unwrap();
    assert_eq!(t.offers(), vec![("c1".into(), "b".into())]);
}

#[test]
fn wrap_up_ends_by_itself_and_away_requested_on_a_call_applies_after() {
    let mut q = queue(Strategy::LongestIdle);
    q.wrap_up_s = 15;
    let mut t = T::new(q, &[("a", &[])]);
    t.login(&["a"]);
    t.enqueue("c1", CallerInfo::default());
    t.acd.accept("c1", &key("a"), t.now).unwrap();
    t.acd.set_away(&key("a"), "break", t.now).unwrap();
    t.at(100);
    t.acd.caller_left("c1", t.now);
    assert!(matches!(
        t.acd.agent_state(&key("a")),
        Some(AgentState::WrapUp { .. })
    ));
    t.at(115);
    assert_eq!(
        t.acd.agent_state(&key("a")),
        Some(&AgentState::Away {
            reason: "break".into()
        })
    );
    let st = &t.acd.stats(t.now, t.t0)[0];
    assert_eq!(st.today.answered, 1);
    assert_eq!(st.today.aht_s, Some(115.0));
}

#[test]
fn announcements_give_position_and_expected_wait() {
    let mut q = queue(Strategy::LongestIdle);
    q.announce_every_s = 30;
    let mut t = T::new(q, &[("a", &[])]);
    t.login(&["a"]);
    t.enqueue("busy", CallerInfo::default());
    t.acd.accept("busy", &key("a"), t.now).unwrap();
    t.enqueue(
        "c1",
        CallerInfo {
            lang: Some("zh".into()),
            ..Default::default()
        },
    );
    t.enqueue("c2", CallerInfo::default());
    t.out();
    t.at(30);
    let ann: Vec<_> = t
        .out()
        .into_iter()
        .filter_map(|o| match o {
            Output::Announce {
                call,
                position,
                expected_wait,
                lang,
            } => Some((call, position, expected_wait, lang)),
            _ => None,
        })
        .collect();
    assert_eq!(ann.len(), 2);
    let c2 = ann.iter().find(|a| a.0 == "c2").unwrap();
    assert_eq!(c2.1, 2);
    assert_eq!(
        c2.2,
        s(360),
        "2 ahead × 180 s default handle time / 1 agent"
    );
    assert_eq!(
        ann.iter().find(|a| a.0 == "c1").unwrap().3.as_deref(),
        Some("zh")
    );
}

/// A busy hour: 20 callers, 3 agents who answer, let it ring, reject, drop their tab
/// and come back; callers who hang up. Nobody may end stuck, and the figures add up.
#[test]
fn twenty_callers_three_agents_nobody_stuck_and_stats_add_up() {
    for seed in 0..20u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut q = queue(Strategy::LongestIdle);
        q.max_wait_s = 240;
        q.wrap_up_s = 10;
        q.ring_timeout_s = 15;
        let mut t = T::new(q, &[("a", &[]), ("b", &[]), ("c", &[])]);
        t.login(&["a", "b", "c"]);
        let mut arrivals: Vec<u64> = (0..20).map(|_| rng.gen_range(0..300)).collect();
        arrivals.sort();
        let mut talking: Vec<(String, u64)> = Vec::new();
        let (mut served, mut abandoned, mut overflowed) = (0, 0, 0);
        for sec in 0..1200u64 {
            t.at(sec);
            for (i, at) in arrivals.iter().enumerate() {
                if *at == sec {
                    t.enqueue(&format!("c{i}"), CallerInfo::default());
                }
            }
            // Callers lose patience now and then.
            if rng.gen_ratio(1, 200) {
                let waiting: Vec<String> = (0..20)
                    .map(|i| format!("c{i}"))
                    .filter(|c| t.acd.position(c, t.now).is_some())
                    .collect();
                if let Some(c) = waiting.first() {
                    t.acd.caller_left(c, t.now);
                    abandoned += 1;
                }
            }
            // Calls end.
            talking.retain(|(c, end)| {
                if *end == sec {
                    t.acd.caller_left(c, t.now);
                    false
                } else {
                    true
                }
            });
            // Outputs are handled as they come; one may be stale by the time it is read
            // (an offer withdrawn in the same instant), and the engine says so.
            while let Some(o) = t.acd.poll_output() {
                match o {
                    Output::Offer { call, agent, .. } => {
                        if t.acd.agent_state(&agent)
                            != Some(&AgentState::Ringing { call: call.clone() })
                        {
                            continue;
                        }
                        match rng.gen_range(0..10) {
                            0 => {} // rings out
                            1 => t.acd.refuse(&call, &agent, false, t.now).unwrap(),
                            2 => {
                                t.acd.device_lost(&agent, t.now).unwrap();
                                t.acd.device_back(&agent, t.now).unwrap();
                            }
                            _ => {
                                t.acd.accept(&call, &agent, t.now).unwrap();
                                served += 1;
                                talking.push((call, sec + rng.gen_range(20..120)));
                            }
                        }
                    }
                    Output::AgentState {
                        agent,
                        state: AgentState::Away { .. },
                    } => {
                        // A supervisor puts no-answer agents back to work.
                        if matches!(t.acd.agent_state(&agent), Some(AgentState::Away { .. })) {
                            t.acd.set_available(&agent, t.now).unwrap();
                        }
                    }
                    Output::Overflow { .. } => overflowed += 1,
                    _ => {}
                }
            }
        }
        for l in ["a", "b", "c"] {
            let st = t.acd.agent_state(&key(l)).unwrap();
            assert!(
                matches!(st, AgentState::Available),
                "seed {seed}: agent {l} ended {st}"
            );
        }
        let st = &t.acd.stats(t.now, t.t0)[0];
        assert_eq!(st.waiting, 0, "seed {seed}");
        assert_eq!(st.today.offered, 20, "seed {seed}");
        assert_eq!(
            st.today.answered + st.today.abandoned + st.today.overflowed,
            20,
            "seed {seed}: {st:?}"
        );
        assert_eq!(st.today.answered, served, "seed {seed}");
        assert_eq!(st.today.abandoned, abandoned, "seed {seed}");
        assert_eq!(st.today.overflowed, overflowed, "seed {seed}");
    }
}

mod props {
    use super::{AgentState, CallerInfo, T, key, queue};
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Op {
        Login(u8),
        Logout(u8),
        Available(u8),
        Away(u8),
        Lost(u8),
        Back(u8),
        Enqueue(u8),
        Leave(u8),
        Accept(u8, u8),
        Refuse(u8, u8),
        End(u8),
        Wrap(u8),
        Wait(u16),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0..3u8).prop_map(Op::Login),
            (0..3u8).prop_map(Op::Logout),
            (0..3u8).prop_map(Op::Available),
            (0..3u8).prop_map(Op::Away),
            (0..3u8).prop_map(Op::Lost),
            (0..3u8).prop_map(Op::Back),
            (0..6u8).prop_map(Op::Enqueue),
            (0..6u8).prop_map(Op::Leave),
            (0..6u8, 0..3u8).prop_map(|(c, a)| Op::Accept(c, a)),
            (0..6u8, 0..3u8).prop_map(|(c, a)| Op::Refuse(c, a)),
            (0..6u8).prop_map(Op::End),
            (0..3u8).prop_map(Op::Wrap),
            (1..200u16).prop_map(Op::Wait),
        ]
    }

    proptest! {
        /// Whatever happens, nothing panics, and once every caller has left and time has
        /// passed, no agent is still ringing, on a call or wrapping up.
        #[test]
        fn no_sequence_leaves_an_agent_stuck(ops in prop::collection::vec(op(), 1..80)) {
            let mut t = T::new(queue(crate::acd::Strategy::RingAll), &[("a", &[]), ("b", &[]), ("c", &[])]);
            let agents = ["a", "b", "c"];
            let mut clock = 0u64;
            for o in ops {
                let now = t.now;
                let _ = match o {
                    Op::Login(a) => t.acd.login(&key(agents[a as usize]), now),
                    Op::Logout(a) => t.acd.logout(&key(agents[a as usize]), now),
                    Op::Available(a) => t.acd.set_available(&key(agents[a as usize]), now),
                    Op::Away(a) => t.acd.set_away(&key(agents[a as usize]), "x", now),
                    Op::Lost(a) => t.acd.device_lost(&key(agents[a as usize]), now),
                    Op::Back(a) => t.acd.device_back(&key(agents[a as usize]), now),
                    Op::Enqueue(c) => t.acd.enqueue(&format!("c{c}"), "default", "q", CallerInfo::default(), now),
                    Op::Leave(c) => { t.acd.caller_left(&format!("c{c}"), now); Ok(()) }
                    Op::Accept(c, a) => t.acd.accept(&format!("c{c}"), &key(agents[a as usize]), now),
                    Op::Refuse(c, a) => t.acd.refuse(&format!("c{c}"), &key(agents[a as usize]), false, now),
                    Op::End(c) => { t.acd.call_ended(&format!("c{c}"), now); Ok(()) }
                    Op::Wrap(a) => t.acd.wrap_up_done(&key(agents[a as usize]), now),
                    Op::Wait(d) => { clock += u64::from(d); t.at(clock); Ok(()) }
                };
                t.out();
            }
            for c in 0..6 {
                t.acd.caller_left(&format!("c{c}"), t.now);
            }
            clock += 3600;
            t.at(clock);
            for a in agents {
                let st = t.acd.agent_state(&key(a)).unwrap();
                prop_assert!(
                    matches!(st, AgentState::Available | AgentState::Away { .. } | AgentState::LoggedOut),
                    "agent {} stuck in {}", a, st
                );
            }
        }
    }
}

#[test]
fn a_second_sign_of_loss_does_not_restart_the_grace() {
    let mut t = T::new(queue(Strategy::LongestIdle), &[("a", &[]), ("b", &[])]);
    t.login(&["a", "b"]);
    t.enqueue("c1", CallerInfo::default());
    t.acd.accept("c1", &key("a"), t.now).unwrap();
    t.acd.device_lost(&key("a"), t.now).unwrap(); // the page's socket closes
    t.at(14);
    t.acd.device_lost(&key("a"), t.now).unwrap(); // then its audio times out
    t.out();
    t.at(30);
    assert!(
        t.out()
            .iter()
            .any(|o| matches!(o, Output::Requeued { call, .. } if call == "c1")),
        "requeued 30 s after the first loss"
    );
}
