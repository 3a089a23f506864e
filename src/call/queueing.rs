//! The ACD at run time: a flow's `enqueue` puts the caller in a queue of the pure engine
//! (`acd/`), with music on hold and position announcements; an offer rings the agent's
//! device — today the SIP phone registered for the agent — as a leg Hotline places, and
//! its answer bridges the caller to the agent. Agents' sign-in, state and screen pops
//! travel over the agent WebSocket hub. Everything here runs on the call manager's task.

use super::ivr_session::SessionInput;
use super::transfer::{FarLeg, RING_TIMEOUT};
use super::{CallManager, params, text};
use crate::acd::{Acd, AgentKey, AgentState, CallerInfo, Output, QueueStats};
use crate::api::agent_sessions::AgentId;
use crate::api::agent_ws::AgentHub;
use crate::media::bridge::bridge_pair;
use crate::media::player::Item;
use crate::media::resample::Prompt;
use crate::media::worker::MediaCommand;
use crate::region::{RegionDb, dialect_for_province};
use crate::sdp::Negotiated;
use crate::sip::endpoint::{Dial, HangupSide, mask};
use crate::sip::transport::EndpointCommand;
use crate::store::{Store, StoredAgentState};
use crate::tts::Voice;
use crate::webrtc::{GatewayHandle, PeerId};
use bytes::Bytes;
use chrono::{TimeZone, Utc};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::watch;
use tracing::{info, warn};

/// Ids of prompt lists the queue plays (music, announcements), apart from the flow's.
const QUEUE_PLAY: u64 = 1 << 62;

/// What the manager needs for queues beyond calls.
pub struct AcdRuntime {
    pub acd: Acd,
    pub hub: Option<Arc<AgentHub>>,
    /// Browser agents' audio; `None`: only desk phones can take calls.
    pub gateway: Option<GatewayHandle>,
    /// Callers' regions (phone.dat), for dialect routing and the agent's screen.
    pub region: Option<Arc<RegionDb>>,
    /// Browser legs: the call and agent each WebRTC peer serves.
    pub(super) peers: HashMap<PeerId, (Bytes, AgentKey)>,
    pub store: Option<Arc<Store>>,
    pub moh: Option<Prompt>,
    pub stats: watch::Sender<Vec<QueueStats>>,
    pub(super) agents: HashMap<AgentKey, AgentDevice>,
    next_play: u64,
    next_leg: u64,
}

pub(super) struct AgentDevice {
    pub name: String,
    pub sip_user: Option<String>,
    pub conns: usize,
}

/// A caller waiting in (or served from) a queue.
pub(super) struct Queued {
    pub queue: String,
    /// Playing the queue's music (not yet bridged to an agent).
    pub holding: bool,
    /// The agent who took the call.
    pub agent: Option<AgentKey>,
    /// Where the caller's number is from, e.g. `四川 成都 · 中国移动`.
    pub region: Option<String>,
    pub vip: bool,
    pub enqueued: Instant,
    /// When the agent answered (the wait ends).
    pub answered: Option<Instant>,
}

impl Queued {
    /// The CDR's queue columns: queue, whole seconds waited (to the answer, or to now),
    /// agent.
    pub fn cdr(&self) -> (Option<String>, Option<i64>, Option<String>) {
        let until = self.answered.unwrap_or_else(Instant::now);
        let wait = until.saturating_duration_since(self.enqueued).as_secs();
        (
            Some(self.queue.clone()),
            Some(i64::try_from(wait).unwrap_or(i64::MAX)),
            self.agent.as_ref().map(|a| a.login.clone()),
        )
    }
}

impl AcdRuntime {
    pub fn new(
        acd: Acd,
        hub: Option<Arc<AgentHub>>,
        store: Option<Arc<Store>>,
        moh: Option<Prompt>,
        gateway: Option<GatewayHandle>,
        region: Option<Arc<RegionDb>>,
    ) -> (AcdRuntime, watch::Receiver<Vec<QueueStats>>) {
        let (stats, rx) = watch::channel(Vec::new());
        (
            AcdRuntime {
                acd,
                hub,
                gateway,
                region,
                peers: HashMap::new(),
                store,
                moh,
                stats,
                agents: HashMap::new(),
                next_play: 0,
                next_leg: 0,
            },
            rx,
        )
    }

