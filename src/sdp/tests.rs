//! Real offers from real peers, answered end to end, and the answers read back.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use bytes::Bytes;
use proptest::prelude::*;

use super::*;

fn local() -> LocalMedia {
    LocalMedia {
        addr: IpAddr::V4(Ipv4Addr::new(203, 0, 113, 10)),
        port: 20000,
        codecs: vec![Codec::Pcma, Codec::Pcmu],
        ptime_ms: 20,
        telephone_event: true,
        session_id: 4242,
        session_version: 7,
        direction: Direction::SendRecv,
    }
}

fn text(b: &Bytes) -> &str {
    std::str::from_utf8(b).unwrap()
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// `sipp -sd uac`, placeholders filled as SIPp does on loopback.
const SIPP_UAC: &str = "v=0\r\n\
o=user1 53655765 2353687637 IN IP4 127.0.0.1\r\n\
s=-\r\n\
c=IN IP4 127.0.0.1\r\n\
t=0 0\r\n\
m=audio 6000 RTP/AVP 0\r\n\
a=rtpmap:0 PCMU/8000\r\n";

/// Captured from baresip 1.0.0 dialling us (`audio_codecs=PCMU,PCMA`).
const BARESIP: &str = "v=0\r\n\
o=- 3955143135 386893061 IN IP4 192.0.2.2\r\n\
s=-\r\n\
c=IN IP4 192.0.2.2\r\n\
t=0 0\r\n\
a=tool:baresip 1.0.0\r\n\
m=audio 22144 RTP/AVP 0 8 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\n\
a=sendrecv\r\n\
a=label:1\r\n\
a=rtcp-rsize\r\n\
a=ssrc:3394632515 cname:sip:agent@127.0.0.1\r\n\
a=minptime:20\r\n\
a=ptime:20\r\n";

/// A Chinese carrier softswitch style offer: PCMA first, 101, no `s=`/`t=`, bare
/// LF line ends, trailing blanks, vendor attributes, ptime 30.
const CARRIER: &str = "v=0\n\
o=HuaweiSoftX3000 1073741829 1073741829 IN IP4 10.20.30.40 \n\
c=IN IP4 10.20.30.41\n\
m=audio 30000 RTP/AVP 8 18 4 0 101\n\
a=rtpmap:8 PCMA/8000\n\
a=rtpmap:18 G729/8000\n\
a=fmtp:18 annexb=no\n\
a=rtpmap:101 telephone-event/8000\n\
a=fmtp:101 0-15\n\
a=ptime:30\n\
a=X-nat:0\n\
a=sendrecv\n";

#[test]
fn sipp_uac_offer() {
    let a = answer(SIPP_UAC.as_bytes(), &local()).unwrap();
    assert_eq!(
        a.negotiated,
        Negotiated {
            codec: Codec::Pcmu,
            pt: 0,
            dtmf_pt: None,
            ptime_ms: 20,
            remote_rtp: addr("127.0.0.1:6000"),
            local_direction: Direction::SendRecv,
            remote_direction: Direction::SendRecv,
            on_hold: false,
        }
    );
    assert_eq!(
        text(&a.sdp),
        "v=0\r\n\
         o=hotline 4242 7 IN IP4 203.0.113.10\r\n\
         s=-\r\n\
         c=IN IP4 203.0.113.10\r\n\
         t=0 0\r\n\
         m=audio 20000 RTP/AVP 0\r\n\
         a=rtpmap:0 PCMU/8000\r\n\
         a=ptime:20\r\n\
         a=sendrecv\r\n"
    );
}

#[test]
fn baresip_offer_takes_our_preference_and_dtmf() {
    let a = answer(BARESIP.as_bytes(), &local()).unwrap();
    let n = &a.negotiated;
    assert_eq!((n.codec, n.pt, n.dtmf_pt), (Codec::Pcma, 8, Some(101)));
    assert_eq!(n.remote_rtp, addr("192.0.2.2:22144"));
    assert!(!n.on_hold);
    let sdp = text(&a.sdp);
    assert!(sdp.contains("m=audio 20000 RTP/AVP 8 101\r\n"), "{sdp}");
    assert!(sdp.contains("a=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n"));
    // baresip lists 0-15; we answer no more than it takes.
    assert!(sdp.contains("a=fmtp:101 0-15\r\n"));
    assert!(!sdp.contains("rtcp") && !sdp.contains("ssrc"));

    // Preferring PCMU picks PCMU from the same offer.
    let mut l = local();
    l.codecs = vec![Codec::Pcmu];
    let a = answer(BARESIP.as_bytes(), &l).unwrap();
    assert_eq!((a.negotiated.codec, a.negotiated.pt), (Codec::Pcmu, 0));

    // DTMF disabled: no telephone-event in the answer.
    let mut l = local();
    l.telephone_event = false;
    let a = answer(BARESIP.as_bytes(), &l).unwrap();
    assert_eq!(a.negotiated.dtmf_pt, None);
    assert!(!text(&a.sdp).contains("telephone-event"));
    assert!(text(&a.sdp).contains("m=audio 20000 RTP/AVP 8\r\n"));
}

#[test]
fn carrier_offer_without_s_and_t() {
    let a = answer(CARRIER.as_bytes(), &local()).unwrap();
    let n = &a.negotiated;
    assert_eq!(
        (n.codec, n.pt, n.dtmf_pt, n.ptime_ms),
        (Codec::Pcma, 8, Some(101), 30)
    );
    assert_eq!(n.remote_rtp, addr("10.20.30.41:30000"));
    let sdp = text(&a.sdp);
    assert!(sdp.contains("m=audio 20000 RTP/AVP 8 101\r\n"), "{sdp}");
    assert!(sdp.contains("a=ptime:30\r\n"));
    assert!(sdp.contains("s=-\r\n") && sdp.contains("t=0 0\r\n"));
}

#[test]
fn static_types_without_rtpmap_and_dynamic_g711() {
    let offer = "v=0\r\nc=IN IP4 192.0.2.9\r\nm=audio 4000 RTP/AVP 18 8\r\n";
    let a = answer(offer.as_bytes(), &local()).unwrap();
    assert_eq!((a.negotiated.codec, a.negotiated.pt), (Codec::Pcma, 8));

    // A dynamic number for PCMA is kept, lower-case names match, PCMU/16000 does not.
    let offer = "v=0\r\nc=IN IP4 192.0.2.9\r\nm=audio 4000 RTP/AVP 97 96 100\r\n\
                 a=rtpmap:97 PCMU/16000\r\na=rtpmap:96 pcma/8000\r\n\
                 a=rtpmap:100 telephone-event/8000\r\n";
    let a = answer(offer.as_bytes(), &local()).unwrap();
    assert_eq!(
        (a.negotiated.codec, a.negotiated.pt, a.negotiated.dtmf_pt),
        (Codec::Pcma, 96, Some(100))
    );
    let sdp = text(&a.sdp);
    assert!(sdp.contains("m=audio 20000 RTP/AVP 96 100\r\n"), "{sdp}");
    assert!(sdp.contains("a=rtpmap:96 PCMA/8000\r\n"));
    // No fmtp in the offer means 0-15 (RFC 4733 §2.4.1).
    assert!(sdp.contains("a=fmtp:100 0-15\r\n"));
}

#[test]
fn telephone_event_at_the_codec_rate_only() {
    // WebRTC-style offers list telephone-event at 48000 and 8000.
    let offer = "v=0\r\nc=IN IP4 192.0.2.9\r\nm=audio 4000 RTP/AVPF 0 110 126\r\n\
                 a=rtpmap:110 telephone-event/48000\r\na=rtpmap:126 telephone-event/8000\r\n";
    let a = answer(offer.as_bytes(), &local()).unwrap();
    assert_eq!(a.negotiated.dtmf_pt, Some(126));
    assert!(text(&a.sdp).contains("m=audio 20000 RTP/AVPF 0 126\r\n"));

    let offer = "v=0\r\nc=IN IP4 192.0.2.9\r\nm=audio 4000 RTP/AVP 0 110\r\n\
                 a=rtpmap:110 telephone-event/48000\r\n";
    assert_eq!(
        answer(offer.as_bytes(), &local())
            .unwrap()
            .negotiated
            .dtmf_pt,
        None
    );
}

#[test]
fn video_and_audio_offer_rejects_video_in_place() {
    let offer = "v=0\r\n\
o=alice 1 1 IN IP4 192.0.2.7\r\n\
s=call\r\n\
c=IN IP4 192.0.2.7\r\n\
t=0 0\r\n\
m=video 5002 RTP/AVP 96 97\r\n\
a=rtpmap:96 H264/90000\r\n\
a=rtpmap:97 VP8/90000\r\n\
m=audio 5000 RTP/AVP 8 0\r\n\
a=rtpmap:8 PCMA/8000\r\n\
m=application 5004 UDP/BFCP *\r\n";
    let a = answer(offer.as_bytes(), &local()).unwrap();
    assert_eq!(a.negotiated.remote_rtp, addr("192.0.2.7:5000"));
    let sdp = text(&a.sdp);
    let m_lines: Vec<&str> = sdp.lines().filter(|l| l.starts_with("m=")).collect();
    assert_eq!(
        m_lines,
        vec![
            "m=video 0 RTP/AVP 96 97",
            "m=audio 20000 RTP/AVP 8",
            "m=application 0 UDP/BFCP *",
        ]
    );
    // Nothing of the video leaks into the answer.
    assert!(!sdp.contains("H264"));
}

#[test]
fn rfc4475_sdp01_body() {
    let msg = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/rfc4475/sdp01.dat"
    ))
    .unwrap();
    let at = msg.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let a = answer(&msg[at..], &local()).unwrap();
    assert_eq!((a.negotiated.codec, a.negotiated.pt), (Codec::Pcmu, 0));
    assert_eq!(a.negotiated.remote_rtp, addr("192.0.2.5:49217"));
    let sdp = text(&a.sdp);
    assert!(sdp.contains("m=audio 20000 RTP/AVP 0\r\n"), "{sdp}");
    assert!(sdp.ends_with("m=video 0 RTP/AVP 31\r\n"), "{sdp}");
}

