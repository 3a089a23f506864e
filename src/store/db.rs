//! [`Store`]: the CDR database. One code path for SQLite and PostgreSQL through sqlx's `Any`
//! driver: portable SQL with `$n` placeholders (both backends read them), times as BIGINT
//! epoch milliseconds, migrations from `migrations/` run on every open.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use sqlx::{AnyConnection, AnyPool};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Row};

use crate::config::{Config, redact_url};

use super::cdr::{
    CallEnd, CallRecord, CallStart, CallState, CdrEvent, HangupSide, ListQuery, seconds_rounded_up,
};

/// The database file in the data directory.
pub const DB_FILE: &str = "hotline.db";

/// The cause written for calls found ringing or up when their node starts again.
pub const INTERRUPTED_CAUSE: &str = "node restarted (crash or kill -9)";

static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error(
        "`{0}` is not a database this build can use: write a file path, sqlite://PATH, \
         sqlite::memory: or postgres://USER:PASSWORD@HOST/DB"
    )]
    UnsupportedUrl(String),
    #[error("cannot create the database directory {}: {source}; create it or pass --data-dir", dir.display())]
    CreateDir {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open the call database {location}: {source}; {fix}")]
    Open {
        location: String,
        source: sqlx::Error,
        fix: &'static str,
    },
    #[error(
        "cannot bring the call database {location} up to date: {source}; if a newer Hotline \
         wrote it, run that version (or restore a backup); migrations must never be edited \
         once released"
    )]
    Migrate {
        location: String,
        source: MigrateError,
    },
    #[error("call database error: {0}; check the disk (full? read-only?) or the PostgreSQL server")]
    Db(#[from] sqlx::Error),
    #[error("call {0} is already recorded: call ids must be unique; was the call started twice?")]
    DuplicateCall(String),
    #[error("no call {0} in the store: record call_started before answering or ending it")]
    UnknownCall(String),
    #[error("call {call_id} is {state}, so it cannot be {action}")]
    WrongState {
        call_id: String,
        state: String,
        action: &'static str,
    },
    #[error(
        "agent {login} of tenant {tenant} already exists; pick another login or change the existing agent"
    )]
    AgentExists { tenant: String, login: String },
    #[error("no agent {login} in tenant {tenant}; `hotline agents list` shows who exists")]
    NoSuchAgent { tenant: String, login: String },
    #[error("{0}")]
    BadAgent(String),
    #[error("stored call {call_id} has a bad {column}: {problem}; was the row edited by hand?")]
    BadRow {
        call_id: String,
        column: &'static str,
        problem: String,
    },
}

/// The CDR store. Cheap to share (`Arc<Store>`); every method is one short statement or one
/// transaction on a small connection pool.
#[derive(Debug)]
pub struct Store {
    pub(super) pool: AnyPool,
    backend: Backend,
    /// The URL or path with any password hidden, for messages.
    location: String,
}

enum Target {
    SqliteFile(PathBuf),
    SqliteMemory,
    Postgres(String),
}

/// `postgres://…`, `sqlite::memory:`, `sqlite://PATH`, `sqlite:PATH` or a bare path.
fn classify(url_or_path: &str) -> Result<Target, StoreError> {
    let s = url_or_path.trim();
    if s.starts_with("postgres://") || s.starts_with("postgresql://") {
        return Ok(Target::Postgres(s.to_string()));
    }
    if matches!(s, "sqlite::memory:" | "sqlite://:memory:" | ":memory:") {
        return Ok(Target::SqliteMemory);
    }
    let path = match s.strip_prefix("sqlite://") {
        Some(p) => p,
        None => s.strip_prefix("sqlite:").unwrap_or(s),
    };
    if path.is_empty() || path.contains('?') || path.contains("://") {
        return Err(StoreError::UnsupportedUrl(redact_url(s)));
    }
    Ok(Target::SqliteFile(PathBuf::from(path)))
}

impl Store {
    /// The default SQLite database in `data_dir`.
    pub fn default_path(data_dir: &Path) -> PathBuf {
        data_dir.join(DB_FILE)
    }

    /// Where the configuration puts the database: its `database` URL, else the SQLite file
    /// in its data directory.
    pub fn configured_location(cfg: &Config) -> String {
        match &cfg.database {
            Some(url) => url.clone(),
            None => Self::default_path(&cfg.data_dir).display().to_string(),
        }
    }

