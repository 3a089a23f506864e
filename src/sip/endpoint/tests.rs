//! The endpoint driven with fake time and text datagrams: no sockets, no clock.

use super::*;
use crate::config::{SipUser, Trunk};
use crate::sip::message::{Message, Response, parse_datagram};

const HOTLINE: &str = "127.0.0.1:5060";
const CALLER: &str = "127.0.0.1:5080";

struct Sim {
    ep: Endpoint,
    now: Instant,
}

impl Sim {
    fn new(edit: impl FnOnce(&mut Profile)) -> Sim {
        let mut p = Profile::builtin_default();
        p.listen = HOTLINE.parse().unwrap();
        edit(&mut p);
        let ports = RtpPorts::new(20000, 20009).unwrap();
        Sim {
            ep: Endpoint::new(p, ports, 7),
            now: Instant::now(),
        }
    }

    fn send_from(&mut self, from: &str, text: &str) -> Vec<(SocketAddr, Response)> {
        let peer = Peer {
            transport: Transport::Udp,
            addr: from.parse().unwrap(),
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
        self.out()
    }

    fn send(&mut self, text: &str) -> Vec<(SocketAddr, Response)> {
        self.send_from(CALLER, text)
    }

    fn advance(&mut self, d: Duration) -> Vec<(SocketAddr, Response)> {
        self.now += d;
        self.ep.handle_timeout(self.now);
        self.out()
    }

    fn out(&mut self) -> Vec<(SocketAddr, Response)> {
        self.out_raw()
            .into_iter()
            .filter_map(|(to, m)| match m {
                Message::Response(r) => Some((to, r)),
                Message::Request(_) => None,
            })
            .collect()
    }

    fn out_raw(&mut self) -> Vec<(SocketAddr, Message)> {
        let mut v = Vec::new();
        while let Some(t) = self.ep.poll_transmit() {
            v.push((
                t.to.addr,
                parse_datagram(t.data).expect("we send parseable messages"),
            ));
        }
        v
    }

    fn events(&mut self) -> Vec<EndpointEvent> {
        std::iter::from_fn(|| self.ep.poll_event()).collect()
    }
}

fn codes(v: &[(SocketAddr, Response)]) -> Vec<u16> {
    v.iter().map(|(_, r)| r.status).collect()
}

fn header(r: &Response, name: &str) -> Option<String> {
    r.headers
        .get(&HeaderName::from_bytes(name.as_bytes()))
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

const SDP_PCMA: &str = "v=0\no=- 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio 6000 RTP/AVP 8 101\na=rtpmap:8 PCMA/8000\na=rtpmap:101 telephone-event/8000\na=fmtp:101 0-16\na=sendrecv\n";

fn invite(call_id: &str, branch: &str, sdp: &str, extra: &str) -> String {
    let body = sdp.replace('\n', "\r\n");
    format!(
        "INVITE sip:4008001234@127.0.0.1:5060 SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:5080;branch={branch};rport\nMax-Forwards: 70\nFrom: <sip:13812345678@127.0.0.1>;tag=abc\nTo: <sip:4008001234@127.0.0.1>\nCall-ID: {call_id}\nCSeq: 1 INVITE\nContact: <sip:caller@127.0.0.1:5080>\n{extra}Content-Type: application/sdp\nContent-Length: {}\n\n{}",
        body.len(),
        sdp
    )
}

fn in_dialog(
    method: &str,
    call_id: &str,
    to_tag: &str,
    cseq: u32,
    branch: &str,
    extra_and_body: &str,
) -> String {
    format!(
        "{method} sip:hotline@127.0.0.1:5060 SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:5080;branch={branch}\nMax-Forwards: 70\nFrom: <sip:13812345678@127.0.0.1>;tag=abc\nTo: <sip:4008001234@127.0.0.1>;tag={to_tag}\nCall-ID: {call_id}\nCSeq: {cseq} {}\n{extra_and_body}",
        if method == "ACK" { "ACK" } else { method }
    )
}

fn to_tag(r: &Response) -> String {
    let to = r.headers.to_addr().unwrap();
    String::from_utf8_lossy(to.tag().expect("To tag")).into_owned()
}

#[test]
fn answers_a_call_and_the_caller_hangs_up() {
    let mut s = Sim::new(|_| {});
    let out = s.send(&invite("c1", "z9hG4bK1", SDP_PCMA, ""));
    assert_eq!(codes(&out), vec![100, 200]);
    let ok = &out[1].1;
    assert_eq!(
        out[1].0,
        CALLER.parse().unwrap(),
        "rport: answer goes to the source port"
    );
    let body = String::from_utf8_lossy(&ok.body).into_owned();
    assert!(body.contains("m=audio 20000 RTP/AVP 8 101"), "{body}");
    assert!(body.contains("c=IN IP4 127.0.0.1"), "{body}");
    assert_eq!(
        header(ok, "Content-Type").as_deref(),
        Some("application/sdp")
    );
    assert!(
        header(ok, "Contact")
            .unwrap()
            .contains("sip:hotline@127.0.0.1:5060")
    );
    assert!(header(ok, "Via").unwrap().contains("rport=5080"));
    let tag = to_tag(ok);
    assert_eq!(s.ep.stats().active_calls, 1);

    assert!(
        s.send(&in_dialog(
            "ACK",
            "c1",
            &tag,
            1,
            "z9hG4bK2",
            "Content-Length: 0\n\n"
        ))
        .is_empty()
    );
    let bye = s.send(&in_dialog(
        "BYE",
        "c1",
        &tag,
        2,
        "z9hG4bK3",
        "Content-Length: 0\n\n",
    ));
    assert_eq!(codes(&bye), vec![200]);
    assert_eq!(s.ep.stats().active_calls, 0);
    let ev = s.events();
    assert!(
        matches!(&ev[0], EndpointEvent::CallOffered { from, to, .. }
            if from == "13812345678" && to == "4008001234"),
        "{ev:?}"
    );
    assert!(
        matches!(
            &ev[1],
            EndpointEvent::CallAnswered { local_rtp, negotiated, .. }
                if negotiated.codec == Codec::Pcma
                    && local_rtp.port() == 20000
                    && negotiated.remote_rtp == "127.0.0.1:6000".parse().unwrap()
                    && negotiated.dtmf_pt == Some(101)
        ),
        "{ev:?}"
    );
    assert!(
        matches!(ev.last(), Some(EndpointEvent::CallEnded { cause, side: HangupSide::Caller, .. }) if cause.contains("BYE"))
    );
    // The port is free again and goes back in the pool (round-robin: after the others).
    let out = s.send(&invite("c2", "z9hG4bK4", SDP_PCMA, ""));
    assert!(String::from_utf8_lossy(&out[1].1.body).contains("m=audio 20002 "));
}

#[test]
fn unknown_sources_are_refused_with_the_fix_in_the_reason() {
    let mut s = Sim::new(|_| {});
    let out = s.send_from("192.0.2.7:5060", &invite("c1", "z9hG4bK1", SDP_PCMA, ""));
    assert_eq!(codes(&out), vec![100, 403]);
    let reason = String::from_utf8_lossy(&out[1].1.reason).into_owned();
    assert!(
        reason.contains("192.0.2.7") && reason.contains("[[trunks]]"),
        "{reason}"
    );
    assert_eq!(s.ep.stats().active_calls, 0);
}

#[test]
fn digest_trunk_is_challenged_with_407() {
    let mut s = Sim::new(|p| {
        p.trunks.push(Trunk {
            name: "carrier".into(),
            allow: vec![],
            username: Some("gw".into()),
            password: Some("pw".into()),
            proxy: None,
        })
    });
    let out = s.send_from("192.0.2.7:5060", &invite("c1", "z9hG4bK1", SDP_PCMA, ""));
    assert_eq!(codes(&out), vec![100, 407]);
    assert!(
        header(&out[1].1, "Proxy-Authenticate")
            .unwrap()
            .starts_with("Digest ")
    );
}

#[test]
fn ringing_then_cancel_gives_200_and_487() {
    let mut s = Sim::new(|p| p.ring_ms = 3000);
    let out = s.send(&invite("c1", "z9hG4bK1", SDP_PCMA, ""));
    assert_eq!(codes(&out), vec![100, 180]);
    let cancel = "CANCEL sip:4008001234@127.0.0.1:5060 SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bK1;rport\nMax-Forwards: 70\nFrom: <sip:13812345678@127.0.0.1>;tag=abc\nTo: <sip:4008001234@127.0.0.1>\nCall-ID: c1\nCSeq: 1 CANCEL\nContent-Length: 0\n\n";
    let out = s.send(cancel);
    let mut c = codes(&out);
    c.sort();
    assert_eq!(c, vec![200, 487]);
    assert_eq!(s.ep.stats().active_calls, 0);
    // The answer timer fires later and must not resurrect the call.
    assert!(
        codes(&s.advance(Duration::from_secs(4)))
            .iter()
            .all(|&c| c == 487)
    );
    assert_eq!(s.ep.stats().active_calls, 0);
}

#[test]
fn ringing_then_answer_after_ring_ms() {
    let mut s = Sim::new(|p| p.ring_ms = 2000);
    assert_eq!(
        codes(&s.send(&invite("c1", "z9hG4bK1", SDP_PCMA, ""))),
        vec![100, 180]
    );
    assert!(s.advance(Duration::from_millis(1999)).is_empty());
    let out = s.advance(Duration::from_millis(1));
    assert_eq!(codes(&out), vec![200]);
}

#[test]
fn max_call_seconds_sends_bye_to_the_contact() {
    let mut s = Sim::new(|p| p.max_call_seconds = 2);
    let out = s.send(&invite("c1", "z9hG4bK1", SDP_PCMA, ""));
    let tag = to_tag(&out[1].1);
    s.send(&in_dialog(
        "ACK",
        "c1",
        &tag,
        1,
        "z9hG4bK2",
        "Content-Length: 0\n\n",
    ));
    s.now += Duration::from_secs(2);
    s.ep.handle_timeout(s.now);
    let sent = s.out_raw();
    let (to, Message::Request(bye)) = &sent[0] else {
        panic!("expected BYE, got {sent:?}")
    };
    assert_eq!(bye.method, Method::Bye);
    assert_eq!(*to, "127.0.0.1:5080".parse().unwrap());
    assert_eq!(&bye.uri[..], b"sip:caller@127.0.0.1:5080");
    assert!(header_req(bye, "From").contains(&format!("tag={tag}")));
    assert!(header_req(bye, "To").contains("tag=abc"));
    assert_eq!(s.ep.stats().active_calls, 0);
}

fn header_req(r: &Request, name: &str) -> String {
    String::from_utf8_lossy(
        r.headers
            .get(&HeaderName::from_bytes(name.as_bytes()))
            .unwrap(),
    )
    .into_owned()
}

#[test]
fn lost_ack_hangs_up_with_bye() {
    let mut s = Sim::new(|_| {});
    let out = s.send(&invite("c1", "z9hG4bK1", SDP_PCMA, ""));
    assert_eq!(codes(&out), vec![100, 200]);
    let mut byes = std::collections::HashSet::new();
    let mut first_bye_at = None;
    for step in 1..=80u32 {
        s.now += Duration::from_millis(500);
        s.ep.handle_timeout(s.now);
        for (_, m) in s.out_raw() {
            if let Message::Request(r) = m
                && r.method == Method::Bye
            {
                first_bye_at.get_or_insert(step);
                byes.insert(r.headers.top_via().unwrap().branch().cloned());
            }
        }
    }
    assert_eq!(
        byes.len(),
        1,
        "one BYE transaction (retransmissions aside) after no ACK"
    );
    assert_eq!(first_bye_at, Some(64), "BYE after 64*T1 = 32 s without ACK");
    assert_eq!(s.ep.stats().active_calls, 0);
}

#[test]
fn options_lists_what_we_allow() {
    let mut s = Sim::new(|_| {});
    let out = s.send("OPTIONS sip:127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bKo\nMax-Forwards: 0\nFrom: <sip:ping@127.0.0.1>;tag=p\nTo: <sip:127.0.0.1>\nCall-ID: o1\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n");
    assert_eq!(codes(&out), vec![200]);
    assert!(header(&out[0].1, "Allow").unwrap().contains("INVITE"));
    assert_eq!(
        header(&out[0].1, "Accept").as_deref(),
        Some("application/sdp")
    );
    assert!(!to_tag(&out[0].1).is_empty());
}

#[test]
fn rfc3261_admission_checks() {
    let mut s = Sim::new(|_| {});
    type Case<'a> = (&'a str, &'a str, u16, Option<(&'a str, &'a str)>);
    let cases: [Case; 5] = [
        ("FOO", "", 501, Some(("Allow", "INVITE"))),
        ("SUBSCRIBE", "", 405, Some(("Allow", "INVITE"))),
        (
            "INVITE",
            "Require: 100rel, foo\n",
            420,
            Some(("Unsupported", "100rel, foo")),
        ),
        ("INVITE", "Accept: text/plain\n", 406, None),
        ("INFO", "", 481, None),
    ];
    for (i, (method, extra, code, hdr)) in cases.iter().enumerate() {
        let text = format!(
            "{method} sip:400@127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bKa{i}\nMax-Forwards: 70\nFrom: <sip:a@127.0.0.1>;tag=t\nTo: <sip:400@127.0.0.1>\nCall-ID: adm{i}\nCSeq: 1 {method}\n{extra}Content-Length: 0\n\n"
        );
        let out = s.send(&text);
        let last = out.last().unwrap_or_else(|| panic!("{method}: no answer"));
        assert_eq!(last.1.status, *code, "{method} {extra}");
        if let Some((name, contains)) = hdr {
            assert!(
                header(&last.1, name).unwrap_or_default().contains(contains),
                "{method}: {name}"
            );
        }
    }
    let out = s.send("INVITE soap.beep://192.0.2.103:3002 SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bKs\nMax-Forwards: 70\nFrom: <sip:a@127.0.0.1>;tag=t\nTo: <sip:b@127.0.0.1>\nCall-ID: s1\nCSeq: 1 INVITE\nContent-Length: 0\n\n");
    assert_eq!(out.last().unwrap().1.status, 416);
    let out = s.send("OPTIONS sip:a@127.0.0.1 SIP/7.0\nVia: SIP/7.0/UDP 127.0.0.1:5080;branch=z9hG4bKv\nMax-Forwards: 70\nFrom: <sip:a@127.0.0.1>;tag=t\nTo: <sip:b@127.0.0.1>\nCall-ID: v1\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n");
    assert_eq!(codes(&out), vec![505]);
    let body = "hello";
    let out = s.send(&format!("INVITE sip:a@127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bKt\nMax-Forwards: 70\nFrom: <sip:a@127.0.0.1>;tag=t\nTo: <sip:b@127.0.0.1>\nCall-ID: t1\nCSeq: 1 INVITE\nContent-Type: text/plain\nContent-Length: {}\n\n{body}", body.len()));
    assert_eq!(out.last().unwrap().1.status, 415);
    assert!(
        header(&out.last().unwrap().1, "Accept")
            .unwrap()
            .contains("application/sdp")
    );
}

#[test]
fn broken_requests_get_400_and_broken_responses_nothing() {
    let mut s = Sim::new(|_| {});
    let out = s.send("INVITE  sip:a@127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bKb\nFrom: <sip:a@x>;tag=1\nTo: <sip:b@x>\nCall-ID: b1\nCSeq: 1 INVITE\n\n");
    assert_eq!(codes(&out), vec![400]);
    let out = s.send("OPTIONS sip:a@127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bKm\nFrom: <sip:a@x>;tag=1\nTo: <sip:b@x>\nCall-ID: m1\nCSeq: 1 INVITE\nContent-Length: 0\n\n");
    assert_eq!(codes(&out), vec![400], "CSeq method mismatch");
    assert!(String::from_utf8_lossy(&out[0].1.reason).starts_with("Bad Request ("));
    assert!(
        s.send("SIP/2.0 999999 Weird\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKr\n\n")
            .is_empty()
    );
    assert_eq!(s.ep.stats().bad_requests, 3);
}

#[test]
fn no_common_codec_is_488_with_a_warning() {
    let mut s = Sim::new(|_| {});
    let g729 = "v=0\no=- 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio 6000 RTP/AVP 18\na=rtpmap:18 G729/8000\n";
    let out = s.send(&invite("c1", "z9hG4bK1", g729, ""));
    assert_eq!(codes(&out), vec![100, 488]);
    assert!(header(&out[1].1, "Warning").unwrap().contains("G729"));
    assert_eq!(s.ep.stats().active_calls, 0);
}

#[test]
fn reinvite_hold_and_info_dtmf() {
    let mut s = Sim::new(|_| {});
    let out = s.send(&invite("c1", "z9hG4bK1", SDP_PCMA, ""));
    let tag = to_tag(&out[1].1);
    s.send(&in_dialog(
        "ACK",
        "c1",
        &tag,
        1,
        "z9hG4bK2",
        "Content-Length: 0\n\n",
    ));
    let hold = SDP_PCMA
        .replace("a=sendrecv", "a=sendonly")
        .replace("o=- 1 1", "o=- 1 2");
    let wire_len = hold.replace('\n', "\r\n").len();
    let text = in_dialog(
        "INVITE",
        "c1",
        &tag,
        2,
        "z9hG4bK5",
        &format!(
            "Contact: <sip:caller@127.0.0.1:5080>\nContent-Type: application/sdp\nContent-Length: {wire_len}\n\n{hold}"
        ),
    );
    let out = s.send(&text);
    assert_eq!(codes(&out), vec![200]);
    let body = String::from_utf8_lossy(&out[0].1.body).into_owned();
    assert!(body.contains("a=recvonly"), "{body}");
    assert!(
        body.contains("m=audio 20000 "),
        "same port on re-INVITE: {body}"
    );
    let info = in_dialog(
        "INFO",
        "c1",
        &tag,
        3,
        "z9hG4bK6",
        "Content-Type: application/dtmf-relay\nContent-Length: 24\n\nSignal=5\nDuration=160\n",
    );
    assert_eq!(codes(&s.send(&info)), vec![200]);
    let ev = s.events();
    assert!(
        ev.iter().any(
            |e| matches!(e, EndpointEvent::MediaChanged { call_id, negotiated }
            if &call_id[..] == b"c1" && negotiated.on_hold)
        ),
        "{ev:?}"
    );
    assert!(ev.contains(&EndpointEvent::Dtmf {
        call_id: Bytes::from_static(b"c1"),
        digit: '5'
    }));
    // An old CSeq in the dialog is out of order.
    let stale = in_dialog("INVITE", "c1", &tag, 1, "z9hG4bK7", "Content-Length: 0\n\n");
    assert_eq!(codes(&s.send(&stale)), vec![500]);
}

#[test]
fn register_needs_digest_and_must_own_the_aor() {
    let mut s = Sim::new(|p| {
        p.users = vec![
            SipUser {
                username: "1001".into(),
                password: "secret".into(),
            },
            SipUser {
                username: "1002".into(),
                password: "other".into(),
            },
        ]
    });
    let reg = |user: &str, auth: &str, n: u32| {
        format!(
            "REGISTER sip:127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bKr{n}\nMax-Forwards: 70\nFrom: <sip:{user}@127.0.0.1>;tag=r\nTo: <sip:{user}@127.0.0.1>\nCall-ID: reg-{user}\nCSeq: {n} REGISTER\nContact: <sip:{user}@127.0.0.1:5080>\n{auth}Expires: 600\nContent-Length: 0\n\n"
        )
    };
    let out = s.send(&reg("1001", "", 1));
    assert_eq!(codes(&out), vec![401]);
    let chal = out[0]
        .1
        .headers
        .challenge(&HeaderName::WwwAuthenticate)
        .unwrap()
        .unwrap();
    let creds = |user: &str, pw: &str| {
        let v = crate::sip::auth::client_response(
            &chal,
            b"REGISTER",
            b"sip:127.0.0.1",
            user,
            pw,
            "c0ffee",
            1,
        )
        .unwrap();
        format!("Authorization: {v}\n")
    };
    assert_eq!(
        codes(&s.send(&reg("1001", &creds("1001", "wrong"), 2))),
        vec![401]
    );
    let ok = s.send(&reg("1001", &creds("1001", "secret"), 3));
    assert_eq!(codes(&ok), vec![200]);
    assert!(header(&ok[0].1, "Contact").unwrap().contains("expires="));
    assert_eq!(s.ep.stats().registrations, 1);
    // 1002's valid credentials cannot register 1001's address.
    let mut hijack = reg("1001", &creds("1002", "other"), 4);
    hijack = hijack.replace("Call-ID: reg-1001", "Call-ID: reg-x");
    assert_eq!(codes(&s.send(&hijack)), vec![403]);
}

#[test]
fn late_offer_gets_our_offer_and_the_ack_answers() {
    let mut s = Sim::new(|_| {});
    let text = "INVITE sip:400@127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bKl\nMax-Forwards: 70\nFrom: <sip:a@127.0.0.1>;tag=abc\nTo: <sip:400@127.0.0.1>\nCall-ID: late\nCSeq: 1 INVITE\nContact: <sip:a@127.0.0.1:5080>\nContent-Length: 0\n\n";
    let out = s.send(text);
    assert_eq!(codes(&out), vec![100, 200]);
    let offer = String::from_utf8_lossy(&out[1].1.body).into_owned();
    assert!(offer.contains("m=audio 20000 RTP/AVP 8 0 101"), "{offer}");
    let tag = to_tag(&out[1].1);
    let wire_len = SDP_PCMA.replace('\n', "\r\n").len();
    let ack = in_dialog(
        "ACK",
        "late",
        &tag,
        1,
        "z9hG4bKm",
        &format!("Content-Type: application/sdp\nContent-Length: {wire_len}\n\n{SDP_PCMA}"),
    );
    s.send(&ack);
    let ev = s.events();
    assert!(
        ev.iter().any(|e| matches!(
            e,
            EndpointEvent::CallAnswered { negotiated, .. } if negotiated.codec == Codec::Pcma
        )),
        "{ev:?}"
    );
}

#[test]
fn untrusted_floods_are_rate_limited_but_trunks_are_not() {
    let mut s = Sim::new(|p| {
        p.rate_limit.per_second = 5;
        p.rate_limit.burst = 5;
    });
    let opt = |i: u32| {
        format!(
            "OPTIONS sip:127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bKf{i}\nMax-Forwards: 70\nFrom: <sip:s@x>;tag=1\nTo: <sip:127.0.0.1>\nCall-ID: f{i}\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n"
        )
    };
    let answered = (0..20)
        .filter(|i| !s.send_from("192.0.2.9:5060", &opt(*i)).is_empty())
        .count();
    assert_eq!(answered, 5);
    let trunk = (100..120)
        .filter(|i| {
            !s.send(&opt(*i).replace("192.0.2.9", "127.0.0.1"))
                .is_empty()
        })
        .count();
    assert_eq!(trunk, 20);
    assert_eq!(s.ep.stats().rate_limited, 15);
}

#[test]
fn a_reused_branch_with_a_new_call_id_is_a_new_call() {
    let mut s = Sim::new(|_| {});
    assert_eq!(
        codes(&s.send(&invite("c1", "z9hG4bKsame", SDP_PCMA, ""))),
        vec![100, 200]
    );
    assert_eq!(
        codes(&s.send(&invite("c2", "z9hG4bKsame", SDP_PCMA, ""))),
        vec![100, 200]
    );
    assert_eq!(s.ep.stats().active_calls, 2);
    // A true retransmission (same Call-ID) is absorbed by its transaction.
    assert_eq!(
        codes(&s.send(&invite("c2", "z9hG4bKsame", SDP_PCMA, ""))),
        vec![200]
    );
    assert_eq!(s.ep.stats().active_calls, 2);
}

#[test]
fn rfc2543_invite_without_tags_or_branch_is_answered() {
    let mut s = Sim::new(|_| {});
    let body = SDP_PCMA;
    let text = format!(
        "INVITE sip:UserB@127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:5080\nFrom: <sip:+13035551111@127.0.0.1;user=phone>\nTo: sip:+16505552222@127.0.0.1;user=phone\nCall-ID: inv2543\nCSeq: 56 INVITE\nContent-Type: application/sdp\n\n{body}"
    );
    let out = s.send(&text);
    assert_eq!(codes(&out), vec![100, 200]);
    assert_eq!(out[1].0, "127.0.0.1:5080".parse().unwrap());
}

mod no_panic {
    use super::*;
    use proptest::prelude::*;

    fn corpus() -> Vec<Vec<u8>> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/rfc4475");
        let mut v: Vec<Vec<u8>> = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.path().extension().is_some_and(|x| x == "dat"))
            .map(|e| std::fs::read(e.path()).unwrap())
            .collect();
        v.push(
            invite("p1", "z9hG4bKp", SDP_PCMA, "")
                .replace('\n', "\r\n")
                .into_bytes(),
        );
        v
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]
        /// Whatever arrives, the endpoint answers or drops it, and time can pass after it.
        #[test]
        fn mutated_messages_never_panic(
            pick in 0usize..64,
            edits in proptest::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 0..8),
            from_trunk in any::<bool>(),
        ) {
            let corpus = corpus();
            let mut msg = corpus[pick % corpus.len()].clone();
            for (at, byte, op) in edits {
                let i = at % (msg.len() + 1);
                match op {
                    0 if i < msg.len() => msg[i] = byte,
                    1 => msg.insert(i, byte),
                    _ if i < msg.len() => { msg.remove(i); }
                    _ => {}
                }
            }
            let mut s = Sim::new(|p| p.ring_ms = 100);
            let from = if from_trunk { CALLER } else { "192.0.2.1:5060" };
            let peer = Peer { transport: Transport::Udp, addr: from.parse().unwrap(), conn: None };
            s.ep.handle_datagram(s.now, 1_800_000_000, Bytes::from(msg), peer, HOTLINE.parse().unwrap());
            // A best-effort 400 copies the sender's own (possibly broken) lines, so what
            // goes out is drained, not parsed, here.
            while s.ep.poll_transmit().is_some() {}
            s.now += Duration::from_secs(40);
            s.ep.handle_timeout(s.now);
            while s.ep.poll_transmit().is_some() {}
            let _ = s.events();
        }
    }
}

