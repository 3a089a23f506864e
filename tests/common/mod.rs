//! Harness shared by the end-to-end tests: start the real `hotline` binary on free loopback
//! ports, run SIPp against it, and a tiny raw SIP client.
//!
//! The raw client deliberately does not use the crate's own SIP parser: the RFC 4475 test
//! judges that parser, so it must not trust it. It only understands what our own server
//! sends back (status line, a few headers, Content-Length framing).
#![allow(dead_code)] // each test binary uses its own part of the harness

use std::fs;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long the server may take to answer its first OPTIONS.
const START_TIMEOUT: Duration = Duration::from_secs(15);

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A number unique within this test process (for names, tags, branches).
pub fn unique() -> u32 {
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

/// Path of a file under the repository's `tests/` directory.
pub fn test_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(rel)
}

// ---------------------------------------------------------------------------------------------
// Temp dirs and peers

/// A temp directory removed on drop, kept (and its path printed) when the test panicked.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!("hotline-{tag}-{}-{}-{nanos}", std::process::id(), unique());
        let path = std::env::temp_dir().join(name);
        fs::create_dir_all(&path).expect("create temp dir");
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if thread::panicking() {
            eprintln!("(kept for inspection: {})", self.path.display());
        } else {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// Panics with the fix when a peer program the tests need is not installed.
pub fn require_binary(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join(name);
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!("`{name}` is not installed (needed by this test): run scripts/install-deps.sh test");
}

/// The last `lines` lines of a file (for failure messages).
pub fn tail(path: &Path, lines: usize) -> String {
    let text = fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_else(|e| format!("(cannot read {}: {e})", path.display()));
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

// ---------------------------------------------------------------------------------------------
// Free ports

/// A loopback port free for both UDP and TCP right now (bind :0, then drop).
pub fn free_port_udp_tcp(ip: &str) -> u16 {
    for _ in 0..100 {
        let udp = UdpSocket::bind((ip, 0)).expect("bind udp :0");
        let port = udp.local_addr().expect("local addr").port();
        if TcpListener::bind((ip, port)).is_ok() {
            return port;
        }
    }
    panic!("no port free for both UDP and TCP on {ip} after 100 tries");
}

/// A loopback TCP port free right now.
pub fn free_tcp_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind tcp :0");
    l.local_addr().expect("local addr").port()
}

/// The first port the kernel hands out for `bind(:0)`; fixed ranges stay below it, so a
/// free port picked by another test can never fall inside them.
fn ephemeral_start() -> u32 {
    fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(32768)
}

/// Where fixed UDP ranges come from: servers' RTP blocks below 30000, peers' above, both
/// under the ephemeral range so a port picked by `bind(:0)` can never fall inside them.
pub enum RangeUse {
    /// The server's RTP ports.
    Server,
    /// A test peer's media ports (baresip).
    Peer,
}

/// A UDP port range `(first, last)` of `len` ports that looks free right now. Calls in this
/// process walk through different blocks, so parallel tests do not share media ports.
pub fn free_udp_range(len: u16, purpose: RangeUse) -> (u16, u16) {
    let (low, high) = match purpose {
        RangeUse::Server => (10000, 30000),
        RangeUse::Peer => (30000, ephemeral_start().max(30000 + u32::from(len))),
    };
    let blocks = ((high - low) / u32::from(len)).max(1);
    let start = std::process::id().wrapping_mul(7919);
    for attempt in 0..blocks {
        let k = start.wrapping_add(unique()).wrapping_add(attempt) % blocks;
        let first = (low + k * u32::from(len)) as u16;
        let last = first + (len - 1);
        let probes = [first, first + 1, first + len / 2, last];
        if probes
            .iter()
            .all(|p| UdpSocket::bind(("127.0.0.1", *p)).is_ok())
        {
            return (first, last);
        }
    }
    panic!("no free UDP port range of {len} between {low} and {high}");
}

// ---------------------------------------------------------------------------------------------
// The server

/// What the test server's SIP profile says. `Default` is a plain answering server.
#[derive(Clone, Debug)]
pub struct Opts {
    /// Where SIP listens (UDP and TCP); `None` picks a free port on 127.0.0.1.
    pub sip_listen: Option<SocketAddr>,
    /// How long an inbound call rings before it is answered.
    pub ring_ms: u64,
    /// The server hangs up a call after this long.
    pub max_call_seconds: u64,
    /// Codecs offered/accepted, in preference order.
    pub codecs: Vec<String>,
    /// Registrar users `(username, password)`.
    pub users: Vec<(String, String)>,
    /// Requests per second per source outside the trunks (`0` = off). Our loopback peers
    /// are a trunk, which is never limited.
    pub rate_limit: u32,
    /// RFC 3261 T1 in ms (`[timers] t1_ms`); `None` keeps the server's default.
    pub t1_ms: Option<u32>,
    /// Extra top-level profile keys, written verbatim before the tables.
    pub extra: String,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            sip_listen: None,
            ring_ms: 0,
            max_call_seconds: 3600,
            codecs: vec!["PCMU".into(), "PCMA".into()],
            users: vec![("1001".into(), "secret".into())],
            rate_limit: 0,
            t1_ms: None,
            extra: String::new(),
        }
    }
}

