//! baresip, a real softphone, walks the shipped English flow (ivr-flows/support-en.yaml)
//! with RFC 4733 keys (`sndcode`): the order-status branch reaches the real order service
//! with the typed number, and the returns branch falls through an unavailable queue and a
//! failed transfer to the voicemail, without ever dropping the caller. The CDR path shows
//! each walk; baresip's received audio holds Hotline's speech.

mod common;

use common::audio::{closed_wav, rms};
use common::baresip::{Baresip, Ctrl, speech_wav};
use common::orders::OrderService;
use common::{Hotline, Opts, TempDir, test_path, text};
use std::time::{Duration, Instant};

const NUMBER: &str = "4008005678";

/// A copy of support-en open around the clock (business hours depend on the wall clock).
fn flows() -> TempDir {
    let dir = TempDir::new("flows");
    let src = std::fs::read_to_string(test_path("../ivr-flows/support-en.yaml")).unwrap();
    let from = "- { hours: \"08:30-18:00\", days: mon-fri }";
    assert!(
        src.contains(from),
        "support-en.yaml changed: update tests/ivr_baresip.rs"
    );
    let text = src.replacen(from, "- { hours: \"00:00-24:00\", days: mon-sun }", 1);
    std::fs::write(dir.path().join("support-en.yaml"), text).unwrap();
    dir
}

fn server(flows: &TempDir, orders_url: &str) -> Hotline {
    Hotline::start(Opts {
        flows_dir: Some(flows.path().to_path_buf()),
        rtp_timeout_secs: Some(0),
        numbers_toml: format!(
            "{NUMBER:?} = {{ flow = \"support-en\", vars = {{ orders_url = {orders_url:?} }} }}\n"
        ),
        ..Opts::default()
    })
}

/// Dials the flow and returns once the call is up.
fn dial(server: &Hotline) -> (Baresip, Ctrl, TempDir) {
    let mic_dir = TempDir::new("baresip-mic");
    let mic = speech_wav(mic_dir.path(), "Hello, I have a question.", 60.0);
    let phone = Baresip::start("PCMU", &mic);
    let mut ctrl = phone.ctrl();
    let target = format!("sip:{NUMBER}@{}", server.sip);
    if let Err(why) = ctrl.response("dial", &target, Duration::from_secs(5)) {
        phone.fail(&format!("dial: {why}"));
    }
    if !ctrl.seen.iter().any(|e| e == "CALL_ESTABLISHED")
        && let Err(why) = ctrl.wait_event("CALL_ESTABLISHED", Duration::from_secs(20))
    {
        phone.fail(&why);
    }
    (phone, ctrl, mic_dir)
}

/// Types `keys` as RFC 4733 events, after `after` seconds of listening.
fn keys(ctrl: &mut Ctrl, phone: &Baresip, after: f64, keys: &str) {
    std::thread::sleep(Duration::from_secs_f64(after));
    if let Err(why) = ctrl.response("sndcode", keys, Duration::from_secs(5)) {
        phone.fail(&format!("sndcode {keys}: {why}"));
    }
}

/// The path of the one call's CDR once it contains `want` (written when the call ends).
fn path_with(server: &Hotline, want: &str, wait: Duration) -> String {
    let deadline = Instant::now() + wait;
    let mut last = String::new();
    while Instant::now() < deadline {
        if let Some(c) = server.calls().first() {
            last = text(c, "ivr_path").to_string();
            if last.contains(want) {
                return last;
            }
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    panic!(
        "the path never showed {want:?}; last: {last:?}\n{}",
        server.log_tail(30)
    );
}

fn hang_up(ctrl: &mut Ctrl) {
    let _ = ctrl.response("hangup", "", Duration::from_secs(5));
    let _ = ctrl.wait_event("CALL_CLOSED", Duration::from_secs(5));
    let _ = ctrl.response("quit", "", Duration::from_secs(2));
}

#[test]
fn baresip_walks_the_order_status_branch_to_the_order_service() {
    let flows = flows();
    let orders = OrderService::start();
    let server = server(&flows, &orders.lookup_url());
    let (phone, mut ctrl, _mic) = dial(&server);
    // Menu choice 1 during the greeting (type-ahead), then the order number and #.
    keys(&mut ctrl, &phone, 2.0, "1");
    keys(&mut ctrl, &phone, 1.0, "12345678#");
    // The lookup and the read-out of the status, then hang up (the path is on the CDR
    // once the call has ended).
    let deadline = Instant::now() + Duration::from_secs(15);
    while orders.orders_asked().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(6));
    hang_up(&mut ctrl);
    assert_eq!(orders.orders_asked(), vec!["12345678".to_string()]);
    let path = path_with(&server, "order_status", Duration::from_secs(20));
    assert!(path.contains("menu[1]"), "{path}");
    assert!(path.contains("order_number[12345678#]"), "{path}");
    assert!(path.contains("order_lookup(ok)"), "{path}");
    let heard = closed_wav(&phone.dump("-dec.wav"), Duration::from_secs(5));
    let level = rms(&heard.channel(0));
    assert!(
        level > 300.0,
        "baresip heard Hotline's speech (rms {level:.0})"
    );
}

#[test]
fn baresip_walks_returns_through_an_unavailable_queue_and_a_failed_transfer_to_voicemail() {
    let flows = flows();
    let server = server(&flows, "http://127.0.0.1:9/unused");
    let (phone, mut ctrl, _mic) = dial(&server);
    keys(&mut ctrl, &phone, 2.0, "2");
    let path = path_with(&server, "voicemail", Duration::from_secs(40));
    assert!(path.contains("menu[2]>returns_info"), "{path}");
    assert!(path.contains("returns_queue(unavailable)"), "{path}");
    assert!(
        path.contains("returns_desk(failed)>leave_message"),
        "{path}"
    );
    hang_up(&mut ctrl);
}
