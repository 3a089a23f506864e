//! Opus (RFC 6716, RTP per RFC 7587) to and from our 8 kHz frames, for browser legs that
//! only take Opus. libopus converts the rate itself: the encoder takes 8 kHz input and the
//! decoder renders 8 kHz output from any Opus stream, so no resampler of ours is in the
//! path. The RTP clock of Opus is 48 kHz whatever the audio's rate.

use crate::media::bridge::{FRAME, Frame};
use opus::{Application, Bitrate, Channels, Decoder, Encoder, Signal};

/// RTP timestamp ticks in one 20 ms frame (48 kHz clock).
pub const TICKS_PER_FRAME: u64 = 960;
/// Largest Opus packet we produce; libopus needs a bound.
const MAX_PACKET: usize = 400;
/// The longest gap we conceal (100 ms); beyond that the stream restarted or the peer was
/// silent on purpose, and inventing audio would only delay what comes next.
const MAX_CONCEALED_FRAMES: u64 = 5;
/// Longest Opus packet a decoder may meet: 120 ms at 8 kHz.
const MAX_DECODED: usize = 960;

/// Encoder settings. The trunk side is G.711, so there is nothing above 4 kHz to keep:
/// the CELT-only mode (`LowDelay`) at 24 kbit/s carries that narrowband speech, and it
/// costs half of SILK's (`Voip`) CPU — per 20 ms frame 17 µs against 43 µs at complexity 3,
/// 11 against 22 µs at 0 (`cargo bench --bench media -- opus`, BENCHMARKS.md §12). CELT has
/// no in-band FEC; what we decode from browsers (SILK with FEC) still uses theirs.
const BITRATE: i32 = 24_000;
pub const COMPLEXITY: u8 = 3;

#[derive(Debug, thiserror::Error)]
pub enum OpusError {
    #[error("libopus could not be set up: {0}")]
    Setup(opus::Error),
    #[error("Opus encoding failed: {0}")]
    Encode(opus::Error),
}

pub struct OpusTranscoder {
    encoder: Encoder,
    decoder: Decoder,
    /// RTP time (48 kHz ticks) the next packet from the peer should carry.
    expected: Option<u64>,
    decoded: Vec<i16>,
}

impl OpusTranscoder {
    pub fn new() -> Result<OpusTranscoder, OpusError> {
        Self::with_complexity(COMPLEXITY)
    }

    /// libopus complexity 0–10 (`[media] opus_complexity`; `new` takes the default).
    pub fn with_complexity(complexity: u8) -> Result<OpusTranscoder, OpusError> {
        let mut encoder =
            Encoder::new(8000, Channels::Mono, Application::LowDelay).map_err(OpusError::Setup)?;
        encoder
            .set_bitrate(Bitrate::Bits(BITRATE))
            .and_then(|_| encoder.set_complexity(i32::from(complexity.min(10))))
            .and_then(|_| encoder.set_signal(Signal::Voice))
            .map_err(OpusError::Setup)?;
        let decoder = Decoder::new(8000, Channels::Mono).map_err(OpusError::Setup)?;
        Ok(OpusTranscoder {
            encoder,
            decoder,
            expected: None,
            decoded: vec![0; MAX_DECODED],
        })
    }

    /// One 20 ms frame of ours as one Opus packet.
    pub fn encode(&mut self, frame: &Frame) -> Result<Vec<u8>, OpusError> {
        self.encoder
            .encode_vec(frame, MAX_PACKET)
            .map_err(OpusError::Encode)
    }

    /// Decodes one packet that carried RTP time `rtp_time` (48 kHz ticks) and appends the
    /// 8 kHz audio to `out`. A gap before it is filled first: concealment for all but the
    /// last missing frame, and that one from the packet's in-band FEC. A late packet (its
    /// time already concealed) is dropped. A packet libopus refuses is treated as lost, so
    /// a corrupt datagram costs 20 ms of concealed audio and never the call.
    /// Returns the number of samples appended.
    pub fn decode(&mut self, rtp_time: u64, payload: &[u8], out: &mut Vec<i16>) -> usize {
        let start = out.len();
        match self.expected {
            // Late (already concealed) or a duplicate; a jump far back is a restart.
            Some(expected)
                if rtp_time < expected
                    && expected - rtp_time <= MAX_CONCEALED_FRAMES * TICKS_PER_FRAME =>
            {
                return 0;
            }
            Some(expected) if rtp_time >= expected => {
                let missing = (rtp_time - expected) / TICKS_PER_FRAME;
                if (1..=MAX_CONCEALED_FRAMES).contains(&missing) {
                    for _ in 1..missing {
                        self.conceal(out);
                    }
                    match self
                        .decoder
                        .decode(payload, &mut self.decoded[..FRAME], true)
                    {
                        Ok(n) => out.extend_from_slice(&self.decoded[..n]),
                        Err(_) => self.conceal(out),
                    }
                }
            }
            _ => {}
        }
        match self.decoder.decode(payload, &mut self.decoded, false) {
            Ok(n) => {
                out.extend_from_slice(&self.decoded[..n]);
                self.expected = Some(rtp_time + (n as u64) * 6);
            }
            Err(_) => {
                self.conceal(out);
                self.expected = Some(rtp_time + TICKS_PER_FRAME);
            }
        }
        out.len() - start
    }

