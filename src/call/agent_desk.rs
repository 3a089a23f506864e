//! The agent's side of the ACD at run time: what their softphone asks over the agent
//! WebSocket (state, answer, hold, mute, keypad, hang-up, wrap-up), browser legs through
//! the WebRTC gateway (answer, reconnect after a reload, audio lost), and the screen pop's
//! history of the caller's earlier calls. Runs on the call manager's task.

use super::CallManager;
use super::ivr_session::SessionInput;
use super::queueing::{AgentDevice, id_of, key_of};
use super::text;
use crate::acd::{AgentKey, AgentState, TransferTo};
use crate::api::agent_ws::{AgentCommand, AgentInput};
use crate::media::bridge::bridge_pair;
use crate::media::worker::MediaCommand;
use crate::sip::endpoint::HangupSide;
use crate::sip::transport::EndpointCommand;
use crate::webrtc::{GatewayEvent, PeerId};
use bytes::Bytes;
use serde_json::{Value, json};
use std::time::Instant;
use tracing::{info, warn};

impl CallManager {
    /// A message from an agent's softphone.
    pub(super) async fn on_agent(&mut self, input: AgentInput) {
        let now = Instant::now();
        match input {
            AgentInput::Connected { agent, conn } => {
                let key = key_of(&agent);
                self.load_agent(&key).await;
                let Some(rt) = self.acd.as_mut() else {
                    return;
                };
                if let Some(d) = rt.agents.get_mut(&key) {
                    d.conns += 1;
                }
                let _ = rt.acd.device_back(&key, now);
                let state = rt
                    .acd
                    .agent_state(&key)
                    .cloned()
                    .unwrap_or(AgentState::LoggedOut);
                let device = rt.agents.get(&key);
                let hello = json!({
                    "type": "hello",
                    "agent": {"tenant": key.tenant, "login": key.login,
                              "name": device.map(|d| d.name.clone()),
                              "sip_user": device.and_then(|d| d.sip_user.clone())},
                    "state": state.name(),
                    "reason": state.reason(),
                    "call_id": state.call(),
                });
                if let Some(hub) = &rt.hub {
                    hub.send_to(&agent, conn, &hello);
                    hub.send_to(
                        &agent,
                        conn,
                        &super::queueing::callbacks_json(&rt.acd, &key.tenant),
                    );
                }
            }
            AgentInput::Disconnected { agent, .. } => {
                let key = key_of(&agent);
                if let Some(rt) = self.acd.as_mut()
                    && let Some(d) = rt.agents.get_mut(&key)
                {
                    d.conns = d.conns.saturating_sub(1);
                    // A desk phone keeps working without the page; a browser agent's
                    // device is the page.
                    if d.conns == 0 && d.sip_user.is_none() {
                        info!(agent = %key.login, "agent's page disconnected; waiting for it to come back");
                        let _ = rt.acd.device_lost(&key, now);
                    }
                }
            }
            AgentInput::Command { agent, conn, cmd } => {
                let key = key_of(&agent);
                // Only the agent wrapping up a call may write its disposition.
                let wrapping = |call: &str| {
                    self.acd.as_ref().and_then(|rt| rt.acd.agent_state(&key))
                        == Some(&AgentState::WrapUp { call: call.into() })
                };
                if let AgentCommand::WrapUp {
                    call_id,
                    disposition,
                    notes,
                } = &cmd
                    && wrapping(call_id)
                {
                    self.cdr(crate::store::CdrEvent::Disposition {
                        call_id: call_id.clone(),
                        disposition: disposition.clone(),
                        notes: notes.clone(),
                    })
                    .await;
                }
                let result = match cmd {
                    AgentCommand::Answer { call_id, sdp } => {
                        self.browser_answer(&key, conn, call_id, sdp).await
                    }
                    cmd => self.agent_command(&key, cmd, now),
                };
                if let (Err(message), Some(rt)) = (result, &self.acd)
                    && let Some(hub) = &rt.hub
                {
                    hub.send_to(&agent, conn, &json!({"type": "error", "message": message}));
                }
            }
        }
        self.drive_acd();
    }

