//! Loading a flow file: YAML → checked [`Flow`]. Every problem in the file is reported
//! (not just the first), each with file:line:col and what to write instead.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use chrono_tz::Tz;

use super::Voice;
use super::check;
use super::diag::{Diags, FlowErrors};
use super::load_parts::Loader;
use super::model::{Flow, Gather, Node, NodeKind, Target};
use super::values::{parse_dates, parse_timezone};
use super::yaml::{self, Pos, YKey, YNode, YValue};

/// Reads and checks one flow file.
pub fn load_flow(path: &Path) -> Result<Flow, FlowErrors> {
    match std::fs::read_to_string(path) {
        Ok(src) => load_flow_str(&src, path),
        Err(e) => {
            let mut d = Diags::new(path);
            d.error(
                Pos::new(1, 1),
                format!("cannot read the flow file: {e}; check the path and its permissions"),
            );
            Err(FlowErrors {
                diagnostics: d.sorted(),
            })
        }
    }
}

/// Checks flow text as if read from `path` (WAV paths are relative to its directory).
pub fn load_flow_str(src: &str, path: &Path) -> Result<Flow, FlowErrors> {
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut l = Loader {
        d: Diags::new(path),
        dir,
        language: Voice::Zh,
        lists: BTreeMap::new(),
        var_uses: Vec::new(),
        vars_set: Vec::new(),
        declared_nodes: Vec::new(),
    };
    let root = match yaml::parse(src) {
        Ok(root) => root,
        Err(e) => {
            l.d.error(e.pos, e.message);
            return Err(FlowErrors {
                diagnostics: l.d.sorted(),
            });
        }
    };
    let flow = read_flow(&mut l, &root, path);
    match flow {
        Some((mut flow, start)) => {
            check::check(&mut l, &mut flow, start);
            if l.d.has_errors() {
                return Err(FlowErrors {
                    diagnostics: l.d.sorted(),
                });
            }
            flow.vars_set = l.vars_set.iter().map(|(n, _)| n.clone()).collect();
            flow.warnings = l.d.sorted();
            Ok(flow)
        }
        _ => {
            if !l.d.has_errors() {
                l.d.error(Pos::new(1, 1), "the flow could not be read");
            }
            Err(FlowErrors {
                diagnostics: l.d.sorted(),
            })
        }
    }
}

const TOP_KEYS: [&str; 10] = [
    "flow",
    "description",
    "language",
    "timezone",
    "start",
    "holidays",
    "workdays",
    "lists",
    "vars",
    "nodes",
];

