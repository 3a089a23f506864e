//! In-band DTMF detection with Goertzel filters, for peers that send the keys as tones.
//!
//! The eight DTMF frequencies are measured with Goertzel filters over half-blocks of
//! 51 samples (6.4 ms at 8 kHz). Two neighbouring half-blocks make a 102-sample window,
//! so a window is judged every 51 samples (50 % overlap at no extra filtering cost).
//! A window holds a key when:
//! - the strongest row and column tones are each above -30 dBm0;
//! - twist is roughly within limits (checked exactly at confirmation);
//! - each dominates the rest of its group by 6 dB (relative peak);
//! - the two tones carry 70 % of the window's energy.
//!
//! A key is confirmed once four consecutive windows agree (255 samples, 32 ms inside
//! the tone: any 40 ms tone has them) and:
//! - both tones are within 2.6 % of nominal. A 102-sample window cannot tell 3.5 % off
//!   from on frequency by magnitude, so frequency comes from phase: the advance
//!   between windows 102 samples apart gives it finely (ambiguous every 78 Hz), the
//!   advance between half-blocks coarsely but unambiguously, which picks the alias;
//! - two sinusoids fitted by least squares at those frequencies to the newest window
//!   meet the twist limits (row up to 8 dB over the column, "normal"; column up to
//!   4 dB over the row, "reverse") and explain 90 % of its energy. This is the
//!   talk-off guard: a voice whose harmonics land on a key still has a fifth of its
//!   energy in other harmonics, where a key has only noise. (Goertzel powers would not
//!   do: they wobble by ±15 % with the leakage between the two tones.)
//!
//! A confirmed key stays held while its two tones stay the strongest; the same key is
//! reported again only after three windows (19 ms) without them.
//!
//! Levels: dBm0 here follows G.711 A-law, where a full-scale sine is +3.14 dBm0.
//! The few-microsecond confirmation fit runs only when a key is about to be reported;
//! every other 20 ms frame costs the eight filters (about 0.5 µs).

/// DTMF row (low group) and column (high group) frequencies, Hz.
const FREQS: [f64; 8] = [697.0, 770.0, 852.0, 941.0, 1209.0, 1336.0, 1477.0, 1633.0];
/// Keys by [row][column].
const KEYS: [[char; 4]; 4] = [
    ['1', '2', '3', 'A'],
    ['4', '5', '6', 'B'],
    ['7', '8', '9', 'C'],
    ['*', '0', '#', 'D'],
];

/// Level of a full-scale sine in G.711 A-law (not pi).
#[allow(clippy::approx_constant)]
pub(super) const FULL_SCALE_DBM0: f64 = 3.14;
/// Half-block length at 8 kHz; other rates scale it.
const HALF_BLOCK_8K: f64 = 51.0;
/// Weakest tone accepted, per frequency (ITU-T Q.24 asks for -25 dBm0 and up).
const MIN_TONE_DBM0: f64 = -30.0;
/// Row over column, at most (8 dB).
const NORMAL_TWIST: f32 = 6.31;
/// Column over row, at most (4 dB).
const REVERSE_TWIST: f32 = 2.51;
/// Slack on the twist limits for a single window, whose powers wobble with the
/// leakage between the two tones (2 dB); the limits hold exactly over the confirmed
/// windows.
const TWIST_WOBBLE: f32 = 1.58;
/// Winner over any other tone of its group, at least (6 dB; a strong row leaking into
/// the column filters next to a weak column reads about -8 dB, so 8 dB is too tight).
const RELATIVE_PEAK: f32 = 3.98;
/// Share of the window's energy the two tones must carry.
const MIN_TONE_SHARE: f32 = 0.7;
/// Share of the energy two sinusoids fitted at the measured frequencies must explain.
const MIN_CONFIRMED_SHARE: f32 = 0.9;
/// Accepted deviation from nominal frequency; Q.24 asks to accept 1.5 % + 2 Hz and
/// reject 3.5 %.
const FREQ_TOLERANCE: f32 = 0.026;
/// Consecutive agreeing windows needed for a key.
const MIN_WINDOWS: u8 = 4;
/// Windows without the held key's tones before the same key may be reported again.
const RELEASE_WINDOWS: u8 = 3;
/// Half-blocks kept: the span of `MIN_WINDOWS` windows.
const HISTORY: usize = MIN_WINDOWS as usize + 1;
/// Detected keys not yet returned by `push` (only long frames produce several).
const PENDING: usize = 8;