#[test]
fn sendonly_hold_is_answered_recvonly() {
    let offer = BARESIP.replace("a=sendrecv", "a=sendonly");
    let a = answer(offer.as_bytes(), &local()).unwrap();
    let n = &a.negotiated;
    assert!(n.on_hold);
    assert_eq!(n.remote_direction, Direction::SendOnly);
    assert_eq!(n.local_direction, Direction::RecvOnly);
    assert!(text(&a.sdp).contains("a=recvonly\r\n"));

    // Session-level direction counts when the m-line has none.
    let offer = "v=0\r\nc=IN IP4 192.0.2.9\r\na=inactive\r\nm=audio 4000 RTP/AVP 0\r\n";
    let a = answer(offer.as_bytes(), &local()).unwrap();
    assert!(a.negotiated.on_hold);
    assert_eq!(a.negotiated.local_direction, Direction::Inactive);
    assert!(text(&a.sdp).contains("a=inactive\r\n"));

    // recvonly is not hold: the peer still listens, we send only.
    let offer = BARESIP.replace("a=sendrecv", "a=recvonly");
    let a = answer(offer.as_bytes(), &local()).unwrap();
    assert!(!a.negotiated.on_hold);
    assert!(text(&a.sdp).contains("a=sendonly\r\n"));
}

