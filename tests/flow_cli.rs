//! `hotline flow check` and `hotline flow sim` as an operator runs them: the built binary,
//! exit codes, messages, and scripted calls through every branch of both shipped flows.
//! One test starts a small order-lookup HTTP server to check the real webhook POST.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

const ZH: &str = "ivr-flows/ecommerce-zh.yaml";
const EN: &str = "ivr-flows/support-en.yaml";

struct Run {
    stdout: String,
    stderr: String,
    code: i32,
}

fn hotline(args: &[&str], stdin: &str) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hotline"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start hotline");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("hotline runs");
    Run {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        code: out.status.code().unwrap_or(-1),
    }
}

/// A simulated call with webhook replies read from stdin; returns the transcript.
fn sim(file: &str, at: &str, extra: &[&str], stdin: &str) -> String {
    let mut args = vec!["flow", "sim", file, "--no-webhooks", "--at", at];
    args.extend_from_slice(extra);
    let r = hotline(&args, stdin);
    assert_eq!(r.code, 0, "sim failed: {}\n{}", r.stderr, r.stdout);
    r.stdout
}

fn path_of(transcript: &str) -> &str {
    transcript
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("== path: "))
        .unwrap_or_else(|| panic!("no path line in:\n{transcript}"))
}

fn assert_heard(transcript: &str, line: &str) {
    assert!(
        transcript.lines().any(|l| l == line),
        "expected the line {line:?} in:\n{transcript}"
    );
}

// ---- flow check -------------------------------------------------------------------------