fn read_flow(l: &mut Loader, root: &YNode, path: &Path) -> Option<(Flow, Target)> {
    if root.value == YValue::Null {
        l.d.error(
            root.pos,
            "the file is empty; a flow needs at least `flow: NAME`, `start: NODE` and `nodes:`",
        );
        return None;
    }
    let entries = l.map(root, &TOP_KEYS, "a flow file")?;
    let get = |k: &str| {
        entries
            .iter()
            .find(|(key, _)| key.name == k)
            .map(|(_, v)| v)
    };

    let name = match get("flow") {
        Some(n) => l.str(n, "flow").map(str::to_string).filter(|name| {
            let ok = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !ok {
                l.d.error(
                    n.pos,
                    format!(
                        "flow name \"{name}\" may hold only letters, digits, - and _ \
                         (config and sub-flows refer to it), e.g. ecommerce-zh"
                    ),
                );
            } else if path
                .file_stem()
                .is_some_and(|s| s.to_string_lossy() != name.as_str())
            {
                l.d.warn(
                    n.pos,
                    format!(
                        "flow \"{name}\" is in a file named differently; name the file \
                         {name}.yaml so people find it"
                    ),
                );
            }
            ok
        }),
        None => {
            l.d.error(
                root.pos,
                "missing `flow: NAME` (the name config and sub-flows use)",
            );
            None
        }
    };
    if let Some(v) = get("language") {
        l.language = l.voice(v).unwrap_or(Voice::Zh);
    }
    if let Some(v) = get("description") {
        l.str(v, "description");
    }
    let timezone = match get("timezone") {
        None => Tz::Asia__Shanghai,
        Some(v) => match l.str(v, "timezone").map(parse_timezone) {
            Some(Ok(tz)) => tz,
            Some(Err(e)) => {
                l.d.error(v.pos, e);
                Tz::Asia__Shanghai
            }
            None => Tz::Asia__Shanghai,
        },
    };
    let holidays = get("holidays")
        .map(|v| dates(l, v, "holidays"))
        .unwrap_or_default();
    let workdays = get("workdays")
        .map(|v| dates(l, v, "workdays"))
        .unwrap_or_default();
    if let Some(v) = get("lists") {
        match &v.value {
            YValue::Map(entries) => {
                for (k, list) in entries {
                    if let Some(items) = l.str_list(list, "a list of numbers") {
                        l.lists.insert(k.name.clone(), items);
                    }
                }
            }
            _ => {
                l.d.error(v.pos, "lists must be a mapping of name: [numbers]")
            }
        }
    }
    let mut vars = BTreeMap::new();
    if let Some(v) = get("vars") {
        match &v.value {
            YValue::Map(entries) => {
                for (k, val) in entries {
                    if !l.settable_var(&k.name, k.pos) {
                        continue;
                    }
                    let text = match &val.value {
                        YValue::Null => String::new(),
                        YValue::Str(s) => s.clone(),
                        _ => {
                            l.d.error(val.pos, format!("var `{}` must be text", k.name));
                            continue;
                        }
                    };
                    vars.insert(k.name.clone(), text);
                }
            }
            YValue::Null => {}
            _ => l.d.error(v.pos, "vars must be a mapping of name: value"),
        }
    }

    let mut nodes = Vec::new();
    match get("nodes") {
        Some(v) => match &v.value {
            YValue::Map(entries) if !entries.is_empty() => {
                l.declared_nodes = entries.iter().map(|(k, _)| k.name.clone()).collect();
                for (k, n) in entries {
                    if let Some(node) = read_node(l, k, n) {
                        nodes.push(node);
                    }
                }
            }
            _ => l.d.error(
                v.pos,
                "nodes must be a mapping of node name → node, and not empty",
            ),
        },
        None => {
            l.d.error(root.pos, "missing `nodes:` (the steps of the flow)")
        }
    }
    let start = match get("start") {
        Some(v) => l.target(v, "start"),
        None => {
            l.d.error(
                root.pos,
                "missing `start: NODE` (the node each call begins with)",
            );
            None
        }
    };
    let flow = Flow {
        name: name?,
        path: path.to_path_buf(),
        language: l.language,
        timezone,
        start: usize::MAX,
        name_pos: get("flow").map(|v| v.pos).unwrap_or(root.pos),
        holidays,
        workdays,
        vars,
        nodes,
        warnings: Vec::new(),
        subflow_refs: Vec::new(),
        vars_set: BTreeSet::new(),
    };
    Some((flow, start?))
}

fn dates(l: &mut Loader, v: &YNode, what: &str) -> BTreeSet<chrono::NaiveDate> {
    let mut out = BTreeSet::new();
    let YValue::Seq(items) = &v.value else {
        l.d.error(
            v.pos,
            format!("{what} must be a list of dates, e.g. [2026-10-01, 2026-10-02..2026-10-07]"),
        );
        return out;
    };
    for item in items {
        if let Some(text) = l.str(item, what) {
            match parse_dates(text) {
                Ok(ds) => out.extend(ds),
                Err(e) => l.d.error(item.pos, e),
            }
        }
    }
    out
}

const KINDS: [&str; 12] = [
    "say",
    "play",
    "gather",
    "condition",
    "set",
    "goto",
    "subflow",
    "webhook",
    "record",
    "transfer",
    "enqueue",
    "hangup",
];

