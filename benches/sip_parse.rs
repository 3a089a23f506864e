//! Criterion benchmarks of the SIP hot path: parsing, validation, serialization,
//! response building, and one whole call (INVITE → ACK → BYE) through the sans-IO
//! endpoint with fake time. `cargo bench --bench sip_parse`; figures go to BENCHMARKS.md.
//!
//! Sample sizes are kept small so the whole run stays well under three minutes.

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hotline::config::Profile;
use hotline::media::ports::RtpPorts;
use hotline::sip::endpoint::Endpoint;
use hotline::sip::message::{
    HeaderName, Message, Request, Response, parse_datagram, validate_request,
};
use hotline::sip::transaction::{Peer, Transport};
use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// An INVITE as a carrier SBC sends it: two Vias, Record-Route, P-Asserted-Identity,
/// session timers, and an SDP offer with PCMA, PCMU and telephone-event.
/// `{CALL}` and `{BRANCH}` are replaced per call in the endpoint bench.
const INVITE_TEMPLATE: &str = "INVITE sip:4008001234@127.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bK{BRANCH};rport\r\n\
Via: SIP/2.0/UDP 10.20.30.40:5060;branch=z9hG4bK-sbc-7d1f0a93c2\r\n\
Record-Route: <sip:127.0.0.1:5080;lr;ftag=as6f1a2b3c>\r\n\
Max-Forwards: 69\r\n\
From: \"13812345678\" <sip:13812345678@10.20.30.40;user=phone>;tag=as6f1a2b3c\r\n\
To: <sip:4008001234@127.0.0.1>\r\n\
Call-ID: {CALL}@10.20.30.40\r\n\
CSeq: 102 INVITE\r\n\
Contact: <sip:13812345678@10.20.30.40:5060>\r\n\
P-Asserted-Identity: <sip:+8613812345678@10.20.30.40;user=phone>\r\n\
Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, INFO, UPDATE\r\n\
Supported: timer\r\n\
Session-Expires: 1800;refresher=uac\r\n\
User-Agent: CarrierSBC 5.2.1\r\n\
Content-Type: application/sdp\r\n\
Content-Length: {LEN}\r\n\
\r\n\
v=0\r\n\
o=SBC 1 1 IN IP4 10.20.30.40\r\n\
s=SBC call\r\n\
c=IN IP4 10.20.30.40\r\n\
t=0 0\r\n\
m=audio 31456 RTP/AVP 8 0 101\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=sendrecv\r\n";

/// The 200 OK a UAS sends for that INVITE, with its SDP answer.
const OK_200: &str = "SIP/2.0 200 OK\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bK000001;rport=5080\r\n\
Via: SIP/2.0/UDP 10.20.30.40:5060;received=10.20.30.40;branch=z9hG4bK-sbc-7d1f0a93c2\r\n\
Record-Route: <sip:127.0.0.1:5080;lr;ftag=as6f1a2b3c>\r\n\
From: \"13812345678\" <sip:13812345678@10.20.30.40;user=phone>;tag=as6f1a2b3c\r\n\
To: <sip:4008001234@127.0.0.1>;tag=hl8c2e9f41d0\r\n\
Call-ID: 000001@10.20.30.40\r\n\
CSeq: 102 INVITE\r\n\
Contact: <sip:hotline@127.0.0.1:5060>\r\n\
Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, INFO\r\n\
Supported: timer\r\n\
Server: Hotline\r\n\
Content-Type: application/sdp\r\n\
Content-Length: {LEN}\r\n\
\r\n\
v=0\r\n\
o=hotline 1 1 IN IP4 127.0.0.1\r\n\
s=hotline\r\n\
c=IN IP4 127.0.0.1\r\n\
t=0 0\r\n\
m=audio 20000 RTP/AVP 8 101\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=ptime:20\r\n\
a=sendrecv\r\n";

fn invite_text(call: u64) -> String {
    with_length(
        &INVITE_TEMPLATE
            .replace("{CALL}", &format!("{call:06}"))
            .replace("{BRANCH}", &format!("{call:06}")),
    )
}

/// Fills in `{LEN}` with the length of the body after the blank line.
fn with_length(text: &str) -> String {
    let body = text.find("\r\n\r\n").map_or(0, |i| text.len() - i - 4);
    text.replace("{LEN}", &body.to_string())
}

fn request(data: &Bytes) -> Request {
    match parse_datagram(data.clone()) {
        Ok(Message::Request(r)) => r,
        other => panic!("the benchmark INVITE must parse as a request: {other:?}"),
    }
}

fn response(data: &Bytes) -> Response {
    match parse_datagram(data.clone()) {
        Ok(Message::Response(r)) => r,
        other => panic!("the benchmark 200 OK must parse as a response: {other:?}"),
    }
}

