//! Call-progress tones, beeps and in-band DTMF: one or two sine components switched by a
//! cadence, produced into 20 ms frames.
//!
//! A generator is a few words of state (phase accumulators and a cadence position); the
//! sines come from one shared table built at compile time, so producing a frame neither
//! allocates nor calls `sin()`. Each burst starts at phase zero and is ramped in and out
//! over 2 ms, so cadenced tones do not click.

/// Samples in one 20 ms frame at 8 kHz.
pub const FRAME_SAMPLES: usize = 160;

/// Samples per millisecond at 8 kHz.
const PER_MS: u32 = 8;

/// How long a plain beep lasts (e.g. "record after the beep").
pub const BEEP_MS: u32 = 200;

/// Ramp in/out length of each burst: 2 ms.
const RAMP: u32 = 16;

/// One sine component of a tone. `hz == 0` means unused.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Component {
    pub hz: u16,
    /// Level in dBm0 (G.711: a full-scale sine is +3.14 dBm0 for A-law).
    pub dbm0: f32,
}

impl Component {
    pub const NONE: Component = Component { hz: 0, dbm0: 0.0 };

    pub const fn new(hz: u16, dbm0: f32) -> Self {
        Self { hz, dbm0 }
    }
}

/// A tone: up to two components summed, switched by a cadence.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ToneSpec {
    pub components: [Component; 2],
    /// Milliseconds on, off, on, off, repeating. All zero: continuous. Trailing zeros are
    /// skipped, so `[1000, 4000, 0, 0]` is 1 s on / 4 s off.
    pub cadence: [u32; 4],
}

/// Level of Chinese national signal tones (dial, ringback, busy): −10 dBm0.
const CN_LEVEL: f32 = -10.0;
/// In-band DTMF: the high (column) group 2 dB above the low (row) group, as senders do to
/// offset the line's high-frequency loss ("normal twist").
const DTMF_ROW_DBM0: f32 = -9.0;
const DTMF_COL_DBM0: f32 = -7.0;

const DTMF_ROWS: [u16; 4] = [697, 770, 852, 941];
const DTMF_COLS: [u16; 4] = [1209, 1336, 1477, 1633];
const DTMF_KEYS: [[char; 4]; 4] = [
    ['1', '2', '3', 'A'],
    ['4', '5', '6', 'B'],
    ['7', '8', '9', 'C'],
    ['*', '0', '#', 'D'],
];

impl ToneSpec {
    const fn single(hz: u16, dbm0: f32, cadence: [u32; 4]) -> Self {
        Self {
            components: [Component::new(hz, dbm0), Component::NONE],
            cadence,
        }
    }

    const fn dual(a: u16, b: u16, dbm0: f32, cadence: [u32; 4]) -> Self {
        Self {
            components: [Component::new(a, dbm0), Component::new(b, dbm0)],
            cadence,
        }
    }

    /// Nothing at all.
    pub const SILENCE: ToneSpec = ToneSpec {
        components: [Component::NONE, Component::NONE],
        cadence: [0; 4],
    };
    /// 1000 Hz, continuous: play it for [`BEEP_MS`].
    pub const BEEP: ToneSpec = Self::single(1000, -10.0, [0; 4]);

    /// China (YD/T national standard): dial tone, 450 Hz continuous.
    pub const CN_DIAL: ToneSpec = Self::single(450, CN_LEVEL, [0; 4]);
    /// China: ringback, 450 Hz 1 s on / 4 s off.
    pub const CN_RINGBACK: ToneSpec = Self::single(450, CN_LEVEL, [1000, 4000, 0, 0]);
    /// China: busy, 450 Hz 350 ms on / 350 ms off.
    pub const CN_BUSY: ToneSpec = Self::single(450, CN_LEVEL, [350, 350, 0, 0]);
    /// China: congestion, 450 Hz 700 ms on / 700 ms off.
    pub const CN_CONGESTION: ToneSpec = Self::single(450, CN_LEVEL, [700, 700, 0, 0]);

