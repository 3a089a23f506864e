//! G.711 µ-law (PCMU) and A-law (PCMA), bit-exact with the ITU-T G.191 reference
//! implementation of G.711 (`g711.c`: `ulaw_compress`, `alaw_expand`, …).
//!
//! Decoding reads a 256-entry table; encoding reads a table indexed by the sample's
//! top bits (µ-law keeps 14 bits, A-law 12, so 16384 and 4096 entries). Every table
//! is built at compile time from the arithmetic reference functions below, which stay
//! public so the benches can compare the two (the tables win; see BENCHMARKS.md).
//!
//! Negative samples follow G.191, which takes the one's complement (`!x`, i.e. `-x - 1`)
//! rather than `-x`: that is what makes the output match the ITU test vectors (and what
//! WebRTC and spandsp changed to). µ-law has two codes for zero (0xFF and 0x7F); both
//! decode to 0 and 0 encodes to 0xFF.

use crate::sdp::Codec;

/// µ-law code to linear sample (G.191 `ulaw_expand`).
#[inline]
pub fn ulaw_to_linear(code: u8) -> i16 {
    ULAW_DECODE[code as usize]
}

/// A-law code to linear sample (G.191 `alaw_expand`).
#[inline]
pub fn alaw_to_linear(code: u8) -> i16 {
    ALAW_DECODE[code as usize]
}

/// Linear sample to µ-law code (G.191 `ulaw_compress`).
#[inline]
pub fn linear_to_ulaw(sample: i16) -> u8 {
    // The code depends only on the top 14 bits (`sample >> 2`).
    ULAW_ENCODE[(sample as u16 >> 2) as usize]
}

/// Linear sample to A-law code (G.191 `alaw_compress`).
#[inline]
pub fn linear_to_alaw(sample: i16) -> u8 {
    // The code depends only on the top 12 bits (`sample >> 4`).
    ALAW_ENCODE[(sample as u16 >> 4) as usize]
}

/// Decodes a G.711 payload into `out`, one sample per byte. Converts
/// `min(payload.len(), out.len())` samples and returns that count.
pub fn decode(codec: Codec, payload: &[u8], out: &mut [i16]) -> usize {
    let table = match codec {
        Codec::Pcmu => &ULAW_DECODE,
        Codec::Pcma => &ALAW_DECODE,
    };
    let n = payload.len().min(out.len());
    for (sample, &code) in out[..n].iter_mut().zip(&payload[..n]) {
        *sample = table[code as usize];
    }
    n
}

/// Encodes PCM into a G.711 payload in `out`, one byte per sample. Converts
/// `min(pcm.len(), out.len())` samples and returns that count.
pub fn encode(codec: Codec, pcm: &[i16], out: &mut [u8]) -> usize {
    let n = pcm.len().min(out.len());
    match codec {
        Codec::Pcmu => {
            for (code, &s) in out[..n].iter_mut().zip(&pcm[..n]) {
                *code = ULAW_ENCODE[(s as u16 >> 2) as usize];
            }
        }
        Codec::Pcma => {
            for (code, &s) in out[..n].iter_mut().zip(&pcm[..n]) {
                *code = ALAW_ENCODE[(s as u16 >> 4) as usize];
            }
        }
    }
    n
}

/// G.191 `ulaw_compress`, computed. The tables are built from this; the public
/// `linear_to_ulaw` is the faster path.
pub const fn linear_to_ulaw_ref(sample: i16) -> u8 {
    let x = sample as i32;
    // Magnitude in 14 bits plus the µ-law bias of 33 (one's complement for negatives).
    let mut absno = if x < 0 {
        ((!x) >> 2) + 33
    } else {
        (x >> 2) + 33
    };
    if absno > 0x1FFF {
        absno = 0x1FFF;
    }
    // Segment 1..=8: one more than the bit length of `absno >> 6`.
    let segno = 1 + (32 - (absno >> 6).leading_zeros() as i32);
    let high = 8 - segno;
    let low = 0x0F - ((absno >> segno) & 0x0F);
    let mut code = (high << 4) | low;
    if x >= 0 {
        code |= 0x80;
    }
    code as u8
}

/// G.191 `alaw_compress`, computed. The tables are built from this; the public
/// `linear_to_alaw` is the faster path.
pub const fn linear_to_alaw_ref(sample: i16) -> u8 {
    let x = sample as i32;
    // 11-bit magnitude (one's complement for negatives).
    let mut ix = if x < 0 { (!x) >> 4 } else { x >> 4 };
    if ix > 15 {
        let mut exponent = 1;
        while ix > 16 + 15 {
            ix >>= 1;
            exponent += 1;
        }
        ix -= 16;
        ix += exponent << 4;
    }
    if x >= 0 {
        ix |= 0x80;
    }
    // Even bits are inverted on the line.
    (ix ^ 0x55) as u8
}