/// Minimal complex arithmetic for the Goertzel outputs.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Complex {
    re: f32,
    im: f32,
}

impl Complex {
    fn from_angle(angle: f64) -> Self {
        Complex {
            re: angle.cos() as f32,
            im: angle.sin() as f32,
        }
    }
    fn add(self, o: Complex) -> Complex {
        Complex {
            re: self.re + o.re,
            im: self.im + o.im,
        }
    }
    fn mul(self, o: Complex) -> Complex {
        Complex {
            re: self.re * o.re - self.im * o.im,
            im: self.re * o.im + self.im * o.re,
        }
    }
    fn sub(self, o: Complex) -> Complex {
        Complex {
            re: self.re - o.re,
            im: self.im - o.im,
        }
    }
    fn conj(self) -> Complex {
        Complex {
            re: self.re,
            im: -self.im,
        }
    }
    fn norm_sqr(self) -> f32 {
        self.re * self.re + self.im * self.im
    }
    fn arg(self) -> f32 {
        self.im.atan2(self.re)
    }
}

/// One half-block's filter outputs and signal energy.
#[derive(Clone, Copy, Debug, Default)]
struct Half {
    /// Goertzel output per frequency, `s[M-1] - e^{-iω} s[M-2]`; the DFT value up to a
    /// phase factor that is the same for every half-block.
    y: [Complex; 8],
    energy: f32,
}

/// Detects DTMF keys in 16-bit PCM. Feed every received frame, in order.
#[derive(Clone, Debug)]
pub struct InbandDetector {
    sample_rate: f32,
    half_len: usize,
    /// `2 cos ω` per frequency.
    coef: [f32; 8],
    /// `e^{-iω}`, `e^{-iωM}` and `e^{-iωN}` per frequency.
    rot_sample: [Complex; 8],
    rot_half: [Complex; 8],
    rot_window: [Complex; 8],
    /// Least window power of a tone at `MIN_TONE_DBM0`.
    min_power: f32,

    s1: [f32; 8],
    s2: [f32; 8],
    energy: f32,
    filled: usize,
    /// The last window's samples, a ring starting at `ring_pos`, for the tone fit.
    ring: Box<[i16]>,
    ring_pos: usize,

    /// Last half-blocks, oldest first once full.
    halves: [Half; HISTORY],
    halves_seen: usize,

    /// Key index (row * 4 + column) the latest windows agree on, and for how many.
    run_key: Option<u8>,
    run_len: u8,
    /// Key last reported, until it has been absent for `RELEASE_WINDOWS` windows.
    held: Option<u8>,
    misses: u8,

    pending: [char; PENDING],
    pending_len: usize,
}

impl InbandDetector {
    /// A detector for PCM at `sample_rate` Hz (8000 for G.711). Rates are clamped to
    /// 4000..=192000: below, the tones do not fit; above, nothing sends audio.
    pub fn new(sample_rate: u32) -> Self {
        let fs = f64::from(sample_rate.clamp(4000, 192_000));
        let half_len = ((HALF_BLOCK_8K * fs / 8000.0).round() as usize).max(1);
        let window_len = 2 * half_len;
        let mut coef = [0.0; 8];
        let mut rot_sample = [Complex::default(); 8];
        let mut rot_half = [Complex::default(); 8];
        let mut rot_window = [Complex::default(); 8];
        for (k, &f) in FREQS.iter().enumerate() {
            let w = 2.0 * std::f64::consts::PI * f / fs;
            coef[k] = (2.0 * w.cos()) as f32;
            rot_sample[k] = Complex::from_angle(-w);
            rot_half[k] = Complex::from_angle(-w * half_len as f64);
            rot_window[k] = Complex::from_angle(-w * window_len as f64);
        }
        // A tone of amplitude A over N samples gives |X|^2 = (A N / 2)^2, reported as
        // 2 |X|^2 / N = A^2 N / 2, its energy in the window.
        let amplitude = 32767.0 * 10f64.powf((MIN_TONE_DBM0 - FULL_SCALE_DBM0) / 20.0);
        let min_power = (amplitude * amplitude * window_len as f64 / 2.0) as f32;
        InbandDetector {
            sample_rate: fs as f32,
            half_len,
            coef,
            rot_sample,
            rot_half,
            rot_window,
            min_power,
            s1: [0.0; 8],
            s2: [0.0; 8],
            energy: 0.0,
            filled: 0,
            ring: vec![0; window_len].into_boxed_slice(),
            ring_pos: 0,
            halves: [Half::default(); HISTORY],
            halves_seen: 0,
            run_key: None,
            run_len: 0,
            held: None,
            misses: 0,
            pending: ['\0'; PENDING],
            pending_len: 0,
        }
    }

