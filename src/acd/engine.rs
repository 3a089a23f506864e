//! The ACD engine: queues of waiting callers, agents and their states, routing. Sans-IO
//! like our SIP transaction layer: inputs are method calls with `now`, decisions come out
//! of `poll_output`, and `poll_timeout`/`handle_timeout` drive ring timeouts, wrap-up,
//! step expiry, announcements, maximum waits and reconnect grace. The runtime (call/)
//! turns outputs into rings, bridges and prompts.

use super::agent::{AgentEvent, AgentState, TransitionError, transition};
use super::config::{Overflow, QueueConfig, SkillReq, Strategy};
use super::stats::{Period, QueueEvent, QueueLog, WINDOW};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

/// An agent: tenant and login.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AgentKey {
    pub tenant: String,
    pub login: String,
}

impl AgentKey {
    pub fn new(tenant: &str, login: &str) -> AgentKey {
        AgentKey {
            tenant: tenant.into(),
            login: login.into(),
        }
    }
}

/// What routing knows of a caller.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallerInfo {
    /// From the flow or a webhook (`priority` variable); higher goes first.
    pub priority: u32,
    pub vip: bool,
    /// Dialect of the caller's region (e.g. `sichuan`): agents with `dialect:<it>` first.
    pub dialect: Option<String>,
    /// The caller's language (`zh`, `en`), for announcements.
    pub lang: Option<String>,
    /// The caller's number, kept for a callback.
    pub number: String,
}

/// How long an agent whose device dropped mid-call may take to come back before the
/// caller is put back at the head of the queue.
pub const RECONNECT_GRACE: Duration = Duration::from_secs(30);

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Ring `agent` for `call` (ring-all rings several).
    Offer {
        call: String,
        agent: AgentKey,
        queue: String,
    },
    /// Stop ringing `agent`: someone else answered, the caller left, or it rang out.
    Withdraw {
        call: String,
        agent: AgentKey,
        reason: String,
    },
    /// Tell the waiting caller where they are.
    Announce {
        call: String,
        position: usize,
        expected_wait: Duration,
        lang: Option<String>,
    },
    /// The queue gives up on the caller: `Fallback` back to the flow, or `Callback`
    /// (number kept in the callback list). Moves to another queue stay inside the engine.
    Overflow {
        call: String,
        to: Overflow,
        reason: String,
    },
    /// A caller whose agent's device dropped and did not come back is waiting again, at
    /// the head of its queue: the runtime ends the agent leg and plays hold music again.
    Requeued {
        call: String,
        reason: String,
    },
    AgentState {
        agent: AgentKey,
        state: AgentState,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AcdError {
    #[error("no queue {queue:?} in tenant {tenant}; add it to the [[queues]] of hotline.toml")]
    NoQueue { tenant: String, queue: String },
    #[error("no agent {0:?}; add the agent with `hotline agents add`")]
    NoAgent(String),
    #[error("call {0} is already queued or connected")]
    DuplicateCall(String),
    #[error("call {0} is no longer waiting (the caller left or another agent answered)")]
    CallGone(String),
    #[error(
        "agent {login} cannot take a transfer now: they are {state}; pick an available agent, or transfer to their queue"
    )]
    AgentNotFree { login: String, state: String },
    #[error("{0}")]
    State(#[from] TransitionError),
}

struct Agent {
    skills: HashMap<String, u8>,
    state: AgentState,
    since: Instant,
    /// When the agent last became available: longest-idle orders by it.
    idle_since: Instant,
    calls_today: u32,
    online: bool,
    /// Device lost at this moment; the grace period runs from it.
    lost_at: Option<Instant>,
    /// Ring or wrap-up deadline.
    deadline: Option<Instant>,
    /// Asked to go away while busy: applied when the call is done.
    pending_away: Option<String>,
}

struct Waiting {
    tenant: String,
    queue: String,
    info: CallerInfo,
    /// Entered this queue (steps and max wait count from here).
    enqueued: Instant,
    /// Entered the first queue (the caller's total wait, for stats).
    first: Instant,
    /// Put back at the head after an agent's device dropped.
    head: bool,
    ringing: Vec<AgentKey>,
    refused: HashSet<AgentKey>,
    next_announce: Option<Instant>,
    /// When the next routing step starts (requirements widen): route again then.
    next_step: Option<Instant>,
    /// Transferred to this agent by name: offered to them alone until they refuse or it
    /// rings out, then routed as any caller of the queue.
    directed: Option<AgentKey>,
}