impl Opts {
    /// The `sip-profiles/test.toml` text (schema: `sip-profiles/README.md`).
    fn profile_toml(&self, listen: SocketAddr) -> String {
        let codecs: Vec<String> = self.codecs.iter().map(|c| format!("{c:?}")).collect();
        let mut t = format!(
            "# written by tests/common/mod.rs\n\
             listen = \"{listen}\"\n\
             transports = [\"udp\", \"tcp\"]\n\
             ring_ms = {}\n\
             max_call_seconds = {}\n\
             codecs = [{}]\n\
             {}\n\n\
             [rate_limit]\n\
             per_second = {}\n\
             burst = {}\n\n\
             [[trunks]]\n\
             name = \"test\"\n\
             allow = [\"127.0.0.0/8\"]\n",
            self.ring_ms,
            self.max_call_seconds,
            codecs.join(", "),
            self.extra.trim_end(),
            self.rate_limit,
            self.rate_limit.saturating_mul(2).max(1),
        );
        if let Some(t1) = self.t1_ms {
            t.push_str(&format!("\n[timers]\nt1_ms = {t1}\n"));
        }
        for (user, password) in &self.users {
            t.push_str(&format!(
                "\n[[users]]\nusername = {user:?}\npassword = {password:?}\n"
            ));
        }
        t
    }
}

/// A running `hotline serve`, killed on drop.
pub struct Hotline {
    child: Child,
    pub sip: SocketAddr,
    pub http: SocketAddr,
    pub log: PathBuf,
    pub dir: TempDir,
}

