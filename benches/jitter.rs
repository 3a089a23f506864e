//! Criterion benchmarks of the per-packet RTP path of one leg: receive check with
//! latching and RFC 3550 statistics, jitter buffer push + pop (in order and with
//! jitter/reordering), packet writing, and one whole 20 ms tick of a leg; plus RTCP
//! report building and parsing. Time is fake (an `Instant` moved on by hand).
//! `cargo bench --bench jitter`; figures go to BENCHMARKS.md.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hotline::media::rtp::rtcp::{Report, ReportBlock, SenderInfo, parse_report};
use hotline::media::rtp::{JitterBuffer, JitterConfig, RtpReceiver, RtpSender};
use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const TICK: Duration = Duration::from_millis(20);

/// A 20 ms PCMA packet with the given sequence number and timestamp.
fn packet(seq: u16, ts: u32) -> [u8; 172] {
    let mut p = [0xd5u8; 172];
    p[0] = 0x80;
    p[1] = 8;
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p[4..8].copy_from_slice(&ts.to_be_bytes());
    p[8..12].copy_from_slice(&0x5eed_u32.to_be_bytes());
    p
}

fn receiver() -> RtpReceiver {
    let mut rx = RtpReceiver::new(None);
    rx.set_expected(&[8, 101]);
    rx.set_event_payload_type(Some(101));
    rx
}

fn rtp(c: &mut Criterion) {
    let from = SocketAddr::from(([192, 0, 2, 1], 4000));
    let mut group = c.benchmark_group("rtp");
    group.throughput(Throughput::Elements(1));

    group.bench_function("receive_packet", |b| {
        let mut rx = receiver();
        let mut now = Instant::now();
        let mut seq = 0u16;
        b.iter(|| {
            let p = packet(seq, u32::from(seq) * 160);
            seq = seq.wrapping_add(1);
            now += TICK;
            black_box(rx.on_packet(now, from, black_box(&p)).is_ok())
        })
    });

    group.bench_function("send_packet", |b| {
        let mut tx = RtpSender::new(1);
        let payload = [0xd5u8; 160];
        let mut out = [0u8; 1500];
        b.iter(|| black_box(tx.write(8, false, 160, black_box(&payload), &mut out)))
    });

    group.bench_function("jitter_push_pop_in_order", |b| {
        let mut rx = receiver();
        let mut jb = JitterBuffer::new(JitterConfig::default());
        let mut now = Instant::now();
        let mut seq = 0u16;
        b.iter(|| {
            let p = packet(seq, u32::from(seq).wrapping_mul(160));
            seq = seq.wrapping_add(1);
            now += TICK;
            if let Ok(pkt) = rx.on_packet(now, from, &p) {
                jb.push(&pkt, now);
            }
            black_box(jb.pop(now + Duration::from_millis(7)));
        })
    });

    group.bench_function("jitter_push_pop_jittery", |b| {
        let mut rx = receiver();
        let mut jb = JitterBuffer::new(JitterConfig::default());
        let start = Instant::now();
        let mut tick = 0u64;
        let mut state = 42u64;
        b.iter(|| {
            // Packets swap in pairs and arrive 0-40 ms late.
            let k = tick ^ 1;
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let arrival = start + TICK * tick as u32 + Duration::from_micros(state % 40_000);
            let p = packet(k as u16, (k as u32).wrapping_mul(160));
            if let Ok(pkt) = rx.on_packet(arrival, from, &p) {
                jb.push(&pkt, arrival);
            }
            tick += 1;
            black_box(jb.pop(start + TICK * tick as u32));
        })
    });

    // One leg's whole tick: receive a packet, buffer it, play a frame, send a frame.
    group.bench_function("leg_tick", |b| {
        let mut rx = receiver();
        let mut tx = RtpSender::new(2);
        let mut jb = JitterBuffer::new(JitterConfig::default());
        let payload = [0xd5u8; 160];
        let mut out = [0u8; 1500];
        let mut now = Instant::now();
        let mut seq = 0u16;
        b.iter(|| {
            let p = packet(seq, u32::from(seq).wrapping_mul(160));
            seq = seq.wrapping_add(1);
            now += TICK;
            if let Ok(pkt) = rx.on_packet(now, from, &p) {
                jb.push(&pkt, now);
            }
            black_box(jb.pop(now));
            black_box(tx.write(8, false, 160, &payload, &mut out))
        })
    });
    group.finish();
}

fn rtcp(c: &mut Criterion) {
    let mut group = c.benchmark_group("rtcp");
    let report = Report {
        ssrc: 1,
        sender: Some(SenderInfo {
            ntp: 0xe9b0_0000_8000_0000,
            rtp_timestamp: 160_000,
            packet_count: 1000,
            octet_count: 160_000,
        }),
        block: Some(ReportBlock {
            ssrc: 2,
            fraction_lost: 3,
            cumulative_lost: 12,
            extended_highest_seq: 70_000,
            jitter: 40,
            last_sr: 0x1234_5678,
            delay_since_last_sr: 0x8000,
        }),
        cname: "hotline@node1",
        bye: false,
    };
    let mut out = [0u8; 256];
    let len = report.write(&mut out).unwrap_or(0);
    group.bench_function("build_sr", |b| {
        let mut buf = [0u8; 256];
        b.iter(|| black_box(black_box(&report).write(&mut buf)))
    });
    group.bench_function("parse_sr", |b| {
        b.iter(|| black_box(parse_report(black_box(&out[..len]), 2)))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = rtp, rtcp
}
criterion_main!(benches);
