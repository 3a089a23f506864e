//! RFC 4475 torture messages against the real server, over UDP and over TCP.
//!
//! UDP responses go to the Via address (RFC 3261 §18.2.2: the source IP as `received`, the
//! sent-by port or 5060, or `rport`), and the messages name hosts and ports we do not own; so
//! the test runs in a private network namespace (`unshare -rn`), where it may bind
//! 127.0.0.1:5060/5050/5070 and the server listens on 127.0.0.2:5060 (all of 127/8 is loopback).
//! Verdicts come from `tests/data/rfc4475/EXPECTED.tsv`; the response codes for the `reject`
//! rows are in [`expectation`].

mod common;

use common::{
    Hotline, Opts, RawResponse, TcpRead, TcpSip, TempDir, build_ack, header_values,
    options_request, options_tcp, options_udp, parse_response, require_binary, test_path, unique,
};
use std::collections::{HashMap, HashSet};
use std::fs;
use std::net::{SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

const TEST_NAME: &str = "torture_messages_get_the_expected_verdicts";
const SERVER: &str = "127.0.0.2:5060";
/// Our sockets: 5060 sends and catches; 5050 and 5070 are sent-by ports that occur in the data.
const CATCH: [&str; 3] = ["127.0.0.1:5060", "127.0.0.1:5050", "127.0.0.1:5070"];
/// How long a request may take to get its final response.
const ANSWER_WAIT: Duration = Duration::from_secs(5);
/// How long to wait on an `either` row before deciding it got nothing (which is allowed).
const EITHER_WAIT: Duration = Duration::from_secs(2);
/// How long the OPTIONS fence that follows every message may take.
const FENCE_WAIT: Duration = Duration::from_secs(3);
/// RFC 3261 T1 for this run (profile `[timers] t1_ms`): short, so that a UDP transaction
/// ends soon after its final response (Timer J = 64*T1) and a later message reusing its
/// key is not taken for a retransmission.
const T1_MS: u32 = 100;
/// Bound on the whole run inside the namespace.
const NETNS_RUN_LIMIT: Duration = Duration::from_secs(600);

#[test]
fn torture_messages_get_the_expected_verdicts() {
    if std::env::var_os("HOTLINE_IN_NETNS").is_none() {
        rerun_in_private_netns();
    } else {
        run_all();
    }
}

/// Re-executes this test binary, this test only, inside `unshare -rn` and asserts it passed.
fn rerun_in_private_netns() {
    require_binary("unshare");
    require_binary("ip");
    let exe = std::env::current_exe().expect("path of this test binary");
    let dir = TempDir::new("netns");
    let out_path = dir.path().join("output.txt");
    let out = fs::File::create(&out_path).expect("create output file");
    let err = out.try_clone().expect("clone output handle");
    let mut child = Command::new("unshare")
        .args(["-rn", "sh", "-c", r#"ip link set lo up && exec "$@""#, "sh"])
        .arg(&exe)
        .args([TEST_NAME, "--exact", "--nocapture", "--test-threads=1"])
        .env("HOTLINE_IN_NETNS", "1")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("run unshare (util-linux): run scripts/install-deps.sh test");
    let deadline = Instant::now() + NETNS_RUN_LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the namespaced run") {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let output = String::from_utf8_lossy(&fs::read(&out_path).unwrap_or_default()).into_owned();
    println!("{output}");
    let status = status.unwrap_or_else(|| {
        panic!("the namespaced run did not finish within {NETNS_RUN_LIMIT:?}; its output is above")
    });
    assert!(
        status.success() && output.contains("1 passed"),
        "the RFC 4475 run inside `unshare -rn` failed ({status}); its output is above. If \
         unshare itself failed, this machine forbids user namespaces: run the test as root."
    );
}

// ---------------------------------------------------------------------------------------------
// The cases

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    Accept,
    Reject,
    Either,
}

/// What must come back for one message.
#[derive(Clone, Debug)]
enum Expect {
    /// A stray response: nothing is sent back.
    Silent,
    /// A final response that is not 400.
    NotBadRequest,
    /// A final response with one of these codes, and (if given) this header containing each
    /// of these texts.
    Codes(
        &'static [u16],
        Option<(&'static str, &'static [&'static str])>,
    ),
    /// Anything or nothing; the server stays up.
    Anything,
}

impl Expect {
    fn describe(&self) -> String {
        match self {
            Expect::Silent => "nothing back".into(),
            Expect::NotBadRequest => "final, not 400".into(),
            Expect::Anything => "anything".into(),
            Expect::Codes(codes, hdr) => {
                let codes: Vec<String> = codes.iter().map(|c| c.to_string()).collect();
                match hdr {
                    Some((name, _)) => format!("{} + {name}", codes.join("/")),
                    None => codes.join("/"),
                }
            }
        }
    }
}

struct Case {
    name: String,
    verdict: Verdict,
    expect: Expect,
    bytes: Vec<u8>,
    method: String,
    request_uri: String,
    /// Every Call-ID in the file (some hold two, or a second message).
    call_ids: HashSet<String>,
    /// Every Via branch in the file (to recognise answers that carry no Call-ID).
    branches: HashSet<String>,
    txn_key: Option<TxnKey>,
}

/// RFC 3261 §17.2.3 server transaction key: top Via branch (with the magic cookie), sent-by,
/// and method (ACK counts as INVITE). Several RFC 4475 messages share one (cparam01/cparam02,
/// escnull/regescrt, unkscm/novelsc): sent while the first one's transaction lives, the
/// second is rightly a retransmission. The test judges parsing, so it waits that out.
type TxnKey = (String, String, String);

fn transaction_key(text: &str, method: &str) -> Option<TxnKey> {
    let via = header_values(text, "via").into_iter().next()?;
    let via = via.split(',').next()?;
    let mut parts = via.split(';');
    let sent_by = parts
        .next()?
        .split_whitespace()
        .last()?
        .to_ascii_lowercase();
    let branch = parts
        .filter_map(|p| p.trim().strip_prefix("branch="))
        .next()?
        .to_string();
    if !branch.starts_with("z9hG4bK") {
        return None;
    }
    let method = if method == "ACK" { "INVITE" } else { method };
    Some((branch, sent_by, method.to_string()))
}

/// The cases in file order, except that a case whose transaction key an earlier case has
/// goes to the end (so the run waits for a transaction to end at most once per key).
fn schedule(cases: &[Case]) -> Vec<&Case> {
    let mut keys = HashSet::new();
    let (first, later): (Vec<&Case>, Vec<&Case>) = cases
        .iter()
        .partition(|c| c.txn_key.as_ref().is_none_or(|k| keys.insert(k.clone())));
    first.into_iter().chain(later).collect()
}

/// How long after its last message a UDP server transaction may still be alive (Timer J or
/// H = 64*T1), plus a margin.
fn transaction_lifetime() -> Duration {
    Duration::from_millis(64 * u64::from(T1_MS) + 500)
}

/// The response codes of the `reject` rows (RFC 4475 §3).
fn expectation(name: &str, verdict: Verdict, is_response: bool) -> Expect {
    if is_response {
        return Expect::Silent;
    }
    match verdict {
        Verdict::Accept => Expect::NotBadRequest,
        Verdict::Either => Expect::Anything,
        Verdict::Reject => match name {
            "badinv01" | "clerr" | "ncl" | "scalar02" | "quotbal" | "ltgtruri" | "lwsruri"
            | "lwsstart" | "escruri" | "regbadct" | "mismatch01" | "mismatch02" | "insuf"
            | "multi01" | "mcl01" => Expect::Codes(&[400], None),
            "badvers" => Expect::Codes(&[505], None),
            "unkscm" | "novelsc" => Expect::Codes(&[416], None),
            // Unsupported lists the option-tags of the message's Require (RFC 3261 §8.2.2.3).
            "bext01" => Expect::Codes(
                &[420],
                Some((
                    "unsupported",
                    &["nothingSupportsThis", "nothingSupportsThisEither"],
                )),
            ),
            "invut" => Expect::Codes(&[415], Some(("accept", &[]))),
            "regaut01" => Expect::Codes(&[401], Some(("www-authenticate", &[]))),
            "sdp01" => Expect::Codes(&[406, 488], None),
            other => panic!("no expected response code for reject row {other}: add it here"),
        },
    }
}

/// Call-IDs anywhere in the text (a header scan that also sees a second message in a body).
fn all_header_values(text: &str, names: &[&str]) -> Vec<String> {
    text.split('\n')
        .filter_map(|l| {
            let (n, v) = l.split_once(':')?;
            names
                .iter()
                .any(|x| n.trim().eq_ignore_ascii_case(x))
                .then(|| v.trim().to_string())
        })
        .collect()
}

fn branches_of(text: &str) -> HashSet<String> {
    all_header_values(text, &["via", "v"])
        .iter()
        .flat_map(|v| v.split([';', ',']).map(str::trim).collect::<Vec<_>>())
        .filter_map(|p| p.strip_prefix("branch=").map(str::to_string))
        .collect()
}

fn load_cases() -> Vec<Case> {
    let dir = test_path("data/rfc4475");
    let tsv = fs::read_to_string(dir.join("EXPECTED.tsv")).expect("read EXPECTED.tsv");
    let mut cases = Vec::new();
    for line in tsv.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let cols: Vec<&str> = line.split('\t').collect();
        assert!(cols.len() >= 3, "EXPECTED.tsv: short line {line:?}");
        let name = cols[0].to_string();
        let verdict = match cols[2] {
            "accept" => Verdict::Accept,
            "reject" => Verdict::Reject,
            "either" => Verdict::Either,
            v => panic!("EXPECTED.tsv: unknown verdict {v:?} for {name}"),
        };
        let bytes = fs::read(dir.join(format!("{name}.dat"))).expect("read a .dat file");
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let first = text.lines().next().unwrap_or("").to_string();
        let is_response = first.starts_with("SIP/");
        let method = first.split(' ').next().unwrap_or("").to_string();
        // The Request-URI: between the method and the last " SIP/" of the request line.
        let request_uri = match (first.find(' '), first.rfind(" SIP/")) {
            (Some(a), Some(b)) if a < b => first[a + 1..b].trim().to_string(),
            _ => String::new(),
        };
        cases.push(Case {
            txn_key: (!is_response)
                .then(|| transaction_key(&text, &method))
                .flatten(),
            expect: expectation(&name, verdict, is_response),
            call_ids: all_header_values(&text, &["call-id", "i"])
                .into_iter()
                .collect(),
            branches: branches_of(&text),
            name,
            verdict,
            bytes,
            method,
            request_uri,
        });
    }
    assert_eq!(
        cases.len(),
        49,
        "EXPECTED.tsv should list the 49 RFC 4475 messages"
    );
    cases
}

// ---------------------------------------------------------------------------------------------
// Running one case

#[derive(Clone, Copy, PartialEq, Eq)]
enum Transport {
    Udp,
    Tcp,
}

impl Transport {
    fn name(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
        }
    }
}

/// What came back for one message.
#[derive(Default)]
struct Outcome {
    /// Final responses (code, the local UDP port it arrived on).
    finals: Vec<(RawResponse, Option<u16>)>,
    provisionals: Vec<u16>,
    /// The TCP connection was closed by the server.
    closed: bool,
    /// The OPTIONS sent after the message got its 200.
    fence_ok: bool,
    acked: bool,
    note: String,
    /// Our end of the TCP connection (to find it in the server log).
    local_port: Option<u16>,
}

impl Outcome {
    /// The final response that answers the message: one whose CSeq method is the request's.
    fn answer(&self, method: &str) -> Option<&RawResponse> {
        self.finals
            .iter()
            .map(|(r, _)| r)
            .find(|r| r.cseq.as_ref().is_some_and(|c| c.1 == method))
            .or_else(|| self.finals.first().map(|(r, _)| r))
    }

    fn describe(&self, method: &str) -> String {
        let mut s = match self.answer(method) {
            Some(r) => {
                let port = self
                    .finals
                    .iter()
                    .find(|(f, _)| std::ptr::eq(f, r))
                    .and_then(|(_, p)| *p)
                    .map(|p| format!(" @{p}"))
                    .unwrap_or_default();
                format!("{}{port}", r.code)
            }
            None if !self.provisionals.is_empty() => {
                format!("only {:?}", self.provisionals)
            }
            None => "nothing".into(),
        };
        if self.finals.len() > 1 {
            let all: Vec<u16> = self.finals.iter().map(|(r, _)| r.code).collect();
            s.push_str(&format!(" (all {all:?})"));
        }
        if self.acked {
            s.push_str(" +ACK");
        }
        if self.closed {
            s.push_str(" closed");
        }
        if !self.fence_ok {
            s.push_str(" [no 200 to the OPTIONS after it]");
        }
        if !self.note.is_empty() {
            s.push_str(&format!(" ({})", self.note));
        }
        s
    }
}

/// What we already sent: answers that name these belong to earlier cases (retransmissions).
#[derive(Default)]
struct Seen {
    call_ids: HashSet<String>,
    branches: HashSet<String>,
}

impl Seen {
    fn is_old(&self, r: &RawResponse, case: &Case) -> bool {
        match &r.call_id {
            Some(id) => self.call_ids.contains(id) && !case.call_ids.contains(id),
            None => {
                let branches = branches_of(&r.text);
                !branches.is_empty()
                    && branches.iter().all(|b| self.branches.contains(b))
                    && !branches.iter().any(|b| case.branches.contains(b))
            }
        }
    }
}

/// Records one response, ACKing a final response to an INVITE through `send`; true when it
/// is the final response to the message itself (its CSeq method is the request's).
fn record(
    case: &Case,
    out: &mut Outcome,
    (r, port): (RawResponse, Option<u16>),
    t: Transport,
    send: impl FnOnce(&[u8]),
) -> bool {
    if r.code < 200 {
        out.provisionals.push(r.code);
        return false;
    }
    if r.cseq.as_ref().is_some_and(|c| c.1 == "INVITE") {
        let local: SocketAddr = CATCH[0].parse().expect("catch addr");
        send(build_ack(&r, &case.request_uri, local, t.name()).as_bytes());
        out.acked = true;
    }
    let answers = r.cseq.as_ref().is_some_and(|c| c.1 == case.method);
    out.finals.push((r, port));
    answers
}

/// How long to wait for the message's own final response.
fn answer_wait(case: &Case) -> Duration {
    match case.expect {
        Expect::Silent => Duration::ZERO,
        Expect::Anything => EITHER_WAIT,
        _ => ANSWER_WAIT,
    }
}

/// After a final response for another CSeq method (mismatch rows), a matching one gets a moment.
const OTHER_FINAL_GRACE: Duration = Duration::from_millis(300);

fn run_udp(catcher: &UdpCatcher, server: SocketAddr, case: &Case, seen: &Seen) -> Outcome {
    let mut out = Outcome::default();
    catcher.drain();
    if let Err(e) = catcher.sender.send_to(&case.bytes, server) {
        out.note = format!("send failed: {e}");
        return out;
    }
    let send = |b: &[u8]| {
        let _ = catcher.sender.send_to(b, server);
    };
    let mut deadline = Instant::now() + answer_wait(case);
    while let Some(c) = catcher.recv(deadline) {
        let Some(r) = parse_response(&c.data) else {
            continue;
        };
        if seen.is_old(&r, case) {
            continue;
        }
        let finals = out.finals.len();
        if record(case, &mut out, (r, Some(c.port)), Transport::Udp, send) {
            break;
        }
        if out.finals.len() > finals {
            deadline = deadline.min(Instant::now() + OTHER_FINAL_GRACE);
        }
    }
    // The fence: an OPTIONS whose 200 shows the server is up; whatever else arrives before it
    // still belongs to this case (that is how a stray response that was answered shows up).
    let fence_id = format!("fence-{}", unique());
    let local: SocketAddr = CATCH[0].parse().expect("catch addr");
    let fence = options_request(server, local, "UDP", &fence_id);
    if catcher.sender.send_to(fence.as_bytes(), server).is_err() {
        return out;
    }
    let deadline = Instant::now() + FENCE_WAIT;
    while let Some(c) = catcher.recv(deadline) {
        let Some(r) = parse_response(&c.data) else {
            continue;
        };
        if r.call_id.as_deref() == Some(fence_id.as_str()) {
            if r.code == 200 {
                out.fence_ok = true;
                break;
            }
            continue;
        }
        if !seen.is_old(&r, case) {
            record(case, &mut out, (r, Some(c.port)), Transport::Udp, send);
        }
    }
    out
}

fn run_tcp(server: SocketAddr, case: &Case) -> Outcome {
    let mut out = Outcome::default();
    let mut conn = match TcpSip::connect(server, Duration::from_secs(2)) {
        Ok(c) => c,
        Err(e) => {
            out.note = format!("connect failed: {e}");
            return out;
        }
    };
    out.local_port = Some(conn.local.port());
    if let Err(e) = conn.send(&case.bytes) {
        out.note = format!("send failed: {e}");
    }
    let mut half_closed = false;
    let mut deadline = Instant::now() + answer_wait(case);
    loop {
        match conn.read_message(deadline) {
            TcpRead::Message(m) => {
                let Some(r) = parse_response(&m) else {
                    continue;
                };
                let finals = out.finals.len();
                let send = |b: &[u8]| {
                    let _ = conn.send(b);
                };
                if record(case, &mut out, (r, None), Transport::Tcp, send) {
                    break;
                }
                if out.finals.len() > finals {
                    deadline = deadline.min(Instant::now() + OTHER_FINAL_GRACE);
                }
            }
            TcpRead::Closed => {
                out.closed = true;
                break;
            }
            TcpRead::Timeout => {
                // A message a stream cannot frame (Content-Length missing or too large) leaves
                // the server waiting for more bytes; EOF tells it no more will come.
                if half_closed || !out.finals.is_empty() || matches!(case.expect, Expect::Silent) {
                    break;
                }
                conn.shutdown_write();
                half_closed = true;
                deadline = Instant::now() + EITHER_WAIT;
            }
        }
    }
    if out.closed || half_closed {
        // The connection cannot carry the fence: use a new one.
        out.fence_ok = options_tcp(server, FENCE_WAIT).is_some_and(|r| r.code == 200);
        return out;
    }
    let fence_id = format!("fence-{}", unique());
    let fence = options_request(server, conn.local, "TCP", &fence_id);
    if conn.send(fence.as_bytes()).is_err() {
        out.closed = true;
    }
    let deadline = Instant::now() + FENCE_WAIT;
    while !out.closed {
        match conn.read_message(deadline) {
            TcpRead::Message(m) => {
                let Some(r) = parse_response(&m) else {
                    continue;
                };
                if r.call_id.as_deref() == Some(fence_id.as_str()) {
                    out.fence_ok = r.code == 200;
                    break;
                }
                let send = |b: &[u8]| {
                    let _ = conn.send(b);
                };
                record(case, &mut out, (r, None), Transport::Tcp, send);
            }
            TcpRead::Closed => out.closed = true,
            TcpRead::Timeout => break,
        }
    }
    if out.closed && !out.fence_ok {
        out.fence_ok = options_tcp(server, FENCE_WAIT).is_some_and(|r| r.code == 200);
    }
    out
}

/// `Ok(())` if the outcome meets the expectation, else why not.
fn judge(case: &Case, t: Transport, out: &Outcome) -> Result<(), String> {
    if !out.fence_ok {
        return Err("the server did not answer the OPTIONS that followed".into());
    }
    // Over TCP, a server may close a connection whose bytes it cannot frame or parse; allowed
    // where rejecting the message is allowed (reject/either rows), and for a message without
    // Content-Length, which RFC 3261 §18.3 makes mandatory on streams (inv2543 is an accept
    // row written for UDP: over TCP its SDP body could not be told from the next message).
    let close_allowed = t == Transport::Tcp
        && (case.verdict != Verdict::Accept || !has_content_length(&case.bytes));
    let answer = out.answer(&case.method);
    match &case.expect {
        Expect::Anything => Ok(()),
        Expect::Silent => {
            if !out.finals.is_empty() || !out.provisionals.is_empty() {
                Err("a response to a stray response was sent back".into())
            } else if out.closed && !close_allowed {
                Err("the connection was closed over a well-formed response".into())
            } else {
                Ok(())
            }
        }
        Expect::NotBadRequest => match answer {
            Some(r) if r.code == 400 => Err("400 for a well-formed message".into()),
            Some(_) => Ok(()),
            None if out.closed && close_allowed => Ok(()),
            None => Err("no final response".into()),
        },
        Expect::Codes(codes, hdr) => match answer {
            Some(r) if !codes.contains(&r.code) => Err(format!("wrong code {}", r.code)),
            Some(r) => match hdr {
                Some((name, needles)) => {
                    // Option-tags are compared as tokens: split the list at commas.
                    let values = header_values(&r.text, name);
                    let tokens: Vec<&str> = values
                        .iter()
                        .flat_map(|v| v.split(',').map(str::trim))
                        .collect();
                    let missing: Vec<&&str> =
                        needles.iter().filter(|n| !tokens.contains(*n)).collect();
                    if values.is_empty() {
                        Err(format!("missing header {name}"))
                    } else if !missing.is_empty() {
                        Err(format!("header {name} does not list {missing:?}"))
                    } else {
                        Ok(())
                    }
                }
                None => Ok(()),
            },
            None if out.closed && close_allowed => Ok(()),
            None => Err("no final response".into()),
        },
    }
}

/// Whether the header section has a Content-Length (long or compact `l`) line.
fn has_content_length(msg: &[u8]) -> bool {
    let text = String::from_utf8_lossy(msg);
    let head = text.split("\r\n\r\n").next().unwrap_or("");
    head.lines().any(|l| {
        let name = l
            .split(':')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        l.contains(':') && (name == "content-length" || name == "l")
    })
}

// ---------------------------------------------------------------------------------------------
// UDP: several sockets catching whatever the server sends

/// One datagram caught on one of our sockets.
pub struct Caught {
    /// The local port it arrived on.
    pub port: u16,
    pub from: SocketAddr,
    pub data: Vec<u8>,
}

/// Binds a UDP socket per address and collects everything that arrives into one queue.
pub struct UdpCatcher {
    /// A handle on the first socket, for sending.
    pub sender: UdpSocket,
    rx: mpsc::Receiver<Caught>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl UdpCatcher {
    pub fn bind(addrs: &[SocketAddr]) -> std::io::Result<UdpCatcher> {
        let (tx, rx) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let mut sockets = Vec::new();
        for a in addrs {
            sockets.push(UdpSocket::bind(a)?);
        }
        let sender = sockets[0].try_clone()?;
        let mut threads = Vec::new();
        for sock in sockets {
            // A short read timeout so each thread notices `stop` quickly.
            sock.set_read_timeout(Some(Duration::from_millis(50)))?;
            let port = sock.local_addr()?.port();
            let tx = tx.clone();
            let stop = stop.clone();
            threads.push(thread::spawn(move || {
                let mut buf = vec![0u8; 65536];
                while !stop.load(Ordering::Relaxed) {
                    if let Ok((n, from)) = sock.recv_from(&mut buf) {
                        let c = Caught {
                            port,
                            from,
                            data: buf[..n].to_vec(),
                        };
                        if tx.send(c).is_err() {
                            return;
                        }
                    }
                }
            }));
        }
        Ok(UdpCatcher {
            sender,
            rx,
            stop,
            threads,
        })
    }

    /// The next datagram, or `None` once `deadline` has passed.
    pub fn recv(&self, deadline: Instant) -> Option<Caught> {
        let left = deadline.checked_duration_since(Instant::now())?;
        self.rx.recv_timeout(left).ok()
    }

    /// Discards whatever is queued.
    pub fn drain(&self) -> usize {
        self.rx.try_iter().count()
    }
}

impl Drop for UdpCatcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The run

fn run_all() {
    let server: SocketAddr = SERVER.parse().expect("server addr");
    let mut hotline = Hotline::start(Opts {
        sip_listen: Some(server),
        t1_ms: Some(T1_MS),
        ..Opts::default()
    });
    let addrs: Vec<SocketAddr> = CATCH.iter().map(|a| a.parse().expect("addr")).collect();
    let catcher = UdpCatcher::bind(&addrs).expect("bind 127.0.0.1:5060/5050/5070 in the namespace");
    let cases = load_cases();

    let mut rows: Vec<Row> = Vec::new();
    // Several messages share a transaction key (see `transaction_key`): each transport runs the
    // messages with a new key first, then the rest, each after its key's transaction has ended.
    let mut last_use: HashMap<TxnKey, Instant> = HashMap::new();
    for t in [Transport::Udp, Transport::Tcp] {
        let mut seen = Seen::default();
        for case in schedule(&cases) {
            if let Some(done) = case.txn_key.as_ref().and_then(|k| last_use.get(k)) {
                let until = *done + transaction_lifetime();
                if let Some(left) = until.checked_duration_since(Instant::now()) {
                    std::thread::sleep(left);
                }
            }
            let out = match t {
                Transport::Udp => run_udp(&catcher, server, case, &seen),
                Transport::Tcp => run_tcp(server, case),
            };
            if let Some(k) = &case.txn_key {
                last_use.insert(k.clone(), Instant::now());
            }
            rows.push(Row::new(case, t, out));
            seen.call_ids.extend(case.call_ids.iter().cloned());
            seen.branches.extend(case.branches.iter().cloned());
        }
    }
    let order = |name: &str| cases.iter().position(|c| c.name == name);
    rows.sort_by_key(|r| (r.transport == Transport::Tcp, order(&r.name)));

    println!(
        "\n{:<11} {:<4} {:<26} {:<40} result",
        "file", "via", "expected", "got"
    );
    for r in &rows {
        let result = match &r.verdict {
            Ok(()) => "ok".to_string(),
            Err(why) => format!("FAIL: {why}"),
        };
        println!(
            "{:<11} {:<4} {:<26} {:<40} {result}",
            r.name,
            r.transport.name(),
            r.expected,
            r.got
        );
    }
    let failed: Vec<&Row> = rows.iter().filter(|r| r.verdict.is_err()).collect();
    for r in &failed {
        println!(
            "\n---- {} over {}{}: what came back ----\n{}",
            r.name,
            r.transport.name(),
            r.local_port
                .map(|p| format!(" (from local port {p})"))
                .unwrap_or_default(),
            r.response.as_deref().unwrap_or("(no final response)")
        );
    }

    // Afterwards the server still answers, over both transports.
    hotline.assert_running();
    let udp = options_udp(server, FENCE_WAIT).map(|r| r.code);
    let tcp = options_tcp(server, FENCE_WAIT).map(|r| r.code);
    println!("after the run: OPTIONS over UDP -> {udp:?}, over TCP -> {tcp:?}");
    assert_eq!(
        udp,
        Some(200),
        "the server no longer answers OPTIONS over UDP"
    );
    assert_eq!(
        tcp,
        Some(200),
        "the server no longer answers OPTIONS over TCP"
    );
    let names: Vec<String> = failed
        .iter()
        .map(|r| format!("{}/{}", r.name, r.transport.name()))
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {} RFC 4475 checks failed: {} (table above)",
        failed.len(),
        rows.len(),
        names.join(", ")
    );
}

/// One line of the report.
struct Row {
    name: String,
    transport: Transport,
    expected: String,
    got: String,
    verdict: Result<(), String>,
    response: Option<String>,
    local_port: Option<u16>,
}

impl Row {
    fn new(case: &Case, t: Transport, out: Outcome) -> Row {
        Row {
            name: case.name.clone(),
            transport: t,
            expected: case.expect.describe(),
            got: out.describe(&case.method),
            verdict: judge(case, t, &out),
            response: out.answer(&case.method).map(|r| r.text.clone()),
            local_port: out.local_port,
        }
    }
}