/// The keys a node of each kind may have: its kind key, routing and `note` (a comment
/// for people that the interpreter ignores).
fn allowed_keys(kind: &str) -> &'static [&'static str] {
    match kind {
        "say" => &["say", "language", "interruptible", "next", "note"],
        "play" => &["play", "interruptible", "next", "note"],
        "gather" => &["gather", "menu", "next", "on_failure", "note"],
        "condition" => &["condition", "next", "note"],
        "set" => &["set", "next", "note"],
        "goto" => &["goto", "note"],
        "subflow" => &["subflow", "return", "next", "note"],
        "webhook" => &["webhook", "next", "on_error", "note"],
        "record" => &["record", "next", "note"],
        "transfer" => &["transfer", "next", "on_error", "note"],
        "enqueue" => &["enqueue", "next", "fallback", "note"],
        _ => &["hangup", "note"],
    }
}

const GATHER_KEYS: [&str; 11] = [
    "prompt",
    "no_input",
    "invalid",
    "min_digits",
    "max_digits",
    "terminator",
    "first_digit_timeout",
    "inter_digit_timeout",
    "retries",
    "pattern",
    "into",
];

const MS: Duration = Duration::from_millis(1);
const SEC: Duration = Duration::from_secs(1);
const MIN: Duration = Duration::from_secs(60);

fn empty_map() -> YNode {
    YNode {
        pos: Pos::default(),
        value: YValue::Map(Vec::new()),
    }
}

