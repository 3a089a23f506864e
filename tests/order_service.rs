//! The webhook client against the order-lookup service the flow tests use: a found order,
//! an unknown one, and every way the call can fail (500, timeout, refused, not JSON, too
//! large). One runtime for the whole file, as in the server, so the client's shared
//! connection pool never outlives the runtime its connections belong to.

#[path = "common/orders.rs"]
mod orders;

use hotline::call::webhook::{MAX_REPLY_BYTES, WebhookError, WebhookReply, post_json};
use orders::OrderService;
use serde_json::{Value, json};
use std::net::TcpListener;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("test runtime")
    })
    .block_on(f)
}

/// What a webhook node of the example flow sends after the caller keyed `order`.
fn call_context(flow: &str, order: &str) -> Value {
    json!({
        "flow": flow,
        "node": "order_lookup",
        "call": {"call_id": "c1", "caller": "13800138000", "called": "4008001234", "tenant": "acme"},
        "vars": {"order": order, "digits": "1", "now": "20:30"},
    })
}

fn post(url: &str, body: Value, timeout: Duration) -> Result<WebhookReply, WebhookError> {
    block_on(post_json(url, body, timeout))
}

const TIMEOUT: Duration = Duration::from_secs(3);

#[test]
fn a_known_order_sets_its_status_and_amount() {
    let svc = OrderService::start();
    let reply = post(
        &svc.lookup_url(),
        call_context("ecommerce-zh", "12345678"),
        TIMEOUT,
    )
    .expect("the lookup answers");
    assert_eq!(reply.vars["status"], "已发货");
    assert_eq!(reply.vars["amount"], "128.50");
    assert_eq!(reply.vars["order_status"], "已发货");
    assert_eq!(reply.vars["order_amount"], "128.50");
    assert_eq!(reply.vars["order_found"], "true");
    assert_eq!(reply.next, None);
    assert_eq!(svc.orders_asked(), vec!["12345678"]);
    assert_eq!(svc.requests()[0]["call"]["caller"], "13800138000");

    let reply = post(
        &svc.lookup_url(),
        call_context("support-en", "87654321"),
        TIMEOUT,
    )
    .expect("the lookup answers");
    assert_eq!(reply.vars["status"], "delivered");
    assert_eq!(reply.vars["amount"], "39.90");
    assert!(!reply.vars.contains_key("eta"));
    assert_eq!(svc.orders_asked(), vec!["12345678", "87654321"]);
}

#[test]
fn a_top_level_order_or_digits_field_is_accepted() {
    let svc = OrderService::start();
    let reply = post(&svc.lookup_url(), json!({"digits": "20240615"}), TIMEOUT)
        .expect("the lookup answers");
    assert_eq!(reply.vars["status"], "waiting to be shipped");
    assert_eq!(reply.vars["eta"], "November 30");
    let reply =
        post(&svc.lookup_url(), json!({"order": "12345678"}), TIMEOUT).expect("the lookup answers");
    assert_eq!(reply.vars["amount"], "128.50");
    assert_eq!(svc.orders_asked(), vec!["20240615", "12345678"]);
}

#[test]
fn an_unknown_order_chooses_the_not_found_node() {
    let svc = OrderService::start();
    let reply = post(
        &svc.lookup_url(),
        call_context("ecommerce-zh", "11112222"),
        TIMEOUT,
    )
    .expect("the lookup answers");
    assert_eq!(reply.vars["order_found"], "false");
    assert!(!reply.vars.contains_key("status"));
    assert_eq!(reply.next.as_deref(), Some("order_not_found"));
    assert_eq!(svc.orders_asked(), vec!["11112222"]);
}

#[test]
fn a_request_without_an_order_number_is_a_400() {
    let svc = OrderService::start();
    let err = post(&svc.lookup_url(), json!({"vars": {"digits": "1"}}), TIMEOUT)
        .expect_err("no order number");
    assert!(
        matches!(&err, WebhookError::Status { status: 400, body, .. } if body.contains("no order number")),
        "{err}"
    );
}

