//! Reading the parts of a flow file that several node kinds share: typed scalars, mappings
//! with a fixed set of keys, prompt lists and branch conditions. Every problem goes into
//! the loader's diagnostics with the position of the offending value; reading goes on.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use regex::{Regex, RegexBuilder};

use super::Voice;
use super::condition::{Cond, VarOp};
use super::diag::{Diags, did_you_mean};
use super::model::{PromptItem, Target};
use super::template::{Template, valid_var_name};
use super::values::{Days, parse_days, parse_duration, parse_time_ranges};
use super::yaml::{Pos, YKey, YNode, YValue};

/// A template and where it is written, kept to warn about variables nothing sets.
pub(crate) struct VarUse {
    pub name: String,
    pub pos: Pos,
}

/// Loader state shared by all parts of one file.
pub(crate) struct Loader {
    pub d: Diags,
    pub dir: PathBuf,
    pub language: Voice,
    pub lists: BTreeMap<String, Vec<String>>,
    pub var_uses: Vec<VarUse>,
    pub vars_set: Vec<(String, Pos)>,
    /// Every node name written in the file, including nodes that failed to load, so a
    /// reference to a broken node is not also reported as unknown.
    pub declared_nodes: Vec<String>,
}

/// Variables every call has (or that nodes set without naming them).
pub(crate) const BUILTIN_VARS: [&str; 10] = [
    "caller",
    "called",
    "call_id",
    "tenant",
    "digits",
    "now",
    "recording",
    "recording_seconds",
    "transfer_error",
    "webhook_error",
];

/// Set by the call itself; a flow may read them but not assign them.
pub(crate) const CALL_VARS: [&str; 5] = ["caller", "called", "call_id", "tenant", "now"];