#[test]
fn zero_address_hold() {
    let offer = "v=0\r\no=- 1 2 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n\
                 m=audio 4000 RTP/AVP 8\r\na=sendrecv\r\n";
    let a = answer(offer.as_bytes(), &local()).unwrap();
    let n = &a.negotiated;
    assert!(n.on_hold);
    assert_eq!(n.remote_rtp, addr("0.0.0.0:4000"));
    assert_eq!(n.remote_direction, Direction::SendOnly);
    assert_eq!(n.local_direction, Direction::RecvOnly);
}

#[test]
fn we_hold_the_peer() {
    let mut l = local();
    l.direction = Direction::SendOnly;
    let a = answer(BARESIP.as_bytes(), &l).unwrap();
    assert_eq!(a.negotiated.local_direction, Direction::SendOnly);
    assert!(!a.negotiated.on_hold);
    assert!(text(&a.sdp).contains("a=sendonly\r\n"));
}

#[test]
fn no_common_codec_names_the_offer() {
    let offer = "v=0\r\nc=IN IP4 192.0.2.9\r\nm=audio 4000 RTP/AVP 18 101\r\n\
                 a=rtpmap:18 G729/8000\r\na=rtpmap:101 telephone-event/8000\r\n";
    let err = answer(offer.as_bytes(), &local()).unwrap_err();
    assert_eq!(
        err,
        SdpError::NoCommonCodec {
            offered: "G729/8000 (pt 18), telephone-event/8000 (pt 101)".into()
        }
    );
    assert_eq!((err.status(), err.warning_code()), (488, 305));
    assert!(err.to_string().contains("G729/8000"));

    // Nothing preferred at all.
    let mut l = local();
    l.codecs.clear();
    assert!(matches!(
        answer(BARESIP.as_bytes(), &l),
        Err(SdpError::NoCommonCodec { .. })
    ));
}