impl Hotline {
    /// Writes a config into a temp dir, starts the binary and waits (bounded) until it
    /// answers an OPTIONS over UDP with 200.
    pub fn start(opts: Opts) -> Hotline {
        let dir = TempDir::new("server");
        let sip = opts.sip_listen.unwrap_or_else(|| {
            let port = free_port_udp_tcp("127.0.0.1");
            SocketAddr::from(([127, 0, 0, 1], port))
        });
        let http = SocketAddr::from(([127, 0, 0, 1], free_tcp_port()));
        let (rtp_first, rtp_last) = free_udp_range(1000, RangeUse::Server);

        let profiles = dir.path().join("sip-profiles");
        let data = dir.path().join("data");
        let recordings = dir.path().join("recordings");
        for d in [&profiles, &data, &recordings] {
            fs::create_dir_all(d).expect("create server dirs");
        }
        fs::write(profiles.join("test.toml"), opts.profile_toml(sip)).expect("write profile");
        let config = dir.path().join("hotline.toml");
        fs::write(
            &config,
            format!(
                "# written by tests/common/mod.rs\nnode_id = \"test\"\nprofiles_dir = {:?}\n",
                profiles.display().to_string()
            ),
        )
        .expect("write hotline.toml");

        let log = dir.path().join("hotline.log");
        let out = fs::File::create(&log).expect("create log");
        let err = out.try_clone().expect("clone log handle");
        let child = Command::new(env!("CARGO_BIN_EXE_hotline"))
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .arg("--sip-listen")
            .arg(sip.to_string())
            .arg("--http-listen")
            .arg(http.to_string())
            .arg("--rtp-ports")
            .arg(format!("{rtp_first}-{rtp_last}"))
            .arg("--data-dir")
            .arg(&data)
            .arg("--recordings")
            .arg(&recordings)
            .env("RUST_LOG", "debug")
            .env("NO_COLOR", "1")
            .env_remove("HOTLINE_IN_NETNS")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("spawn the hotline binary");
        let mut server = Hotline {
            child,
            sip,
            http,
            log,
            dir,
        };
        server.wait_ready();
        server
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        let mut tries = 0u32;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "hotline exited during start-up ({status}); log tail:\n{}",
                    tail(&self.log, 60)
                );
            }
            tries += 1;
            if let Some(resp) = options_udp(self.sip, Duration::from_millis(300))
                && resp.code == 200
            {
                return;
            }
            thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "hotline did not answer OPTIONS with 200 on udp:{} within {:?} ({tries} tries); \
             log tail:\n{}",
            self.sip,
            START_TIMEOUT,
            tail(&self.log, 60)
        );
    }

    /// Panics with the log tail if the process has exited.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!(
                "hotline died ({status}); log tail:\n{}",
                tail(&self.log, 80)
            );
        }
    }

    /// The whole server log so far.
    pub fn log_text(&self) -> String {
        fs::read(&self.log)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// `sip:USER@host:port` for this server.
    pub fn uri(&self, user: &str) -> String {
        format!("sip:{user}@{}", self.sip)
    }
}

