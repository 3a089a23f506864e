use super::*;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const PCMA: u8 = 8;
const EVENT: u8 = 101;

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 10], port))
}

/// A minimal RTP packet: 12-byte header and `len` payload bytes.
fn packet(ssrc: u32, seq: u16, ts: u32, pt: u8, marker: bool, len: usize) -> Vec<u8> {
    let mut p = vec![0x80, pt | if marker { 0x80 } else { 0 }];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.resize(12 + len, 0xd5);
    p
}

fn receiver() -> RtpReceiver {
    let mut rx = RtpReceiver::new(None);
    rx.set_expected(&[PCMA, EVENT]);
    rx.set_event_payload_type(Some(EVENT));
    rx
}

/// Feeds `seqs` (offsets from `seq0`) as a 20 ms stream arriving exactly on time.
fn feed(rx: &mut RtpReceiver, t0: Instant, ssrc: u32, seq0: u16, ts0: u32, seqs: &[u16]) {
    for &i in seqs {
        let seq = seq0.wrapping_add(i);
        let ts = ts0.wrapping_add(u32::from(i) * 160);
        let now = t0 + Duration::from_millis(20 * u64::from(i));
        rx.on_packet(now, addr(4000), &packet(ssrc, seq, ts, PCMA, false, 160))
            .unwrap();
    }
}

#[test]
fn in_order_stream_has_no_loss_or_jitter() {
    let mut rx = receiver();
    let t0 = Instant::now();
    let seqs: Vec<u16> = (0..50).collect();
    feed(&mut rx, t0, 0xabcd, 100, 8000, &seqs);
    let s = rx.stats();
    assert_eq!(s.ssrc, Some(0xabcd));
    assert_eq!(s.extended_highest_seq, 149);
    // A.1 probation: the first packet validates the source and is not counted.
    assert_eq!((s.expected, s.received), (49, 49));
    assert_eq!((s.cumulative_lost, s.fraction_lost), (0, 0));
    assert_eq!(s.jitter, 0);
    assert_eq!(s.packets, 50);
    assert_eq!(s.octets, 50 * 160);
    assert_eq!(rx.remote(), Some(addr(4000)));
}

#[test]
fn received_view_carries_the_header_fields() {
    let mut rx = receiver();
    let data = packet(7, 9, 1234, PCMA, true, 160);
    let got = rx.on_packet(Instant::now(), addr(4000), &data).unwrap();
    assert_eq!(
        (
            got.ssrc,
            got.seq,
            got.timestamp,
            got.marker,
            got.payload_type
        ),
        (7, 9, 1234, true, PCMA)
    );
    assert_eq!(got.payload.len(), 160);
}

#[test]
fn loss_pattern_gives_cumulative_and_interval_fraction() {
    let mut rx = receiver();
    let t0 = Instant::now();
    // First interval: 101 packets, every tenth (10, 20, ..., 90) lost: 9 of 100 counted.
    let first: Vec<u16> = (0..=100)
        .filter(|i| i % 10 != 0 || *i == 0 || *i == 100)
        .collect();
    feed(&mut rx, t0, 1, 0, 0, &first);
    let s = rx.take_report();
    assert_eq!(s.expected, 100);
    assert_eq!(s.cumulative_lost, 9);
    assert_eq!(s.fraction_lost, (9 * 256 / 100) as u8);
    // Second interval: 100 more, a burst of 25 lost.
    let second: Vec<u16> = (101..=200).filter(|i| !(150..175).contains(i)).collect();
    feed(&mut rx, t0, 1, 0, 0, &second);
    let s = rx.take_report();
    assert_eq!(s.expected, 200);
    assert_eq!(s.cumulative_lost, 34);
    assert_eq!(s.fraction_lost, 64); // 25 of 100 = 64/256
    assert!((s.loss_percent() - 17.0).abs() < 1e-9);
    // Nothing new: the next interval has no loss.
    assert_eq!(rx.take_report().fraction_lost, 0);
}

