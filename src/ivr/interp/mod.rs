//! The flow interpreter: one per call, pure. Events go in (a key, a prompt finished, a
//! webhook replied, a timer fired) with the time; actions come out (play, record, POST,
//! transfer, hang up). It never plays audio, sleeps, reads a clock or does I/O, so the
//! live call, the terminal simulator and the tests all drive the same code.

mod gather;
#[cfg(test)]
mod tests;
mod webhook;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::ivr::condition::{CondCtx, eval};
use crate::ivr::events::{Action, CallInfo, Event, FlowLookup, PathStep};
use crate::ivr::model::{Flow, NodeId, NodeKind, PromptItem, Speech};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    /// The prompt plays; keys are kept (type-ahead) and stop it.
    Prompt {
        id: u64,
    },
    Collect {
        deadline: Instant,
    },
    /// A no-input/invalid message plays; then retry or fail.
    Failing {
        id: u64,
        retry: bool,
    },
}

#[derive(Debug, Clone, PartialEq)]
enum State {
    NotStarted,
    Playing {
        id: u64,
        interruptible: bool,
    },
    Gather {
        attempt: u32,
        buf: String,
        phase: Phase,
    },
    Webhook {
        id: u64,
        deadline: Instant,
    },
    Record {
        id: u64,
    },
    Transfer,
    Enqueue,
    Done,
}

struct Frame {
    flow: Arc<Flow>,
    /// Where the calling flow goes on when this sub-flow ends.
    return_to: Option<NodeId>,
}

/// Instant nodes (set, goto, condition) in a row without waiting; beyond this the flow is
/// looping and the call is hung up rather than spinning.
const MAX_INSTANT_STEPS: usize = 1000;
const MAX_SUBFLOW_DEPTH: usize = 8;
const MAX_PATH_STEPS: usize = 1000;
/// The last path step once the path is full; it records nothing more.
const TRUNCATED: &str = "...";
/// Keys kept per path step (a caller leaning on the keypad must not grow the CDR).
const MAX_STEP_KEYS: usize = 64;
/// The runtime's HTTP client enforces the webhook timeout and reports why; this later
/// deadline only guards against a reply that never comes.
const WEBHOOK_GRACE: Duration = Duration::from_secs(1);

/// Runs one call through a flow.
pub struct Interpreter {
    stack: Vec<Frame>,
    node: NodeId,
    call: CallInfo,
    vars: BTreeMap<String, String>,
    state: State,
    typeahead: String,
    path: Vec<PathStep>,
    next_id: u64,
}

impl Interpreter {
    pub fn new(flow: Arc<Flow>, call: CallInfo) -> Interpreter {
        let mut vars = flow.vars.clone();
        vars.insert("caller".into(), call.caller.clone());
        vars.insert("called".into(), call.called.clone());
        vars.insert("call_id".into(), call.call_id.clone());
        vars.insert("tenant".into(), call.tenant.clone());
        Interpreter {
            node: flow.start,
            stack: vec![Frame {
                flow,
                return_to: None,
            }],
            call,
            vars,
            state: State::NotStarted,
            typeahead: String::new(),
            path: Vec::new(),
            next_id: 1,
        }
    }

    /// Overrides variables before the call starts (e.g. per-number config: another
    /// webhook URL or queue name).
    pub fn with_vars(mut self, vars: impl IntoIterator<Item = (String, String)>) -> Interpreter {
        self.vars.extend(vars);
        self
    }

    pub fn start(
        &mut self,
        now: Instant,
        wall: DateTime<Utc>,
        flows: &dyn FlowLookup,
    ) -> Vec<Action> {
        let mut out = Vec::new();
        if self.state == State::NotStarted {
            self.refresh_now(wall);
            let start = self.node;
            self.run(Some(start), now, wall, flows, &mut out);
        }
        out
    }

