//! Harness shared by the end-to-end tests: start the real `hotline` binary on free loopback
//! ports (`server.rs`), run SIPp against it (`sipp.rs`), drive baresip (`baresip.rs`), make
//! and judge audio (`audio.rs`), and a tiny raw SIP client (here).
//!
//! The raw client deliberately does not use the crate's own SIP parser: the RFC 4475 test
//! judges that parser, so it must not trust it. It only understands what our own server
//! sends back (status line, a few headers, Content-Length framing).
#![allow(dead_code)] // each test binary uses its own part of the harness

pub mod agents;
pub mod audio;
pub mod baresip;
pub mod orders;
mod server;
mod sipp;
pub mod softphone;
pub mod webrtc_client;

// Each test binary uses its own part of the harness.
#[allow(unused_imports)]
pub use server::*;
#[allow(unused_imports)]
pub use sipp::*;

use std::fs;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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

/// Sends an INVITE (PCMU offer) over UDP from an ephemeral port and returns its first final
/// response, ACKing it if it is not a 2xx; `None` if none came within `wait`. Meant for
/// calls that should be refused: a 2xx is returned as is (the caller reports it).
pub fn invite_udp(server: SocketAddr, number: &str, wait: Duration) -> Option<RawResponse> {
    let sock = UdpSocket::bind(("127.0.0.1", 0)).ok()?;
    let local = sock.local_addr().ok()?;
    let call_id = format!("invite-{}-{}", std::process::id(), unique());
    let uri = format!("sip:{number}@{server}");
    let sdp = format!(
        "v=0\r\no=probe 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n",
        local.port() + 2
    );
    let invite = format!(
        "INVITE {uri} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {local};branch={};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:probe@{local}>;tag=t{}\r\n\
         To: <{uri}>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:probe@{local}>\r\n\
         Content-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{sdp}",
        branch(),
        unique(),
        sdp.len()
    );
    sock.send_to(invite.as_bytes(), server).ok()?;
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
            if r.code >= 300 {
                let _ = sock.send_to(build_ack(&r, &uri, local, "UDP").as_bytes(), server);
            }
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
