//! Mixed agents with real peers (issue 5: "two browser agents and one baresip SIP-phone
//! agent showing longest-idle and skills routing"). One headless Chromium holds two agent
//! pages (tests/softphone/two_agents.mjs): anna (A) goes available first, ben (B) a second
//! later; chen (C) works on a desk phone, baresip registered with digest, and goes
//! available last over the agent WebSocket. All three speak Mandarin; only C speaks
//! Sichuanese.
//!
//! 1. Skills: a caller from a Chengdu mobile dials the `sichuan` queue (strategy skills,
//!    requiring lang:zh>=3, which all three meet). C's phone rings, though A and B are idle
//!    longer: the caller's dialect wins. The phone answers by itself; audio flows both ways;
//!    C wraps up over the WebSocket and so becomes the most recently idle.
//! 2. Longest idle: a caller to `general` (strategy longest-idle) rings A's page, not B's,
//!    not C's phone. A answers in the browser (WebRTC through the gateway), talks, hangs up.
//! 3. While A is in wrap-up, a second caller to `general` rings B (idle longer than C); B
//!    answers in the browser; the caller hangs up; both pages wrap up.
//!
//! The CDRs name the right agent and queue for each call; screenshots of both pages go to
//! target/softphone-shots/acd-mixed/. SIPp plays pcaps through a raw socket (root needed).

mod common;

use common::agents::{AgentWs, add_agent_with_skills, wait_registered};
use common::audio::{PcapWriter, align, closed_wav, envelope, read_wav, rms, ulaw_encode};
use common::baresip::{Baresip, speech_wav};
use common::softphone::{require_browser, softphone_dir};
use common::{
    Hotline, Opts, Sipp, SippRun, TempDir, assert_sipp_succeeded, scenario, sipp_dir_with_pcaps,
    sipp_media_port, text,
};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const GENERAL: &str = "4008009000";
const SICHUAN: &str = "4008009001";
/// A China Mobile number of Chengdu, Sichuan (phone.dat).
const CHENGDU: &str = "15202881234";
const CDR_WAIT: Duration = Duration::from_secs(30);

const GENERAL_FLOW: &str = r#"flow: general
language: zh
start: q
nodes:
  q:
    enqueue: { queue: general, fallback: bye }
  bye:
    hangup: no agent
"#;

const SICHUAN_FLOW: &str = r#"flow: sichuan
language: zh
start: q
nodes:
  q:
    enqueue: { queue: sichuan, fallback: bye }
  bye:
    hangup: no agent
"#;

/// Long wrap-up times: the agents end wrap-up themselves, when the test says.
const QUEUES: &str = r#"[[queues]]
name = "general"
strategy = "longest-idle"
ring_timeout_s = 15
announce_every_s = 0
wrap_up_s = 120

[[queues]]
name = "sichuan"
strategy = "skills"
steps = [{ after_s = 0, require = ["lang:zh>=3"] }]
ring_timeout_s = 15
announce_every_s = 0
wrap_up_s = 120
"#;

/// The Chromium of tests/softphone/two_agents.mjs, one command at a time; killed on drop.
struct Browser {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    next: u32,
    shots: PathBuf,
}

