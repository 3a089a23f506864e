//! Whole-flow checks once every node is read: node references resolve (with the list of
//! nodes and a suggestion), every node is reachable, no loop spins without waiting for the
//! caller, and every variable read is set somewhere.

use std::collections::{BTreeSet, VecDeque};

use super::diag::did_you_mean;
use super::load_parts::{BUILTIN_VARS, Loader};
use super::model::{Flow, Node, NodeId, NodeKind, Target};

pub(crate) fn check(l: &mut Loader, flow: &mut Flow, mut start: Target) {
    // Graph checks on a partly loaded flow would report nonsense; references still help.
    let complete = !l.d.has_errors();
    let declared = std::mem::take(&mut l.declared_nodes);
    let names: Vec<String> = flow.nodes.iter().map(|n| n.name.clone()).collect();
    let listed = names.join(", ");
    let resolve = |l: &mut Loader, desc: String, t: &mut Target| match names
        .iter()
        .position(|n| *n == t.name)
    {
        Some(id) => t.id = id,
        // The node exists but has errors of its own, already reported.
        None if declared.contains(&t.name) => {}
        None => l.d.error(
            t.pos,
            format!(
                "{desc}, which does not exist; nodes are: {listed}{}",
                did_you_mean(&t.name, names.iter().map(String::as_str))
            ),
        ),
    };
    resolve(l, format!("start node is \"{}\"", start.name), &mut start);
    flow.start = start.id;
    for node in &mut flow.nodes {
        for (desc, t) in refs_mut(node) {
            resolve(l, desc, t);
        }
        if let NodeKind::Subflow { flow: sub, pos } = &node.kind {
            if *sub == flow.name {
                l.d.error(
                    *pos,
                    format!(
                        "node \"{}\" calls its own flow as a sub-flow; use goto instead",
                        node.name
                    ),
                );
            }
            flow.subflow_refs.push((sub.clone(), *pos));
        }
    }
    if !complete || l.d.has_errors() {
        return;
    }
    reachability(l, flow);
    loops(l, flow);
    unknown_vars(l, flow);
}

/// Every node reference of a node, with how to describe it in a message.
fn refs_mut(node: &mut Node) -> Vec<(String, &mut Target)> {
    let n = node.name.clone();
    let mut out: Vec<(String, &mut Target)> = Vec::new();
    let next_word = match node.kind {
        NodeKind::Goto => "goes to",
        NodeKind::Subflow { .. } => "returns to",
        _ => "goes next to",
    };
    if let Some(t) = node.next.as_mut() {
        out.push((format!("node \"{n}\" {next_word} \"{}\"", t.name), t));
    }
    match &mut node.kind {
        NodeKind::Gather(g) => {
            for (key, t) in &mut g.menu {
                out.push((
                    format!("node \"{n}\" routes \"{key}\" to \"{}\"", t.name),
                    t,
                ));
            }
            if let Some(t) = g.on_failure.as_mut() {
                out.push((format!("node \"{n}\" goes on failure to \"{}\"", t.name), t));
            }
        }
        NodeKind::Condition {
            branches,
            otherwise,
        } => {
            for (i, (_, t)) in branches.iter_mut().enumerate() {
                out.push((
                    format!("node \"{n}\" branch {} goes to \"{}\"", i + 1, t.name),
                    t,
                ));
            }
            if let Some(t) = otherwise.as_mut() {
                out.push((format!("node \"{n}\" goes else to \"{}\"", t.name), t));
            }
        }
        NodeKind::Webhook {
            on_error, may_goto, ..
        } => {
            if let Some(t) = on_error.as_mut() {
                out.push((format!("node \"{n}\" goes on error to \"{}\"", t.name), t));
            }
            for t in may_goto {
                out.push((format!("node \"{n}\" lists \"{}\" in may_goto", t.name), t));
            }
        }
        NodeKind::Transfer { on_error, .. } => {
            if let Some(t) = on_error.as_mut() {
                out.push((format!("node \"{n}\" goes on error to \"{}\"", t.name), t));
            }
        }
        NodeKind::Enqueue { fallback, .. } => {
            if let Some(t) = fallback.as_mut() {
                out.push((format!("node \"{n}\" falls back to \"{}\"", t.name), t));
            }
        }
        _ => {}
    }
    out
}

