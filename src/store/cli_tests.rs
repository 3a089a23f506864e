//! `hotline calls list`: flags, output formats, and the whole command on temp databases.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{DateTime, TimeDelta, Utc};
use clap::Parser;

use super::*;
use crate::store::{CallEnd, CallStart, CallState, HangupSide};

#[derive(Debug, Parser)]
struct Wrap {
    #[command(flatten)]
    args: CallsListArgs,
}

fn parse(args: &[&str]) -> Result<CallsListArgs, clap::Error> {
    Wrap::try_parse_from(std::iter::once("list").chain(args.iter().copied())).map(|w| w.args)
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2025-06-01T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "hotline-calls-cli-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn record() -> CallRecord {
    CallRecord {
        call_id: "a84b4c76e66710@pc33".into(),
        tenant: "acme".into(),
        node_id: "hotline-1".into(),
        from: "13812345678".into(),
        to: "4008001234".into(),
        started_at: DateTime::from_timestamp_millis(1_748_764_800_250).unwrap(),
        answered_at: Some(DateTime::from_timestamp_millis(1_748_764_805_000).unwrap()),
        ended_at: Some(DateTime::from_timestamp_millis(1_748_768_530_000).unwrap()),
        duration_s: Some(3730),
        billable_s: Some(3725),
        hangup_cause: Some("BYE".into()),
        hangup_side: Some(HangupSide::Caller),
        digits: "6222021234567890#".into(),
        codec: Some("PCMA".into()),
        loss_pct: Some(0.25),
        jitter_ms: Some(8.5),
        mos: Some(4.21),
        recording: Some("recordings/a.wav".into()),
        state: CallState::Ended,
        flow: Some("ecommerce-zh".into()),
        ivr_path: "hours>greeting>menu[1]>order[6222021234567890#]>lookup(ok)>status>bye".into(),
        voicemail: Some("recordings/voicemail/a.wav".into()),
        queue: None,
        queue_wait_s: None,
        agent: None,
        disposition: None,
        notes: None,
    }
}

#[test]
fn flags_parse_with_defaults() {
    let a = parse(&[]).unwrap();
    assert!(!a.json && !a.full_numbers);
    assert_eq!(a.limit, 50);
    assert_eq!(a.since, None);
    assert_eq!(a.flow, None);
    let a = parse(&[
        "--json",
        "--since",
        "2h",
        "--until",
        "2025-06-01T16:00:00+08:00",
        "--limit",
        "7",
        "--tenant",
        "acme",
        "--number",
        "4008001234",
        "--full-numbers",
        "--flow",
        "ecommerce-zh",
        "--config",
        "/etc/hotline/hotline.toml",
        "--data-dir",
        "/var/lib/hotline",
        "--database",
        "postgres://h/cdr",
    ])
    .unwrap();
    assert!(a.json && a.full_numbers);
    assert_eq!(a.since, Some(TimeSpec::Ago(TimeDelta::hours(2))));
    assert_eq!(
        a.until.map(|u| u.resolve(now())),
        Some(now() - TimeDelta::hours(4))
    );
    assert_eq!(a.limit, 7);
    assert_eq!(a.tenant.as_deref(), Some("acme"));
    assert_eq!(a.number.as_deref(), Some("4008001234"));
    assert_eq!(a.flow.as_deref(), Some("ecommerce-zh"));
    assert_eq!(a.config, Some(PathBuf::from("/etc/hotline/hotline.toml")));
    assert_eq!(a.data_dir, Some(PathBuf::from("/var/lib/hotline")));
    assert_eq!(a.database.as_deref(), Some("postgres://h/cdr"));
}

#[test]
fn bad_flags_say_what_to_write() {
    let e = parse(&["--since", "yesterday"]).unwrap_err().to_string();
    assert!(e.contains("--since"), "{e}");
    assert!(e.contains("30m, 1h or 2d"), "{e}");
    assert!(e.contains("2025-06-01T08:00:00Z"), "{e}");
    let e = parse(&["--database", "mysql://root:pw@db/x"])
        .unwrap_err()
        .to_string();
    assert!(e.contains("--database") && e.contains("postgres://"), "{e}");
    let e = parse(&["--limit", "0"]).unwrap_err().to_string();
    assert!(e.contains("--limit"), "{e}");
}