    pub fn handle(
        &mut self,
        ev: Event,
        now: Instant,
        wall: DateTime<Utc>,
        flows: &dyn FlowLookup,
    ) -> Vec<Action> {
        let mut out = Vec::new();
        if self.state == State::Done {
            return out;
        }
        self.refresh_now(wall);
        match ev {
            Event::Hangup => {
                if let Some(s) = self.path.last_mut()
                    && s.inputs.last().is_some_and(String::is_empty)
                {
                    s.inputs.pop();
                }
                self.outcome("hangup");
                self.state = State::Done;
            }
            Event::Digit(c) => self.on_digit(c, now, wall, flows, &mut out),
            Event::PlaybackDone { id, interrupted } => {
                self.on_playback_done(id, interrupted, now, wall, flows, &mut out)
            }
            Event::Timeout => self.on_timeout(now, wall, flows, &mut out),
            Event::WebhookDone { id, result } => {
                if matches!(self.state, State::Webhook { id: w, .. } if w == id) {
                    self.webhook_result(result, now, wall, flows, &mut out);
                }
            }
            Event::RecordDone { id, path, duration } => {
                if self.state == (State::Record { id }) {
                    let p = path.map(|p| p.display().to_string()).unwrap_or_default();
                    self.vars.insert("recording".into(), p);
                    self.vars
                        .insert("recording_seconds".into(), duration.as_secs().to_string());
                    self.outcome(&format!("{}s", duration.as_secs()));
                    let next = self.cur().next.as_ref().map(|t| t.id);
                    self.run(next, now, wall, flows, &mut out);
                }
            }
            Event::TransferDone { ok, reason } => {
                if self.state == State::Transfer {
                    if ok {
                        self.outcome("transferred");
                        self.state = State::Done;
                    } else {
                        self.outcome("failed");
                        self.vars.insert("transfer_error".into(), reason.clone());
                        let on_error = match &self.cur().kind {
                            NodeKind::Transfer { on_error, .. } => on_error.as_ref().map(|t| t.id),
                            _ => None,
                        };
                        match on_error.or(self.cur().next.as_ref().map(|t| t.id)) {
                            Some(t) => self.run(Some(t), now, wall, flows, &mut out),
                            None => self.hangup(format!("transfer failed: {reason}"), &mut out),
                        }
                    }
                }
            }
            Event::AgentAnswered { agent } => {
                if self.state == State::Enqueue {
                    self.outcome(&format!("agent {agent}"));
                    self.state = State::Done;
                }
            }
            Event::EnqueueUnavailable => {
                if self.state == State::Enqueue {
                    self.outcome("unavailable");
                    let fallback = match &self.cur().kind {
                        NodeKind::Enqueue { fallback, .. } => fallback.as_ref().map(|t| t.id),
                        _ => None,
                    };
                    match fallback.or(self.cur().next.as_ref().map(|t| t.id)) {
                        Some(t) => self.run(Some(t), now, wall, flows, &mut out),
                        None => self.hangup("queue unavailable".into(), &mut out),
                    }
                }
            }
        }
        out
    }

    /// When to call `handle(Event::Timeout)`: a gather waiting for keys, or a webhook.
    pub fn next_timeout(&self) -> Option<Instant> {
        match &self.state {
            State::Gather {
                phase: Phase::Collect { deadline },
                ..
            } => Some(*deadline),
            State::Webhook { deadline, .. } => Some(*deadline),
            _ => None,
        }
    }

    pub fn path(&self) -> &[PathStep] {
        &self.path
    }

    /// e.g. `hours>greeting>menu[1]>order_number[12345#]>lookup(ok)>status>bye`; nodes of a
    /// sub-flow are written `flow:node`; `-` is a gather attempt without keys.
    pub fn path_summary(&self) -> String {
        let root = &self.stack[0].flow.name;
        let mut parts = Vec::with_capacity(self.path.len());
        for s in &self.path {
            let mut p = if s.flow == *root {
                s.node.clone()
            } else {
                format!("{}:{}", s.flow, s.node)
            };
            let inputs: Vec<&str> = s
                .inputs
                .iter()
                .map(String::as_str)
                .filter(|i| !i.is_empty())
                .collect();
            if !inputs.is_empty() {
                p.push('[');
                p.push_str(&inputs.join(","));
                p.push(']');
            }
            if let Some(o) = &s.outcome {
                p.push('(');
                p.push_str(o);
                p.push(')');
            }
            parts.push(p);
        }
        parts.join(">")
    }

    pub fn vars(&self) -> &BTreeMap<String, String> {
        &self.vars
    }

    /// True once the call has left the flow: hung up (by either side) or transferred.
    pub fn is_finished(&self) -> bool {
        self.state == State::Done
    }

    /// The flow the call started in.
    pub fn flow(&self) -> &Arc<Flow> {
        &self.stack[0].flow
    }

    fn flow_now(&self) -> Arc<Flow> {
        // The stack is never empty: frames above the root are popped only down to it.
        Arc::clone(&self.stack[self.stack.len() - 1].flow)
    }

    fn cur(&self) -> &crate::ivr::model::Node {
        let f = &self.stack[self.stack.len() - 1].flow;
        &f.nodes[self.node.min(f.nodes.len().saturating_sub(1))]
    }

