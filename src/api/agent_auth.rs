//! Agent sign-in over HTTP: `POST /api/v1/agent/login` (JSON `{tenant, login, password}`)
//! gives a token, also set as the `hotline_agent` HttpOnly cookie the softphone page and its
//! WebSocket use; `GET /api/v1/agent/me` and `POST /api/v1/agent/logout`. Wrong passwords
//! get one answer whatever was wrong, and five in a row lock the login for a minute.

use super::agent_sessions::{AgentId, Sessions};
use crate::store::{AgentRecord, Store};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rand::RngCore;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub const COOKIE: &str = "hotline_agent";

#[derive(Clone)]
pub struct AgentAuth {
    pub store: Arc<Store>,
    pub sessions: Arc<Mutex<Sessions>>,
}

impl AgentAuth {
    pub fn new(store: Arc<Store>) -> AgentAuth {
        AgentAuth {
            store,
            sessions: Arc::new(Mutex::new(Sessions::default())),
        }
    }

    /// The signed-in agent of a request: `Authorization: Bearer TOKEN` or the cookie.
    pub fn agent_of(&self, headers: &HeaderMap) -> Option<AgentId> {
        let token = token_of(headers)?;
        self.sessions.lock().ok()?.check(&token, Instant::now())
    }
}

pub fn token_of(headers: &HeaderMap) -> Option<String> {
    if let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        && let Some(t) = v.strip_prefix("Bearer ")
    {
        return Some(t.trim().to_string());
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
}

pub fn router(auth: AgentAuth) -> Router {
    Router::new()
        .route("/api/v1/agent/login", post(login))
        .route("/api/v1/agent/logout", post(logout))
        .route("/api/v1/agent/me", get(me))
        .with_state(auth)
}

#[derive(Deserialize)]
struct LoginBody {
    #[serde(default = "default_tenant")]
    tenant: String,
    login: String,
    password: String,
}

fn default_tenant() -> String {
    "default".into()
}

pub fn agent_json(a: &AgentRecord) -> Value {
    json!({
        "tenant": a.tenant,
        "login": a.login,
        "name": a.display_name,
        "skills": a.skills,
        "sip_user": a.sip_user,
    })
}

fn error(status: StatusCode, msg: &str) -> Response {
    (status, Json(json!({ "error": msg }))).into_response()
}

async fn login(
    State(auth): State<AgentAuth>,
    body: Result<Json<LoginBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Ok(Json(body)) = body else {
        return error(
            StatusCode::BAD_REQUEST,
            "send JSON {\"tenant\": \"acme\", \"login\": \"alice\", \"password\": \"...\"} with Content-Type: application/json",
        );
    };
    let id = AgentId {
        tenant: body.tenant.clone(),
        login: body.login.clone(),
    };
    let now = Instant::now();
    if let Some(wait) = auth.sessions.lock().ok().and_then(|s| s.locked(&id, now)) {
        let msg = format!(
            "too many wrong passwords for this login; try again in {} s",
            wait.as_secs() + 1
        );
        return error(StatusCode::TOO_MANY_REQUESTS, &msg);
    }
    let found = match auth
        .store
        .check_agent_login(&body.tenant, &body.login, &body.password)
        .await
    {
        Ok(f) => f,
        Err(e) => {
            tracing::warn!(error = %e, "agent login failed on the store");
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the agent database is unavailable; try again",
            );
        }
    };
    let Some(agent) = found else {
        if let Ok(mut s) = auth.sessions.lock() {
            s.failed(id, now);
        }
        return error(StatusCode::UNAUTHORIZED, "wrong tenant, login or password");
    };
    let mut raw = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut raw);
    let token = hex::encode(raw);
    if let Ok(mut s) = auth.sessions.lock() {
        s.issue(id, token.clone(), now);
    }
    tracing::info!(tenant = %agent.tenant, login = %agent.login, "agent signed in");
    let cookie = format!("{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/");
    let mut resp = Json(json!({ "token": token, "agent": agent_json(&agent) })).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

