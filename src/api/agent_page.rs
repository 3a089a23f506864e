//! The agent softphone page at `/agent`, served from the binary (plain HTML, CSS and a JS
//! module; no build step): sign-in, state, incoming calls with the caller's context,
//! WebRTC audio, hold/mute/keypad/hang-up and wrap-up, in Chinese and English.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

const INDEX: &str = include_str!("agent_page/index.html");
const APP: &str = include_str!("agent_page/app.js");
const STYLE: &str = include_str!("agent_page/style.css");

pub fn router() -> Router {
    Router::new()
        .route(
            "/agent",
            get(|| async { page(INDEX, "text/html; charset=utf-8") }),
        )
        .route(
            "/agent/",
            get(|| async { page(INDEX, "text/html; charset=utf-8") }),
        )
        .route(
            "/agent/app.js",
            get(|| async { page(APP, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/agent/style.css",
            get(|| async { page(STYLE, "text/css; charset=utf-8") }),
        )
}

fn page(body: &'static str, kind: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
}