    /// Agents who were signed in when the node stopped come back signed in but away
    /// ("restarted"), so nobody gets calls before their phone and page are back.
    pub async fn restore(&mut self) {
        let Some(store) = self.store.clone() else {
            return;
        };
        let (states, agents) = match (store.agent_states().await, store.list_agents(None).await) {
            (Ok(s), Ok(a)) => (s, a),
            (Err(e), _) | (_, Err(e)) => {
                warn!(error = %e, "agent states not restored");
                return;
            }
        };
        let now = Instant::now();
        for a in agents {
            let key = AgentKey::new(&a.tenant, &a.login);
            let skills: Vec<(String, u8)> =
                a.skills.iter().map(|s| (s.name.clone(), s.level)).collect();
            self.acd.add_agent(key.clone(), &skills, now);
            self.agents.insert(
                key.clone(),
                AgentDevice {
                    name: a.display_name,
                    sip_user: a.sip_user,
                    conns: 0,
                },
            );
            let was = states
                .iter()
                .find(|s| s.tenant == key.tenant && s.login == key.login);
            if was.is_some_and(|s| s.state != "logged-out") {
                let _ = self.acd.login(&key, now);
                let _ = self.acd.set_away(&key, "restarted", now);
            }
        }
        while self.acd.poll_output().is_some() {}
    }

    pub(super) fn send(&self, agent: &AgentKey, event: Value) {
        if let Some(hub) = &self.hub {
            hub.send(&id_of(agent), &event);
        }
    }
}

pub(super) fn id_of(k: &AgentKey) -> AgentId {
    AgentId {
        tenant: k.tenant.clone(),
        login: k.login.clone(),
    }
}

pub(super) fn key_of(a: &AgentId) -> AgentKey {
    AgentKey::new(&a.tenant, &a.login)
}

fn state_json(s: &AgentState) -> Value {
    json!({"type": "state", "state": s.name(), "reason": s.reason(), "call_id": s.call()})
}

/// `{"type":"callbacks","items":[…]}` for one tenant (numbers masked, as on screen pops).
pub(super) fn callbacks_json(acd: &Acd, tenant: &str) -> Value {
    let items: Vec<Value> = acd
        .callbacks()
        .iter()
        .filter(|c| c.tenant == tenant)
        .map(|c| json!({"queue": c.queue, "call_id": c.call, "number": mask(c.number.as_bytes())}))
        .collect();
    json!({"type": "callbacks", "items": items})
}

fn info_dialect(r: &Option<crate::region::Region>) -> Option<&'static str> {
    r.as_ref().and_then(|r| dialect_for_province(&r.province))
}

/// Local midnight in Shanghai (the default business zone) as an `Instant`.
pub(super) fn day_start(now: Instant) -> Instant {
    let tz = chrono_tz::Asia::Shanghai;
    let wall = Utc::now().with_timezone(&tz);
    let midnight = wall
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .and_then(|m| tz.from_local_datetime(&m).earliest());
    match midnight {
        Some(m) => {
            let since = (wall - m).to_std().unwrap_or_default();
            now.checked_sub(since).unwrap_or(now)
        }
        None => now,
    }
}

impl CallManager {
    /// A flow hands its caller to a queue.
    pub(super) fn enqueue(
        &mut self,
        call_id: Bytes,
        queue: String,
        priority: u32,
        vip: bool,
        lang: String,
    ) {
        let now = Instant::now();
        let Some(call) = self.calls.get_mut(&call_id) else {
            return;
        };
        let tenant = match &call.route {
            super::Route::Flow { tenant, .. } => tenant.clone(),
            _ => "default".into(),
        };
        let Some(rt) = self.acd.as_mut() else {
            self.to_session(&call_id, SessionInput::QueueDone { agent: None });
            return;
        };
        let region = rt.region.as_ref().and_then(|db| db.lookup(&call.from));
        let info = CallerInfo {
            priority,
            vip,
            dialect: region
                .as_ref()
                .and_then(|r| dialect_for_province(&r.province))
                .map(str::to_string),
            lang: Some(lang),
            number: call.from.clone(),
        };
        match rt.acd.enqueue(&text(&call_id), &tenant, &queue, info, now) {
            Ok(()) => {
                info!(call_id = %text(&call_id), %queue, vip, region = ?region.as_ref().map(|r| r.label()),
                    dialect = ?info_dialect(&region), "caller queued");
                call.queued = Some(Queued {
                    queue,
                    holding: true,
                    agent: None,
                    region: region.as_ref().map(|r| r.label()),
                    vip,
                    enqueued: now,
                    answered: None,
                });
                self.play_hold(&call_id, None);
                self.drive_acd();
            }
            Err(e) => {
                warn!(call_id = %text(&call_id), error = %e, "cannot queue the caller; the flow takes its fallback");
                self.to_session(&call_id, SessionInput::QueueDone { agent: None });
            }
        }
    }