    /// Forgets all state, as for a new call.
    pub fn reset(&mut self) {
        let rate = self.sample_rate as u32;
        *self = InbandDetector::new(rate);
    }

    /// Feeds the next frame (any length; usually 20 ms). Returns a key whose tone was
    /// just recognised. Should one frame complete several keys (long frames only),
    /// the rest come out of the following calls.
    pub fn push(&mut self, frame: &[i16]) -> Option<char> {
        let mut rest = frame;
        while !rest.is_empty() {
            let take = (self.half_len - self.filled).min(rest.len());
            let (chunk, tail) = rest.split_at(take);
            self.filter(chunk);
            self.filled += take;
            rest = tail;
            if self.filled == self.half_len {
                self.finish_half();
            }
        }
        self.pop_pending()
    }

    /// Runs the eight Goertzel filters and the energy sum over `chunk`.
    fn filter(&mut self, chunk: &[i16]) {
        // Keep the samples for the tone fit (a chunk never exceeds a half-block, so
        // it wraps the window-long ring at most once).
        let room = self.ring.len() - self.ring_pos;
        let (head, tail) = chunk.split_at(chunk.len().min(room));
        self.ring[self.ring_pos..self.ring_pos + head.len()].copy_from_slice(head);
        self.ring[..tail.len()].copy_from_slice(tail);
        self.ring_pos = (self.ring_pos + chunk.len()) % self.ring.len();

        let (mut s1, mut s2, mut energy) = (self.s1, self.s2, self.energy);
        for &x in chunk {
            let x = f32::from(x);
            energy += x * x;
            for k in 0..8 {
                // `x - s2` does not wait on the previous step: one multiply-add on the
                // dependency chain instead of three operations.
                let s0 = (x - s2[k]) + self.coef[k] * s1[k];
                s2[k] = s1[k];
                s1[k] = s0;
            }
        }
        (self.s1, self.s2, self.energy) = (s1, s2, energy);
    }

    /// Closes a half-block, judges the window that ends with it, updates the key state.
    fn finish_half(&mut self) {
        let mut half = Half {
            energy: self.energy,
            ..Half::default()
        };
        for k in 0..8 {
            let s1 = Complex {
                re: self.s1[k],
                im: 0.0,
            };
            let s2 = Complex {
                re: self.s2[k],
                im: 0.0,
            };
            half.y[k] = s1.sub(self.rot_sample[k].mul(s2));
        }
        self.s1 = [0.0; 8];
        self.s2 = [0.0; 8];
        self.energy = 0.0;
        self.filled = 0;

        self.halves.copy_within(1.., 0);
        self.halves[HISTORY - 1] = half;
        self.halves_seen = (self.halves_seen + 1).min(HISTORY);
        if self.halves_seen < 2 {
            return;
        }
        let window = self.newest_window();
        let key = self.classify(&window);
        match key {
            Some(k) if self.run_key == Some(k) => self.run_len = self.run_len.saturating_add(1),
            _ => {
                self.run_key = key;
                self.run_len = u8::from(key.is_some());
            }
        }
        // A key already held needs no new confirmation: `still_sounding` keeps it.
        let hit = match key {
            Some(k) if self.run_len >= MIN_WINDOWS && self.held != Some(k) => self.confirms(k),
            _ => false,
        };
        match (hit, key, self.held) {
            (true, Some(k), held) => {
                self.misses = 0;
                if held != Some(k) {
                    self.held = Some(k);
                    self.push_pending(KEYS[usize::from(k / 4)][usize::from(k % 4)]);
                }
            }
            (_, _, Some(held)) if still_sounding(&window, held, self.min_power) => {
                self.misses = 0;
            }
            (_, _, Some(_)) => {
                self.misses += 1;
                if self.misses >= RELEASE_WINDOWS {
                    self.held = None;
                    self.misses = 0;
                }
            }
            _ => {}
        }
    }

    /// Tone powers and energy of the window made of the two newest half-blocks.
    fn newest_window(&self) -> Window {
        let a = &self.halves[HISTORY - 2];
        let b = &self.halves[HISTORY - 1];
        let mut power = [0.0f32; 8];
        for (k, p) in power.iter_mut().enumerate() {
            *p = self.window_power(a, b, k);
        }
        Window {
            power,
            energy: a.energy + b.energy,
            row: strongest(&power[..4]),
            col: 4 + strongest(&power[4..]),
        }
    }

