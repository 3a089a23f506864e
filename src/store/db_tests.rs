//! Store tests on real SQLite files in a temp directory (and one in-memory database).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{DateTime, Utc};

use super::*;
use sqlx::AssertSqlSafe;

/// A fresh directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "hotline-store-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn open_temp() -> (TempDir, Store) {
    let dir = TempDir::new();
    let path = Store::default_path(&dir.0.join("var"));
    let store = Store::open(&format!("sqlite://{}", path.display()))
        .await
        .expect("open a fresh SQLite store");
    (dir, store)
}

fn t(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(1_748_764_800_000 + ms).unwrap()
}

fn start(id: &str, node: &str, tenant: &str, from: &str, to: &str, at: i64) -> CallStart {
    CallStart {
        call_id: id.to_string(),
        tenant: tenant.to_string(),
        node_id: node.to_string(),
        from: from.to_string(),
        to: to.to_string(),
        at: t(at),
        flow: None,
    }
}

fn end(id: &str, at: i64, side: HangupSide) -> CallEnd {
    CallEnd {
        call_id: id.to_string(),
        at: t(at),
        cause: "BYE".to_string(),
        side,
        digits: "12#".to_string(),
        loss_pct: Some(0.5),
        jitter_ms: Some(12.25),
        mos: Some(4.1),
        recording: Some("recordings/2025/06/01/c1.wav".to_string()),
        ivr_path: String::new(),
        voicemail: None,
        queue: None,
        queue_wait_s: None,
        agent: None,
    }
}

async fn one(store: &Store, id: &str) -> CallRecord {
    let all = store
        .list_calls(&ListQuery {
            limit: 1000,
            ..ListQuery::default()
        })
        .await
        .unwrap();
    all.into_iter()
        .find(|c| c.call_id == id)
        .unwrap_or_else(|| panic!("call {id} not listed"))
}

/// The behaviour every backend must show; run on SQLite below and on PostgreSQL when
/// one is given.
mod checks {
    use super::*;

    pub async fn start_answer_end_round_trip(store: &Store) {
        store
            .call_started(&start("c1", "n1", "acme", "13812345678", "4008001234", 0))
            .await
            .unwrap();
        let c = one(store, "c1").await;
        assert_eq!(c.state, CallState::Ringing);
        assert_eq!(c.started_at, t(0));
        assert_eq!(c.answered_at, None);
        assert_eq!(c.duration_s, None);
        assert_eq!(c.digits, "");

        store.call_answered("c1", t(5_200), "PCMA").await.unwrap();
        let c = one(store, "c1").await;
        assert_eq!(c.state, CallState::Up);
        assert_eq!(c.answered_at, Some(t(5_200)));
        assert_eq!(c.codec.as_deref(), Some("PCMA"));

        store
            .call_ended(&end("c1", 65_001, HangupSide::Caller))
            .await
            .unwrap();
        let c = one(store, "c1").await;
        assert_eq!(
            c,
            CallRecord {
                call_id: "c1".into(),
                tenant: "acme".into(),
                node_id: "n1".into(),
                from: "13812345678".into(),
                to: "4008001234".into(),
                started_at: t(0),
                answered_at: Some(t(5_200)),
                ended_at: Some(t(65_001)),
                // 65.001 s and 59.801 s, a started second counting whole.
                duration_s: Some(66),
                billable_s: Some(60),
                hangup_cause: Some("BYE".into()),
                hangup_side: Some(HangupSide::Caller),
                digits: "12#".into(),
                codec: Some("PCMA".into()),
                loss_pct: Some(0.5),
                jitter_ms: Some(12.25),
                mos: Some(4.1),
                recording: Some("recordings/2025/06/01/c1.wav".into()),
                state: CallState::Ended,
                flow: None,
                ivr_path: String::new(),
                voicemail: None,
                queue: None,
                queue_wait_s: None,
                agent: None,
                disposition: None,
                notes: None,
            }
        );
        assert_eq!(
            c.duration_s,
            Some(seconds_rounded_up(0, 65_001)),
            "SQL and Rust round alike"
        );
    }