#[test]
fn check_passes_the_shipped_flows() {
    let r = hotline(&["flow", "check", ZH, EN], "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stderr, "");
    assert_eq!(
        r.stdout,
        "ok: ivr-flows/ecommerce-zh.yaml (flow ecommerce-zh, 23 nodes)\n\
         ok: ivr-flows/support-en.yaml (flow support-en, 24 nodes)\n"
    );
}

#[test]
fn check_reports_every_problem_with_positions_and_exits_1() {
    let r = hotline(
        &[
            "flow",
            "check",
            "tests/data/flows/broken/unknown_node.yaml",
            "tests/data/flows/broken/many_errors.yaml",
            "tests/data/flows/broken/loop.yaml",
            "tests/data/flows/broken/missing_subflow.yaml",
            "tests/data/flows/valid/survey.yaml",
        ],
        "",
    );
    assert_eq!(r.code, 1);
    let lines: Vec<&str> = r.stderr.lines().collect();
    let expected = [
        "tests/data/flows/broken/unknown_node.yaml:10:30: error: node \"menu\" routes \"3\" to \"ordr\", which does not exist; nodes are: greeting, menu, order (did you mean \"order\"?)",
        "tests/data/flows/broken/many_errors.yaml:2:11: error: \"Mars/Olympus\" is not a time zone; write an IANA name such as Asia/Shanghai or America/New_York",
        "tests/data/flows/broken/many_errors.yaml:9:20: error: max: \"forever\" is not a duration; write a number with a unit: 1500ms, 5s, 2m or 1h",
        "tests/data/flows/broken/many_errors.yaml:10:11: error: node \"middle\" goes next to \"finish\", which does not exist; nodes are: begin, middle",
        "tests/data/flows/broken/loop.yaml:4:3: error: nodes \"a\", \"b\", \"c\" form a loop that never waits for the caller and has no way out: the call would spin forever; route one of them to a say, gather or hangup node",
    ];
    for e in expected {
        assert!(lines.contains(&e), "missing {e:?} in:\n{}", r.stderr);
    }
    let sub = lines
        .iter()
        .find(|l| {
            l.starts_with(
                "tests/data/flows/broken/missing_subflow.yaml:5:14: error: sub-flow \"surveyy\"",
            )
        })
        .unwrap_or_else(|| panic!("no sub-flow error in:\n{}", r.stderr));
    assert!(sub.ends_with("(did you mean \"survey\"?)"), "{sub}");
    assert_eq!(
        lines.last(),
        Some(&"hotline: flow check found 6 errors (and 0 warnings)")
    );
}

#[test]
fn check_warnings_alone_exit_0_and_subflows_resolve_in_the_directory() {
    let r = hotline(
        &[
            "flow",
            "check",
            "tests/data/flows/warnings/unreachable_and_unknown_var.yaml",
        ],
        "",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains(":10:3: warning: node \"orphan\" is never reached"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains(":6:10: warning: variable `ordr` is never set"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.contains("2 warnings"), "{}", r.stdout);
    // main-menu calls the sub-flow survey, found beside it; `score` is set there.
    let r = hotline(
        &["flow", "check", "tests/data/flows/valid/main-menu.yaml"],
        "",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stderr, "");
}

#[test]
fn check_needs_a_file() {
    let r = hotline(&["flow", "check"], "");
    assert_eq!(r.code, 2, "clap usage error");
    assert!(r.stderr.contains("FILE"), "{}", r.stderr);
}

// ---- flow sim: ecommerce-zh -------------------------------------------------------------

const ORDER_REPLY: &str = r#"{"vars":{"status":"已发货","amount":"128.50"}}"#;

#[test]
fn zh_order_status_then_menu_then_agent_then_voicemail() {
    let t = sim(
        ZH,
        "2026-11-23 20:59",
        &[],
        &format!("1\n20240615#\n{ORDER_REPLY}\n*\n0\n#\n"),
    );
    assert_heard(
        &t,
        "[say zh] 您好，欢迎致电某某商城客服热线。为了提升服务质量，您的通话可能会被录音。",
    );
    assert_heard(
        &t,
        "[say zh] 您的订单二 零 二 四 零 六 幺 五，当前状态：已发货，订单金额128.50元。",
    );
    assert!(
        t.contains(r#""order":"20240615""#),
        "webhook body has the order:\n{t}"
    );
    assert_heard(
        &t,
        "[enqueue] orders (no ACD yet: the flow takes its fallback)",
    );
    assert_heard(&t, "[beep]");
    assert_heard(&t, "[hangup] normal");
    assert_eq!(
        path_of(&t),
        "hours(1)>vip_check(else)>greeting>menu[1]>order_number[20240615#]>order_lookup(ok)>order_status>after_order[*]>menu[0]>agent>agent_queue(unavailable)>leave_message>voicemail(10s)>thanks>bye"
    );
}

#[test]
fn zh_after_hours_and_holidays_go_to_voicemail() {
    for at in [
        "2026-11-23 21:00",
        "2026-11-24 08:59",
        "2026-10-01 10:00",
        "2026-02-17 12:00",
    ] {
        let t = sim(ZH, at, &[], "#\n");
        assert_heard(
            &t,
            "[say zh] 您好，现在是非工作时间。我们的服务时间是每天上午九点到晚上九点，法定节假日休息。请在提示音后留言，按井号键结束。",
        );
        assert_eq!(
            path_of(&t),
            "hours(else)>after_hours>voicemail(10s)>thanks>bye",
            "at {at}"
        );
    }
    // A make-up working day is open.
    let t = sim(ZH, "2026-10-10 10:00", &[], "hangup\n");
    assert!(path_of(&t).starts_with("hours(1)>"), "{t}");
}

#[test]
fn zh_vip_caller_gets_priority() {
    let t = sim(
        ZH,
        "2026-11-23 10:00",
        &["--from", "13911112222"],
        "0\nhangup\n",
    );
    assert_heard(&t, "   priority = vip");
    assert_heard(
        &t,
        "[say zh] 尊敬的会员您好，欢迎致电某某商城客服热线，我们将优先为您服务。",
    );
    assert_eq!(
        path_of(&t),
        "hours(1)>vip_check(1)>vip>vip_greeting>menu[0]>agent>agent_queue(unavailable)>leave_message>voicemail(hangup)"
    );
}

#[test]
fn zh_order_not_found_lookup_error_and_timeout() {
    let t = sim(
        ZH,
        "2026-11-23 10:00",
        &[],
        "1\n123456#\n{\"next\":\"order_not_found\"}\nwait\n",
    );
    assert_heard(&t, "[say zh] 没有查到订单幺 二 三 四 五 六，请核对后再试。");
    assert_heard(&t, "[say zh] 感谢您的来电，再见。");
    assert!(
        path_of(&t).ends_with("order_lookup(ok)>order_not_found>after_order[-]>goodbye>bye"),
        "{t}"
    );

    let t = sim(
        ZH,
        "2026-11-23 10:00",
        &[],
        "1\n123456#\nerror HTTP 500\nhangup\n",
    );
    assert_heard(&t, "[webhook] failed: HTTP 500");
    assert_heard(&t, "   webhook_error = HTTP 500");
    assert!(
        path_of(&t).contains("order_lookup(error)>lookup_failed>agent>"),
        "{t}"
    );

    let t = sim(ZH, "2026-11-23 10:00", &[], "1\n123456#\ntimeout\nhangup\n");
    assert!(
        path_of(&t).contains("order_lookup(timeout)>lookup_failed>agent>"),
        "{t}"
    );
}

#[test]
fn zh_bad_order_numbers_retry_then_agent() {
    let t = sim(
        ZH,
        "2026-11-23 10:00",
        &[],
        "1\n12#\n123\nwait\nwait\nhangup\n",
    );
    assert_heard(&t, "[say zh] 订单号是六到十二位数字，请重新输入。");
    assert_heard(&t, "[say zh] 抱歉，没有收到您的订单号。");
    assert!(
        path_of(&t).contains("order_number[12#,123,-]>agent>"),
        "{t}"
    );
}

#[test]
fn zh_menu_no_input_and_invalid_key() {
    let t = sim(ZH, "2026-11-23 10:00", &[], "wait\nwait\nwait\nhangup\n");
    assert_eq!(
        t.matches("[say zh] 抱歉，没有听到您的按键。").count(),
        3,
        "{t}"
    );
    assert!(path_of(&t).contains("menu[-,-,-]>agent>"), "{t}");

    let t = sim(ZH, "2026-11-23 10:00", &[], "7\n2\n");
    assert_heard(&t, "[say zh] 输入有误，请重新选择。");
    assert!(path_of(&t).contains("menu[7,2]>returns_info"), "{t}");
}

#[test]
fn zh_returns_enqueue_falls_back_to_transfer_or_voicemail() {
    let t = sim(ZH, "2026-11-23 10:00", &[], "2\n");
    assert_heard(
        &t,
        "[say zh] 签收后七天内可无理由退货，十五天内可换货。请保持商品完好，并在订单页面提交申请。",
    );
    assert_heard(
        &t,
        "[enqueue] returns (no ACD yet: the flow takes its fallback)",
    );
    assert_heard(&t, "[transfer] sip:returns@pbx.example.com via trunk pbx");
    assert_eq!(
        path_of(&t),
        "hours(1)>vip_check(else)>greeting>menu[2]>returns_info>returns_queue(unavailable)>returns_desk(transferred)"
    );
    let t = sim(ZH, "2026-11-23 10:00", &["--fail-transfers"], "2\n#\n");
    assert!(
        path_of(&t).ends_with("returns_desk(failed)>leave_message>voicemail(10s)>thanks>bye"),
        "{t}"
    );
}

#[test]
fn zh_barge_in_during_greeting_and_hangup_at_end_of_input() {
    let t = sim(ZH, "2026-11-23 10:00", &[], "!2\n");
    assert_heard(&t, "   (prompt stopped by a key)");
    // The key chose the menu item: the menu prompt is never played.
    assert!(!t.contains("查询订单请按一"), "{t}");
    assert!(
        path_of(&t)
            .starts_with("hours(1)>vip_check(else)>greeting[2](interrupted)>menu[2]>returns_info"),
        "{t}"
    );

    let t = sim(ZH, "2026-11-23 10:00", &[], "1\n");
    assert_heard(&t, "< (end of input: the caller hangs up)");
    assert!(path_of(&t).ends_with("order_number(hangup)"), "{t}");
}

// ---- flow sim: support-en ---------------------------------------------------------------

#[test]
fn en_repeat_menu_order_with_eta_then_agent() {
    let t = sim(
        EN,
        "2026-11-28 15:59",
        &[],
        "9\n1\n123456#\n{\"vars\":{\"status\":\"shipped\",\"amount\":\"99\",\"eta\":\"November 30\"}}\n0\nhangup\n",
    );
    assert_heard(
        &t,
        "[say en] Order 1 2 3 4 5 6 is shipped. The order total is 99 yuan.",
    );
    assert_heard(&t, "[say en] It is expected to arrive on November 30.");
    assert_eq!(
        path_of(&t),
        "hours(1)>key_account_check(else)>greeting>menu[9]>menu[1]>order_number[123456#]>order_lookup(ok)>order_status>eta_check(1)>order_eta>after_order[0]>agent>agent_queue(unavailable)>leave_message>voicemail(hangup)"
    );
}

#[test]
fn en_order_without_eta_not_found_and_failures() {
    let t = sim(
        EN,
        "2026-11-24 10:00",
        &[],
        "1\n123456#\n{\"vars\":{\"status\":\"packed\",\"amount\":\"12\"}}\n*\nhangup\n",
    );
    assert!(
        path_of(&t).contains("eta_check(else)>after_order[*]>menu"),
        "{t}"
    );
    let t = sim(
        EN,
        "2026-11-24 10:00",
        &[],
        "1\n999999#\n{\"next\":\"order_not_found\"}\nwait\n",
    );
    assert_heard(
        &t,
        "[say en] We could not find order 9 9 9 9 9 9. Please check the number and try again.",
    );
    assert!(
        path_of(&t).ends_with("order_not_found>after_order[-]>goodbye>bye"),
        "{t}"
    );
    let t = sim(
        EN,
        "2026-11-24 10:00",
        &[],
        "1\n123456#\nerror connection refused\nhangup\n",
    );
    assert!(
        path_of(&t).contains("order_lookup(error)>lookup_failed>agent"),
        "{t}"
    );
    let t = sim(EN, "2026-11-24 10:00", &[], "1\nwait\nwait\nwait\nhangup\n");
    assert!(path_of(&t).contains("order_number[-,-,-]>agent"), "{t}");
    let t = sim(EN, "2026-11-24 10:00", &[], "5\nwait\nwait\nhangup\n");
    assert_heard(&t, "[say en] Sorry, that is not one of the options.");
    assert!(path_of(&t).contains("menu[5,-,-]>agent"), "{t}");
}

#[test]
fn en_hours_weekdays_saturday_sunday_and_holiday() {
    let open = ["2026-11-24 08:30", "2026-11-24 17:59", "2026-11-28 10:00"];
    let closed = [
        "2026-11-24 08:29",
        "2026-11-24 18:00",
        "2026-11-28 16:00",
        "2026-11-29 12:00",
        "2026-10-05 10:00",
    ];
    for at in open {
        assert!(
            path_of(&sim(EN, at, &[], "hangup\n")).starts_with("hours(1)>"),
            "{at} should be open"
        );
    }
    for at in closed {
        let t = sim(EN, at, &[], "#\n");
        assert_eq!(
            path_of(&t),
            "hours(else)>after_hours>voicemail(10s)>thanks>bye",
            "{at} should be closed"
        );
    }
}

#[test]
fn en_key_account_returns_and_transfer_failure() {
    let t = sim(EN, "2026-11-24 10:00", &["--from", "+85291234567"], "2\n");
    assert_heard(&t, "   priority = key-account");
    assert_eq!(
        path_of(&t),
        "hours(1)>key_account_check(1)>key_account>greeting>menu[2]>returns_info>returns_queue(unavailable)>returns_desk(transferred)"
    );
    let t = sim(EN, "2026-11-24 10:00", &["--fail-transfers"], "!2\n#\n");
    assert!(
        path_of(&t).ends_with("greeting[2](interrupted)>menu[2]>returns_info>returns_queue(unavailable)>returns_desk(failed)>leave_message>voicemail(10s)>thanks>bye"),
        "{t}"
    );
}

#[test]
fn sim_rejects_a_broken_flow_and_a_bad_time() {
    let r = hotline(
        &["flow", "sim", "tests/data/flows/broken/unknown_node.yaml"],
        "",
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("unknown_node.yaml:10:30: error:"),
        "{}",
        r.stderr
    );
    let r = hotline(&["flow", "sim", ZH, "--at", "2026-11-23 25:00"], "");
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("is not a time; write \"YYYY-MM-DD HH:MM\""),
        "{}",
        r.stderr
    );
}

// ---- the real webhook POST --------------------------------------------------------------

/// A tiny order-lookup service like a shop's CRM: POST JSON with `vars.order`, answers
/// the order's status and amount, or sends the caller to `order_not_found`.
mod order_server {
    use super::*;
    use axum::{Json, Router, extract::State, routing::post};
    use serde_json::{Value, json};

    pub type Seen = Arc<Mutex<Vec<Value>>>;

    async fn lookup(State(seen): State<Seen>, Json(body): Json<Value>) -> Json<Value> {
        let order = body["vars"]["order"].as_str().unwrap_or("").to_string();
        if let Ok(mut s) = seen.lock() {
            s.push(body);
        }
        match order.as_str() {
            "20240615" => Json(json!({"vars": {"status": "已发货", "amount": "128.50"}})),
            _ => Json(json!({"next": "order_not_found"})),
        }
    }

    /// Serves on a free loopback port until the test process ends; returns the URL.
    pub fn start(seen: Seen) -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("addr");
        listener.set_nonblocking(true).expect("nonblocking");
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                let app = Router::new()
                    .route("/orders/lookup", post(lookup))
                    .with_state(seen);
                let _ = axum::serve(listener, app).await;
            });
        });
        format!("http://{addr}/orders/lookup")
    }
}