    fn agent_command(
        &mut self,
        key: &AgentKey,
        cmd: AgentCommand,
        now: Instant,
    ) -> Result<(), String> {
        let Some(rt) = self.acd.as_mut() else {
            return Err("queues are not running on this node".into());
        };
        let state = rt.acd.agent_state(key).cloned();
        let r = match cmd {
            AgentCommand::SetState { state: s, reason } => match s.as_str() {
                "available" if state == Some(AgentState::LoggedOut) => rt.acd.login(key, now),
                "available" => rt.acd.set_available(key, now),
                "away" => {
                    if state == Some(AgentState::LoggedOut) {
                        let _ = rt.acd.login(key, now);
                    }
                    rt.acd
                        .set_away(key, reason.as_deref().unwrap_or("away"), now)
                }
                "logged-out" => rt.acd.logout(key, now),
                other => {
                    return Err(format!(
                        "unknown state {other:?}; use available, away (with a reason) or logged-out"
                    ));
                }
            },
            AgentCommand::WrapUp {
                call_id,
                disposition,
                notes,
            } => {
                info!(agent = %key.login, %call_id, %disposition, notes_len = notes.len(), "wrap-up");
                rt.acd.wrap_up_done(key, now)
            }
            AgentCommand::Reject { call_id } => rt.acd.refuse(&call_id, key, false, now),
            AgentCommand::Hangup { call_id } => {
                let id = self.own_call(key, &call_id)?;
                // The caller's BYE; its end then ends the agent's leg and starts wrap-up.
                if let Some(call) = self.calls.get(&id)
                    && let Some(sip) = self.sip.get(call.profile)
                {
                    let _ = sip.send(EndpointCommand::HangUp {
                        call_id: id,
                        cause: format!("agent {} hung up", key.login),
                        side: HangupSide::Hotline,
                    });
                }
                return Ok(());
            }
            AgentCommand::Hold { call_id } => {
                let id = self.own_call(key, &call_id)?;
                self.media.send(MediaCommand::Hold {
                    call_id: id.clone(),
                    on: true,
                });
                self.play_hold(&id, None);
                self.tell(
                    key,
                    json!({"type": "call", "call_id": call_id, "state": "held"}),
                );
                return Ok(());
            }
            AgentCommand::Resume { call_id } => {
                let id = self.own_call(key, &call_id)?;
                self.media.send(MediaCommand::Hold {
                    call_id: id,
                    on: false,
                });
                self.tell(
                    key,
                    json!({"type": "call", "call_id": call_id, "state": "connected"}),
                );
                return Ok(());
            }
            AgentCommand::Dtmf { call_id, digits } => {
                let id = self.own_call(key, &call_id)?;
                self.media.send(MediaCommand::SendDigits {
                    call_id: id,
                    digits,
                });
                return Ok(());
            }
            AgentCommand::Mute { call_id, on } => {
                // The browser mutes its own microphone; the page and supervisors see it.
                self.tell(
                    key,
                    json!({"type": "call", "call_id": call_id, "muted": on}),
                );
                return Ok(());
            }
            AgentCommand::Answer { .. } => {
                return Err("answer on your phone: this agent's calls ring their SIP phone".into());
            }
            AgentCommand::Transfer {
                call_id,
                queue,
                agent,
                number,
            } => {
                let id = self.own_call(key, &call_id)?;
                return match (queue, agent, number) {
                    (Some(q), None, None) => {
                        self.transfer_in_acd(key, id, TransferTo::Queue(&q), now)
                    }
                    (None, Some(a), None) => {
                        self.transfer_in_acd(key, id, TransferTo::Agent(&a), now)
                    }
                    (None, None, Some(n)) => self.transfer_to_number(key, id, &n, now),
                    _ => Err("name exactly one target: {\"type\":\"transfer\", \"call_id\": …, \
                              \"queue\": \"NAME\"} or \"agent\": \"LOGIN\" or \"number\": \"NUMBER\""
                        .into()),
                };
            }
            other => {
                return Err(format!(
                    "{other:?} is not available yet on this node; use your phone's keys"
                ));
            }
        };
        r.map_err(|e| e.to_string())
    }