    pub async fn unanswered_call_bills_nothing_and_bad_numbers_are_unknown(store: &Store) {
        store
            .call_started(&start("c2", "n1", "acme", "1001", "4008001234", 0))
            .await
            .unwrap();
        let mut e = end("c2", 12_000, HangupSide::Hotline);
        e.loss_pct = Some(f64::NAN);
        e.mos = Some(f64::INFINITY);
        e.recording = None;
        store.call_ended(&e).await.unwrap();
        let c = one(store, "c2").await;
        assert_eq!(c.state, CallState::Ended);
        assert_eq!(c.duration_s, Some(12));
        assert_eq!(c.billable_s, Some(0));
        assert_eq!(c.codec, None);
        assert_eq!(c.loss_pct, None);
        assert_eq!(c.mos, None);
        assert_eq!(c.jitter_ms, Some(12.25));
        assert_eq!(c.recording, None);
    }

    pub async fn end_before_start_clamps_to_zero(store: &Store) {
        store
            .call_started(&start("c3", "n1", "acme", "1001", "400", 10_000))
            .await
            .unwrap();
        store.call_answered("c3", t(11_000), "PCMU").await.unwrap();
        store
            .call_ended(&end("c3", 9_000, HangupSide::System))
            .await
            .unwrap();
        let c = one(store, "c3").await;
        assert_eq!((c.duration_s, c.billable_s), (Some(0), Some(0)));
    }