    fn conceal(&mut self, out: &mut Vec<i16>) {
        if let Ok(n) = self.decoder.decode(&[], &mut self.decoded[..FRAME], false) {
            out.extend_from_slice(&self.decoded[..n]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq: f64, frame_no: usize) -> Frame {
        let mut f = [0i16; FRAME];
        for (i, s) in f.iter_mut().enumerate() {
            let n = (frame_no * FRAME + i) as f64;
            *s = (8000.0 * (2.0 * std::f64::consts::PI * freq * n / 8000.0).sin()) as i16;
        }
        f
    }

    /// Share of the signal's energy at `freq` (Goertzel power over total power).
    fn share(samples: &[i16], freq: f64) -> f64 {
        let w = 2.0 * std::f64::consts::PI * freq / 8000.0;
        let (mut s1, mut s2) = (0.0f64, 0.0f64);
        let mut total = 0.0;
        for &x in samples {
            let x = x as f64;
            let s0 = x + 2.0 * w.cos() * s1 - s2;
            s2 = s1;
            s1 = s0;
            total += x * x;
        }
        let power = s1 * s1 + s2 * s2 - 2.0 * w.cos() * s1 * s2;
        2.0 * power / (samples.len() as f64 * total.max(1.0))
    }

    #[test]
    fn a_tone_survives_the_round_trip() {
        let mut t = OpusTranscoder::new().unwrap();
        let mut out = Vec::new();
        for i in 0..50 {
            let packet = t.encode(&tone(800.0, i)).unwrap();
            assert!(
                packet.len() < 120,
                "20 kbit/s is 50 bytes a frame: {}",
                packet.len()
            );
            assert_eq!(
                t.decode(i as u64 * TICKS_PER_FRAME, &packet, &mut out),
                FRAME
            );
        }
        // Skip the codec's start-up; the rest is the tone.
        let s = share(&out[2000..], 800.0);
        assert!(s > 0.8, "800 Hz share {s}");
        assert!(share(&out[2000..], 1400.0) < 0.05);
    }

    #[test]
    fn a_lost_packet_is_filled_so_the_timeline_keeps_its_length() {
        let mut t = OpusTranscoder::new().unwrap();
        let mut out = Vec::new();
        for i in 0..20u64 {
            let packet = t.encode(&tone(600.0, i as usize)).unwrap();
            if i == 10 || i == 14 || i == 15 {
                continue; // lost on the way
            }
            t.decode(i * TICKS_PER_FRAME, &packet, &mut out);
        }
        assert_eq!(
            out.len(),
            20 * FRAME,
            "concealment and FEC keep 20 ms per packet"
        );
        assert!(
            share(&out[10 * FRAME..11 * FRAME], 600.0) > 0.5,
            "the lost frame is rebuilt"
        );
    }

    #[test]
    fn late_and_corrupt_packets_cost_no_more_than_their_own_time() {
        let mut t = OpusTranscoder::new().unwrap();
        let mut out = Vec::new();
        let p0 = t.encode(&tone(500.0, 0)).unwrap();
        let p1 = t.encode(&tone(500.0, 1)).unwrap();
        t.decode(0, &p0, &mut out);
        t.decode(TICKS_PER_FRAME, &p1, &mut out);
        assert_eq!(t.decode(0, &p0, &mut out), 0, "a late duplicate is dropped");
        // A reserved TOC configuration that libopus refuses: concealed, not an error.
        let bad = [0xffu8; 3];
        assert_eq!(t.decode(2 * TICKS_PER_FRAME, &bad, &mut out), FRAME);
        // A restart far ahead is taken as is, with no 10 s of invented audio.
        let p = t.encode(&tone(500.0, 2)).unwrap();
        assert_eq!(t.decode(1_000 * TICKS_PER_FRAME, &p, &mut out), FRAME);
        assert_eq!(out.len(), 4 * FRAME);
    }
}