#[test]
fn reordering_loses_nothing() {
    let mut rx = receiver();
    let t0 = Instant::now();
    let mut seqs: Vec<u16> = (0..40).collect();
    for pair in seqs[2..].chunks_mut(2) {
        pair.swap(0, 1);
    }
    feed(&mut rx, t0, 5, 1000, 0, &seqs);
    let s = rx.stats();
    assert_eq!(s.extended_highest_seq, 1039);
    assert_eq!((s.expected, s.received, s.cumulative_lost), (39, 39, 0));
}

#[test]
fn duplicates_make_cumulative_loss_negative() {
    let mut rx = receiver();
    let t0 = Instant::now();
    let seqs = [0, 1, 2, 3, 3, 4, 5, 5, 5, 6];
    feed(&mut rx, t0, 5, 10, 0, &seqs);
    let s = rx.stats();
    assert_eq!(s.expected, 6);
    assert_eq!(s.received, 9);
    assert_eq!(s.cumulative_lost, -3);
    assert_eq!(s.fraction_lost, 0);
    assert_eq!(s.loss_percent(), 0.0);
}

#[test]
fn sequence_wrap_extends_the_highest_number() {
    let mut rx = receiver();
    let t0 = Instant::now();
    let seqs: Vec<u16> = (0..20).collect();
    feed(&mut rx, t0, 5, 65530, 0, &seqs);
    let s = rx.stats();
    assert_eq!(s.extended_highest_seq, 65536 + 13);
    assert_eq!((s.expected, s.cumulative_lost), (19, 0));
}

#[test]
fn timestamp_wrap_adds_no_jitter() {
    let mut rx = receiver();
    let t0 = Instant::now();
    let seqs: Vec<u16> = (0..30).collect();
    feed(&mut rx, t0, 5, 0, u32::MAX - 5 * 160, &seqs);
    assert_eq!(rx.stats().jitter, 0);
}

#[test]
fn jitter_matches_a_hand_computation() {
    let mut rx = receiver();
    let t0 = Instant::now();
    // Timestamps 160 apart; arrivals at 0, 20, 45, 60, 70, 100 ms.
    let arrivals_ms = [0u64, 20, 45, 60, 70, 100];
    for (i, ms) in arrivals_ms.iter().enumerate() {
        let data = packet(1, i as u16, 1000 + 160 * i as u32, PCMA, false, 160);
        rx.on_packet(t0 + Duration::from_millis(*ms), addr(4000), &data)
            .unwrap();
    }
    // Transit (arrival*8 - ts offset): 0, 0, 40, 0, -80, 0 -> |D| = 0, 40, 40, 80, 80.
    // A.8 integer form, J16 += |D| - (J16 + 8) / 16:
    //   0 -> 0 -> 40 -> 40+40-3 = 77 -> 77+80-5 = 152 -> 152+80-10 = 222; J = 222/16 = 13.
    let s = rx.stats();
    assert_eq!(s.jitter, 13);
    // The floating-point form of the same recurrence agrees to within rounding.
    let mut j = 0.0f64;
    for d in [0.0, 40.0, 40.0, 80.0, 80.0] {
        j += (d - j) / 16.0;
    }
    assert!((f64::from(s.jitter) - j).abs() < 1.0, "float {j}");
    assert!((s.jitter_ms() - 13.0 / 8.0).abs() < 1e-9);
}

#[test]
fn dtmf_events_do_not_count_as_jitter() {
    let mut rx = receiver();
    let t0 = Instant::now();
    // Six event packets of one digit share the event's start timestamp.
    for i in 0..6u16 {
        let data = packet(1, i, 5000, EVENT, i == 0, 4);
        rx.on_packet(
            t0 + Duration::from_millis(20 * u64::from(i)),
            addr(4000),
            &data,
        )
        .unwrap();
    }
    assert_eq!(rx.stats().jitter, 0);
    assert_eq!(rx.stats().received, 5);
}