    pub async fn out_of_order_writes_are_refused_with_reasons(store: &Store) {
        let s = start("c1", "n1", "acme", "1001", "400", 0);
        store.call_started(&s).await.unwrap();
        let e = store.call_started(&s).await.unwrap_err();
        assert!(
            matches!(&e, StoreError::DuplicateCall(id) if id == "c1"),
            "{e}"
        );
        assert!(e.to_string().contains("already recorded"), "{e}");

        let e = store.call_answered("nope", t(1), "PCMA").await.unwrap_err();
        assert!(
            matches!(&e, StoreError::UnknownCall(id) if id == "nope"),
            "{e}"
        );
        let e = store
            .call_ended(&end("nope", 1, HangupSide::Caller))
            .await
            .unwrap_err();
        assert!(matches!(&e, StoreError::UnknownCall(_)), "{e}");

        store
            .call_ended(&end("c1", 1_000, HangupSide::Caller))
            .await
            .unwrap();
        let e = store
            .call_ended(&end("c1", 2_000, HangupSide::Caller))
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "call c1 is ended, so it cannot be ended");
        let e = store
            .call_answered("c1", t(3_000), "PCMA")
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "call c1 is ended, so it cannot be answered");
        // The refused end did not overwrite the first one.
        assert_eq!(one(store, "c1").await.ended_at, Some(t(1_000)));
    }

    pub async fn batch_writes_good_events_and_reports_bad_ones(store: &Store) {
        let events = vec![
            CdrEvent::Started(start("a", "n1", "acme", "1001", "400", 0)),
            CdrEvent::Answered {
                call_id: "ghost".into(),
                at: t(1),
                codec: "PCMA".into(),
            },
            CdrEvent::Answered {
                call_id: "a".into(),
                at: t(1_000),
                codec: "PCMA".into(),
            },
            CdrEvent::Started(start("b", "n1", "acme", "1002", "400", 500)),
            CdrEvent::Started(start("a", "n1", "acme", "1001", "400", 0)),
            CdrEvent::Ended(end("a", 3_000, HangupSide::Caller)),
        ];
        let rejected = store.apply(&events).await.unwrap();
        let idx: Vec<usize> = rejected.iter().map(|(i, _)| *i).collect();
        assert_eq!(idx, vec![1, 4]);
        assert!(matches!(rejected[0].1, StoreError::UnknownCall(_)));
        assert!(matches!(rejected[1].1, StoreError::DuplicateCall(_)));
        let a = one(store, "a").await;
        assert_eq!((a.state, a.billable_s), (CallState::Ended, Some(2)));
        assert_eq!(one(store, "b").await.state, CallState::Ringing);
        assert_eq!(events[1].call_id(), "ghost");
        assert!(store.apply(&[]).await.unwrap().is_empty());
    }

    pub async fn restart_marks_this_nodes_open_calls_interrupted(store: &Store) {
        store
            .call_started(&start("ring", "n1", "acme", "1001", "400", 0))
            .await
            .unwrap();
        store
            .call_started(&start("up", "n1", "acme", "1002", "400", 1_000))
            .await
            .unwrap();
        store.call_answered("up", t(3_000), "PCMA").await.unwrap();
        store
            .call_started(&start("done", "n1", "acme", "1003", "400", 0))
            .await
            .unwrap();
        store
            .call_ended(&end("done", 2_000, HangupSide::Caller))
            .await
            .unwrap();
        store
            .call_started(&start("other", "n2", "acme", "1004", "400", 0))
            .await
            .unwrap();
        store.heartbeat("n1", t(30_000)).await.unwrap();
        store.heartbeat("n1", t(60_500)).await.unwrap();

        assert_eq!(store.mark_interrupted("n1").await.unwrap(), 2);
        let ring = one(store, "ring").await;
        assert_eq!(ring.state, CallState::Interrupted);
        assert_eq!(ring.ended_at, Some(t(60_500)), "ends at the last heartbeat");
        assert_eq!((ring.duration_s, ring.billable_s), (Some(61), Some(0)));
        assert_eq!(ring.hangup_side, Some(HangupSide::System));
        assert_eq!(ring.hangup_cause.as_deref(), Some(INTERRUPTED_CAUSE));
        let up = one(store, "up").await;
        assert_eq!(up.state, CallState::Interrupted);
        assert_eq!((up.duration_s, up.billable_s), (Some(60), Some(58)));
        let done = one(store, "done").await;
        assert_eq!(
            (done.state, done.ended_at),
            (CallState::Ended, Some(t(2_000)))
        );
        assert_eq!(one(store, "other").await.state, CallState::Ringing);
        assert_eq!(store.mark_interrupted("n1").await.unwrap(), 0, "only once");

        // Without a heartbeat, the call's own last event is the last known time.
        assert_eq!(store.mark_interrupted("n2").await.unwrap(), 1);
        let other = one(store, "other").await;
        assert_eq!(other.ended_at, Some(t(0)));
        assert_eq!(other.duration_s, Some(0));
    }

    pub async fn heartbeat_older_than_the_call_uses_the_call_time(store: &Store) {
        store.heartbeat("n1", t(0)).await.unwrap();
        store
            .call_started(&start("c", "n1", "acme", "1001", "400", 5_000))
            .await
            .unwrap();
        store.call_answered("c", t(7_000), "PCMA").await.unwrap();
        assert_eq!(store.mark_interrupted("n1").await.unwrap(), 1);
        let c = one(store, "c").await;
        assert_eq!(c.ended_at, Some(t(7_000)));
        assert_eq!((c.duration_s, c.billable_s), (Some(2), Some(0)));
    }

    pub async fn list_filters_and_orders_newest_first(store: &Store) {
        let calls = [
            ("c1", "acme", "13800000001", "4001", 0),
            ("c2", "acme", "13800000002", "4002", 60_000),
            ("c3", "beta", "13800000001", "4002", 120_000),
            ("c4", "acme", "4001", "4003", 180_000),
            ("c5", "acme", "13800000003", "4001", 240_000),
        ];
        for (id, tenant, from, to, at) in calls {
            store
                .call_started(&start(id, "n1", tenant, from, to, at))
                .await
                .unwrap();
        }
        let ids = |v: Vec<CallRecord>| v.into_iter().map(|c| c.call_id).collect::<Vec<_>>();
        let all = store.list_calls(&ListQuery::default()).await.unwrap();
        assert_eq!(ids(all), ["c5", "c4", "c3", "c2", "c1"]);

        let q = ListQuery {
            since: Some(t(60_000)),
            until: Some(t(180_000)),
            ..ListQuery::default()
        };
        assert_eq!(ids(store.list_calls(&q).await.unwrap()), ["c3", "c2"]);

        let q = ListQuery {
            tenant: Some("acme".into()),
            limit: 2,
            ..ListQuery::default()
        };
        assert_eq!(ids(store.list_calls(&q).await.unwrap()), ["c5", "c4"]);

        // A number matches as caller or as dialled number.
        let q = ListQuery {
            number: Some("4001".into()),
            ..ListQuery::default()
        };
        assert_eq!(ids(store.list_calls(&q).await.unwrap()), ["c5", "c4", "c1"]);

        let q = ListQuery {
            since: Some(t(1)),
            tenant: Some("acme".into()),
            number: Some("13800000001".into()),
            ..ListQuery::default()
        };
        assert!(store.list_calls(&q).await.unwrap().is_empty());

        let q = ListQuery {
            since: Some(t(0)),
            tenant: Some("beta".into()),
            number: Some("13800000001".into()),
            limit: 0,
            ..ListQuery::default()
        };
        assert_eq!(ids(store.list_calls(&q).await.unwrap()), ["c3"]);

        let q = ListQuery {
            flow: Some("c1".into()),
            ..ListQuery::default()
        };
        assert!(
            store.list_calls(&q).await.unwrap().is_empty(),
            "calls without a flow match no flow filter"
        );

        // Quotes in filters are data, not SQL.
        let q = ListQuery {
            tenant: Some("x' OR '1'='1".into()),
            ..ListQuery::default()
        };
        assert!(store.list_calls(&q).await.unwrap().is_empty());
    }
}

