//! Message-level tests: the RFC 4475 torture suite, round trips, compact forms, and
//! property tests that no input makes the parser, accessors, validators or framer panic.

use super::*;
use bytes::Bytes;
use proptest::prelude::*;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/rfc4475");

/// Must parse and validate (well-formed, or rejected later by semantics, not syntax).
const MUST_PASS: &[&str] = &[
    "wsinv",
    "intmeth",
    "esc01",
    "escnull",
    "esc02",
    "lwsdisp",
    "longreq",
    "dblreq",
    "semiuri",
    "transports",
    "mpart01",
    "unreason",
    "noreason",
    "zeromf",
    "cparam01",
    "cparam02",
    "regescrt",
    "inv2543",
    "badvers",
    "unkscm",
    "novelsc",
    "bext01",
    "invut",
    "regaut01",
    "sdp01",
];
/// Must fail to parse or to validate.
const MUST_FAIL: &[&str] = &[
    "badinv01",
    "clerr",
    "ncl",
    "scalar02",
    "scalarlg",
    "quotbal",
    "ltgtruri",
    "lwsruri",
    "lwsstart",
    "escruri",
    "regbadct",
    "mismatch01",
    "mismatch02",
    "bigcode",
    "insuf",
    "multi01",
    "mcl01",
    "bcast",
];
/// Either verdict is fine; they only must not panic.
const EITHER: &[&str] = &[
    "trws",
    "baddate",
    "badaspec",
    "baddn",
    "badbranch",
    "unksm2",
];

fn load(name: &str) -> Bytes {
    let path = format!("{DIR}/{name}.dat");
    Bytes::from(std::fs::read(&path).unwrap_or_else(|e| panic!("reading {path}: {e}")))
}

fn parse_and_validate(data: Bytes) -> Result<Message, ParseError> {
    let m = parse_datagram(data)?;
    match &m {
        Message::Request(r) => validate_request(r)?,
        Message::Response(r) => validate_response(r)?,
    }
    Ok(m)
}

fn request(name: &str) -> Request {
    match parse_and_validate(load(name)) {
        Ok(Message::Request(r)) => r,
        other => panic!("{name}: expected a valid request, got {other:?}"),
    }
}

#[test]
fn every_expected_row_is_classified() {
    let tsv = std::fs::read_to_string(format!("{DIR}/EXPECTED.tsv")).expect("EXPECTED.tsv");
    let names: Vec<&str> = tsv
        .lines()
        .skip(1)
        .filter_map(|l| l.split('\t').next())
        .collect();
    assert_eq!(names.len(), 49);
    for n in &names {
        let hits = [MUST_PASS, MUST_FAIL, EITHER]
            .iter()
            .filter(|l| l.contains(n))
            .count();
        assert_eq!(hits, 1, "{n} must be in exactly one list");
    }
    assert_eq!(MUST_PASS.len() + MUST_FAIL.len() + EITHER.len(), 49);
}

#[test]
fn rfc4475_must_pass() {
    for name in MUST_PASS {
        if let Err(e) = parse_and_validate(load(name)) {
            panic!("{name} must be accepted, got: {e}");
        }
    }
}

#[test]
fn rfc4475_must_fail() {
    for name in MUST_FAIL {
        if let Ok(m) = parse_and_validate(load(name)) {
            panic!("{name} must be rejected, got {m:?}");
        }
    }
}

#[test]
fn rfc4475_either_does_not_panic() {
    for name in EITHER {
        let _ = parse_and_validate(load(name));
    }
}

