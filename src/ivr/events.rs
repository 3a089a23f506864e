//! The interpreter's contract with the call: the events it takes, the actions it asks
//! for, and what it records. The live call (src/call/) and `flow sim` both speak it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::model::{Flow, Speech};

/// Finds other flows by name, for `subflow:` nodes.
pub trait FlowLookup {
    fn flow(&self, name: &str) -> Option<Arc<Flow>>;
}

impl FlowLookup for BTreeMap<String, Arc<Flow>> {
    fn flow(&self, name: &str) -> Option<Arc<Flow>> {
        self.get(name).cloned()
    }
}

impl FlowLookup for std::collections::HashMap<String, Arc<Flow>> {
    fn flow(&self, name: &str) -> Option<Arc<Flow>> {
        self.get(name).cloned()
    }
}

/// A lookup that knows no flows (for flows without sub-flows).
pub struct NoFlows;

impl FlowLookup for NoFlows {
    fn flow(&self, _: &str) -> Option<Arc<Flow>> {
        None
    }
}

/// Who is calling whom; becomes the variables caller, called, call_id and tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallInfo {
    pub call_id: String,
    pub caller: String,
    pub called: String,
    pub tenant: String,
}

/// What a webhook server answered: variables to set and optionally the node to go to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookReply {
    pub vars: BTreeMap<String, String>,
    pub next: Option<String>,
}

impl WebhookReply {
    /// Reads `{"vars": {...}, "next": "node"}` (both optional). Numbers and booleans
    /// become their text, null becomes empty text, nested values their JSON.
    pub fn from_json(v: &serde_json::Value) -> Result<WebhookReply, String> {
        let obj = v.as_object().ok_or(
            "the webhook reply is not a JSON object; send {\"vars\": {...}, \"next\": \"node\"}",
        )?;
        let mut reply = WebhookReply::default();
        match obj.get("vars") {
            None | Some(serde_json::Value::Null) => {}
            Some(serde_json::Value::Object(vars)) => {
                for (k, v) in vars {
                    let text = match v {
                        serde_json::Value::String(s) => s.clone(),
                        serde_json::Value::Null => String::new(),
                        other => other.to_string(),
                    };
                    reply.vars.insert(k.clone(), text);
                }
            }
            Some(_) => return Err("\"vars\" in the webhook reply must be a JSON object".into()),
        }
        match obj.get("next") {
            None | Some(serde_json::Value::Null) => {}
            Some(serde_json::Value::String(s)) if !s.is_empty() => reply.next = Some(s.clone()),
            Some(serde_json::Value::String(_)) => {}
            Some(_) => return Err("\"next\" in the webhook reply must be a node name".into()),
        }
        Ok(reply)
    }
}

/// Something that happened to the call.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// All prompts of `Action::Play { id }` finished, or a key stopped them.
    PlaybackDone {
        id: u64,
        interrupted: bool,
    },
    /// A keypad key: 0-9, *, #, A-D.
    Digit(char),
    /// The time from `next_timeout()` has come.
    Timeout,
    WebhookDone {
        id: u64,
        result: Result<WebhookReply, String>,
    },
    RecordDone {
        id: u64,
        path: Option<PathBuf>,
        duration: Duration,
    },
    TransferDone {
        ok: bool,
        reason: String,
    },
    /// The queue of the last `Action::Enqueue` cannot take the call, or gave up on it
    /// (no agents, waited too long): the flow goes on at the node's `fallback`.
    EnqueueUnavailable,
    /// An agent of the queue took the call: the flow is done.
    AgentAnswered {
        agent: String,
    },
    /// The caller hung up.
    Hangup,
}

/// Something the call must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Play prompts in order; answer with `PlaybackDone { id }`. When `interruptible`, a key
    /// stops the audio (the runtime does that itself and reports `interrupted: true`).
    Play {
        id: u64,
        prompts: Vec<Speech>,
        interruptible: bool,
    },
    StopPlayback,
    /// Record the caller; `silence` zero means do not stop on silence.
    Record {
        id: u64,
        beep: bool,
        max: Duration,
        silence: Duration,
        end_on_hash: bool,
    },
    /// POST `body` as JSON; answer with `WebhookDone { id }`.
    Webhook {
        id: u64,
        url: String,
        body: serde_json::Value,
        timeout: Duration,
    },
    /// Blind transfer; answer with `TransferDone`.
    Transfer {
        to: String,
        trunk: Option<String>,
    },
    /// Hand the call to an ACD queue, or answer `EnqueueUnavailable`.
    Enqueue {
        queue: String,
    },
    Hangup {
        cause: String,
    },
}

/// One node the caller passed through, with the keys pressed there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathStep {
    pub flow: String,
    pub node: String,
    /// For a gather, one entry per attempt (the keys as pressed, `-` for none); elsewhere
    /// the keys pressed while the node ran.
    pub inputs: Vec<String>,
    /// e.g. `ok`/`error`/`timeout` (webhook), `skipped` (prompt skipped by type-ahead),
    /// `hangup` (caller hung up here).
    pub outcome: Option<String>,
}