/// The IVR columns: flow at start, path and voicemail at the end, the flow filter.
mod ivr_checks {
    use super::*;

    const PATH: &str = "hours>greeting>menu[1]>order[12345678#]>lookup(ok)>status>bye";
    const VOICEMAIL: &str = "recordings/voicemail/2026/11/23/vm2.wav";

    fn flow_start(id: &str, flow: Option<&str>, at: i64) -> CallStart {
        CallStart {
            flow: flow.map(str::to_string),
            ..start(id, "n1", "acme", "13812345678", "4008001234", at)
        }
    }

    pub async fn flow_path_and_voicemail_round_trip(store: &Store) {
        store
            .call_started(&flow_start("order", Some("ecommerce-zh"), 0))
            .await
            .unwrap();
        let c = one(store, "order").await;
        assert_eq!(c.flow.as_deref(), Some("ecommerce-zh"));
        assert_eq!((c.ivr_path.as_str(), c.voicemail), ("", None));

        store.call_answered("order", t(300), "PCMA").await.unwrap();
        store
            .call_ended(&CallEnd {
                ivr_path: PATH.into(),
                ..end("order", 40_000, HangupSide::Hotline)
            })
            .await
            .unwrap();
        let c = one(store, "order").await;
        assert_eq!(c.flow.as_deref(), Some("ecommerce-zh"));
        assert_eq!(c.ivr_path, PATH);
        assert_eq!(c.voicemail, None);
        assert_eq!(c.state, CallState::Ended);

        // After hours: the caller left a voicemail; node names may be any text.
        store
            .call_started(&flow_start("vm", Some("support-en"), 1_000))
            .await
            .unwrap();
        store.call_answered("vm", t(1_200), "PCMU").await.unwrap();
        let vm_path = "hours(closed)>留言提示>voicemail(12s)>bye";
        store
            .call_ended(&CallEnd {
                ivr_path: vm_path.into(),
                voicemail: Some(VOICEMAIL.into()),
                queue: None,
                queue_wait_s: None,
                agent: None,
                ..end("vm", 20_000, HangupSide::Caller)
            })
            .await
            .unwrap();
        let c = one(store, "vm").await;
        assert_eq!(c.ivr_path, vm_path);
        assert_eq!(c.voicemail.as_deref(), Some(VOICEMAIL));

        // An unknown number: no flow, a 404-style cause.
        store
            .call_started(&flow_start("unknown", None, 2_000))
            .await
            .unwrap();
        store
            .call_ended(&CallEnd {
                cause: "404 no flow for 4009999999".into(),
                ..end("unknown", 6_000, HangupSide::Hotline)
            })
            .await
            .unwrap();
        let c = one(store, "unknown").await;
        assert_eq!((c.flow, c.ivr_path.as_str()), (None, ""));
        assert_eq!(
            c.hangup_cause.as_deref(),
            Some("404 no flow for 4009999999")
        );
    }

