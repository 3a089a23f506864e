//! The ACD engine: queues of waiting callers, agents and their states, routing. Sans-IO
//! like our SIP transaction layer: inputs are method calls with `now`, decisions come out
//! of `poll_output`, and `poll_timeout`/`handle_timeout` drive ring timeouts, wrap-up,
//! step expiry, announcements, maximum waits and reconnect grace. The runtime (call/)
//! turns outputs into rings, bridges and prompts.

use super::agent::{AgentEvent, AgentState, TransitionError, transition};
use super::config::{Overflow, QueueConfig};
use super::stats::{QueueEvent, QueueLog};
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
        self.admit(call, tenant, queue, info, false, None, now)
    }

    /// Puts a caller in a queue: as a new arrival, or first in line (`head`), or for one
    /// agent (`directed`, a transfer by name).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn admit(
        &mut self,
        call: &str,
        tenant: &str,
        queue: &str,
        info: CallerInfo,
        head: bool,
        directed: Option<AgentKey>,
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
                head,
                ringing: Vec::new(),
                refused: HashSet::new(),
                next_announce: (every > 0).then(|| now + Duration::from_secs(every)),
                next_step: None,
                directed,
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
}

mod figures;
mod routing;
mod transfer;
pub use figures::QueueStats;
pub use transfer::TransferTo;

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
