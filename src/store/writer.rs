//! The store task: the one writer of CDRs. Calls and media send [`CdrEvent`]s on a channel
//! (never touching the database themselves); this task writes whatever has queued up as one
//! transaction, and beats the node's heartbeat so a crash leaves a known "last seen".

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::mpsc;
use tracing::{debug, error, warn};

use super::cdr::CdrEvent;
use super::db::{Store, StoreError};

/// How the store task batches, retries and beats.
#[derive(Debug, Clone)]
pub struct WriterConfig {
    pub node_id: String,
    /// At most this many events per transaction.
    pub max_batch: usize,
    pub heartbeat_every: Duration,
    /// Attempts at a batch when the database fails, waiting `retry_wait × attempt` between.
    pub attempts: u32,
    pub retry_wait: Duration,
}

impl WriterConfig {
    pub fn new(node_id: impl Into<String>) -> WriterConfig {
        WriterConfig {
            node_id: node_id.into(),
            max_batch: 256,
            heartbeat_every: Duration::from_secs(5),
            attempts: 5,
            retry_wait: Duration::from_millis(200),
        }
    }
}

/// Runs until every sender of `rx` is dropped, then returns after writing what was queued.
/// Call [`Store::mark_interrupted`] before starting it: its first act is a heartbeat, which
/// would otherwise move this node's "last seen" past the crash it is meant to date.
pub async fn run(store: Arc<Store>, mut rx: mpsc::Receiver<CdrEvent>, cfg: WriterConfig) {
    beat(&store, &cfg.node_id).await;
    let every = cfg.heartbeat_every.max(Duration::from_millis(10));
    let mut beats = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    beats.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut batch = Vec::with_capacity(cfg.max_batch);
    loop {
        tokio::select! {
            n = rx.recv_many(&mut batch, cfg.max_batch.max(1)) => {
                if n == 0 {
                    break;
                }
                write_batch(&store, &batch, &cfg).await;
                batch.clear();
            }
            _ = beats.tick() => beat(&store, &cfg.node_id).await,
        }
    }
    debug!("CDR store task: channel closed, stopping");
}

async fn beat(store: &Store, node_id: &str) {
    if let Err(e) = store.heartbeat(node_id, Utc::now()).await {
        warn!(error = %e, "CDR store: heartbeat not written");
    }
}

async fn write_batch(store: &Store, batch: &[CdrEvent], cfg: &WriterConfig) {
    let attempts = cfg.attempts.max(1);
    for attempt in 1..=attempts {
        match store.apply(batch).await {
            Ok(rejected) => {
                for (i, e) in rejected {
                    warn!(call_id = %batch[i].call_id(), error = %e, "CDR event skipped");
                }
                return;
            }
            Err(e) if attempt < attempts => {
                warn!(error = %e, attempt, events = batch.len(), "CDR batch failed; retrying");
                tokio::time::sleep(cfg.retry_wait * attempt).await;
            }
            Err(e) => {
                lost(batch, &e);
                return;
            }
        }
    }
}

fn lost(batch: &[CdrEvent], e: &StoreError) {
    let ids: Vec<&str> = batch.iter().map(CdrEvent::call_id).collect();
    error!(error = %e, events = batch.len(), call_ids = ?ids, "CDR batch lost after retries");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{CallEnd, CallStart, CallState, HangupSide, ListQuery};
    use chrono::DateTime;

    fn at(ms: i64) -> chrono::DateTime<Utc> {
        DateTime::from_timestamp_millis(1_748_764_800_000 + ms).unwrap()
    }

    #[tokio::test]
    async fn writes_queued_events_beats_and_stops_when_senders_go() {
        let store = Arc::new(Store::open("sqlite::memory:").await.unwrap());
        let (tx, rx) = mpsc::channel(64);
        for i in 0..10 {
            tx.send(CdrEvent::Started(CallStart {
                call_id: format!("c{i}"),
                tenant: "acme".into(),
                node_id: "n1".into(),
                from: "1001".into(),
                to: "4008001234".into(),
                at: at(i),
                flow: None,
            }))
            .await
            .unwrap();
        }
        tx.send(CdrEvent::Answered {
            call_id: "c3".into(),
            at: at(100),
            codec: "PCMA".into(),
        })
        .await
        .unwrap();
        tx.send(CdrEvent::Ended(CallEnd {
            call_id: "c3".into(),
            at: at(2_100),
            cause: "BYE".into(),
            side: HangupSide::Caller,
            digits: String::new(),
            loss_pct: None,
            jitter_ms: None,
            mos: None,
            recording: None,
            ivr_path: "greeting>menu[2]>returns".into(),
            voicemail: None,
            queue: None,
            queue_wait_s: None,
            agent: None,
        }))
        .await
        .unwrap();
        // An event that cannot apply is skipped, not fatal.
        tx.send(CdrEvent::Answered {
            call_id: "ghost".into(),
            at: at(1),
            codec: "PCMA".into(),
        })
        .await
        .unwrap();
        drop(tx);
        let mut cfg = WriterConfig::new("n1");
        cfg.max_batch = 4;
        tokio::time::timeout(Duration::from_secs(10), run(store.clone(), rx, cfg))
            .await
            .expect("the task stops once its senders are gone");

        let calls = store
            .list_calls(&ListQuery {
                limit: 100,
                ..ListQuery::default()
            })
            .await
            .unwrap();
        assert_eq!(calls.len(), 10);
        let c3 = calls.iter().find(|c| c.call_id == "c3").unwrap();
        assert_eq!((c3.state, c3.billable_s), (CallState::Ended, Some(2)));
        assert_eq!(c3.ivr_path, "greeting>menu[2]>returns");
        // The heartbeat was written: a crash now dates open calls no earlier than it.
        assert_eq!(store.mark_interrupted("n1").await.unwrap(), 9);
        let c0 = calls.iter().find(|c| c.call_id == "c0").unwrap();
        let c0_after = store
            .list_calls(&ListQuery::default())
            .await
            .unwrap()
            .into_iter()
            .find(|c| c.call_id == "c0")
            .unwrap();
        assert_eq!(c0_after.state, CallState::Interrupted);
        // (The heartbeat is wall-clock time, later than these 2025 test times.)
        assert!(c0_after.ended_at.unwrap() > c0.started_at);
    }
}