    fn refresh_now(&mut self, wall: DateTime<Utc>) {
        let local = wall.with_timezone(&self.flow_now().timezone);
        self.vars
            .insert("now".into(), local.format("%H:%M").to_string());
    }

    fn id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// The step being recorded; none once the path is full.
    fn step_mut(&mut self) -> Option<&mut PathStep> {
        self.path.last_mut().filter(|s| s.node != TRUNCATED)
    }

    fn outcome(&mut self, o: &str) {
        if let Some(s) = self.step_mut() {
            s.outcome = Some(o.to_string());
        }
    }

    /// Notes a key on the current step: appended to the current gather attempt (or the
    /// node's keys), or as a new attempt.
    fn record_key(&mut self, c: char, new_attempt: bool) {
        if let Some(s) = self.step_mut() {
            if s.inputs.iter().map(String::len).sum::<usize>() >= MAX_STEP_KEYS {
                return;
            }
            match s.inputs.last_mut() {
                Some(last) if !new_attempt => last.push(c),
                _ => s.inputs.push(c.to_string()),
            }
        }
    }

    /// A gather attempt ended without keys: shown as `-`.
    fn record_no_input(&mut self) {
        if let Some(last) = self.step_mut().and_then(|s| s.inputs.last_mut())
            && last.is_empty()
        {
            last.push('-');
        }
    }

    fn hangup(&mut self, cause: String, out: &mut Vec<Action>) {
        self.state = State::Done;
        out.push(Action::Hangup { cause });
    }