    /// The callback list of each tenant, to its signed-in agents.
    pub(super) fn publish_callbacks(&self) {
        let Some(rt) = &self.acd else {
            return;
        };
        let Some(hub) = &rt.hub else {
            return;
        };
        for agent in hub.online() {
            hub.send(&agent, &callbacks_json(&rt.acd, &agent.tenant));
        }
    }

    /// Music on hold (after an announcement, if any) for a waiting caller.
    pub(super) fn play_hold(&mut self, call_id: &Bytes, before: Option<Item>) {
        let Some(rt) = self.acd.as_mut() else {
            return;
        };
        rt.next_play += 1;
        let id = QUEUE_PLAY + rt.next_play;
        let mut items: Vec<Item> = before.into_iter().collect();
        match &rt.moh {
            Some(m) => items.push(Item::Prompt(m.clone())),
            // No music file: a quiet pause, so the loop does not spin.
            None => items.push(Item::Silence(Duration::from_secs(10))),
        }
        self.media.send(MediaCommand::Play {
            call_id: call_id.clone(),
            id,
            items,
            interruptible: false,
        });
    }

    /// A prompt list ended on a queued call: loop the music. `false`: not ours.
    pub(super) fn queue_playback_done(
        &mut self,
        call_id: &Bytes,
        id: u64,
        interrupted: bool,
    ) -> bool {
        if id < QUEUE_PLAY {
            return false;
        }
        let holding = self
            .calls
            .get(call_id)
            .and_then(|c| c.queued.as_ref())
            .is_some_and(|q| q.holding);
        if holding && !interrupted {
            self.play_hold(call_id, None);
        }
        true
    }

    /// Runs the engine's timers.
    pub(super) fn acd_timeout(&mut self) {
        if let Some(rt) = self.acd.as_mut() {
            rt.acd.handle_timeout(Instant::now());
        }
        self.drive_acd();
    }

    pub(super) fn acd_deadline(&self) -> Option<Instant> {
        self.acd.as_ref().and_then(|rt| rt.acd.poll_timeout())
    }

    /// Carries out what the engine decided.
    pub(super) fn drive_acd(&mut self) {
        while let Some(out) = self.acd.as_mut().and_then(|rt| rt.acd.poll_output()) {
            match out {
                Output::Offer { call, agent, queue } => self.ring_agent(call, agent, queue),
                Output::Withdraw {
                    call,
                    agent,
                    reason,
                } => {
                    self.stop_ringing(&call, &agent);
                    if let Some(rt) = &self.acd {
                        rt.send(
                            &agent,
                            json!({"type": "offer_withdrawn", "call_id": call, "reason": reason}),
                        );
                    }
                }
                Output::Announce {
                    call,
                    position,
                    expected_wait,
                    lang,
                } => self.announce(call, position, expected_wait, lang),
                Output::Overflow { call, to, reason } => {
                    info!(call_id = %call, ?to, %reason, "caller leaves the queue");
                    if to == crate::acd::Overflow::Callback {
                        self.publish_callbacks();
                    }
                    let id = Bytes::from(call);
                    if let Some(q) = self.calls.get_mut(&id).and_then(|c| c.queued.as_mut()) {
                        q.holding = false;
                    }
                    self.media.send(MediaCommand::StopPlayback {
                        call_id: id.clone(),
                    });
                    self.to_session(&id, SessionInput::QueueDone { agent: None });
                }
                Output::Requeued { call, reason } => {
                    info!(call_id = %call, %reason, "caller back in the queue");
                    let id = Bytes::from(call);
                    self.end_agent_leg(&id, "agent lost their connection");
                    self.close_peers_of(&id);
                    if let Some(q) = self.calls.get_mut(&id).and_then(|c| c.queued.as_mut()) {
                        q.holding = true;
                        q.agent = None;
                        q.answered = None;
                    }
                    self.play_hold(&id, None);
                }
                Output::AgentState { agent, state } => {
                    if let Some(rt) = &self.acd {
                        rt.send(&agent, state_json(&state));
                        if let Some(store) = rt.store.clone() {
                            let saved = StoredAgentState {
                                tenant: agent.tenant.clone(),
                                login: agent.login.clone(),
                                state: state.name().into(),
                                reason: state.reason().map(str::to_string),
                                since: Utc::now(),
                            };
                            tokio::spawn(async move {
                                if let Err(e) = store.save_agent_state(&saved).await {
                                    warn!(error = %e, "agent state not saved");
                                }
                            });
                        }
                    }
                }
            }
        }
        self.publish_stats();
        if let Some(rt) = self.acd.as_mut() {
            rt.save_stats();
        }
    }