#[test]
fn a_server_error_names_the_url_and_the_status() {
    let svc = OrderService::start();
    let url = svc.url("/orders/broken");
    let err = post(&url, call_context("ecommerce-zh", "12345678"), TIMEOUT)
        .expect_err("HTTP 500 fails the webhook");
    assert!(matches!(err, WebhookError::Status { status: 500, .. }));
    assert_eq!(
        err.to_string(),
        format!(
            "webhook {url} answered HTTP 500 (order database unavailable); it must answer 2xx with a JSON object"
        )
    );
    assert_eq!(svc.orders_asked(), vec!["12345678"]);
}

#[test]
fn a_slow_server_times_out_on_time() {
    let svc = OrderService::start();
    let url = svc.url("/orders/slow");
    let timeout = Duration::from_millis(300);
    let start = Instant::now();
    let err = post(&url, call_context("ecommerce-zh", "12345678"), timeout)
        .expect_err("the slow endpoint times out");
    let took = start.elapsed();
    assert!(err.is_timeout(), "{err}");
    assert!(err.to_string().contains(&url), "{err}");
    assert!(err.to_string().contains("no reply within 300 ms"), "{err}");
    assert!(
        took >= timeout && took < Duration::from_secs(2),
        "gave up after {took:?}"
    );
    eprintln!("timeout of {timeout:?} gave up after {took:?}");
}

#[test]
fn a_port_nobody_listens_on_is_connection_refused() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").expect("find a free port");
        l.local_addr().expect("its address").port()
    };
    let url = format!("http://127.0.0.1:{port}/orders/lookup");
    let err =
        post(&url, call_context("ecommerce-zh", "12345678"), TIMEOUT).expect_err("nobody listens");
    assert!(matches!(err, WebhookError::Connect { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!("webhook {url}: cannot connect (")),
        "{msg}"
    );
    assert!(msg.to_lowercase().contains("refused"), "{msg}");
}

#[test]
fn a_reply_that_is_not_json_is_a_bad_reply() {
    let svc = OrderService::start();
    let url = svc.url("/orders/garbage");
    let err = post(&url, call_context("ecommerce-zh", "12345678"), TIMEOUT)
        .expect_err("HTML is not a webhook reply");
    assert!(
        matches!(&err, WebhookError::BadReply { reason, .. } if reason.starts_with("not JSON"))
    );
    assert!(err.to_string().contains(&url), "{err}");
}

#[test]
fn a_reply_over_the_size_limit_is_refused() {
    let svc = OrderService::start();
    let err = post(
        &svc.url("/orders/huge"),
        call_context("ecommerce-zh", "12345678"),
        TIMEOUT,
    )
    .expect_err("100 KiB is too much");
    assert!(
        matches!(err, WebhookError::TooLarge { limit, .. } if limit == MAX_REPLY_BYTES),
        "{err}"
    );
}

#[test]
fn many_lookups_reuse_the_shared_client() {
    let svc = OrderService::start();
    let start = Instant::now();
    let n = 50;
    for i in 0..n {
        let order = if i % 2 == 0 { "12345678" } else { "99999999" };
        let reply = post(
            &svc.lookup_url(),
            call_context("support-en", order),
            TIMEOUT,
        )
        .expect("the lookup answers");
        assert_eq!(
            reply.vars["order_found"],
            if i % 2 == 0 { "true" } else { "false" }
        );
    }
    let per_call = start.elapsed() / n;
    eprintln!("{n} sequential lookups: {per_call:?} per call");
    assert_eq!(svc.requests().len(), n as usize);
    // Pooled: a handful of connections at most, not one per lookup. Not exactly one: the
    // client may start the next request before the last connection is back in its pool
    // (seen once in CI: 2).
    assert!(
        svc.connections() <= 3,
        "pooled connections for {n} sequential lookups, not one each: {}",
        svc.connections()
    );
}
