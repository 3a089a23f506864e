//! Queue events in the store: saved as they happen, read back at start (today's) so queue
//! statistics survive a restart, and pruned after a retention period.

use super::db::{Store, StoreError};
use chrono::{DateTime, Utc};
use sqlx::Row;

#[derive(Clone, Debug, PartialEq)]
pub struct QueueEventRow {
    pub tenant: String,
    pub queue: String,
    pub at: DateTime<Utc>,
    pub kind: String,
    pub secs: Option<f64>,
}

impl Store {
    /// Saves a batch in one transaction.
    pub async fn save_queue_events(&self, rows: &[QueueEventRow]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for r in rows {
            sqlx::query(
                "INSERT INTO queue_events (tenant, queue, at_ms, kind, secs) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(r.tenant.clone())
            .bind(r.queue.clone())
            .bind(r.at.timestamp_millis())
            .bind(r.kind.clone())
            .bind(r.secs)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Events at or after `since`, oldest first.
    pub async fn queue_events_since(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<QueueEventRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT tenant, queue, at_ms, kind, secs FROM queue_events WHERE at_ms >= $1 ORDER BY at_ms",
        )
        .bind(since.timestamp_millis())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let ms: i64 = r.try_get("at_ms")?;
                Ok(QueueEventRow {
                    tenant: r.try_get("tenant")?,
                    queue: r.try_get("queue")?,
                    at: DateTime::from_timestamp_millis(ms).unwrap_or_default(),
                    kind: r.try_get("kind")?,
                    secs: r.try_get("secs")?,
                })
            })
            .collect()
    }

    /// Drops events older than `before`; returns how many.
    pub async fn prune_queue_events(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM queue_events WHERE at_ms < $1")
            .bind(before.timestamp_millis())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn row(queue: &str, at: DateTime<Utc>, kind: &str, secs: Option<f64>) -> QueueEventRow {
        QueueEventRow {
            tenant: "acme".into(),
            queue: queue.into(),
            at,
            kind: kind.into(),
            secs,
        }
    }

    #[tokio::test]
    async fn events_are_saved_read_back_in_order_and_pruned() {
        let store = Store::open("sqlite::memory:").await.unwrap();
        let now = DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap();
        let old = now - Duration::days(50);
        store
            .save_queue_events(&[
                row("orders", now, "answered", Some(7.25)),
                row("orders", now - Duration::seconds(30), "offered", None),
                row("vip", old, "offered", None),
            ])
            .await
            .unwrap();
        let back = store
            .queue_events_since(now - Duration::hours(1))
            .await
            .unwrap();
        assert_eq!(
            back,
            [
                row("orders", now - Duration::seconds(30), "offered", None),
                row("orders", now, "answered", Some(7.25)),
            ]
        );
        let pruned = store
            .prune_queue_events(now - Duration::days(40))
            .await
            .unwrap();
        assert_eq!(pruned, 1);
        assert_eq!(store.queue_events_since(old).await.unwrap().len(), 2);
    }
}
