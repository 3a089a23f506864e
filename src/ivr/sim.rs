//! `hotline flow sim`: the interpreter in a terminal. Prints what the caller hears, the
//! nodes passed, variable changes and webhook calls; reads the caller's keys from input.
//!
//! Input, one line at a time (echoed as `< line`):
//! - keys: `1`, `12345#` — pressed in quick succession;
//! - `!keys` — pressed *during* the interruptible prompt that is playing (barge-in);
//! - `wait` — the caller does nothing until the pending timer fires;
//! - `hangup`, or end of input — the caller hangs up.
//!
//! Prompts take no time. A prompt that cannot be interrupted finishes at once; one that can
//! waits for the next line: `!keys` interrupts it, anything else lets it finish and is
//! then used as usual. A `record` node reads one line (`#`, `wait` or anything: the caller
//! is done; `hangup`: the caller hangs up). With `--no-webhooks` each webhook reads its reply
//! as one line of JSON (`{"vars": {...}, "next": "node"}`), or `error TEXT`, or `timeout`.
//! Output has no timestamps, so a transcript is stable for tests.

use std::collections::{BTreeMap, VecDeque};
use std::io::{self, BufRead, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::{Action, CallInfo, Event, Flow, FlowLookup, Interpreter, Speech, WebhookReply};

/// How the simulated call looks.
#[derive(Debug, Clone)]
pub struct SimOptions {
    pub caller: String,
    pub called: String,
    pub at: DateTime<Utc>,
    /// Variables to override (e.g. a test server's webhook URL).
    pub vars: Vec<(String, String)>,
    /// Make every transfer fail (to walk `on_error` branches).
    pub fail_transfers: bool,
}

/// Performs a webhook POST; the CLI's is real HTTP, tests may fake it.
pub trait WebhookPoster {
    fn post(
        &mut self,
        url: &str,
        body: &serde_json::Value,
        timeout: Duration,
    ) -> Result<serde_json::Value, String>;
}

/// Real HTTP through the server's own webhook client (`call::webhook`), on a small runtime
/// of its own: the simulator posts exactly what a live call would.
pub struct HttpPoster;

impl WebhookPoster for HttpPoster {
    fn post(
        &mut self,
        url: &str,
        body: &serde_json::Value,
        timeout: Duration,
    ) -> Result<serde_json::Value, String> {
        // One runtime for the process: the client's pooled connections belong to it.
        static RT: std::sync::OnceLock<Option<tokio::runtime::Runtime>> =
            std::sync::OnceLock::new();
        let rt = RT
            .get_or_init(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()
            })
            .as_ref()
            .ok_or("cannot start the HTTP runtime")?;
        let reply = rt
            .block_on(crate::call::webhook::post_json(url, body.clone(), timeout))
            .map_err(|e| {
                if e.is_timeout() {
                    format!("no reply within {}s", timeout.as_secs_f32())
                } else {
                    e.to_string()
                }
            })?;
        Ok(serde_json::json!({ "vars": reply.vars, "next": reply.next }))
    }
}

struct Lines<'a> {
    input: &'a mut dyn BufRead,
    peeked: Option<Option<String>>,
}

impl Lines<'_> {
    /// The next line without its newline; `None` at end of input.
    fn peek(&mut self) -> io::Result<Option<&str>> {
        if self.peeked.is_none() {
            let mut line = String::new();
            let got = self.input.read_line(&mut line)?;
            self.peeked = Some((got > 0).then(|| line.trim().to_string()));
        }
        Ok(self.peeked.as_ref().and_then(|l| l.as_deref()))
    }

    fn next(&mut self) -> io::Result<Option<String>> {
        self.peek()?;
        Ok(self.peeked.take().flatten())
    }
}

struct Sim<'a> {
    i: Interpreter,
    flows: &'a dyn FlowLookup,
    out: &'a mut dyn Write,
    lines: Lines<'a>,
    poster: Option<&'a mut dyn WebhookPoster>,
    fail_transfers: bool,
    now: Instant,
    wall: DateTime<Utc>,
    events: VecDeque<Event>,
    /// An interruptible prompt that is playing.
    playing: Option<u64>,
    recording: Option<u64>,
    shown_steps: usize,
    shown_vars: BTreeMap<String, String>,
}