/// G.191 `ulaw_expand`, computed.
const fn ulaw_expand(code: u8) -> i16 {
    let inverted = !code;
    let exponent = ((inverted >> 4) & 0x07) as i32;
    let mantissa = (inverted & 0x0F) as i32;
    let step = 8 << exponent;
    // Segment base, mantissa steps, half a step to centre, minus the bias (4 * 33).
    let magnitude = (0x80 << exponent) + step * mantissa + step / 2 - 4 * 33;
    if code & 0x80 != 0 {
        magnitude as i16
    } else {
        -magnitude as i16
    }
}

/// G.191 `alaw_expand`, computed.
const fn alaw_expand(code: u8) -> i16 {
    let ix = (code ^ 0x55) & 0x7F;
    let exponent = (ix >> 4) as i32;
    let mut mantissa = (ix & 0x0F) as i32;
    if exponent > 0 {
        mantissa += 16; // the implicit leading one
    }
    mantissa = (mantissa << 4) + 8; // left-justify, add half a step
    if exponent > 1 {
        mantissa <<= exponent - 1;
    }
    if code & 0x80 != 0 {
        mantissa as i16
    } else {
        -mantissa as i16
    }
}

static ULAW_DECODE: [i16; 256] = {
    let mut table = [0i16; 256];
    let mut code = 0;
    while code < 256 {
        table[code] = ulaw_expand(code as u8);
        code += 1;
    }
    table
};

static ALAW_DECODE: [i16; 256] = {
    let mut table = [0i16; 256];
    let mut code = 0;
    while code < 256 {
        table[code] = alaw_expand(code as u8);
        code += 1;
    }
    table
};

static ULAW_ENCODE: [u8; 1 << 14] = {
    let mut table = [0u8; 1 << 14];
    let mut index = 0;
    while index < 1 << 14 {
        // Any sample whose top 14 bits are `index` encodes alike.
        table[index] = linear_to_ulaw_ref(((index as u16) << 2) as i16);
        index += 1;
    }
    table
};