struct Connected {
    agent: AgentKey,
    queue: (String, String),
    answered: Instant,
    info: CallerInfo,
}

struct Queue {
    cfg: QueueConfig,
    log: QueueLog,
    /// The login that got the last call (round-robin).
    last: Option<String>,
}

/// A caller to call back (overflow `callback`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CallbackTask {
    pub tenant: String,
    pub queue: String,
    pub call: String,
    pub number: String,
}

#[derive(Default)]
pub struct Acd {
    queues: BTreeMap<(String, String), Queue>,
    agents: BTreeMap<AgentKey, Agent>,
    waiting: HashMap<String, Waiting>,
    connected: HashMap<String, Connected>,
    /// Talk + wrap-up of the agent's current call: (queue, answered) until wrap-up ends.
    handling: HashMap<AgentKey, ((String, String), Instant)>,
    callbacks: Vec<CallbackTask>,
    out: VecDeque<Output>,
}

impl Acd {
    pub fn new(queues: Vec<QueueConfig>) -> Acd {
        let mut acd = Acd::default();
        for q in queues {
            acd.queues.insert(
                (q.tenant.clone(), q.name.clone()),
                Queue {
                    cfg: q,
                    log: QueueLog::default(),
                    last: None,
                },
            );
        }
        acd
    }

    /// Adds (or updates the skills of) an agent, logged out.
    pub fn add_agent(&mut self, key: AgentKey, skills: &[(String, u8)], now: Instant) {
        let skills: HashMap<String, u8> = skills.iter().cloned().collect();
        match self.agents.get_mut(&key) {
            Some(a) => a.skills = skills,
            None => {
                self.agents.insert(
                    key,
                    Agent {
                        skills,
                        state: AgentState::LoggedOut,
                        since: now,
                        idle_since: now,
                        calls_today: 0,
                        online: false,
                        lost_at: None,
                        deadline: None,
                        pending_away: None,
                    },
                );
            }
        }
    }

    pub fn agent_state(&self, key: &AgentKey) -> Option<&AgentState> {
        self.agents.get(key).map(|a| &a.state)
    }

    /// A queue's configuration.
    pub fn queue(&self, tenant: &str, name: &str) -> Option<&QueueConfig> {
        self.queues
            .get(&(tenant.to_string(), name.to_string()))
            .map(|q| &q.cfg)
    }

    pub fn callbacks(&self) -> &[CallbackTask] {
        &self.callbacks
    }

    /// Signs in: available, with a device online.
    pub fn login(&mut self, key: &AgentKey, now: Instant) -> Result<(), AcdError> {
        if let Some(a) = self.agents.get_mut(key) {
            a.online = true;
            a.lost_at = None;
        }
        self.apply(key, AgentEvent::Login, now)?;
        self.route(now);
        Ok(())
    }

    pub fn logout(&mut self, key: &AgentKey, now: Instant) -> Result<(), AcdError> {
        let ringing = self.agent(key)?.state.clone();
        self.apply(key, AgentEvent::Logout, now)?;
        if let AgentState::Ringing { call } = ringing {
            self.unring(&call, key, "agent signed out", now);
        }
        if let Some(a) = self.agents.get_mut(key) {
            a.online = false;
        }
        self.route(now);
        Ok(())
    }

    pub fn set_available(&mut self, key: &AgentKey, now: Instant) -> Result<(), AcdError> {
        let a = self.agent_mut(key)?;
        a.pending_away = None;
        self.apply(key, AgentEvent::SetAvailable, now)?;
        self.route(now);
        Ok(())
    }