/// Runs one simulated call to its end; returns the path summary.
pub fn run_sim<'a>(
    flow: Arc<Flow>,
    flows: &'a dyn FlowLookup,
    opts: &SimOptions,
    input: &'a mut dyn BufRead,
    out: &'a mut dyn Write,
    poster: Option<&'a mut dyn WebhookPoster>,
) -> io::Result<String> {
    let local = opts.at.with_timezone(&flow.timezone);
    writeln!(out, "== flow {} ({})", flow.name, flow.path.display())?;
    writeln!(
        out,
        "== call from {} to {} at {} {}",
        opts.caller,
        opts.called,
        local.format("%Y-%m-%d %H:%M (%a)"),
        flow.timezone.name()
    )?;
    let call = CallInfo {
        call_id: "sim".into(),
        caller: opts.caller.clone(),
        called: opts.called.clone(),
        tenant: "sim".into(),
    };
    let i = Interpreter::new(flow, call).with_vars(opts.vars.iter().cloned());
    let mut sim = Sim {
        shown_vars: i.vars().clone(),
        i,
        flows,
        out,
        lines: Lines {
            input,
            peeked: None,
        },
        poster,
        fail_transfers: opts.fail_transfers,
        now: Instant::now(),
        wall: opts.at,
        events: VecDeque::new(),
        playing: None,
        recording: None,
        shown_steps: 0,
    };
    let actions = sim.i.start(sim.now, sim.wall, sim.flows);
    sim.after(actions)?;
    while !sim.i.is_finished() {
        sim.step()?;
    }
    let summary = sim.i.path_summary();
    writeln!(sim.out, "== path: {summary}")?;
    Ok(summary)
}

