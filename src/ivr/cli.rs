//! `hotline flow check FILE…` and `hotline flow sim FILE`: the flow author's tools.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use clap::{Args, Subcommand};

use super::diag::{Diagnostic, Severity, did_you_mean};
use super::load_parts::BUILTIN_VARS;
use super::sim::{HttpPoster, SimOptions, WebhookPoster, run_sim};
use super::{Flow, load_flow};

#[derive(Debug, Subcommand)]
pub enum FlowCmd {
    /// Check flow files: schema, node references, unreachable nodes, missing WAV files,
    /// loops, durations, times and more; prints every problem as file:line:col and exits
    /// with status 1 if any is an error (warnings alone: 0).
    Check(FlowCheckArgs),
    /// Run a flow in the terminal: prints what the caller hears, reads keys from stdin
    /// (`1`, `12345#`, `!1` during a prompt, `wait`, `hangup`); see ivr-flows/README.md.
    Sim(FlowSimArgs),
}

#[derive(Debug, Clone, Args)]
pub struct FlowCheckArgs {
    /// Flow files; sub-flows are found among these and the other flows in their directories.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct FlowSimArgs {
    /// The flow file to run.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The caller's number; example: --from 13800138000
    #[arg(long, value_name = "NUMBER", default_value = "13800138000")]
    pub from: String,
    /// The number dialled; example: --to 4008001234
    #[arg(long, value_name = "NUMBER", default_value = "4008001234")]
    pub to: String,
    /// The wall-clock time of the call in the flow's time zone (default: now); example:
    /// --at "2026-11-23 20:30"
    #[arg(long, value_name = "YYYY-MM-DD HH:MM")]
    pub at: Option<String>,
    /// Do not POST webhooks; read each reply from stdin as one line of JSON, `error TEXT`
    /// or `timeout`.
    #[arg(long)]
    pub no_webhooks: bool,
    /// Override a flow variable; repeatable; example: --var orders_url=http://127.0.0.1:9000/lookup
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,
    /// Make transfers fail, to walk on_error branches.
    #[arg(long)]
    pub fail_transfers: bool,
}

fn parse_var(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("\"{s}\" is not NAME=VALUE; example: --var queue=vip"))?;
    if !super::template::valid_var_name(k) {
        return Err(format!("\"{k}\" is not a variable name"));
    }
    Ok((k.to_string(), v.to_string()))
}

pub fn run(cmd: FlowCmd) -> anyhow::Result<()> {
    match cmd {
        FlowCmd::Check(args) => {
            let report = check_files(&args.files);
            let mut err = io::stderr().lock();
            for d in &report.diagnostics {
                writeln!(err, "{d}")?;
            }
            let mut out = io::stdout().lock();
            for line in &report.ok {
                writeln!(out, "{line}")?;
            }
            let errors = report.errors();
            if errors > 0 {
                bail!(
                    "flow check found {errors} error{} (and {} warning{})",
                    plural(errors),
                    report.warnings(),
                    plural(report.warnings())
                );
            }
            Ok(())
        }
        FlowCmd::Sim(args) => sim(&args),
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// What `flow check` found.
#[derive(Debug, Default)]
pub struct CheckReport {
    /// Every problem, file by file in the order given, each in file order.
    pub diagnostics: Vec<Diagnostic>,
    /// One line per file without errors.
    pub ok: Vec<String>,
}

impl CheckReport {
    pub fn errors(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count()
    }

    pub fn warnings(&self) -> usize {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Warning)
            .count()
    }
}

/// Loads every flow in `dirs` that is not among `given`, quietly: they only serve to
/// resolve sub-flow names.
fn neighbours(given: &[PathBuf]) -> Vec<Flow> {
    let given_canon: BTreeSet<PathBuf> =
        given.iter().filter_map(|p| p.canonicalize().ok()).collect();
    let dirs: BTreeSet<PathBuf> = given
        .iter()
        .map(|p| p.parent().map(Path::to_path_buf).unwrap_or_default())
        .map(|d| {
            if d.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                d
            }
        })
        .collect();
    let mut out = Vec::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
            .filter(|p| p.canonicalize().is_ok_and(|c| !given_canon.contains(&c)))
            .collect();
        paths.sort();
        out.extend(paths.iter().filter_map(|p| load_flow(p).ok()));
    }
    out
}

