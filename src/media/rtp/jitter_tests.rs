use super::*;
use crate::media::rtp::sender::mix64;
use std::time::{Duration, Instant};

/// A packet of a synthetic stream: arrival time and header fields. Its payload bytes
/// name the 20 ms frame each sample belongs to (relative to the stream start), so the
/// output order can be checked.
#[derive(Debug, Clone)]
struct Pkt {
    at_us: u64,
    ssrc: u32,
    seq: u16,
    ts: u32,
    marker: bool,
    /// Timestamp relative to the stream's first, for the payload content.
    rel: u32,
    len: usize,
}

/// What came out of one tick; `Audio` carries the frame number its bytes name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Out {
    Audio(u32),
    Missing,
    Empty,
}

fn content(rel_sample: u32) -> u8 {
    // Never 0 (the fill byte without a codec) and never quiet.
    (rel_sample / 160 % 200 + 30) as u8
}

fn frame_number(byte: u8) -> u32 {
    u32::from(byte) - 30
}

fn config() -> JitterConfig {
    JitterConfig {
        codec: None,
        ..JitterConfig::default()
    }
}

/// `n` packets of `len` samples, one every `len / 8` ms, starting at `start_us`.
fn stream(ssrc: u32, seq0: u16, ts0: u32, n: usize, len: usize, start_us: u64) -> Vec<Pkt> {
    (0..n)
        .map(|i| {
            let rel = (i * len) as u32;
            Pkt {
                at_us: start_us + (i * len) as u64 * 125,
                ssrc,
                seq: seq0.wrapping_add(i as u16),
                ts: ts0.wrapping_add(rel),
                marker: i == 0,
                rel,
                len,
            }
        })
        .collect()
}

/// Pushes packets as their arrival time passes and pops once per 20 ms tick (at
/// `phase_us` into each tick) for `ticks` ticks.
fn run(
    jb: &mut JitterBuffer,
    t0: Instant,
    packets: &[Pkt],
    ticks: usize,
    phase_us: u64,
) -> Vec<Out> {
    let mut packets = packets.to_vec();
    packets.sort_by_key(|p| p.at_us);
    let mut next = 0;
    let mut out = Vec::with_capacity(ticks);
    let mut buf = [0u8; MAX_PACKET_SAMPLES];
    for k in 0..ticks as u64 {
        let now_us = phase_us + k * 20_000;
        while next < packets.len() && packets[next].at_us <= now_us {
            let p = &packets[next];
            for (i, b) in buf[..p.len].iter_mut().enumerate() {
                *b = content(p.rel + i as u32);
            }
            let rx = Received {
                ssrc: p.ssrc,
                seq: p.seq,
                timestamp: p.ts,
                marker: p.marker,
                payload_type: 8,
                payload: &buf[..p.len],
            };
            jb.push(&rx, t0 + Duration::from_micros(p.at_us));
            next += 1;
        }
        out.push(match jb.pop(t0 + Duration::from_micros(now_us)) {
            Frame::Audio(bytes) => {
                assert_eq!(bytes.len(), FRAME_SAMPLES);
                assert!(
                    bytes.iter().all(|&b| b == bytes[0]),
                    "mixed frame {bytes:?}"
                );
                Out::Audio(frame_number(bytes[0]))
            }
            Frame::Missing => Out::Missing,
            Frame::Empty => Out::Empty,
        });
    }
    out
}

/// The frame numbers played, in order.
fn played(out: &[Out]) -> Vec<u32> {
    out.iter()
        .filter_map(|o| match o {
            Out::Audio(n) => Some(*n),
            _ => None,
        })
        .collect()
}

fn in_order(frames: &[u32]) -> bool {
    frames.windows(2).all(|w| w[1] == (w[0] + 1) % 200)
}