    /// North America (precise tone plan): dial tone, 350 + 440 Hz continuous, −13 dBm0.
    pub const NA_DIAL: ToneSpec = Self::dual(350, 440, -13.0, [0; 4]);
    /// North America: ringback, 440 + 480 Hz 2 s on / 4 s off, −19 dBm0 each.
    pub const NA_RINGBACK: ToneSpec = Self::dual(440, 480, -19.0, [2000, 4000, 0, 0]);
    /// North America: busy, 480 + 620 Hz 0.5 s on / 0.5 s off, −24 dBm0 each.
    pub const NA_BUSY: ToneSpec = Self::dual(480, 620, -24.0, [500, 500, 0, 0]);
    /// North America: reorder (fast busy), 480 + 620 Hz 0.25 s on / 0.25 s off.
    pub const NA_REORDER: ToneSpec = Self::dual(480, 620, -24.0, [250, 250, 0, 0]);

    /// The continuous DTMF tone of a key (`0-9 * # A-D`, letters in either case); `None`
    /// for other characters. Send it for the digit's duration, then silence.
    pub fn dtmf(key: char) -> Option<ToneSpec> {
        let key = key.to_ascii_uppercase();
        for (r, row) in DTMF_KEYS.iter().enumerate() {
            if let Some(c) = row.iter().position(|&k| k == key) {
                return Some(ToneSpec {
                    components: [
                        Component::new(DTMF_ROWS[r], DTMF_ROW_DBM0),
                        Component::new(DTMF_COLS[c], DTMF_COL_DBM0),
                    ],
                    cadence: [0; 4],
                });
            }
        }
        None
    }

    /// Whether the tone never produces sound.
    pub fn is_silent(&self) -> bool {
        self.components.iter().all(|c| !audible(c))
    }
}

/// Components at or above the 4 kHz Nyquist limit cannot be produced at 8 kHz (they would
/// alias); they are left out.
fn audible(c: &Component) -> bool {
    c.hz > 0 && u32::from(c.hz) < 4000
}

/// Level of a full-scale sine in A-law (G.711): +3.14 dBm0 (the digit match with π is a
/// coincidence).
#[allow(clippy::approx_constant)]
pub const FULL_SCALE_DBM0: f32 = 3.14;

/// Peak sample amplitude of a sine at `dbm0`.
pub fn dbm0_to_peak(dbm0: f32) -> f32 {
    32767.0 * 10f32.powf((dbm0 - FULL_SCALE_DBM0) / 20.0)
}

const TABLE_BITS: u32 = 10;
const TABLE_LEN: usize = 1 << TABLE_BITS;
/// Phase bits below the table index, used for interpolation.
const FRAC_BITS: u32 = 32 - TABLE_BITS;

/// One sine period plus a guard point (so `i + 1` never wraps), built at compile time.
static SINE: [f32; TABLE_LEN + 1] = sine_table();

const fn sine_table() -> [f32; TABLE_LEN + 1] {
    let mut t = [0.0f32; TABLE_LEN + 1];
    let mut i = 0;
    while i <= TABLE_LEN {
        t[i] = const_sin(2.0 * std::f64::consts::PI * i as f64 / TABLE_LEN as f64) as f32;
        i += 1;
    }
    t
}

/// sin(x) for x in [0, 2π], by symmetry and a Taylor series (error < 1e-12).
const fn const_sin(x: f64) -> f64 {
    use std::f64::consts::{FRAC_PI_2, PI};
    let mut x = if x > PI { x - 2.0 * PI } else { x };
    if x > FRAC_PI_2 {
        x = PI - x;
    } else if x < -FRAC_PI_2 {
        x = -PI - x;
    }
    let x2 = x * x;
    let mut term = x;
    let mut sum = x;
    let mut k = 1;
    while k < 12 {
        term = -term * x2 / ((2 * k) as f64 * (2 * k + 1) as f64);
        sum += term;
        k += 1;
    }
    sum
}

/// Produces a [`ToneSpec`] sample by sample; state only, no buffers.
#[derive(Clone, Debug)]
pub struct ToneGen {
    spec: ToneSpec,
    phase: [u32; 2],
    step: [u32; 2],
    amp: [f32; 2],
    /// Cadence segment ends in samples from the start of the cycle (cumulative).
    ends: [u32; 4],
    /// Cycle length in samples; 0 = continuous.
    cycle: u32,
    /// Position in the cycle (continuous: samples since start, saturating).
    pos: u32,
}

