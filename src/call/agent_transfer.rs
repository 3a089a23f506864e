//! An agent's blind transfers at run time: to a queue or a named agent (the ACD routes the
//! caller again), or to a number (Hotline dials it through a trunk and stays in the middle,
//! as for a flow's transfer). In every case the agent's leg ends and they wrap up; the
//! caller hears hold music until someone answers, and is never dropped: a number that
//! does not answer puts the caller back first in line in the queue they came from.

use super::CallManager;
use super::text;
use super::transfer::{agent_trunk, resolve};
use crate::acd::{AgentKey, CallerInfo, TransferTo};
use crate::media::worker::MediaCommand;
use bytes::Bytes;
use serde_json::json;
use std::time::Instant;
use tracing::{info, warn};

impl CallManager {
    /// To a queue, or to one agent by login (who must be available).
    pub(super) fn transfer_in_acd(
        &mut self,
        key: &AgentKey,
        call: Bytes,
        to: TransferTo,
        now: Instant,
    ) -> Result<(), String> {
        let id = text(&call);
        let Some(rt) = self.acd.as_mut() else {
            return Err("queues are not running on this node".into());
        };
        rt.acd.transfer(&id, to, now).map_err(|e| e.to_string())?;
        let queue = match to {
            TransferTo::Queue(q) => Some(q.to_string()),
            TransferTo::Agent(_) => None,
        };
        info!(call_id = %id, agent = %key.login, to = ?to, "agent transferred the caller");
        self.release_to_hold(key, &call, true, queue);
        Ok(())
    }

    /// To a number (or `sip:` URI) through the first trunk with a proxy.
    pub(super) fn transfer_to_number(
        &mut self,
        key: &AgentKey,
        call: Bytes,
        number: &str,
        now: Instant,
    ) -> Result<(), String> {
        let Some(c) = self.calls.get(&call) else {
            return Err("the call has ended".into());
        };
        let Some(queue) = c.queued.as_ref().map(|q| q.queue.clone()) else {
            return Err("this call did not come through a queue".into());
        };
        let trunk = agent_trunk(&self.config);
        let target = resolve(&self.config, c.profile, number, trunk.as_deref())?;
        let id = text(&call);
        if let Some(rt) = self.acd.as_mut() {
            rt.acd.call_ended(&id, now);
        }
        info!(call_id = %id, agent = %key.login, %number, "agent transferred the caller to a number");
        self.release_to_hold(key, &call, false, None);
        if let Err(reason) = self.place_far_leg(&call, target, Some(queue.clone())) {
            self.back_from_number(&call, &queue, &reason);
        }
        Ok(())
    }

    /// The number an agent transferred to did not answer: the caller waits again, first.
    pub(super) fn back_from_number(&mut self, call: &Bytes, queue: &str, reason: &str) {
        let Some(c) = self.calls.get(call) else {
            return;
        };
        if c.ended.is_some() {
            return;
        }
        let tenant = match &c.route {
            super::Route::Flow { tenant, .. } => tenant.clone(),
            _ => "default".into(),
        };
        let info = CallerInfo {
            number: c.from.clone(),
            vip: c.queued.as_ref().is_some_and(|q| q.vip),
            ..Default::default()
        };
        let id = text(call);
        warn!(call_id = %id, %queue, %reason, "the transferred-to number did not answer; the caller is back first in the queue");
        if let Some(rt) = self.acd.as_mut()
            && let Err(e) = rt
                .acd
                .requeue_at_head(&id, &tenant, queue, info, Instant::now())
        {
            warn!(call_id = %id, error = %e, "could not requeue the caller");
        }
        if let Some(q) = self.calls.get_mut(call).and_then(|c| c.queued.as_mut()) {
            q.holding = true;
            q.agent = None;
            q.answered = None;
        }
        self.drive_acd();
    }

    /// The agent's side of any transfer: their leg (phone or browser) ends, the caller
    /// leaves the bridge and hears hold music, and the agent's page is told. `requeued`:
    /// the caller waits for another agent (in `queue` if named); otherwise (a number) the
    /// CDR keeps the agent who handled the call.
    fn release_to_hold(
        &mut self,
        key: &AgentKey,
        call: &Bytes,
        requeued: bool,
        queue: Option<String>,
    ) {
        self.end_agent_leg(call, "transferred by the agent");
        self.close_peers_of(call);
        self.media.send(MediaCommand::Unbridge {
            call_id: call.clone(),
        });
        if let Some(q) = self.calls.get_mut(call).and_then(|c| c.queued.as_mut()) {
            if let Some(queue) = queue {
                q.queue = queue;
            }
            q.holding = true;
            if requeued {
                q.agent = None;
                q.answered = None;
            }
        }
        self.play_hold(call, None);
        self.tell(
            key,
            json!({"type": "call", "call_id": text(call), "state": "transferred"}),
        );
    }
}
