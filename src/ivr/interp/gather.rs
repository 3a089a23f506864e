//! The gather node: prompts, type-ahead, digit collection with timers, validation,
//! retries with no-input/invalid messages, and the menu routes.

use std::time::Instant;

use chrono::{DateTime, Utc};

use super::{Interpreter, Phase, State, Step};
use crate::ivr::events::{Action, FlowLookup};
use crate::ivr::model::{Flow, Gather, NodeId, NodeKind};
use std::sync::Arc;

impl Interpreter {
    pub(super) fn prompt_or_collect(&mut self, g: &Gather, now: Instant, out: &mut Vec<Action>) {
        let attempt = match &self.state {
            State::Gather { attempt, .. } => *attempt,
            _ => 0,
        };
        if let Some(s) = self.step_mut() {
            s.inputs.push(String::new());
        }
        let prompts = self.speech(&g.prompt);
        let phase = if prompts.is_empty() {
            Phase::Collect {
                deadline: now + g.first_digit_timeout,
            }
        } else {
            let id = self.id();
            out.push(Action::Play {
                id,
                prompts,
                interruptible: true,
            });
            Phase::Prompt { id }
        };
        self.state = State::Gather {
            attempt,
            buf: String::new(),
            phase,
        };
    }
    /// Adds a key to the gather buffer; `Some(value)` when input is complete.
    pub(super) fn push_key(&mut self, g: &Gather, c: char, now: Instant) -> Option<String> {
        let State::Gather { buf, phase, .. } = &mut self.state else {
            return None;
        };
        if g.terminator == Some(c) {
            return Some(std::mem::take(buf));
        }
        buf.push(c);
        if buf.chars().count() >= g.max_digits {
            return Some(std::mem::take(buf));
        }
        *phase = Phase::Collect {
            deadline: now + g.inter_digit_timeout,
        };
        None
    }
    /// Judges a complete input: go on to a node, or wait (a retry or failure prompt).
    pub(super) fn gather_result(
        &mut self,
        g: &Gather,
        value: String,
        now: Instant,
        out: &mut Vec<Action>,
    ) -> Step {
        if value.is_empty() {
            return self.gather_failed(g, true, now, out);
        }
        let valid_len = value.chars().count() >= g.min_digits;
        let valid_pattern = g.pattern.as_ref().is_none_or(|re| re.is_match(&value));
        if valid_len && valid_pattern {
            let route = g.menu.iter().find(|(k, _)| *k == value).map(|(_, t)| t.id);
            let next = self.cur().next.as_ref().map(|t| t.id);
            if route.is_some() || g.menu.is_empty() || next.is_some() {
                self.vars.insert(g.into.clone(), value);
                return Step::Go(route.or(next));
            }
        }
        self.gather_failed(g, false, now, out)
    }
    pub(super) fn gather_failed(
        &mut self,
        g: &Gather,
        no_input: bool,
        now: Instant,
        out: &mut Vec<Action>,
    ) -> Step {
        let attempt = match &self.state {
            State::Gather { attempt, .. } => *attempt,
            _ => 0,
        };
        if no_input {
            self.record_no_input();
        }
        let retry = attempt < g.retries;
        let prompts = self.speech(if no_input { &g.no_input } else { &g.invalid });
        if prompts.is_empty() {
            if retry {
                self.state = State::Gather {
                    attempt: attempt + 1,
                    buf: String::new(),
                    phase: Phase::Collect { deadline: now },
                };
                self.prompt_or_collect(g, now, out);
                return Step::Wait;
            }
            return Step::Go(g.on_failure.as_ref().map(|t| t.id));
        }
        let id = self.id();
        out.push(Action::Play {
            id,
            prompts,
            interruptible: retry,
        });
        self.state = State::Gather {
            attempt,
            buf: String::new(),
            phase: Phase::Failing { id, retry },
        };
        Step::Wait
    }
    /// The gather node the call is in, if it is in one.
    pub(super) fn gather_node(&self) -> Option<(Arc<Flow>, NodeId)> {
        let flow = self.flow_now();
        match flow.nodes.get(self.node).map(|n| &n.kind) {
            Some(NodeKind::Gather(_)) => Some((flow, self.node)),
            _ => None,
        }
    }
    pub(super) fn finish_gather(
        &mut self,
        g: &Gather,
        value: String,
        now: Instant,
        wall: DateTime<Utc>,
        flows: &dyn FlowLookup,
        out: &mut Vec<Action>,
    ) {
        if let Step::Go(target) = self.gather_result(g, value, now, out) {
            self.run(target, now, wall, flows, out);
        }
    }
}
