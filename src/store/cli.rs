//! `hotline calls list`: recent CDRs as a table for people (caller numbers and long keyed
//! inputs masked) or as JSON lines for programs.

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use clap::Args;

use super::cdr::{CallRecord, ListQuery};
use super::db::Store;
use super::since::TimeSpec;
use crate::cli::ServeArgs;
use crate::sip::endpoint::mask;

/// Which calls to list and how to print them.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct CallsListArgs {
    /// Print one JSON object per line (full numbers, RFC 3339 UTC times) instead of a table.
    #[arg(long)]
    pub json: bool,

    /// Only calls started at or after TIME: a span back from now (30m, 1h, 2d; units s, m,
    /// h, d, w), an RFC 3339 time (2025-06-01T16:00:00+08:00) or a date (2025-06-01, UTC).
    #[arg(long, value_name = "TIME")]
    pub since: Option<TimeSpec>,

    /// Only calls started before TIME (same forms as --since).
    #[arg(long, value_name = "TIME")]
    pub until: Option<TimeSpec>,

    /// At most N calls, newest first.
    #[arg(long, value_name = "N", default_value_t = 50,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub limit: u32,

    /// Only calls of this tenant.
    #[arg(long, value_name = "TENANT")]
    pub tenant: Option<String>,

    /// Only calls from or to this number (exact), e.g. --number 4008001234.
    #[arg(long, value_name = "NUMBER")]
    pub number: Option<String>,

    /// Only calls answered by this IVR flow, e.g. --flow ecommerce-zh.
    #[arg(long, value_name = "FLOW")]
    pub flow: Option<String>,

    /// Show callers' numbers and keyed digits in full in the table (masked by default).
    #[arg(long)]
    pub full_numbers: bool,

    /// Configuration file whose data_dir holds the database; default ./hotline.toml if it
    /// exists.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Directory holding hotline.db, overriding the config's data_dir; default ./var.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Database to read, overriding the config's database (as `serve --database`):
    /// sqlite://PATH or postgres://USER:PASSWORD@HOST/DB; default DATA_DIR/hotline.db.
    #[arg(long, value_name = "URL", env = "HOTLINE_DATABASE_URL",
          value_parser = crate::config::parse_database)]
    pub database: Option<String>,
}