    /// Enters `target` (or ends the current flow when `None`) and keeps going through
    /// instant nodes until the flow waits for something or the call ends.
    fn run(
        &mut self,
        mut target: Option<NodeId>,
        now: Instant,
        wall: DateTime<Utc>,
        flows: &dyn FlowLookup,
        out: &mut Vec<Action>,
    ) {
        let mut steps = 0usize;
        loop {
            steps += 1;
            if steps > MAX_INSTANT_STEPS {
                let name = self.cur().name.clone();
                self.hangup(
                    format!("flow loop at node {name}: {MAX_INSTANT_STEPS} steps without waiting"),
                    out,
                );
                return;
            }
            let Some(id) = target else {
                // End of this flow: back to the caller of a sub-flow, or hang up.
                if self.stack.len() > 1 {
                    let frame = self.stack.pop();
                    target = frame.and_then(|f| f.return_to);
                    continue;
                }
                self.hangup("flow ended".into(), out);
                return;
            };
            let flow = self.flow_now();
            let Some(node) = flow.nodes.get(id) else {
                self.hangup(
                    format!("flow error: node {id} does not exist in {}", flow.name),
                    out,
                );
                return;
            };
            self.node = id;
            if self.path.len() < MAX_PATH_STEPS {
                self.path.push(PathStep {
                    flow: flow.name.clone(),
                    node: node.name.clone(),
                    inputs: Vec::new(),
                    outcome: None,
                });
            } else if self.path.last().is_none_or(|s| s.node != TRUNCATED) {
                // The CDR keeps the start of a very long call; a marker says there was more.
                self.path.push(PathStep {
                    flow: flow.name.clone(),
                    node: TRUNCATED.into(),
                    inputs: Vec::new(),
                    outcome: None,
                });
            }
            let next = node.next.as_ref().map(|t| t.id);
            match &node.kind {
                NodeKind::Say {
                    text,
                    voice,
                    interruptible,
                } => {
                    let speech = Speech::Tts {
                        voice: *voice,
                        text: text.render(&self.vars, *voice),
                    };
                    if self.play(vec![speech], *interruptible, out) {
                        return;
                    }
                    target = next;
                }
                NodeKind::Play {
                    file,
                    interruptible,
                } => {
                    if self.play(vec![Speech::File(file.clone())], *interruptible, out) {
                        return;
                    }
                    target = next;
                }
                NodeKind::Gather(g) => {
                    let buf = std::mem::take(&mut self.typeahead);
                    self.state = State::Gather {
                        attempt: 0,
                        buf: String::new(),
                        phase: Phase::Collect { deadline: now },
                    };
                    if buf.is_empty() {
                        self.prompt_or_collect(g, now, out);
                        return;
                    }
                    // Keys pressed during earlier prompts count as this gather's input.
                    self.state = State::Gather {
                        attempt: 0,
                        buf: String::new(),
                        phase: Phase::Collect {
                            deadline: now + g.inter_digit_timeout,
                        },
                    };
                    let mut done = None;
                    for c in buf.chars() {
                        self.record_key(c, false);
                        if let Some(v) = self.push_key(g, c, now) {
                            done = Some(v);
                            break;
                        }
                    }
                    match done {
                        None => return,
                        Some(value) => match self.gather_result(g, value, now, out) {
                            Step::Go(t) => target = t,
                            Step::Wait => return,
                        },
                    }
                }
                NodeKind::Condition {
                    branches,
                    otherwise,
                } => {
                    let cx = CondCtx {
                        local: wall.with_timezone(&flow.timezone),
                        caller: &self.call.caller,
                        vars: &self.vars,
                        holidays: &flow.holidays,
                        workdays: &flow.workdays,
                    };
                    let hit = branches.iter().position(|(c, _)| eval(c, &cx));
                    match hit {
                        Some(i) => {
                            self.outcome(&(i + 1).to_string());
                            target = Some(branches[i].1.id);
                        }
                        None => {
                            self.outcome("else");
                            target = otherwise.as_ref().map(|t| t.id).or(next);
                        }
                    }
                }
                NodeKind::Set(assignments) => {
                    let voice = flow.language;
                    for (name, t) in assignments {
                        let v = t.render(&self.vars, voice);
                        self.vars.insert(name.clone(), v);
                    }
                    target = next;
                }
                NodeKind::Goto => target = next,
                NodeKind::Subflow { flow: name, .. } => {
                    let sub = flows.flow(name);
                    match sub {
                        None => {
                            self.hangup(
                                format!("flow error: sub-flow \"{name}\" is not loaded"),
                                out,
                            );
                            return;
                        }
                        Some(_) if self.stack.len() > MAX_SUBFLOW_DEPTH => {
                            self.hangup(
                                format!(
                                    "flow error: sub-flows nested deeper than {MAX_SUBFLOW_DEPTH}"
                                ),
                                out,
                            );
                            return;
                        }
                        Some(sub) => {
                            for (k, v) in &sub.vars {
                                self.vars.entry(k.clone()).or_insert_with(|| v.clone());
                            }
                            let start = sub.start;
                            self.stack.push(Frame {
                                flow: sub,
                                return_to: next,
                            });
                            target = Some(start);
                        }
                    }
                }
                NodeKind::Webhook { url, timeout, .. } => {
                    let id = self.id();
                    let body = serde_json::json!({
                        "flow": flow.name,
                        "node": node.name,
                        "call": {
                            "call_id": self.call.call_id,
                            "caller": self.call.caller,
                            "called": self.call.called,
                            "tenant": self.call.tenant,
                        },
                        "vars": self.vars,
                    });
                    out.push(Action::Webhook {
                        id,
                        url: url.render(&self.vars, flow.language),
                        body,
                        timeout: *timeout,
                    });
                    self.state = State::Webhook {
                        id,
                        deadline: now + *timeout + WEBHOOK_GRACE,
                    };
                    return;
                }
                NodeKind::Record {
                    beep,
                    max,
                    silence,
                    end_on_hash,
                } => {
                    self.typeahead.clear();
                    let id = self.id();
                    out.push(Action::Record {
                        id,
                        beep: *beep,
                        max: *max,
                        silence: *silence,
                        end_on_hash: *end_on_hash,
                    });
                    self.state = State::Record { id };
                    return;
                }
                NodeKind::Transfer { to, trunk, .. } => {
                    out.push(Action::Transfer {
                        to: to.render(&self.vars, flow.language),
                        trunk: trunk.clone(),
                    });
                    self.state = State::Transfer;
                    return;
                }
                NodeKind::Enqueue { queue, .. } => {
                    out.push(Action::Enqueue {
                        queue: queue.render(&self.vars, flow.language),
                    });
                    self.state = State::Enqueue;
                    return;
                }
                NodeKind::Hangup { cause } => {
                    self.hangup(cause.clone(), out);
                    return;
                }
            }
        }
    }

    /// Starts a say/play prompt; false when type-ahead skips it.
    fn play(&mut self, prompts: Vec<Speech>, interruptible: bool, out: &mut Vec<Action>) -> bool {
        if interruptible && !self.typeahead.is_empty() {
            self.outcome("skipped");
            return false;
        }
        if !interruptible {
            self.typeahead.clear();
        }
        let id = self.id();
        out.push(Action::Play {
            id,
            prompts,
            interruptible,
        });
        self.state = State::Playing { id, interruptible };
        true
    }

    fn speech(&self, items: &[PromptItem]) -> Vec<Speech> {
        items
            .iter()
            .map(|i| match i {
                PromptItem::Say { text, voice } => Speech::Tts {
                    voice: *voice,
                    text: text.render(&self.vars, *voice),
                },
                PromptItem::Play(p) => Speech::File(p.clone()),
                PromptItem::Beep => Speech::Beep,
            })
            .collect()
    }

