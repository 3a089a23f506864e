//! Transaction layer tests: fake time, no sockets. `Sim` steps the layer from deadline to
//! deadline and records what went out and when. Server-side and client-side cases live in
//! `server.rs` and `client.rs`; this file holds the harness and layer-wide cases.

use super::*;
use crate::sip::message::{HeaderName, parse_datagram};

mod client;
mod server;

const T1: Duration = Duration::from_millis(500);
const T2: Duration = Duration::from_secs(4);
const T4: Duration = Duration::from_secs(5);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn udp() -> Peer {
    Peer {
        transport: Transport::Udp,
        addr: "192.0.2.10:5060".parse().expect("addr"),
        conn: None,
    }
}

fn tcp() -> Peer {
    Peer {
        transport: Transport::Tcp,
        addr: "192.0.2.10:40000".parse().expect("addr"),
        conn: Some(7),
    }
}

/// The text of a request, with the parts the tests vary.
#[derive(Clone)]
struct Req {
    method: &'static str,
    uri: &'static str,
    branch: Option<String>,
    call_id: String,
    cseq: u32,
    cseq_method: &'static str,
    to_tag: Option<&'static str>,
}

impl Req {
    fn new(method: &'static str, branch: &str) -> Req {
        Req {
            method,
            uri: "sip:400@hotline.example",
            branch: Some(branch.to_string()),
            call_id: "call-1@carrier.example".to_string(),
            cseq: 1,
            cseq_method: method,
            to_tag: None,
        }
    }
    fn cseq(mut self, n: u32, method: &'static str) -> Req {
        self.cseq = n;
        self.cseq_method = method;
        self
    }
    fn with_to_tag(mut self, tag: &'static str) -> Req {
        self.to_tag = Some(tag);
        self
    }
    fn call_id(mut self, id: String) -> Req {
        self.call_id = id;
        self
    }
    fn text(&self) -> String {
        let branch = self
            .branch
            .as_ref()
            .map(|b| format!(";branch={b}"))
            .unwrap_or_default();
        let to_tag = self.to_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
        format!(
            "{m} {u} SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5060{branch}\r\nMax-Forwards: 70\r\n\
             From: <sip:caller@carrier.example>;tag=from1\r\nTo: <{u}>{to_tag}\r\n\
             Call-ID: {c}\r\nCSeq: {n} {cm}\r\nContact: <sip:caller@192.0.2.10>\r\n\
             Content-Length: 0\r\n\r\n",
            m = self.method,
            u = self.uri,
            c = self.call_id,
            n = self.cseq,
            cm = self.cseq_method,
        )
    }
    fn message(&self) -> Message {
        parse_datagram(Bytes::from(self.text())).expect("test request parses")
    }
    fn request(&self) -> Request {
        match self.message() {
            Message::Request(r) => r,
            Message::Response(_) => panic!("not a request"),
        }
    }
}

/// A response to a request we sent, as the peer would write it.
fn response_text(req: &Req, status: u16, reason: &str, to_tag: Option<&str>) -> String {
    let branch = req
        .branch
        .as_ref()
        .map(|b| format!(";branch={b}"))
        .unwrap_or_default();
    let to_tag = to_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
    format!(
        "SIP/2.0 {status} {reason}\r\nVia: SIP/2.0/UDP 192.0.2.10:5060{branch}\r\n\
         From: <sip:caller@carrier.example>;tag=from1\r\nTo: <{u}>{to_tag}\r\n\
         Call-ID: {c}\r\nCSeq: {n} {cm}\r\nContent-Length: 0\r\n\r\n",
        u = req.uri,
        c = req.call_id,
        n = req.cseq,
        cm = req.cseq_method,
    )
}

/// The TU's answer to `req`, with a To tag on everything but 100 (if it has a To).
fn answer(req: &Request, status: u16) -> Response {
    let mut resp = Response::for_request(req, status, "Test");
    if status > 100
        && let Some(to) = req.headers.get(&HeaderName::To)
    {
        let mut tagged = to.to_vec();
        tagged.extend_from_slice(b";tag=uas1");
        resp.headers.set(HeaderName::To, tagged);
    }
    resp
}

fn first_line(t: &Transmit) -> String {
    let text = String::from_utf8_lossy(&t.data);
    text.split("\r\n").next().unwrap_or_default().to_string()
}