/// Runs `hotline calls list`, printing to stdout.
pub async fn calls_list(args: CallsListArgs) -> anyhow::Result<()> {
    let text = calls_list_text(&args, Utc::now()).await?;
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        // `hotline calls list | head` closes the pipe early: that is not an error.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// What [`calls_list`] prints, given the clock.
pub async fn calls_list_text(args: &CallsListArgs, now: DateTime<Utc>) -> anyhow::Result<String> {
    let cfg = crate::config::load(&ServeArgs {
        config: args.config.clone(),
        data_dir: args.data_dir.clone(),
        database: args.database.clone(),
        ..ServeArgs::default()
    })?;
    let location = Store::configured_location(&cfg);
    // Listing must not create an empty database somewhere unexpected.
    if let Some(file) = Store::sqlite_file(&location)
        && !file.is_file()
    {
        bail!(
            "no call database at {}: run `hotline serve` there once to create it, or point \
             --data-dir, --config or --database at the node's database",
            file.display()
        );
    }
    let store = Store::open(&location).await?;
    let query = ListQuery {
        since: args.since.map(|s| s.resolve(now)),
        until: args.until.map(|s| s.resolve(now)),
        limit: args.limit,
        tenant: args.tenant.clone(),
        number: args.number.clone(),
        flow: args.flow.clone(),
    };
    let calls = store
        .list_calls(&query)
        .await
        .with_context(|| format!("cannot list calls from {}", store.location()));
    store.close().await;
    let calls = calls?;
    Ok(if args.json {
        json_lines(&calls)?
    } else {
        table(&calls, args.full_numbers)
    })
}

/// One JSON object per call, one per line.
pub fn json_lines(calls: &[CallRecord]) -> serde_json::Result<String> {
    let mut s = String::new();
    for c in calls {
        s.push_str(&serde_json::to_string(c)?);
        s.push('\n');
    }
    Ok(s)
}

const HEADERS: [&str; 16] = [
    "STARTED (UTC)",
    "TENANT",
    "FROM",
    "TO",
    "STATE",
    "DUR",
    "BILL",
    "CODEC",
    "MOS",
    "LOSS%",
    "DIGITS",
    "HANGUP",
    "FLOW",
    "VOICEMAIL",
    "CALL ID",
    // Last: the longest cell, and nothing after it needs aligning.
    "IVR PATH",
];

/// An aligned table, or a line saying there are none.
pub fn table(calls: &[CallRecord], full_numbers: bool) -> String {
    if calls.is_empty() {
        return "no calls\n".to_string();
    }
    let hide = |s: &str| {
        if full_numbers {
            s.to_string()
        } else {
            mask(s.as_bytes())
        }
    };
    let dash = || "-".to_string();
    let rows: Vec<[String; 16]> = calls
        .iter()
        .map(|c| {
            [
                c.started_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                c.tenant.clone(),
                hide(&c.from),
                c.to.clone(),
                c.state.to_string(),
                c.duration_s.map_or_else(dash, clock),
                c.billable_s.map_or_else(dash, clock),
                c.codec.clone().unwrap_or_else(dash),
                c.mos.map_or_else(dash, |m| format!("{m:.1}")),
                c.loss_pct.map_or_else(dash, |l| format!("{l:.1}")),
                if c.digits.is_empty() {
                    dash()
                } else {
                    hide(&c.digits)
                },
                match (&c.hangup_side, &c.hangup_cause) {
                    (Some(side), Some(cause)) => format!("{side}: {cause}"),
                    (Some(side), None) => side.to_string(),
                    (None, Some(cause)) => cause.clone(),
                    (None, None) => dash(),
                },
                c.flow.clone().unwrap_or_else(dash),
                c.voicemail.clone().unwrap_or_else(dash),
                c.call_id.clone(),
                if c.ivr_path.is_empty() {
                    dash()
                } else if full_numbers {
                    c.ivr_path.clone()
                } else {
                    mask_inputs(&c.ivr_path)
                },
            ]
        })
        .collect();
    let mut widths = HEADERS.map(|h| h.chars().count());
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut s = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut l = String::new();
        for (i, cell) in cells.enumerate() {
            if i > 0 {
                l.push_str("  ");
            }
            l.push_str(cell);
            let pad = widths[i].saturating_sub(cell.chars().count());
            l.extend(std::iter::repeat_n(' ', pad));
        }
        s.push_str(l.trim_end());
        s.push('\n');
    };
    line(&mut HEADERS.iter().copied());
    for row in &rows {
        line(&mut row.iter().map(String::as_str));
    }
    s.push_str(&format!(
        "{} call{}\n",
        calls.len(),
        if calls.len() == 1 { "" } else { "s" }
    ));
    s
}

/// An IVR path with each bracketed input masked like a number, so that order and card
/// numbers keyed into a flow stay private while short menu choices stay readable:
/// `menu[1]>order[12345678#]` → `menu[1]>order[123*5678#]`.
fn mask_inputs(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut rest = path;
    while let Some(open) = rest.find('[') {
        let (head, tail) = rest.split_at(open + 1);
        out.push_str(head);
        // An unclosed bracket (a path cut short) masks to the end.
        let close = tail.find(']').unwrap_or(tail.len());
        out.push_str(&mask(&tail.as_bytes()[..close]));
        rest = &tail[close..];
    }
    out.push_str(rest);
    out
}

/// Seconds as m:ss or h:mm:ss.
fn clock(secs: i64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

#[cfg(test)]
#[path = "cli_tests.rs"]
mod tests;