impl Loader {
    /// The entries of a mapping, after reporting keys not in `allowed`.
    pub fn map<'a>(
        &mut self,
        node: &'a YNode,
        allowed: &[&str],
        what: &str,
    ) -> Option<&'a [(YKey, YNode)]> {
        let YValue::Map(entries) = &node.value else {
            self.d.error(
                node.pos,
                format!(
                    "{what} must be a mapping (key: value lines), found {}",
                    node.kind_name()
                ),
            );
            return None;
        };
        for (k, _) in entries {
            if !allowed.contains(&k.name.as_str()) {
                self.d.error(
                    k.pos,
                    format!(
                        "unknown key `{}` in {what}; allowed keys are: {}{}",
                        k.name,
                        allowed.join(", "),
                        did_you_mean(&k.name, allowed.iter().copied())
                    ),
                );
            }
        }
        Some(entries)
    }

    pub fn str<'a>(&mut self, node: &'a YNode, what: &str) -> Option<&'a str> {
        match &node.value {
            YValue::Str(s) => Some(s),
            _ => {
                self.d.error(
                    node.pos,
                    format!("{what} must be text, found {}", node.kind_name()),
                );
                None
            }
        }
    }

    pub fn bool(&mut self, node: &YNode, what: &str) -> Option<bool> {
        match node.as_str().map(str::to_ascii_lowercase).as_deref() {
            Some("true") => Some(true),
            Some("false") => Some(false),
            _ => {
                self.d
                    .error(node.pos, format!("{what} must be true or false"));
                None
            }
        }
    }

    pub fn count(&mut self, node: &YNode, what: &str, min: u32, max: u32) -> Option<u32> {
        match node.as_str().and_then(|s| s.trim().parse::<u32>().ok()) {
            Some(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                self.d.error(
                    node.pos,
                    format!("{what} must be a whole number from {min} to {max}"),
                );
                None
            }
        }
    }

    pub fn duration(
        &mut self,
        node: &YNode,
        what: &str,
        min: Duration,
        max: Duration,
    ) -> Option<Duration> {
        let text = self.str(node, what)?;
        match parse_duration(text) {
            Ok(d) if d >= min && d <= max => Some(d),
            Ok(_) => {
                self.d.error(
                    node.pos,
                    format!(
                        "{what} \"{text}\" is out of range; use {} to {}",
                        show(min),
                        show(max)
                    ),
                );
                None
            }
            Err(e) => {
                self.d.error(node.pos, format!("{what}: {e}"));
                None
            }
        }
    }

    pub fn template(&mut self, node: &YNode, what: &str) -> Option<Template> {
        let text = match &node.value {
            YValue::Null => "",
            YValue::Str(s) => s.as_str(),
            _ => {
                self.d.error(
                    node.pos,
                    format!("{what} must be text, found {}", node.kind_name()),
                );
                return None;
            }
        };
        match Template::parse(text) {
            Ok(t) => {
                for name in t.vars() {
                    self.var_uses.push(VarUse {
                        name: name.to_string(),
                        pos: node.pos,
                    });
                }
                Some(t)
            }
            Err(e) => {
                self.d.error(node.pos, format!("{what}: {e}"));
                None
            }
        }
    }

    pub fn target(&mut self, node: &YNode, what: &str) -> Option<Target> {
        let name = self.str(node, what)?;
        Some(Target {
            name: name.to_string(),
            pos: node.pos,
            id: usize::MAX,
        })
    }

    /// A name a node assigns; `pos` is where it is written.
    pub fn settable_var(&mut self, name: &str, pos: Pos) -> bool {
        if !valid_var_name(name) {
            self.d.error(
                pos,
                format!(
                    "\"{name}\" is not a variable name; use letters, digits and _ \
                     (starting with a letter), e.g. order_number"
                ),
            );
            return false;
        }
        if CALL_VARS.contains(&name) {
            self.d.error(
                pos,
                format!("`{name}` is set by the call and cannot be assigned; choose another name"),
            );
            return false;
        }
        self.vars_set.push((name.to_string(), pos));
        true
    }

    pub fn voice(&mut self, node: &YNode) -> Option<Voice> {
        match node.as_str() {
            Some("zh") => Some(Voice::Zh),
            Some("en") => Some(Voice::En),
            _ => {
                self.d.error(
                    node.pos,
                    "language must be zh (Mandarin) or en (English)".to_string(),
                );
                None
            }
        }
    }

    /// A WAV file relative to the flow file; it must exist and be a readable WAV.
    pub fn wav(&mut self, node: &YNode, what: &str) -> Option<PathBuf> {
        let rel = self.str(node, what)?;
        let path = self.dir.join(rel);
        if !path.is_file() {
            self.d.error(
                node.pos,
                format!(
                    "{what}: file {} does not exist; paths are relative to the flow file's \
                     directory ({})",
                    path.display(),
                    shown_dir(&self.dir)
                ),
            );
            return None;
        }
        if let Err(e) = hound::WavReader::open(&path) {
            self.d.error(
                node.pos,
                format!("{what}: {} is not a readable WAV file ({e}); convert it, e.g. sox in.mp3 -r 8000 -c 1 out.wav", path.display()),
            );
            return None;
        }
        Some(path)
    }

    /// `"text"`, or a list of `text`, `{say: text, language: en}`, `{play: file.wav}`,
    /// `{beep: true}`.
    pub fn prompts(&mut self, node: &YNode, voice: Voice, what: &str) -> Vec<PromptItem> {
        let items: Vec<&YNode> = match &node.value {
            YValue::Seq(items) => items.iter().collect(),
            YValue::Null => Vec::new(),
            _ => vec![node],
        };
        let mut out = Vec::new();
        for item in items {
            if let YValue::Str(_) = item.value {
                if let Some(text) = self.template(item, what) {
                    out.push(PromptItem::Say { text, voice });
                }
                continue;
            }
            let Some(entries) = self.map(item, &["say", "language", "play", "beep"], what) else {
                continue;
            };
            let get = |k: &str| {
                entries
                    .iter()
                    .find(|(key, _)| key.name == k)
                    .map(|(_, v)| v)
            };
            let lang = get("language").and_then(|n| self.voice(n)).unwrap_or(voice);
            match (get("say"), get("play"), get("beep")) {
                (Some(s), None, None) => {
                    if let Some(text) = self.template(s, what) {
                        out.push(PromptItem::Say { text, voice: lang });
                    }
                }
                (None, Some(p), None) => {
                    if let Some(path) = self.wav(p, what) {
                        out.push(PromptItem::Play(path));
                    }
                }
                (None, None, Some(_)) => out.push(PromptItem::Beep),
                _ => self.d.error(
                    item.pos,
                    format!("each item of {what} is one of: say: TEXT, play: FILE.wav, beep: true"),
                ),
            }
        }
        out
    }

    /// One branch condition (see `ivr-flows/README.md`).
    pub fn cond(&mut self, node: &YNode, depth: usize) -> Option<Cond> {
        const KEYS: [&str; 20] = [
            "hours",
            "days",
            "holidays",
            "holiday",
            "caller_prefix",
            "caller_in",
            "var",
            "eq",
            "ne",
            "in",
            "prefix",
            "regex",
            "lt",
            "gt",
            "all",
            "any",
            "not",
            "always",
            "is_set",
            "empty",
        ];
        if depth > 16 {
            self.d.error(
                node.pos,
                "conditions are nested too deeply (more than 16 levels)",
            );
            return None;
        }
        let entries = self.map(node, &KEYS, "a condition")?;
        let get = |k: &str| {
            entries
                .iter()
                .find(|(key, _)| key.name == k)
                .map(|(_, v)| v)
        };
        let has = |ks: &[&str]| ks.iter().any(|k| get(k).is_some());
        let groups: [(&str, &[&str]); 8] = [
            ("hours/days", &["hours", "days", "holidays"]),
            ("holiday", &["holiday"]),
            ("caller_prefix", &["caller_prefix"]),
            ("caller_in", &["caller_in"]),
            (
                "var",
                &[
                    "var", "eq", "ne", "in", "prefix", "regex", "lt", "gt", "is_set", "empty",
                ],
            ),
            ("all", &["all"]),
            ("any", &["any"]),
            ("not", &["not"]),
        ];
        let present: Vec<&str> = groups
            .iter()
            .filter(|(_, ks)| has(ks))
            .map(|(n, _)| *n)
            .collect();
        if present.len() > 1 {
            self.d.error(
                node.pos,
                format!(
                    "a condition tests one thing, this one mixes {}; combine them with all: [...]",
                    present.join(" and ")
                ),
            );
            return None;
        }
        if let Some(v) = get("hours").or(get("days")) {
            let ranges = match get("hours") {
                Some(h) => {
                    let text = self.str(h, "hours")?;
                    match parse_time_ranges(text) {
                        Ok(r) => r,
                        Err(e) => {
                            self.d.error(h.pos, e);
                            return None;
                        }
                    }
                }
                None => parse_time_ranges("00:00-24:00").unwrap_or_default(),
            };
            let days = match get("days") {
                Some(dn) => {
                    let text = self.str(dn, "days")?;
                    match parse_days(text) {
                        Ok(d) => d,
                        Err(e) => {
                            self.d.error(dn.pos, e);
                            return None;
                        }
                    }
                }
                None => Days::ALL,
            };
            let holidays_open = match get("holidays") {
                None => false,
                Some(h) => match h.as_str() {
                    Some("closed") => false,
                    Some("open") => true,
                    _ => {
                        self.d
                            .error(h.pos, "holidays must be closed (the default) or open");
                        return None;
                    }
                },
            };
            let _ = v;
            return Some(Cond::Hours {
                ranges,
                days,
                holidays_open,
            });
        }
        if let Some(v) = get("holiday") {
            return Some(if self.bool(v, "holiday")? {
                Cond::Holiday
            } else {
                Cond::Not(Box::new(Cond::Holiday))
            });
        }
        if let Some(v) = get("caller_prefix") {
            return Some(Cond::CallerPrefix(self.str_list(v, "caller_prefix")?));
        }
        if let Some(v) = get("caller_in") {
            if let YValue::Str(name) = &v.value {
                return match self.lists.get(name) {
                    Some(list) => Some(Cond::CallerIn(list.clone())),
                    None => {
                        let names: Vec<&str> = self.lists.keys().map(String::as_str).collect();
                        self.d.error(
                            v.pos,
                            format!(
                                "caller_in names list \"{name}\", which is not under `lists:`; \
                                 lists are: {}{}",
                                if names.is_empty() {
                                    "(none)".to_string()
                                } else {
                                    names.join(", ")
                                },
                                did_you_mean(name, names.iter().copied())
                            ),
                        );
                        None
                    }
                };
            }
            return Some(Cond::CallerIn(self.str_list(v, "caller_in")?));
        }
        if let Some(v) = get("var") {
            return self.var_cond(v, &get);
        }
        for (key, is_all) in [("all", true), ("any", false)] {
            if let Some(v) = get(key) {
                let YValue::Seq(items) = &v.value else {
                    self.d
                        .error(v.pos, format!("{key} must be a list of conditions"));
                    return None;
                };
                let conds: Vec<Cond> = items
                    .iter()
                    .filter_map(|c| self.cond(c, depth + 1))
                    .collect();
                if conds.len() != items.len() {
                    return None;
                }
                return Some(if is_all {
                    Cond::All(conds)
                } else {
                    Cond::Any(conds)
                });
            }
        }
        if let Some(v) = get("not") {
            return Some(Cond::Not(Box::new(self.cond(v, depth + 1)?)));
        }
        if let Some(v) = get("always") {
            return Some(if self.bool(v, "always")? {
                Cond::All(vec![])
            } else {
                Cond::Any(vec![])
            });
        }
        if has(&[
            "eq", "ne", "in", "prefix", "regex", "lt", "gt", "is_set", "empty",
        ]) {
            self.d.error(
                node.pos,
                "a comparison needs `var: NAME` to say which variable it tests",
            );
        } else {
            self.d.error(
                node.pos,
                "empty condition; write e.g. {hours: \"09:00-21:00\"}, {caller_in: vips} or \
                 {var: status, eq: shipped}",
            );
        }
        None
    }

    fn var_cond<'a>(&mut self, v: &YNode, get: &dyn Fn(&str) -> Option<&'a YNode>) -> Option<Cond> {
        let name = self.str(v, "var")?.to_string();
        if !valid_var_name(&name) {
            self.d
                .error(v.pos, format!("\"{name}\" is not a variable name"));
            return None;
        }
        self.var_uses.push(VarUse {
            name: name.clone(),
            pos: v.pos,
        });
        let ops = [
            "eq", "ne", "in", "prefix", "regex", "lt", "gt", "is_set", "empty",
        ];
        let given: Vec<&str> = ops.iter().copied().filter(|k| get(k).is_some()).collect();
        if given.len() != 1 {
            self.d.error(
                v.pos,
                format!(
                    "a var condition needs exactly one comparison ({}); found {}",
                    ops.join(", "),
                    if given.is_empty() {
                        "none".to_string()
                    } else {
                        given.join(", ")
                    }
                ),
            );
            return None;
        }
        let op_node = get(given[0])?;
        let op = match given[0] {
            "eq" => VarOp::Eq(self.template(op_node, "eq")?),
            "ne" => VarOp::Ne(self.template(op_node, "ne")?),
            "prefix" => VarOp::Prefix(self.template(op_node, "prefix")?),
            "lt" => VarOp::Lt(self.template(op_node, "lt")?),
            "gt" => VarOp::Gt(self.template(op_node, "gt")?),
            "regex" => VarOp::Regex(self.regex(op_node, "regex", false)?),
            "in" => {
                let YValue::Seq(items) = &op_node.value else {
                    self.d.error(
                        op_node.pos,
                        "in must be a list, e.g. in: [shipped, delivered]",
                    );
                    return None;
                };
                let list: Vec<Template> = items
                    .iter()
                    .filter_map(|i| self.template(i, "in"))
                    .collect();
                if list.len() != items.len() {
                    return None;
                }
                VarOp::In(list)
            }
            // `is_set: true` and `empty: false` both mean "has a value".
            "is_set" | "empty" => {
                let b = self.bool(op_node, given[0])?;
                let wants_value = (given[0] == "is_set") == b;
                let eq_empty = Cond::Var {
                    name: name.clone(),
                    op: VarOp::Eq(Template::literal("")),
                };
                return Some(if wants_value {
                    Cond::Not(Box::new(eq_empty))
                } else {
                    eq_empty
                });
            }
            _ => return None,
        };
        Some(Cond::Var { name, op })
    }

    /// Text or a list of texts.
    pub fn str_list(&mut self, node: &YNode, what: &str) -> Option<Vec<String>> {
        match &node.value {
            YValue::Str(s) => Some(vec![s.clone()]),
            YValue::Seq(items) => {
                let out: Vec<String> = items
                    .iter()
                    .filter_map(|i| self.str(i, what).map(str::to_string))
                    .collect();
                (out.len() == items.len()).then_some(out)
            }
            _ => {
                self.d
                    .error(node.pos, format!("{what} must be text or a list of texts"));
                None
            }
        }
    }

    /// A regular expression; `whole` anchors it so it must match the entire value.
    pub fn regex(&mut self, node: &YNode, what: &str, whole: bool) -> Option<Regex> {
        let text = self.str(node, what)?;
        let src = if whole {
            format!("^(?:{text})$")
        } else {
            text.to_string()
        };
        match RegexBuilder::new(&src).size_limit(1 << 20).build() {
            Ok(re) => Some(re),
            Err(e) => {
                // The crate's message spans several lines with a caret diagram; keep the gist.
                let msg = e.to_string();
                let gist = msg
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("");
                let gist = gist.trim().trim_start_matches("error:");
                self.d.error(
                    node.pos,
                    format!(
                        "{what} \"{text}\" is not a valid regular expression: {}",
                        gist.trim()
                    ),
                );
                None
            }
        }
    }
}

fn show(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(60_000) && ms > 0 {
        format!("{}m", ms / 60_000)
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

fn shown_dir(dir: &Path) -> String {
    if dir.as_os_str().is_empty() {
        ".".to_string()
    } else {
        dir.display().to_string()
    }
}
