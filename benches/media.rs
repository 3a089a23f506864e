//! Criterion benchmarks of the media hot path, per 20 ms frame (160 samples at 8 kHz):
//! G.711 encode/decode (table vs. computed reference), in-band DTMF detection, and
//! RFC 4733 event packets, and the Opus transcoder of browser legs that take only Opus.
//! `cargo bench --bench media`; figures go to BENCHMARKS.md.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hotline::media::dtmf::{DtmfReceiver, DtmfSender, InbandDetector};
use hotline::media::g711;
use hotline::media::opus::{OpusTranscoder, TICKS_PER_FRAME};
use hotline::sdp::Codec;
use std::hint::black_box;

const FRAME: usize = 160;

/// A 20 ms frame of a loud two-tone signal: every segment of both laws gets used.
fn speechy_frame() -> [i16; FRAME] {
    speechy_frame_at(0)
}

fn speechy_frame_at(frame_no: usize) -> [i16; FRAME] {
    let mut pcm = [0i16; FRAME];
    for (i, s) in pcm.iter_mut().enumerate() {
        let t = (frame_no * FRAME + i) as f32 / 8000.0;
        let v = 12000.0 * (2.0 * std::f32::consts::PI * 440.0 * t).sin()
            + 6000.0 * (2.0 * std::f32::consts::PI * 1330.0 * t).sin();
        *s = v as i16;
    }
    pcm
}

fn g711(c: &mut Criterion) {
    let pcm = speechy_frame();
    let mut group = c.benchmark_group("g711");
    group.throughput(Throughput::Elements(FRAME as u64));
    for codec in Codec::ALL {
        let name = codec.name();
        let mut payload = [0u8; FRAME];
        g711::encode(codec, &pcm, &mut payload);
        group.bench_function(format!("{name}/encode_frame"), |b| {
            let mut out = [0u8; FRAME];
            b.iter(|| g711::encode(codec, black_box(&pcm), &mut out))
        });
        group.bench_function(format!("{name}/decode_frame"), |b| {
            let mut out = [0i16; FRAME];
            b.iter(|| g711::decode(codec, black_box(&payload), &mut out))
        });
        // The arithmetic reference the encode tables are built from, for comparison.
        let reference: fn(i16) -> u8 = match codec {
            Codec::Pcmu => g711::linear_to_ulaw_ref,
            Codec::Pcma => g711::linear_to_alaw_ref,
        };
        group.bench_function(format!("{name}/encode_frame_computed"), |b| {
            let mut out = [0u8; FRAME];
            b.iter(|| {
                for (o, &s) in out.iter_mut().zip(black_box(&pcm)) {
                    *o = reference(s);
                }
                black_box(&out);
            })
        });
    }
    group.finish();
}

/// One second of audio: `f(sample index)` per sample.
fn second(f: impl Fn(f32) -> f32) -> Vec<i16> {
    (0..8000).map(|i| f(i as f32 / 8000.0) as i16).collect()
}

fn inband(c: &mut Criterion) {
    use std::f32::consts::PI;
    // Speech-like: harmonics of 150 Hz under a vowel envelope; a held key (5); silence.
    let speech = second(|t| {
        (1..20)
            .map(|h| {
                let f = 150.0 * h as f32;
                let env = 1.0 / (1.0 + ((f - 700.0) / 150.0).powi(2))
                    + 0.5 / (1.0 + ((f - 1200.0) / 150.0).powi(2));
                3000.0 * env * (2.0 * PI * f * t).sin()
            })
            .sum()
    });
    let key =
        second(|t| 4000.0 * (2.0 * PI * 770.0 * t).sin() + 4000.0 * (2.0 * PI * 1336.0 * t).sin());
    let silence = vec![0i16; 8000];
    let mut group = c.benchmark_group("dtmf_inband");
    group.throughput(Throughput::Elements(FRAME as u64));
    for (name, audio) in [("speech", &speech), ("key", &key), ("silence", &silence)] {
        group.bench_function(format!("detect_frame/{name}"), |b| {
            let mut det = InbandDetector::new(8000);
            let mut frames = audio.chunks_exact(FRAME).cycle();
            b.iter(|| det.push(black_box(frames.next().unwrap_or(&[]))))
        });
    }
    group.finish();
}

fn rfc4733(c: &mut Criterion) {
    let mut group = c.benchmark_group("dtmf_rfc4733");
    // One press as the receiver sees it: start, updates, three ends (9 packets).
    group.bench_function("receive_press", |b| {
        let mut rx = DtmfReceiver::new();
        let mut ts = 0u32;
        let mut seq = 0u16;
        b.iter(|| {
            ts = ts.wrapping_add(1600);
            let mut found = None;
            for i in 0..9u16 {
                let end = i >= 6;
                let duration = (160 * (i.min(5) + 1)).to_be_bytes();
                let payload = [5, if end { 0x8A } else { 0x0A }, duration[0], duration[1]];
                seq = seq.wrapping_add(1);
                found = found.or(rx.on_packet(7, seq, ts, i == 0, black_box(&payload)));
            }
            found
        })
    });
    group.bench_function("send_press", |b| {
        let mut tx = DtmfSender::new(8000);
        let mut now = 0u32;
        b.iter(|| {
            tx.start('5', 100, 10).ok();
            let mut packets = 0;
            while tx.is_active() {
                now = now.wrapping_add(160);
                packets += usize::from(tx.next_packet(black_box(now)).is_some());
            }
            packets
        })
    });
    group.finish();
}

/// Opus per 20 ms frame: encoding our 8 kHz frame at complexities 0–3 (what
/// `[media] opus_complexity` trades; 3 is the default) and libopus' default 9 for
/// comparison, and decoding a packet back to 8 kHz.
fn opus(c: &mut Criterion) {
    let frames: Vec<[i16; FRAME]> = (0..50).map(speechy_frame_at).collect();
    let mut group = c.benchmark_group("opus");
    group.throughput(Throughput::Elements(FRAME as u64));
    for complexity in [0, 1, 2, 3, 9] {
        let mut t = OpusTranscoder::with_complexity(complexity).unwrap();
        let mut i = 0;
        group.bench_function(format!("encode_frame/complexity_{complexity}"), |b| {
            b.iter(|| {
                i = (i + 1) % frames.len();
                black_box(t.encode(black_box(&frames[i])).unwrap())
            })
        });
    }
    let mut enc = OpusTranscoder::new().unwrap();
    let packets: Vec<Vec<u8>> = frames.iter().map(|f| enc.encode(f).unwrap()).collect();
    let mut t = OpusTranscoder::new().unwrap();
    let (mut i, mut rtp) = (0, 0u64);
    let mut out = Vec::with_capacity(FRAME * 4);
    group.bench_function("decode_frame", |b| {
        b.iter(|| {
            i = (i + 1) % packets.len();
            rtp += TICKS_PER_FRAME;
            out.clear();
            black_box(t.decode(rtp, black_box(&packets[i]), &mut out))
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(2));
    targets = g711, inband, rfc4733, opus
}
criterion_main!(benches);