static ALAW_ENCODE: [u8; 1 << 12] = {
    let mut table = [0u8; 1 << 12];
    let mut index = 0;
    while index < 1 << 12 {
        table[index] = linear_to_alaw_ref(((index as u16) << 4) as i16);
        index += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;

    /// Quantisation step of the segment a µ-law code belongs to.
    fn ulaw_step(code: u8) -> i32 {
        8 << ((!code >> 4) & 0x07)
    }

    /// Quantisation step of the segment an A-law code belongs to.
    fn alaw_step(code: u8) -> i32 {
        let exponent = ((code ^ 0x55) & 0x7F) >> 4;
        16 << exponent.saturating_sub(1)
    }

    #[test]
    fn known_ulaw_values() {
        // Zero, the smallest steps, and full scale, as G.191 produces them.
        assert_eq!(linear_to_ulaw(0), 0xFF);
        assert_eq!(linear_to_ulaw(-1), 0x7F);
        assert_eq!(linear_to_ulaw(i16::MAX), 0x80);
        assert_eq!(linear_to_ulaw(i16::MIN), 0x00);
        assert_eq!(linear_to_ulaw(1000), 0xCE);
        assert_eq!(linear_to_ulaw(-1000), 0x4E);
        // A decision boundary where G.191's one's complement differs from the older
        // Sun code (`-x`, which gives 0x00 here).
        assert_eq!(linear_to_ulaw(-31612), 0x01);
        assert_eq!(linear_to_ulaw(31612), 0x80);
        assert_eq!(ulaw_to_linear(0xFF), 0);
        assert_eq!(ulaw_to_linear(0x7F), 0);
        assert_eq!(ulaw_to_linear(0xFE), 8);
        assert_eq!(ulaw_to_linear(0x7E), -8);
        assert_eq!(ulaw_to_linear(0x80), 32124);
        assert_eq!(ulaw_to_linear(0x00), -32124);
        assert_eq!(ulaw_to_linear(0xCE), 988);
        assert_eq!(ulaw_to_linear(0xEF), 132);
    }

    #[test]
    fn known_alaw_values() {
        assert_eq!(linear_to_alaw(0), 0xD5);
        assert_eq!(linear_to_alaw(-1), 0x55);
        assert_eq!(linear_to_alaw(i16::MAX), 0xAA);
        assert_eq!(linear_to_alaw(i16::MIN), 0x2A);
        assert_eq!(linear_to_alaw(1000), 0xFA);
        assert_eq!(linear_to_alaw(-1000), 0x7A);
        assert_eq!(alaw_to_linear(0xD5), 8);
        assert_eq!(alaw_to_linear(0x55), -8);
        assert_eq!(alaw_to_linear(0xAA), 32256);
        assert_eq!(alaw_to_linear(0x2A), -32256);
        assert_eq!(alaw_to_linear(0xFA), 1008);
        assert_eq!(alaw_to_linear(0xC5), 264);
    }

    #[test]
    fn tables_match_reference_for_every_sample() {
        for x in i16::MIN..=i16::MAX {
            assert_eq!(linear_to_ulaw(x), linear_to_ulaw_ref(x), "µ-law {x}");
            assert_eq!(linear_to_alaw(x), linear_to_alaw_ref(x), "A-law {x}");
        }
    }

    #[test]
    fn decode_of_encode_is_within_one_step() {
        let mut worst_ulaw = 0;
        let mut worst_alaw = 0;
        for x in i16::MIN..=i16::MAX {
            let u = linear_to_ulaw(x);
            let err = (ulaw_to_linear(u) as i32 - x as i32).abs();
            // Inside the range, at most half a step (plus the one's complement offset);
            // beyond full scale the error is the clipping.
            let limit = if x.unsigned_abs() <= 32124 {
                ulaw_step(u) / 2 + 4
            } else {
                644
            };
            assert!(err <= limit, "µ-law {x}: {err} > {limit}");
            worst_ulaw = worst_ulaw.max(err);

            let a = linear_to_alaw(x);
            let err = (alaw_to_linear(a) as i32 - x as i32).abs();
            let limit = if x.unsigned_abs() <= 32256 {
                alaw_step(a) / 2 + 1
            } else {
                512
            };
            assert!(err <= limit, "A-law {x}: {err} > {limit}");
            worst_alaw = worst_alaw.max(err);
        }
        // The largest error is the clip at full scale; within the range half of 1024.
        assert_eq!(worst_ulaw, 644);
        assert_eq!(worst_alaw, 512);
    }

    #[test]
    fn encode_of_decode_is_identity() {
        for code in 0..=255u8 {
            let expected = if code == 0x7F { 0xFF } else { code };
            assert_eq!(
                linear_to_ulaw(ulaw_to_linear(code)),
                expected,
                "µ-law {code:#04x}"
            );
            assert_eq!(
                linear_to_alaw(alaw_to_linear(code)),
                code,
                "A-law {code:#04x}"
            );
        }
    }

    #[test]
    fn decoding_is_monotonic_and_symmetric() {
        // Positive µ-law codes 0xFF..=0x80 rise; negatives mirror them.
        for c in 0x80..0xFFu8 {
            assert!(ulaw_to_linear(c) > ulaw_to_linear(c + 1));
            assert_eq!(ulaw_to_linear(c), -ulaw_to_linear(c & 0x7F));
        }
        for c in 0..=255u8 {
            assert_eq!(alaw_to_linear(c), -alaw_to_linear(c ^ 0x80));
        }
    }

    #[test]
    fn frame_helpers_convert_whole_frames() {
        let pcm: Vec<i16> = (0..160)
            .map(|i| ((i * 409) % 65536 - 32768) as i16)
            .collect();
        for codec in Codec::ALL {
            let mut payload = [0u8; 160];
            assert_eq!(encode(codec, &pcm, &mut payload), 160);
            let mut back = [0i16; 160];
            assert_eq!(decode(codec, &payload, &mut back), 160);
            for i in 0..160 {
                let (code, value) = match codec {
                    Codec::Pcmu => (linear_to_ulaw(pcm[i]), ulaw_to_linear(payload[i])),
                    Codec::Pcma => (linear_to_alaw(pcm[i]), alaw_to_linear(payload[i])),
                };
                assert_eq!(payload[i], code);
                assert_eq!(back[i], value);
            }
        }
    }

    #[test]
    fn frame_helpers_stop_at_the_shorter_buffer() {
        let mut out = [7i16; 4];
        assert_eq!(decode(Codec::Pcma, &[0xD5, 0x55], &mut out), 2);
        assert_eq!(out, [8, -8, 7, 7]);
        let mut codes = [0u8; 2];
        assert_eq!(encode(Codec::Pcmu, &[0, -1, 5, 5], &mut codes), 2);
        assert_eq!(codes, [0xFF, 0x7F]);
        assert_eq!(decode(Codec::Pcmu, &[], &mut out), 0);
    }
}