    /// Away with a reason code; while ringing the offer goes to someone else, while on a
    /// call it takes effect after the call.
    pub fn set_away(&mut self, key: &AgentKey, reason: &str, now: Instant) -> Result<(), AcdError> {
        let state = self.agent(key)?.state.clone();
        match state {
            AgentState::OnCall { .. } => {
                self.agent_mut(key)?.pending_away = Some(reason.into());
                Ok(())
            }
            AgentState::Ringing { call } => {
                self.apply(
                    key,
                    AgentEvent::Unanswered(call.clone(), reason.into()),
                    now,
                )?;
                self.unring(&call, key, "agent went away", now);
                self.route(now);
                Ok(())
            }
            _ => {
                self.apply(key, AgentEvent::SetAway(reason.into()), now)?;
                Ok(())
            }
        }
    }

    /// The agent's device (browser tab or phone) went away: a ringing offer goes to
    /// someone else at once; a call in progress waits [`RECONNECT_GRACE`] for it.
    pub fn device_lost(&mut self, key: &AgentKey, now: Instant) -> Result<(), AcdError> {
        let a = self.agent_mut(key)?;
        a.online = false;
        // The grace runs from the first sign of loss (the page's socket, then its audio).
        if a.lost_at.is_none() {
            a.lost_at = Some(now);
        }
        let state = a.state.clone();
        if let AgentState::Ringing { call } = state {
            self.apply(
                key,
                AgentEvent::Unanswered(call.clone(), "disconnected".into()),
                now,
            )?;
            self.unring(&call, key, "agent disconnected", now);
            self.route(now);
        }
        Ok(())
    }

    /// The device is back (within the grace period, the call simply goes on).
    pub fn device_back(&mut self, key: &AgentKey, now: Instant) -> Result<(), AcdError> {
        let a = self.agent_mut(key)?;
        a.online = true;
        a.lost_at = None;
        self.route(now);
        Ok(())
    }

    /// A caller enters a queue. Overflows at once (an `Overflow` output) when nobody
    /// staffs it.
    pub fn enqueue(
        &mut self,
        call: &str,
        tenant: &str,
        queue: &str,
        info: CallerInfo,
        now: Instant,
    ) -> Result<(), AcdError> {
        if self.waiting.contains_key(call) || self.connected.contains_key(call) {
            return Err(AcdError::DuplicateCall(call.into()));
        }
        let key = (tenant.to_string(), queue.to_string());
        let q = self.queues.get_mut(&key).ok_or_else(|| AcdError::NoQueue {
            tenant: tenant.into(),
            queue: queue.into(),
        })?;
        q.log.push(now, QueueEvent::Offered);
        let every = q.cfg.announce_every_s;
        self.waiting.insert(
            call.into(),
            Waiting {
                tenant: tenant.into(),
                queue: queue.into(),
                info,
                enqueued: now,
                first: now,
                head: false,
                ringing: Vec::new(),
                refused: HashSet::new(),
                next_announce: (every > 0).then(|| now + Duration::from_secs(every)),
                next_step: None,
                directed: None,
            },
        );
        self.route(now);
        Ok(())
    }

    /// The caller hung up (or the flow took the call back): waiting → abandoned, ringing
    /// offers withdrawn, a call in progress → the agent wraps up.
    pub fn caller_left(&mut self, call: &str, now: Instant) {
        if let Some(w) = self.waiting.remove(call) {
            for agent in w.ringing.clone() {
                let _ = self.apply(&agent, AgentEvent::Withdraw(call.into()), now);
                self.out.push_back(Output::Withdraw {
                    call: call.into(),
                    agent,
                    reason: "the caller hung up".into(),
                });
            }
            if let Some(q) = self.queues.get_mut(&(w.tenant, w.queue)) {
                q.log.push(
                    now,
                    QueueEvent::Abandoned {
                        wait: now.saturating_duration_since(w.first),
                    },
                );
            }
            self.route(now);
        } else {
            self.call_ended(call, now);
        }
    }