fn read_node(l: &mut Loader, key: &YKey, n: &YNode) -> Option<Node> {
    let name = key.name.as_str();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
    {
        l.d.error(
            key.pos,
            format!("node name \"{name}\" may hold only letters, digits, - and _"),
        );
    }
    let YValue::Map(entries) = &n.value else {
        l.d.error(
            n.pos,
            format!(
                "node \"{name}\" must be a mapping with one of: {}; found {}",
                KINDS.join(", "),
                n.kind_name()
            ),
        );
        return None;
    };
    let kinds: Vec<&YKey> = entries
        .iter()
        .map(|(k, _)| k)
        .filter(|k| KINDS.contains(&k.name.as_str()))
        .collect();
    let kind = match kinds.as_slice() {
        [k] => k.name.clone(),
        [] => {
            let hint = entries
                .iter()
                .map(|(k, _)| super::diag::did_you_mean(&k.name, KINDS))
                .find(|h| !h.is_empty())
                .unwrap_or_default();
            l.d.error(
                key.pos,
                format!(
                    "node \"{name}\" does not say what it does; give it one of: {}{hint}",
                    KINDS.join(", ")
                ),
            );
            return None;
        }
        [_, second, ..] => {
            l.d.error(
                second.pos,
                format!(
                    "node \"{name}\" has both `{}` and `{}`; a node does one thing: split it \
                     into two nodes linked by next",
                    kinds[0].name, second.name
                ),
            );
            return None;
        }
    };
    let what = format!("node \"{name}\"");
    let entries = l.map(n, allowed_keys(&kind), &what)?;
    let get = |k: &str| {
        entries
            .iter()
            .find(|(key, _)| key.name == k)
            .map(|(_, v)| v)
    };
    let mut next = get("next").and_then(|v| l.target(v, "next"));
    let value = get(&kind)?;
    let interruptible = get("interruptible")
        .and_then(|v| l.bool(v, "interruptible"))
        .unwrap_or(false);
    let kind = match kind.as_str() {
        "say" => {
            let voice = match get("language") {
                Some(v) => l.voice(v)?,
                None => l.language,
            };
            NodeKind::Say {
                text: l.template(value, "say")?,
                voice,
                interruptible,
            }
        }
        "play" => NodeKind::Play {
            file: l.wav(value, "play")?,
            interruptible,
        },
        "gather" => NodeKind::Gather(Box::new(read_gather(
            l,
            name,
            value,
            get("menu"),
            get("on_failure"),
        )?)),
        "condition" => read_condition(l, name, value)?,
        "set" => {
            let YValue::Map(pairs) = &value.value else {
                l.d.error(value.pos, "set must be a mapping of variable: value");
                return None;
            };
            let mut out = Vec::new();
            for (k, v) in pairs {
                if l.settable_var(&k.name, k.pos)
                    && let Some(t) = l.template(v, "set")
                {
                    out.push((k.name.clone(), t));
                }
            }
            NodeKind::Set(out)
        }
        "goto" => {
            next = Some(l.target(value, "goto")?);
            NodeKind::Goto
        }
        "subflow" => {
            let flow = l.str(value, "subflow")?.to_string();
            if let Some(r) = get("return") {
                if next.is_some() {
                    l.d.error(
                        r.pos,
                        "give a sub-flow node either return or next, not both (they mean the same)",
                    );
                }
                next = l.target(r, "return");
            }
            NodeKind::Subflow {
                flow,
                pos: value.pos,
            }
        }
        "webhook" => read_webhook(l, name, value, get("on_error"))?,
        "record" => {
            let value = if value.value == YValue::Null {
                &empty_map()
            } else {
                value
            };
            let m = l.map(value, &["beep", "max", "silence", "end_on_hash"], "record")?;
            let g = |k: &str| m.iter().find(|(key, _)| key.name == k).map(|(_, v)| v);
            NodeKind::Record {
                beep: g("beep").and_then(|v| l.bool(v, "beep")).unwrap_or(true),
                max: g("max")
                    .and_then(|v| l.duration(v, "max", SEC, 60 * MIN))
                    .unwrap_or(2 * MIN),
                silence: g("silence")
                    .and_then(|v| l.duration(v, "silence", Duration::ZERO, MIN))
                    .unwrap_or(5 * SEC),
                end_on_hash: g("end_on_hash")
                    .and_then(|v| l.bool(v, "end_on_hash"))
                    .unwrap_or(true),
            }
        }
        "transfer" => {
            let (to, trunk) = match &value.value {
                YValue::Map(_) => {
                    let m = l.map(value, &["to", "trunk"], "transfer")?;
                    let g = |k: &str| m.iter().find(|(key, _)| key.name == k).map(|(_, v)| v);
                    let Some(to) = g("to") else {
                        l.d.error(value.pos, "transfer needs `to:` (a SIP URI or number)");
                        return None;
                    };
                    let trunk = g("trunk")
                        .and_then(|v| l.str(v, "trunk"))
                        .map(str::to_string);
                    (to, trunk)
                }
                _ => (value, None),
            };
            let t = l.template(to, "transfer to")?;
            if let Some(c) = t.as_constant()
                && !(c.starts_with("sip:")
                    || c.starts_with("sips:")
                    || c.starts_with("tel:")
                    || (!c.is_empty() && c.chars().all(|ch| ch.is_ascii_digit() || ch == '+')))
            {
                l.d.error(
                    to.pos,
                    format!("transfer to \"{c}\" is not a SIP URI or number; write e.g. sip:1001@pbx.example.com or 4008001234"),
                );
            }
            NodeKind::Transfer {
                to: t,
                trunk,
                on_error: get("on_error").and_then(|v| l.target(v, "on_error")),
            }
        }
        "enqueue" => {
            let mut fallback = get("fallback").and_then(|v| l.target(v, "fallback"));
            let queue = match &value.value {
                YValue::Map(_) => {
                    let m = l.map(value, &["queue", "fallback"], "enqueue")?;
                    let g = |k: &str| m.iter().find(|(key, _)| key.name == k).map(|(_, v)| v);
                    if let Some(f) = g("fallback") {
                        if fallback.is_some() {
                            l.d.error(
                                f.pos,
                                "fallback is given twice (in enqueue and on the node); keep one",
                            );
                        }
                        fallback = l.target(f, "fallback");
                    }
                    let Some(q) = g("queue") else {
                        l.d.error(value.pos, "enqueue needs `queue:` (the ACD queue name)");
                        return None;
                    };
                    q
                }
                _ => value,
            };
            NodeKind::Enqueue {
                queue: l.template(queue, "queue")?,
                fallback,
            }
        }
        _ => {
            let cause = match &value.value {
                YValue::Null => "normal".to_string(),
                _ => l.str(value, "hangup cause")?.to_string(),
            };
            NodeKind::Hangup { cause }
        }
    };
    Some(Node {
        name: name.to_string(),
        pos: key.pos,
        kind,
        next,
    })
}