    pub async fn list_filters_by_flow(store: &Store) {
        for (id, flow, at) in [
            ("a", Some("ecommerce-zh"), 0),
            ("b", Some("support-en"), 1_000),
            ("c", None, 2_000),
            ("d", Some("ecommerce-zh"), 3_000),
        ] {
            store.call_started(&flow_start(id, flow, at)).await.unwrap();
        }
        let ids = |v: Vec<CallRecord>| v.into_iter().map(|c| c.call_id).collect::<Vec<_>>();
        let q = |flow: &str| ListQuery {
            flow: Some(flow.into()),
            ..ListQuery::default()
        };
        assert_eq!(
            ids(store.list_calls(&q("ecommerce-zh")).await.unwrap()),
            ["d", "a"]
        );
        assert_eq!(
            ids(store.list_calls(&q("support-en")).await.unwrap()),
            ["b"]
        );
        assert!(store.list_calls(&q("ecommerce")).await.unwrap().is_empty());
        let both = ListQuery {
            since: Some(t(1)),
            tenant: Some("acme".into()),
            number: Some("4008001234".into()),
            ..q("ecommerce-zh")
        };
        assert_eq!(ids(store.list_calls(&both).await.unwrap()), ["d"]);
    }

    pub async fn overlong_paths_are_cut_at_a_char_boundary(store: &Store) {
        store
            .call_started(&flow_start("loop", Some("support-en"), 0))
            .await
            .unwrap();
        // 3-byte characters: a cut at a fixed byte count would split one.
        let long = "菜单[9]>".repeat(1_000);
        store
            .call_ended(&CallEnd {
                ivr_path: long.clone(),
                ..end("loop", 3_600_000, HangupSide::Caller)
            })
            .await
            .unwrap();
        let c = one(store, "loop").await;
        assert!(c.ivr_path.len() <= MAX_IVR_PATH, "{}", c.ivr_path.len());
        assert!(c.ivr_path.len() > MAX_IVR_PATH - 12, "{}", c.ivr_path.len());
        assert!(c.ivr_path.ends_with('…'), "{}", c.ivr_path);
        assert!(long.starts_with(c.ivr_path.trim_end_matches('…')));
    }
}

/// The ACD columns: queue, wait and agent at the end, the wrap-up after it.
mod acd_checks {
    use super::*;

    pub async fn queue_agent_and_disposition_round_trip(store: &Store) {
        store
            .call_started(&start("q1", "n1", "acme", "13800138000", "400", 0))
            .await
            .unwrap();
        store.call_answered("q1", t(100), "PCMU").await.unwrap();
        store
            .call_ended(&CallEnd {
                queue: Some("support".into()),
                queue_wait_s: Some(42),
                agent: Some("alice".into()),
                ..end("q1", 200_000, HangupSide::Caller)
            })
            .await
            .unwrap();
        let c = one(store, "q1").await;
        assert_eq!(c.queue.as_deref(), Some("support"));
        assert_eq!(c.queue_wait_s, Some(42));
        assert_eq!(c.agent.as_deref(), Some("alice"));
        assert_eq!(c.disposition, None);
        let bad = store
            .apply(&[
                CdrEvent::Disposition {
                    call_id: "q1".into(),
                    disposition: "resolved".into(),
                    notes: "order 12345678 found; 说明".into(),
                },
                CdrEvent::Disposition {
                    call_id: "nope".into(),
                    disposition: "resolved".into(),
                    notes: String::new(),
                },
            ])
            .await
            .unwrap();
        assert_eq!(bad.len(), 1, "{bad:?}");
        assert!(matches!(bad[0].1, StoreError::UnknownCall(_)));
        let c = one(store, "q1").await;
        assert_eq!(c.disposition.as_deref(), Some("resolved"));
        assert_eq!(c.notes.as_deref(), Some("order 12345678 found; 说明"));
    }
}