struct Sim {
    layer: TransactionLayer,
    start: Instant,
    now: Instant,
}

impl Sim {
    fn new() -> Sim {
        let start = Instant::now();
        let cfg = TxConfig {
            t1: T1,
            t2: T2,
            t4: T4,
        };
        Sim {
            layer: TransactionLayer::new(cfg),
            start,
            now: start,
        }
    }

    fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    fn recv(&mut self, msg: Message, from: Peer) {
        self.layer.handle_message(self.now, msg, from);
    }

    fn recv_text(&mut self, text: &str, from: Peer) {
        let msg = parse_datagram(Bytes::from(text.to_string())).expect("test message parses");
        self.recv(msg, from);
    }

    fn respond(&mut self, id: ServerTxId, resp: Response) {
        self.layer
            .respond(self.now, id, resp)
            .expect("respond accepted");
    }

    fn transmits(&mut self) -> Vec<Transmit> {
        std::iter::from_fn(|| self.layer.poll_transmit()).collect()
    }

    fn events(&mut self) -> Vec<TxEvent> {
        std::iter::from_fn(|| self.layer.poll_event()).collect()
    }

    /// Moves time forward by `d`, firing the timers due on the way (then, say, a message
    /// arrives); returns what they sent, like `run_until`.
    fn wait(&mut self, d: Duration) -> Vec<(Duration, String)> {
        let until = self.now + d;
        let sent = self.run_until(until - self.start);
        self.now = until;
        sent
    }

    /// Fires timers one deadline at a time up to `until` (since start); returns when each
    /// transmit went out and its first line.
    fn run_until(&mut self, until: Duration) -> Vec<(Duration, String)> {
        let mut sent = Vec::new();
        while let Some(at) = self.layer.poll_timeout() {
            if at > self.start + until {
                break;
            }
            self.now = self.now.max(at);
            self.layer.handle_timeout(self.now);
            for t in self.transmits() {
                sent.push((self.elapsed(), first_line(&t)));
            }
        }
        sent
    }

    /// A new INVITE arrives; returns its server tx and the parsed request.
    fn incoming(&mut self, r: &Req, from: Peer) -> (ServerTxId, Request) {
        self.recv(r.message(), from);
        match self.events().as_slice() {
            [TxEvent::Request { id, req, from: f }] => {
                assert_eq!(*f, from);
                (*id, req.clone())
            }
            other => panic!("expected one Request event, got {other:?}"),
        }
    }
}

fn times(sent: &[(Duration, String)]) -> Vec<u64> {
    sent.iter().map(|(d, _)| d.as_millis() as u64).collect()
}

#[test]
fn config_is_clamped_so_timers_cannot_spin_or_overflow() {
    let layer = TransactionLayer::new(TxConfig {
        t1: Duration::ZERO,
        t2: Duration::ZERO,
        t4: Duration::MAX,
    });
    assert_eq!(layer.cfg.t1, ms(1));
    assert_eq!(layer.cfg.t2, ms(1));
    assert_eq!(layer.cfg.t4, Duration::from_secs(3_600));
    let layer = TransactionLayer::new(TxConfig {
        t1: Duration::MAX,
        t2: ms(10),
        t4: T4,
    });
    assert_eq!(layer.cfg.t1, Duration::from_secs(60));
    assert_eq!(layer.cfg.t2, Duration::from_secs(60));
}

// ---- memory ----------------------------------------------------------------------------

