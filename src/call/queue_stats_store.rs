//! Queue statistics survive a restart: the engine's new queue events go to the store as
//! they happen (one batch per engine step, off the manager's task), and at start today's
//! events — and the last 15 minutes', when midnight was more recent — come back into the
//! engine. Events older than `KEEP_DAYS` are pruned then.

use super::queueing::{AcdRuntime, day_start};
use crate::acd::QueueEvent;
use crate::store::QueueEventRow;
use chrono::{DateTime, Utc};
use std::time::{Duration, Instant};
use tracing::{info, warn};

/// How long queue events stay in the store (reports over a quarter).
const KEEP_DAYS: i64 = 92;

/// The wall-clock time of `at`, given a (monotonic, wall) pair read together.
fn wall_of(at: Instant, now: Instant, now_wall: DateTime<Utc>) -> DateTime<Utc> {
    let ago = now.saturating_duration_since(at);
    now_wall - chrono::Duration::from_std(ago).unwrap_or_default()
}

/// The monotonic time of a stored wall-clock time; `None` if it lies before this clock's
/// origin (a restart right after boot) or in the future (a clock step).
fn instant_of(at: DateTime<Utc>, now: Instant, now_wall: DateTime<Utc>) -> Option<Instant> {
    let ago = (now_wall - at).to_std().ok()?;
    now.checked_sub(ago)
}

impl AcdRuntime {
    /// Reads back today's queue events (and the rolling window's) and prunes old ones.
    pub async fn restore_stats(&mut self) {
        let Some(store) = self.store.clone() else {
            return;
        };
        let (now, now_wall) = (Instant::now(), Utc::now());
        let window = now.checked_sub(Duration::from_secs(15 * 60)).unwrap_or(now);
        let since = wall_of(day_start(now).min(window), now, now_wall);
        let rows = match store.queue_events_since(since).await {
            Ok(r) => r,
            Err(e) => {
                warn!(error = %e, "queue statistics not restored; today's figures start from zero");
                return;
            }
        };
        let (mut restored, mut skipped) = (0usize, 0usize);
        for r in &rows {
            let ev = QueueEvent::from_row(&r.kind, r.secs);
            let at = instant_of(r.at, now, now_wall);
            match (ev, at) {
                (Some(ev), Some(at)) if self.acd.restore_stat(&r.tenant, &r.queue, at, ev) => {
                    restored += 1
                }
                _ => skipped += 1,
            }
        }
        if !rows.is_empty() {
            info!(
                restored,
                skipped, "queue statistics restored from the store"
            );
        }
        let before = now_wall - chrono::Duration::days(KEEP_DAYS);
        match store.prune_queue_events(before).await {
            Ok(n) if n > 0 => info!(pruned = n, "old queue events pruned"),
            Ok(_) => {}
            Err(e) => warn!(error = %e, "old queue events not pruned"),
        }
    }

    /// Sends the engine's new queue events to the store.
    pub(super) fn save_stats(&mut self) {
        let events = self.acd.take_unsaved_stats();
        let Some(store) = self.store.clone() else {
            return;
        };
        if events.is_empty() {
            return;
        }
        let (now, now_wall) = (Instant::now(), Utc::now());
        let rows: Vec<QueueEventRow> = events
            .into_iter()
            .map(|(tenant, queue, at, ev)| {
                let (kind, secs) = ev.to_row();
                QueueEventRow {
                    tenant,
                    queue,
                    at: wall_of(at, now, now_wall),
                    kind: kind.into(),
                    secs,
                }
            })
            .collect();
        tokio::spawn(async move {
            if let Err(e) = store.save_queue_events(&rows).await {
                warn!(error = %e, events = rows.len(), "queue events not saved");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_and_wall_times_convert_both_ways() {
        let now = Instant::now();
        let now_wall = Utc::now();
        let at = now - Duration::from_secs(90);
        let wall = wall_of(at, now, now_wall);
        assert_eq!((now_wall - wall).num_seconds(), 90);
        let back = instant_of(wall, now, now_wall).unwrap();
        assert!(back.max(at) - back.min(at) < Duration::from_millis(1));
        assert_eq!(
            instant_of(now_wall + chrono::Duration::seconds(5), now, now_wall),
            None
        );
    }
}
