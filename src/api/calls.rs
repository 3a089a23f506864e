//! `GET /api/v1/calls`: recent call detail records, newest first, as
//! `{"calls": [CallRecord…]}` (the same fields as `hotline calls list --json`).
//!
//! Query: `since`, `until` (RFC 3339, a date, or a span back from now such as `1h`),
//! `limit` (default 100, at most 1000), `tenant`, `number` (caller or dialled, exact),
//! `flow` (the IVR flow that answered, exact).
//! A bad parameter gets 400 with `{"error": "...", "fix": "..."}`.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;
use tracing::warn;

use crate::store::{CallRecord, ListQuery, Store, TIME_FORMS, TimeSpec};

pub const DEFAULT_LIMIT: u32 = 100;
pub const MAX_LIMIT: u32 = 1000;
/// Longest `number`, `tenant` or `flow` accepted; anything longer is a mistake.
const MAX_FILTER_LEN: usize = 64;

/// The query string, read as text so that every mistake gets our own JSON answer.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CallsParams {
    pub since: Option<String>,
    pub until: Option<String>,
    pub limit: Option<String>,
    pub tenant: Option<String>,
    pub number: Option<String>,
    pub flow: Option<String>,
}

/// A 400 or 500 answer: what is wrong and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub error: String,
    pub fix: String,
}

impl ApiError {
    fn bad(error: String, fix: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            error,
            fix: fix.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(json!({ "error": self.error, "fix": self.fix }));
        (self.status, body).into_response()
    }
}

/// The route on its own state, for merging into the main router.
pub fn router(store: Arc<Store>) -> Router {
    Router::new()
        .route("/api/v1/calls", get(list_calls))
        .with_state(store)
}

/// `GET /api/v1/calls`.
pub async fn list_calls(
    State(store): State<Arc<Store>>,
    params: Result<Query<CallsParams>, QueryRejection>,
) -> Response {
    let query = match params {
        Ok(Query(p)) => list_query(&p, Utc::now()),
        Err(e) => Err(ApiError::bad(
            format!("cannot read the query string: {e}"),
            "use ?since=1h&limit=100&number=4008001234&tenant=acme&flow=support-en, \
             each at most once",
        )),
    };
    let query = match query {
        Ok(q) => q,
        Err(e) => return e.into_response(),
    };
    match store.list_calls(&query).await {
        Ok(calls) => Json(CallsPage { calls }).into_response(),
        Err(e) => {
            warn!(error = %e, "GET /api/v1/calls failed");
            ApiError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                error: e.to_string(),
                fix: "retry; if it persists, check the server log and the database \
                      (disk space, permissions, PostgreSQL reachable)"
                    .to_string(),
            }
            .into_response()
        }
    }
}

#[derive(Debug, serde::Serialize)]
struct CallsPage {
    calls: Vec<CallRecord>,
}

/// Checks the parameters and resolves relative times against `now`. Empty values count as
/// absent (forms send `since=` for an untouched field).
pub fn list_query(p: &CallsParams, now: DateTime<Utc>) -> Result<ListQuery, ApiError> {
    let time = |name: &str, v: &Option<String>| match given(v) {
        None => Ok(None),
        Some(s) => s
            .parse::<TimeSpec>()
            .map(|t| Some(t.resolve(now)))
            .map_err(|_| {
                ApiError::bad(
                    format!("{name}={s} is not a time"),
                    format!("write {name}= as {TIME_FORMS}"),
                )
            }),
    };
    let since = time("since", &p.since)?;
    let until = time("until", &p.until)?;
    let limit = match given(&p.limit) {
        None => DEFAULT_LIMIT,
        Some(s) => match s.parse::<u32>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                return Err(ApiError::bad(
                    format!("limit={s} is not a number from 1 to {MAX_LIMIT}"),
                    format!(
                        "use limit=1..{MAX_LIMIT} (default {DEFAULT_LIMIT}); page older calls with until="
                    ),
                ));
            }
        },
    };
    let number = match given(&p.number) {
        Some(n)
            if n.len() > MAX_FILTER_LEN
                || !n.bytes().all(|b| b.is_ascii_digit() || b"+*#".contains(&b)) =>
        {
            return Err(ApiError::bad(
                format!("number={n} is not a phone number"),
                "use digits with an optional leading + (and * or #), e.g. number=4008001234",
            ));
        }
        n => n.map(str::to_string),
    };
    let tenant = match given(&p.tenant) {
        Some(t) if t.len() > MAX_FILTER_LEN => {
            return Err(ApiError::bad(
                format!("tenant is longer than {MAX_FILTER_LEN} bytes"),
                "use the tenant's id as configured, e.g. tenant=acme",
            ));
        }
        t => t.map(str::to_string),
    };
    let flow = match given(&p.flow) {
        Some(f) if f.len() > MAX_FILTER_LEN => {
            return Err(ApiError::bad(
                format!("flow is longer than {MAX_FILTER_LEN} bytes"),
                "use the flow's name (its file name without .yaml), e.g. flow=ecommerce-zh",
            ));
        }
        f => f.map(str::to_string),
    };
    if let (Some(s), Some(u)) = (since, until)
        && s >= u
    {
        return Err(ApiError::bad(
            "since is not before until, so no call can match".to_string(),
            "swap them, or drop until= to list up to now",
        ));
    }
    Ok(ListQuery {
        since,
        until,
        limit,
        tenant,
        number,
        flow,
    })
}

