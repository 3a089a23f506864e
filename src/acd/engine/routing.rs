//! Routing: which waiting caller goes first (requeued, priority with ageing, arrival) and
//! which free agent rings for it, by the queue's strategy and the skills step in force.

use super::{Acd, Agent, AgentKey, CallerInfo, Output, Waiting};
use crate::acd::agent::{AgentEvent, AgentState};
use crate::acd::config::{QueueConfig, SkillReq, Strategy};
use std::collections::HashMap;
use std::time::{Duration, Instant};

impl Acd {
    pub(super) fn member(&self, q: &QueueConfig, k: &AgentKey) -> bool {
        k.tenant == q.tenant && (q.agents.is_empty() || q.agents.contains(&k.login))
    }

    pub(super) fn priority(&self, w: &Waiting, now: Instant) -> u64 {
        let q = self.queues.get(&(w.tenant.clone(), w.queue.clone()));
        let (vip, ageing) = q.map_or((0, 0), |q| (q.cfg.vip_priority, q.cfg.ageing_per_minute));
        let minutes = now.saturating_duration_since(w.first).as_secs() / 60;
        u64::from(w.info.priority)
            + if w.info.vip { u64::from(vip) } else { 0 }
            + minutes * u64::from(ageing)
    }

    /// Waiting calls in routing order: requeued first, then priority, then arrival.
    pub(super) fn order(&self, now: Instant) -> Vec<String> {
        let mut calls: Vec<(&String, &Waiting)> = self.waiting.iter().collect();
        calls.sort_by(|(ca, a), (cb, b)| {
            b.head
                .cmp(&a.head)
                .then(self.priority(b, now).cmp(&self.priority(a, now)))
                .then(a.first.cmp(&b.first))
                .then(ca.cmp(cb))
        });
        calls.into_iter().map(|(c, _)| c.clone()).collect()
    }

    pub(super) fn meets(skills: &HashMap<String, u8>, reqs: &[SkillReq]) -> bool {
        reqs.iter()
            .all(|r| skills.get(&r.skill).is_some_and(|l| *l >= r.min))
    }

    /// How well an agent matches the step's preferences and the caller's dialect.
    pub(super) fn score(
        skills: &HashMap<String, u8>,
        prefer: &[SkillReq],
        info: &CallerInfo,
    ) -> u32 {
        let mut s: u32 = prefer
            .iter()
            .filter_map(|r| skills.get(&r.skill).filter(|l| **l >= r.min))
            .map(|l| 10 + u32::from(*l))
            .sum();
        if let Some(d) = &info.dialect
            && let Some(l) = skills.get(&format!("dialect:{d}"))
        {
            s += 10 + u32::from(*l);
        }
        s
    }

    /// Offers waiting calls to free agents; overflows calls nobody staffs.
    pub(super) fn route(&mut self, now: Instant) {
        self.offer_free_agents(now);
        // Route again when a waiting caller's requirements next widen.
        for w in self.waiting.values_mut() {
            w.next_step = self
                .queues
                .get(&(w.tenant.clone(), w.queue.clone()))
                .and_then(|q| {
                    q.cfg
                        .steps
                        .iter()
                        .map(|s| w.enqueued + Duration::from_secs(s.after_s))
                        .find(|t| *t > now)
                });
        }
    }

    pub(super) fn offer_free_agents(&mut self, now: Instant) {
        for call in self.order(now) {
            let Some(w) = self.waiting.get(&call) else {
                continue;
            };
            if !w.ringing.is_empty() {
                continue;
            }
            let qkey = (w.tenant.clone(), w.queue.clone());
            let Some(q) = self.queues.get(&qkey) else {
                continue;
            };
            if let Some(d) = w.directed.clone() {
                let ring = Duration::from_secs(q.cfg.ring_timeout_s);
                let free = self
                    .agents
                    .get(&d)
                    .is_some_and(|a| a.state == AgentState::Available && a.online);
                if free {
                    self.offer(&call, d, &qkey.1, ring, now);
                    continue;
                }
                // They went away or off line before it rang: route as any caller.
                if let Some(w) = self.waiting.get_mut(&call) {
                    w.directed = None;
                }
            }
            let (Some(w), Some(q)) = (self.waiting.get(&call), self.queues.get(&qkey)) else {
                continue;
            };
            let waited = now.saturating_duration_since(w.enqueued).as_secs();
            let step = q.cfg.steps.iter().rev().find(|s| s.after_s <= waited);
            let (require, prefer) = step.map_or((&[][..], &[][..]), |s| {
                (s.require.as_slice(), s.prefer.as_slice())
            });
            let staffed = self.agents.iter().any(|(k, a)| {
                self.member(&q.cfg, k) && a.state.staffed() && (a.online || a.lost_at.is_some())
            });
            if !staffed {
                let to = q.cfg.no_agents.clone();
                self.overflow(
                    &call,
                    to,
                    "no agent of the queue is signed in and available",
                    now,
                );
                continue;
            }
            let mut free: Vec<(&AgentKey, &Agent)> = self
                .agents
                .iter()
                .filter(|(k, a)| {
                    a.state == AgentState::Available
                        && a.online
                        && self.member(&q.cfg, k)
                        && !w.refused.contains(*k)
                        && Self::meets(&a.skills, require)
                })
                .collect();
            if free.is_empty() {
                continue;
            }
            let ring_timeout = Duration::from_secs(q.cfg.ring_timeout_s);
            let chosen: Vec<AgentKey> = match q.cfg.strategy {
                Strategy::RingAll => free.iter().map(|(k, _)| (*k).clone()).collect(),
                Strategy::LongestIdle => {
                    free.sort_by_key(|(k, a)| (a.idle_since, (*k).clone()));
                    vec![free[0].0.clone()]
                }
                Strategy::FewestCalls => {
                    free.sort_by_key(|(k, a)| (a.calls_today, a.idle_since, (*k).clone()));
                    vec![free[0].0.clone()]
                }
                Strategy::RoundRobin => {
                    let last = q.last.clone().unwrap_or_default();
                    free.sort_by_key(|(k, _)| (k.login <= last, k.login.clone()));
                    vec![free[0].0.clone()]
                }
                Strategy::Skills => {
                    free.sort_by_key(|(k, a)| {
                        (
                            std::cmp::Reverse(Self::score(&a.skills, prefer, &w.info)),
                            a.idle_since,
                            (*k).clone(),
                        )
                    });
                    vec![free[0].0.clone()]
                }
            };
            let queue = qkey.1.clone();
            for agent in chosen {
                self.offer(&call, agent, &queue, ring_timeout, now);
            }
        }
    }

    pub(super) fn offer(
        &mut self,
        call: &str,
        agent: AgentKey,
        queue: &str,
        ring: Duration,
        now: Instant,
    ) {
        if self
            .apply(&agent, AgentEvent::Offer(call.into()), now)
            .is_err()
        {
            return;
        }
        if let Some(a) = self.agents.get_mut(&agent) {
            a.deadline = Some(now + ring);
        }
        if let Some(w) = self.waiting.get_mut(call) {
            w.ringing.push(agent.clone());
        }
        self.out.push_back(Output::Offer {
            call: call.into(),
            agent,
            queue: queue.into(),
        });
    }
}