#[test]
fn in_order_stream_plays_every_frame_after_the_initial_delay() {
    let mut jb = JitterBuffer::new(config());
    let t0 = Instant::now();
    let packets = stream(1, 100, 5000, 200, 160, 0);
    let out = run(&mut jb, t0, &packets, 150, 5_000);
    // 40 ms initial delay: ticks at 5 and 25 ms are silence, frame 0 plays at 45 ms.
    assert_eq!(&out[..3], &[Out::Empty, Out::Empty, Out::Audio(0)]);
    let frames = played(&out);
    assert_eq!(frames.len(), 148);
    assert!(in_order(&frames));
    let s = jb.stats();
    assert_eq!(
        (s.lost, s.late, s.concealed, s.duplicates, s.skipped),
        (0, 0, 0, 0, 0)
    );
    assert_eq!(s.delay_ms, 45);
    assert_eq!(s.packet_samples, 160);
    // Without jitter the target settles on the 20 ms floor.
    assert_eq!(s.target_ms, 20);
    // The stream ends: the last frames play, a short concealment, then silence.
    let out = run_more(&mut jb, t0, &packets, 150, 60, 5_000);
    assert_eq!(played(&out).len(), 52);
    assert_eq!(out.last(), Some(&Out::Empty));
    assert_eq!((jb.stats().lost, jb.stats().concealed), (0, 3));
}

#[test]
fn packetisations_from_10_to_60_ms_become_20_ms_frames() {
    for len in [80usize, 160, 240, 320, 480] {
        let mut jb = JitterBuffer::new(config());
        let t0 = Instant::now();
        let n = 240 * 160 / len;
        let out = run(&mut jb, t0, &stream(1, 0, 0, n, len, 0), 260, 5_000);
        let frames = played(&out);
        assert_eq!(frames.len(), 240, "{len}-sample packets");
        assert!(in_order(&frames), "{len}-sample packets");
        let s = jb.stats();
        assert_eq!(
            (s.lost, s.late, s.partial),
            (0, 0, 0),
            "{len}-sample packets"
        );
        assert_eq!(s.packet_samples, len as u32);
    }
}

#[test]
fn reordered_packets_play_in_order() {
    let mut jb = JitterBuffer::new(config());
    let t0 = Instant::now();
    let mut packets = stream(1, 0, 0, 100, 160, 0);
    // Every pair swaps: the earlier packet arrives 25 ms late, after its successor.
    for p in packets.iter_mut().skip(2).step_by(2) {
        p.at_us += 25_000;
    }
    let out = run(&mut jb, t0, &packets, 130, 5_000);
    let frames = played(&out);
    assert_eq!(frames.len(), 100);
    assert!(in_order(&frames));
    assert_eq!((jb.stats().lost, jb.stats().late), (0, 0));
}

#[test]
fn duplicates_are_counted_and_played_once() {
    let mut jb = JitterBuffer::new(config());
    let t0 = Instant::now();
    let mut packets = stream(1, 0, 0, 50, 160, 0);
    let copies: Vec<Pkt> = packets
        .iter()
        .map(|p| Pkt {
            at_us: p.at_us + 3_000,
            ..p.clone()
        })
        .collect();
    packets.extend(copies);
    let out = run(&mut jb, t0, &packets, 60, 5_000);
    let frames = played(&out);
    assert_eq!(frames.len(), 50);
    assert!(in_order(&frames));
    assert_eq!(jb.stats().duplicates, 50);
}

#[test]
fn lost_packets_are_concealed_in_place() {
    let mut jb = JitterBuffer::new(config());
    let t0 = Instant::now();
    let packets: Vec<Pkt> = stream(1, 0, 0, 60, 160, 0)
        .into_iter()
        .filter(|p| p.seq != 10 && p.seq != 20 && p.seq != 21)
        .collect();
    let out = run(&mut jb, t0, &packets, 62, 5_000);
    let talk: Vec<Out> = out.into_iter().skip_while(|o| *o == Out::Empty).collect();
    assert_eq!(talk[9], Out::Audio(9));
    assert_eq!(talk[10], Out::Missing);
    assert_eq!(talk[11], Out::Audio(11));
    assert_eq!(&talk[20..22], &[Out::Missing, Out::Missing]);
    assert_eq!(talk[22], Out::Audio(22));
    let s = jb.stats();
    assert_eq!((s.lost, s.concealed, s.late), (3, 3, 0));
}

#[test]
fn a_late_packet_is_dropped_counted_and_raises_the_target() {
    let mut jb = JitterBuffer::new(config());
    let t0 = Instant::now();
    let mut packets = stream(1, 0, 0, 100, 160, 0);
    packets[50].at_us += 150_000;
    let out = run(&mut jb, t0, &packets, 49, 5_000);
    assert!(in_order(&played(&out)));
    let before = jb.stats().target_ms;
    let out = run_more(&mut jb, t0, &packets, 49, 60, 5_000);
    assert!(out.contains(&Out::Missing));
    let s = jb.stats();
    assert_eq!(s.late, 1);
    assert!(
        s.target_ms >= 150,
        "target {} ms (was {before} ms)",
        s.target_ms
    );
    assert!(s.target_ms <= 200);
}