impl ToneGen {
    pub fn new(spec: ToneSpec) -> Self {
        let mut step = [0; 2];
        let mut amp = [0.0; 2];
        for (i, c) in spec.components.iter().enumerate() {
            if audible(c) {
                // hz < 4000, so hz * 2^32 / 8000 < 2^31.
                step[i] = ((u64::from(c.hz) << 32) / 8000) as u32;
                amp[i] = dbm0_to_peak(c.dbm0);
            }
        }
        let mut ends = [0u32; 4];
        let mut total = 0u32;
        for (i, ms) in spec.cadence.iter().enumerate() {
            total = total.saturating_add(ms.saturating_mul(PER_MS));
            ends[i] = total;
        }
        // A cadence with no "off" time is continuous, whatever its numbers.
        let on_only = spec.cadence[1] == 0 && spec.cadence[3] == 0;
        Self {
            spec,
            phase: [0; 2],
            step,
            amp,
            ends,
            cycle: if on_only { 0 } else { total },
            pos: 0,
        }
    }

    pub fn spec(&self) -> &ToneSpec {
        &self.spec
    }

    /// Back to the start of the cadence.
    pub fn reset(&mut self) {
        self.phase = [0; 2];
        self.pos = 0;
    }

    /// Writes one 20 ms frame.
    pub fn next_frame(&mut self, out: &mut [i16; FRAME_SAMPLES]) {
        self.fill(out);
    }

    /// Writes `out.len()` samples, continuing where the previous call stopped.
    pub fn fill(&mut self, out: &mut [i16]) {
        for o in out.iter_mut() {
            let env = self.envelope();
            *o = if env > 0.0 {
                let mut s = 0.0f32;
                for i in 0..2 {
                    if self.step[i] != 0 {
                        s += self.amp[i] * table_sine(self.phase[i]);
                        self.phase[i] = self.phase[i].wrapping_add(self.step[i]);
                    }
                }
                (s * env).round().clamp(-32768.0, 32767.0) as i16
            } else {
                0
            };
            self.advance();
        }
    }

    /// Gain of the current sample: 0 in an "off" segment, ramping at burst edges.
    fn envelope(&mut self) -> f32 {
        if self.cycle == 0 {
            return ramp(self.pos.saturating_add(1));
        }
        let mut start = 0;
        for (i, &end) in self.ends.iter().enumerate() {
            if self.pos < end {
                if i % 2 == 1 {
                    return 0.0;
                }
                if self.pos == start {
                    // Each burst starts at phase zero so every burst sounds the same.
                    self.phase = [0; 2];
                }
                let from_start = self.pos - start + 1;
                let to_end = end - self.pos;
                return ramp(from_start.min(to_end));
            }
            start = end;
        }
        0.0
    }

    fn advance(&mut self) {
        if self.cycle == 0 {
            self.pos = self.pos.saturating_add(1);
        } else {
            self.pos += 1;
            if self.pos >= self.cycle {
                self.pos = 0;
            }
        }
    }
}

/// Linear ramp over [`RAMP`] samples, `n` counted from 1.
fn ramp(n: u32) -> f32 {
    if n >= RAMP {
        1.0
    } else {
        n as f32 / RAMP as f32
    }
}

/// sin(2π · phase / 2^32) from the table with linear interpolation (error ~5e-6).
fn table_sine(phase: u32) -> f32 {
    let i = (phase >> FRAC_BITS) as usize;
    let frac = (phase & ((1 << FRAC_BITS) - 1)) as f32 * (1.0 / (1u32 << FRAC_BITS) as f32);
    let a = SINE[i];
    a + frac * (SINE[i + 1] - a)
}

