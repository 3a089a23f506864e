//! A tiny order-lookup HTTP service, the webhook target of the example flows
//! (`ivr-flows/ecommerce-zh.yaml`, `support-en.yaml`), started by tests on 127.0.0.1:0.
//!
//! `POST /orders/lookup` takes the call context a webhook node sends (the order number in
//! `vars.order`, or a top-level `order` or `digits`) and answers from `ORDERS`:
//! found → `{"vars": {"status", "amount", "eta"?, "order_status", "order_amount",
//! "order_found": "true"}}` (the status in Chinese for a `*-zh` flow); unknown →
//! `{"vars": {"order_found": "false"}, "next": "order_not_found"}`; no number → 400.
//! Failure modes for tests: `/orders/slow` (answers after `SLOW_REPLY`), `/orders/broken`
//! (500), `/orders/garbage` (200, not JSON), `/orders/huge` (a 100 KiB reply).
//! Every request body is recorded, so a test can check what the webhook sent.
#![allow(dead_code)] // each test binary uses its own part

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use std::future::IntoFuture;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// One order of the fixed table.
pub struct Order {
    pub number: &'static str,
    pub status_zh: &'static str,
    pub status_en: &'static str,
    /// Text, so `128.50` keeps its trailing zero.
    pub amount: &'static str,
    pub eta: Option<&'static str>,
}

pub const ORDERS: &[Order] = &[
    Order {
        number: "12345678",
        status_zh: "已发货",
        status_en: "shipped",
        amount: "128.50",
        eta: Some("November 26"),
    },
    Order {
        number: "87654321",
        status_zh: "已签收",
        status_en: "delivered",
        amount: "39.90",
        eta: None,
    },
    Order {
        number: "20240615",
        status_zh: "待发货",
        status_en: "waiting to be shipped",
        amount: "56.00",
        eta: Some("November 30"),
    },
];

/// How long `/orders/slow` takes: longer than any webhook timeout a test or flow uses.
pub const SLOW_REPLY: Duration = Duration::from_secs(10);

/// Each request's body and the client address it came from.
type Requests = Arc<Mutex<Vec<(SocketAddr, Value)>>>;

/// The running service; stopped (connections cut, slow replies abandoned) on drop.
pub struct OrderService {
    pub addr: SocketAddr,
    requests: Requests,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl OrderService {
    /// Starts the service on a free loopback port; it accepts connections on return.
    pub fn start() -> OrderService {
        let listener =
            std::net::TcpListener::bind("127.0.0.1:0").expect("bind the order service port");
        listener
            .set_nonblocking(true)
            .expect("make the order service socket non-blocking");
        let addr = listener.local_addr().expect("order service address");
        let requests: Requests = Arc::default();
        let app = Router::new()
            .route("/orders/lookup", post(lookup))
            .route("/orders/slow", post(slow))
            .route("/orders/broken", post(broken))
            .route("/orders/garbage", post(garbage))
            .route("/orders/huge", post(huge))
            .with_state(Arc::clone(&requests));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("order-service".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("order service runtime");
                rt.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener)
                        .expect("order service listener");
                    tokio::select! {
                        _ = axum::serve(
                            listener,
                            app.into_make_service_with_connect_info::<SocketAddr>(),
                        )
                        .into_future() => {}
                        _ = stopped => {}
                    }
                });
                // Dropping the runtime cancels in-flight handlers (a slow reply).
            })
            .expect("start the order service thread");
        OrderService {
            addr,
            requests,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// The lookup endpoint, for a flow's `orders_url`.
    pub fn lookup_url(&self) -> String {
        self.url("/orders/lookup")
    }

    /// Every request body so far, in order (a body that is not JSON is kept as a string).
    pub fn requests(&self) -> Vec<Value> {
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(_, body)| body.clone())
            .collect()
    }

    /// How many TCP connections the requests came over (a pooled client reuses them).
    pub fn connections(&self) -> usize {
        let mut peers: Vec<SocketAddr> = self
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(peer, _)| *peer)
            .collect();
        peers.sort();
        peers.dedup();
        peers.len()
    }

    /// The order numbers the requests asked about, in order.
    pub fn orders_asked(&self) -> Vec<String> {
        self.requests()
            .iter()
            .filter_map(order_number)
            .map(str::to_string)
            .collect()
    }
}

impl Drop for OrderService {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The order number in a webhook body: `vars.order`, else top-level `order` or `digits`.
/// (`vars.digits` is the last keypad input, e.g. the menu choice, so it is not used.)
pub fn order_number(body: &Value) -> Option<&str> {
    [&body["vars"]["order"], &body["order"], &body["digits"]]
        .into_iter()
        .find_map(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// The lookup's answer to a request body: HTTP status and JSON reply.
pub fn answer(body: &Value) -> (StatusCode, Value) {
    let Some(number) = order_number(body) else {
        return (
            StatusCode::BAD_REQUEST,
            json!({"error": "no order number: send {\"vars\": {\"order\": \"12345678\"}}"}),
        );
    };
    let Some(order) = ORDERS.iter().find(|o| o.number == number) else {
        return (
            StatusCode::OK,
            json!({"vars": {"order_found": "false"}, "next": "order_not_found"}),
        );
    };
    let chinese = body["flow"].as_str().is_some_and(|f| f.ends_with("-zh"));
    let status = if chinese {
        order.status_zh
    } else {
        order.status_en
    };
    let mut vars = json!({
        "status": status,
        "amount": order.amount,
        "order_status": status,
        "order_amount": order.amount,
        "order_found": "true",
    });
    if let Some(eta) = order.eta {
        vars["eta"] = json!(eta);
    }
    (StatusCode::OK, json!({ "vars": vars }))
}

fn record(requests: &Requests, peer: SocketAddr, body: &[u8]) -> Value {
    let value = serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()));
    requests
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push((peer, value.clone()));
    value
}

async fn lookup(
    State(requests): State<Requests>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Response {
    let (status, reply) = answer(&record(&requests, peer, &body));
    (status, axum::Json(reply)).into_response()
}

async fn slow(
    State(requests): State<Requests>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Response {
    let value = record(&requests, peer, &body);
    tokio::time::sleep(SLOW_REPLY).await;
    let (status, reply) = answer(&value);
    (status, axum::Json(reply)).into_response()
}

async fn broken(
    State(requests): State<Requests>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Response {
    record(&requests, peer, &body);
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "order database unavailable",
    )
        .into_response()
}

async fn garbage(
    State(requests): State<Requests>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Response {
    record(&requests, peer, &body);
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        "<html><body>Service Temporarily Unavailable</body></html>",
    )
        .into_response()
}

async fn huge(
    State(requests): State<Requests>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Bytes,
) -> Response {
    record(&requests, peer, &body);
    let filler = "x".repeat(100 * 1024);
    axum::Json(json!({"vars": {"filler": filler}})).into_response()
}
