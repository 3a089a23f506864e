//! One call's IVR flow at run time: a task that feeds the pure interpreter (`ivr/`) the
//! call's events (keys, prompt ends, voicemail ends, webhook replies, timers) and carries
//! out its actions — prompts rendered by the TTS cache off the media threads and played by
//! the call's media leg, webhooks over HTTP, voicemail, hang-up.
//!
//! The task ends when the flow has ended or the caller has hung up; the path the caller
//! took is kept in [`SessionShared`] so the CDR gets it whenever the call ends.

use super::webhook;
use crate::ivr::{Action, CallInfo, Event, Flow, FlowLookup, Interpreter, Speech};
use crate::media::player::Item;
use crate::media::resample::{Prompt, load_prompt};
use crate::media::worker::{MediaCommand, MediaPool, VoicemailSpec};
use crate::sip::endpoint::HangupSide;
use crate::sip::transport::EndpointCommand;
use crate::tts::TtsCache;
use bytes::Bytes;
use chrono::Utc;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tracing::{debug, warn};

/// What the call manager forwards to a session.
#[derive(Debug)]
pub enum SessionInput {
    Digit(char),
    PlaybackDone {
        id: u64,
        interrupted: bool,
    },
    RecordDone {
        id: u64,
        path: Option<PathBuf>,
        duration: Duration,
    },
    /// The call ended (caller hung up, or Hotline did): stop at once.
    Hangup,
    /// The transfer the flow asked for was answered (`ok`) or failed (`reason`).
    TransferDone {
        ok: bool,
        reason: String,
    },
    /// The queue the flow handed the call to: an agent took it (`Some(login)`), or the
    /// queue gave up on it (`None`: the flow goes on at its fallback).
    QueueDone {
        agent: Option<String>,
    },
}

/// Internal results that come back to the session's own loop.
enum Internal {
    Webhook {
        id: u64,
        result: Result<crate::ivr::WebhookReply, String>,
    },
    /// Prompts ready for an `Action::Play` (rendered or loaded off the runtime's threads).
    Rendered {
        id: u64,
        items: Vec<Item>,
        interruptible: bool,
    },
}

/// What a session leaves for the CDR; readable while the call runs.
#[derive(Debug, Default, Clone)]
pub struct SessionShared {
    pub flow: String,
    pub path: String,
    pub voicemail: Option<String>,
}

/// Shared by all sessions: where audio comes from and where commands go.
#[derive(Clone)]
pub struct SessionDeps {
    pub media: Arc<MediaPool>,
    pub tts: Arc<TtsCache>,
    pub flows: Arc<dyn FlowLookup + Send + Sync>,
    /// WAV files named by `play` nodes, decoded once.
    pub files: Arc<FileCache>,
}

/// Decoded WAV prompts by path. A file edited on disk is picked up when its flow reloads
/// (the flow's reload clears the entries of its directory) — see `forget_under`.
#[derive(Default)]
pub struct FileCache {
    prompts: Mutex<HashMap<PathBuf, Prompt>>,
}

impl FileCache {
    fn get(&self, path: &Path) -> Result<Prompt, String> {
        if let Some(p) = self.prompts.lock().ok().and_then(|m| m.get(path).cloned()) {
            return Ok(p);
        }
        let p = load_prompt(path).map_err(|e| e.to_string())?;
        if let Ok(mut m) = self.prompts.lock() {
            m.insert(path.to_path_buf(), p.clone());
        }
        Ok(p)
    }

    /// Drops cached files under `dir` (after an edit of the flows there).
    pub fn forget_under(&self, dir: &Path) {
        if let Ok(mut m) = self.prompts.lock() {
            m.retain(|p, _| !p.starts_with(dir));
        }
    }
}

/// A running session: the manager's handle.
pub struct SessionHandle {
    pub input: mpsc::UnboundedSender<SessionInput>,
    pub shared: Arc<Mutex<SessionShared>>,
}

/// Starts the flow on an answered call whose media leg runs `AppKind::Flow`.
pub fn start(
    flow: Arc<Flow>,
    call: CallInfo,
    vars: Vec<(String, String)>,
    call_id: Bytes,
    sip: mpsc::UnboundedSender<EndpointCommand>,
    manager: mpsc::UnboundedSender<super::ManagerRequest>,
    deps: SessionDeps,
) -> SessionHandle {
    let (tx, rx) = mpsc::unbounded_channel();
    let shared = Arc::new(Mutex::new(SessionShared {
        flow: flow.name.clone(),
        ..Default::default()
    }));
    let session = Session {
        interp: Interpreter::new(flow, call).with_vars(vars),
        call_id,
        sip,
        manager,
        deps,
        shared: shared.clone(),
        hung_up: false,
        rendering: None,
    };
    tokio::spawn(session.run(rx));
    SessionHandle { input: tx, shared }
}