#[test]
fn ten_thousand_completed_transactions_leave_the_layer_empty() {
    let mut sim = Sim::new();
    for n in 0..10_000u32 {
        let call_id = format!("call-{n}@carrier.example");
        // A full INVITE/200/ACK as UAS...
        let inv = Req::new("INVITE", &format!("z9hG4bKi{n}")).call_id(call_id.clone());
        let (id, req) = sim.incoming(&inv, udp());
        sim.respond(id, answer(&req, 200));
        let ack = Req::new("ACK", &format!("z9hG4bKa{n}"))
            .call_id(call_id.clone())
            .cseq(1, "ACK")
            .with_to_tag("uas1");
        sim.recv(ack.message(), udp());
        // ...and a BYE we send and get answered.
        let bye = Req::new("BYE", &format!("z9hG4bKb{n}"))
            .call_id(call_id)
            .cseq(2, "BYE");
        sim.layer.send_request(sim.now, bye.request(), udp());
        sim.recv_text(&response_text(&bye, 200, "OK", Some("uas1")), udp());
        sim.transmits();
        sim.events();
        if n % 1_000 == 999 {
            sim.wait(ms(1_000));
            sim.events();
        }
    }
    assert!(
        sim.layer.server_count() > 0,
        "transactions linger in Accepted/Completed"
    );
    sim.run_until(sim.elapsed() + ms(60_000));
    sim.transmits();
    let terminated = sim.events().len();
    assert!(terminated > 0);
    assert_eq!(sim.layer.server_count(), 0);
    assert_eq!(sim.layer.client_count(), 0);
    assert_eq!(sim.layer.poll_timeout(), None);
    assert_eq!(sim.layer.out.timers.len(), 0);
    assert!(sim.layer.server_keys.is_empty());
    assert!(sim.layer.ack_keys.is_empty());
    assert!(sim.layer.client_keys.is_empty());
}

// ---- odd input -------------------------------------------------------------------------

#[test]
fn request_without_via_still_reaches_the_tu() {
    let mut sim = Sim::new();
    let text = Req::new("OPTIONS", "z9hG4bKx")
        .text()
        .replace("Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKx\r\n", "");
    sim.recv_text(&text, udp());
    let (id, req) = match sim.events().as_slice() {
        [TxEvent::Request { id, req, .. }] => (*id, req.clone()),
        other => panic!("expected Request, got {other:?}"),
    };
    // The TU answers 400; the transaction then runs its course.
    sim.respond(id, answer(&req, 400));
    assert_eq!(sim.transmits().len(), 1);
}

#[test]
fn ack_sent_as_request_is_stateless() {
    let mut sim = Sim::new();
    let ack = Req::new("ACK", "z9hG4bKack")
        .cseq(1, "ACK")
        .with_to_tag("t");
    let id = sim.layer.send_request(sim.now, ack.request(), udp());
    assert_eq!(sim.transmits().len(), 1);
    assert_eq!(sim.events(), [TxEvent::ClientTerminated { id }]);
    assert_eq!(sim.layer.client_count(), 0);
    assert_eq!(sim.layer.poll_timeout(), None);
}

#[test]
fn send_stateless_just_transmits() {
    let mut sim = Sim::new();
    sim.layer.send_stateless(tcp(), Bytes::from_static(b"x"));
    let out = sim.transmits();
    assert_eq!(
        out,
        [Transmit {
            to: tcp(),
            data: Bytes::from_static(b"x")
        }]
    );
    assert!(sim.events().is_empty());
}

#[test]
fn headerless_and_garbage_messages_do_not_panic() {
    let mut sim = Sim::new();
    let garbage: &[(HeaderName, &[u8])] = &[
        (HeaderName::Via, b"garbage"),
        (HeaderName::Via, b"SIP/2.0/UDP"),
        (HeaderName::CSeq, b"x INVITE"),
        (HeaderName::From, b"<<<"),
        (HeaderName::To, b";tag="),
        (HeaderName::CallId, b""),
    ];
    for method in [Method::Invite, Method::Ack, Method::Cancel, Method::Bye] {
        for n in 0..=garbage.len() {
            let mut req = Request::new(method.clone(), "sip:x");
            for (name, value) in &garbage[..n] {
                req.headers.push(name.clone(), Bytes::from_static(value));
            }
            sim.recv(Message::Request(req.clone()), udp());
            sim.layer.send_request(sim.now, req, udp());
            let mut resp = Response::for_request(&Request::new(method.clone(), "sip:x"), 200, "OK");
            for (name, value) in &garbage[..n] {
                resp.headers.push(name.clone(), Bytes::from_static(value));
            }
            sim.recv(Message::Response(resp), udp());
        }
    }
    // Every server transaction can still be answered, and everything times out cleanly.
    for ev in sim.events() {
        if let TxEvent::Request { id, req, .. } | TxEvent::Cancel { id, req, .. } = ev {
            sim.respond(id, answer(&req, 400));
        }
    }
    sim.run_until(ms(120_000));
    assert_eq!(sim.layer.server_count() + sim.layer.client_count(), 0);
    assert_eq!(sim.layer.poll_timeout(), None);
}