#[test]
fn unusable_offers() {
    let err = answer(b"hello, world", &local()).unwrap_err();
    assert!(matches!(err, SdpError::Parse(_)), "{err:?}");
    assert_eq!((err.status(), err.warning_code()), (488, 399));
    assert!(matches!(answer(b"", &local()), Err(SdpError::Parse(_))));
    assert!(matches!(
        answer(b"v=0\r\nthis is not sdp\r\n", &local()),
        Err(SdpError::Parse(_))
    ));

    // No m= line, only video, disabled audio.
    for offer in [
        "v=0\r\nc=IN IP4 192.0.2.9\r\n",
        "v=0\r\nc=IN IP4 192.0.2.9\r\nm=video 4000 RTP/AVP 31\r\n",
        "v=0\r\nc=IN IP4 192.0.2.9\r\nm=audio 0 RTP/AVP 0\r\n",
    ] {
        assert_eq!(
            answer(offer.as_bytes(), &local()),
            Err(SdpError::NoAudio),
            "{offer}"
        );
    }

    let srtp = "v=0\r\nc=IN IP4 192.0.2.9\r\nm=audio 4000 RTP/SAVP 0\r\n";
    assert_eq!(
        answer(srtp.as_bytes(), &local()),
        Err(SdpError::UnsupportedTransport {
            proto: "RTP/SAVP".into()
        })
    );

    let no_c = "v=0\r\nm=audio 4000 RTP/AVP 0\r\n";
    assert!(matches!(
        answer(no_c.as_bytes(), &local()),
        Err(SdpError::BadConnection(_))
    ));
    let host = "v=0\r\nc=IN IP4 media.example.com\r\nm=audio 4000 RTP/AVP 0\r\n";
    assert!(matches!(
        answer(host.as_bytes(), &local()),
        Err(SdpError::BadConnection(_))
    ));
}

#[test]
fn disabled_audio_stream_is_answered_with_port_zero() {
    let offer = "v=0\r\nc=IN IP4 192.0.2.9\r\n\
                 m=audio 0 RTP/AVP 0\r\n\
                 m=audio 4002 RTP/SAVP 8\r\n\
                 m=audio 4004 RTP/AVP 8\r\nc=IN IP4 192.0.2.10\r\n\
                 m=audio 4006 RTP/AVP 0\r\n";
    let a = answer(offer.as_bytes(), &local()).unwrap();
    assert_eq!(a.negotiated.remote_rtp, addr("192.0.2.10:4004"));
    let m_lines: Vec<&str> = text(&a.sdp)
        .lines()
        .filter(|l| l.starts_with("m="))
        .collect();
    assert_eq!(
        m_lines,
        vec![
            "m=audio 0 RTP/AVP 0",
            "m=audio 0 RTP/SAVP 8",
            "m=audio 20000 RTP/AVP 8",
            "m=audio 0 RTP/AVP 0",
        ]
    );
}