    /// The figures `GET /api/v1/queues/stats` serves.
    pub(super) fn publish_stats(&mut self) {
        if let Some(rt) = &self.acd {
            let now = Instant::now();
            rt.stats.send_replace(rt.acd.stats(now, day_start(now)));
        }
    }

    /// Rings the agent's device: their registered SIP phone.
    fn ring_agent(&mut self, call: String, agent: AgentKey, queue: String) {
        let now = Instant::now();
        let call_id = Bytes::from(call.clone());
        let Some(rt) = self.acd.as_mut() else {
            return;
        };
        let device = rt.agents.get(&agent).and_then(|d| d.sip_user.clone());
        let browser = device.is_none();
        if browser && rt.gateway.is_none() {
            warn!(agent = %agent.login, "agent has no phone (no sip_user) and WebRTC is off; the call goes to another agent");
            let _ = rt.acd.refuse(&call, &agent, true, now);
            return;
        }
        rt.next_leg += 1;
        let leg_id = Bytes::from(format!("{call}-agent{}", rt.next_leg));
        let Some(c) = self.calls.get(&call_id) else {
            return;
        };
        let tenant = match &c.route {
            super::Route::Flow { tenant, .. } => tenant.clone(),
            _ => "default".into(),
        };
        let ring_s = self
            .acd
            .as_ref()
            .and_then(|rt| rt.acd.queue(&tenant, &queue))
            .map_or(RING_TIMEOUT.as_secs(), |q| q.ring_timeout_s);
        let screen = json!({
            "type": "offer",
            "call_id": call,
            "queue": queue,
            "caller": mask(c.from.as_bytes()),
            "called": c.to,
            "region": c.queued.as_ref().and_then(|q| q.region.clone()),
            "vip": c.queued.as_ref().is_some_and(|q| q.vip),
            "ivr_path": c.session.as_ref().and_then(|s| s.shared.lock().ok().map(|s| s.path.clone())),
            "ring_timeout_s": ring_s,
        });
        let from = c.from.clone();
        if let Some(rt) = &self.acd {
            rt.send(&agent, screen);
            self.send_history(&agent, &call, &from);
        }
        // A browser agent's page rings; the answer comes over the WebSocket.
        let Some(sip_user) = device else {
            return;
        };
        let dial = Dial {
            call_id: leg_id.clone(),
            target: String::new(),
            next_hop: SocketAddr::from(([127, 0, 0, 1], 5060)),
            caller: c.from.clone(),
            ring_timeout: RING_TIMEOUT,
            credentials: None,
        };
        let profile = 0;
        if let Some(sip) = self.sip.get(profile) {
            let _ = sip.send(EndpointCommand::DialRegistered {
                user: sip_user,
                dial: Box::new(dial),
            });
        }
        self.far_legs.insert(
            leg_id,
            FarLeg {
                parent: call_id,
                profile,
                rtp_port: None,
                media_started: false,
                answered: false,
                ended: false,
                agent: Some(agent),
                released: false,
                requeue: None,
            },
        );
    }

