//! `GET /api/v1/flows`: every flow file, the version in service and, for a broken edit, its
//! errors (file:line:col) — what an operator checks after editing `ivr-flows/`.

use crate::call::flow_registry::{FlowRegistry, FlowStatus};
use axum::{Json, Router, extract::State, routing::get};
use std::sync::Arc;

pub fn router(registry: Arc<FlowRegistry>) -> Router {
    Router::new()
        .route("/api/v1/flows", get(list))
        .with_state(registry)
}

async fn list(State(registry): State<Arc<FlowRegistry>>) -> Json<Vec<FlowStatus>> {
    Json(registry.status())
}
