//! Placing calls, driven with fake time: the far end is played by hand-made responses.

use super::*;
use crate::sip::message::{Message, Response, parse_datagram};

const HOTLINE: &str = "127.0.0.1:5060";
const CALLEE: &str = "127.0.0.1:5090";
const SDP_PCMU: &str = "v=0\r\no=- 7 7 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 7000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n";

struct Sim {
    ep: Endpoint,
    now: Instant,
}

impl Sim {
    fn new() -> Sim {
        let mut p = Profile::builtin_default();
        p.listen = HOTLINE.parse().unwrap();
        let ports = RtpPorts::new(20000, 20009).unwrap();
        Sim {
            ep: Endpoint::new(p, ports, 11),
            now: Instant::now(),
        }
    }

    fn dial(&mut self, call_id: &str, credentials: Option<(&str, &str)>) -> Request {
        self.ep
            .dial(
                self.now,
                Dial {
                    call_id: Bytes::from(call_id.to_string()),
                    target: "sip:1001@127.0.0.1:5090".into(),
                    next_hop: CALLEE.parse().unwrap(),
                    caller: "13812345678".into(),
                    ring_timeout: Duration::from_secs(20),
                    credentials: credentials.map(|(u, p)| (u.into(), p.into())),
                },
            )
            .unwrap();
        let sent = self.requests();
        assert_eq!(sent.len(), 1, "{sent:?}");
        sent.into_iter().next().unwrap()
    }

    fn respond(&mut self, invite: &Request, status: u16, extra: &[(&str, &str)], body: &str) {
        let mut r = Response::for_request(invite, status, "X");
        if status > 100 {
            let to = r.headers.get(&HeaderName::To).cloned().unwrap();
            let mut v = to.to_vec();
            v.extend_from_slice(b";tag=callee1");
            r.headers.set(HeaderName::To, v);
        }
        for (n, v) in extra {
            r.headers
                .push(HeaderName::from_bytes(n.as_bytes()), v.to_string());
        }
        r.body = Bytes::from(body.to_string());
        let peer = Peer {
            transport: Transport::Udp,
            addr: CALLEE.parse().unwrap(),
            conn: None,
        };
        self.ep.handle_datagram(
            self.now,
            1_800_000_000,
            r.to_bytes(),
            peer,
            HOTLINE.parse().unwrap(),
        );
    }

    fn request_from_callee(&mut self, text: &str) -> Vec<Response> {
        let peer = Peer {
            transport: Transport::Udp,
            addr: CALLEE.parse().unwrap(),
            conn: None,
        };
        let data = Bytes::from(text.replace('\n', "\r\n"));
        self.ep.handle_datagram(
            self.now,
            1_800_000_000,
            data,
            peer,
            HOTLINE.parse().unwrap(),
        );
        self.transmits()
            .into_iter()
            .filter_map(|(_, m)| match m {
                Message::Response(r) => Some(r),
                _ => None,
            })
            .collect()
    }

    fn transmits(&mut self) -> Vec<(SocketAddr, Message)> {
        std::iter::from_fn(|| self.ep.poll_transmit())
            .map(|t| (t.to.addr, parse_datagram(t.data).unwrap()))
            .collect()
    }

    fn requests(&mut self) -> Vec<Request> {
        self.transmits()
            .into_iter()
            .filter_map(|(to, m)| match m {
                Message::Request(r) => {
                    assert_eq!(to, CALLEE.parse::<SocketAddr>().unwrap());
                    Some(r)
                }
                _ => None,
            })
            .collect()
    }

    fn events(&mut self) -> Vec<EndpointEvent> {
        std::iter::from_fn(|| self.ep.poll_event()).collect()
    }

    fn advance(&mut self, d: Duration) {
        self.now += d;
        self.ep.handle_timeout(self.now);
    }
}

fn text(b: &Bytes) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn cseq(r: &Request) -> String {
    text(r.headers.get(&HeaderName::CSeq).unwrap())
}

