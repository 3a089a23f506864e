//! Calls: the glue between a call's SIP leg (the endpoints of `sip/`), its media (the
//! workers of `media/`) and its CDR (`store/`). The manager is one task that reacts to
//! both sides' events; it owns no sockets and does no I/O but sending on channels.

pub mod agent_desk;
pub mod agent_transfer;
pub mod apps;
pub mod flow_registry;
pub mod ivr_session;
pub mod ivr_setup;
pub mod queue_stats_store;
pub mod queueing;
pub mod transfer;
pub mod webhook;

use crate::config::Config;
use crate::ivr::CallInfo;
use crate::media::worker::{MediaCommand, MediaEvent, MediaParams, MediaPool, MediaReport};
use crate::sdp::Negotiated;
use crate::sip::endpoint::{EndpointEvent, HangupSide};
use crate::sip::transport::EndpointCommand;
use crate::store::{self, CallEnd, CallStart, CdrEvent};
use apps::AppKind;
use bytes::Bytes;
use chrono::Utc;
use ivr_session::{SessionDeps, SessionHandle, SessionInput};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

/// Where a dialled number goes.
#[derive(Clone, Debug)]
pub enum Route {
    App(AppKind),
    Flow {
        flow: String,
        tenant: String,
        vars: Vec<(String, String)>,
    },
}

/// What the manager knows of a call between its INVITE and its CDR.
struct Call {
    profile: usize,
    app: AppKind,
    route: Route,
    from: String,
    to: String,
    /// The IVR flow running on the call, once answered.
    session: Option<SessionHandle>,
    record: bool,
    media_started: bool,
    /// The RTP port media binds; returned to the SIP side once media has closed it.
    rtp_port: Option<u16>,
    /// Set when the SIP side has ended; the CDR is written once media has reported too.
    ended: Option<CallEnd>,
    /// The leg Hotline placed to transfer this call, by its Call-ID.
    far_leg: Option<Bytes>,
    /// In an ACD queue (or served from one).
    queued: Option<queueing::Queued>,
}

/// What an IVR session asks of the manager (it owns the calls' other legs).
#[derive(Debug)]
pub enum ManagerRequest {
    /// Blind transfer; the session hears `SessionInput::TransferDone`.
    Transfer {
        call_id: Bytes,
        to: String,
        trunk: Option<String>,
    },
    /// Queue the caller; the session hears `SessionInput::QueueDone`.
    Enqueue {
        call_id: Bytes,
        queue: String,
        priority: u32,
        vip: bool,
        lang: String,
    },
}

pub struct CallManager {
    config: Arc<Config>,
    media: Arc<MediaPool>,
    /// Flows, TTS and the rest an IVR session needs; `None` runs built-in apps only.
    ivr: Option<SessionDeps>,
    /// One command channel per SIP profile, in config order.
    sip: Vec<mpsc::UnboundedSender<EndpointCommand>>,
    cdr: mpsc::Sender<CdrEvent>,
    calls: HashMap<Bytes, Call>,
    /// Legs Hotline placed (transfers), by their own Call-ID.
    far_legs: HashMap<Bytes, transfer::FarLeg>,
    next_leg: u64,
    requests_tx: mpsc::UnboundedSender<ManagerRequest>,
    requests_rx: Option<mpsc::UnboundedReceiver<ManagerRequest>>,
    /// Queues and agents; `None` on a node without them.
    acd: Option<queueing::AcdRuntime>,
    agent_rx: Option<mpsc::UnboundedReceiver<crate::api::agent_ws::AgentInput>>,
    gateway_rx: Option<mpsc::UnboundedReceiver<crate::webrtc::GatewayEvent>>,
}