fn read_gather(
    l: &mut Loader,
    name: &str,
    value: &YNode,
    menu: Option<&YNode>,
    on_failure: Option<&YNode>,
) -> Option<Gather> {
    let value = if value.value == YValue::Null {
        &empty_map()
    } else {
        value
    };
    let m = l.map(
        value,
        &GATHER_KEYS,
        &format!("the gather of node \"{name}\""),
    )?;
    let g = |k: &str| m.iter().find(|(key, _)| key.name == k).map(|(_, v)| v);
    let voice = l.language;
    let prompt = g("prompt")
        .map(|v| l.prompts(v, voice, "prompt"))
        .unwrap_or_default();
    let no_input = g("no_input")
        .map(|v| l.prompts(v, voice, "no_input"))
        .unwrap_or_default();
    let invalid = g("invalid")
        .map(|v| l.prompts(v, voice, "invalid"))
        .unwrap_or_default();
    let terminator = match g("terminator") {
        None => Some('#'),
        Some(v) => match &v.value {
            YValue::Null => None,
            YValue::Str(s) if s == "none" => None,
            YValue::Str(s) if s == "#" || s == "*" => s.chars().next(),
            _ => {
                l.d.error(
                    v.pos,
                    "terminator must be \"#\" (the default), \"*\" or none",
                );
                None
            }
        },
    };
    let mut routes: Vec<(String, Target)> = Vec::new();
    let mut key_pos: Vec<Pos> = Vec::new();
    let mut longest_key = 0usize;
    if let Some(menu) = menu {
        match &menu.value {
            YValue::Map(entries) if !entries.is_empty() => {
                for (k, v) in entries {
                    if k.name.is_empty()
                        || !k
                            .name
                            .chars()
                            .all(|c| c.is_ascii_digit() || c == '*' || c == '#')
                    {
                        l.d.error(
                            k.pos,
                            format!("menu key \"{}\" is not keypad input; use digits 0-9, * and #, e.g. \"1\"", k.name),
                        );
                        continue;
                    }
                    if let Some(t) = terminator
                        && k.name.contains(t)
                    {
                        l.d.error(
                            k.pos,
                            format!("menu key \"{}\" contains the terminator {t}, which ends input instead; set `terminator: none` or pick another key", k.name),
                        );
                    }
                    longest_key = longest_key.max(k.name.chars().count());
                    if let Some(t) = l.target(v, "menu") {
                        routes.push((k.name.clone(), t));
                        key_pos.push(k.pos);
                    }
                }
            }
            _ => l.d.error(
                menu.pos,
                "menu must map keys to nodes, e.g. { \"1\": order, \"0\": agent }",
            ),
        }
    }
    let min_digits = g("min_digits")
        .and_then(|v| l.count(v, "min_digits", 1, 64))
        .unwrap_or(1);
    let max_digits = match g("max_digits") {
        Some(v) => l.count(v, "max_digits", 1, 64).unwrap_or(64),
        None if longest_key > 0 => u32::try_from(longest_key).unwrap_or(64),
        None => 20,
    };
    if max_digits < min_digits
        && let Some(v) = g("max_digits").or(g("min_digits"))
    {
        l.d.error(v.pos, format!("max_digits {max_digits} is less than min_digits {min_digits}; raise max_digits or lower min_digits"));
    }
    for ((key, _), pos) in routes.iter().zip(&key_pos) {
        let len = u32::try_from(key.chars().count()).unwrap_or(u32::MAX);
        if len > max_digits {
            l.d.error(*pos, format!("menu key \"{key}\" has {len} digits but max_digits is {max_digits}; it can never be entered"));
        }
    }
    let into = match g("into") {
        Some(v) => {
            let s = l.str(v, "into")?.to_string();
            if !l.settable_var(&s, v.pos) {
                return None;
            }
            s
        }
        None => "digits".to_string(),
    };
    Some(Gather {
        prompt,
        no_input,
        invalid,
        min_digits: min_digits as usize,
        max_digits: max_digits as usize,
        terminator,
        first_digit_timeout: g("first_digit_timeout")
            .and_then(|v| l.duration(v, "first_digit_timeout", 100 * MS, 10 * MIN))
            .unwrap_or(5 * SEC),
        inter_digit_timeout: g("inter_digit_timeout")
            .and_then(|v| l.duration(v, "inter_digit_timeout", 100 * MS, 10 * MIN))
            .unwrap_or(3 * SEC),
        retries: g("retries")
            .and_then(|v| l.count(v, "retries", 0, 10))
            .unwrap_or(2),
        pattern: g("pattern").and_then(|v| l.regex(v, "pattern", true)),
        into,
        menu: routes,
        on_failure: on_failure.and_then(|v| l.target(v, "on_failure")),
    })
}