#[test]
fn ipv6_both_ways() {
    let offer = "v=0\r\no=- 1 1 IN IP6 2001:db8::9\r\ns=-\r\nc=IN IP6 2001:db8::9\r\nt=0 0\r\n\
                 m=audio 4000 RTP/AVP 0\r\n";
    let mut l = local();
    l.addr = "2001:db8::1".parse().unwrap();
    let a = answer(offer.as_bytes(), &l).unwrap();
    assert_eq!(a.negotiated.remote_rtp, addr("[2001:db8::9]:4000"));
    let sdp = text(&a.sdp);
    assert!(
        sdp.contains("o=hotline 4242 7 IN IP6 2001:db8::1\r\n"),
        "{sdp}"
    );
    assert!(sdp.contains("c=IN IP6 2001:db8::1\r\n"));
}

#[test]
fn our_offer_text() {
    let o = offer(&local());
    assert_eq!(
        text(&o),
        "v=0\r\n\
         o=hotline 4242 7 IN IP4 203.0.113.10\r\n\
         s=-\r\n\
         c=IN IP4 203.0.113.10\r\n\
         t=0 0\r\n\
         m=audio 20000 RTP/AVP 8 0 101\r\n\
         a=rtpmap:8 PCMA/8000\r\n\
         a=rtpmap:0 PCMU/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\n\
         a=fmtp:101 0-16\r\n\
         a=ptime:20\r\n\
         a=sendrecv\r\n"
    );
    // Duplicates dropped; an empty list still offers G.711.
    let mut l = local();
    l.codecs = vec![Codec::Pcmu, Codec::Pcmu];
    l.telephone_event = false;
    assert!(text(&offer(&l)).contains("m=audio 20000 RTP/AVP 0\r\n"));
    l.codecs.clear();
    assert!(text(&offer(&l)).contains("m=audio 20000 RTP/AVP 8 0\r\n"));
}

#[test]
fn offer_answered_by_ourselves_reads_back() {
    // Late offer: we offer, another Hotline-like side answers, we read its answer.
    let caller = local();
    let mut callee = local();
    callee.addr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 5));
    callee.port = 31000;
    callee.codecs = vec![Codec::Pcmu, Codec::Pcma];
    let a = answer(&offer(&caller), &callee).unwrap();
    assert_eq!(a.negotiated.codec, Codec::Pcmu);
    assert_eq!(a.negotiated.dtmf_pt, Some(DTMF_PT));
    assert!(text(&a.sdp).contains("a=fmtp:101 0-16\r\n"));

    let n = read_answer(&a.sdp, &caller).unwrap();
    assert_eq!(
        n,
        Negotiated {
            codec: Codec::Pcmu,
            pt: 0,
            dtmf_pt: Some(101),
            ptime_ms: 20,
            remote_rtp: addr("198.51.100.5:31000"),
            local_direction: Direction::SendRecv,
            remote_direction: Direction::SendRecv,
            on_hold: false,
        }
    );
}

#[test]
fn read_answer_cases() {
    let l = local();
    // SIPp's uas answer style: one codec, no direction.
    let n = read_answer(SIPP_UAC.as_bytes(), &l).unwrap();
    assert_eq!((n.codec, n.pt, n.dtmf_pt), (Codec::Pcmu, 0, None));
    assert_eq!(n.remote_rtp, addr("127.0.0.1:6000"));

    // The answer's order decides, among codecs we offered.
    let n = read_answer(BARESIP.as_bytes(), &l).unwrap();
    assert_eq!((n.codec, n.pt, n.dtmf_pt), (Codec::Pcmu, 0, Some(101)));
    let mut only_pcma = local();
    only_pcma.codecs = vec![Codec::Pcma];
    assert_eq!(
        read_answer(BARESIP.as_bytes(), &only_pcma).unwrap().codec,
        Codec::Pcma
    );

    // A hold answer.
    let held = BARESIP.replace("a=sendrecv", "a=inactive");
    let n = read_answer(held.as_bytes(), &l).unwrap();
    assert!(n.on_hold);
    assert_eq!(n.local_direction, Direction::Inactive);

    // Rejected audio, a codec we never offered, garbage.
    let rejected = "v=0\r\nc=IN IP4 192.0.2.9\r\nm=audio 0 RTP/AVP 0\r\n";
    assert_eq!(read_answer(rejected.as_bytes(), &l), Err(SdpError::NoAudio));
    let g729 = "v=0\r\nc=IN IP4 192.0.2.9\r\nm=audio 4000 RTP/AVP 18\r\n";
    assert_eq!(
        read_answer(g729.as_bytes(), &l),
        Err(SdpError::NoCommonCodec {
            offered: "G729/8000 (pt 18)".into()
        })
    );
    assert!(matches!(
        read_answer(b"\x00\xff", &l),
        Err(SdpError::Parse(_))
    ));
}