impl CallManager {
    pub fn new(
        config: Arc<Config>,
        media: Arc<MediaPool>,
        ivr: Option<SessionDeps>,
        sip: Vec<mpsc::UnboundedSender<EndpointCommand>>,
        cdr: mpsc::Sender<CdrEvent>,
    ) -> CallManager {
        let (requests_tx, requests_rx) = mpsc::unbounded_channel();
        CallManager {
            config,
            media,
            ivr,
            sip,
            cdr,
            calls: HashMap::new(),
            far_legs: HashMap::new(),
            next_leg: 0,
            requests_tx,
            requests_rx: Some(requests_rx),
            acd: None,
            agent_rx: None,
            gateway_rx: None,
        }
    }

    /// Runs queues and agents: the engine and where agents' softphones talk to it.
    pub fn with_acd(
        mut self,
        rt: queueing::AcdRuntime,
        agents: mpsc::UnboundedReceiver<crate::api::agent_ws::AgentInput>,
        gateway: mpsc::UnboundedReceiver<crate::webrtc::GatewayEvent>,
    ) -> CallManager {
        self.acd = Some(rt);
        self.agent_rx = Some(agents);
        self.gateway_rx = Some(gateway);
        self
    }

    /// Runs until the SIP side has stopped (every driver gone) and every ended call's media
    /// has reported, so each CDR is complete; gives up waiting on media after 5 s. Returns
    /// how many calls were still open. Dropping the manager stops the media workers and,
    /// once its CDR sender is gone, lets the store task finish.
    pub async fn run(
        mut self,
        mut sip_events: mpsc::UnboundedReceiver<(usize, EndpointEvent)>,
        mut media_events: mpsc::UnboundedReceiver<MediaEvent>,
    ) -> usize {
        let mut sip_open = true;
        let mut deadline: Option<tokio::time::Instant> = None;
        let Some(mut requests) = self.requests_rx.take() else {
            return self.calls.len();
        };
        let (_keep, idle_agents) = mpsc::unbounded_channel();
        let mut agents = self.agent_rx.take().unwrap_or(idle_agents);
        let (_keep_gw, idle_gw) = mpsc::unbounded_channel();
        let mut gateway = self.gateway_rx.take().unwrap_or(idle_gw);
        // Waits and the rolling window move with the clock: the stats are republished
        // every second even when no call comes or goes.
        let mut stats_tick = tokio::time::interval(std::time::Duration::from_secs(1));
        stats_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            if !sip_open && self.calls.is_empty() && self.far_legs.is_empty() {
                break;
            }
            let wait = deadline.unwrap_or_else(|| {
                tokio::time::Instant::now() + std::time::Duration::from_secs(3600)
            });
            tokio::select! {
                ev = sip_events.recv(), if sip_open => match ev {
                    Some((profile, ev)) => self.on_sip(profile, ev).await,
                    None => {
                        sip_open = false;
                        deadline = Some(tokio::time::Instant::now() + std::time::Duration::from_secs(5));
                    }
                },
                Some(ev) = media_events.recv() => self.on_media(ev).await,
                Some(req) = requests.recv() => match req {
                    ManagerRequest::Transfer { call_id, to, trunk } => {
                        self.start_transfer(call_id, to, trunk)
                    }
                    ManagerRequest::Enqueue { call_id, queue, priority, vip, lang } => {
                        self.enqueue(call_id, queue, priority, vip, lang)
                    }
                },
                Some(input) = agents.recv() => self.on_agent(input).await,
                Some(ev) = gateway.recv() => self.on_gateway(ev),
                _ = sleep_until(self.acd_deadline()), if self.acd_deadline().is_some() => {
                    self.acd_timeout()
                }
                _ = stats_tick.tick(), if self.acd.is_some() => self.publish_stats(),
                _ = tokio::time::sleep_until(wait), if deadline.is_some() => break,
            }
        }
        self.calls.len()
    }

    async fn on_sip(&mut self, profile: usize, ev: EndpointEvent) {
        let ev = match self.on_far_leg_event(ev) {
            Some(ev) => ev,
            None => return,
        };
        match ev {
            EndpointEvent::CallOffered { call_id, from, to } => {
                let route = self.route(&to);
                let (app, flow, tenant) = match &route {
                    Route::App(app) => (*app, None, "default".to_string()),
                    Route::Flow { flow, tenant, .. } => {
                        (AppKind::Flow, Some(flow.clone()), tenant.clone())
                    }
                };
                let record = self
                    .config
                    .profiles
                    .get(profile)
                    .map(|p| self.config.record_for(p, &to))
                    .unwrap_or(self.config.media.record);
                debug!(call_id = %String::from_utf8_lossy(&call_id), ?app, record, "routing call");
                self.cdr(CdrEvent::Started(CallStart {
                    call_id: text(&call_id),
                    tenant,
                    node_id: self.config.node_id.clone(),
                    from: from.clone(),
                    to: to.clone(),
                    at: Utc::now(),
                    flow,
                }))
                .await;
                self.calls.insert(
                    call_id,
                    Call {
                        profile,
                        app,
                        route,
                        from,
                        to,
                        session: None,
                        record,
                        media_started: false,
                        rtp_port: None,
                        ended: None,
                        far_leg: None,
                        queued: None,
                    },
                );
            }
            EndpointEvent::CallAnswered {
                call_id,
                local_rtp,
                negotiated,
            } => {
                let Some(call) = self.calls.get_mut(&call_id) else {
                    return;
                };
                let answered = CdrEvent::Answered {
                    call_id: text(&call_id),
                    at: Utc::now(),
                    codec: negotiated.codec.name().to_string(),
                };
                if !call.media_started {
                    call.media_started = true;
                    call.rtp_port = Some(local_rtp.port());
                    // The flow is looked up now, so an edit made while the call rang counts.
                    let flow = match (&call.route, &self.ivr) {
                        (Route::Flow { flow, .. }, Some(deps)) => {
                            let found = deps.flows.flow(flow);
                            if found.is_none() {
                                warn!(call_id = %text(&call_id), %flow,
                                    "no flow of that name is loaded: check ivr-flows/ (hotline flow check) and GET /api/v1/flows; the caller hears not-in-service");
                                call.app = AppKind::NotInService;
                            }
                            found
                        }
                        (Route::Flow { flow, .. }, None) => {
                            warn!(%flow, "IVR flows are not available on this node; the caller hears not-in-service");
                            call.app = AppKind::NotInService;
                            None
                        }
                        _ => None,
                    };
                    self.media.send(MediaCommand::Start {
                        call_id: call_id.clone(),
                        local: local_rtp,
                        params: params(&negotiated),
                        app: call.app,
                        record: call.record,
                        started: SystemTime::now(),
                    });
                    if let (Some(flow), Some(deps), Route::Flow { tenant, vars, .. }, Some(sip)) =
                        (flow, &self.ivr, &call.route, self.sip.get(call.profile))
                    {
                        let info = CallInfo {
                            call_id: text(&call_id),
                            caller: call.from.clone(),
                            called: call.to.clone(),
                            tenant: tenant.clone(),
                        };
                        call.session = Some(ivr_session::start(
                            flow,
                            info,
                            vars.clone(),
                            call_id,
                            sip.clone(),
                            self.requests_tx.clone(),
                            deps.clone(),
                        ));
                    }
                }
                self.cdr(answered).await;
            }
            EndpointEvent::MediaChanged {
                call_id,
                negotiated,
            } => {
                if self.calls.get(&call_id).is_some_and(|c| c.media_started) {
                    self.media.send(MediaCommand::Update {
                        call_id,
                        params: params(&negotiated),
                    });
                }
            }
            EndpointEvent::Dtmf { call_id, digit } => {
                if self.calls.get(&call_id).is_some_and(|c| c.media_started) {
                    self.media.send(MediaCommand::Digit { call_id, digit });
                }
            }
            EndpointEvent::CallEnded {
                call_id,
                cause,
                side,
            } => {
                let Some(call) = self.calls.get_mut(&call_id) else {
                    return;
                };
                if let Some(session) = &call.session {
                    let _ = session.input.send(SessionInput::Hangup);
                }
                let far_cause = format!("the caller's call ended: {cause}");
                let (queue, queue_wait_s, agent) =
                    call.queued.as_ref().map(|q| q.cdr()).unwrap_or_default();
                let end = CallEnd {
                    call_id: text(&call_id),
                    at: Utc::now(),
                    cause,
                    side: store_side(side),
                    digits: String::new(),
                    loss_pct: None,
                    jitter_ms: None,
                    mos: None,
                    recording: None,
                    queue,
                    queue_wait_s,
                    agent,
                    ..Default::default()
                };
                self.end_far_leg_of(&call_id, &far_cause);
                self.queued_caller_left(&call_id);
                let Some(call) = self.calls.get_mut(&call_id) else {
                    return;
                };
                if call.media_started {
                    // The CDR waits for the media report (quality, digits, recording).
                    call.ended = Some(end);
                    self.media.send(MediaCommand::Stop { call_id });
                } else {
                    self.calls.remove(&call_id);
                    self.cdr(CdrEvent::Ended(end)).await;
                }
            }
            EndpointEvent::Registered { .. } => {}
            EndpointEvent::OutboundRinging { .. } | EndpointEvent::OutboundFailed { .. } => {}
        }
    }

    /// Events of legs Hotline placed are handled here; others are handed back.
    fn on_far_leg_event(&mut self, ev: EndpointEvent) -> Option<EndpointEvent> {
        let id = match &ev {
            EndpointEvent::CallAnswered { call_id, .. }
            | EndpointEvent::MediaChanged { call_id, .. }
            | EndpointEvent::Dtmf { call_id, .. }
            | EndpointEvent::CallEnded { call_id, .. }
            | EndpointEvent::OutboundRinging { call_id, .. }
            | EndpointEvent::OutboundFailed { call_id, .. } => call_id,
            _ => return Some(ev),
        };
        if !self.far_legs.contains_key(id) {
            return Some(ev);
        }
        match ev {
            EndpointEvent::CallAnswered {
                call_id,
                local_rtp,
                negotiated,
            } => {
                if self
                    .far_legs
                    .get(&call_id)
                    .is_some_and(|l| l.agent.is_some())
                {
                    self.agent_answered(call_id, local_rtp, negotiated)
                } else {
                    self.far_answered(call_id, local_rtp, negotiated)
                }
            }
            EndpointEvent::MediaChanged {
                call_id,
                negotiated,
            } if self.far_legs.get(&call_id).is_some_and(|l| l.media_started) => {
                self.media.send(MediaCommand::Update {
                    call_id,
                    params: params(&negotiated),
                });
            }
            EndpointEvent::CallEnded { call_id, cause, .. } => self.far_ended(&call_id, &cause),
            EndpointEvent::OutboundFailed {
                call_id,
                status,
                reason,
            } => self.far_failed(&call_id, status, reason),
            _ => {}
        }
        None
    }

    async fn on_media(&mut self, ev: MediaEvent) {
        match ev {
            MediaEvent::Digit {
                call_id,
                digit,
                source,
            } => {
                debug!(call_id = %String::from_utf8_lossy(&call_id), %digit, ?source, "digit");
                self.to_session(&call_id, SessionInput::Digit(digit));
            }
            MediaEvent::PlaybackDone {
                call_id,
                id,
                interrupted,
            } => {
                if !self.queue_playback_done(&call_id, id, interrupted) {
                    self.to_session(&call_id, SessionInput::PlaybackDone { id, interrupted })
                }
            }
            MediaEvent::RecordDone {
                call_id,
                id,
                path,
                duration,
            } => self.to_session(&call_id, SessionInput::RecordDone { id, path, duration }),
            MediaEvent::Hangup { call_id, cause } if self.far_legs.contains_key(&call_id) => {
                self.far_media_hangup(call_id, cause)
            }
            MediaEvent::Stopped { call_id, .. } if self.far_legs.contains_key(&call_id) => {
                self.far_media_stopped(&call_id)
            }
            MediaEvent::Hangup { call_id, cause } => {
                let Some(call) = self.calls.get(&call_id) else {
                    return;
                };
                let side = if cause.starts_with("RTP timeout") || cause.contains("unusable") {
                    HangupSide::System
                } else {
                    HangupSide::Hotline
                };
                if let Some(tx) = self.sip.get(call.profile) {
                    let _ = tx.send(EndpointCommand::HangUp {
                        call_id,
                        cause,
                        side,
                    });
                }
            }
            MediaEvent::Stopped { call_id, report } => {
                let Some(call) = self.calls.get_mut(&call_id) else {
                    return;
                };
                if let (Some(port), Some(tx)) = (call.rtp_port.take(), self.sip.get(call.profile)) {
                    let _ = tx.send(EndpointCommand::ReleasePort { port });
                }
                let Some(mut end) = call.ended.take() else {
                    // Media stopped on its own (bind failure): the call stays known, and its
                    // CDR is written when the SIP side reports the end.
                    call.media_started = false;
                    return;
                };
                let call = self.calls.remove(&call_id);
                fill_media(&mut end, &report);
                if let Some(shared) = call.and_then(|c| c.session).map(|s| s.shared)
                    && let Ok(shared) = shared.lock()
                {
                    end.ivr_path = shared.path.clone();
                }
                info!(call_id = %end.call_id, cause = %end.cause, digits = %end.digits,
                    mos = ?end.mos, "call finished");
                self.cdr(CdrEvent::Ended(end)).await;
            }
        }
    }

    /// Where a dialled number goes (config `[numbers]`).
    fn route(&self, to: &str) -> Route {
        let plan = &self.config.numbers;
        match plan.resolve(to) {
            Some(r) if r.flow.is_some() => Route::Flow {
                flow: r.flow.clone().unwrap_or_default(),
                tenant: r.tenant.clone().unwrap_or_else(|| "default".into()),
                vars: r.vars.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            },
            Some(r) => Route::App(AppKind::from_name(&r.app).unwrap_or(AppKind::Welcome)),
            None => Route::App(AppKind::from_name(&plan.default_app).unwrap_or(AppKind::Welcome)),
        }
    }

    fn to_session(&self, call_id: &Bytes, input: SessionInput) {
        if let Some(session) = self.calls.get(call_id).and_then(|c| c.session.as_ref()) {
            let _ = session.input.send(input);
        }
    }

    /// Queues a CDR write; waits (only this task) if the store task is behind, so a slow
    /// database slows CDR writing, never signaling or media, and loses nothing.
    async fn cdr(&self, ev: CdrEvent) {
        let _ = self.cdr.send(ev).await;
    }
}