/// `flow check`: loads each file, then checks sub-flow names and variables across them.
pub fn check_files(files: &[PathBuf]) -> CheckReport {
    let mut report = CheckReport::default();
    let mut loaded: Vec<(usize, Flow)> = Vec::new();
    let mut per_file: Vec<Vec<Diagnostic>> = vec![Vec::new(); files.len()];
    for (i, f) in files.iter().enumerate() {
        match load_flow(f) {
            Ok(flow) => {
                per_file[i] = flow.warnings().to_vec();
                loaded.push((i, flow));
            }
            Err(e) => per_file[i] = e.diagnostics,
        }
    }
    let others = neighbours(files);
    let all: Vec<&Flow> = loaded.iter().map(|(_, f)| f).chain(others.iter()).collect();
    let mut by_name: BTreeMap<&str, &Flow> = BTreeMap::new();
    for (i, flow) in &loaded {
        if let Some(first) = by_name.get(flow.name.as_str()) {
            per_file[*i].push(located(
                flow,
                Severity::Error,
                format!(
                    "flow name \"{}\" is also used by {}; each flow needs its own name",
                    flow.name,
                    first.path.display()
                ),
            ));
        } else {
            by_name.insert(&flow.name, flow);
        }
    }
    for f in &others {
        by_name.entry(&f.name).or_insert(f);
    }
    let names: Vec<&str> = by_name.keys().copied().collect();
    for (i, flow) in &loaded {
        for (sub, pos) in &flow.subflow_refs {
            if !by_name.contains_key(sub.as_str()) {
                per_file[*i].push(Diagnostic {
                    file: flow.path.clone(),
                    pos: *pos,
                    severity: Severity::Error,
                    message: format!(
                        "sub-flow \"{sub}\" is not among the files checked or in their directories; \
                         flows are: {}{}",
                        names.join(", "),
                        did_you_mean(sub, names.iter().copied())
                    ),
                    unknown_var: None,
                });
            }
        }
        // A variable set by a linked flow (caller or sub-flow, transitively) is known.
        let known = linked_vars(flow, &all);
        per_file[*i].retain(|d| d.unknown_var.as_ref().is_none_or(|v| !known.contains(v)));
    }
    for (i, mut diags) in per_file.into_iter().enumerate() {
        diags.sort_by_key(|d| (d.pos, d.severity));
        if !diags.iter().any(|d| d.severity == Severity::Error) {
            let flow = loaded.iter().find(|(j, _)| *j == i).map(|(_, f)| f);
            if let Some(flow) = flow {
                let warnings = diags.len();
                report.ok.push(format!(
                    "ok: {} (flow {}, {} node{}{})",
                    files[i].display(),
                    flow.name,
                    flow.nodes.len(),
                    plural(flow.nodes.len()),
                    if warnings > 0 {
                        format!(", {warnings} warning{}", plural(warnings))
                    } else {
                        String::new()
                    }
                ));
            }
        }
        report.diagnostics.extend(diags);
    }
    report
}

fn located(flow: &Flow, severity: Severity, message: String) -> Diagnostic {
    Diagnostic {
        file: flow.path.clone(),
        pos: flow.name_pos,
        severity,
        message,
        unknown_var: None,
    }
}

fn linked_vars(flow: &Flow, all: &[&Flow]) -> BTreeSet<String> {
    let mut seen: BTreeSet<&str> = BTreeSet::from([flow.name.as_str()]);
    let mut todo: VecDeque<&Flow> = VecDeque::from([flow]);
    let mut vars: BTreeSet<String> = BUILTIN_VARS.iter().map(|s| s.to_string()).collect();
    while let Some(f) = todo.pop_front() {
        vars.extend(f.vars_set.iter().cloned());
        vars.extend(f.vars.keys().cloned());
        for other in all {
            let linked =
                f.subflows().any(|s| s == other.name) || other.subflows().any(|s| s == f.name);
            if linked && seen.insert(other.name.as_str()) {
                todo.push_back(other);
            }
        }
    }
    vars
}

/// `--at "2026-11-23 20:30"` in the flow's zone, or now.
fn parse_at(at: Option<&str>, flow: &Flow) -> anyhow::Result<DateTime<Utc>> {
    let Some(text) = at else {
        return Ok(Utc::now());
    };
    let naive = NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%d %H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%d %H:%M:%S"))
        .with_context(|| format!("--at \"{text}\" is not a time; write \"YYYY-MM-DD HH:MM\", e.g. \"2026-11-23 20:30\""))?;
    let local = flow
        .timezone
        .from_local_datetime(&naive)
        .earliest()
        .with_context(|| {
            format!(
                "--at \"{text}\" does not exist in {} (a clock change skips it)",
                flow.timezone.name()
            )
        })?;
    Ok(local.with_timezone(&Utc))
}

fn sim(args: &FlowSimArgs) -> anyhow::Result<()> {
    let flow = match load_flow(&args.file) {
        Ok(f) => Arc::new(f),
        Err(e) => bail!(
            "{e}\nthe flow has errors; fix them first (hotline flow check {})",
            args.file.display()
        ),
    };
    let mut flows: BTreeMap<String, Arc<Flow>> = BTreeMap::new();
    for f in neighbours(std::slice::from_ref(&args.file)) {
        flows.entry(f.name.clone()).or_insert_with(|| Arc::new(f));
    }
    flows.insert(flow.name.clone(), flow.clone());
    let opts = SimOptions {
        caller: args.from.clone(),
        called: args.to.clone(),
        at: parse_at(args.at.as_deref(), &flow)?,
        vars: args.vars.clone(),
        fail_transfers: args.fail_transfers,
    };
    let stdin = io::stdin();
    let mut input = stdin.lock();
    let mut out = io::stdout().lock();
    let mut http = HttpPoster;
    let poster: Option<&mut dyn WebhookPoster> = if args.no_webhooks {
        None
    } else {
        Some(&mut http)
    };
    run_sim(flow, &flows, &opts, &mut input, &mut out, poster).context("writing the simulation")?;
    Ok(())
}