#[test]
fn rfc4475_rejections_say_why() {
    let err = |n: &str| parse_and_validate(load(n)).expect_err(n);
    assert!(matches!(err("clerr"), ParseError::Body(_)));
    assert_eq!(err("mcl01"), ParseError::Duplicate("Content-Length"));
    assert!(matches!(err("bigcode"), ParseError::StartLine(_)));
    assert!(matches!(err("lwsstart"), ParseError::StartLine(_)));
    assert!(matches!(err("ltgtruri"), ParseError::StartLine(_)));
    assert!(matches!(err("insuf"), ParseError::Missing(_)));
    assert!(matches!(err("multi01"), ParseError::Duplicate(_)));
    assert!(matches!(err("mismatch01"), ParseError::Header { name, .. } if name == "CSeq"));
    assert!(matches!(err("escruri"), ParseError::Header { name, .. } if name == "Request-URI"));
    assert!(matches!(err("bcast"), ParseError::Header { name, .. } if name == "Via"));
    assert!(matches!(err("scalarlg"), ParseError::Header { name, .. } if name == "CSeq"));
}

#[test]
fn wsinv_values() {
    let r = request("wsinv");
    let h = &r.headers;
    assert_eq!(&h.call_id().unwrap()[..], b"wsinv.ndaksdj@192.0.2.1");
    assert_eq!(
        h.to_addr().unwrap().tag().map(|t| &t[..]),
        Some(&b"1918181833n"[..])
    );
    assert_eq!(
        h.from_addr().unwrap().tag().map(|t| &t[..]),
        Some(&b"98asjd8"[..])
    );
    assert_eq!(
        h.from_addr().unwrap().display.as_deref(),
        Some(&br#"J Rosenberg \""#[..])
    );
    assert_eq!(
        h.cseq().unwrap(),
        CSeq {
            seq: 9,
            method: Method::Invite
        }
    );
    assert_eq!(h.max_forwards(), Ok(Some(68)));
    // The first Via line (`Via  : SIP / 2.0 /UDP 192.0.2.2`) is the top one; the `v:`
    // line that follows holds the TCP spindle entry and one more.
    let vias = h.vias().unwrap();
    assert_eq!(vias.len(), 3);
    assert_eq!(
        (&vias[0].transport[..], &vias[0].host[..]),
        (&b"UDP"[..], &b"192.0.2.2"[..])
    );
    assert_eq!(
        (&vias[1].transport[..], &vias[1].host[..]),
        (&b"TCP"[..], &b"spindle.example.com"[..])
    );
    assert_eq!(vias[1].branch().map(|b| &b[..]), Some(&b"z9hG4bK9ikj8"[..]));
    assert_eq!(vias[2].branch().map(|b| &b[..]), Some(&b"z9hG4bK30239"[..]));
    assert!(!vias[0].is_rfc3261_branch());
    assert_eq!(h.top_via().unwrap(), vias[0]);
    let subject = h.get(&HeaderName::Subject).unwrap();
    assert!(subject.is_empty());
    let nf = h.get(&HeaderName::from_bytes(b"newfangledheader")).unwrap();
    assert_eq!(&nf[..], b"newfangled value continued newfangled value");
    let contacts = h.contacts().unwrap();
    let [Contact::Addr(c)] = &contacts[..] else {
        panic!("one contact expected: {contacts:?}")
    };
    assert_eq!(c.param("q").flatten().map(|v| &v[..]), Some(&b"0.33"[..]));
    let routes = h.name_addrs(&HeaderName::Route).unwrap();
    assert_eq!(
        &routes[0].uri[..],
        b"sip:services.example.com;lr;unknownwith=value;unknown-no-value"
    );
    assert_eq!(r.body.len(), 150);
    assert_eq!(
        h.content_type().unwrap().as_deref(),
        Some(&b"application/sdp"[..])
    );
}

#[test]
fn intmeth_esc_and_escnull_values() {
    let r = request("intmeth");
    assert_eq!(
        r.method,
        Method::Extension(Bytes::from_static(
            b"!interesting-Method0123456789_*+`.%indeed'~"
        ))
    );
    let to = r.headers.to_addr().unwrap();
    assert_eq!(
        to.display.as_deref(),
        Some(&b"BEL:\x07 NUL:\x00 DEL:\x7f"[..])
    );
    assert_eq!(r.headers.max_forwards(), Ok(Some(255)));

    let r = request("esc01");
    let ruri = Uri::parse(&r.uri).unwrap();
    assert_eq!(ruri.user.as_deref(), Some(&b"sips:user@example.com"[..]));
    let to = Uri::parse(&r.headers.to_addr().unwrap().uri).unwrap();
    assert_eq!(to.user.as_deref(), Some(&b"user"[..]));
    let from = Uri::parse(&r.headers.from_addr().unwrap().uri).unwrap();
    assert_eq!(from.user.as_deref(), Some(&b"I have spaces"[..]));
    let [Contact::Addr(c)] = &r.headers.contacts().unwrap()[..] else {
        panic!("one contact")
    };
    let c = Uri::parse(&c.uri).unwrap();
    assert_eq!(c.user.as_deref(), Some(&b"caller"[..]));
    assert_eq!(c.param("lr"), Some(None));
    assert_eq!(
        c.param("name").flatten().map(|v| &v[..]),
        Some(&b"value%41"[..])
    );

    let r = request("escnull");
    let to = Uri::parse(&r.headers.to_addr().unwrap().uri).unwrap();
    assert_eq!(to.user.as_deref(), Some(&b"null-\0-null"[..]));
    assert_eq!(r.headers.contacts().unwrap().len(), 2);

    let r = request("esc02");
    assert_eq!(
        r.method,
        Method::Extension(Bytes::from_static(b"RE%47IST%45R"))
    );
    assert_eq!(
        r.headers.from_addr().unwrap().display.as_deref(),
        Some(&b"%Z%45"[..])
    );
    // `C%6Fntact` is an unknown header, not a Contact.
    assert_eq!(r.headers.contacts().unwrap().len(), 2);
}

#[test]
fn other_accepted_values() {
    let r = request("longreq");
    assert_eq!(r.headers.len(), 43);
    let vias = r.headers.vias().unwrap();
    assert_eq!(vias.len(), 34);
    assert_eq!(&vias[0].host[..], b"sip33.example.com");
    assert_eq!(vias[33].received().map(|v| &v[..]), Some(&b"192.0.2.5"[..]));
    assert_eq!(r.body.len(), 150);

    let r = request("dblreq");
    assert_eq!(r.method, Method::Register);
    assert!(r.body.is_empty());
    assert_eq!(
        &r.headers.call_id().unwrap()[..],
        b"dblreq.0ha0isndaksdj99sdfafnl3lk233412"
    );

    let r = request("semiuri");
    assert_eq!(
        Uri::parse(&r.uri).unwrap().user.as_deref(),
        Some(&b"user;par=u@example.net"[..])
    );
    assert_eq!(r.headers.tokens(&HeaderName::Accept).len(), 6);

    let r = request("transports");
    let t: Vec<Bytes> = r
        .headers
        .vias()
        .unwrap()
        .into_iter()
        .map(|v| v.transport)
        .collect();
    assert_eq!(t, ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"].map(Bytes::from));

    let r = request("badvers");
    assert_eq!(&r.version[..], b"SIP/7.0");
    assert_eq!(
        r.headers.from_addr().unwrap().display.as_deref(),
        Some(&b"A. Bell"[..])
    );

    for (name, scheme) in [
        ("unkscm", "nobodyknowsthisscheme"),
        ("novelsc", "soap.beep"),
    ] {
        let u = Uri::parse(&request(name).uri).unwrap();
        assert_eq!(&u.scheme[..], scheme.as_bytes(), "{name}");
    }

    let r = request("cparam01");
    let [Contact::Addr(c)] = &r.headers.contacts().unwrap()[..] else {
        panic!("one contact")
    };
    assert_eq!(&c.uri[..], b"sip:+19725552222@gw1.example.net");
    assert_eq!(c.param("unknownparam"), Some(None));
    let r = request("cparam02");
    let [Contact::Addr(c)] = &r.headers.contacts().unwrap()[..] else {
        panic!("one contact")
    };
    assert!(c.params.is_empty());
    assert_eq!(
        Uri::parse(&c.uri).unwrap().param("unknownparam"),
        Some(None)
    );

    let r = request("regescrt");
    let [Contact::Addr(c)] = &r.headers.contacts().unwrap()[..] else {
        panic!("one contact")
    };
    let u = Uri::parse(&c.uri).unwrap();
    assert_eq!(
        u.headers,
        vec![(
            Bytes::from_static(b"Route"),
            Bytes::from_static(b"<sip:sip.example.com>")
        )]
    );

    let r = request("regaut01");
    let a = r
        .headers
        .challenge(&HeaderName::Authorization)
        .unwrap()
        .unwrap();
    assert_eq!(&a.scheme[..], b"NoOneKnowsThisScheme");

    let r = request("bext01");
    assert_eq!(r.headers.tokens(&HeaderName::Require).len(), 2);
    let r = request("invut");
    assert_eq!(
        r.headers.content_type().unwrap().as_deref(),
        Some(&b"application/unknownformat"[..])
    );
    let r = request("mpart01");
    assert_eq!(r.body.len(), 553);
    assert_eq!(
        r.headers.content_type().unwrap().as_deref(),
        Some(&b"multipart/mixed"[..])
    );
    let r = request("inv2543");
    assert_eq!(r.headers.max_forwards(), Ok(None));
    assert!(!r.headers.top_via().unwrap().is_rfc3261_branch());
    assert!(r.body.ends_with(b"RTP/AVP 0\r\n"));
    let r = request("zeromf");
    assert_eq!(r.headers.max_forwards(), Ok(Some(0)));

    let Ok(Message::Response(r)) = parse_and_validate(load("unreason")) else {
        panic!("unreason")
    };
    assert_eq!(r.status, 200);
    assert!(
        std::str::from_utf8(&r.reason)
            .unwrap()
            .starts_with("= 2**3 * 5**2 ")
    );
    let Ok(Message::Response(r)) = parse_and_validate(load("noreason")) else {
        panic!("noreason")
    };
    assert_eq!((r.status, r.reason.len()), (100, 0));
}

#[test]
fn compact_forms_in_any_case() {
    let m = parse_datagram(Bytes::from_static(
        b"MESSAGE sip:a@b SIP/2.0\r\nV: SIP/2.0/UDP h;branch=z9hG4bK1\r\nF: <sip:x@y>;tag=1\r\nT: sip:a@b\r\n\
I: id1\r\nCSeq: 1 MESSAGE\r\nM: <sip:x@h>\r\nC: Text/Plain\r\nE: gzip\r\nK: 100rel\r\nO: presence\r\nS: hi\r\nL: 2\r\n\r\nhi",
    ))
    .unwrap();
    let Message::Request(r) = &m else {
        panic!("request")
    };
    validate_request(r).unwrap();
    let names: Vec<&str> = r.headers.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "Via",
            "From",
            "To",
            "Call-ID",
            "CSeq",
            "Contact",
            "Content-Type",
            "Content-Encoding",
            "Supported",
            "Event",
            "Subject",
            "Content-Length"
        ]
    );
    assert_eq!(
        r.headers.content_type().unwrap().as_deref(),
        Some(&b"text/plain"[..])
    );
    assert_eq!(&r.body[..], b"hi");
}