#[test]
fn json_lines_use_the_documented_field_names() {
    let text = json_lines(&[record(), record()]).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    let v: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    let mut want = vec![
        "call_id",
        "tenant",
        "node_id",
        "from",
        "to",
        "started_at",
        "answered_at",
        "ended_at",
        "duration_s",
        "billable_s",
        "hangup_cause",
        "hangup_side",
        "digits",
        "codec",
        "loss_pct",
        "jitter_ms",
        "mos",
        "recording",
        "state",
        "flow",
        "ivr_path",
        "voicemail",
        "queue",
        "queue_wait_s",
        "agent",
        "disposition",
        "notes",
    ];
    let mut got = keys.clone();
    got.sort_unstable();
    want.sort_unstable();
    assert_eq!(got, want);
    assert_eq!(v["started_at"], "2025-06-01T08:00:00.250Z");
    assert_eq!(v["answered_at"], "2025-06-01T08:00:05.000Z");
    assert_eq!(v["from"], "13812345678", "JSON keeps full numbers");
    assert_eq!(v["hangup_side"], "caller");
    assert_eq!(v["state"], "ended");
    assert_eq!(v["duration_s"], 3730);
    assert_eq!(v["mos"], 4.21);
    assert_eq!(v["flow"], "ecommerce-zh");
    assert_eq!(
        v["ivr_path"], "hours>greeting>menu[1]>order[6222021234567890#]>lookup(ok)>status>bye",
        "JSON keeps inputs in full"
    );
    assert_eq!(v["voicemail"], "recordings/voicemail/a.wav");

    let mut ringing = record();
    ringing.answered_at = None;
    ringing.ended_at = None;
    ringing.hangup_side = None;
    ringing.state = CallState::Ringing;
    ringing.flow = None;
    ringing.ivr_path = String::new();
    ringing.voicemail = None;
    let v: serde_json::Value =
        serde_json::from_str(json_lines(&[ringing]).unwrap().trim()).unwrap();
    assert!(v["answered_at"].is_null() && v["hangup_side"].is_null());
    assert_eq!(v["state"], "ringing");
    assert!(v["flow"].is_null() && v["voicemail"].is_null(), "{v}");
    assert_eq!(v["ivr_path"], "");
}

#[test]
fn table_masks_callers_unless_asked() {
    let t = table(&[record()], false);
    let lines: Vec<&str> = t.lines().collect();
    assert_eq!(lines.len(), 3, "{t}");
    let header: Vec<&str> = lines[0]
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(header.len(), 16, "{t}");
    assert_eq!(header[12..], ["FLOW", "VOICEMAIL", "CALL ID", "IVR PATH"]);
    assert_eq!(header[..4], ["STARTED (UTC)", "TENANT", "FROM", "TO"]);
    let row = lines[1];
    assert!(row.starts_with("2025-06-01 08:00:00  acme "), "{row}");
    assert!(row.contains("138****5678"), "{row}");
    assert!(!row.contains("13812345678"), "{row}");
    assert!(
        row.contains("4008001234"),
        "the dialled number is not private: {row}"
    );
    assert!(row.contains("622*********7890#"), "{row}");
    assert!(row.contains("1:02:10"), "{row}");
    assert!(row.contains("1:02:05"), "{row}");
    assert!(row.contains("caller: BYE"), "{row}");
    assert!(row.contains(" 4.2 "), "{row}");
    assert!(row.contains(" ecommerce-zh "), "{row}");
    assert!(row.contains(" recordings/voicemail/a.wav "), "{row}");
    // Keyed inputs in the path are masked like the digits; menu choices stay readable.
    assert!(
        row.ends_with(" hours>greeting>menu[1]>order[622*********7890#]>lookup(ok)>status>bye"),
        "{row}"
    );
    assert_eq!(lines[2], "1 call");
    // Columns line up: FROM starts at the same offset in header and row.
    let from_at = lines[0].find("FROM").unwrap();
    assert_eq!(&row[from_at..from_at + 11], "138****5678");

    let t = table(&[record()], true);
    assert!(
        t.contains("13812345678") && t.contains("6222021234567890#"),
        "{t}"
    );
    assert!(t.contains("order[6222021234567890#]"), "{t}");
    assert_eq!(table(&[], false), "no calls\n");
}

#[test]
fn table_shows_dashes_for_calls_without_a_flow() {
    let mut r = record();
    r.flow = None;
    r.ivr_path = String::new();
    r.voicemail = None;
    let t = table(&[r], false);
    let row = t.lines().nth(1).unwrap();
    assert!(
        row.ends_with("caller: BYE  -     -          a84b4c76e66710@pc33  -"),
        "{t}"
    );
}

#[test]
fn path_inputs_are_masked_like_numbers() {
    assert_eq!(mask_inputs(""), "");
    assert_eq!(mask_inputs("greeting>bye"), "greeting>bye");
    assert_eq!(
        mask_inputs("menu[1]>order[12345678#]>lookup(ok)"),
        "menu[1]>order[123*5678#]>lookup(ok)"
    );
    assert_eq!(mask_inputs("a[13812345678]>b[2]"), "a[138****5678]>b[2]");
    // A path cut short inside an input still hides it; odd brackets do not panic.
    assert_eq!(mask_inputs("order[6222021234…"), "order[622***1234…");
    assert_eq!(mask_inputs("]>[>[]]["), "]>[>[]][");
    assert_eq!(mask_inputs("菜单[12345678]>结束"), "菜单[123*5678]>结束");
}

