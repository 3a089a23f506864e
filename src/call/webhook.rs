//! The HTTP client of webhook nodes: POSTs the call context as JSON to an order system or
//! CRM and reads back `{"vars": {...}, "next": "node"}`. One client (connection pool) for
//! the whole process; every failure names the URL and the cause, for the log and for the
//! flow's `webhook_error` variable.

use reqwest::header::{ACCEPT, CONTENT_LENGTH};
use std::error::Error as _;
use std::sync::OnceLock;
use std::time::Duration;

/// A reply larger than this is refused: a webhook sets a few variables, not a document.
pub const MAX_REPLY_BYTES: usize = 64 * 1024;

/// How much of an error reply's body goes into the error message.
const ERROR_BODY_EXCERPT_CHARS: usize = 200;

/// What the server answered: the interpreter's own type, so a reply goes to it unchanged.
pub use crate::ivr::WebhookReply;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    #[error(
        "webhook URL \"{url}\" is not usable: {reason}; write an absolute http:// or https:// URL"
    )]
    BadUrl { url: String, reason: String },
    #[error(
        "webhook {url}: cannot connect ({cause}); check that the service runs and the URL is right"
    )]
    Connect { url: String, cause: String },
    #[error("webhook {url}: no reply within {} ms; speed the service up or raise the node's timeout", .after.as_millis())]
    Timeout { url: String, after: Duration },
    #[error("webhook {url} answered HTTP {status}{}; it must answer 2xx with a JSON object", excerpt(.body))]
    Status {
        url: String,
        status: u16,
        body: String,
    },
    #[error("webhook {url}: the reply is over {limit} bytes; reply with a small JSON object")]
    TooLarge { url: String, limit: usize },
    #[error(
        "webhook {url}: unusable reply: {reason}; reply with {{\"vars\": {{\"name\": \"value\"}}, \"next\": \"node\"}}"
    )]
    BadReply { url: String, reason: String },
    #[error("webhook {url}: {cause}")]
    Transport { url: String, cause: String },
    #[error("the webhook HTTP client could not start: {0}")]
    Client(String),
}

fn excerpt(body: &str) -> String {
    if body.is_empty() {
        String::new()
    } else {
        format!(" ({body})")
    }
}

impl WebhookError {
    /// No reply in time (the interpreter reports this outcome as `timeout`).
    pub fn is_timeout(&self) -> bool {
        matches!(self, WebhookError::Timeout { .. })
    }
}

/// The process-wide client: a connection pool kept across calls.
fn client() -> Result<&'static reqwest::Client, WebhookError> {
    static CLIENT: OnceLock<Result<reqwest::Client, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                // The order system is addressed directly; an HTTP_PROXY meant for other
                // tools must not reroute calls' lookups.
                .no_proxy()
                // A redirect would turn the POST into a GET; report it instead.
                .redirect(reqwest::redirect::Policy::none())
                .pool_idle_timeout(Duration::from_secs(60))
                .user_agent(concat!("hotline/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| cause_of(&e))
        })
        .as_ref()
        .map_err(|e| WebhookError::Client(e.clone()))
}

/// POSTs `body` to `url` and reads the reply, all within `timeout`.
pub async fn post_json(
    url: &str,
    body: serde_json::Value,
    timeout: Duration,
) -> Result<WebhookReply, WebhookError> {
    let parsed = parse_url(url)?;
    let client = client()?;
    let exchange = async {
        let response = client
            .post(parsed)
            .timeout(timeout)
            .header(ACCEPT, "application/json")
            .json(&body)
            .send()
            .await
            .map_err(|e| classify(url, timeout, &e))?;
        let status = response.status();
        let bytes = read_bounded(url, timeout, response).await?;
        if !status.is_success() {
            return Err(WebhookError::Status {
                url: url.to_string(),
                status: status.as_u16(),
                body: body_excerpt(&bytes),
            });
        }
        parse_reply(&bytes).map_err(|reason| WebhookError::BadReply {
            url: url.to_string(),
            reason,
        })
    };
    // reqwest's own timeout covers the same span; this one also bounds anything before it.
    tokio::time::timeout(timeout, exchange)
        .await
        .unwrap_or_else(|_| {
            Err(WebhookError::Timeout {
                url: url.to_string(),
                after: timeout,
            })
        })
}

fn parse_url(url: &str) -> Result<reqwest::Url, WebhookError> {
    let bad = |reason: String| WebhookError::BadUrl {
        url: url.to_string(),
        reason,
    };
    let parsed = reqwest::Url::parse(url).map_err(|e| bad(e.to_string()))?;
    match parsed.scheme() {
        "http" | "https" => Ok(parsed),
        other => Err(bad(format!("the scheme is \"{other}\""))),
    }
}

