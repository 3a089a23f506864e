//! Fuzzes the SIP message model: datagram parsing, every typed accessor, the sanity
//! checks, the serializer (parse → write → parse must succeed and give the same message)
//! and the TCP stream framer (fed whole and in two chunks, the results must agree).
//!
//! Any panic is a bug: the parser faces untrusted peers.

#![no_main]

use bytes::Bytes;
use hotline::sip::message::{
    Contact, HeaderName, Message, NameAddr, Request, Response, StreamFramer, Uri, Via,
    parse_datagram, reason_phrase, validate_request, validate_response,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let bytes = Bytes::copy_from_slice(data);
    if let Ok(msg) = parse_datagram(bytes) {
        exercise(&msg);
        round_trip(&msg);
    }
    framer(data);
});

/// Calls every typed accessor; results are ignored, only panics matter.
fn exercise(msg: &Message) {
    let h = msg.headers();
    if let Ok(vias) = h.vias() {
        vias.iter().for_each(via);
    }
    if let Ok(v) = h.top_via() {
        via(&v);
    }
    if let Ok(a) = h.from_addr() {
        name_addr(&a);
    }
    if let Ok(a) = h.to_addr() {
        name_addr(&a);
    }
    let _ = h.call_id();
    let _ = h.cseq();
    let _ = h.max_forwards();
    let _ = h.content_length();
    let _ = h.content_type();
    let _ = h.expires();
    if let Ok(contacts) = h.contacts() {
        for c in contacts {
            if let Contact::Addr(a) = c {
                name_addr(&a);
            }
        }
    }
    for name in [HeaderName::Route, HeaderName::RecordRoute] {
        if let Ok(list) = h.name_addrs(&name) {
            list.iter().for_each(name_addr);
        }
    }
    for name in [
        HeaderName::Require,
        HeaderName::ProxyRequire,
        HeaderName::Supported,
        HeaderName::Unsupported,
        HeaderName::Allow,
        HeaderName::Accept,
    ] {
        let _ = h.tokens(&name);
    }
    for name in [
        HeaderName::Authorization,
        HeaderName::ProxyAuthorization,
        HeaderName::WwwAuthenticate,
        HeaderName::ProxyAuthenticate,
    ] {
        if let Ok(Some(c)) = h.challenge(&name) {
            for p in ["realm", "nonce", "response", "uri", "username", "qop", "nc"] {
                let _ = c.param(p);
            }
        }
    }
    for hdr in h.iter() {
        let _ = hdr.name.as_str();
    }
    match msg {
        Message::Request(req) => request(req),
        Message::Response(resp) => {
            let _ = validate_response(resp);
            let _ = reason_phrase(resp.status);
        }
    }
}

fn request(req: &Request) {
    let _ = validate_request(req);
    if let Ok(u) = Uri::parse(&req.uri) {
        uri(&u);
    }
    let _ = req.method.as_bytes();
    // What a UAS does with a request it answers: build, write and re-parse a response.
    for status in [100, 180, 200, 400, 486] {
        let resp: Response = Response::for_request(req, status, "");
        let wire = resp.to_bytes();
        if let Err(e) = parse_datagram(wire.clone()) {
            panic!("a response built for a parsed request does not parse: {e}\n{wire:?}");
        }
    }
}

fn via(v: &Via) {
    let _ = v.branch();
    let _ = v.received();
    let _ = v.rport();
    let _ = v.is_rfc3261_branch();
}

fn name_addr(a: &NameAddr) {
    let _ = a.tag();
    let _ = a.param("expires");
    if let Ok(u) = Uri::parse(&a.uri) {
        uri(&u);
    }
}

fn uri(u: &Uri) {
    let _ = u.is_sip();
    let _ = u.param("transport");
    let _ = u.param("lr");
}

/// A parsed message, written out, must parse again to the same message (Content-Length
/// aside: the writer always recomputes it from the body).
fn round_trip(msg: &Message) {
    let wire = msg.to_bytes();
    let again = match parse_datagram(wire.clone()) {
        Ok(m) => m,
        Err(e) => panic!("parse → write → parse failed: {e}\nwritten: {wire:?}"),
    };
    let strip = |m: &Message| -> Vec<(String, Bytes)> {
        m.headers()
            .iter()
            .filter(|h| h.name != HeaderName::ContentLength)
            .map(|h| (h.name.as_str().to_ascii_lowercase(), h.value.clone()))
            .collect()
    };
    assert_eq!(
        strip(msg),
        strip(&again),
        "headers changed in the round trip\n{wire:?}"
    );
    match (msg, &again) {
        (Message::Request(a), Message::Request(b)) => {
            assert_eq!(a.method, b.method, "method changed\n{wire:?}");
            assert_eq!(a.uri, b.uri, "Request-URI changed\n{wire:?}");
            assert_eq!(a.body, b.body, "body changed\n{wire:?}");
        }
        (Message::Response(a), Message::Response(b)) => {
            assert_eq!(a.status, b.status, "status changed\n{wire:?}");
            assert_eq!(a.reason, b.reason, "reason changed\n{wire:?}");
            assert_eq!(a.body, b.body, "body changed\n{wire:?}");
        }
        _ => panic!("request/response kind changed in the round trip\n{wire:?}"),
    }
}

/// The framer must give the same messages however the stream is cut.
fn framer(data: &[u8]) {
    let whole = {
        let mut f = StreamFramer::new();
        f.push(data);
        drain(&mut f)
    };
    let cut = data
        .first()
        .map_or(0, |&b| usize::from(b) % (data.len() + 1));
    let (a, b) = data.split_at(cut);
    let mut f = StreamFramer::new();
    f.push(a);
    let mut split = drain(&mut f);
    f.push(b);
    split.extend(drain(&mut f));
    assert_eq!(
        whole, split,
        "framing depends on where the stream is cut (at {cut})"
    );
    for m in whole.iter().flatten() {
        exercise(m);
    }
}

/// Every message the framer has ready. Bounded: each message consumes at least one
/// octet, and after an error the framer returns only `None`.
fn drain(f: &mut StreamFramer) -> Vec<Result<Message, hotline::sip::message::ParseError>> {
    let mut out = Vec::new();
    for _ in 0..10_000 {
        match f.next_message() {
            Some(r) => out.push(r),
            None => break,
        }
    }
    out
}
