use super::*;
use crate::media::rtp::sender::mix64;

fn block(ssrc: u32, cumulative_lost: i32) -> ReportBlock {
    ReportBlock {
        ssrc,
        fraction_lost: 25,
        cumulative_lost,
        extended_highest_seq: 0x0001_0010,
        jitter: 37,
        last_sr: 0x1234_5678,
        delay_since_last_sr: 0x0002_8000,
    }
}

fn info() -> SenderInfo {
    SenderInfo {
        ntp: 0xe9b0_1234_8000_0000,
        rtp_timestamp: 123_456,
        packet_count: 500,
        octet_count: 80_000,
    }
}

#[test]
fn sender_report_round_trips() {
    let report = Report {
        ssrc: 0xaaaa_0001,
        sender: Some(info()),
        block: Some(block(0xbbbb_0002, 42)),
        cname: "hotline@node1",
        bye: false,
    };
    let mut out = [0u8; 128];
    let len = report.write(&mut out).unwrap();
    assert_eq!(len, report.encoded_len());
    // SR 52 bytes + SDES (4 + 4 + 2 + 13 + END, padded to 24) = 76.
    assert_eq!(len, 52 + 24);
    assert_eq!(len % 4, 0);
    let all: Vec<_> = packets(&out[..len]).collect::<Result<_, _>>().unwrap();
    assert_eq!(all.len(), 2);
    let RtcpPacket::SenderReport {
        ssrc,
        info: got,
        blocks,
    } = all[0]
    else {
        panic!("{:?}", all[0]);
    };
    assert_eq!(ssrc, 0xaaaa_0001);
    assert_eq!(got, info());
    assert_eq!(blocks.collect::<Vec<_>>(), vec![block(0xbbbb_0002, 42)]);
    assert_eq!(
        all[1],
        RtcpPacket::Other {
            packet_type: PT_SDES
        }
    );
    // The CNAME is in the SDES chunk, followed by a zero END octet.
    assert_eq!(&out[52 + 8..52 + 10], &[SDES_CNAME, 13]);
    assert_eq!(&out[52 + 10..52 + 23], b"hotline@node1");
    assert_eq!(out[52 + 23], 0);
}

#[test]
fn receiver_report_round_trips_with_negative_loss() {
    let report = Report {
        ssrc: 7,
        sender: None,
        block: Some(block(9, -3)),
        cname: "x",
        bye: false,
    };
    let mut out = [0u8; 64];
    let len = report.write(&mut out).unwrap();
    let peer = parse_report(&out[..len], 9).unwrap();
    assert_eq!(peer.ssrc, Some(7));
    assert_eq!(peer.sender, None);
    assert_eq!(peer.about_us, Some(block(9, -3)));
    assert!(!peer.bye);
    // A report about someone else is not about us.
    assert_eq!(parse_report(&out[..len], 10).unwrap().about_us, None);
}

#[test]
fn cumulative_loss_is_clamped_to_24_bits() {
    let report = Report {
        ssrc: 7,
        sender: None,
        block: Some(block(9, 50_000_000)),
        cname: "",
        bye: false,
    };
    let mut out = [0u8; 64];
    let len = report.write(&mut out).unwrap();
    let got = parse_report(&out[..len], 9).unwrap().about_us.unwrap();
    assert_eq!(got.cumulative_lost, 0x7f_ffff);
}

#[test]
fn sdes_is_padded_to_32_bits_for_every_cname_length() {
    for n in 0..12 {
        let cname = "a".repeat(n);
        let report = Report {
            ssrc: 1,
            sender: None,
            block: None,
            cname: &cname,
            bye: true,
        };
        let mut out = [0xffu8; 64];
        let len = report.write(&mut out).unwrap();
        assert_eq!(len % 4, 0, "cname length {n}");
        let kinds: Vec<_> = packets(&out[..len]).collect::<Result<_, _>>().unwrap();
        assert_eq!(kinds.len(), 3, "cname length {n}");
        // The SDES item list ends with at least one zero octet.
        assert_eq!(out[8 + 10 + n], 0, "cname length {n}");
    }
}

#[test]
fn parses_a_hand_written_compound_packet() {
    // SR (1 block about 0x0000_0bee) + SDES + APP from a peer with SSRC 0x1122_3344.
    let mut d = vec![0x81, 200, 0, 12];
    d.extend_from_slice(&0x1122_3344u32.to_be_bytes());
    d.extend_from_slice(&[0xe9, 0xb0, 0, 1, 0x80, 0, 0, 0]); // NTP
    d.extend_from_slice(&16_000u32.to_be_bytes()); // RTP timestamp
    d.extend_from_slice(&100u32.to_be_bytes());
    d.extend_from_slice(&16_000u32.to_be_bytes());
    d.extend_from_slice(&0x0000_0beeu32.to_be_bytes());
    d.extend_from_slice(&[0x40, 0xff, 0xff, 0xfe]); // 25 % lost, cumulative -2
    d.extend_from_slice(&70_000u32.to_be_bytes());
    d.extend_from_slice(&12u32.to_be_bytes());
    d.extend_from_slice(&0xb001_8000u32.to_be_bytes());
    d.extend_from_slice(&0x0000_4000u32.to_be_bytes());
    d.extend_from_slice(&[0x81, 202, 0, 2, 0x11, 0x22, 0x33, 0x44, 1, 1, b'p', 0]);
    d.extend_from_slice(&[
        0x80, 204, 0, 2, 0x11, 0x22, 0x33, 0x44, b'n', b'a', b'm', b'e',
    ]);
    let peer = parse_report(&d, 0x0bee).unwrap();
    assert_eq!(peer.ssrc, Some(0x1122_3344));
    let info = peer.sender.unwrap();
    assert_eq!(info.ntp, 0xe9b0_0001_8000_0000);
    assert_eq!(
        (info.rtp_timestamp, info.packet_count, info.octet_count),
        (16_000, 100, 16_000)
    );
    let b = peer.about_us.unwrap();
    assert_eq!((b.fraction_lost, b.cumulative_lost), (0x40, -2));
    assert_eq!((b.extended_highest_seq, b.jitter), (70_000, 12));
    assert_eq!((b.last_sr, b.delay_since_last_sr), (0xb001_8000, 0x4000));
    let kinds: Vec<_> = packets(&d).map(|p| p.unwrap()).collect();
    assert_eq!(kinds[2], RtcpPacket::Other { packet_type: 204 });
}