impl Drop for Hotline {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if thread::panicking() {
            eprintln!(
                "---- hotline log tail ({}) ----\n{}\n---- end of hotline log ----",
                self.log.display(),
                tail(&self.log, 80)
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// SIPp

/// What one SIPp run left behind.
pub struct SippRun {
    /// Exit code: 0 = every call succeeded, 1 = some failed, others = SIPp's own trouble.
    pub code: Option<i32>,
    /// The `-trace_err` log: every unexpected message.
    pub errors: String,
    /// The `-trace_stat` CSV (header line + one line per dump).
    pub stats: String,
    /// The `-trace_msg` log (small runs only).
    pub messages: String,
    pub stdout: String,
    pub stderr: String,
    pub dir: TempDir,
}

impl SippRun {
    /// A counter from the last line of the statistics CSV, e.g. `SuccessfulCall(C)`.
    pub fn stat(&self, column: &str) -> Option<u64> {
        let mut lines = self.stats.lines().filter(|l| !l.trim().is_empty());
        let header: Vec<&str> = lines.next()?.split(';').collect();
        let last: Vec<&str> = lines.next_back()?.split(';').collect();
        let idx = header.iter().position(|h| h.trim() == column)?;
        last.get(idx)?.trim().parse().ok()
    }

    /// Everything a failure message needs.
    pub fn report(&self) -> String {
        let out: Vec<&str> = self.stdout.lines().collect();
        format!(
            "sipp exit code {:?}; successful={:?} failed={:?}\n--- errors log ---\n{}\n\
             --- stderr ---\n{}\n--- stdout tail ---\n{}\n--- messages (last 6000 bytes) ---\n{}",
            self.code,
            self.stat("SuccessfulCall(C)"),
            self.stat("FailedCall(C)"),
            truncate(&self.errors, 4000),
            truncate(&self.stderr, 2000),
            out[out.len().saturating_sub(24)..].join("\n"),
            last_bytes(&self.messages, 6000)
        )
    }
}

fn last_bytes(s: &str, max: usize) -> &str {
    let mut start = s.len().saturating_sub(max);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Runs `sipp ARGS` in a temp dir with the standard loopback/trace options added; bounded by
/// SIPp's own `-timeout 60s` (a timeout counts as failure).
pub fn sipp(args: &[&str]) -> SippRun {
    let bin = require_binary("sipp");
    let dir = TempDir::new("sipp");
    let errors = dir.path().join("errors.log");
    let stats = dir.path().join("stat.csv");
    let messages = dir.path().join("messages.log");
    // Every message goes to a log for failure reports, unless the run is a big load run.
    let calls: u64 = args
        .iter()
        .position(|a| *a == "-m")
        .and_then(|i| args.get(i + 1)?.parse().ok())
        .unwrap_or(u64::MAX);
    let mut cmd = Command::new(bin);
    if calls <= 100 {
        cmd.arg("-trace_msg").arg("-message_file").arg(&messages);
    }
    let output = cmd
        .args(args)
        .args(["-i", "127.0.0.1", "-mi", "127.0.0.1", "-nostdin"])
        .args(["-timeout", "60s", "-timeout_error"])
        .arg("-trace_err")
        .arg("-error_file")
        .arg(&errors)
        .arg("-trace_stat")
        .arg("-stf")
        .arg(&stats)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .output()
        .expect("run sipp");
    let read = |p: &Path| {
        fs::read(p)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    };
    SippRun {
        code: output.status.code(),
        errors: read(&errors),
        stats: read(&stats),
        messages: read(&messages),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        dir,
    }
}

// ---------------------------------------------------------------------------------------------
// Raw SIP text (independent of the crate's parser)

/// A response as our raw client sees it.
#[derive(Clone, Debug)]
pub struct RawResponse {
    pub code: u16,
    pub call_id: Option<String>,
    /// CSeq number and method.
    pub cseq: Option<(u32, String)>,
    pub text: String,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<String> {
        header(&self.text, name)
    }
}

/// Compact header forms (RFC 3261 §7.3.3 and friends).
fn compact_of(name: &str) -> Option<&'static str> {
    Some(match name.to_ascii_lowercase().as_str() {
        "call-id" => "i",
        "contact" => "m",
        "content-length" => "l",
        "content-type" => "c",
        "from" => "f",
        "to" => "t",
        "via" => "v",
        "subject" => "s",
        "supported" => "k",
        "content-encoding" => "e",
        _ => return None,
    })
}

/// Every value of header `name` (full or compact form, any case), unfolded and trimmed, in
/// order. Only the header section is searched.
pub fn header_values(text: &str, name: &str) -> Vec<String> {
    let head = match text.find("\r\n\r\n").or_else(|| text.find("\n\n")) {
        Some(i) => &text[..i],
        None => text,
    };
    let compact = compact_of(name);
    let mut lines: Vec<String> = Vec::new();
    for line in head.split('\n').skip(1) {
        let line = line.trim_end_matches('\r');
        if line.starts_with([' ', '\t']) {
            if let Some(prev) = lines.last_mut() {
                prev.push(' ');
                prev.push_str(line.trim());
            }
        } else {
            lines.push(line.to_string());
        }
    }
    lines
        .iter()
        .filter_map(|l| {
            let (n, v) = l.split_once(':')?;
            let n = n.trim();
            let hit =
                n.eq_ignore_ascii_case(name) || compact.is_some_and(|c| n.eq_ignore_ascii_case(c));
            hit.then(|| v.trim().to_string())
        })
        .collect()
}

/// The first value of header `name`.
pub fn header(text: &str, name: &str) -> Option<String> {
    header_values(text, name).into_iter().next()
}

/// Reads a response's status code, Call-ID and CSeq; `None` if it is not a response.
pub fn parse_response(data: &[u8]) -> Option<RawResponse> {
    let text = String::from_utf8_lossy(data).into_owned();
    let first = text.lines().next()?;
    let mut parts = first.splitn(3, ' ');
    if !parts.next()?.starts_with("SIP/") {
        return None;
    }
    let code: u16 = parts.next()?.trim().parse().ok()?;
    let call_id = header(&text, "call-id");
    let cseq = header(&text, "cseq").and_then(|v| {
        let mut it = v.split_whitespace();
        let n = it.next()?.parse().ok()?;
        Some((n, it.next()?.to_string()))
    });
    Some(RawResponse {
        code,
        call_id,
        cseq,
        text,
    })
}

/// A fresh RFC 3261 branch.
pub fn branch() -> String {
    format!("z9hG4bK-t{}-{}", std::process::id(), unique())
}

/// An OPTIONS request from `local` to `server`; `transport` is `UDP` or `TCP`.
pub fn options_request(
    server: SocketAddr,
    local: SocketAddr,
    transport: &str,
    call_id: &str,
) -> String {
    format!(
        "OPTIONS sip:ping@{server} SIP/2.0\r\n\
         Via: SIP/2.0/{transport} {local};branch={};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:probe@{local}>;tag=t{}\r\n\
         To: <sip:ping@{server}>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 OPTIONS\r\n\
         Contact: <sip:probe@{local}>\r\n\
         Accept: application/sdp\r\n\
         Content-Length: 0\r\n\r\n",
        branch(),
        unique()
    )
}

/// Sends an OPTIONS over UDP from an ephemeral port and returns the first response to it.
pub fn options_udp(server: SocketAddr, wait: Duration) -> Option<RawResponse> {
    let ip = match server.ip() {
        std::net::IpAddr::V4(_) => "127.0.0.1",
        std::net::IpAddr::V6(_) => "::1",
    };
    let sock = UdpSocket::bind((ip, 0)).ok()?;
    let local = sock.local_addr().ok()?;
    let call_id = format!("probe-{}-{}", std::process::id(), unique());
    sock.send_to(
        options_request(server, local, "UDP", &call_id).as_bytes(),
        server,
    )
    .ok()?;
    let deadline = Instant::now() + wait;
    let mut buf = vec![0u8; 65536];
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        sock.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .ok()?;
        let (n, _) = sock.recv_from(&mut buf).ok()?;
        if let Some(r) = parse_response(&buf[..n])
            && r.call_id.as_deref() == Some(call_id.as_str())
            && r.code >= 200
        {
            return Some(r);
        }
    }
}

/// Sends an OPTIONS over a new TCP connection and returns the final response to it.
pub fn options_tcp(server: SocketAddr, wait: Duration) -> Option<RawResponse> {
    let mut conn = TcpSip::connect(server, wait).ok()?;
    let call_id = format!("probe-{}-{}", std::process::id(), unique());
    let req = options_request(server, conn.local, "TCP", &call_id);
    conn.send(req.as_bytes()).ok()?;
    let deadline = Instant::now() + wait;
    while let TcpRead::Message(m) = conn.read_message(deadline) {
        if let Some(r) = parse_response(&m)
            && r.call_id.as_deref() == Some(call_id.as_str())
            && r.code >= 200
        {
            return Some(r);
        }
    }
    None
}

/// Builds the ACK for a final response to an INVITE (RFC 3261 §17.1.1.3 for non-2xx, §13.2.2.4
/// for 2xx). `request_uri` is the INVITE's; `local` is our sent-by.
pub fn build_ack(
    resp: &RawResponse,
    request_uri: &str,
    local: SocketAddr,
    transport: &str,
) -> String {
    let (via, uri) = if resp.code >= 300 {
        // Same transaction: the INVITE's top Via (echoed in the response) and Request-URI.
        let via = resp.header("via").unwrap_or_default();
        (via, request_uri.to_string())
    } else {
        let contact = resp.header("contact").map(|c| {
            let c = c.trim();
            match (c.find('<'), c.find('>')) {
                (Some(a), Some(b)) if a < b => c[a + 1..b].to_string(),
                _ => c.split(';').next().unwrap_or(c).to_string(),
            }
        });
        let via = format!("SIP/2.0/{transport} {local};branch={}", branch());
        (via, contact.unwrap_or_else(|| request_uri.to_string()))
    };
    let cseq = resp.cseq.as_ref().map(|c| c.0).unwrap_or(1);
    format!(
        "ACK {uri} SIP/2.0\r\n\
         Via: {via}\r\n\
         Max-Forwards: 70\r\n\
         From: {}\r\n\
         To: {}\r\n\
         Call-ID: {}\r\n\
         CSeq: {cseq} ACK\r\n\
         Content-Length: 0\r\n\r\n",
        resp.header("from").unwrap_or_default(),
        resp.header("to").unwrap_or_default(),
        resp.call_id.clone().unwrap_or_default(),
    )
}

// ---------------------------------------------------------------------------------------------
// TCP: one connection, messages framed by Content-Length

pub enum TcpRead {
    Message(Vec<u8>),
    /// The peer closed the connection (or reset it).
    Closed,
    /// Nothing complete before the deadline.
    Timeout,
}

pub struct TcpSip {
    stream: TcpStream,
    buf: Vec<u8>,
    pub local: SocketAddr,
    closed: bool,
}

impl TcpSip {
    pub fn connect(server: SocketAddr, wait: Duration) -> std::io::Result<TcpSip> {
        let stream = TcpStream::connect_timeout(&server, wait)?;
        stream.set_nodelay(true)?;
        let local = stream.local_addr()?;
        Ok(TcpSip {
            stream,
            buf: Vec::new(),
            local,
            closed: false,
        })
    }

