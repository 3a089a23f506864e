//! `GET /api/v1/queues/stats`: every queue's live figures (waiting, longest wait, agents by
//! state) and its last 15 minutes and today (service level, ASA, AHT, abandon rate), as the
//! call manager last published them.

use crate::acd::QueueStats;
use axum::{Json, Router, extract::State, routing::get};
use tokio::sync::watch;

pub fn router(stats: watch::Receiver<Vec<QueueStats>>) -> Router {
    Router::new()
        .route("/api/v1/queues/stats", get(list))
        .with_state(stats)
}

async fn list(State(stats): State<watch::Receiver<Vec<QueueStats>>>) -> Json<Vec<QueueStats>> {
    Json(stats.borrow().clone())
}