#[test]
fn picks_our_block_among_several() {
    let mut d = vec![0x83, 201, 0, 19];
    d.extend_from_slice(&5u32.to_be_bytes());
    for (ssrc, fraction) in [(1u32, 10u8), (2, 20), (3, 30)] {
        d.extend_from_slice(&ssrc.to_be_bytes());
        d.extend_from_slice(&[fraction, 0, 0, 0]);
        d.extend_from_slice(&[0; 16]);
    }
    assert_eq!(
        parse_report(&d, 2).unwrap().about_us.unwrap().fraction_lost,
        20
    );
}

#[test]
fn malformed_packets_are_errors() {
    assert_eq!(parse_report(&[], 1), Err(RtcpError::Truncated { at: 0 }));
    assert_eq!(
        parse_report(&[0x80, 201], 1),
        Err(RtcpError::Truncated { at: 0 })
    );
    assert_eq!(
        parse_report(&[0x40, 201, 0, 1, 0, 0, 0, 1], 1),
        Err(RtcpError::Version { at: 0, version: 1 })
    );
    assert_eq!(
        parse_report(&[0x80, 201, 0, 5, 0, 0, 0, 1], 1),
        Err(RtcpError::Length {
            at: 0,
            claimed: 24,
            left: 8
        })
    );
    // RR claiming one block with no room for it.
    assert_eq!(
        parse_report(&[0x81, 201, 0, 1, 0, 0, 0, 1], 1),
        Err(RtcpError::Blocks {
            at: 0,
            packet_type: 201,
            count: 1
        })
    );
    // SR too short for its sender info.
    assert!(matches!(
        parse_report(&[0x80, 200, 0, 1, 0, 0, 0, 1], 1),
        Err(RtcpError::Blocks { .. })
    ));
    // A good RR followed by garbage: the whole datagram is refused.
    let d = [0x80, 201, 0, 1, 0, 0, 0, 1, 0xff];
    assert_eq!(parse_report(&d, 1), Err(RtcpError::Truncated { at: 8 }));
}

#[test]
fn writing_checks_the_buffer_and_cname() {
    let report = Report {
        ssrc: 1,
        sender: Some(info()),
        block: Some(block(2, 0)),
        cname: "hotline",
        bye: false,
    };
    let mut small = [0u8; 40];
    assert_eq!(
        report.write(&mut small),
        Err(RtcpError::BufferTooSmall {
            need: 52 + 20,
            have: 40
        })
    );
    let long = "n".repeat(256);
    let report = Report {
        cname: &long,
        ..report
    };
    let mut out = [0u8; 400];
    assert_eq!(report.write(&mut out), Err(RtcpError::CnameTooLong(256)));
}

#[test]
fn report_block_from_stats() {
    let stats = RtpStats {
        ssrc: Some(77),
        fraction_lost: 3,
        cumulative_lost: 4,
        extended_highest_seq: 5,
        jitter: 6,
        ..RtpStats::default()
    };
    let b = ReportBlock::from_stats(&stats, 8, 9).unwrap();
    assert_eq!(
        (
            b.ssrc,
            b.fraction_lost,
            b.cumulative_lost,
            b.extended_highest_seq,
            b.jitter,
            b.last_sr,
            b.delay_since_last_sr
        ),
        (77, 3, 4, 5, 6, 8, 9)
    );
    assert_eq!(ReportBlock::from_stats(&RtpStats::default(), 0, 0), None);
}

#[test]
fn random_bytes_never_panic() {
    let mut state = 7u64;
    for len in 0..400usize {
        let mut d: Vec<u8> = (0..len).map(|_| mix64(&mut state) as u8).collect();
        let _ = parse_report(&d, 1);
        if len >= 4 {
            // Make the first header plausible so deeper paths run.
            d[0] = 0x80 | (d[0] & 0x1f);
            d[1] = 200 + (d[1] % 5);
            let words = ((len / 4) as u16).saturating_sub(1);
            d[2..4].copy_from_slice(&words.to_be_bytes());
            let _ = parse_report(&d, 1);
            let _ = packets(&d).count();
        }
    }
}