    /// The agent's leg for `call`, if one rings or is up.
    fn agent_leg(&self, call: &Bytes, agent: Option<&AgentKey>) -> Option<Bytes> {
        self.far_legs
            .iter()
            .find(|(_, l)| {
                l.parent == call
                    && !l.ended
                    && l.agent.is_some()
                    && agent.is_none_or(|a| l.agent.as_ref() == Some(a))
            })
            .map(|(id, _)| id.clone())
    }

    fn stop_ringing(&mut self, call: &str, agent: &AgentKey) {
        let call = Bytes::copy_from_slice(call.as_bytes());
        if let Some(leg) = self.agent_leg(&call, Some(agent))
            && let Some(l) = self.far_legs.get(&leg)
            && !l.answered
            && let Some(sip) = self.sip.get(l.profile)
        {
            let _ = sip.send(EndpointCommand::HangUp {
                call_id: leg,
                cause: "offer withdrawn".into(),
                side: HangupSide::Hotline,
            });
        }
    }

    pub(super) fn end_agent_leg(&mut self, call: &Bytes, cause: &str) {
        while let Some(leg) = self.agent_leg(call, None) {
            if let Some(l) = self.far_legs.get_mut(&leg) {
                l.ended = true;
                // Hotline let the agent go (transfer, requeue): the caller stays.
                l.released = true;
                if let Some(sip) = self.sip.get(l.profile) {
                    let _ = sip.send(EndpointCommand::HangUp {
                        call_id: leg.clone(),
                        cause: cause.into(),
                        side: HangupSide::Hotline,
                    });
                }
            }
        }
    }

    fn announce(&mut self, call: String, position: usize, wait: Duration, lang: Option<String>) {
        let Some(deps) = self.ivr.clone() else {
            return;
        };
        let minutes = wait.as_secs().div_ceil(60).max(1);
        let (voice, text) = match lang.as_deref() {
            Some("en") => (
                Voice::En,
                format!(
                    "You are number {position} in line. The expected wait is about {minutes} minute{}.",
                    if minutes == 1 { "" } else { "s" }
                ),
            ),
            _ => (
                Voice::Zh,
                format!(
                    "您前面还有{}位客户，预计等待{minutes}分钟。",
                    position.saturating_sub(1)
                ),
            ),
        };
        let Some(rt) = self.acd.as_mut() else {
            return;
        };
        rt.next_play += 1;
        let id = QUEUE_PLAY + rt.next_play;
        let moh = rt.moh.clone();
        let media = self.media.clone();
        let call_id = Bytes::from(call);
        // TTS on the blocking pool; the announcement, then the music again.
        tokio::spawn(async move {
            let spoken = tokio::task::spawn_blocking(move || deps.tts.get(voice, &text)).await;
            let mut items = Vec::new();
            if let Ok(Ok(p)) = spoken {
                items.push(Item::Silence(Duration::from_millis(300)));
                items.push(Item::Prompt(p));
                items.push(Item::Silence(Duration::from_millis(300)));
            }
            items.push(match moh {
                Some(m) => Item::Prompt(m),
                None => Item::Silence(Duration::from_secs(10)),
            });
            media.send(MediaCommand::Play {
                call_id,
                id,
                items,
                interruptible: false,
            });
        });
    }