    /// The file behind a SQLite location (path or `sqlite://PATH`), or `None` for
    /// PostgreSQL, `sqlite::memory:` and anything unusable.
    pub fn sqlite_file(url_or_path: &str) -> Option<PathBuf> {
        match classify(url_or_path) {
            Ok(Target::SqliteFile(p)) => Some(p),
            _ => None,
        }
    }

    /// Opens (creating file and directories for SQLite) and migrates the database.
    /// `url_or_path`: a file path or `sqlite://PATH` (WAL mode, 5 s busy timeout),
    /// `sqlite::memory:` (tests), or `postgres://USER:PASSWORD@HOST/DB`.
    pub async fn open(url_or_path: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let location = redact_url(url_or_path.trim());
        let target = classify(url_or_path)?;
        let fix = match target {
            Target::Postgres(_) => {
                "check that PostgreSQL is up and the URL's host, port, user, password and \
                 database are right"
            }
            _ => "check the path and its permissions, and that the file is a Hotline database",
        };
        let open_err = |source| StoreError::Open {
            location: location.clone(),
            source,
            fix,
        };
        let (backend, url, pool_options) = match target {
            Target::Postgres(url) => (
                Backend::Postgres,
                url,
                AnyPoolOptions::new().max_connections(8),
            ),
            // Every connection to `sqlite::memory:` is a new empty database: keep exactly
            // one, forever.
            Target::SqliteMemory => (
                Backend::Sqlite,
                "sqlite::memory:".to_string(),
                AnyPoolOptions::new()
                    .max_connections(1)
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None),
            ),
            Target::SqliteFile(path) => {
                let opts = prepare_sqlite_file(&path).await.map_err(|e| match e {
                    StoreError::Db(source) => open_err(source),
                    other => other,
                })?;
                (
                    Backend::Sqlite,
                    opts.to_url_lossy().to_string(),
                    // SQLite writes one at a time anyway; the rest serve readers (API, CLI).
                    AnyPoolOptions::new().max_connections(4),
                )
            }
        };
        let options: AnyConnectOptions = url.parse().map_err(open_err)?;
        // One direct connection first: a pool only reports "timed out" and hides why.
        AnyConnection::connect_with(&options)
            .await
            .map_err(open_err)?
            .close()
            .await
            .map_err(open_err)?;
        let pool = pool_options
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(open_err)?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|source| StoreError::Migrate {
                location: location.clone(),
                source,
            })?;
        Ok(Store {
            pool,
            backend,
            location,
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Where the database is, password hidden.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Waits for open connections to finish and closes them.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Records a new call in state `ringing`.
    pub async fn call_started(&self, c: &CallStart) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        insert_call(&mut conn, c).await
    }

    /// The call was answered with this codec: `ringing` → `up`.
    pub async fn call_answered(
        &self,
        call_id: &str,
        at: DateTime<Utc>,
        codec: &str,
    ) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        answer_call(&mut conn, call_id, at, codec).await
    }

    /// The call ended: `ringing`/`up` → `ended`, with durations, cause and quality.
    pub async fn call_ended(&self, e: &CallEnd) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        end_call(&mut conn, e).await
    }

    /// Writes a batch of events in one transaction. `Err` means nothing was written (the
    /// database failed; the batch may be retried). `Ok` lists the events that were skipped
    /// because they do not fit the stored calls (index into `events`, reason); the others
    /// are written.
    pub async fn apply(&self, events: &[CdrEvent]) -> Result<Vec<(usize, StoreError)>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut rejected = Vec::new();
        for (i, ev) in events.iter().enumerate() {
            let r = match ev {
                CdrEvent::Started(c) => insert_call(&mut tx, c).await,
                CdrEvent::Answered { call_id, at, codec } => {
                    answer_call(&mut tx, call_id, *at, codec).await
                }
                CdrEvent::Ended(e) => end_call(&mut tx, e).await,
                CdrEvent::Disposition {
                    call_id,
                    disposition,
                    notes,
                } => set_disposition(&mut tx, call_id, disposition, notes).await,
            };
            match r {
                Ok(()) => {}
                Err(StoreError::Db(e)) => return Err(StoreError::Db(e)),
                Err(other) => rejected.push((i, other)),
            }
        }
        tx.commit().await?;
        Ok(rejected)
    }

    /// Records that `node_id` is alive at `at` (its store task calls this every few seconds),
    /// so that [`Store::mark_interrupted`] knows when a crashed node was last seen.
    pub async fn heartbeat(&self, node_id: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO nodes (node_id, last_seen_ms) VALUES ($1, $2) \
             ON CONFLICT (node_id) DO UPDATE SET last_seen_ms = excluded.last_seen_ms",
        )
        .bind(node_id.to_string())
        .bind(at.timestamp_millis())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// At startup, before the first [`Store::heartbeat`]: this node's calls still `ringing`
    /// or `up` were cut off by a crash or kill; mark them `interrupted`, ended at the last
    /// known time (the node's last heartbeat, or the call's own last event if later), with
    /// side `system`. Returns how many calls were marked.
    pub async fn mark_interrupted(&self, node_id: &str) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let last_seen: Option<i64> =
            sqlx::query_scalar("SELECT last_seen_ms FROM nodes WHERE node_id = $1")
                .bind(node_id.to_string())
                .fetch_optional(&mut *tx)
                .await?;
        let open = sqlx::query(
            "SELECT call_id, started_at_ms, answered_at_ms FROM calls \
             WHERE node_id = $1 AND state IN ('ringing', 'up')",
        )
        .bind(node_id.to_string())
        .fetch_all(&mut *tx)
        .await?;
        let mut marked = 0;
        for row in open {
            let call_id: String = row.try_get("call_id")?;
            let started: i64 = row.try_get("started_at_ms")?;
            let answered: Option<i64> = row.try_get("answered_at_ms")?;
            let own_last = answered.map_or(started, |a| a.max(started));
            let ended = last_seen.map_or(own_last, |seen| seen.max(own_last));
            let billable = answered.map_or(0, |a| seconds_rounded_up(a, ended));
            let done = sqlx::query(
                "UPDATE calls SET state = 'interrupted', ended_at_ms = $2, duration_s = $3, \
                 billable_s = $4, hangup_cause = $5, hangup_side = 'system' \
                 WHERE call_id = $1 AND state IN ('ringing', 'up')",
            )
            .bind(call_id)
            .bind(ended)
            .bind(seconds_rounded_up(started, ended))
            .bind(billable)
            .bind(INTERRUPTED_CAUSE)
            .execute(&mut *tx)
            .await?;
            marked += done.rows_affected();
        }
        tx.commit().await?;
        Ok(marked)
    }

    /// Calls matching `q`, newest first.
    pub async fn list_calls(&self, q: &ListQuery) -> Result<Vec<CallRecord>, StoreError> {
        enum Param {
            Int(i64),
            Text(String),
        }
        let mut sql = String::from(SELECT_CALLS);
        let mut params = Vec::new();
        let cond = |sql: &mut String, params: &mut Vec<Param>, clause: &str, p: Param| {
            params.push(p);
            sql.push_str(if params.len() == 1 {
                " WHERE "
            } else {
                " AND "
            });
            // Each clause names its parameter `$n` once or twice, always the same n.
            sql.push_str(&clause.replace("$n", &format!("${}", params.len())));
        };
        if let Some(since) = q.since {
            let p = Param::Int(since.timestamp_millis());
            cond(&mut sql, &mut params, "started_at_ms >= $n", p);
        }
        if let Some(until) = q.until {
            let p = Param::Int(until.timestamp_millis());
            cond(&mut sql, &mut params, "started_at_ms < $n", p);
        }
        if let Some(tenant) = &q.tenant {
            let p = Param::Text(tenant.clone());
            cond(&mut sql, &mut params, "tenant = $n", p);
        }
        if let Some(flow) = &q.flow {
            let p = Param::Text(flow.clone());
            cond(&mut sql, &mut params, "flow = $n", p);
        }
        if let Some(number) = &q.number {
            let p = Param::Text(number.clone());
            cond(
                &mut sql,
                &mut params,
                "(from_number = $n OR to_number = $n)",
                p,
            );
        }
        params.push(Param::Int(i64::from(q.limit.max(1))));
        sql.push_str(&format!(
            " ORDER BY started_at_ms DESC, call_id DESC LIMIT ${}",
            params.len()
        ));
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for p in params {
            query = match p {
                Param::Int(i) => query.bind(i),
                Param::Text(s) => query.bind(s),
            };
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter().map(record_from_row).collect()
    }
}