    /// The agent answered. `Err(CallGone)` if the caller left meanwhile: the runtime
    /// hangs up the agent's leg.
    pub fn accept(&mut self, call: &str, key: &AgentKey, now: Instant) -> Result<(), AcdError> {
        let ringing_this = matches!(&self.agent(key)?.state,
            AgentState::Ringing { call: c } if c == call);
        let Some(w) = self.waiting.remove(call).filter(|_| ringing_this) else {
            return Err(AcdError::CallGone(call.into()));
        };
        self.apply(key, AgentEvent::Accept(call.into()), now)?;
        for other in w.ringing.iter().filter(|a| *a != key) {
            let _ = self.apply(other, AgentEvent::Withdraw(call.into()), now);
            self.out.push_back(Output::Withdraw {
                call: call.into(),
                agent: other.clone(),
                reason: "answered by another agent".into(),
            });
        }
        let qkey = (w.tenant.clone(), w.queue.clone());
        if let Some(q) = self.queues.get_mut(&qkey) {
            q.last = Some(key.login.clone());
            q.log.push(
                now,
                QueueEvent::Answered {
                    wait: now.saturating_duration_since(w.first),
                },
            );
        }
        if let Some(a) = self.agents.get_mut(key) {
            a.calls_today += 1;
        }
        self.handling.insert(key.clone(), (qkey.clone(), now));
        self.connected.insert(
            call.into(),
            Connected {
                agent: key.clone(),
                queue: qkey,
                answered: now,
                info: w.info,
            },
        );
        self.route(now);
        Ok(())
    }

    /// The agent declined, or their device could not be reached (`unreachable`: they go
    /// away so the next call does not try them again).
    pub fn refuse(
        &mut self,
        call: &str,
        key: &AgentKey,
        unreachable: bool,
        now: Instant,
    ) -> Result<(), AcdError> {
        let ev = if unreachable {
            AgentEvent::Unanswered(call.into(), "unreachable".into())
        } else {
            AgentEvent::Reject(call.into())
        };
        self.apply(key, ev, now)?;
        if let Some(w) = self.waiting.get_mut(call) {
            w.ringing.retain(|a| a != key);
            w.refused.insert(key.clone());
            w.directed = None;
        }
        self.route(now);
        Ok(())
    }

    /// The call with an agent ended (either side hung up): the agent wraps up.
    pub fn call_ended(&mut self, call: &str, now: Instant) {
        let Some(c) = self.connected.remove(call) else {
            return;
        };
        let _ = c.answered;
        if self
            .apply(&c.agent, AgentEvent::CallEnded(call.into()), now)
            .is_ok()
        {
            let wrap = self.queues.get(&c.queue).map_or(0, |q| q.cfg.wrap_up_s);
            if let Some(a) = self.agents.get_mut(&c.agent) {
                a.deadline = Some(now + Duration::from_secs(wrap));
            }
        }
    }

    /// Wrap-up finished (the agent saved the disposition, or the wrap-up time ran out).
    pub fn wrap_up_done(&mut self, key: &AgentKey, now: Instant) -> Result<(), AcdError> {
        if !matches!(self.agent(key)?.state, AgentState::WrapUp { .. }) {
            return Err(AcdError::State(TransitionError {
                state: self.agent(key)?.state.to_string(),
                why: "there is no call to wrap up".into(),
            }));
        }
        self.finish_wrap_up(key, now);
        self.route(now);
        Ok(())
    }

