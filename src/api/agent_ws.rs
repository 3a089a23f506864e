//! The agent's live channel: JSON over WebSocket at `/api/v1/agent/ws`, after sign-in
//! (cookie or bearer token). Commands from the softphone (state, answer, hold, transfer,
//! wrap-up…) go to the ACD runtime as [`AgentInput`]; the runtime sends events back to
//! every open connection of an agent through the [`AgentHub`]. A message that is not a
//! known command is answered with an `error` event on that connection and goes no further.

use super::agent_auth::AgentAuth;
use super::agent_sessions::AgentId;
use axum::Router;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// What a softphone may ask. `type` names the command; the rest are its fields.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum AgentCommand {
    /// `{"type":"set_state","state":"available"}` or `{"type":"set_state","state":"away","reason":"lunch"}`.
    SetState {
        state: String,
        #[serde(default)]
        reason: Option<String>,
    },
    /// Take the ringing call; `sdp` is the browser's WebRTC offer for the audio leg.
    Answer {
        call_id: String,
        #[serde(default)]
        sdp: Option<String>,
    },
    Reject {
        call_id: String,
    },
    Hangup {
        call_id: String,
    },
    Hold {
        call_id: String,
    },
    Resume {
        call_id: String,
    },
    Mute {
        call_id: String,
        on: bool,
    },
    Dtmf {
        call_id: String,
        digits: String,
    },
    /// Blind transfer to a queue, an agent (login) or a number: exactly one of them.
    Transfer {
        call_id: String,
        #[serde(default)]
        queue: Option<String>,
        #[serde(default)]
        agent: Option<String>,
        #[serde(default)]
        number: Option<String>,
    },
    /// End wrap-up with the call's disposition and notes.
    WrapUp {
        call_id: String,
        disposition: String,
        #[serde(default)]
        notes: String,
    },
    Ping,
}

/// What the hub hands the ACD runtime.
#[derive(Debug)]
pub enum AgentInput {
    Connected {
        agent: AgentId,
        conn: u64,
    },
    Command {
        agent: AgentId,
        conn: u64,
        cmd: AgentCommand,
    },
    Disconnected {
        agent: AgentId,
        conn: u64,
    },
}

/// One open WebSocket: its id and where its outgoing events go.
type Conn = (u64, mpsc::UnboundedSender<String>);

/// Open connections by agent, and the way to the runtime.
pub struct AgentHub {
    conns: Mutex<HashMap<AgentId, Vec<Conn>>>,
    next: AtomicU64,
    to_runtime: mpsc::UnboundedSender<AgentInput>,
}

impl AgentHub {
    pub fn new(to_runtime: mpsc::UnboundedSender<AgentInput>) -> AgentHub {
        AgentHub {
            conns: Mutex::new(HashMap::new()),
            next: AtomicU64::new(1),
            to_runtime,
        }
    }

    /// Sends an event to every open connection of `agent`; returns how many got it.
    pub fn send(&self, agent: &AgentId, event: &Value) -> usize {
        let text = event.to_string();
        let Ok(mut conns) = self.conns.lock() else {
            return 0;
        };
        let Some(list) = conns.get_mut(agent) else {
            return 0;
        };
        list.retain(|(_, tx)| tx.send(text.clone()).is_ok());
        list.len()
    }

    /// Sends to one connection (the answer to its own command).
    pub fn send_to(&self, agent: &AgentId, conn: u64, event: &Value) {
        if let Ok(conns) = self.conns.lock()
            && let Some((_, tx)) = conns
                .get(agent)
                .and_then(|l| l.iter().find(|(c, _)| *c == conn))
        {
            let _ = tx.send(event.to_string());
        }
    }