#[test]
fn draining_refuses_new_calls_but_keeps_the_others() {
    let mut s = Sim::new(|_| {});
    let out = s.send(&invite("c1", "z9hG4bK1", SDP_PCMA, ""));
    let tag = to_tag(&out[1].1);
    s.ep.set_draining(true);
    let out = s.send(&invite("c2", "z9hG4bK2", SDP_PCMA, ""));
    assert_eq!(codes(&out), vec![503]);
    assert_eq!(header(&out[0].1, "Retry-After").as_deref(), Some("30"));
    let bye = s.send(&in_dialog(
        "BYE",
        "c1",
        &tag,
        2,
        "z9hG4bK3",
        "Content-Length: 0\n\n",
    ));
    assert_eq!(codes(&bye), vec![200]);
}

#[test]
fn an_announced_rtp_port_waits_for_the_media_side_before_reuse() {
    let mut s = Sim::new(|_| {});
    let out = s.send(&invite("c1", "z9hG4bK1", SDP_PCMA, ""));
    let tag = to_tag(&out[1].1);
    assert_eq!(s.ep.stats().rtp_ports_in_use, 1);
    s.send(&in_dialog(
        "BYE",
        "c1",
        &tag,
        2,
        "z9hG4bK3",
        "Content-Length: 0\n\n",
    ));
    assert_eq!(s.ep.stats().active_calls, 0);
    assert_eq!(
        s.ep.stats().rtp_ports_in_use,
        1,
        "media still holds the sockets"
    );
    s.ep.release_port(20000);
    assert_eq!(s.ep.stats().rtp_ports_in_use, 0);
    // A call refused before media (488) never holds its port.
    let g729 =
        "v=0\no=- 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio 6000 RTP/AVP 18\n";
    s.send(&invite("c2", "z9hG4bK4", g729, ""));
    assert_eq!(s.ep.stats().rtp_ports_in_use, 0);
}