#[test]
fn answers_parse_back_with_sdp_types() {
    for offer in [SIPP_UAC, BARESIP, CARRIER] {
        let a = answer(offer.as_bytes(), &local()).unwrap();
        let parsed = sdp_types::Session::parse(&a.sdp).unwrap();
        assert_eq!(parsed.origin.sess_version, 7);
        assert_eq!(parsed.medias.len(), 1);
    }
}

// --- bodies ---------------------------------------------------------------

fn rfc4475_body(name: &str) -> Bytes {
    let path = format!("{}/tests/data/rfc4475/{name}", env!("CARGO_MANIFEST_DIR"));
    let msg = Bytes::from(std::fs::read(path).unwrap());
    let at = msg.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    msg.slice(at..)
}

#[test]
fn mpart01_has_no_sdp_part() {
    let body = rfc4475_body("mpart01.dat");
    assert_eq!(
        sdp_body(Some(b"multipart/mixed;boundary=7a9cbec02ceef655"), &body),
        Ok(None)
    );
    // The same body with an SDP part after the binary one: the split must step over
    // the binary part's stray line breaks to find it.
    let close = b"--7a9cbec02ceef655--\r\n";
    assert!(body.ends_with(close));
    let mut with_sdp = body[..body.len() - close.len()].to_vec();
    with_sdp.extend_from_slice(
        b"--7a9cbec02ceef655\r\nContent-Type: application/sdp\r\n\r\n\
          v=0\r\nc=IN IP4 192.0.2.1\r\nm=audio 4000 RTP/AVP 0\r\n\r\n--7a9cbec02ceef655--\r\n",
    );
    let with_sdp = Bytes::from(with_sdp);
    let sdp = sdp_body(
        Some(b"multipart/mixed;boundary=7a9cbec02ceef655"),
        &with_sdp,
    )
    .unwrap()
    .unwrap();
    assert_eq!(
        &sdp[..],
        b"v=0\r\nc=IN IP4 192.0.2.1\r\nm=audio 4000 RTP/AVP 0\r\n"
    );
}

#[test]
fn sip_i_multipart_with_quoted_boundary() {
    // SIP-I (ITU-T Q.1912.5) style: SDP plus an ISUP IAM.
    let body = Bytes::from_static(
        b"--unique-boundary-1\r\n\
Content-Type: application/sdp\r\n\
\r\n\
v=0\r\n\
o=- 1 1 IN IP4 10.1.1.1\r\n\
s=-\r\n\
c=IN IP4 10.1.1.1\r\n\
t=0 0\r\n\
m=audio 8000 RTP/AVP 8 101\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
\r\n\
--unique-boundary-1\r\n\
Content-Type: application/ISUP; version=itu-t92+; base=itu-t92+\r\n\
Content-Disposition: signal; handling=optional\r\n\
\r\n\
\x01\x00\x60\x01\x0a\x00\x02\x0a\x08\x83\x90\r\n\
--unique-boundary-1--\r\n",
    );
    let ct = b"Multipart/Mixed; boundary=\"unique-boundary-1\"";
    let sdp = sdp_body(Some(ct), &body).unwrap().unwrap();
    assert!(sdp.starts_with(b"v=0\r\n"));
    // The line break before the delimiter belongs to the delimiter (RFC 2046 §5.1.1).
    assert!(sdp.ends_with(b"a=rtpmap:101 telephone-event/8000\r\n"));
    // A zero-copy slice of the body.
    assert_eq!(
        sdp.as_ptr(),
        body[b"--unique-boundary-1\r\nContent-Type: application/sdp\r\n\r\n".len()..].as_ptr()
    );
    let a = answer(&sdp, &local()).unwrap();
    assert_eq!(
        (a.negotiated.codec, a.negotiated.dtmf_pt),
        (Codec::Pcma, Some(101))
    );
}