    /// Agents with at least one open connection.
    pub fn online(&self) -> Vec<AgentId> {
        self.conns
            .lock()
            .map(|c| {
                c.iter()
                    .filter(|(_, l)| !l.is_empty())
                    .map(|(a, _)| a.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn open(&self, agent: &AgentId) -> (u64, mpsc::UnboundedReceiver<String>) {
        let conn = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::unbounded_channel();
        if let Ok(mut c) = self.conns.lock() {
            c.entry(agent.clone()).or_default().push((conn, tx));
        }
        let _ = self.to_runtime.send(AgentInput::Connected {
            agent: agent.clone(),
            conn,
        });
        (conn, rx)
    }

    fn close(&self, agent: &AgentId, conn: u64) {
        if let Ok(mut c) = self.conns.lock()
            && let Some(list) = c.get_mut(agent)
        {
            list.retain(|(id, _)| *id != conn);
            if list.is_empty() {
                c.remove(agent);
            }
        }
        let _ = self.to_runtime.send(AgentInput::Disconnected {
            agent: agent.clone(),
            conn,
        });
    }
}

#[derive(Clone)]
struct WsState {
    auth: AgentAuth,
    hub: Arc<AgentHub>,
}

pub fn router(auth: AgentAuth, hub: Arc<AgentHub>) -> Router {
    Router::new()
        .route("/api/v1/agent/ws", any(upgrade))
        .with_state(WsState { auth, hub })
}

async fn upgrade(State(s): State<WsState>, headers: HeaderMap, ws: WebSocketUpgrade) -> Response {
    let Some(agent) = s.auth.agent_of(&headers) else {
        return (
            StatusCode::UNAUTHORIZED,
            "sign in first (POST /api/v1/agent/login), then open the WebSocket with the cookie or Authorization: Bearer TOKEN",
        )
            .into_response();
    };
    ws.on_upgrade(move |socket| serve(socket, agent, s.hub))
}

/// Parses one softphone message; the error says what would have been right.
pub fn parse_command(text: &str) -> Result<AgentCommand, String> {
    serde_json::from_str(text).map_err(|e| {
        format!(
            "not a command ({e}); send JSON with a \"type\" of set_state, answer, reject, \
             hangup, hold, resume, mute, dtmf, transfer, wrap_up or ping"
        )
    })
}

async fn serve(mut socket: WebSocket, agent: AgentId, hub: Arc<AgentHub>) {
    let (conn, mut events) = hub.open(&agent);
    loop {
        tokio::select! {
            msg = socket.recv() => match msg {
                Some(Ok(Message::Text(text))) => match parse_command(text.as_str()) {
                    Ok(AgentCommand::Ping) => {
                        let pong = json!({"type": "pong"}).to_string();
                        if socket.send(Message::Text(pong.into())).await.is_err() {
                            break;
                        }
                    }
                    Ok(cmd) => {
                        let _ = hub.to_runtime.send(AgentInput::Command {
                            agent: agent.clone(),
                            conn,
                            cmd,
                        });
                    }
                    Err(message) => {
                        let e = json!({"type": "error", "message": message}).to_string();
                        if socket.send(Message::Text(e.into())).await.is_err() {
                            break;
                        }
                    }
                },
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
            Some(text) = events.recv() => {
                if socket.send(Message::Text(text.into())).await.is_err() {
                    break;
                }
            }
        }
    }
    hub.close(&agent, conn);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_read_and_mistakes_explained() {
        assert_eq!(
            parse_command(r#"{"type":"set_state","state":"away","reason":"lunch"}"#).unwrap(),
            AgentCommand::SetState {
                state: "away".into(),
                reason: Some("lunch".into())
            }
        );
        assert_eq!(
            parse_command(r#"{"type":"wrap_up","call_id":"c1","disposition":"resolved"}"#).unwrap(),
            AgentCommand::WrapUp {
                call_id: "c1".into(),
                disposition: "resolved".into(),
                notes: String::new()
            }
        );
        let e = parse_command(r#"{"type":"dance"}"#).unwrap_err();
        assert!(e.contains("set_state, answer"), "{e}");
        assert!(
            parse_command(r#"{"type":"hold"}"#)
                .unwrap_err()
                .contains("call_id")
        );
        assert!(parse_command("not json").is_err());
    }

    #[tokio::test]
    async fn the_hub_reaches_every_open_connection_of_an_agent() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let hub = AgentHub::new(tx);
        let alice = AgentId {
            tenant: "acme".into(),
            login: "alice".into(),
        };
        let (c1, mut e1) = hub.open(&alice);
        let (c2, mut e2) = hub.open(&alice);
        assert!(matches!(rx.recv().await, Some(AgentInput::Connected { conn, .. }) if conn == c1));
        assert_eq!(hub.send(&alice, &json!({"type": "state"})), 2);
        assert_eq!(e1.recv().await.unwrap(), r#"{"type":"state"}"#);
        assert_eq!(e2.recv().await.unwrap(), r#"{"type":"state"}"#);
        hub.send_to(&alice, c2, &json!({"type": "only2"}));
        assert!(e1.try_recv().is_err());
        assert_eq!(e2.recv().await.unwrap(), r#"{"type":"only2"}"#);
        hub.close(&alice, c1);
        drop(e2);
        assert_eq!(
            hub.send(&alice, &json!({})),
            0,
            "a dropped receiver is pruned"
        );
        assert!(hub.online().is_empty());
    }
}