/// One SQLite test per check, each on a fresh file, and `checks_on_postgres` running them
/// all on one PostgreSQL database, wiped between checks.
macro_rules! on_both {
    ($($name:ident :: $check:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $check() {
                let (_dir, store) = open_temp().await;
                assert_eq!(store.backend(), Backend::Sqlite);
                $name::$check(&store).await;
            }
        )*

        async fn checks_on_postgres(url: &str) {
            $(
                let store = Store::open(url).await.expect("open PostgreSQL");
                assert_eq!(store.backend(), Backend::Postgres);
                eprintln!("postgres: {}", stringify!($check));
                $name::$check(&store).await;
                wipe(&store).await;
                store.close().await;
            )*
        }
    };
}

on_both!(
    checks::start_answer_end_round_trip,
    checks::unanswered_call_bills_nothing_and_bad_numbers_are_unknown,
    checks::end_before_start_clamps_to_zero,
    checks::out_of_order_writes_are_refused_with_reasons,
    checks::batch_writes_good_events_and_reports_bad_ones,
    checks::restart_marks_this_nodes_open_calls_interrupted,
    checks::heartbeat_older_than_the_call_uses_the_call_time,
    checks::list_filters_and_orders_newest_first,
    ivr_checks::flow_path_and_voicemail_round_trip,
    ivr_checks::list_filters_by_flow,
    ivr_checks::overlong_paths_are_cut_at_a_char_boundary,
    acd_checks::queue_agent_and_disposition_round_trip,
);

async fn wipe(store: &Store) {
    for table in [
        "calls",
        "nodes",
        "agents",
        "agent_states",
        "_sqlx_migrations",
    ] {
        sqlx::query(AssertSqlSafe(format!("DROP TABLE IF EXISTS {table}")))
            .execute(&store.pool)
            .await
            .unwrap();
    }
}

/// The same checks on PostgreSQL, when `HOTLINE_TEST_POSTGRES_URL` names a database this
/// test may wipe (e.g. postgres://hotline@127.0.0.1:5432/hotline_test); skipped otherwise.
#[tokio::test]
async fn postgres_runs_the_same_sql() {
    let Ok(url) = std::env::var("HOTLINE_TEST_POSTGRES_URL") else {
        eprintln!("postgres_runs_the_same_sql: skipped (HOTLINE_TEST_POSTGRES_URL not set)");
        return;
    };
    // Start from an empty database so that the migration itself is tested.
    let store = Store::open(&url).await.expect("open PostgreSQL");
    wipe(&store).await;
    store.close().await;
    checks_on_postgres(&url).await;
    // Reopening runs no migration twice.
    for _ in 0..2 {
        let store = Store::open(&url).await.expect("reopen PostgreSQL");
        let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(applied, MIGRATOR.migrations.len() as i64);
        store.close().await;
    }
    let store = Store::open(&url).await.expect("reopen PostgreSQL");
    wipe(&store).await;
    store.close().await;
    old_database_is_upgraded_in_place(&url).await;
}

#[tokio::test]
async fn reopening_keeps_data_and_does_not_rerun_migrations() {
    let dir = TempDir::new();
    let path = dir.0.join("deep/er/hotline.db");
    let url = path.display().to_string();
    {
        let store = Store::open(&url).await.unwrap();
        store
            .call_started(&start("c1", "n1", "acme", "1001", "400", 0))
            .await
            .unwrap();
        store.close().await;
    }
    assert!(path.is_file(), "the file and its directories are created");
    for _ in 0..2 {
        let store = Store::open(&format!("sqlite:{url}")).await.unwrap();
        assert_eq!(one(&store, "c1").await.state, CallState::Ringing);
        let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(applied, MIGRATOR.migrations.len() as i64);
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        store.close().await;
    }
}

