//! `GET /api/v1/tts/stats`: the prompt cache's counters (hits from memory and disk,
//! renders, failures, render times) and its hit rate, for operators and benchmarks.

use crate::tts::TtsCache;
use axum::{Json, Router, extract::State, routing::get};
use serde_json::{Value, json};
use std::sync::Arc;

pub fn router(tts: Option<Arc<TtsCache>>) -> Router {
    Router::new()
        .route("/api/v1/tts/stats", get(stats))
        .with_state(tts)
}

async fn stats(State(tts): State<Option<Arc<TtsCache>>>) -> Json<Value> {
    match tts {
        Some(t) => {
            let s = t.stats();
            Json(json!({ "enabled": true, "hit_rate": s.hit_rate(), "counters": s }))
        }
        None => Json(json!({ "enabled": false })),
    }
}