impl Browser {
    fn start(server: &Hotline, mic: &Path, shots: &Path) -> Browser {
        let mut child = Command::new("node")
            .arg(softphone_dir().join("two_agents.mjs"))
            .arg(format!("http://{}", server.http))
            .args(["default", "correct horse battery"])
            .arg(mic)
            .arg(shots)
            .current_dir(softphone_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run node tests/softphone/two_agents.mjs");
        let (tx, lines) = mpsc::channel::<String>();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let stdin = child.stdin.take().unwrap();
        let mut b = Browser {
            child,
            stdin,
            lines,
            seen: Vec::new(),
            next: 0,
            shots: shots.to_path_buf(),
        };
        b.wait_line(|l| l == "READY", Duration::from_secs(30), "READY");
        b
    }

    fn wait_line(&mut self, pred: impl Fn(&str) -> bool, wait: Duration, what: &str) -> String {
        let deadline = Instant::now() + wait;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    if l.starts_with("PAGE-ERROR") {
                        eprintln!("{l}");
                    }
                    self.seen.push(l.clone());
                    if pred(&l) {
                        return l;
                    }
                }
                Err(_) => break,
            }
        }
        panic!(
            "the browser did not answer {what} within {wait:?}; it printed {:?}; screenshots in {}",
            self.seen,
            self.shots.display()
        );
    }

    /// Runs `verb agent args…` in the browser (bounded by `wait`); its JSON answer.
    fn run(&mut self, cmd: &str, wait: Duration) -> Value {
        self.next += 1;
        let id = self.next;
        writeln!(self.stdin, "{id} {cmd}").expect("write to the browser script");
        self.stdin.flush().unwrap();
        let (ok, err) = (format!("OK {id} "), format!("ERR {id} "));
        let line = self.wait_line(
            |l| l.starts_with(&ok) || l.starts_with(&err),
            wait,
            &format!("{cmd:?}"),
        );
        if let Some(json) = line.strip_prefix(&ok) {
            return serde_json::from_str(json).unwrap_or(Value::Null);
        }
        panic!(
            "the browser failed {cmd:?}: {line}; screenshots in {}",
            self.shots.display()
        );
    }

    /// The offers a page has seen so far.
    fn offers(&mut self, agent: &str) -> Vec<Value> {
        let info = self.run(&format!("info {agent}"), Duration::from_secs(10));
        info["offers"].as_array().cloned().unwrap_or_default()
    }

    fn shot(&mut self, agent: &str, name: &str) {
        self.run(&format!("shot {agent} {name}"), Duration::from_secs(15));
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "0 quit");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How a SIPp caller ends its call.
enum Ends {
    /// Sends BYE after this long.
    After(f64),
    /// Waits (up to 40 s) for Hotline's BYE: the agent hangs up.
    ByAgent,
}

/// A SIPp caller in the background dialling `number` from `from` (`None`: "sipp"), playing
/// a 440 Hz tone (ivr_caller.xml, adapted in its run directory).
fn spawn_caller(server: &Hotline, number: &str, from: Option<&str>, ends: Ends) -> Sipp {
    let dir = sipp_dir_with_pcaps();
    let mut xml = std::fs::read_to_string(scenario("ivr_caller.xml")).unwrap();
    if let Some(from) = from {
        xml = xml
            .replace("From: sipp <sip:sipp@", "From: <sip:sipp@")
            .replace("sip:sipp@", &format!("sip:{from}@"));
    }
    let secs = match ends {
        Ends::After(s) => s,
        Ends::ByAgent => {
            let (head, _) = xml.split_once("<pause/>").expect("ivr_caller.xml pauses");
            xml = format!(
                "{head}<recv request=\"BYE\" timeout=\"40000\"/>\n  <send>\n    <![CDATA[\n\n      \
                 SIP/2.0 200 OK\n      [last_Via:]\n      [last_From:]\n      [last_To:]\n      \
                 [last_Call-ID:]\n      [last_CSeq:]\n      Content-Length: 0\n\n    ]]>\n  \
                 </send>\n</scenario>\n"
            );
            30.0
        }
    };
    let sf = dir.path().join("caller.xml");
    std::fs::write(&sf, xml).unwrap();
    let tone: Vec<i16> = (0..(secs * 8000.0) as usize)
        .map(|n| (6000.0 * (2.0 * std::f64::consts::PI * 440.0 * n as f64 / 8000.0).sin()) as i16)
        .collect();
    let mut pcap = PcapWriter::new(0x0acd_3000 + common::unique());
    pcap.audio(0, &tone, ulaw_encode);
    pcap.write(&dir.path().join("pcap/ivr_caller.pcap"));
    let (target, mp, d) = (
        server.sip.to_string(),
        sipp_media_port(),
        ((secs * 1000.0) as u64).to_string(),
    );
    let sf = sf.display().to_string();
    Sipp::spawn(
        dir,
        &[
            "-sf", &sf, &target, "-s", number, "-m", "1", "-mp", &mp, "-d", &d,
        ],
    )
}