/// Creates the directories and the file, and switches the file to WAL (a persistent
/// setting, so it is done once here rather than on every pooled connection).
async fn prepare_sqlite_file(path: &Path) -> Result<SqliteConnectOptions, StoreError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(|source| StoreError::CreateDir {
        dir: dir.clone(),
        source,
    })?;
    // An absolute path keeps the URL unambiguous (`sqlite://var/x` would read `var` as a host).
    let dir = std::fs::canonicalize(&dir).map_err(|source| StoreError::CreateDir {
        dir: dir.clone(),
        source,
    })?;
    let file = match path.file_name() {
        Some(f) => dir.join(f),
        None => return Err(StoreError::UnsupportedUrl(path.display().to_string())),
    };
    let opts = SqliteConnectOptions::new()
        .filename(&file)
        .create_if_missing(true)
        .busy_timeout(Duration::from_secs(5));
    let conn = opts
        .clone()
        .journal_mode(SqliteJournalMode::Wal)
        .connect()
        .await?;
    conn.close().await?;
    Ok(opts)
}

const SELECT_CALLS: &str = "SELECT call_id, tenant, node_id, from_number, to_number, \
     started_at_ms, answered_at_ms, ended_at_ms, duration_s, billable_s, hangup_cause, \
     hangup_side, digits, codec, loss_pct, jitter_ms, mos, recording, state, flow, ivr_path, \
     voicemail, queue, queue_wait_s, agent, disposition, notes FROM calls";