/// A frame of silence.
pub fn silence(out: &mut [i16]) {
    out.fill(0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    fn render(spec: ToneSpec, ms: u32) -> Vec<i16> {
        let mut g = ToneGen::new(spec);
        let frames = ms as usize / 20;
        let mut out = Vec::with_capacity(frames * FRAME_SAMPLES);
        let mut frame = [0i16; FRAME_SAMPLES];
        for _ in 0..frames {
            g.next_frame(&mut frame);
            out.extend_from_slice(&frame);
        }
        out
    }

    fn goertzel(x: &[i16], freq: f64) -> f64 {
        let w = 2.0 * PI * freq / 8000.0;
        let coeff = 2.0 * w.cos();
        let (mut s1, mut s2) = (0.0f64, 0.0f64);
        for &v in x {
            let s = f64::from(v) + coeff * s1 - s2;
            s2 = s1;
            s1 = s;
        }
        2.0 * (s1 * s1 + s2 * s2 - coeff * s1 * s2).sqrt() / x.len() as f64
    }

    fn energy(x: &[i16]) -> f64 {
        x.iter().map(|&v| f64::from(v).powi(2)).sum()
    }

    /// Samples of `x` from `from_ms` to `to_ms`.
    fn span(x: &[i16], from_ms: usize, to_ms: usize) -> &[i16] {
        &x[from_ms * 8..to_ms * 8]
    }

    #[test]
    fn table_matches_sin() {
        for (i, &v) in SINE.iter().enumerate() {
            let exact = (2.0 * PI * i as f64 / TABLE_LEN as f64).sin();
            assert!((f64::from(v) - exact).abs() < 1e-6, "entry {i}");
        }
        for phase in [0u32, 1 << 30, 123_456_789, u32::MAX] {
            let exact = (2.0 * PI * f64::from(phase) / 4_294_967_296.0).sin();
            assert!((f64::from(table_sine(phase)) - exact).abs() < 1e-5);
        }
    }

    #[test]
    fn beep_is_a_clean_1khz_sine_at_minus_10_dbm0() {
        let x = render(ToneSpec::BEEP, BEEP_MS);
        assert_eq!(x.len(), 1600);
        let steady = &x[RAMP as usize..];
        let amp = goertzel(steady, 1000.0);
        let want = f64::from(dbm0_to_peak(-10.0));
        assert!((amp / want - 1.0).abs() < 0.005, "amp {amp}, want {want}");
        assert!((7000.0..7400.0).contains(&want));
        // All energy at 1 kHz: a pure sine's energy is amp²/2 per sample.
        let pure = amp * amp / 2.0 * steady.len() as f64;
        assert!((energy(steady) / pure - 1.0).abs() < 0.005);
        // Ramped in: starts quiet.
        assert!(x[0].abs() < 100 && x[1].abs() < 1000, "{:?}", &x[..4]);
    }

    #[test]
    fn chinese_ringback_cadence_and_frequency() {
        let x = render(ToneSpec::CN_RINGBACK, 10_000);
        let on = span(&x, 10, 990);
        assert!(goertzel(on, 450.0) > 2000.0);
        assert!(goertzel(on, 425.0) < 100.0);
        // Exactly silent from 1 s to 5 s, then on again.
        assert!(span(&x, 1000, 5000).iter().all(|&v| v == 0));
        assert!(goertzel(span(&x, 5010, 5990), 450.0) > 2000.0);
        assert!(span(&x, 6000, 10_000).iter().all(|&v| v == 0));
        // Every burst is identical (phase reset at each start).
        assert_eq!(span(&x, 0, 1000), span(&x, 5000, 6000));
    }

    #[test]
    fn busy_cadences() {
        let cn = render(ToneSpec::CN_BUSY, 1400);
        for (from, to, on) in [
            (0, 350, true),
            (350, 700, false),
            (700, 1050, true),
            (1050, 1400, false),
        ] {
            let e = energy(span(&cn, from, to));
            assert_eq!(e > 1e6, on, "CN busy {from}-{to} ms");
        }
        let na = render(ToneSpec::NA_BUSY, 2000);
        let on = span(&na, 10, 490);
        let (a, b) = (goertzel(on, 480.0), goertzel(on, 620.0));
        let want = f64::from(dbm0_to_peak(-24.0));
        assert!(
            (a / want - 1.0).abs() < 0.02 && (b / want - 1.0).abs() < 0.02,
            "{a} {b} {want}"
        );
        assert!(goertzel(on, 440.0) < 0.05 * want);
        assert!(span(&na, 500, 1000).iter().all(|&v| v == 0));
        assert!(energy(span(&na, 1000, 1500)) > 1e6);
    }

    #[test]
    fn na_ringback_two_seconds_on_four_off() {
        let x = render(ToneSpec::NA_RINGBACK, 12_000);
        let on = span(&x, 10, 1990);
        assert!(goertzel(on, 440.0) > 300.0 && goertzel(on, 480.0) > 300.0);
        assert!(span(&x, 2000, 6000).iter().all(|&v| v == 0));
        assert!(energy(span(&x, 6000, 8000)) > 1e6);
        assert!(span(&x, 8000, 12_000).iter().all(|&v| v == 0));
    }

    #[test]
    fn dtmf_digits_have_their_row_and_column_only() {
        for (key, row, col) in [
            ('1', 697.0, 1209.0),
            ('5', 770.0, 1336.0),
            ('9', 852.0, 1477.0),
            ('0', 941.0, 1336.0),
            ('*', 941.0, 1209.0),
            ('#', 941.0, 1477.0),
            ('d', 941.0, 1633.0),
        ] {
            let x = render(ToneSpec::dtmf(key).unwrap(), 100);
            let steady = &x[RAMP as usize..];
            let r = goertzel(steady, row);
            let c = goertzel(steady, col);
            // High group 2 dB above the low group.
            let twist = 20.0 * (c / r).log10();
            assert!((twist - 2.0).abs() < 0.3, "{key}: twist {twist:.2} dB");
            assert!(
                (r / f64::from(dbm0_to_peak(-9.0)) - 1.0).abs() < 0.03,
                "{key}: row level"
            );
            for f in [697.0, 770.0, 852.0, 941.0, 1209.0, 1336.0, 1477.0, 1633.0] {
                if f != row && f != col {
                    assert!(goertzel(steady, f) < 0.1 * r, "{key}: {f} Hz present");
                }
            }
        }
        assert_eq!(ToneSpec::dtmf('x'), None);
        assert_eq!(ToneSpec::dtmf('e'), None);
    }

    #[test]
    fn silence_and_out_of_band_components() {
        assert!(ToneSpec::SILENCE.is_silent());
        assert!(render(ToneSpec::SILENCE, 100).iter().all(|&v| v == 0));
        let too_high = ToneSpec {
            components: [Component::new(5000, 0.0), Component::NONE],
            cadence: [0; 4],
        };
        assert!(too_high.is_silent());
        assert!(render(too_high, 40).iter().all(|&v| v == 0));
        let mut f = [5i16; FRAME_SAMPLES];
        silence(&mut f);
        assert_eq!(f, [0; FRAME_SAMPLES]);
    }

    #[test]
    fn frames_join_without_a_seam_and_cadence_is_sample_exact() {
        // One 480-sample fill equals three 160-sample frames.
        let mut a = ToneGen::new(ToneSpec::CN_BUSY);
        let mut whole = [0i16; 480];
        a.fill(&mut whole);
        let pieces = render(ToneSpec::CN_BUSY, 60);
        assert_eq!(&whole[..], &pieces[..]);
        // 350 ms on = 2800 samples: the last "on" sample is non-zero-ish, the next is 0.
        let x = render(ToneSpec::CN_BUSY, 800);
        assert!(x[2790..2800].iter().any(|&v| v != 0));
        assert!(x[2800..5600].iter().all(|&v| v == 0));
        // Ramped out: the burst's last sample is small.
        assert!(x[2799].abs() < 600, "{}", x[2799]);
        assert!(x[5600] == 0 && x[5601] != 0);
    }

    #[test]
    fn full_scale_does_not_overflow() {
        let loud = ToneSpec {
            components: [
                Component::new(1000, FULL_SCALE_DBM0),
                Component::new(1000, FULL_SCALE_DBM0),
            ],
            cadence: [0; 4],
        };
        let x = render(loud, 100);
        assert_eq!(x.iter().map(|v| v.unsigned_abs()).max(), Some(32768));
    }
}