/// The body, refused past `MAX_REPLY_BYTES` (checked before and while reading).
async fn read_bounded(
    url: &str,
    timeout: Duration,
    mut response: reqwest::Response,
) -> Result<Vec<u8>, WebhookError> {
    let too_large = || WebhookError::TooLarge {
        url: url.to_string(),
        limit: MAX_REPLY_BYTES,
    };
    let declared = response
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_REPLY_BYTES as u64) {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| classify(url, timeout, &e))?
    {
        if bytes.len() + chunk.len() > MAX_REPLY_BYTES {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

fn classify(url: &str, timeout: Duration, e: &reqwest::Error) -> WebhookError {
    let url = url.to_string();
    if e.is_timeout() {
        WebhookError::Timeout {
            url,
            after: timeout,
        }
    } else if e.is_connect() {
        WebhookError::Connect {
            url,
            cause: cause_of(e),
        }
    } else if e.is_builder() {
        WebhookError::BadUrl {
            url,
            reason: cause_of(e),
        }
    } else {
        WebhookError::Transport {
            url,
            cause: cause_of(e),
        }
    }
}

/// The underlying causes (e.g. "Connection refused (os error 111)"): reqwest's own top
/// message repeats the URL, which the error already names.
fn cause_of(e: &reqwest::Error) -> String {
    let mut causes: Vec<String> = Vec::new();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !causes.iter().any(|c| c.contains(&text)) {
            causes.push(text);
        }
        source = s.source();
    }
    if causes.is_empty() {
        e.to_string()
    } else {
        causes.join(": ")
    }
}

/// The start of an error reply's body, on one line, for the message.
fn body_excerpt(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let one_line: String = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(ERROR_BODY_EXCERPT_CHARS)
        .collect();
    one_line
}

/// Reads `{"vars": {...}, "next": "node"}`; both parts are optional, and an empty body
/// (e.g. HTTP 204) is an empty reply. Numbers and booleans in `vars` become their text
/// (send amounts as strings to keep `128.50`), null becomes empty text, nested values
/// their JSON; other fields are ignored.
pub fn parse_reply(bytes: &[u8]) -> Result<WebhookReply, String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(WebhookReply::default());
    }
    let value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| format!("not JSON ({e})"))?;
    WebhookReply::from_json(&value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_vars_and_next() {
        let reply = parse_reply(
            r#"{"vars": {"status": "已发货", "amount": "128.50"}, "next": "read_status"}"#
                .as_bytes(),
        )
        .expect("a good reply");
        assert_eq!(reply.vars["status"], "已发货");
        assert_eq!(reply.vars["amount"], "128.50");
        assert_eq!(reply.next.as_deref(), Some("read_status"));
    }

    #[test]
    fn numbers_booleans_and_null_become_text_and_unknown_fields_are_ignored() {
        let reply = parse_reply(
            br#"{"vars": {"n": 3, "x": 1.5, "ok": true, "gone": null, "list": [1, 2]}, "trace": "abc"}"#,
        )
        .expect("a good reply");
        let got: Vec<(&str, &str)> = reply
            .vars
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("gone", ""),
                ("list", "[1,2]"),
                ("n", "3"),
                ("ok", "true"),
                ("x", "1.5")
            ]
        );
        assert_eq!(reply.next, None);
    }

    #[test]
    fn an_empty_body_or_object_is_an_empty_reply() {
        assert_eq!(parse_reply(b""), Ok(WebhookReply::default()));
        assert_eq!(parse_reply(b" \r\n"), Ok(WebhookReply::default()));
        assert_eq!(parse_reply(b"{}"), Ok(WebhookReply::default()));
        assert_eq!(
            parse_reply(b"\xEF\xBB\xBF{\"next\": \"\"}"),
            Ok(WebhookReply::default())
        );
    }

    #[test]
    fn wrong_shapes_are_errors_that_say_what_is_wrong() {
        let err = |body: &[u8]| parse_reply(body).expect_err("a bad reply");
        assert!(err(b"<html>oops</html>").starts_with("not JSON ("));
        assert_eq!(
            err(b"[1]"),
            "the webhook reply is not a JSON object; send {\"vars\": {...}, \"next\": \"node\"}"
        );
        assert_eq!(
            err(br#"{"vars": "x"}"#),
            "\"vars\" in the webhook reply must be a JSON object"
        );
        assert_eq!(
            err(br#"{"next": 7}"#),
            "\"next\" in the webhook reply must be a node name"
        );
        assert!(err(b"{\"vars\": {").starts_with("not JSON"));
    }

    #[test]
    fn error_messages_name_the_url_and_the_cause() {
        let e = WebhookError::Status {
            url: "http://127.0.0.1:9/orders".into(),
            status: 500,
            body: "db down".into(),
        };
        assert_eq!(
            e.to_string(),
            "webhook http://127.0.0.1:9/orders answered HTTP 500 (db down); it must answer 2xx with a JSON object"
        );
        let e = WebhookError::Timeout {
            url: "http://h/x".into(),
            after: Duration::from_millis(300),
        };
        assert!(e.is_timeout());
        assert_eq!(
            e.to_string(),
            "webhook http://h/x: no reply within 300 ms; speed the service up or raise the node's timeout"
        );
    }

    #[test]
    fn error_body_excerpts_are_one_short_line() {
        let long = format!("line one\n\n  line two {}", "x".repeat(1000));
        let got = body_excerpt(long.as_bytes());
        assert!(got.starts_with("line one line two xxx"));
        assert_eq!(got.chars().count(), ERROR_BODY_EXCERPT_CHARS);
    }

    #[tokio::test]
    async fn bad_urls_are_refused_before_any_request() {
        let e = post_json(
            "ftp://host/x",
            serde_json::json!({}),
            Duration::from_secs(1),
        )
        .await
        .expect_err("ftp is refused");
        assert!(matches!(&e, WebhookError::BadUrl { reason, .. } if reason.contains("\"ftp\"")));
        let e = post_json(
            "{{orders_url}}",
            serde_json::json!({}),
            Duration::from_secs(1),
        )
        .await
        .expect_err("an unfilled template is refused");
        assert!(
            e.to_string()
                .starts_with("webhook URL \"{{orders_url}}\" is not usable: "),
            "{e}"
        );
    }
}