/// Everything but Content-Length, which the serializer rewrites at the end.
fn without_content_length(h: &Headers) -> Vec<Header> {
    h.iter()
        .filter(|h| h.name != HeaderName::ContentLength)
        .cloned()
        .collect()
}

fn assert_round_trip(m: &Message) {
    let wire = m.to_bytes();
    let again = parse_datagram(wire.clone()).unwrap_or_else(|e| panic!("re-parse failed: {e}"));
    assert_eq!(
        without_content_length(m.headers()),
        without_content_length(again.headers())
    );
    match (m, &again) {
        (Message::Request(a), Message::Request(b)) => {
            assert_eq!(
                (&a.method, &a.uri, &a.version, &a.body),
                (&b.method, &b.uri, &b.version, &b.body)
            );
        }
        (Message::Response(a), Message::Response(b)) => {
            assert_eq!(
                (a.status, &a.reason, &a.version, &a.body),
                (b.status, &b.reason, &b.version, &b.body)
            );
        }
        _ => panic!("kind changed in the round trip"),
    }
    assert_eq!(again.to_bytes(), wire, "serialization is not stable");
}

#[test]
fn round_trip_of_every_parsable_torture_message() {
    for name in MUST_PASS.iter().chain(EITHER).chain(MUST_FAIL) {
        if let Ok(m) = parse_datagram(load(name)) {
            assert_round_trip(&m);
        }
    }
}