/// A parameter's value, if it has one.
fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{CallStart, HangupSide};
    use chrono::TimeDelta;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-06-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn params(pairs: &[(&str, &str)]) -> CallsParams {
        let mut p = CallsParams::default();
        for (k, v) in pairs {
            let v = Some(v.to_string());
            match *k {
                "since" => p.since = v,
                "until" => p.until = v,
                "limit" => p.limit = v,
                "tenant" => p.tenant = v,
                "number" => p.number = v,
                "flow" => p.flow = v,
                _ => panic!("no parameter {k}"),
            }
        }
        p
    }

    #[test]
    fn defaults_and_resolved_times() {
        let q = list_query(&CallsParams::default(), now()).unwrap();
        assert_eq!(q, ListQuery::default());
        assert_eq!(q.limit, DEFAULT_LIMIT);
        let q = list_query(
            &params(&[
                ("since", "2h"),
                ("until", "2025-06-01T19:30:00+08:00"),
                ("limit", "1000"),
                ("tenant", "acme"),
                ("number", "+864008001234"),
                ("flow", "ecommerce-zh"),
            ]),
            now(),
        )
        .unwrap();
        assert_eq!(q.since, Some(now() - TimeDelta::hours(2)));
        assert_eq!(q.until, Some(now() - TimeDelta::minutes(30)));
        assert_eq!(q.limit, 1000);
        assert_eq!(q.tenant.as_deref(), Some("acme"));
        assert_eq!(q.number.as_deref(), Some("+864008001234"));
        assert_eq!(q.flow.as_deref(), Some("ecommerce-zh"));
        let q = list_query(
            &params(&[("since", ""), ("limit", " "), ("number", ""), ("flow", "")]),
            now(),
        );
        assert_eq!(q, Ok(ListQuery::default()));
    }

    #[test]
    fn bad_parameters_are_400_with_a_fix() {
        type Case = (
            &'static [(&'static str, &'static str)],
            &'static str,
            &'static str,
        );
        let cases: [Case; 7] = [
            (
                &[("since", "yesterday")],
                "since=yesterday is not a time",
                "30m, 1h or 2d",
            ),
            (&[("until", "1y")], "until=1y is not a time", "RFC 3339"),
            (
                &[("limit", "0")],
                "limit=0 is not a number from 1 to 1000",
                "limit=1..1000",
            ),
            (&[("limit", "1001")], "limit=1001", "default 100"),
            (&[("limit", "ten")], "limit=ten", "limit=1..1000"),
            (
                &[("number", "138 0000")],
                "number=138 0000 is not a phone number",
                "number=4008001234",
            ),
            (
                &[("since", "1h"), ("until", "2h")],
                "since is not before until",
                "swap",
            ),
        ];
        for (pairs, error, fix) in cases {
            let e = list_query(&params(pairs), now()).unwrap_err();
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{pairs:?}");
            assert!(e.error.contains(error), "{pairs:?}: {}", e.error);
            assert!(e.fix.contains(fix), "{pairs:?}: {}", e.fix);
        }
        let long = "9".repeat(65);
        assert!(list_query(&params(&[("number", &long)]), now()).is_err());
        assert!(list_query(&params(&[("tenant", &long)]), now()).is_err());
        let e = list_query(&params(&[("flow", &long)]), now()).unwrap_err();
        assert!(e.error.contains("flow is longer than 64"), "{}", e.error);
        assert!(e.fix.contains("flow=ecommerce-zh"), "{}", e.fix);
    }

    /// One HTTP/1.1 GET on a fresh connection: (status, JSON body).
    async fn get(addr: std::net::SocketAddr, target: &str) -> (u16, serde_json::Value) {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let req = format!("GET {target} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).await.unwrap();
        let text = String::from_utf8(raw).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: application/json"),
            "{head}"
        );
        (status, serde_json::from_str(body).unwrap())
    }

    #[tokio::test]
    async fn serves_calls_and_json_errors_over_http() {
        let store = Arc::new(Store::open("sqlite::memory:").await.unwrap());
        let t0 = Utc::now() - TimeDelta::hours(3);
        let flows = [Some("ecommerce-zh"), None, Some("support-en")];
        for (i, to) in ["4008001234", "4008005678", "4008001234"]
            .iter()
            .enumerate()
        {
            let id = format!("c{i}");
            let at = t0 + TimeDelta::hours(i as i64);
            store
                .call_started(&CallStart {
                    call_id: id.clone(),
                    tenant: "acme".into(),
                    node_id: "n1".into(),
                    from: "13812345678".into(),
                    to: to.to_string(),
                    at,
                    flow: flows[i].map(str::to_string),
                })
                .await
                .unwrap();
            store
                .call_ended(&crate::store::CallEnd {
                    call_id: id,
                    at: at + TimeDelta::seconds(10),
                    cause: "BYE".into(),
                    side: HangupSide::Caller,
                    digits: String::new(),
                    loss_pct: None,
                    jitter_ms: None,
                    mos: None,
                    recording: None,
                    ivr_path: if flows[i].is_some() {
                        format!("greeting>menu[{i}]>bye")
                    } else {
                        String::new()
                    },
                    voicemail: (i == 2).then(|| "recordings/voicemail/c2.wav".to_string()),
                    queue: None,
                    queue_wait_s: None,
                    agent: None,
                })
                .await
                .unwrap();
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            axum::serve(listener, router(store)).await.unwrap();
        });

        let (status, body) = get(addr, "/api/v1/calls").await;
        assert_eq!(status, 200, "{body}");
        let ids: Vec<&str> = body["calls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["call_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["c2", "c1", "c0"]);
        assert_eq!(body["calls"][0]["duration_s"], 10);
        assert_eq!(body["calls"][0]["state"], "ended");
        assert_eq!(body["calls"][0]["flow"], "support-en");
        assert_eq!(body["calls"][0]["ivr_path"], "greeting>menu[2]>bye");
        assert_eq!(body["calls"][0]["voicemail"], "recordings/voicemail/c2.wav");
        // A call no flow answered: null, "", null.
        assert!(body["calls"][1]["flow"].is_null(), "{body}");
        assert_eq!(body["calls"][1]["ivr_path"], "");
        assert!(body["calls"][1]["voicemail"].is_null(), "{body}");

        let (status, body) = get(addr, "/api/v1/calls?flow=ecommerce-zh").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["calls"].as_array().unwrap().len(), 1, "{body}");
        assert_eq!(body["calls"][0]["call_id"], "c0");
        assert_eq!(body["calls"][0]["ivr_path"], "greeting>menu[0]>bye");

        let (status, body) = get(addr, "/api/v1/calls?number=4008001234&limit=1").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["calls"].as_array().unwrap().len(), 1);
        assert_eq!(body["calls"][0]["call_id"], "c2");

        let (status, body) = get(addr, "/api/v1/calls?since=150m").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["calls"].as_array().unwrap().len(), 2);

        let (status, body) = get(addr, "/api/v1/calls?limit=5000").await;
        assert_eq!(status, 400);
        assert!(
            body["error"].as_str().unwrap().contains("limit=5000"),
            "{body}"
        );
        assert!(body["fix"].as_str().unwrap().contains("1..1000"), "{body}");

        let (status, body) = get(addr, "/api/v1/calls?limit=1&limit=2").await;
        assert_eq!(status, 400, "{body}");
        assert!(
            body["error"].as_str().unwrap().contains("query string"),
            "{body}"
        );
        assert!(
            body["fix"].as_str().unwrap().contains("at most once"),
            "{body}"
        );
        server.abort();
    }
}