/// Like [`run`] but starts at tick `from` (packets already pushed are skipped).
fn run_more(
    jb: &mut JitterBuffer,
    t0: Instant,
    packets: &[Pkt],
    from: u64,
    ticks: usize,
    phase_us: u64,
) -> Vec<Out> {
    let start_us = phase_us + (from - 1) * 20_000;
    let rest: Vec<Pkt> = packets
        .iter()
        .filter(|p| p.at_us > start_us)
        .cloned()
        .collect();
    let shifted: Vec<Pkt> = rest
        .into_iter()
        .map(|p| Pkt {
            at_us: p.at_us - from * 20_000,
            ..p
        })
        .collect();
    let t1 = t0 + Duration::from_micros(from * 20_000);
    run(jb, t1, &shifted, ticks, phase_us)
}

#[test]
fn sequence_and_timestamp_wrap_are_seamless() {
    let mut jb = JitterBuffer::new(config());
    let t0 = Instant::now();
    let packets = stream(1, 65500, u32::MAX - 3000, 100, 160, 0);
    let out = run(&mut jb, t0, &packets, 105, 5_000);
    let frames = played(&out);
    assert_eq!(frames.len(), 100);
    assert!(in_order(&frames));
    let s = jb.stats();
    assert_eq!((s.lost, s.late, s.spurts), (0, 0, 1));
}

#[test]
fn ssrc_change_resets_and_plays_the_new_source() {
    let mut jb = JitterBuffer::new(config());
    let t0 = Instant::now();
    let mut packets = stream(1, 0, 0, 50, 160, 0);
    // The trunk switches media servers: new SSRC, sequence and timestamp base.
    packets.extend(stream(2, 31000, 77_777_777, 50, 160, 1_000_000));
    let out = run(&mut jb, t0, &packets, 110, 5_000);
    let frames = played(&out);
    assert_eq!(frames.len(), 100);
    assert!(in_order(&frames[..50]) && in_order(&frames[50..]));
    assert_eq!(frames[50], 0);
    let s = jb.stats();
    assert_eq!((s.resets, s.lost, s.late), (1, 0, 0));
}

#[test]
fn silence_between_talkspurts_is_not_loss() {
    for marker in [true, false] {
        let mut jb = JitterBuffer::new(config());
        let t0 = Instant::now();
        let mut packets = stream(1, 0, 0, 50, 160, 0);
        // The sender stops for 1 s (DTX) and resumes with the next sequence number and a
        // timestamp 1 s on; the marker bit may or may not be set.
        let mut second = stream(1, 50, 50 * 160 + 8000, 50, 160, 2_000_000);
        second[0].marker = marker;
        for p in &mut second {
            p.rel += 50 * 160;
        }
        packets.extend(second);
        let out = run(&mut jb, t0, &packets, 160, 5_000);
        let frames = played(&out);
        assert_eq!(frames.len(), 100, "marker {marker}");
        assert!(in_order(&frames), "marker {marker}");
        let s = jb.stats();
        assert_eq!((s.lost, s.late), (0, 0), "marker {marker}");
        assert_eq!(s.spurts, 2, "marker {marker}");
        // At the end of the first spurt: a short concealment, then silence.
        let gap: Vec<Out> = out
            .iter()
            .skip_while(|o| **o != Out::Audio(49))
            .skip(1)
            .take(5)
            .copied()
            .collect();
        assert_eq!(
            gap,
            [
                Out::Missing,
                Out::Missing,
                Out::Missing,
                Out::Empty,
                Out::Empty
            ]
        );
    }
}

#[test]
fn a_timestamp_jump_starts_a_new_spurt_instead_of_mass_loss() {
    let mut jb = JitterBuffer::new(config());
    let t0 = Instant::now();
    let mut packets = stream(1, 0, 0, 50, 160, 0);
    let mut jumped = stream(1, 50, 3_000_000_000, 50, 160, 1_000_000);
    for p in &mut jumped {
        p.marker = false;
        p.rel += 50 * 160;
    }
    packets.extend(jumped);
    let out = run(&mut jb, t0, &packets, 110, 5_000);
    let frames = played(&out);
    assert_eq!(frames.len(), 100);
    assert!(in_order(&frames));
    let s = jb.stats();
    assert_eq!((s.lost, s.late, s.spurts), (0, 0, 2));
}