    /// The agent's phone answered: the agent takes the call, or it is gone.
    pub(super) fn agent_answered(&mut self, leg_id: Bytes, local_rtp: SocketAddr, n: Negotiated) {
        let Some(leg) = self.far_legs.get_mut(&leg_id) else {
            return;
        };
        let (parent, agent) = (leg.parent.clone(), leg.agent.clone());
        let Some(agent) = agent else {
            return;
        };
        leg.answered = true;
        leg.media_started = true;
        leg.rtp_port = Some(local_rtp.port());
        self.media.send(MediaCommand::Start {
            call_id: leg_id.clone(),
            local: local_rtp,
            params: params(&n),
            app: super::apps::AppKind::Flow,
            record: false,
            started: SystemTime::now(),
        });
        let accepted = match self.acd.as_mut() {
            Some(rt) => rt.acd.accept(&text(&parent), &agent, Instant::now()),
            None => return,
        };
        match accepted {
            Ok(()) => {
                if let Some(q) = self.calls.get_mut(&parent).and_then(|c| c.queued.as_mut()) {
                    info!(call_id = %text(&parent), queue = %q.queue, agent = %agent.login, "agent took the call");
                    q.holding = false;
                    q.agent = Some(agent.clone());
                    q.answered = Some(Instant::now());
                }
                let (caller_end, agent_end) = bridge_pair();
                self.media.send(MediaCommand::Bridge {
                    call_id: leg_id,
                    end: agent_end,
                });
                self.media.send(MediaCommand::Bridge {
                    call_id: parent.clone(),
                    end: caller_end,
                });
                self.to_session(
                    &parent,
                    SessionInput::QueueDone {
                        agent: Some(agent.login.clone()),
                    },
                );
                if let Some(rt) = &self.acd {
                    rt.send(
                        &agent,
                        json!({"type": "call", "call_id": text(&parent), "state": "connected"}),
                    );
                }
            }
            Err(e) => {
                info!(call_id = %text(&parent), agent = %agent.login, error = %e, "agent answered too late");
                if let Some(sip) = self.sip.first() {
                    let _ = sip.send(EndpointCommand::HangUp {
                        call_id: leg_id,
                        cause: "the caller is no longer waiting".into(),
                        side: HangupSide::Hotline,
                    });
                }
            }
        }
        self.drive_acd();
    }

    /// The agent's phone did not answer or refused (busy, declined, unreachable).
    pub(super) fn agent_leg_failed(&mut self, leg: FarLeg, status: u16, reason: &str) {
        let Some(agent) = leg.agent else {
            return;
        };
        let call = text(&leg.parent);
        let declined = matches!(status, 486 | 600 | 603);
        info!(call_id = %call, agent = %agent.login, %reason, "agent's phone did not take the call");
        if let Some(rt) = self.acd.as_mut() {
            // A ring timeout is the engine's own; it already moved the agent.
            if rt.acd.agent_state(&agent) == Some(&AgentState::Ringing { call: call.clone() }) {
                let _ = rt.acd.refuse(&call, &agent, !declined, Instant::now());
            }
        }
        self.drive_acd();
    }

    /// The agent's leg ended after it was answered: the agent wraps up, the caller is
    /// hung up (the conversation is over).
    pub(super) fn agent_leg_ended(&mut self, parent: &Bytes, cause: &str) {
        if let Some(rt) = self.acd.as_mut() {
            rt.acd.call_ended(&text(parent), Instant::now());
        }
        if let Some(call) = self.calls.get(parent)
            && call.ended.is_none()
            && let Some(sip) = self.sip.get(call.profile)
        {
            let _ = sip.send(EndpointCommand::HangUp {
                call_id: parent.clone(),
                cause: format!("agent hung up: {cause}"),
                side: HangupSide::Hotline,
            });
        }
        self.drive_acd();
    }

    /// The caller's call ended: out of the queue, or the agent wraps up.
    pub(super) fn queued_caller_left(&mut self, call_id: &Bytes) {
        let queued = self.calls.get(call_id).is_some_and(|c| c.queued.is_some());
        if !queued {
            return;
        }
        let agent = self
            .calls
            .get(call_id)
            .and_then(|c| c.queued.as_ref())
            .and_then(|q| q.agent.clone());
        if let Some(rt) = self.acd.as_mut() {
            rt.acd.caller_left(&text(call_id), Instant::now());
            if let Some(agent) = &agent {
                rt.send(
                    agent,
                    json!({"type": "call", "call_id": text(call_id), "state": "ended"}),
                );
            }
        }
        self.end_agent_leg(call_id, "the caller hung up");
        self.close_peers_of(call_id);
        self.drive_acd();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_day_starts_at_midnight_in_shanghai() {
        let now = Instant::now();
        let start = day_start(now);
        let since = now.duration_since(start);
        assert!(since < Duration::from_secs(24 * 3600));
        let sh = Utc::now().with_timezone(&chrono_tz::Asia::Shanghai);
        let expect = u64::from(chrono::Timelike::num_seconds_from_midnight(&sh));
        assert!(
            since.as_secs().abs_diff(expect) <= 1,
            "{since:?} vs {expect}"
        );
    }
}