#[test]
fn ssrc_change_starts_fresh_statistics() {
    let mut rx = receiver();
    let t0 = Instant::now();
    let seqs: Vec<u16> = (0..20).filter(|i| *i != 7).collect();
    feed(&mut rx, t0, 0x1111, 500, 0, &seqs);
    assert_eq!(rx.stats().cumulative_lost, 1);
    let later = t0 + Duration::from_secs(1);
    let seqs: Vec<u16> = (0..10).collect();
    feed(&mut rx, later, 0x2222, 40000, 777, &seqs);
    let s = rx.stats();
    assert_eq!(s.ssrc, Some(0x2222));
    assert_eq!(s.extended_highest_seq, 40009);
    assert_eq!((s.expected, s.received, s.cumulative_lost), (9, 9, 0));
    assert_eq!(s.source_changes, 1);
    assert_eq!(s.packets, 29);
}

#[test]
fn sequence_restart_is_confirmed_by_a_second_packet() {
    let mut rx = receiver();
    let t0 = Instant::now();
    feed(&mut rx, t0, 1, 0, 0, &(0..10).collect::<Vec<_>>());
    let now = t0 + Duration::from_millis(200);
    let jump = packet(1, 20000, 1600, PCMA, false, 160);
    assert_eq!(
        rx.on_packet(now, addr(4000), &jump),
        Err(RtpDrop::SequenceJump { seq: 20000 })
    );
    let next = packet(1, 20001, 1760, PCMA, false, 160);
    rx.on_packet(now, addr(4000), &next).unwrap();
    let s = rx.stats();
    assert_eq!(s.extended_highest_seq, 20001);
    assert_eq!((s.expected, s.received), (1, 1));
    assert_eq!(s.drops.sequence_jump, 1);
}

#[test]
fn latches_to_the_first_valid_source_not_the_sdp_hint() {
    let mut rx = RtpReceiver::new(Some(addr(1)));
    rx.set_expected(&[PCMA]);
    assert_eq!(rx.remote(), Some(addr(1)));
    assert!(!rx.is_latched());
    let t0 = Instant::now();
    // A packet with a payload type nobody agreed does not latch.
    let stray = packet(9, 1, 0, 18, false, 20);
    assert_eq!(
        rx.on_packet(t0, addr(666), &stray),
        Err(RtpDrop::UnexpectedPayloadType { payload_type: 18 })
    );
    assert_eq!(rx.remote(), Some(addr(1)));
    rx.on_packet(t0, addr(4000), &packet(1, 1, 0, PCMA, false, 160))
        .unwrap();
    assert_eq!(rx.remote(), Some(addr(4000)));
    assert!(rx.is_latched());
}

#[test]
fn a_stray_sender_cannot_hijack_a_live_call() {
    let mut rx = receiver();
    let t0 = Instant::now();
    rx.on_packet(t0, addr(4000), &packet(1, 1, 0, PCMA, false, 160))
        .unwrap();
    let intruder = packet(2, 1, 0, PCMA, false, 160);
    let at = t0 + Duration::from_millis(900);
    assert_eq!(
        rx.on_packet(at, addr(5000), &intruder),
        Err(RtpDrop::WrongSource { from: addr(5000) })
    );
    // Comfort noise (not agreed) from the latched peer still proves it alive.
    let cn = packet(1, 2, 160, 13, false, 1);
    let at = t0 + Duration::from_millis(1500);
    assert!(rx.on_packet(at, addr(4000), &cn).is_err());
    let at = t0 + Duration::from_millis(2000);
    assert_eq!(
        rx.on_packet(at, addr(5000), &intruder),
        Err(RtpDrop::WrongSource { from: addr(5000) })
    );
    assert_eq!(rx.remote(), Some(addr(4000)));
    assert_eq!(rx.stats().drops.wrong_source, 2);
    assert_eq!(rx.stats().drops.unexpected_payload_type, 1);
}