    fn finish_wrap_up(&mut self, key: &AgentKey, now: Instant) {
        let pending = self.agents.get_mut(key).and_then(|a| a.pending_away.take());
        let ev = match pending {
            Some(r) => AgentEvent::SetAway(r),
            None => AgentEvent::WrapUpDone,
        };
        let _ = self.apply(key, ev, now);
        if let Some((q, answered)) = self.handling.remove(key)
            && let Some(q) = self.queues.get_mut(&q)
        {
            q.log.push(
                now,
                QueueEvent::Handled {
                    time: now.saturating_duration_since(answered),
                },
            );
        }
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// The next moment something is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let agents = self.agents.values().flat_map(|a| {
            [a.deadline, a.lost_at.map(|t| t + RECONNECT_GRACE)]
                .into_iter()
                .flatten()
        });
        let calls = self.waiting.values().flat_map(|w| {
            let q = self.queues.get(&(w.tenant.clone(), w.queue.clone()));
            let max = q.map(|q| w.enqueued + Duration::from_secs(q.cfg.max_wait_s));
            let step = w.next_step.filter(|_| w.ringing.is_empty());
            [max, w.next_announce, step].into_iter().flatten()
        });
        agents.chain(calls).min()
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        // Ring timeouts and wrap-up ends.
        let due: Vec<(AgentKey, AgentState)> = self
            .agents
            .iter()
            .filter(|(_, a)| a.deadline.is_some_and(|d| d <= now))
            .map(|(k, a)| (k.clone(), a.state.clone()))
            .collect();
        for (key, state) in due {
            if let Some(a) = self.agents.get_mut(&key) {
                a.deadline = None;
            }
            match state {
                AgentState::Ringing { call } => {
                    let _ = self.apply(
                        &key,
                        AgentEvent::Unanswered(call.clone(), "no-answer".into()),
                        now,
                    );
                    self.unring(&call, &key, "no answer", now);
                }
                AgentState::WrapUp { .. } => self.finish_wrap_up(&key, now),
                _ => {}
            }
        }
        // Devices that did not come back in time.
        let lost: Vec<(AgentKey, AgentState)> = self
            .agents
            .iter()
            .filter(|(_, a)| a.lost_at.is_some_and(|t| t + RECONNECT_GRACE <= now))
            .map(|(k, a)| (k.clone(), a.state.clone()))
            .collect();
        for (key, state) in lost {
            if let Some(a) = self.agents.get_mut(&key) {
                a.lost_at = None;
            }
            if let AgentState::OnCall { call } = &state {
                self.requeue_head(call, &key, now);
            }
            let a = self.agents.get_mut(&key);
            if let Some(a) = a {
                a.state = AgentState::LoggedOut;
                a.since = now;
                a.deadline = None;
            }
            self.handling.remove(&key);
            self.out.push_back(Output::AgentState {
                agent: key.clone(),
                state: AgentState::LoggedOut,
            });
        }
        // Waiting callers: maximum wait, announcements.
        let calls: Vec<String> = self.waiting.keys().cloned().collect();
        for call in calls {
            let Some(w) = self.waiting.get(&call) else {
                continue;
            };
            let qkey = (w.tenant.clone(), w.queue.clone());
            let Some(q) = self.queues.get(&qkey) else {
                continue;
            };
            if now >= w.enqueued + Duration::from_secs(q.cfg.max_wait_s) {
                let to = q.cfg.overflow.clone();
                self.overflow(&call, to, "waited the queue's max_wait_s", now);
                continue;
            }
            if w.next_announce.is_some_and(|t| t <= now) {
                let every = q.cfg.announce_every_s;
                self.announce(&call, now);
                if let Some(w) = self.waiting.get_mut(&call) {
                    w.next_announce = Some(now + Duration::from_secs(every.max(1)));
                }
            }
        }
        self.route(now);
    }

    /// Where a waiting caller is in line (1-based) among its queue's callers.
    pub fn position(&self, call: &str, now: Instant) -> Option<usize> {
        let w = self.waiting.get(call)?;
        let order = self.order(now);
        Some(
            order
                .iter()
                .filter(|c| {
                    self.waiting
                        .get(c.as_str())
                        .is_some_and(|x| x.queue == w.queue && x.tenant == w.tenant)
                })
                .position(|c| c == call)?
                + 1,
        )
    }

    /// Live and period figures of every queue; `day_start` is local midnight.
    pub fn stats(&self, now: Instant, day_start: Instant) -> Vec<QueueStats> {
        self.queues
            .iter()
            .map(|((tenant, name), q)| {
                let waiting: Vec<&Waiting> = self
                    .waiting
                    .values()
                    .filter(|w| &w.tenant == tenant && &w.queue == name)
                    .collect();
                let longest = waiting
                    .iter()
                    .map(|w| now.saturating_duration_since(w.first))
                    .max()
                    .unwrap_or_default();
                let mut agents: BTreeMap<&'static str, u32> = BTreeMap::new();
                for (k, a) in &self.agents {
                    if self.member(&q.cfg, k) {
                        *agents.entry(a.state.name()).or_default() += 1;
                    }
                }
                let sl = Duration::from_secs(q.cfg.service_level_s);
                QueueStats {
                    tenant: tenant.clone(),
                    queue: name.clone(),
                    waiting: waiting.len(),
                    longest_wait_s: longest.as_secs(),
                    agents: agents
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect(),
                    last_15_min: q.log.period(now.checked_sub(WINDOW).unwrap_or(now), sl),
                    today: q.log.period(day_start, sl),
                }
            })
            .collect()
    }

    // ---- internals ----

    /// Queue events since the last call, for the store: (tenant, queue, when, event).
    pub fn take_unsaved_stats(&mut self) -> Vec<(String, String, Instant, QueueEvent)> {
        let mut out = Vec::new();
        for ((tenant, queue), q) in self.queues.iter_mut() {
            for (at, ev) in q.log.take_unsaved() {
                out.push((tenant.clone(), queue.clone(), at, ev));
            }
        }
        out
    }

    /// A stored event of a queue, back after a restart; `false` if the queue is gone.
    pub fn restore_stat(&mut self, tenant: &str, queue: &str, at: Instant, ev: QueueEvent) -> bool {
        match self
            .queues
            .get_mut(&(tenant.to_string(), queue.to_string()))
        {
            Some(q) => {
                q.log.restore(at, ev);
                true
            }
            None => false,
        }
    }

    fn agent(&self, key: &AgentKey) -> Result<&Agent, AcdError> {
        self.agents
            .get(key)
            .ok_or_else(|| AcdError::NoAgent(format!("{}/{}", key.tenant, key.login)))
    }

    fn agent_mut(&mut self, key: &AgentKey) -> Result<&mut Agent, AcdError> {
        self.agents
            .get_mut(key)
            .ok_or_else(|| AcdError::NoAgent(format!("{}/{}", key.tenant, key.login)))
    }

    /// Applies a transition and reports the new state.
    fn apply(&mut self, key: &AgentKey, ev: AgentEvent, now: Instant) -> Result<(), AcdError> {
        let a = self.agent_mut(key)?;
        let next = transition(&a.state, &ev)?;
        if next == AgentState::Available && a.state != AgentState::Available {
            a.idle_since = now;
        }
        a.deadline = None;
        a.state = next.clone();
        a.since = now;
        self.out.push_back(Output::AgentState {
            agent: key.clone(),
            state: next,
        });
        Ok(())
    }

    /// `agent` no longer rings for `call` (its state already moved).
    fn unring(&mut self, call: &str, agent: &AgentKey, reason: &str, _now: Instant) {
        self.out.push_back(Output::Withdraw {
            call: call.into(),
            agent: agent.clone(),
            reason: reason.into(),
        });
        if let Some(w) = self.waiting.get_mut(call) {
            w.ringing.retain(|a| a != agent);
            w.refused.insert(agent.clone());
            w.directed = None;
        }
    }

    fn requeue_head(&mut self, call: &str, agent: &AgentKey, now: Instant) {
        let Some(c) = self.connected.remove(call) else {
            return;
        };
        let every = self
            .queues
            .get(&c.queue)
            .map_or(0, |q| q.cfg.announce_every_s);
        let mut refused = HashSet::new();
        refused.insert(agent.clone());
        self.waiting.insert(
            call.into(),
            Waiting {
                tenant: c.queue.0.clone(),
                queue: c.queue.1.clone(),
                info: c.info,
                enqueued: now,
                first: c.answered,
                head: true,
                ringing: Vec::new(),
                refused,
                next_announce: (every > 0).then(|| now + Duration::from_secs(every)),
                next_step: None,
                directed: None,
            },
        );
        self.out.push_back(Output::Requeued {
            call: call.into(),
            reason: format!("agent {} lost their connection", agent.login),
        });
    }

    fn overflow(&mut self, call: &str, to: Overflow, reason: &str, now: Instant) {
        let Some(w) = self.waiting.remove(call) else {
            return;
        };
        for agent in &w.ringing {
            let _ = self.apply(agent, AgentEvent::Withdraw(call.into()), now);
            self.out.push_back(Output::Withdraw {
                call: call.into(),
                agent: agent.clone(),
                reason: "the caller left the queue".into(),
            });
        }
        if let Some(q) = self.queues.get_mut(&(w.tenant.clone(), w.queue.clone())) {
            q.log.push(now, QueueEvent::Overflowed);
        }
        match to {
            Overflow::Queue(target)
                if self
                    .queues
                    .contains_key(&(w.tenant.clone(), target.clone())) =>
            {
                let key = (w.tenant.clone(), target.clone());
                let every = self.queues.get(&key).map_or(0, |q| q.cfg.announce_every_s);
                if let Some(q) = self.queues.get_mut(&key) {
                    q.log.push(now, QueueEvent::Offered);
                }
                self.waiting.insert(
                    call.into(),
                    Waiting {
                        queue: target,
                        enqueued: now,
                        head: false,
                        ringing: Vec::new(),
                        refused: HashSet::new(),
                        next_announce: (every > 0).then(|| now + Duration::from_secs(every)),
                        next_step: None,
                        directed: None,
                        ..w
                    },
                );
            }
            Overflow::Callback => {
                self.callbacks.push(CallbackTask {
                    tenant: w.tenant,
                    queue: w.queue,
                    call: call.into(),
                    number: w.info.number.clone(),
                });
                self.out.push_back(Output::Overflow {
                    call: call.into(),
                    to: Overflow::Callback,
                    reason: reason.into(),
                });
            }
            _ => self.out.push_back(Output::Overflow {
                call: call.into(),
                to: Overflow::Fallback,
                reason: reason.into(),
            }),
        }
    }

    fn announce(&mut self, call: &str, now: Instant) {
        let Some(position) = self.position(call, now) else {
            return;
        };
        let Some(w) = self.waiting.get(call) else {
            return;
        };
        let q = self.queues.get(&(w.tenant.clone(), w.queue.clone()));
        let aht = q
            .and_then(|q| q.log.recent_aht(now))
            .unwrap_or(Duration::from_secs(180));
        let staffed = q.map_or(0, |q| {
            self.agents
                .iter()
                .filter(|(k, a)| self.member(&q.cfg, k) && a.state.staffed())
                .count()
        });
        let expected_wait = aht * position as u32 / staffed.max(1) as u32;
        self.out.push_back(Output::Announce {
            call: call.into(),
            position,
            expected_wait,
            lang: w.info.lang.clone(),
        });
    }

    fn member(&self, q: &QueueConfig, k: &AgentKey) -> bool {
        k.tenant == q.tenant && (q.agents.is_empty() || q.agents.contains(&k.login))
    }

    fn priority(&self, w: &Waiting, now: Instant) -> u64 {
        let q = self.queues.get(&(w.tenant.clone(), w.queue.clone()));
        let (vip, ageing) = q.map_or((0, 0), |q| (q.cfg.vip_priority, q.cfg.ageing_per_minute));
        let minutes = now.saturating_duration_since(w.first).as_secs() / 60;
        u64::from(w.info.priority)
            + if w.info.vip { u64::from(vip) } else { 0 }
            + minutes * u64::from(ageing)
    }

    /// Waiting calls in routing order: requeued first, then priority, then arrival.
    fn order(&self, now: Instant) -> Vec<String> {
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

    fn meets(skills: &HashMap<String, u8>, reqs: &[SkillReq]) -> bool {
        reqs.iter()
            .all(|r| skills.get(&r.skill).is_some_and(|l| *l >= r.min))
    }

    /// How well an agent matches the step's preferences and the caller's dialect.
    fn score(skills: &HashMap<String, u8>, prefer: &[SkillReq], info: &CallerInfo) -> u32 {
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
    fn route(&mut self, now: Instant) {
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

    fn offer_free_agents(&mut self, now: Instant) {
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

    fn offer(&mut self, call: &str, agent: AgentKey, queue: &str, ring: Duration, now: Instant) {
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

/// `GET /api/v1/queues/stats`, one entry per queue.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QueueStats {
    pub tenant: String,
    pub queue: String,
    pub waiting: usize,
    pub longest_wait_s: u64,
    /// Member agents by state name.
    pub agents: BTreeMap<String, u32>,
    pub last_15_min: Period,
    pub today: Period,
}

mod transfer;
pub use transfer::TransferTo;

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