    fn on_digit(
        &mut self,
        c: char,
        now: Instant,
        wall: DateTime<Utc>,
        flows: &dyn FlowLookup,
        out: &mut Vec<Action>,
    ) {
        if !matches!(c, '0'..='9' | '*' | '#' | 'A'..='D') {
            return;
        }
        match self.state.clone() {
            State::Playing {
                interruptible: true,
                ..
            } => {
                // Barge-in: the key stops the prompt and waits for the next gather.
                self.record_key(c, false);
                self.outcome("interrupted");
                self.typeahead.push(c);
                out.push(Action::StopPlayback);
                let next = self.cur().next.as_ref().map(|t| t.id);
                self.run(next, now, wall, flows, out);
            }
            State::Gather { attempt, phase, .. } => {
                let Some((flow, node)) = self.gather_node() else {
                    return;
                };
                let NodeKind::Gather(g) = &flow.nodes[node].kind else {
                    return;
                };
                match phase {
                    Phase::Prompt { .. } => {
                        out.push(Action::StopPlayback);
                        self.record_key(c, false);
                    }
                    Phase::Collect { .. } => self.record_key(c, false),
                    Phase::Failing { retry: true, .. } => {
                        // A key during "sorry, try again" starts the next attempt at once.
                        out.push(Action::StopPlayback);
                        self.state = State::Gather {
                            attempt: attempt + 1,
                            buf: String::new(),
                            phase: Phase::Collect { deadline: now },
                        };
                        self.record_key(c, true);
                    }
                    Phase::Failing { retry: false, .. } => {
                        self.record_key(c, false);
                        return;
                    }
                }
                if let Some(value) = self.push_key(g, c, now) {
                    self.finish_gather(g, value, now, wall, flows, out);
                }
            }
            State::Done => {}
            _ => self.record_key(c, false),
        }
    }

    fn on_playback_done(
        &mut self,
        id: u64,
        interrupted: bool,
        now: Instant,
        wall: DateTime<Utc>,
        flows: &dyn FlowLookup,
        out: &mut Vec<Action>,
    ) {
        match self.state.clone() {
            State::Playing { id: p, .. } if p == id => {
                if interrupted {
                    self.outcome("interrupted");
                }
                let next = self.cur().next.as_ref().map(|t| t.id);
                self.run(next, now, wall, flows, out);
            }
            State::Gather {
                attempt,
                buf,
                phase,
            } => {
                let Some((flow, node)) = self.gather_node() else {
                    return;
                };
                let NodeKind::Gather(g) = &flow.nodes[node].kind else {
                    return;
                };
                match phase {
                    Phase::Prompt { id: p } if p == id => {
                        // Timers start once the prompt has finished.
                        let wait = if buf.is_empty() {
                            g.first_digit_timeout
                        } else {
                            g.inter_digit_timeout
                        };
                        self.state = State::Gather {
                            attempt,
                            buf,
                            phase: Phase::Collect {
                                deadline: now + wait,
                            },
                        };
                    }
                    Phase::Failing { id: p, retry } if p == id => {
                        if retry {
                            self.state = State::Gather {
                                attempt: attempt + 1,
                                buf: String::new(),
                                phase: Phase::Collect { deadline: now },
                            };
                            self.prompt_or_collect(g, now, out);
                        } else {
                            let target = g.on_failure.as_ref().map(|t| t.id);
                            self.run(target, now, wall, flows, out);
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }

    fn on_timeout(
        &mut self,
        now: Instant,
        wall: DateTime<Utc>,
        flows: &dyn FlowLookup,
        out: &mut Vec<Action>,
    ) {
        match self.state.clone() {
            State::Gather {
                buf,
                phase: Phase::Collect { deadline },
                ..
            } if now >= deadline => {
                let Some((flow, node)) = self.gather_node() else {
                    return;
                };
                let NodeKind::Gather(g) = &flow.nodes[node].kind else {
                    return;
                };
                if let State::Gather { buf: b, .. } = &mut self.state {
                    b.clear();
                }
                self.finish_gather(g, buf, now, wall, flows, out);
            }
            State::Webhook { deadline, .. } if now >= deadline => {
                self.webhook_result(Err("no reply in time".into()), now, wall, flows, out);
            }
            _ => {}
        }
    }
}

/// What a gather decided.
enum Step {
    Wait,
    Go(Option<NodeId>),
}