#[test]
fn relatches_after_a_second_of_silence() {
    let mut rx = receiver();
    let t0 = Instant::now();
    feed(&mut rx, t0, 1, 0, 0, &[0, 1, 2]);
    // The peer's NAT binding changed: same SSRC, new port, after 1.2 s of silence.
    let at = t0 + Duration::from_millis(40 + 1200);
    rx.on_packet(at, addr(4002), &packet(1, 3, 480, PCMA, false, 160))
        .unwrap();
    assert_eq!(rx.remote(), Some(addr(4002)));
    let s = rx.stats();
    assert_eq!(s.relatches, 1);
    // Same source: statistics carry on.
    assert_eq!((s.expected, s.source_changes), (3, 0));
    // And the old address is now the stray one.
    let at = at + Duration::from_millis(20);
    assert_eq!(
        rx.on_packet(at, addr(4000), &packet(1, 4, 640, PCMA, false, 160)),
        Err(RtpDrop::WrongSource { from: addr(4000) })
    );
}

#[test]
fn junk_is_dropped_and_counted() {
    let mut rx = receiver();
    let now = Instant::now();
    let from = addr(4000);
    assert_eq!(
        rx.on_packet(now, from, &[0x80, 8, 0]),
        Err(RtpDrop::TooShort { len: 3 })
    );
    // A STUN binding request starts with two zero bits.
    let stun = [
        0u8, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
    ];
    assert_eq!(
        rx.on_packet(now, from, &stun),
        Err(RtpDrop::NotRtp { version: 0 })
    );
    // Padding flag with a padding length longer than the packet.
    let mut padded = packet(1, 1, 0, PCMA, false, 4);
    padded[0] |= 0x20;
    *padded.last_mut().unwrap() = 200;
    assert_eq!(rx.on_packet(now, from, &padded), Err(RtpDrop::Malformed));
    // Extension flag with no room for the extension header.
    let mut ext = packet(1, 1, 0, PCMA, false, 0);
    ext[0] |= 0x10;
    assert_eq!(rx.on_packet(now, from, &ext), Err(RtpDrop::Malformed));
    let d = rx.stats().drops;
    assert_eq!((d.malformed, d.not_rtp), (3, 1));
    // None of it latched the leg.
    assert!(!rx.is_latched());
}

#[test]
fn any_payload_type_is_accepted_until_sdp_says_otherwise() {
    let mut rx = RtpReceiver::new(None);
    let data = packet(1, 1, 0, 96, false, 10);
    let got = rx.on_packet(Instant::now(), addr(4000), &data);
    assert_eq!(got.map(|r| r.payload_type), Ok(96));
}

#[test]
fn inactivity_counts_from_answer_then_from_the_last_packet() {
    let mut rx = receiver();
    let t0 = Instant::now();
    let timeout = Duration::from_secs(3);
    assert!(!rx.is_inactive(t0 + Duration::from_secs(60), timeout));
    rx.expect_media_from(t0);
    assert!(!rx.is_inactive(t0 + Duration::from_secs(3), timeout));
    assert!(rx.is_inactive(t0 + Duration::from_millis(3001), timeout));
    let at = t0 + Duration::from_secs(4);
    rx.on_packet(at, addr(4000), &packet(1, 1, 0, PCMA, false, 160))
        .unwrap();
    assert_eq!(rx.last_packet(), Some(at));
    assert!(!rx.is_inactive(t0 + Duration::from_secs(6), timeout));
    assert!(rx.is_inactive(t0 + Duration::from_secs(8), timeout));
}

#[test]
fn arbitrary_bytes_never_panic() {
    let mut rx = receiver();
    let now = Instant::now();
    let mut state = 12345u64;
    for len in 0..300usize {
        let data: Vec<u8> = (0..len)
            .map(|_| (super::super::sender::mix64(&mut state) >> 56) as u8)
            .collect();
        let _ = rx.on_packet(now, addr(4000), &data);
        let mut v2 = data.clone();
        if let Some(b) = v2.first_mut() {
            *b = 0x80 | (*b & 0x3f);
        }
        let _ = rx.on_packet(now, addr(4000), &v2);
    }
    let _ = rx.stats();
}
