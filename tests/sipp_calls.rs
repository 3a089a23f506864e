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
    let _shared = MACHINE.read().unwrap_or_else(|e| e.into_inner());
    let mut server = Hotline::start(Opts {
        max_call_seconds: 2,
        ..Opts::default()
    });
    let target = server.sip.to_string();
    let run = sipp(&[
        "-sf",
        &scenario("server_bye.xml"),
        &target,
        "-s",
        NUMBER,
        "-m",
        "2",
        "-l",
        "2",
    ]);
    assert_all_succeeded(&run, 2);
    server.assert_running();
}

#[test]
fn cancel_while_ringing_gets_200_and_487() {
    let _shared = MACHINE.read().unwrap_or_else(|e| e.into_inner());
    let mut server = Hotline::start(Opts {
        ring_ms: 5000,
        ..Opts::default()
    });
    let target = server.sip.to_string();
    let run = sipp(&[
        "-sf",
        &scenario("cancel.xml"),
        &target,
        "-s",
        NUMBER,
        "-m",
        "2",
        "-l",
        "2",
    ]);
    assert_all_succeeded(&run, 2);
    server.assert_running();
}

#[test]
fn options_ping_gets_200_with_allow_and_accept() {
    let _shared = MACHINE.read().unwrap_or_else(|e| e.into_inner());
    let mut server = Hotline::start(Opts::default());
    let target = server.sip.to_string();
    let run = sipp(&[
        "-sf",
        &scenario("options.xml"),
        &target,
        "-s",
        NUMBER,
        "-m",
        "3",
    ]);
    assert_all_succeeded(&run, 3);
    server.assert_running();
}

#[test]
fn register_with_digest_challenge_then_the_right_password_is_accepted() {
    let _shared = MACHINE.read().unwrap_or_else(|e| e.into_inner());
    let mut server = Hotline::start(Opts::default());
    let target = server.sip.to_string();
    let run = sipp(&[
        "-sf",
        &scenario("register.xml"),
        &target,
        "-s",
        "1001",
        "-m",
        "1",
    ]);
    assert_all_succeeded(&run, 1);
    server.assert_running();
}

#[test]
fn register_with_a_wrong_password_is_refused() {
    let _shared = MACHINE.read().unwrap_or_else(|e| e.into_inner());
    let mut server = Hotline::start(Opts::default());
    let target = server.sip.to_string();
    // The scenario succeeds only if the second REGISTER gets 401 or 403 (a 200 is unexpected).
    let run = sipp(&[
        "-sf",
        &scenario("register_bad.xml"),
        &target,
        "-s",
        "1001",
        "-m",
        "1",
    ]);
    assert_all_succeeded(&run, 1);
    server.assert_running();
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