#[test]
fn durations_read_as_clock_times() {
    assert_eq!(clock(0), "0:00");
    assert_eq!(clock(59), "0:59");
    assert_eq!(clock(61), "1:01");
    assert_eq!(clock(3600), "1:00:00");
}

async fn seed(location: &str) {
    let store = Store::open(location).await.unwrap();
    for (id, ago_min, from, flow) in [
        ("old", 120, "13800000001", "support-en"),
        ("new", 10, "13800000002", "ecommerce-zh"),
    ] {
        let at = now() - TimeDelta::minutes(ago_min);
        store
            .call_started(&CallStart {
                call_id: id.into(),
                tenant: "acme".into(),
                node_id: "hotline-1".into(),
                from: from.into(),
                to: "4008001234".into(),
                at,
                flow: Some(flow.into()),
            })
            .await
            .unwrap();
        store
            .call_ended(&CallEnd {
                call_id: id.into(),
                at: at + TimeDelta::seconds(30),
                cause: "caller hung up".into(),
                side: HangupSide::Caller,
                digits: "1".into(),
                loss_pct: None,
                jitter_ms: None,
                mos: None,
                recording: None,
                ivr_path: format!("greeting>menu[1]>{id}"),
                voicemail: None,
                queue: None,
                queue_wait_s: None,
                agent: None,
            })
            .await
            .unwrap();
    }
    store.close().await;
}

#[tokio::test]
async fn lists_from_a_database_url_with_relative_since() {
    let dir = TempDir::new();
    let url = format!("sqlite://{}", dir.0.join("cdr.db").display());
    seed(&url).await;
    // An empty config: the test must not depend on a hotline.toml in the working directory.
    let config = dir.0.join("hotline.toml");
    std::fs::write(&config, "").unwrap();
    let mut args = parse(&[
        "--json",
        "--since",
        "1h",
        "--database",
        &url,
        "--config",
        config.to_str().unwrap(),
    ])
    .unwrap();
    let text = calls_list_text(&args, now()).await.unwrap();
    let ids: Vec<String> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["call_id"].to_string())
        .collect();
    assert_eq!(ids, ["\"new\""]);

    args.since = None;
    args.json = false;
    let text = calls_list_text(&args, now()).await.unwrap();
    assert!(
        text.contains("138****0002") && text.contains("138****0001"),
        "{text}"
    );
    assert!(text.ends_with("2 calls\n"), "{text}");
    assert!(
        text.find("0002").unwrap() < text.find("0001").unwrap(),
        "newest first"
    );

    args.flow = Some("support-en".into());
    let text = calls_list_text(&args, now()).await.unwrap();
    assert!(text.ends_with("1 call\n"), "{text}");
    assert!(
        text.contains(" support-en ") && text.contains("greeting>menu[1]>old"),
        "{text}"
    );
    args.json = true;
    let text = calls_list_text(&args, now()).await.unwrap();
    let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(
        (&v["call_id"], &v["flow"], &v["ivr_path"]),
        (
            &"old".into(),
            &"support-en".into(),
            &"greeting>menu[1]>old".into()
        )
    );
    assert!(v["voicemail"].is_null());
}

#[tokio::test]
async fn finds_the_database_through_config_and_data_dir() {
    let dir = TempDir::new();
    let config = dir.0.join("hotline.toml");
    std::fs::write(&config, "data_dir = \"state\"\n").unwrap();
    let args = parse(&["--config", config.to_str().unwrap()]).unwrap();
    let e = calls_list_text(&args, now()).await.unwrap_err().to_string();
    assert!(e.contains("no call database at"), "{e}");
    assert!(e.contains("state/hotline.db"), "{e}");
    assert!(e.contains("--data-dir"), "{e}");

    let db = Store::default_path(&dir.0.join("state"));
    seed(&db.display().to_string()).await;
    let text = calls_list_text(&args, now()).await.unwrap();
    assert!(text.ends_with("2 calls\n"), "{text}");

    // --data-dir wins over the config file's data_dir.
    let other = dir.0.join("elsewhere");
    let args = parse(&[
        "--config",
        config.to_str().unwrap(),
        "--data-dir",
        other.to_str().unwrap(),
    ])
    .unwrap();
    let e = calls_list_text(&args, now()).await.unwrap_err().to_string();
    assert!(e.contains("elsewhere/hotline.db"), "{e}");
}