#[test]
fn a_delay_spike_loses_no_audio() {
    let mut jb = JitterBuffer::new(config());
    let t0 = Instant::now();
    let mut packets = stream(1, 0, 0, 150, 160, 0);
    // From packet 50 the network holds everything until 1.3 s, then releases the queue.
    for p in &mut packets[50..] {
        p.at_us = p.at_us.max(1_300_000 + u64::from(p.seq - 50) * 100);
    }
    let out = run(&mut jb, t0, &packets, 180, 5_000);
    let frames = played(&out);
    assert_eq!(frames.len(), 150);
    assert!(in_order(&frames));
    assert_eq!(jb.stats().late, 0);
}

#[test]
fn an_outage_does_not_replay_as_a_long_concealment() {
    let mut jb = JitterBuffer::new(config());
    let t0 = Instant::now();
    // 400 ms of packets lost outright; the stream resumes where it would have been.
    let packets: Vec<Pkt> = stream(1, 0, 0, 100, 160, 0)
        .into_iter()
        .filter(|p| !(40..60).contains(&p.seq))
        .collect();
    let out = run(&mut jb, t0, &packets, 102, 5_000);
    let missing = out.iter().filter(|o| **o == Out::Missing).count();
    assert!(missing <= 3, "{missing} concealed frames");
    let frames = played(&out);
    assert_eq!(frames.len(), 80);
    assert!(in_order(&frames[..40]) && in_order(&frames[40..]));
    assert_eq!(frames[40], 60);
}

/// Packets every 20 ms with a seeded random network delay in `0..max_us`.
fn jittery(n: usize, max_us: u64, seed: u64, start_us: u64, seq0: u16, ts0: u32) -> Vec<Pkt> {
    let mut state = seed;
    let mut packets = stream(7, seq0, ts0, n, 160, start_us);
    for p in &mut packets {
        p.marker = seq0 == 0 && p.seq == 0;
        p.rel = p.ts.wrapping_sub(0);
        p.at_us += mix64(&mut state) % max_us;
    }
    packets
}

#[test]
fn target_follows_jitter_up_fast_and_down_slowly() {
    let mut jb = JitterBuffer::new(JitterConfig::default());
    let t0 = Instant::now();
    // 20 s with up to 60 ms of random delay.
    let packets = jittery(1000, 60_000, 42, 0, 0, 0);
    let out = run(&mut jb, t0, &packets, 1010, 7_000);
    let s = jb.stats();
    let late_pct = s.late as f64 * 100.0 / 1000.0;
    assert!(late_pct < 2.0, "late {late_pct}% stats {s:?}");
    assert!(
        (60..=140).contains(&s.target_ms),
        "target {} ms",
        s.target_ms
    );
    assert!(played(&out).len() >= 970);
    let jittery_target = s.target_ms;

    // Then 20 s of a calm network: the target comes down, but not at once.
    let t1 = t0 + Duration::from_secs(21);
    let calm = stream(7, 1000, 1000 * 160, 1000, 160, 0);
    let out = run(&mut jb, t1, &calm[..50], 50, 7_000);
    assert!(
        jb.stats().target_ms >= jittery_target / 2,
        "dropped too fast: {:?}",
        jb.stats()
    );
    let _ = out;
    let out = run_more(&mut jb, t1, &calm, 50, 950, 7_000);
    let s = jb.stats();
    assert!(s.target_ms <= 40, "target {} ms", s.target_ms);
    assert!(played(&out).len() >= 900);
}