    pub fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Half-closes our side: a server waiting for more bytes of an unframeable message sees EOF.
    pub fn shutdown_write(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }

    /// Cuts one complete message off the buffer, if there is one.
    fn take_message(&mut self) -> Option<Vec<u8>> {
        // Keep-alive CRLFs between messages.
        let skip = self
            .buf
            .iter()
            .take_while(|b| **b == b'\r' || **b == b'\n')
            .count();
        self.buf.drain(..skip);
        let end = self.buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
        let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
        let body_len: usize = header(&head, "content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if self.buf.len() < end + body_len {
            return None;
        }
        Some(self.buf.drain(..end + body_len).collect())
    }

    /// The next complete message, bounded by `deadline`.
    pub fn read_message(&mut self, deadline: Instant) -> TcpRead {
        let mut chunk = vec![0u8; 65536];
        loop {
            if let Some(m) = self.take_message() {
                return TcpRead::Message(m);
            }
            if self.closed {
                return TcpRead::Closed;
            }
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return TcpRead::Timeout;
            };
            if self
                .stream
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .is_err()
            {
                self.closed = true;
                continue;
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => self.closed = true,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => self.closed = true,
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Harness self-tests (they run in every test binary that includes this module; they are cheap)

#[cfg(test)]
mod harness_tests {
    use super::*;

    #[test]
    fn raw_parser_reads_folded_and_compact_headers() {
        let text = "SIP/2.0 200 OK\r\nv: SIP/2.0/UDP a;branch=z9hG4bK1\r\nCall-ID: abc\r\n\
                    CSeq:  7\r\n  INVITE\r\nTo: <sip:x@y>;tag=1\r\nl: 0\r\n\r\n";
        let r = parse_response(text.as_bytes()).expect("a response");
        assert_eq!(r.code, 200);
        assert_eq!(r.call_id.as_deref(), Some("abc"));
        assert_eq!(r.cseq, Some((7, "INVITE".to_string())));
        assert_eq!(
            r.header("via").as_deref(),
            Some("SIP/2.0/UDP a;branch=z9hG4bK1")
        );
        assert!(parse_response(b"INVITE sip:a@b SIP/2.0\r\n\r\n").is_none());
    }

    #[test]
    fn ack_for_non_2xx_reuses_the_invite_branch_and_uri() {
        let text = "SIP/2.0 486 Busy\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKabc\r\n\
                    From: <sip:a@b>;tag=f\r\nTo: <sip:c@d>;tag=t\r\nCall-ID: x\r\n\
                    CSeq: 3 INVITE\r\nContent-Length: 0\r\n\r\n";
        let r = parse_response(text.as_bytes()).expect("a response");
        let local: SocketAddr = "127.0.0.1:5060".parse().expect("addr");
        let ack = build_ack(&r, "sip:c@d", local, "UDP");
        assert!(ack.starts_with("ACK sip:c@d SIP/2.0\r\n"), "{ack}");
        assert!(
            ack.contains("Via: SIP/2.0/UDP h;branch=z9hG4bKabc\r\n"),
            "{ack}"
        );
        assert!(ack.contains("CSeq: 3 ACK\r\n"), "{ack}");
        assert!(ack.contains("To: <sip:c@d>;tag=t\r\n"), "{ack}");
    }
}
