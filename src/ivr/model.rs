//! A loaded, validated flow: named nodes with resolved references. Immutable once built;
//! calls share it through an `Arc`, so a reload never changes a call in progress.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::NaiveDate;
use chrono_tz::Tz;
use regex::Regex;

use super::condition::Cond;
use super::diag::Diagnostic;
use super::template::Template;
use super::yaml::Pos;

/// The TTS voice of a `say`: the TTS module's own type, so prompts go to it unchanged.
pub use crate::tts::Voice;

/// One thing the caller hears.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Speech {
    Tts {
        voice: Voice,
        text: String,
    },
    /// A WAV file (absolute, or relative to the working directory when the flow path was).
    File(PathBuf),
    Beep,
}

pub(crate) type NodeId = usize;

/// A reference to a node, kept with where it is written for messages.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Target {
    pub name: String,
    pub pos: Pos,
    /// Filled in once all node names are known.
    pub id: NodeId,
}

#[derive(Debug, Clone)]
pub(crate) enum PromptItem {
    Say { text: Template, voice: Voice },
    Play(PathBuf),
    Beep,
}

#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub name: String,
    pub pos: Pos,
    pub kind: NodeKind,
    /// Where the flow goes after this node (`next`, `goto`'s target, a sub-flow's `return`).
    pub next: Option<Target>,
}

#[derive(Debug, Clone)]
pub(crate) enum NodeKind {
    Say {
        text: Template,
        voice: Voice,
        interruptible: bool,
    },
    Play {
        file: PathBuf,
        interruptible: bool,
    },
    Gather(Box<Gather>),
    Condition {
        branches: Vec<(Cond, Target)>,
        otherwise: Option<Target>,
    },
    Set(Vec<(String, Template)>),
    Goto,
    Subflow {
        flow: String,
        /// Where the name is written.
        pos: Pos,
    },
    Webhook {
        url: Template,
        timeout: Duration,
        on_error: Option<Target>,
        may_goto: Vec<Target>,
    },
    Record {
        beep: bool,
        max: Duration,
        silence: Duration,
        end_on_hash: bool,
    },
    Transfer {
        to: Template,
        trunk: Option<String>,
        on_error: Option<Target>,
    },
    Enqueue {
        queue: Template,
        fallback: Option<Target>,
    },
    Hangup {
        cause: String,
    },
}

impl NodeKind {
    /// Whether reaching this node makes the call wait for something outside the
    /// interpreter (the caller, a prompt, a server). Cycles of nodes that never wait spin.
    pub fn waits(&self) -> bool {
        !matches!(
            self,
            NodeKind::Condition { .. } | NodeKind::Set(_) | NodeKind::Goto
        )
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Gather {
    pub prompt: Vec<PromptItem>,
    pub no_input: Vec<PromptItem>,
    pub invalid: Vec<PromptItem>,
    pub min_digits: usize,
    pub max_digits: usize,
    pub terminator: Option<char>,
    pub first_digit_timeout: Duration,
    pub inter_digit_timeout: Duration,
    pub retries: u32,
    pub pattern: Option<Regex>,
    pub into: String,
    pub menu: Vec<(String, Target)>,
    pub on_failure: Option<Target>,
}

/// A validated flow file.
#[derive(Debug, Clone)]
pub struct Flow {
    pub name: String,
    /// The file it was loaded from.
    pub path: PathBuf,
    /// The default voice of `say` text.
    pub language: Voice,
    /// Business hours, holidays and `{{now}}` are in this zone.
    pub timezone: Tz,
    pub(crate) start: NodeId,
    /// Where `flow: NAME` is written.
    pub(crate) name_pos: Pos,
    pub(crate) holidays: BTreeSet<NaiveDate>,
    pub(crate) workdays: BTreeSet<NaiveDate>,
    pub(crate) vars: BTreeMap<String, String>,
    pub(crate) nodes: Vec<Node>,
    pub(crate) warnings: Vec<Diagnostic>,
    /// Sub-flows this flow calls, with where, for cross-file checks.
    pub(crate) subflow_refs: Vec<(String, Pos)>,
    /// Every variable some node of this flow sets (for cross-file "never set" checks).
    pub(crate) vars_set: BTreeSet<String>,
}

impl Flow {
    /// Problems that do not stop the flow from running (unreachable nodes, unknown
    /// variables): log them when the flow loads.
    pub fn warnings(&self) -> &[Diagnostic] {
        &self.warnings
    }

    /// The flow's default variables (`vars:`), before any call changes them.
    pub fn default_vars(&self) -> &BTreeMap<String, String> {
        &self.vars
    }

    pub fn node_names(&self) -> impl Iterator<Item = &str> {
        self.nodes.iter().map(|n| n.name.as_str())
    }

    /// The names of the sub-flows this flow calls.
    pub fn subflows(&self) -> impl Iterator<Item = &str> {
        self.subflow_refs.iter().map(|(n, _)| n.as_str())
    }

    /// The directory relative paths in the file are resolved against.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    pub(crate) fn node_id(&self, name: &str) -> Option<NodeId> {
        self.nodes.iter().position(|n| n.name == name)
    }

    /// Every prompt whose text or file is fixed, so the runtime can render TTS before the
    /// first caller needs it. Text with `{{variables}}` is rendered per call instead.
    pub fn static_prompts(&self) -> Vec<Speech> {
        let mut out: Vec<Speech> = Vec::new();
        let mut push = |s: Speech| {
            if !out.contains(&s) {
                out.push(s);
            }
        };
        let items = |list: &[PromptItem], push: &mut dyn FnMut(Speech)| {
            for item in list {
                match item {
                    PromptItem::Say { text, voice } => {
                        if let Some(text) = text.as_constant() {
                            push(Speech::Tts {
                                voice: *voice,
                                text,
                            });
                        }
                    }
                    PromptItem::Play(p) => push(Speech::File(p.clone())),
                    PromptItem::Beep => {}
                }
            }
        };
        for node in &self.nodes {
            match &node.kind {
                NodeKind::Say { text, voice, .. } => {
                    if let Some(text) = text.as_constant() {
                        push(Speech::Tts {
                            voice: *voice,
                            text,
                        });
                    }
                }
                NodeKind::Play { file, .. } => push(Speech::File(file.clone())),
                NodeKind::Gather(g) => {
                    items(&g.prompt, &mut push);
                    items(&g.no_input, &mut push);
                    items(&g.invalid, &mut push);
                }
                _ => {}
            }
        }
        out
    }
}