/// The UTC time (ms since the epoch) of the `nth` log line containing `needle`.
fn log_time_ms(server: &Hotline, needle: &str, nth: usize) -> Option<i64> {
    let line = server
        .log_text()
        .lines()
        .filter(|l| l.contains(needle))
        .nth(nth)?
        .to_string();
    let stamp = line.split_whitespace().next()?;
    let stamp = stamp
        .trim_start_matches("\u{1b}[2m")
        .trim_end_matches("\u{1b}[0m");
    chrono::DateTime::parse_from_rfc3339(stamp)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// The ended CDR of `call_id` (the agents' event id is the CDR's call id).
fn ended(server: &mut Hotline, call_id: &str) -> Value {
    server.wait_call(&format!("{call_id} ended"), CDR_WAIT, |c| {
        text(c, "call_id") == call_id && text(c, "state") == "ended"
    })
}

/// The caller heard `mic`'s first `secs` seconds (the agent's voice) in the call's
/// recording (right channel: what the caller heard).
fn caller_heard(server: &Hotline, cdr: &Value, mic: &Path, secs: usize, who: &str) {
    let wav = closed_wav(
        &PathBuf::from(text(cdr, "recording")),
        Duration::from_secs(5),
    );
    let heard = envelope(&wav.channel(1), 160);
    let spoken = envelope(&read_wav(mic).channel(0)[..secs * 8000], 160);
    let found = align(&spoken, &heard, heard.len());
    eprintln!("{who}'s voice in the caller's audio: {found:?}");
    server.check_cdr(
        cdr,
        found.peak > 0.6 && found.peak > 2.0 * found.chance,
        &format!("the caller hears {who} ({found:?})"),
    );
}

fn finish(caller: Sipp, what: &str) -> SippRun {
    let run = caller.finish(Duration::from_secs(45));
    eprintln!("{what}: SIPp exit {:?}", run.code);
    assert_sipp_succeeded(&run, 1);
    run
}

#[test]
fn longest_idle_and_skills_route_between_two_browser_agents_and_a_desk_phone() {
    require_browser();
    let started = Instant::now();
    let flows = TempDir::new("flows");
    std::fs::write(flows.path().join("general.yaml"), GENERAL_FLOW).unwrap();
    std::fs::write(flows.path().join("sichuan.yaml"), SICHUAN_FLOW).unwrap();
    let prompts = TempDir::new("prompts");
    let mut server = Hotline::start(Opts {
        flows_dir: Some(flows.path().to_path_buf()),
        rtp_timeout_secs: Some(0),
        numbers_toml: format!(
            "{GENERAL:?} = {{ flow = \"general\" }}\n{SICHUAN:?} = {{ flow = \"sichuan\" }}\n"
        ),
        tables_toml: QUEUES.into(),
        // baresip 1.0 fails on the SHA-256 challenge (ENOSYS) instead of using the MD5 one.
        extra: "digest_algorithms = [\"MD5\"]".into(),
        prompts_dir: Some(common::make_prompts(prompts.path())),
        ..Opts::default()
    });
    add_agent_with_skills(&server, "anna", None, "lang:zh=5,lang:en=4");
    add_agent_with_skills(&server, "ben", None, "lang:zh=5");
    add_agent_with_skills(&server, "chen", Some("1001"), "lang:zh=3,dialect:sichuan=4");

    // Voices: the browsers' fake microphone and the desk phone's.
    let mics = TempDir::new("mics");
    let browser_dir = mics.path().join("browser");
    let phone_dir = mics.path().join("phone");
    std::fs::create_dir_all(&browser_dir).unwrap();
    std::fs::create_dir_all(&phone_dir).unwrap();
    let browser_mic = speech_wav(
        &browser_dir,
        "Good morning, this is the help desk. I can see your order here. \
         It will be delivered tomorrow before noon.",
        30.0,
    );
    let phone_mic = speech_wav(
        &phone_dir,
        "Hello, this is Chen from customer support. How can I help you today? \
         Let me look at your order. Thank you for waiting.",
        60.0,
    );
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("../softphone-shots/acd-mixed");
    let _ = std::fs::remove_dir_all(&shots);
    std::fs::create_dir_all(&shots).unwrap();

    // C's desk phone registers; the browser opens both pages.
    let phone = Baresip::start_agent_phone("PCMU", &phone_mic, server.sip, "1001", "secret");
    wait_registered(&server);
    let mut browser = Browser::start(&server, &browser_mic, &shots);
    let long = Duration::from_secs(30);
    browser.run("signin A anna", long);
    browser.run("signin B ben", long);
    let mut chen = AgentWs::sign_in(&server, "chen");
    let hello = chen.wait_for("hello", Duration::from_secs(5), |_| true);
    assert_eq!(hello["agent"]["sip_user"], "1001", "{hello}");

    // Available at known times: A, then B a second later, then C.
    let a_at = browser.run("available A", long)["at_ms"].as_i64().unwrap();
    std::thread::sleep(Duration::from_secs(1));
    let b_at = browser.run("available B", long)["at_ms"].as_i64().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    chen.go_available();
    browser.shot("A", "01-available");
    browser.shot("B", "01-available");
    eprintln!("A available, B {} ms later, then C", b_at - a_at);
    assert!(b_at - a_at >= 900, "B went available after A");

    // 1. Skills: the Chengdu caller reaches C's desk phone though A and B wait longer.
    let t1 = Instant::now();
    let caller = spawn_caller(&server, SICHUAN, Some(CHENGDU), Ends::After(8.0));
    let offer = chen.wait_for("offer", Duration::from_secs(10), |_| true);
    eprintln!("C offered the Sichuan caller after {:?}", t1.elapsed());
    assert_eq!(offer["queue"], "sichuan", "{offer}");
    assert_eq!(offer["region"], "四川 成都 · 中国移动", "{offer}");
    let skills_call = offer["call_id"].as_str().unwrap().to_string();
    chen.wait_for("call", Duration::from_secs(10), |v| {
        v["state"] == "connected"
    });
    let log = server.log_lines(&["caller queued"]);
    assert!(log.contains("dialect=Some(\"sichuan\")"), "{log}");
    for page in ["A", "B"] {
        let offers = browser.offers(page);
        assert!(
            offers.is_empty(),
            "{page}'s page must not ring for the Sichuan caller: {offers:?}"
        );
    }
    finish(caller, "the Sichuan caller");
    chen.wait_for("state", Duration::from_secs(10), |v| {
        v["state"] == "wrap-up"
    });
    chen.send(json!({"type": "wrap_up", "call_id": skills_call, "disposition": "resolved"}));
    chen.wait_for("state", Duration::from_secs(5), |v| {
        v["state"] == "available"
    });
    let cdr = ended(&mut server, &skills_call);
    let check = |ok: bool, what: &str| server.check_cdr(&cdr, ok, what);
    check(text(&cdr, "agent") == "chen", "the CDR names agent C");
    check(text(&cdr, "queue") == "sichuan", "the CDR names the queue");
    check(
        text(&cdr, "ivr_path").contains("q(agent chen)"),
        "the path ends at agent C",
    );
    check(
        text(&cdr, "hangup_cause") == "caller hung up (BYE)",
        "the caller hung up",
    );
    caller_heard(&server, &cdr, &phone_mic, 5, "C's desk phone");
    let got = closed_wav(&phone.dump("-dec.wav"), Duration::from_secs(5));
    let phone_heard = rms(&got.channel(0));
    eprintln!("C's phone heard the caller at rms {phone_heard:.0}");
    assert!(
        phone_heard > 1000.0,
        "C's phone hears the caller (rms {phone_heard:.0})"
    );

    // 2. Longest idle: A (free since first) rings, not B, not C; A answers in the browser.
    let caller = spawn_caller(&server, GENERAL, None, Ends::ByAgent);
    let ring = browser.run("ring A 15000", long);
    assert!(
        ring["screen"]["queue"]
            .as_str()
            .unwrap_or("")
            .contains("general"),
        "{ring}"
    );
    let first_call = ring["screen"]["call_id"].as_str().unwrap().to_string();
    let queued = log_time_ms(&server, "caller queued", 1).expect("the second caller queued");
    let ring_ms = ring["at_ms"].as_i64().unwrap() - queued;
    eprintln!("A's page rang {ring_ms} ms after the caller was queued");
    assert!(ring_ms < 2000, "A's page rang {ring_ms} ms after enqueue");
    browser.shot("A", "02-ringing");
    assert!(browser.offers("B").is_empty(), "B must not ring yet");
    assert!(
        chen.poll_for("offer", Duration::from_millis(300), |_| true)
            .is_none(),
        "C must not ring: {:?}",
        chen.seen
    );
    let talk = browser.run("answer A", long);
    eprintln!("A hears: {}", talk["inbound"]);
    assert!(
        talk["inbound"]["packetsReceived"].as_u64().unwrap_or(0) > 100,
        "audio reaches A's browser: {talk}"
    );
    assert!(
        talk["inbound"]["audioLevel"].as_f64().unwrap_or(0.0) > 0.05,
        "A hears the caller's tone: {talk}"
    );
    browser.shot("A", "03-talking");
    std::thread::sleep(Duration::from_secs(3));
    browser.run("hangup A", long);
    browser.shot("A", "04-wrap-up");
    finish(caller, "the first general caller (A hung up)");

    // 3. While A is in wrap-up, the next caller rings B (free longer than C).
    let caller = spawn_caller(&server, GENERAL, None, Ends::After(9.0));
    let ring = browser.run("ring B 15000", long);
    let second_call = ring["screen"]["call_id"].as_str().unwrap().to_string();
    assert_ne!(first_call, second_call);
    let a_now = browser.run("info A", long);
    assert_eq!(a_now["state"], "wrap-up", "A is still in wrap-up: {a_now}");
    assert_eq!(
        a_now["offers"].as_array().map_or(0, Vec::len),
        1,
        "A rang once only: {a_now}"
    );
    assert!(
        chen.poll_for("offer", Duration::from_millis(300), |_| true)
            .is_none(),
        "C must not ring while B is free longer: {:?}",
        chen.seen
    );
    browser.shot("B", "02-ringing");
    let talk = browser.run("answer B", long);
    eprintln!("B hears: {}", talk["inbound"]);
    assert!(
        talk["inbound"]["packetsReceived"].as_u64().unwrap_or(0) > 100,
        "audio reaches B's browser: {talk}"
    );
    browser.shot("B", "03-talking");
    browser.run("wait_state B wrap-up 20000", long);
    browser.shot("B", "04-wrap-up");
    finish(caller, "the second general caller");
    browser.run("wrapup A resolved", long);
    browser.run("wrapup B resolved", long);
    browser.shot("A", "05-available-again");
    browser.shot("B", "05-available-again");

    // The CDRs name the right agents.
    let cdr = ended(&mut server, &first_call);
    let check = |ok: bool, what: &str| server.check_cdr(&cdr, ok, what);
    check(text(&cdr, "agent") == "anna", "the CDR names agent A");
    check(text(&cdr, "queue") == "general", "the CDR names the queue");
    check(
        text(&cdr, "hangup_cause").contains("anna"),
        "agent A hung up",
    );
    caller_heard(&server, &cdr, &browser_mic, 3, "A's browser");
    let cdr = ended(&mut server, &second_call);
    let check = |ok: bool, what: &str| server.check_cdr(&cdr, ok, what);
    check(text(&cdr, "agent") == "ben", "the CDR names agent B");
    check(text(&cdr, "queue") == "general", "the CDR names the queue");
    check(
        text(&cdr, "hangup_cause") == "caller hung up (BYE)",
        "the caller hung up",
    );
    caller_heard(&server, &cdr, &browser_mic, 3, "B's browser");
    // Each agent's wrap-up (two pages' forms, one WebSocket command) lands on its CDR.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut dispositions = Vec::new();
    while Instant::now() < deadline {
        let calls = server.api_calls().unwrap_or_default();
        dispositions = [&skills_call, &first_call, &second_call]
            .iter()
            .map(|id| {
                calls
                    .iter()
                    .find(|c| text(c, "call_id") == id.as_str())
                    .map(|c| text(c, "disposition").to_string())
                    .unwrap_or_default()
            })
            .collect();
        if dispositions.iter().all(|d| d == "resolved") {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        dispositions, ["resolved"; 3],
        "the dispositions of C, A and B are on their CDRs"
    );
    let all = server.api_calls().unwrap();
    for c in &all {
        eprintln!(
            "CDR {}: queue {}, agent {}, waited {:?} s, {} s long, {}, disposition {}",
            text(c, "call_id"),
            text(c, "queue"),
            text(c, "agent"),
            common::num(c, "queue_wait_s"),
            common::num(c, "duration_s").unwrap_or(-1.0),
            text(c, "hangup_cause"),
            text(c, "disposition")
        );
    }
    let mut agents: Vec<(String, String)> = all
        .iter()
        .map(|c| (text(c, "queue").to_string(), text(c, "agent").to_string()))
        .collect();
    agents.sort();
    assert_eq!(
        agents,
        [
            ("general".to_string(), "anna".to_string()),
            ("general".to_string(), "ben".to_string()),
            ("sichuan".to_string(), "chen".to_string()),
        ],
        "three calls, each to its agent: {}",
        common::show_calls(&all)
    );
    drop(browser);
    drop(phone);
    eprintln!(
        "the whole walk took {:?}; screenshots: {}",
        started.elapsed(),
        shots.display()
    );
}