#[test]
fn sim_posts_the_order_number_to_a_real_server() {
    let seen: order_server::Seen = Arc::default();
    let url = order_server::start(seen.clone());
    let var = format!("orders_url={url}");
    let r = hotline(
        &["flow", "sim", ZH, "--at", "2026-11-23 10:00", "--var", &var],
        "1\n20240615#\nhangup\n",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_heard(
        &r.stdout,
        "[say zh] 您的订单二 零 二 四 零 六 幺 五，当前状态：已发货，订单金额128.50元。",
    );
    let bodies = seen.lock().expect("lock").clone();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    assert_eq!(bodies[0]["vars"]["order"], "20240615");
    assert_eq!(bodies[0]["call"]["caller"], "13800138000");
    assert_eq!(bodies[0]["node"], "order_lookup");

    let r = hotline(
        &["flow", "sim", EN, "--at", "2026-11-24 10:00", "--var", &var],
        "1\n555555#\nhangup\n",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        path_of(&r.stdout).contains("order_lookup(ok)>order_not_found"),
        "{}",
        r.stdout
    );
    // A server that is not there: the flow takes on_error.
    let r = hotline(
        &[
            "flow",
            "sim",
            EN,
            "--at",
            "2026-11-24 10:00",
            "--var",
            "orders_url=http://127.0.0.1:9/none",
        ],
        "1\n555555#\nhangup\n",
    );
    assert!(
        path_of(&r.stdout).contains("order_lookup(error)>lookup_failed"),
        "{}",
        r.stdout
    );
}