fn fill_media(end: &mut CallEnd, r: &MediaReport) {
    end.digits = r.digits.clone();
    if r.rx.packets > 0 {
        end.loss_pct = Some(r.loss_pct);
        end.jitter_ms = Some(r.jitter_ms);
        end.mos = Some(r.mos);
    }
    end.recording = r.recording.as_ref().map(|p| p.display().to_string());
    end.voicemail = r.voicemails.last().map(|p| p.display().to_string());
}

fn params(n: &Negotiated) -> MediaParams {
    MediaParams {
        remote: n.remote_rtp,
        codec: n.codec,
        pt: n.pt,
        dtmf_pt: n.dtmf_pt,
        on_hold: n.on_hold,
    }
}

fn store_side(side: HangupSide) -> store::HangupSide {
    match side {
        HangupSide::Caller => store::HangupSide::Caller,
        HangupSide::Hotline => store::HangupSide::Hotline,
        HangupSide::System => store::HangupSide::System,
    }
}

fn text(b: &Bytes) -> String {
    String::from_utf8_lossy(b).into_owned()
}

async fn sleep_until(at: Option<std::time::Instant>) {
    match at {
        Some(t) => tokio::time::sleep_until(tokio::time::Instant::from_std(t)).await,
        None => std::future::pending().await,
    }
}