async fn logout(State(auth): State<AgentAuth>, headers: HeaderMap) -> Response {
    if let (Some(t), Ok(mut s)) = (token_of(&headers), auth.sessions.lock()) {
        s.revoke(&t);
    }
    let mut resp = StatusCode::NO_CONTENT.into_response();
    let clear = format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    if let Ok(v) = HeaderValue::from_str(&clear) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

async fn me(State(auth): State<AgentAuth>, headers: HeaderMap) -> Response {
    let Some(id) = auth.agent_of(&headers) else {
        return error(
            StatusCode::UNAUTHORIZED,
            "sign in first: POST /api/v1/agent/login",
        );
    };
    match auth.store.list_agents(Some(&id.tenant)).await {
        Ok(list) => match list.into_iter().find(|a| a.login == id.login) {
            Some(a) => Json(agent_json(&a)).into_response(),
            None => error(StatusCode::UNAUTHORIZED, "this agent no longer exists"),
        },
        Err(_) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the agent database is unavailable; try again",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{NewAgent, parse_skills};
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    async fn app() -> Router {
        let store = Arc::new(Store::open("sqlite::memory:").await.unwrap());
        store
            .add_agent(
                &NewAgent {
                    tenant: "acme".into(),
                    login: "alice".into(),
                    display_name: "Alice".into(),
                    password: "correct horse".into(),
                    skills: parse_skills("lang:zh=5").unwrap(),
                    sip_user: None,
                },
                chrono::Utc::now(),
            )
            .await
            .unwrap();
        router(AgentAuth::new(store))
    }

    async fn call(app: &Router, req: Request<Body>) -> (StatusCode, HeaderMap, Value) {
        let resp = app.clone().oneshot(req).await.unwrap();
        let (status, headers) = (resp.status(), resp.headers().clone());
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        let v = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, headers, v)
    }

    fn login_req(pw: &str) -> Request<Body> {
        Request::post("/api/v1/agent/login")
            .header("content-type", "application/json")
            .body(Body::from(format!(
                r#"{{"tenant":"acme","login":"alice","password":"{pw}"}}"#
            )))
            .unwrap()
    }

    #[tokio::test]
    async fn sign_in_gives_a_token_and_a_cookie_that_identify_the_agent() {
        let app = app().await;
        let (st, headers, v) = call(&app, login_req("correct horse")).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        let token = v["token"].as_str().unwrap().to_string();
        assert_eq!(token.len(), 64);
        assert_eq!(v["agent"]["name"], "Alice");
        let cookie = headers[header::SET_COOKIE].to_str().unwrap();
        assert!(cookie.starts_with(&format!("{COOKIE}={token}")) && cookie.contains("HttpOnly"));
        let me = Request::get("/api/v1/agent/me")
            .header("cookie", format!("other=1; {COOKIE}={token}"))
            .body(Body::empty())
            .unwrap();
        let (st, _, v) = call(&app, me).await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(v["skills"][0]["name"], "lang:zh");
        let out = Request::post("/api/v1/agent/logout")
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        assert_eq!(call(&app, out).await.0, StatusCode::NO_CONTENT);
        let me = Request::get("/api/v1/agent/me")
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        assert_eq!(call(&app, me).await.0, StatusCode::UNAUTHORIZED);
    }

    #[tokio::test]
    async fn wrong_passwords_are_refused_then_locked_and_bad_bodies_explained() {
        let app = app().await;
        for _ in 0..5 {
            let (st, _, v) = call(&app, login_req("wrong horse")).await;
            assert_eq!(st, StatusCode::UNAUTHORIZED);
            assert_eq!(v["error"], "wrong tenant, login or password");
        }
        let (st, _, v) = call(&app, login_req("correct horse")).await;
        assert_eq!(st, StatusCode::TOO_MANY_REQUESTS, "{v}");
        let bad = Request::post("/api/v1/agent/login")
            .header("content-type", "application/json")
            .body(Body::from("{"))
            .unwrap();
        let (st, _, v) = call(&app, bad).await;
        assert_eq!(st, StatusCode::BAD_REQUEST);
        assert!(v["error"].as_str().unwrap().contains("send JSON"));
    }
}