    /// Power of frequency `k` over the window made of half-blocks `a` then `b`: the
    /// energy a centred tone would have (2 |X|^2 / N).
    fn window_power(&self, a: &Half, b: &Half, k: usize) -> f32 {
        let x = a.y[k].add(self.rot_half[k].mul(b.y[k]));
        x.norm_sqr() / self.half_len as f32
    }

    /// The key a window holds, as row * 4 + column, by level, twist (loosely: one
    /// window wobbles), relative peak and energy share; frequency and exact twist are
    /// checked over several windows by `confirms`.
    fn classify(&self, w: &Window) -> Option<u8> {
        let (pr, pc) = (w.power[w.row], w.power[w.col]);
        if pr < self.min_power || pc < self.min_power {
            return None;
        }
        if pr > pc * NORMAL_TWIST * TWIST_WOBBLE || pc > pr * REVERSE_TWIST * TWIST_WOBBLE {
            return None;
        }
        let dominates = |group: std::ops::Range<usize>, best: usize| {
            group
                .into_iter()
                .all(|i| i == best || w.power[i] * RELATIVE_PEAK <= w.power[best])
        };
        if !dominates(0..4, w.row) || !dominates(4..8, w.col) {
            return None;
        }
        if pr + pc < MIN_TONE_SHARE * w.energy {
            return None;
        }
        Some((w.row * 4 + w.col - 4) as u8)
    }

    /// Whether the key the last `MIN_WINDOWS` windows agree on is real: both tones on
    /// frequency over those windows, and in the newest window, fitted exactly at their
    /// measured frequencies, within the twist limits and carrying nearly all of the
    /// energy (Goertzel powers wobble with the leakage between the two tones; the fit
    /// does not).
    fn confirms(&self, key: u8) -> bool {
        let (row, col) = (usize::from(key / 4), 4 + usize::from(key % 4));
        let (Some(dr), Some(dc)) = (self.offset_hz(row), self.offset_hz(col)) else {
            return false;
        };
        let Some(fit) = self.fit_tones(FREQS[row] as f32 + dr, FREQS[col] as f32 + dc) else {
            return false;
        };
        fit.row <= fit.col * NORMAL_TWIST
            && fit.col <= fit.row * REVERSE_TWIST
            && fit.explained >= MIN_CONFIRMED_SHARE * fit.energy
    }

    /// Least-squares fit of two sinusoids at `f_row` and `f_col` Hz to the newest
    /// window: the energy each explains, and the window's energy. Runs only when a
    /// key is about to be confirmed, so f64 and per-sample rotation are affordable.
    fn fit_tones(&self, f_row: f32, f_col: f32) -> Option<Fit> {
        let n = self.ring.len();
        let step = |f: f32| {
            let w = 2.0 * std::f64::consts::PI * f64::from(f) / f64::from(self.sample_rate);
            (w.cos(), w.sin())
        };
        let (rot_r, rot_c) = (step(f_row), step(f_col));
        let (mut pr, mut pc) = ((1.0f64, 0.0f64), (1.0f64, 0.0f64));
        // Normal equations over the basis cos/sin at each frequency.
        let mut gram = [[0.0f64; 4]; 4];
        let mut rhs = [0.0f64; 4];
        let mut energy = 0.0f64;
        for i in 0..n {
            let x = f64::from(self.ring[(self.ring_pos + i) % n]);
            let basis = [pr.0, pr.1, pc.0, pc.1];
            for (r, &br) in basis.iter().enumerate() {
                rhs[r] += br * x;
                for (g, &bc) in gram[r].iter_mut().zip(&basis) {
                    *g += br * bc;
                }
            }
            energy += x * x;
            pr = (
                pr.0 * rot_r.0 - pr.1 * rot_r.1,
                pr.0 * rot_r.1 + pr.1 * rot_r.0,
            );
            pc = (
                pc.0 * rot_c.0 - pc.1 * rot_c.1,
                pc.0 * rot_c.1 + pc.1 * rot_c.0,
            );
        }
        let theta = solve4(gram, rhs)?;
        // A sinusoid of amplitude A carries A^2 n / 2; the fit as a whole explains
        // theta . rhs of the energy (least squares: gram theta = rhs).
        let half_n = n as f64 / 2.0;
        Some(Fit {
            row: ((theta[0] * theta[0] + theta[1] * theta[1]) * half_n) as f32,
            col: ((theta[2] * theta[2] + theta[3] * theta[3]) * half_n) as f32,
            explained: theta.iter().zip(&rhs).map(|(t, r)| t * r).sum::<f64>() as f32,
            energy: energy as f32,
        })
    }