/// The nodes a node can lead to.
pub(crate) fn successors(node: &Node) -> Vec<NodeId> {
    let mut out: Vec<NodeId> = node.next.iter().map(|t| t.id).collect();
    match &node.kind {
        NodeKind::Gather(g) => {
            out.extend(g.menu.iter().map(|(_, t)| t.id));
            out.extend(g.on_failure.iter().map(|t| t.id));
        }
        NodeKind::Condition {
            branches,
            otherwise,
        } => {
            out.extend(branches.iter().map(|(_, t)| t.id));
            out.extend(otherwise.iter().map(|t| t.id));
        }
        NodeKind::Webhook {
            on_error, may_goto, ..
        } => {
            out.extend(on_error.iter().map(|t| t.id));
            out.extend(may_goto.iter().map(|t| t.id));
        }
        NodeKind::Transfer { on_error, .. } => out.extend(on_error.iter().map(|t| t.id)),
        NodeKind::Enqueue { fallback, .. } => out.extend(fallback.iter().map(|t| t.id)),
        _ => {}
    }
    out
}

fn reachability(l: &mut Loader, flow: &Flow) {
    let mut seen = vec![false; flow.nodes.len()];
    let mut todo = VecDeque::from([flow.start]);
    while let Some(i) = todo.pop_front() {
        if i >= seen.len() || seen[i] {
            continue;
        }
        seen[i] = true;
        todo.extend(successors(&flow.nodes[i]));
    }
    let start = &flow.nodes[flow.start].name;
    for (node, reached) in flow.nodes.iter().zip(&seen) {
        if !reached {
            l.d.warn(
                node.pos,
                format!(
                    "node \"{}\" is never reached from start node \"{start}\"; link it from \
                     another node (or a webhook's may_goto) or remove it",
                    node.name
                ),
            );
        }
    }
}

/// Cycles among nodes that never wait (set, goto, condition) run without pause: with no
/// way out they spin forever; with one, only a condition changing mid-loop ends them.
fn loops(l: &mut Loader, flow: &Flow) {
    let n = flow.nodes.len();
    let instant: Vec<bool> = flow.nodes.iter().map(|x| !x.kind.waits()).collect();
    // reach[u][v]: v is reachable from u through at least one edge between instant nodes.
    let mut reach = vec![vec![false; n]; n];
    for (u, row) in reach.iter_mut().enumerate() {
        if !instant[u] {
            continue;
        }
        let mut todo: Vec<NodeId> = successors(&flow.nodes[u]);
        while let Some(v) = todo.pop() {
            if v >= n || !instant[v] || row[v] {
                continue;
            }
            row[v] = true;
            todo.extend(successors(&flow.nodes[v]));
        }
    }
    let mut reported = vec![false; n];
    for u in 0..n {
        if !instant[u] || !reach[u][u] || reported[u] {
            continue;
        }
        let members: Vec<NodeId> = (0..n).filter(|&v| reach[u][v] && reach[v][u]).collect();
        let set: BTreeSet<NodeId> = members.iter().copied().collect();
        for &m in &members {
            reported[m] = true;
        }
        let has_exit = members
            .iter()
            .any(|&m| successors(&flow.nodes[m]).iter().any(|s| !set.contains(s)));
        let names: Vec<String> = members
            .iter()
            .map(|&m| format!("\"{}\"", flow.nodes[m].name))
            .collect();
        let what = if names.len() == 1 {
            format!("node {} leads back to itself", names[0])
        } else {
            format!("nodes {} form a loop", names.join(", "))
        };
        let pos = flow.nodes[members[0]].pos;
        if has_exit {
            l.d.warn(
                pos,
                format!(
                    "{what} that never waits for the caller; it ends only if a condition in it \
                     changes while it runs, otherwise the call is hung up as a flow loop"
                ),
            );
        } else {
            l.d.error(
                pos,
                format!(
                    "{what} that never waits for the caller and has no way out: the call would \
                     spin forever; route one of them to a say, gather or hangup node"
                ),
            );
        }
    }
}

fn unknown_vars(l: &mut Loader, flow: &Flow) {
    let mut known: BTreeSet<&str> = BUILTIN_VARS.iter().copied().collect();
    known.extend(flow.vars.keys().map(String::as_str));
    let set: Vec<String> = l.vars_set.iter().map(|(n, _)| n.clone()).collect();
    known.extend(set.iter().map(String::as_str));
    let uses = std::mem::take(&mut l.var_uses);
    for u in &uses {
        if known.contains(u.name.as_str()) {
            continue;
        }
        l.d.warn_unknown_var(
            u.pos,
            &u.name,
            format!(
                "variable `{}` is never set in this flow, so it reads as empty text{}; set it \
                 in vars:, a set node, a gather's into or a webhook's sets",
                u.name,
                did_you_mean(&u.name, known.iter().copied())
            ),
        );
    }
    l.var_uses = uses;
}