struct Session {
    interp: Interpreter,
    call_id: Bytes,
    sip: mpsc::UnboundedSender<EndpointCommand>,
    /// Where transfers go: the manager owns the legs Hotline places.
    manager: mpsc::UnboundedSender<super::ManagerRequest>,
    deps: SessionDeps,
    shared: Arc<Mutex<SessionShared>>,
    hung_up: bool,
    /// The latest `Play` still being rendered: (id, interruptible, a key came meanwhile).
    rendering: Option<(u64, bool, bool)>,
}

impl Session {
    async fn run(mut self, mut input: mpsc::UnboundedReceiver<SessionInput>) {
        let (itx, mut irx) = mpsc::unbounded_channel::<Internal>();
        let now = std::time::Instant::now();
        let actions = self.interp.start(now, Utc::now(), self.deps.flows.as_ref());
        self.act(actions, &itx);
        loop {
            if self.hung_up || self.interp.is_finished() {
                break;
            }
            let deadline = self
                .interp
                .next_timeout()
                .map(tokio::time::Instant::from_std);
            let event = tokio::select! {
                ev = input.recv() => match ev {
                    Some(SessionInput::Digit(d)) => {
                        // A key before an interruptible prompt even started: it must not
                        // play at all (the leg only stops what is already playing).
                        if let Some((_, true, keyed)) = &mut self.rendering {
                            *keyed = true;
                        }
                        Some(Event::Digit(d))
                    }
                    Some(SessionInput::PlaybackDone { id, interrupted }) => {
                        Some(Event::PlaybackDone { id, interrupted })
                    }
                    Some(SessionInput::RecordDone { id, path, duration }) => {
                        if let Some(p) = &path
                            && let Ok(mut s) = self.shared.lock()
                        {
                            s.voicemail = Some(p.display().to_string());
                        }
                        Some(Event::RecordDone { id, path, duration })
                    }
                    Some(SessionInput::TransferDone { ok, reason }) => {
                        Some(Event::TransferDone { ok, reason })
                    }
                    Some(SessionInput::QueueDone { agent: Some(agent) }) => {
                        Some(Event::AgentAnswered { agent })
                    }
                    Some(SessionInput::QueueDone { agent: None }) => Some(Event::EnqueueUnavailable),
                    Some(SessionInput::Hangup) | None => {
                        self.hung_up = true;
                        Some(Event::Hangup)
                    }
                },
                Some(internal) = irx.recv() => match internal {
                    Internal::Webhook { id, result } => Some(Event::WebhookDone { id, result }),
                    Internal::Rendered { id, items, interruptible } => {
                        match self.rendering.take() {
                            Some((latest, _, keyed)) if latest == id => {
                                if keyed {
                                    Some(Event::PlaybackDone { id, interrupted: true })
                                } else {
                                    self.deps.media.send(MediaCommand::Play {
                                        call_id: self.call_id.clone(),
                                        id,
                                        items,
                                        interruptible,
                                    });
                                    None
                                }
                            }
                            // Superseded by a newer prompt or a stop: never played.
                            other => {
                                self.rendering = other;
                                None
                            }
                        }
                    }
                },
                _ = sleep_until(deadline) => Some(Event::Timeout),
            };
            let Some(event) = event else { continue };
            let actions = self.interp.handle(
                event,
                std::time::Instant::now(),
                Utc::now(),
                self.deps.flows.as_ref(),
            );
            self.publish_path();
            if !self.hung_up {
                self.act(actions, &itx);
            }
        }
        self.publish_path();
        debug!(call_id = %String::from_utf8_lossy(&self.call_id), path = %self.interp.path_summary(), "flow session ended");
    }

    fn publish_path(&self) {
        if let Ok(mut s) = self.shared.lock() {
            s.path = self.interp.path_summary();
        }
    }

