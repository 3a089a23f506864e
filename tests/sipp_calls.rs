//! Calls from SIPp 3.6 (package sip-tester) against the real server: basic calls over UDP and
//! TCP, the server hanging up, CANCEL, OPTIONS, digest REGISTER, and a load run.
//! Scenarios live in `tests/sipp/*.xml`; each test starts its own server.

mod common;

use common::{Hotline, Opts, SippRun, sipp, test_path};
use std::sync::RwLock;

/// The load test takes the write side so it runs alone on the 2 cores; the rest share.
static MACHINE: RwLock<()> = RwLock::new(());

/// The number the callers dial.
const NUMBER: &str = "400800";

fn scenario(name: &str) -> String {
    let path = test_path(&format!("sipp/{name}"));
    assert!(path.is_file(), "missing scenario {}", path.display());
    path.display().to_string()
}

/// Exit code 0 and the statistics file agrees: `calls` succeeded, none failed.
fn assert_all_succeeded(run: &SippRun, calls: u64) {
    assert_eq!(
        run.code,
        Some(0),
        "SIPp reported failure:\n{}",
        run.report()
    );
    assert_eq!(
        run.stat("SuccessfulCall(C)"),
        Some(calls),
        "SIPp statistics disagree:\n{}",
        run.report()
    );
    assert_eq!(
        run.stat("FailedCall(C)"),
        Some(0),
        "SIPp statistics disagree:\n{}",
        run.report()
    );
}

/// Starts a server with `opts`, runs SIPp scenario `file` for `calls` calls to `service`
/// (at most that many at once), and checks that every call succeeded and the server lives.
fn run_scenario(opts: Opts, file: &str, service: &str, calls: u64) {
    let _shared = MACHINE.read().unwrap_or_else(|e| e.into_inner());
    let mut server = Hotline::start(opts);
    let target = server.sip.to_string();
    let n = calls.to_string();
    let run = sipp(&[
        "-sf",
        &scenario(file),
        &target,
        "-s",
        service,
        "-m",
        &n,
        "-l",
        &n,
    ]);
    assert_all_succeeded(&run, calls);
    server.assert_running();
}

#[test]
fn uac_calls_over_udp_are_answered_and_hung_up_by_the_caller() {
    let _shared = MACHINE.read().unwrap_or_else(|e| e.into_inner());
    let mut server = Hotline::start(Opts::default());
    let target = server.sip.to_string();
    let run = sipp(&[
        "-sn", "uac", &target, "-s", NUMBER, "-m", "10", "-r", "10", "-l", "10",
    ]);
    assert_all_succeeded(&run, 10);
    server.assert_running();
}

#[test]
fn uac_calls_over_tcp_are_answered_and_hung_up_by_the_caller() {
    let _shared = MACHINE.read().unwrap_or_else(|e| e.into_inner());
    let mut server = Hotline::start(Opts::default());
    let target = server.sip.to_string();
    let run = sipp(&[
        "-sn", "uac", &target, "-s", NUMBER, "-t", "t1", "-m", "10", "-r", "10", "-l", "10",
    ]);
    assert_all_succeeded(&run, 10);
    server.assert_running();
}

#[test]
fn server_hangs_up_when_the_call_reaches_max_call_seconds() {
    let opts = Opts {
        max_call_seconds: 2,
        ..Opts::default()
    };
    run_scenario(opts, "server_bye.xml", NUMBER, 2);
}

#[test]
fn cancel_while_ringing_gets_200_and_487() {
    let opts = Opts {
        ring_ms: 5000,
        ..Opts::default()
    };
    run_scenario(opts, "cancel.xml", NUMBER, 2);
}

#[test]
fn options_ping_gets_200_with_allow_and_accept() {
    run_scenario(Opts::default(), "options.xml", NUMBER, 3);
}

#[test]
fn register_with_digest_challenge_then_the_right_password_is_accepted() {
    run_scenario(Opts::default(), "register.xml", "1001", 1);
}

#[test]
fn register_with_a_wrong_password_is_refused() {
    // The scenario succeeds only if the second REGISTER gets 401 or 403 (a 200 is unexpected).
    run_scenario(Opts::default(), "register_bad.xml", "1001", 1);
}

#[test]
fn load_1000_calls_at_100_per_second_none_fail() {
    let _alone = MACHINE.write().unwrap_or_else(|e| e.into_inner());
    let mut server = Hotline::start(Opts::default());
    let target = server.sip.to_string();
    let run = sipp(&[
        "-sn", "uac", &target, "-s", NUMBER, "-m", "1000", "-r", "100", "-l", "300",
    ]);
    assert_all_succeeded(&run, 1000);
    server.assert_running();
}