#[test]
fn record_route_is_echoed_in_order_and_our_bye_follows_the_route_set() {
    let mut s = Sim::new(|p| {
        p.ring_ms = 1000;
        p.max_call_seconds = 2;
    });
    let rr = "Record-Route: <sip:127.0.0.9:5060;lr>, <sip:127.0.0.8;lr;ftag=x>\nRecord-Route: <sip:127.0.0.7;lr>\n";
    let out = s.send(&invite("c1", "z9hG4bK1", SDP_PCMA, rr));
    assert_eq!(codes(&out), vec![100, 180]);
    let all = |r: &Response| -> Vec<String> {
        r.headers
            .get_all(&HeaderName::RecordRoute)
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .collect()
    };
    assert!(all(&out[0].1).is_empty(), "100 Trying creates no dialog");
    let expected = vec![
        "<sip:127.0.0.9:5060;lr>, <sip:127.0.0.8;lr;ftag=x>".to_string(),
        "<sip:127.0.0.7;lr>".to_string(),
    ];
    assert_eq!(all(&out[1].1), expected, "180 with a To tag");
    let out = s.advance(Duration::from_millis(1000));
    assert_eq!(codes(&out), vec![200]);
    assert_eq!(all(&out[0].1), expected, "200 OK");
    let tag = to_tag(&out[0].1);
    s.send(&in_dialog(
        "ACK",
        "c1",
        &tag,
        1,
        "z9hG4bK2",
        "Content-Length: 0\n\n",
    ));
    s.now += Duration::from_secs(2);
    s.ep.handle_timeout(s.now);
    let sent = s.out_raw();
    let (to, Message::Request(bye)) = &sent[0] else {
        panic!("expected BYE, got {sent:?}")
    };
    assert_eq!(bye.method, Method::Bye);
    assert_eq!(
        *to,
        "127.0.0.9:5060".parse().unwrap(),
        "loose routing: first route"
    );
    let routes: Vec<String> = bye
        .headers
        .get_all(&HeaderName::Route)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect();
    assert_eq!(
        routes,
        vec![
            "<sip:127.0.0.9:5060;lr>",
            "<sip:127.0.0.8;lr;ftag=x>",
            "<sip:127.0.0.7;lr>"
        ]
    );
}