#[tokio::test]
async fn in_memory_database_works_for_tests() {
    let store = Store::open("sqlite::memory:").await.unwrap();
    store
        .call_started(&start("m", "n1", "acme", "1001", "400", 0))
        .await
        .unwrap();
    store.call_answered("m", t(500), "PCMA").await.unwrap();
    assert_eq!(one(&store, "m").await.state, CallState::Up);
}

#[tokio::test]
async fn bad_locations_say_what_to_write() {
    let e = Store::open("mysql://root:secret@db/cdr").await.unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, StoreError::UnsupportedUrl(_)), "{msg}");
    assert!(msg.contains("postgres://USER:PASSWORD@HOST/DB"), "{msg}");
    assert!(!msg.contains("secret"), "password must not leak: {msg}");

    let dir = TempDir::new();
    std::fs::create_dir_all(&dir.0).unwrap();
    let file = dir.0.join("plain-file");
    std::fs::write(&file, "not a database\n".repeat(512)).unwrap();
    let e = Store::open(&file.join("hotline.db").display().to_string())
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::CreateDir { .. }), "{e}");
    assert!(e.to_string().contains("--data-dir"), "{e}");

    // Not a database file.
    let e = Store::open(&file.display().to_string()).await.unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, StoreError::Open { .. }), "{msg}");
    assert!(msg.contains("file is not a database"), "{msg}");
    assert!(msg.contains("that the file is a Hotline database"), "{msg}");

    // Nothing listens on port 1: the real cause is named, at once, password hidden.
    let e = Store::open("postgres://hotline:pw@127.0.0.1:1/cdr")
        .await
        .unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("refused"), "{msg}");
    assert!(msg.contains("PostgreSQL is up"), "{msg}");
    assert!(!msg.contains(":pw@"), "{msg}");
}

#[test]
fn locations_are_classified() {
    assert!(matches!(
        classify("postgresql://h/db"),
        Ok(Target::Postgres(_))
    ));
    assert!(matches!(
        classify("sqlite::memory:"),
        Ok(Target::SqliteMemory)
    ));
    for (input, want) in [
        ("sqlite://var/hotline.db", "var/hotline.db"),
        ("sqlite:var/hotline.db", "var/hotline.db"),
        ("sqlite:///srv/h.db", "/srv/h.db"),
        (" var/hotline.db ", "var/hotline.db"),
    ] {
        match classify(input) {
            Ok(Target::SqliteFile(p)) => assert_eq!(p, PathBuf::from(want), "{input}"),
            _ => panic!("{input}: not a SQLite file"),
        }
    }
    assert_eq!(
        Store::sqlite_file("sqlite://var/h.db"),
        Some(PathBuf::from("var/h.db"))
    );
    assert_eq!(Store::sqlite_file("postgres://h/db"), None);
    assert_eq!(Store::sqlite_file("sqlite::memory:"), None);
    for bad in ["", "sqlite://", "mysql://h/db", "sqlite://x.db?mode=ro"] {
        assert!(
            matches!(classify(bad), Err(StoreError::UnsupportedUrl(_))),
            "{bad}"
        );
    }
}