impl Sim<'_> {
    fn feed(&mut self, ev: Event) -> io::Result<()> {
        let actions = self.i.handle(ev, self.now, self.wall, self.flows);
        self.after(actions)
    }

    /// Shows what changed, then carries out the actions.
    fn after(&mut self, actions: Vec<Action>) -> io::Result<()> {
        for s in &self.i.path()[self.shown_steps.min(self.i.path().len())..] {
            let root = &self.i.flow().name;
            if s.flow == *root {
                writeln!(self.out, "-> {}", s.node)?;
            } else {
                writeln!(self.out, "-> {}:{}", s.flow, s.node)?;
            }
        }
        self.shown_steps = self.i.path().len();
        let changed: Vec<(String, String)> = self
            .i
            .vars()
            .iter()
            .filter(|(k, v)| k.as_str() != "now" && self.shown_vars.get(*k) != Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (k, v) in changed {
            writeln!(self.out, "   {k} = {v}")?;
        }
        self.shown_vars = self.i.vars().clone();
        for a in actions {
            self.act(a)?;
        }
        Ok(())
    }

    fn act(&mut self, a: Action) -> io::Result<()> {
        match a {
            Action::Play {
                id,
                prompts,
                interruptible,
            } => {
                for p in &prompts {
                    match p {
                        Speech::Tts { voice, text } => {
                            writeln!(self.out, "[say {}] {text}", voice.as_str())?
                        }
                        Speech::File(f) => writeln!(self.out, "[play] {}", f.display())?,
                        Speech::Beep => writeln!(self.out, "[beep]")?,
                    }
                }
                if interruptible {
                    self.playing = Some(id);
                } else {
                    // Finishes before any key that follows.
                    self.events.push_front(Event::PlaybackDone {
                        id,
                        interrupted: false,
                    });
                }
            }
            Action::StopPlayback => {
                self.playing = None;
                writeln!(self.out, "   (prompt stopped by a key)")?;
            }
            Action::Record {
                id,
                beep,
                max,
                silence,
                end_on_hash,
            } => {
                if beep {
                    writeln!(self.out, "[beep]")?;
                }
                let silence = if silence.is_zero() {
                    "no silence limit".to_string()
                } else {
                    format!("ends after {}s of silence", silence.as_secs())
                };
                let hash = if end_on_hash { " or #" } else { "" };
                writeln!(
                    self.out,
                    "[record] up to {}s, {silence}{hash}",
                    max.as_secs()
                )?;
                self.recording = Some(id);
            }
            Action::Webhook {
                id,
                url,
                body,
                timeout,
            } => {
                writeln!(self.out, "[webhook] POST {url} {body}")?;
                let result = match self.poster.as_deref_mut() {
                    Some(p) => p
                        .post(&url, &body, timeout)
                        .and_then(|v| WebhookReply::from_json(&v)),
                    None => self.webhook_reply_from_input()?,
                };
                match &result {
                    Ok(r) => writeln!(
                        self.out,
                        "[webhook] reply vars={:?} next={}",
                        r.vars,
                        r.next.as_deref().unwrap_or("-")
                    )?,
                    Err(e) => writeln!(self.out, "[webhook] failed: {e}")?,
                }
                self.events.push_back(Event::WebhookDone { id, result });
            }
            Action::Transfer { to, trunk } => {
                let via = trunk.map(|t| format!(" via trunk {t}")).unwrap_or_default();
                writeln!(self.out, "[transfer] {to}{via}")?;
                let ok = !self.fail_transfers;
                if !ok {
                    writeln!(self.out, "[transfer] failed (--fail-transfers)")?;
                }
                self.events.push_back(Event::TransferDone {
                    ok,
                    reason: if ok {
                        String::new()
                    } else {
                        "simulated failure".into()
                    },
                });
            }
            Action::Enqueue { queue } => {
                writeln!(
                    self.out,
                    "[enqueue] {queue} (no ACD yet: the flow takes its fallback)"
                )?;
                self.events.push_back(Event::EnqueueUnavailable);
            }
            Action::Hangup { cause } => writeln!(self.out, "[hangup] {cause}")?,
        }
        Ok(())
    }

    fn webhook_reply_from_input(&mut self) -> io::Result<Result<WebhookReply, String>> {
        let Some(line) = self.lines.next()? else {
            self.events.push_front(Event::Hangup);
            return Ok(Err("the caller hung up".into()));
        };
        writeln!(self.out, "< {line}")?;
        if line == "timeout" {
            return Ok(Err("no reply in time".into()));
        }
        if let Some(e) = line.strip_prefix("error") {
            return Ok(Err(e.trim().to_string()));
        }
        Ok(serde_json::from_str::<serde_json::Value>(&line)
            .map_err(|e| format!("the reply is not JSON: {e}"))
            .and_then(|v| WebhookReply::from_json(&v)))
    }

    /// One move: a queued event, or the caller's next line.
    fn step(&mut self) -> io::Result<()> {
        if let Some(ev) = self.events.pop_front() {
            return self.feed(ev);
        }
        if let Some(id) = self.playing {
            let barge = self
                .lines
                .peek()?
                .and_then(|l| l.strip_prefix('!'))
                .map(str::to_string);
            match barge {
                Some(keys) => {
                    let line = self.lines.next()?.unwrap_or_default();
                    writeln!(self.out, "< {line}")?;
                    self.playing = None;
                    self.events.extend(
                        keys.chars()
                            .filter(|c| !c.is_whitespace())
                            .map(Event::Digit),
                    );
                    // If no key stopped it, the prompt simply finishes.
                    self.events.push_back(Event::PlaybackDone {
                        id,
                        interrupted: false,
                    });
                }
                None => {
                    self.playing = None;
                    self.events.push_back(Event::PlaybackDone {
                        id,
                        interrupted: false,
                    });
                }
            }
            return Ok(());
        }
        let Some(line) = self.lines.next()? else {
            writeln!(self.out, "< (end of input: the caller hangs up)")?;
            return self.feed(Event::Hangup);
        };
        writeln!(self.out, "< {line}")?;
        if let Some(id) = self.recording.take() {
            if line == "hangup" {
                return self.feed(Event::Hangup);
            }
            writeln!(self.out, "[record] saved sim-voicemail.wav (10s)")?;
            return self.feed(Event::RecordDone {
                id,
                path: Some(PathBuf::from("sim-voicemail.wav")),
                duration: Duration::from_secs(10),
            });
        }
        match line.as_str() {
            "" => Ok(()),
            "hangup" => self.feed(Event::Hangup),
            "wait" => match self.i.next_timeout() {
                Some(t) => {
                    let d = t.saturating_duration_since(self.now);
                    self.now = t;
                    self.wall += chrono::Duration::from_std(d).unwrap_or_default();
                    writeln!(self.out, "   ({}s pass)", d.as_secs_f32())?;
                    self.feed(Event::Timeout)
                }
                None => writeln!(self.out, "   (nothing is waiting for time)"),
            },
            keys if keys
                .chars()
                .all(|c| matches!(c, '0'..='9' | '*' | '#' | 'A'..='D' | ' ')) =>
            {
                self.events
                    .extend(keys.chars().filter(|c| *c != ' ').map(Event::Digit));
                Ok(())
            }
            other => writeln!(
                self.out,
                "   (not understood: \"{other}\"; type keys such as 1 or 12345#, !1 to press during a prompt, wait, or hangup)"
            ),
        }
    }
}