async fn insert_call(conn: &mut AnyConnection, c: &CallStart) -> Result<(), StoreError> {
    let done = sqlx::query(
        "INSERT INTO calls (call_id, tenant, node_id, from_number, to_number, started_at_ms, \
         flow, state) VALUES ($1, $2, $3, $4, $5, $6, $7, 'ringing') \
         ON CONFLICT (call_id) DO NOTHING",
    )
    .bind(c.call_id.clone())
    .bind(c.tenant.clone())
    .bind(c.node_id.clone())
    .bind(c.from.clone())
    .bind(c.to.clone())
    .bind(c.at.timestamp_millis())
    .bind(c.flow.clone())
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::DuplicateCall(c.call_id.clone()));
    }
    Ok(())
}

async fn answer_call(
    conn: &mut AnyConnection,
    call_id: &str,
    at: DateTime<Utc>,
    codec: &str,
) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE calls SET answered_at_ms = $2, codec = $3, state = 'up' \
         WHERE call_id = $1 AND state = 'ringing'",
    )
    .bind(call_id.to_string())
    .bind(at.timestamp_millis())
    .bind(codec.to_string())
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Err(why_not(conn, call_id, "answered").await);
    }
    Ok(())
}

async fn end_call(conn: &mut AnyConnection, e: &CallEnd) -> Result<(), StoreError> {
    // Durations round a started second up, as `seconds_rounded_up` does.
    let done = sqlx::query(
        "UPDATE calls SET ended_at_ms = $2, \
         duration_s = CASE WHEN $2 > started_at_ms \
             THEN ($2 - started_at_ms + 999) / 1000 ELSE 0 END, \
         billable_s = CASE WHEN answered_at_ms IS NULL OR $2 <= answered_at_ms \
             THEN 0 ELSE ($2 - answered_at_ms + 999) / 1000 END, \
         hangup_cause = $3, hangup_side = $4, digits = $5, loss_pct = $6, jitter_ms = $7, \
         mos = $8, recording = $9, ivr_path = $10, voicemail = $11, queue = $12, \
         queue_wait_s = $13, agent = $14, state = 'ended' \
         WHERE call_id = $1 AND state IN ('ringing', 'up')",
    )
    .bind(e.call_id.clone())
    .bind(e.at.timestamp_millis())
    .bind(e.cause.clone())
    .bind(e.side.as_str())
    .bind(e.digits.clone())
    .bind(finite(e.loss_pct))
    .bind(finite(e.jitter_ms))
    .bind(finite(e.mos))
    .bind(e.recording.clone())
    .bind(capped_path(&e.ivr_path))
    .bind(e.voicemail.clone())
    .bind(e.queue.clone())
    .bind(e.queue_wait_s)
    .bind(e.agent.clone())
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Err(why_not(conn, &e.call_id, "ended").await);
    }
    Ok(())
}