    fn act(&mut self, actions: Vec<Action>, itx: &mpsc::UnboundedSender<Internal>) {
        for action in actions {
            match action {
                Action::Play {
                    id,
                    prompts,
                    interruptible,
                } => {
                    self.rendering = Some((id, interruptible, false));
                    self.render_then_play(id, prompts, interruptible, itx);
                }
                Action::StopPlayback => {
                    self.rendering = None;
                    self.deps.media.send(MediaCommand::StopPlayback {
                        call_id: self.call_id.clone(),
                    });
                }
                Action::Record {
                    id,
                    beep,
                    max,
                    silence,
                    end_on_hash,
                } => self.deps.media.send(MediaCommand::Record {
                    call_id: self.call_id.clone(),
                    id,
                    spec: VoicemailSpec {
                        beep,
                        max,
                        silence,
                        end_on_hash,
                    },
                }),
                Action::Webhook {
                    id,
                    url,
                    body,
                    timeout,
                } => {
                    let itx = itx.clone();
                    tokio::spawn(async move {
                        let result = webhook::post_json(&url, body, timeout).await.map_err(|e| {
                            warn!(error = %e, "webhook failed; the flow takes its on_error branch");
                            // The interpreter tells a timeout from other failures by this text.
                            if e.is_timeout() {
                                "no reply in time".to_string()
                            } else {
                                e.to_string()
                            }
                        });
                        let _ = itx.send(Internal::Webhook { id, result });
                    });
                }
                Action::Transfer { to, trunk } => {
                    // The manager places the far leg and answers with TransferDone.
                    let sent = self.manager.send(super::ManagerRequest::Transfer {
                        call_id: self.call_id.clone(),
                        to,
                        trunk,
                    });
                    if sent.is_err() {
                        let actions = self.interp.handle(
                            Event::TransferDone {
                                ok: false,
                                reason: "the call manager has stopped".into(),
                            },
                            std::time::Instant::now(),
                            Utc::now(),
                            self.deps.flows.as_ref(),
                        );
                        self.act(actions, itx);
                    }
                }
                Action::Enqueue { queue } => {
                    let vars = self.interp.vars();
                    let word = |k: &str| vars.get(k).map(|v| v.trim().to_ascii_lowercase());
                    let priority = word("priority");
                    let vip = matches!(word("vip").as_deref(), Some("true" | "yes" | "1"))
                        || matches!(priority.as_deref(), Some("vip" | "high"));
                    let request = super::ManagerRequest::Enqueue {
                        call_id: self.call_id.clone(),
                        queue,
                        priority: priority.and_then(|p| p.parse().ok()).unwrap_or(0),
                        vip,
                        lang: self.interp.flow().language.as_str().to_string(),
                    };
                    if self.manager.send(request).is_err() {
                        let actions = self.interp.handle(
                            Event::EnqueueUnavailable,
                            std::time::Instant::now(),
                            Utc::now(),
                            self.deps.flows.as_ref(),
                        );
                        self.act(actions, itx);
                    }
                }
                Action::Hangup { cause } => {
                    self.publish_path();
                    let _ = self.sip.send(EndpointCommand::HangUp {
                        call_id: self.call_id.clone(),
                        cause,
                        side: HangupSide::Hotline,
                    });
                }
            }
        }
    }

    /// Renders TTS and loads WAVs on the blocking pool (never on a media thread, never on
    /// the async workers), then hands the prompts to the media leg. A prompt that cannot be
    /// made becomes a beep, so the caller hears that something was meant to be said.
    fn render_then_play(
        &self,
        id: u64,
        prompts: Vec<Speech>,
        interruptible: bool,
        itx: &mpsc::UnboundedSender<Internal>,
    ) {
        let deps = self.deps.clone();
        let itx = itx.clone();
        tokio::spawn(async move {
            let items = tokio::task::spawn_blocking(move || {
                prompts
                    .iter()
                    .map(|s| speech_item(s, &deps))
                    .collect::<Vec<Item>>()
            })
            .await
            .unwrap_or_else(|_| vec![Item::beep()]);
            let _ = itx.send(Internal::Rendered {
                id,
                items,
                interruptible,
            });
        });
    }
}

fn speech_item(s: &Speech, deps: &SessionDeps) -> Item {
    let made = match s {
        Speech::Beep => return Item::beep(),
        Speech::Tts { voice, text } => deps.tts.get(*voice, text).map_err(|e| e.to_string()),
        Speech::File(path) => deps.files.get(path),
    };
    match made {
        Ok(p) => Item::Prompt(p),
        Err(e) => {
            warn!(error = %e, "prompt unavailable; playing a beep instead");
            Item::beep()
        }
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