fn read_condition(l: &mut Loader, name: &str, value: &YNode) -> Option<NodeKind> {
    let YValue::Seq(items) = &value.value else {
        l.d.error(
            value.pos,
            format!("the condition of node \"{name}\" must be a list of branches: - if: ... goto: NODE, ending with - else: NODE"),
        );
        return None;
    };
    let mut branches = Vec::new();
    let mut otherwise: Option<Target> = None;
    for item in items {
        let Some(m) = l.map(item, &["if", "goto", "else"], "a condition branch") else {
            continue;
        };
        let g = |k: &str| m.iter().find(|(key, _)| key.name == k).map(|(_, v)| v);
        if let Some(other) = &otherwise {
            l.d.error(
                item.pos,
                format!(
                    "this branch comes after `else: {}` and is never tried; move else to the end",
                    other.name
                ),
            );
            continue;
        }
        match (g("if"), g("goto"), g("else")) {
            (Some(c), Some(t), None) => {
                if let (Some(c), Some(t)) = (l.cond(c, 0), l.target(t, "goto")) {
                    branches.push((c, t));
                }
            }
            (None, None, Some(e)) => otherwise = l.target(e, "else"),
            (Some(_), None, None) => {
                l.d.error(item.pos, "this branch has `if` but no `goto: NODE`")
            }
            _ => l.d.error(
                item.pos,
                "a branch is either `- if: CONDITION` with `goto: NODE`, or `- else: NODE`",
            ),
        }
    }
    Some(NodeKind::Condition {
        branches,
        otherwise,
    })
}

fn read_webhook(
    l: &mut Loader,
    name: &str,
    value: &YNode,
    on_error: Option<&YNode>,
) -> Option<NodeKind> {
    let (url_node, timeout, may_goto) = match &value.value {
        YValue::Map(_) => {
            let m = l.map(
                value,
                &["url", "timeout", "sets", "may_goto"],
                &format!("the webhook of node \"{name}\""),
            )?;
            let g = |k: &str| m.iter().find(|(key, _)| key.name == k).map(|(_, v)| v);
            let Some(url) = g("url") else {
                l.d.error(
                    value.pos,
                    "webhook needs `url:` (where to POST the call as JSON)",
                );
                return None;
            };
            let timeout = g("timeout")
                .and_then(|v| l.duration(v, "timeout", 100 * MS, MIN))
                .unwrap_or(3 * SEC);
            if let Some(sets) = g("sets")
                && let Some(names) = l.str_list(sets, "sets")
            {
                for n in names {
                    l.settable_var(&n, sets.pos);
                }
            }
            let mut may_goto = Vec::new();
            if let Some(v) = g("may_goto") {
                match &v.value {
                    YValue::Seq(items) => {
                        may_goto.extend(items.iter().filter_map(|i| l.target(i, "may_goto")))
                    }
                    _ => may_goto.extend(l.target(v, "may_goto")),
                }
            }
            (url, timeout, may_goto)
        }
        _ => (value, 3 * SEC, Vec::new()),
    };
    let url = l.template(url_node, "url")?;
    let text = url_node.as_str().unwrap_or("");
    if !text.starts_with("{{") && !text.starts_with("http://") && !text.starts_with("https://") {
        l.d.error(url_node.pos, format!("webhook url \"{text}\" must start with http:// or https:// (or be a {{{{variable}}}} holding one)"));
    }
    Some(NodeKind::Webhook {
        url,
        timeout,
        on_error: on_error.and_then(|v| l.target(v, "on_error")),
        may_goto,
    })
}