fn message_benches(c: &mut Criterion) {
    let invite = Bytes::from(invite_text(1));
    let ok = Bytes::from(with_length(OK_200));
    assert!(
        (850..=1000).contains(&invite.len()),
        "INVITE is {} bytes; keep it near 900 so figures stay comparable",
        invite.len()
    );
    let req = request(&invite);
    let resp = response(&ok);
    validate_request(&req).expect("the benchmark INVITE is valid");

    let mut g = c.benchmark_group("parse");
    g.throughput(Throughput::Bytes(invite.len() as u64));
    g.bench_function("invite_sdp", |b| {
        b.iter(|| parse_datagram(black_box(invite.clone())))
    });
    g.throughput(Throughput::Bytes(ok.len() as u64));
    g.bench_function("ok_200_sdp", |b| {
        b.iter(|| parse_datagram(black_box(ok.clone())))
    });
    g.throughput(Throughput::Bytes(invite.len() as u64));
    g.bench_function("invite_sdp_validate", |b| {
        b.iter(|| {
            let Ok(Message::Request(r)) = parse_datagram(black_box(invite.clone())) else {
                panic!("INVITE stopped parsing");
            };
            validate_request(&r).map(|()| r)
        })
    });
    g.finish();

    let mut g = c.benchmark_group("serialize");
    let mut out = Vec::with_capacity(2048);
    g.bench_function("invite_sdp", |b| {
        b.iter(|| {
            out.clear();
            black_box(&req).write_to(&mut out);
            out.len()
        })
    });
    g.bench_function("ok_200_sdp", |b| {
        b.iter(|| {
            out.clear();
            black_box(&resp).write_to(&mut out);
            out.len()
        })
    });
    g.bench_function("for_request_200_write", |b| {
        let tag = Bytes::from_static(b"<sip:4008001234@127.0.0.1>;tag=hl8c2e9f41d0");
        b.iter(|| {
            let mut r = Response::for_request(black_box(&req), 200, "");
            if let Some(to) = r.headers.get_mut(&HeaderName::To) {
                *to = tag.clone();
            }
            r.to_bytes()
        })
    });
    g.finish();
}

/// One whole call through the endpoint per iteration, timing only the endpoint's work
/// (handle + poll), not building the caller's datagrams. Fake time moves 1 ms per call
/// (1000 CPS), and due timers run, so finished transactions are reaped as in production.
fn endpoint_bench(c: &mut Criterion) {
    let hotline: SocketAddr = ([127, 0, 0, 1], 5060).into();
    let caller = Peer {
        transport: Transport::Udp,
        addr: ([127, 0, 0, 1], 5080).into(),
        conn: None,
    };
    let mut profile = Profile::builtin_default();
    profile.listen = hotline;
    let ports = RtpPorts::new(20000, 29999).expect("valid RTP range");
    let mut ep = Endpoint::new(profile, ports, 7);
    let mut now = Instant::now();
    let mut call: u64 = 0;

    let mut g = c.benchmark_group("endpoint");
    g.throughput(Throughput::Elements(1));
    g.bench_function("invite_ack_bye", |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                call += 1;
                now += Duration::from_millis(1);
                let invite = Bytes::from(invite_text(call));

                let t = Instant::now();
                if ep.poll_timeout().is_some_and(|at| at <= now) {
                    ep.handle_timeout(now);
                }
                ep.handle_datagram(now, 1_800_000_000, invite, caller, hotline);
                let mut ok = None;
                while let Some(tx) = ep.poll_transmit() {
                    if tx.data.starts_with(b"SIP/2.0 200") {
                        ok = Some(tx.data);
                    }
                }
                while ep.poll_event().is_some() {}
                spent += t.elapsed();

                let ok = ok.unwrap_or_else(|| panic!("call {call}: no 200 OK for the INVITE"));
                let to = to_header(&ok).unwrap_or_else(|| panic!("call {call}: 200 without To"));
                let ack = in_dialog("ACK", call, &to, 102, "a");
                let bye = in_dialog("BYE", call, &to, 103, "b");

                let t = Instant::now();
                ep.handle_datagram(now, 1_800_000_000, ack, caller, hotline);
                ep.handle_datagram(now, 1_800_000_000, bye, caller, hotline);
                let mut bye_ok = false;
                while let Some(tx) = ep.poll_transmit() {
                    bye_ok |= tx.data.starts_with(b"SIP/2.0 200");
                }
                while ep.poll_event().is_some() {}
                spent += t.elapsed();
                assert!(bye_ok, "call {call}: no 200 OK for the BYE");
            }
            spent
        })
    });
    g.finish();
    assert_eq!(
        ep.stats().active_calls,
        0,
        "every benchmark call was hung up"
    );
}

/// The To header value of a response (with Hotline's tag), found by a byte scan so the
/// bench does not pay for a second parse.
fn to_header(msg: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(msg).ok()?;
    let start = text.find("\r\nTo: ")? + 6;
    let len = text.get(start..)?.find("\r\n")?;
    text.get(start..start + len).map(str::to_string)
}

fn in_dialog(method: &str, call: u64, to: &str, cseq: u32, branch: &str) -> Bytes {
    Bytes::from(format!(
        "{method} sip:hotline@127.0.0.1:5060 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bK{branch}{call:06};rport\r\n\
Max-Forwards: 70\r\n\
From: \"13812345678\" <sip:13812345678@10.20.30.40;user=phone>;tag=as6f1a2b3c\r\n\
To: {to}\r\n\
Call-ID: {call:06}@10.20.30.40\r\n\
CSeq: {cseq} {method}\r\n\
Content-Length: 0\r\n\r\n"
    ))
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(50)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = message_benches, endpoint_bench
}
criterion_main!(benches);