#[test]
fn built_response_parses_and_validates() {
    let req = request("wsinv");
    let mut resp = Response::for_request(&req, 180, "");
    let Message::Response(parsed) = parse_datagram(resp.to_bytes()).unwrap() else {
        panic!("response")
    };
    assert_eq!(parsed.headers.vias().unwrap().len(), 3);
    assert_eq!(&parsed.reason[..], b"Ringing");
    // A response to a request with one Via is one a UAC would accept.
    let req = request("zeromf");
    resp = Response::for_request(&req, 200, "OK");
    resp.body = Bytes::from_static(b"x");
    let Message::Response(parsed) = parse_datagram(resp.to_bytes()).unwrap() else {
        panic!("response")
    };
    validate_response(&parsed).unwrap();
    assert_eq!(parsed.headers.content_length(), Ok(Some(1)));
    assert_eq!(parsed.headers.call_id(), req.headers.call_id());
}

#[test]
fn framer_on_torture_messages_over_tcp() {
    // Every accepted message that states its Content-Length, back to back on one stream.
    let mut stream = Vec::new();
    let mut expected = Vec::new();
    for name in MUST_PASS {
        let Ok(m) = parse_datagram(load(name)) else {
            continue;
        };
        if m.headers().content_length().ok().flatten().is_none() {
            continue;
        }
        let wire = m.to_bytes();
        stream.extend_from_slice(b"\r\n");
        stream.extend_from_slice(&wire);
        expected.push(parse_datagram(wire).expect("re-parse"));
    }
    for chunk in [1, 7, 100, 1500, stream.len()] {
        let mut f = StreamFramer::new();
        let mut got = Vec::new();
        for piece in stream.chunks(chunk) {
            f.push(piece);
            while let Some(m) = f.next_message() {
                got.push(m.unwrap());
            }
        }
        assert_eq!(got.len(), expected.len(), "chunk size {chunk}");
        assert!(got == expected, "chunk size {chunk}: messages differ");
    }
}