#[test]
fn a_placed_call_rings_is_answered_acked_and_the_callee_hangs_up() {
    let mut s = Sim::new();
    let inv = s.dial("b1", None);
    assert_eq!(text(&inv.uri), "sip:1001@127.0.0.1:5090");
    let from = text(inv.headers.get(&HeaderName::From).unwrap());
    assert!(
        from.starts_with("<sip:13812345678@127.0.0.1>;tag="),
        "{from}"
    );
    let offer = text(&inv.body);
    assert!(offer.contains("m=audio 20000 RTP/AVP 8 0 101"), "{offer}");
    assert_eq!(s.ep.stats().rtp_ports_in_use, 1);

    s.respond(&inv, 180, &[], "");
    assert_eq!(
        s.events(),
        vec![EndpointEvent::OutboundRinging {
            call_id: Bytes::from_static(b"b1"),
            status: 180
        }]
    );
    s.respond(
        &inv,
        200,
        &[
            ("Contact", "<sip:1001@127.0.0.1:5090>"),
            ("Content-Type", "application/sdp"),
        ],
        SDP_PCMU,
    );
    let acks = s.requests();
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0].method, Method::Ack);
    assert_eq!(cseq(&acks[0]), "1 ACK");
    assert!(text(acks[0].headers.get(&HeaderName::To).unwrap()).contains("tag=callee1"));
    let ev = s.events();
    assert!(
        matches!(&ev[..], [EndpointEvent::CallAnswered { call_id, local_rtp, negotiated }]
            if call_id == "b1" && local_rtp.port() == 20000 && negotiated.codec == Codec::Pcmu
                && negotiated.remote_rtp == "127.0.0.1:7000".parse().unwrap()),
        "{ev:?}"
    );
    // A retransmitted 200 is ACKed again, and reported once.
    s.respond(
        &inv,
        200,
        &[("Contact", "<sip:1001@127.0.0.1:5090>")],
        SDP_PCMU,
    );
    assert_eq!(s.requests().len(), 1);
    assert!(s.events().is_empty());

    let tag = text(inv.headers.from_addr().unwrap().tag().unwrap());
    let bye = format!(
        "BYE sip:hotline@127.0.0.1:5060 SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:5090;branch=z9hG4bKbye1\nMax-Forwards: 70\nFrom: <sip:1001@127.0.0.1:5090>;tag=callee1\nTo: <sip:13812345678@127.0.0.1>;tag={tag}\nCall-ID: b1\nCSeq: 1 BYE\nContent-Length: 0\n\n"
    );
    let resp = s.request_from_callee(&bye);
    assert_eq!(resp.iter().map(|r| r.status).collect::<Vec<_>>(), vec![200]);
    let ev = s.events();
    assert!(
        matches!(&ev[..], [EndpointEvent::CallEnded { cause, side: HangupSide::Caller, .. }] if cause == "callee hung up (BYE)"),
        "{ev:?}"
    );
}

#[test]
fn a_refusal_is_reported_and_the_port_goes_back() {
    let mut s = Sim::new();
    let inv = s.dial("b2", None);
    s.respond(&inv, 486, &[], "");
    let sent = s.requests();
    assert_eq!(sent.len(), 1, "the transaction ACKs the 486");
    assert_eq!(sent[0].method, Method::Ack);
    let ev = s.events();
    assert!(
        matches!(&ev[..], [EndpointEvent::OutboundFailed { status: 486, reason, .. }] if reason.starts_with("486")),
        "{ev:?}"
    );
    assert_eq!(s.ep.stats().rtp_ports_in_use, 0);
}

#[test]
fn no_answer_in_time_cancels_and_a_crossing_200_is_acked_and_hung_up() {
    let mut s = Sim::new();
    let inv = s.dial("b3", None);
    s.respond(&inv, 180, &[], "");
    s.events();
    s.advance(Duration::from_secs(21));
    let sent = s.requests();
    assert!(sent.iter().any(|r| r.method == Method::Cancel), "{sent:?}");
    let ev = s.events();
    assert!(
        matches!(&ev[..], [EndpointEvent::OutboundFailed { status: 480, reason, .. }] if reason == "no answer within 20 s"),
        "{ev:?}"
    );
    assert_eq!(s.ep.stats().rtp_ports_in_use, 0);
    // The callee answered just before the CANCEL reached it.
    s.respond(
        &inv,
        200,
        &[("Contact", "<sip:1001@127.0.0.1:5090>")],
        SDP_PCMU,
    );
    let sent: Vec<Method> = s.requests().into_iter().map(|r| r.method).collect();
    assert_eq!(sent, vec![Method::Ack, Method::Bye]);
    assert!(
        s.events().is_empty(),
        "nobody hears of a call that was given up"
    );
    assert_eq!(s.ep.stats().active_calls, 0);
}

