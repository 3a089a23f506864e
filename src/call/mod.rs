//! Calls: the glue between a call's SIP leg (the endpoints of `sip/`), its media (the
//! workers of `media/`) and its CDR (`store/`). The manager is one task that reacts to
//! both sides' events; it owns no sockets and does no I/O but sending on channels.

pub mod apps;

use crate::config::Config;
use crate::media::worker::{MediaCommand, MediaEvent, MediaParams, MediaPool, MediaReport};
use crate::sdp::Negotiated;
use crate::sip::endpoint::{EndpointEvent, HangupSide};
use crate::sip::transport::EndpointCommand;
use crate::store::{self, CallEnd, CallStart, CdrEvent};
use apps::AppKind;
use bytes::Bytes;
use chrono::Utc;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;
use tokio::sync::mpsc;
use tracing::{debug, info};

/// What the manager knows of a call between its INVITE and its CDR.
struct Call {
    profile: usize,
    app: AppKind,
    record: bool,
    media_started: bool,
    /// The RTP port media binds; returned to the SIP side once media has closed it.
    rtp_port: Option<u16>,
    /// Set when the SIP side has ended; the CDR is written once media has reported too.
    ended: Option<CallEnd>,
}

pub struct CallManager {
    config: Arc<Config>,
    media: MediaPool,
    /// One command channel per SIP profile, in config order.
    sip: Vec<mpsc::UnboundedSender<EndpointCommand>>,
    cdr: mpsc::Sender<CdrEvent>,
    calls: HashMap<Bytes, Call>,
}

impl CallManager {
    pub fn new(
        config: Arc<Config>,
        media: MediaPool,
        sip: Vec<mpsc::UnboundedSender<EndpointCommand>>,
        cdr: mpsc::Sender<CdrEvent>,
    ) -> CallManager {
        CallManager {
            config,
            media,
            sip,
            cdr,
            calls: HashMap::new(),
        }
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
        loop {
            if !sip_open && self.calls.is_empty() {
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
                _ = tokio::time::sleep_until(wait), if deadline.is_some() => break,
            }
        }
        self.calls.len()
    }

    async fn on_sip(&mut self, profile: usize, ev: EndpointEvent) {
        match ev {
            EndpointEvent::CallOffered { call_id, from, to } => {
                let (app_name, _) = self.config.numbers.route(&to);
                let app = AppKind::from_name(app_name).unwrap_or(AppKind::Welcome);
                let record = self
                    .config
                    .profiles
                    .get(profile)
                    .map(|p| self.config.record_for(p, &to))
                    .unwrap_or(self.config.media.record);
                debug!(call_id = %String::from_utf8_lossy(&call_id), ?app, record, "routing call");
                self.cdr(CdrEvent::Started(CallStart {
                    call_id: text(&call_id),
                    tenant: "default".into(),
                    node_id: self.config.node_id.clone(),
                    from,
                    to,
                    at: Utc::now(),
                    flow: None,
                }))
                .await;
                self.calls.insert(
                    call_id,
                    Call {
                        profile,
                        app,
                        record,
                        media_started: false,
                        rtp_port: None,
                        ended: None,
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
                    self.media.send(MediaCommand::Start {
                        call_id,
                        local: local_rtp,
                        params: params(&negotiated),
                        app: call.app,
                        record: call.record,
                        started: SystemTime::now(),
                    });
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
                    ..Default::default()
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
        }
    }

    async fn on_media(&mut self, ev: MediaEvent) {
        match ev {
            MediaEvent::Digit {
                call_id,
                digit,
                source,
            } => {
                debug!(call_id = %String::from_utf8_lossy(&call_id), %digit, ?source, "digit");
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
            MediaEvent::PlaybackDone { .. } | MediaEvent::RecordDone { .. } => {}
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
                self.calls.remove(&call_id);
                fill_media(&mut end, &report);
                info!(call_id = %end.call_id, cause = %end.cause, digits = %end.digits,
                    mos = ?end.mos, "call finished");
                self.cdr(CdrEvent::Ended(end)).await;
            }
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