/// Runs every accessor and check on a parsed message; results are ignored, panics are not.
fn exercise(m: &Message) {
    let h = m.headers();
    let _ = h.vias();
    let _ = h.top_via().map(|v| {
        (
            v.branch().cloned(),
            v.received().cloned(),
            v.rport(),
            v.is_rfc3261_branch(),
        )
    });
    for a in [h.from_addr(), h.to_addr()].into_iter().flatten() {
        let _ = (a.tag(), Uri::parse(&a.uri));
    }
    let _ = (
        h.call_id(),
        h.cseq(),
        h.max_forwards(),
        h.content_length(),
        h.content_type(),
        h.expires(),
    );
    if let Ok(cs) = h.contacts() {
        for c in cs {
            if let Contact::Addr(a) = c {
                let _ = Uri::parse(&a.uri);
            }
        }
    }
    let _ = h.name_addrs(&HeaderName::Route);
    let _ = h.name_addrs(&HeaderName::RecordRoute);
    let _ = h.tokens(&HeaderName::Require);
    let _ = h.challenge(&HeaderName::Authorization);
    let _ = h.challenge(&HeaderName::WwwAuthenticate);
    match m {
        Message::Request(r) => {
            let _ = (validate_request(r), Uri::parse(&r.uri));
            let _ = Response::for_request(r, 400, "").to_bytes();
        }
        Message::Response(r) => {
            let _ = validate_response(r);
        }
    }
}

fn all_names() -> Vec<&'static str> {
    MUST_PASS
        .iter()
        .chain(MUST_FAIL)
        .chain(EITHER)
        .copied()
        .collect()
}