#[test]
fn hanging_up_a_ringing_placed_call_cancels_it() {
    let mut s = Sim::new();
    let inv = s.dial("b4", None);
    s.ep.hang_up_call(s.now, b"b4", "caller hung up", HangupSide::Caller);
    let sent: Vec<Method> = s.requests().into_iter().map(|r| r.method).collect();
    assert_eq!(sent, vec![Method::Cancel]);
    let ev = s.events();
    assert!(
        matches!(&ev[..], [EndpointEvent::CallEnded { cause, .. }] if cause == "caller hung up"),
        "{ev:?}"
    );
    s.respond(&inv, 487, &[], "");
    assert!(s.events().is_empty());
}

#[test]
fn a_digest_challenge_is_answered_once_with_the_trunk_credentials() {
    let mut s = Sim::new();
    let inv = s.dial("b5", Some(("hotline", "s3cret")));
    s.respond(
        &inv,
        407,
        &[(
            "Proxy-Authenticate",
            "Digest realm=\"carrier\", nonce=\"abc123\", qop=\"auth\"",
        )],
        "",
    );
    let sent = s.requests();
    let retry = sent
        .iter()
        .find(|r| r.method == Method::Invite)
        .expect("INVITE sent again");
    assert_eq!(cseq(retry), "2 INVITE");
    let auth = text(retry.headers.get(&HeaderName::ProxyAuthorization).unwrap());
    assert!(
        auth.contains("username=\"hotline\"") && auth.contains("realm=\"carrier\""),
        "{auth}"
    );
    assert_eq!(
        retry.headers.from_addr().unwrap().tag(),
        inv.headers.from_addr().unwrap().tag()
    );
    // A second challenge means the credentials are wrong: give up.
    s.respond(
        retry,
        407,
        &[(
            "Proxy-Authenticate",
            "Digest realm=\"carrier\", nonce=\"n2\"",
        )],
        "",
    );
    let ev = s.events();
    assert!(
        matches!(&ev[..], [EndpointEvent::OutboundFailed { status: 407, .. }]),
        "{ev:?}"
    );
}

#[test]
fn a_bad_target_is_refused_before_anything_is_sent() {
    let mut s = Sim::new();
    let err =
        s.ep.dial(
            s.now,
            Dial {
                call_id: Bytes::from_static(b"b6"),
                target: "not a uri".into(),
                next_hop: CALLEE.parse().unwrap(),
                caller: String::new(),
                ring_timeout: Duration::from_secs(5),
                credentials: None,
            },
        )
        .unwrap_err();
    assert!(err.to_string().contains("sip:1001@"), "{err}");
    assert!(s.requests().is_empty());
    assert!(matches!(
        &s.events()[..],
        [EndpointEvent::OutboundFailed { status: 500, .. }]
    ));
    assert_eq!(s.ep.stats().rtp_ports_in_use, 0);
}

#[test]
fn hanging_up_an_answered_placed_call_sends_bye_to_its_contact() {
    let mut s = Sim::new();
    let inv = s.dial("b7", None);
    s.respond(
        &inv,
        200,
        &[
            ("Contact", "<sip:1001@127.0.0.1:5090>"),
            ("Content-Type", "application/sdp"),
        ],
        SDP_PCMU,
    );
    s.requests();
    s.events();
    s.ep.hang_up_call(s.now, b"b7", "caller hung up", HangupSide::Caller);
    let sent = s.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].method, Method::Bye);
    assert_eq!(cseq(&sent[0]), "2 BYE");
    assert_eq!(text(&sent[0].uri), "sip:1001@127.0.0.1:5090");
}

#[test]
fn calling_a_phone_that_is_not_registered_fails_at_once() {
    let mut s = Sim::new();
    let dial = Dial {
        call_id: Bytes::from_static(b"a1"),
        target: String::new(),
        next_hop: CALLEE.parse().unwrap(),
        caller: "13812345678".into(),
        ring_timeout: Duration::from_secs(20),
        credentials: None,
    };
    let err = s.ep.dial_registered(s.now, "1001", dial).unwrap_err();
    assert_eq!(err, DialError::NotRegistered("1001".into()));
    assert!(s.requests().is_empty());
    assert!(matches!(
        &s.events()[..],
        [EndpointEvent::OutboundFailed { status: 480, reason, .. }] if reason.contains("1001")
    ));
}