#[test]
fn body_types() {
    let sdp = Bytes::from_static(SIPP_UAC.as_bytes());
    assert_eq!(
        sdp_body(Some(b"application/sdp"), &sdp),
        Ok(Some(sdp.clone()))
    );
    assert_eq!(
        sdp_body(Some(b"Application/SDP ; charset=utf-8"), &sdp),
        Ok(Some(sdp.clone()))
    );
    // No Content-Type but plainly SDP: taken.
    assert_eq!(sdp_body(None, &sdp), Ok(Some(sdp.clone())));
    // Empty bodies carry no offer, whatever the header says.
    assert_eq!(sdp_body(Some(b"application/sdp"), &Bytes::new()), Ok(None));
    assert_eq!(sdp_body(None, &Bytes::from_static(b"\r\n")), Ok(None));

    let err = sdp_body(Some(b"text/plain"), &Bytes::from_static(b"hi")).unwrap_err();
    assert_eq!(err, SdpError::UnsupportedBody("text/plain".into()));
    assert_eq!(err.status(), 415);
    assert_eq!(
        sdp_body(None, &Bytes::from_static(b"hi")),
        Err(SdpError::UnsupportedBody("(no Content-Type)".into()))
    );

    let err = sdp_body(Some(b"multipart/mixed"), &Bytes::from_static(b"--x\r\n")).unwrap_err();
    assert!(matches!(err, SdpError::BadMultipart(_)));
    assert_eq!(err.status(), 400);
    assert!(matches!(
        sdp_body(
            Some(b"multipart/mixed; boundary=zz"),
            &Bytes::from_static(b"no parts")
        ),
        Err(SdpError::BadMultipart(_))
    ));
}

#[test]
fn nested_multipart() {
    let body = Bytes::from_static(
        b"--outer\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\n\
--inner\r\nContent-Type: text/plain\r\n\r\nhi\r\n\
--inner\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n\r\n--inner--\r\n\
--outer--\r\n",
    );
    let sdp = sdp_body(Some(b"multipart/mixed;boundary=outer"), &body)
        .unwrap()
        .unwrap();
    assert_eq!(&sdp[..], b"v=0\r\n");
}

proptest! {
    #[test]
    fn answer_never_panics(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = answer(&data, &local());
        let _ = read_answer(&data, &local());
    }

    #[test]
    fn sdp_like_input_never_panics(
        lines in proptest::collection::vec(
            prop_oneof![
                Just("v=0".to_string()),
                Just("c=IN IP4 0.0.0.0".to_string()),
                Just("c=IN IP6 ::".to_string()),
                "[a-z]=[ -~]{0,30}",
                "m=audio [0-9]{1,6} RTP/AVPF? [0-9 ]{0,12}",
                "a=(rtpmap|fmtp|ptime|maxptime):[0-9 a-zA-Z/.,-]{0,20}",
            ],
            0..12,
        )
    ) {
        let text = lines.join("\r\n");
        let _ = answer(text.as_bytes(), &local());
        let _ = read_answer(text.as_bytes(), &local());
    }

    #[test]
    fn body_never_panics(
        ct in "[ -~]{0,60}",
        body in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let _ = sdp_body(Some(ct.as_bytes()), &Bytes::from(body.clone()));
        let mut mp = b"--b\r\n".to_vec();
        mp.extend_from_slice(&body);
        let _ = sdp_body(Some(b"multipart/mixed; boundary=b"), &Bytes::from(mp));
    }
}