    /// Offset of frequency `k` from nominal over the last `MIN_WINDOWS` windows, in Hz,
    /// if within tolerance.
    fn offset_hz(&self, k: usize) -> Option<f32> {
        let y = |j: usize| self.halves[j].y[k];
        let window = |j: usize| y(j).add(self.rot_half[k].mul(y(j + 1)));
        let m = self.half_len as f32;
        let two_pi = 2.0 * std::f32::consts::PI;

        // Coarse: phase advance from one half-block to the next, summed over the span.
        let mut coarse = Complex::default();
        for j in 1..HISTORY {
            coarse = coarse.add(y(j).mul(y(j - 1).conj()));
        }
        let coarse_hz = coarse.mul(self.rot_half[k]).arg() * self.sample_rate / (two_pi * m);

        // Fine: phase advance between windows one window length apart.
        let mut fine = Complex::default();
        for j in 2..HISTORY - 1 {
            fine = fine.add(window(j).mul(window(j - 2).conj()));
        }
        let span_hz = self.sample_rate / (2.0 * m);
        let fine_hz = fine.mul(self.rot_window[k]).arg() * span_hz / two_pi;
        // The fine value repeats every `span_hz`: take the alias nearest the coarse one.
        let turns = ((coarse_hz - fine_hz) / span_hz).round();
        let offset_hz = fine_hz + turns * span_hz;
        (offset_hz.abs() <= FREQ_TOLERANCE * FREQS[k] as f32).then_some(offset_hz)
    }

    fn push_pending(&mut self, key: char) {
        if self.pending_len < PENDING {
            self.pending[self.pending_len] = key;
            self.pending_len += 1;
        }
    }

    fn pop_pending(&mut self) -> Option<char> {
        if self.pending_len == 0 {
            return None;
        }
        let key = self.pending[0];
        self.pending.copy_within(1..self.pending_len, 0);
        self.pending_len -= 1;
        Some(key)
    }
}

/// One 102-sample window's tone powers, energy, and strongest row and column.
#[derive(Clone, Copy, Debug)]
struct Window {
    power: [f32; 8],
    energy: f32,
    row: usize,
    col: usize,
}

/// Hysteresis for a held key: it lasts while its row and column stay the strongest
/// of their groups and above a quarter of the detection level, however the other
/// checks wobble, so a long press is not reported twice.
fn still_sounding(w: &Window, key: u8, min_power: f32) -> bool {
    let (row, col) = (usize::from(key / 4), 4 + usize::from(key % 4));
    w.row == row
        && w.col == col
        && w.power[row] >= min_power / 4.0
        && w.power[col] >= min_power / 4.0
}

/// Energies from `InbandDetector::fit_tones`.
#[derive(Clone, Copy, Debug)]
struct Fit {
    /// Energy of the row and of the column sinusoid.
    row: f32,
    col: f32,
    /// Energy the two explain together, and the window's energy.
    explained: f32,
    energy: f32,
}

/// Solves the 4x4 system `a x = b` (Gaussian elimination, partial pivoting);
/// `None` if it is singular.
fn solve4(mut a: [[f64; 4]; 4], mut b: [f64; 4]) -> Option<[f64; 4]> {
    let scale = (0..4).map(|i| a[i][i].abs()).fold(0.0, f64::max);
    for col in 0..4 {
        let pivot = (col..4).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() <= scale * 1e-9 {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        let pivot_row = a[col];
        for r in col + 1..4 {
            let factor = a[r][col] / pivot_row[col];
            for (v, &p) in a[r][col..].iter_mut().zip(&pivot_row[col..]) {
                *v -= factor * p;
            }
            b[r] -= factor * b[col];
        }
    }
    let mut x = [0.0; 4];
    for r in (0..4).rev() {
        let tail: f64 = (r + 1..4).map(|c| a[r][c] * x[c]).sum();
        x[r] = (b[r] - tail) / a[r][r];
    }
    Some(x)
}

/// Index of the largest value (the first on ties).
fn strongest(powers: &[f32]) -> usize {
    let mut best = 0;
    for (i, &p) in powers.iter().enumerate() {
        if p > powers[best] {
            best = i;
        }
    }
    best
}