    /// The caller's call the agent is talking to (or wrapping up), or why not.
    pub(super) fn own_call(&self, key: &AgentKey, call_id: &str) -> Result<Bytes, String> {
        let state = self.acd.as_ref().and_then(|rt| rt.acd.agent_state(key));
        match state {
            Some(AgentState::OnCall { call }) if call == call_id => Ok(Bytes::from(call.clone())),
            Some(s) => Err(format!(
                "call {call_id} is not yours to control (you are {s})"
            )),
            None => Err("unknown agent".into()),
        }
    }

    pub(super) fn tell(&self, key: &AgentKey, event: Value) {
        if let Some(rt) = &self.acd {
            rt.send(key, event);
        }
    }

    /// The caller's earlier calls (with their dispositions), for the agent's screen.
    pub(super) fn send_history(&self, agent: &AgentKey, call: &str, from: &str) {
        let Some(rt) = &self.acd else {
            return;
        };
        let (Some(store), Some(hub)) = (rt.store.clone(), rt.hub.clone()) else {
            return;
        };
        let (agent, call, from) = (id_of(agent), call.to_string(), from.to_string());
        tokio::spawn(async move {
            let q = crate::store::ListQuery {
                since: None,
                until: None,
                limit: 6,
                tenant: None,
                number: Some(from),
                flow: None,
            };
            let Ok(calls) = store.list_calls(&q).await else {
                return;
            };
            let earlier: Vec<Value> = calls
                .iter()
                .filter(|c| c.call_id != call)
                .take(5)
                .map(|c| {
                    json!({
                        "started_at": crate::store::format_time(&c.started_at),
                        "duration_s": c.duration_s,
                        "queue": c.queue,
                        "agent": c.agent,
                        "disposition": c.disposition,
                        "notes": c.notes,
                        "ivr_path": c.ivr_path,
                    })
                })
                .collect();
            hub.send(
                &agent,
                &json!({"type": "history", "call_id": call, "calls": earlier}),
            );
        });
    }

    /// A browser agent answers: their page's WebRTC offer gets the gateway's answer, and
    /// the caller is bridged to it. Also used to restore audio after the page reconnected
    /// during a call.
    async fn browser_answer(
        &mut self,
        key: &AgentKey,
        conn: u64,
        call_id: String,
        sdp: Option<String>,
    ) -> Result<(), String> {
        let Some(sdp) = sdp else {
            return Err("send the page's WebRTC offer as \"sdp\" with answer".into());
        };
        let Some(rt) = self.acd.as_ref() else {
            return Err("queues are not running on this node".into());
        };
        let state = rt.acd.agent_state(key).cloned();
        let reconnect = state
            == Some(AgentState::OnCall {
                call: call_id.clone(),
            });
        if !reconnect
            && state
                != Some(AgentState::Ringing {
                    call: call_id.clone(),
                })
        {
            return Err(format!("no call {call_id} is ringing for you"));
        }
        let Some(gw) = rt.gateway.clone() else {
            return Err("WebRTC is not enabled on this node; use a desk phone".into());
        };
        let (caller_end, agent_end) = bridge_pair();
        let (peer, answer) = match gw.accept_offer(sdp, agent_end).await {
            Ok(r) => r,
            Err(e) => {
                if !reconnect && let Some(rt) = self.acd.as_mut() {
                    let _ = rt.acd.refuse(&call_id, key, true, Instant::now());
                }
                return Err(e.to_string());
            }
        };
        let id = Bytes::from(call_id.clone());
        let now = Instant::now();
        let Some(rt) = self.acd.as_mut() else {
            return Err("queues stopped".into());
        };
        if reconnect {
            let _ = rt.acd.device_back(key, now);
        } else if let Err(e) = rt.acd.accept(&call_id, key, now) {
            gw.close(peer);
            return Err(e.to_string());
        }
        let old: Vec<PeerId> = rt
            .peers
            .iter()
            .filter(|(_, (c, _))| *c == id)
            .map(|(p, _)| *p)
            .collect();
        for p in old {
            rt.peers.remove(&p);
            gw.close(p);
        }
        rt.peers.insert(peer, (id.clone(), key.clone()));
        if let Some(hub) = &rt.hub {
            hub.send_to(
                &id_of(key),
                conn,
                &json!({"type": "webrtc_answer", "call_id": call_id, "sdp": answer}),
            );
        }
        self.media.send(MediaCommand::Bridge {
            call_id: id.clone(),
            end: caller_end,
        });
        if !reconnect {
            if let Some(q) = self.calls.get_mut(&id).and_then(|c| c.queued.as_mut()) {
                info!(call_id = %call_id, queue = %q.queue, agent = %key.login, "agent took the call in the browser");
                q.holding = false;
                q.agent = Some(key.clone());
                q.answered = Some(now);
            }
            self.to_session(
                &id,
                SessionInput::QueueDone {
                    agent: Some(key.login.clone()),
                },
            );
        }
        self.tell(
            key,
            json!({"type": "call", "call_id": call_id, "state": "connected"}),
        );
        Ok(())
    }