#[test]
fn excess_delay_shrinks_on_quiet_frames() {
    let mut jb = JitterBuffer::new(JitterConfig::default());
    let t0 = Instant::now();
    // A 200 ms delay spike early on, then a steady stream of PCMA silence (0xd5).
    let mut packets = stream(1, 0, 0, 500, 160, 0);
    for p in &mut packets[20..] {
        p.at_us = p.at_us.max(800_000 + u64::from(p.seq - 20) * 100);
    }
    let buf = [0xd5u8; 160];
    let mut next = 0;
    let mut max_delay = 0;
    let mut last = jb.stats();
    for k in 0..520u64 {
        let now_us = 7_000 + k * 20_000;
        while next < packets.len() && packets[next].at_us <= now_us {
            let p = &packets[next];
            let rx = Received {
                ssrc: 1,
                seq: p.seq,
                timestamp: p.ts,
                marker: p.marker,
                payload_type: 8,
                payload: &buf,
            };
            jb.push(&rx, t0 + Duration::from_micros(p.at_us));
            next += 1;
        }
        if let Frame::Audio(_) = jb.pop(t0 + Duration::from_micros(now_us)) {
            max_delay = max_delay.max(jb.stats().delay_ms);
            last = jb.stats();
        }
    }
    let s = last;
    assert!(
        max_delay >= 150,
        "the spike should have added delay: {max_delay}"
    );
    assert!(s.skipped > 0);
    assert!(s.delay_ms <= s.target_ms + 40, "{s:?}");
}

#[test]
fn partial_frames_are_filled_with_silence() {
    let mut jb = JitterBuffer::new(JitterConfig::default());
    let t0 = Instant::now();
    // 10 ms packets; the second half of frame 3 is lost.
    let payload = [0x2au8; 80];
    let mut saw_partial = false;
    for i in 0..40u16 {
        let now = t0 + Duration::from_millis(10 * u64::from(i));
        if i != 7 {
            let rx = Received {
                ssrc: 1,
                seq: i,
                timestamp: u32::from(i) * 80,
                marker: false,
                payload_type: 8,
                payload: &payload,
            };
            jb.push(&rx, now);
        }
        if i % 2 == 0 {
            continue;
        }
        if let Frame::Audio(bytes) = jb.pop(now + Duration::from_millis(5))
            && bytes[80..].iter().all(|&b| b == 0xd5)
        {
            assert!(bytes[..80].iter().all(|&b| b == 0x2a));
            saw_partial = true;
        }
    }
    assert!(saw_partial);
    assert_eq!(jb.stats().partial, 1);
}

#[test]
fn keepalives_and_oversized_packets_are_refused() {
    let mut jb = JitterBuffer::new(config());
    let now = Instant::now();
    let big = [0u8; MAX_PACKET_SAMPLES + 1];
    let mk = |payload| Received {
        ssrc: 1,
        seq: 1,
        timestamp: 0,
        marker: false,
        payload_type: 8,
        payload,
    };
    assert_eq!(jb.push(&mk(&[]), now), Pushed::NoPayload);
    assert_eq!(jb.push(&mk(&big), now), Pushed::Oversized);
    assert_eq!(jb.pop(now), Frame::Empty);
    assert_eq!(jb.stats().oversized, 1);
}

#[test]
fn before_any_packet_and_after_reset_the_buffer_is_empty() {
    let mut jb = JitterBuffer::new(config());
    let t0 = Instant::now();
    assert_eq!(jb.pop(t0), Frame::Empty);
    let out = run(&mut jb, t0, &stream(1, 0, 0, 10, 160, 0), 5, 5_000);
    assert!(out.contains(&Out::Audio(0)));
    jb.reset();
    assert_eq!(jb.pop(t0 + Duration::from_millis(105)), Frame::Empty);
    assert_eq!(jb.stats().buffered_ms, 0);
}

#[test]
fn random_input_never_panics() {
    let mut jb = JitterBuffer::new(JitterConfig::default());
    let t0 = Instant::now();
    let mut state = 99u64;
    let payload = [0x55u8; MAX_PACKET_SAMPLES];
    let mut now = t0;
    for _ in 0..20_000 {
        let r = mix64(&mut state);
        now += Duration::from_micros(r % 30_000);
        if r & 1 == 0 {
            let rx = Received {
                ssrc: (r >> 8) as u32 % 3,
                seq: (r >> 16) as u16 % 512,
                timestamp: if r & 2 == 0 {
                    (r >> 24) as u32
                } else {
                    ((r >> 40) as u32 % 512) * 160
                },
                marker: r & 4 != 0,
                payload_type: 8,
                payload: &payload[..(r >> 50) as usize % (MAX_PACKET_SAMPLES + 1)],
            };
            jb.push(&rx, now);
        } else {
            let _ = jb.pop(now);
        }
    }
    let s = jb.stats();
    assert!(s.target_ms >= 20 && s.target_ms <= 200);
}