#[derive(Clone, Debug)]
enum Edit {
    Set(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    /// Copies a run of the message elsewhere (duplicates headers, separators, quotes).
    Splice(usize, usize, usize),
}

fn apply(data: &mut Vec<u8>, edit: &Edit) {
    let len = data.len().max(1);
    match *edit {
        Edit::Set(i, b) => {
            if let Some(x) = data.get_mut(i % len) {
                *x = b;
            }
        }
        Edit::Insert(i, b) => data.insert((i % len).min(data.len()), b),
        Edit::Delete(i) => {
            if !data.is_empty() {
                data.remove(i % len);
            }
        }
        Edit::Splice(from, n, to) => {
            let from = from % len;
            let end = (from + n % 64).min(data.len());
            let run: Vec<u8> = data.get(from..end).unwrap_or_default().to_vec();
            let at = (to % len).min(data.len());
            data.splice(at..at, run);
        }
    }
}

fn interesting_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        any::<u8>(),
        prop::sample::select(&b"\r\n \t:;,=\"<>@%?&[]/\\0123456789"[..]),
    ]
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), interesting_byte()).prop_map(|(i, b)| Edit::Set(i, b)),
        (any::<usize>(), interesting_byte()).prop_map(|(i, b)| Edit::Insert(i, b)),
        any::<usize>().prop_map(Edit::Delete),
        (any::<usize>(), any::<usize>(), any::<usize>())
            .prop_map(|(a, b, c)| Edit::Splice(a, b, c)),
    ]
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..2048)) {
        if let Ok(m) = parse_datagram(Bytes::from(data.clone())) {
            exercise(&m);
        }
        let mut f = StreamFramer::new();
        f.push(&data);
        while let Some(Ok(m)) = f.next_message() {
            exercise(&m);
        }
    }

    #[test]
    fn sip_like_lines_never_panic(
        lines in prop::collection::vec("[A-Za-z:;,=\"<>@%?&\\[\\]/\\\\ \t0-9.-]{0,40}", 0..12),
        start in prop::sample::select(vec!["INVITE sip:a@b SIP/2.0", "SIP/2.0 200 OK", "X y z"]),
    ) {
        let text = format!("{start}\r\n{}\r\n\r\nbody", lines.join("\r\n"));
        if let Ok(m) = parse_datagram(Bytes::from(text)) {
            exercise(&m);
            assert_round_trip(&m);
        }
    }

    #[test]
    fn mutated_torture_messages_never_panic(
        which in 0usize..49,
        edits in prop::collection::vec(edit(), 1..8),
    ) {
        let names = all_names();
        let mut data = load(names[which % names.len()]).to_vec();
        for e in &edits {
            apply(&mut data, e);
        }
        if let Ok(m) = parse_datagram(Bytes::from(data)) {
            exercise(&m);
            assert_round_trip(&m);
        }
    }

    #[test]
    fn framer_chunking_never_matters(
        picks in prop::collection::vec(0usize..49, 1..5),
        cuts in prop::collection::vec(1usize..300, 1..40),
        edits in prop::collection::vec(edit(), 0..3),
    ) {
        let names = all_names();
        let mut stream = Vec::new();
        for p in &picks {
            stream.extend_from_slice(b"\r\n");
            stream.extend_from_slice(&load(names[p % names.len()]));
        }
        for e in &edits {
            apply(&mut stream, e);
        }
        // Reference: the whole stream in one push.
        let mut whole = StreamFramer::new();
        whole.push(&stream);
        let mut reference = Vec::new();
        while let Some(m) = whole.next_message() {
            reference.push(m);
        }
        // Same stream cut at arbitrary points.
        let mut f = StreamFramer::new();
        let mut got = Vec::new();
        let mut rest = &stream[..];
        let mut i = 0;
        while !rest.is_empty() {
            let n = cuts[i % cuts.len()].min(rest.len());
            let (piece, tail) = rest.split_at(n);
            f.push(piece);
            while let Some(m) = f.next_message() {
                if let Ok(m) = &m {
                    exercise(m);
                }
                got.push(m);
            }
            rest = tail;
            i += 1;
        }
        prop_assert_eq!(got, reference);
    }
}
