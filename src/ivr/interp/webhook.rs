//! The end of a webhook call: apply the reply's variables and choice of node, or take
//! `on_error` on a failure or timeout.

use std::time::Instant;

use chrono::{DateTime, Utc};

use super::Interpreter;
use crate::ivr::events::{Action, FlowLookup, WebhookReply};
use crate::ivr::load_parts::CALL_VARS;
use crate::ivr::model::NodeKind;
use crate::ivr::template::valid_var_name;

impl Interpreter {
    pub(super) fn webhook_result(
        &mut self,
        result: Result<WebhookReply, String>,
        now: Instant,
        wall: DateTime<Utc>,
        flows: &dyn FlowLookup,
        out: &mut Vec<Action>,
    ) {
        let flow = self.flow_now();
        let node = self.cur();
        let (on_error, next) = match &node.kind {
            NodeKind::Webhook { on_error, .. } => (
                on_error.as_ref().map(|t| t.id),
                node.next.as_ref().map(|t| t.id),
            ),
            _ => (None, node.next.as_ref().map(|t| t.id)),
        };
        let chosen = result.and_then(|reply| match &reply.next {
            None => Ok((reply.vars, next)),
            Some(name) => match flow.node_id(name) {
                Some(id) => Ok((reply.vars, Some(id))),
                None => Err(format!(
                    "the reply chose node \"{name}\", which is not in flow {}",
                    flow.name
                )),
            },
        });
        match chosen {
            Ok((vars, target)) => {
                self.outcome("ok");
                for (k, v) in vars {
                    // The call's identity is not the server's to change.
                    if !CALL_VARS.contains(&k.as_str()) && valid_var_name(&k) {
                        self.vars.insert(k, v);
                    }
                }
                self.vars.remove("webhook_error");
                self.run(target, now, wall, flows, out);
            }
            Err(e) => {
                self.outcome(if e == "no reply in time" {
                    "timeout"
                } else {
                    "error"
                });
                self.vars.insert("webhook_error".into(), e);
                self.run(on_error.or(next), now, wall, flows, out);
            }
        }
    }
}