async fn set_disposition(
    conn: &mut AnyConnection,
    call_id: &str,
    disposition: &str,
    notes: &str,
) -> Result<(), StoreError> {
    // Notes are free text from a form: keep them to a sane size.
    let notes: String = notes.chars().take(4000).collect();
    let done = sqlx::query("UPDATE calls SET disposition = $2, notes = $3 WHERE call_id = $1")
        .bind(call_id.to_string())
        .bind(disposition.to_string())
        .bind(notes)
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::UnknownCall(call_id.to_string()));
    }
    Ok(())
}

/// Longest IVR path stored, in bytes: a caller looping in a menu for an hour must not make
/// a megabyte row. Long enough for any sensible walk through a flow.
pub const MAX_IVR_PATH: usize = 2000;

/// `path`, or its first [`MAX_IVR_PATH`] bytes (cut at a char boundary) ending in `…`.
fn capped_path(path: &str) -> String {
    if path.len() <= MAX_IVR_PATH {
        return path.to_string();
    }
    const MORE: &str = "…";
    let mut cut = MAX_IVR_PATH - MORE.len();
    while !path.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{MORE}", &path[..cut])
}

/// NaN or infinite quality numbers are stored as unknown.
fn finite(v: Option<f64>) -> Option<f64> {
    v.filter(|x| x.is_finite())
}

/// Why an update matched no row: no such call, or the call is in another state.
async fn why_not(conn: &mut AnyConnection, call_id: &str, action: &'static str) -> StoreError {
    let state: Result<Option<String>, _> =
        sqlx::query_scalar("SELECT state FROM calls WHERE call_id = $1")
            .bind(call_id.to_string())
            .fetch_optional(&mut *conn)
            .await;
    match state {
        Ok(None) => StoreError::UnknownCall(call_id.to_string()),
        Ok(Some(state)) => StoreError::WrongState {
            call_id: call_id.to_string(),
            state,
            action,
        },
        Err(e) => StoreError::Db(e),
    }
}

fn record_from_row(row: &AnyRow) -> Result<CallRecord, StoreError> {
    let call_id: String = row.try_get("call_id")?;
    let bad = |column: &'static str, problem: String| StoreError::BadRow {
        call_id: call_id.clone(),
        column,
        problem,
    };
    let time = |column: &'static str, ms: i64| {
        DateTime::from_timestamp_millis(ms)
            .ok_or_else(|| bad(column, format!("{ms} ms is out of range")))
    };
    let opt_time = |column: &'static str| -> Result<Option<DateTime<Utc>>, StoreError> {
        let ms: Option<i64> = row.try_get(column)?;
        ms.map(|ms| time(column, ms)).transpose()
    };
    let state: String = row.try_get("state")?;
    let side: Option<String> = row.try_get("hangup_side")?;
    Ok(CallRecord {
        tenant: row.try_get("tenant")?,
        node_id: row.try_get("node_id")?,
        from: row.try_get("from_number")?,
        to: row.try_get("to_number")?,
        started_at: time("started_at_ms", row.try_get("started_at_ms")?)?,
        answered_at: opt_time("answered_at_ms")?,
        ended_at: opt_time("ended_at_ms")?,
        duration_s: row.try_get("duration_s")?,
        billable_s: row.try_get("billable_s")?,
        hangup_cause: row.try_get("hangup_cause")?,
        hangup_side: side
            .map(|s| s.parse::<HangupSide>())
            .transpose()
            .map_err(|e| bad("hangup_side", e.to_string()))?,
        digits: row.try_get("digits")?,
        codec: row.try_get("codec")?,
        loss_pct: row.try_get("loss_pct")?,
        jitter_ms: row.try_get("jitter_ms")?,
        mos: row.try_get("mos")?,
        recording: row.try_get("recording")?,
        state: state
            .parse::<CallState>()
            .map_err(|e| bad("state", e.to_string()))?,
        flow: row.try_get("flow")?,
        ivr_path: row.try_get("ivr_path")?,
        voicemail: row.try_get("voicemail")?,
        queue: row.try_get("queue")?,
        queue_wait_s: row.try_get("queue_wait_s")?,
        agent: row.try_get("agent")?,
        disposition: row.try_get("disposition")?,
        notes: row.try_get("notes")?,
        call_id,
    })
}

#[cfg(test)]
#[path = "db_tests.rs"]
mod tests;