    /// The browser legs of a call are closed (the call ended, or it went back to the queue).
    pub(super) fn close_peers_of(&mut self, call: &Bytes) {
        let Some(rt) = self.acd.as_mut() else {
            return;
        };
        let ids: Vec<PeerId> = rt
            .peers
            .iter()
            .filter(|(_, (c, _))| c == call)
            .map(|(p, _)| *p)
            .collect();
        for p in ids {
            rt.peers.remove(&p);
            if let Some(gw) = &rt.gateway {
                gw.close(p);
            }
        }
    }

    /// The gateway reports a browser leg connected or gone.
    pub(super) fn on_gateway(&mut self, ev: GatewayEvent) {
        let Some(rt) = self.acd.as_mut() else {
            return;
        };
        match ev {
            GatewayEvent::Connected { peer, setup } => {
                if let Some((call, agent)) = rt.peers.get(&peer) {
                    rt.send(
                        agent,
                        json!({"type": "media", "call_id": text(call), "state": "connected",
                               "setup_ms": setup.as_millis() as u64}),
                    );
                }
            }
            GatewayEvent::Closed { peer, reason } => {
                let Some((call, agent)) = rt.peers.remove(&peer) else {
                    return;
                };
                info!(call_id = %text(&call), agent = %agent.login, %reason, "browser audio lost");
                let on_call =
                    rt.acd.agent_state(&agent) == Some(&AgentState::OnCall { call: text(&call) });
                if on_call {
                    // Grace to reconnect; then the caller goes back to the queue's head.
                    let _ = rt.acd.device_lost(&agent, Instant::now());
                    rt.send(
                        &agent,
                        json!({"type": "media", "call_id": text(&call), "state": "lost", "reason": reason}),
                    );
                }
                self.drive_acd();
            }
        }
    }

    /// Reads the agent from the store (skills, phone) into the engine.
    async fn load_agent(&mut self, key: &AgentKey) {
        let Some(store) = self.acd.as_ref().and_then(|rt| rt.store.clone()) else {
            return;
        };
        let found = match store.list_agents(Some(&key.tenant)).await {
            Ok(list) => list.into_iter().find(|a| a.login == key.login),
            Err(e) => {
                warn!(error = %e, "cannot read agents");
                None
            }
        };
        let Some(a) = found else {
            return;
        };
        let Some(rt) = self.acd.as_mut() else {
            return;
        };
        let skills: Vec<(String, u8)> =
            a.skills.iter().map(|s| (s.name.clone(), s.level)).collect();
        rt.acd.add_agent(key.clone(), &skills, Instant::now());
        let conns = rt.agents.get(key).map_or(0, |d| d.conns);
        rt.agents.insert(
            key.clone(),
            AgentDevice {
                name: a.display_name,
                sip_user: a.sip_user,
                conns,
            },
        );
    }
}
