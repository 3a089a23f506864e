//! HTTP API (axum): health with live SIP counters per profile, and the CDRs
//! (`calls.rs`); WebSocket events and the agent pages grow here.

pub mod agent_auth;
pub mod agent_page;
pub mod agent_sessions;
pub mod agent_ws;
pub mod calls;
pub mod flows;
pub mod queues;
pub mod tts;

use crate::sip::endpoint::EndpointStats;
use axum::{Json, Router, extract::State, routing::get};
use serde_json::{Value, json};
use std::sync::Arc;
use tokio::sync::watch;

/// One profile's live counters, as published by its SIP driver.
pub struct ProfileStats {
    pub name: String,
    pub listen: String,
    pub stats: watch::Receiver<EndpointStats>,
}

pub struct ApiState {
    pub node_id: String,
    pub version: &'static str,
    pub profiles: Vec<ProfileStats>,
}

pub fn router(state: Arc<ApiState>) -> Router {
    Router::new()
        .route("/api/v1/health", get(health))
        .with_state(state)
}

async fn health(State(s): State<Arc<ApiState>>) -> Json<Value> {
    let profiles: Vec<Value> = s
        .profiles
        .iter()
        .map(|p| {
            let st = *p.stats.borrow();
            json!({
                "name": p.name,
                "listen": p.listen,
                "active_calls": st.active_calls,
                "calls_total": st.calls_total,
                "rejected_total": st.rejected_total,
                "bad_requests": st.bad_requests,
                "rate_limited": st.rate_limited,
                "registrations": st.registrations,
                "rtp_ports_in_use": st.rtp_ports_in_use,
            })
        })
        .collect();
    Json(json!({
        "status": "ok",
        "node_id": s.node_id,
        "version": s.version,
        "profiles": profiles,
    }))
}