/// A database written by a Hotline from before the IVR columns (only the first migration
/// run, rows in the old column set) opens with this build: the new migration adds the
/// columns, old rows survive and read back with no flow, an empty path and no voicemail.
/// `url` names an empty database.
async fn old_database_is_upgraded_in_place(url: &str) {
    const FIRST: i64 = 20250601000000;
    assert_eq!(MIGRATOR.migrations[0].version, FIRST);
    assert!(
        MIGRATOR.migrations.len() >= 2,
        "the IVR migration is embedded"
    );
    {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(url).await.unwrap();
        MIGRATOR.run_to(FIRST, &pool).await.unwrap();
        let Err(e) = sqlx::query("SELECT flow FROM calls").fetch_all(&pool).await else {
            panic!("the old table already has a flow column");
        };
        assert!(
            e.to_string().contains("flow"),
            "the old table has no flow: {e}"
        );
        // Rows as the old code wrote them: one ended, one still ringing.
        sqlx::query(
            "INSERT INTO calls (call_id, tenant, node_id, from_number, to_number, \
             started_at_ms, answered_at_ms, ended_at_ms, duration_s, billable_s, hangup_cause, \
             hangup_side, digits, codec, recording, state) VALUES \
             ('old-ended', 'acme', 'n1', '13812345678', '4008001234', $1, $2, $3, 10, 9, 'BYE', \
              'caller', '1#', 'PCMA', 'recordings/old.wav', 'ended'), \
             ('old-ringing', 'acme', 'n1', '1001', '4008001234', $1, NULL, NULL, NULL, NULL, \
              NULL, NULL, '', NULL, NULL, 'ringing')",
        )
        .bind(t(0).timestamp_millis())
        .bind(t(1_000).timestamp_millis())
        .bind(t(10_000).timestamp_millis())
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
    }
    let store = Store::open(url).await.unwrap();
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(&store.pool)
        .await
        .unwrap();
    assert_eq!(applied, MIGRATOR.migrations.len() as i64);
    let old = one(&store, "old-ended").await;
    assert_eq!(old.state, CallState::Ended);
    assert_eq!(old.billable_s, Some(9));
    assert_eq!(old.digits, "1#");
    assert_eq!(old.recording.as_deref(), Some("recordings/old.wav"));
    assert_eq!(
        (old.flow, old.ivr_path.as_str(), old.voicemail),
        (None, "", None)
    );
    // The JSON readers see null / "" / null for the new fields.
    let v = serde_json::to_value(one(&store, "old-ended").await).unwrap();
    assert!(v["flow"].is_null() && v["voicemail"].is_null(), "{v}");
    assert_eq!(v["ivr_path"], "");

    // A call open across the upgrade ends with the new fields.
    store
        .call_ended(&CallEnd {
            ivr_path: "greeting>menu[0]>agent".into(),
            voicemail: Some("recordings/voicemail/x.wav".into()),
            queue: None,
            queue_wait_s: None,
            agent: None,
            ..end("old-ringing", 5_000, HangupSide::Caller)
        })
        .await
        .unwrap();
    let c = one(&store, "old-ringing").await;
    assert_eq!(c.ivr_path, "greeting>menu[0]>agent");
    assert_eq!(c.voicemail.as_deref(), Some("recordings/voicemail/x.wav"));
    assert_eq!(c.flow, None);
    store.close().await;

    // Reopening applies nothing twice.
    let store = Store::open(url).await.unwrap();
    assert_eq!(one(&store, "old-ended").await.tenant, "acme");
    store.close().await;
}

#[tokio::test]
async fn database_from_before_ivr_columns_is_upgraded_in_place() {
    let dir = TempDir::new();
    std::fs::create_dir_all(&dir.0).unwrap();
    let path = dir.0.join("old.db");
    // An empty file is an empty SQLite database (sqlx would not create it without ?mode=rwc,
    // which Store::open refuses).
    std::fs::File::create(&path).unwrap();
    old_database_is_upgraded_in_place(&format!("sqlite://{}", path.display())).await;
}

#[test]
fn paths_are_capped_without_splitting_characters() {
    assert_eq!(capped_path("a>b[1]"), "a>b[1]");
    let exact = "x".repeat(MAX_IVR_PATH);
    assert_eq!(capped_path(&exact), exact);
    let over = "x".repeat(MAX_IVR_PATH + 1);
    let cut = capped_path(&over);
    assert_eq!(cut.len(), MAX_IVR_PATH);
    assert!(cut.ends_with('…'));
    for filler in ["é", "菜", "🎵"] {
        let s = filler.repeat(MAX_IVR_PATH);
        let cut = capped_path(&s);
        assert!(
            cut.len() <= MAX_IVR_PATH && cut.len() > MAX_IVR_PATH - 7,
            "{filler}"
        );
        assert!(cut.ends_with('…'));
    }
}
