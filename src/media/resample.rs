//! Prompts: WAV files (or WAV bytes from TTS) turned into 8 kHz mono `i16` PCM, the one
//! format the media core plays.
//!
//! Loading runs once per prompt (start-up, or the TTS cache), never on the media tick, so
//! it may allocate and spend a little CPU on a good filter: a Kaiser-windowed sinc
//! low-pass evaluated at each output instant from a finely sampled kernel table (linear
//! interpolation between table points). This handles any input rate, integer ratio or not
//! (espeak-ng writes 22050 Hz, 44.1 kHz is common), with ~80 dB stop-band rejection above
//! 4 kHz and a flat pass band up to ~3.4 kHz, the telephone band.

use std::fmt;
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Sample rate of all audio inside Hotline.
pub const RATE: u32 = 8000;

/// Longest prompt we load: hold music loops are minutes, not hours, and the decoded input
/// is held in memory while resampling.
pub const MAX_PROMPT_SECONDS: u32 = 600;

/// Input rates we accept; above 192 kHz the filter gets long for no audible gain.
const MIN_RATE: u32 = 1000;
const MAX_RATE: u32 = 192_000;

/// The conversion command every error suggests.
const SOX_FIX: &str = "sox in.wav -r 8000 -c 1 -b 16 out.wav";

/// A decoded prompt: 8 kHz mono PCM, cheap to clone (shared samples).
#[derive(Clone, PartialEq, Eq)]
pub struct Prompt {
    name: Arc<str>,
    samples: Arc<[i16]>,
}

impl Prompt {
    /// A prompt from 8 kHz mono samples already in memory (tests, generated audio).
    pub fn new(name: impl Into<Arc<str>>, samples: impl Into<Arc<[i16]>>) -> Self {
        Self {
            name: name.into(),
            samples: samples.into(),
        }
    }

    /// The name it was loaded under (file path or the caller's label).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// 8 kHz mono samples.
    pub fn samples(&self) -> &[i16] {
        &self.samples
    }

    /// The shared sample buffer (for holders that outlive this `Prompt`).
    pub fn shared_samples(&self) -> &Arc<[i16]> {
        &self.samples
    }

    /// Number of 8 kHz samples.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Playing time.
    pub fn duration(&self) -> Duration {
        Duration::from_micros(self.samples.len() as u64 * 1_000_000 / u64::from(RATE))
    }
}

impl fmt::Debug for Prompt {
    // Samples are omitted: a debug print of a prompt must not dump minutes of audio.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prompt")
            .field("name", &self.name)
            .field("duration", &self.duration())
            .finish()
    }
}

/// Why a prompt could not be loaded. Each message names the file, what is wrong and the
/// fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PromptError {
    #[error("cannot read prompt {path}: {source}; check the path and its permissions")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("prompt {path} is not a WAV file ({detail}); convert it with `{SOX_FIX}`")]
    NotWav { path: PathBuf, detail: String },
    #[error(
        "prompt {path} uses an encoding we do not read ({detail}); only PCM (8/16/24/32-bit \
         integer or 32-bit float) is read: convert it with `{SOX_FIX}`"
    )]
    Unsupported { path: PathBuf, detail: String },
    #[error("prompt {path} is damaged ({detail}); re-export it, e.g. with `{SOX_FIX}`")]
    Corrupt { path: PathBuf, detail: String },
    #[error(
        "prompt {path} holds no audio samples (a WAV written to a pipe may declare 0 bytes); \
         re-render it or re-save it with `{SOX_FIX}`"
    )]
    Empty { path: PathBuf },
    #[error(
        "prompt {path} has sample rate {rate} Hz, outside {MIN_RATE}..={MAX_RATE} Hz; \
         convert it with `{SOX_FIX}`"
    )]
    BadRate { path: PathBuf, rate: u32 },
    #[error(
        "prompt {path} is longer than {MAX_PROMPT_SECONDS} s; split it into shorter files \
         (e.g. `sox in.wav out.wav trim 0 300`)"
    )]
    TooLong { path: PathBuf },
}

/// Reads a PCM WAV file (any rate, any channel count, 8/16/24/32-bit integer or 32-bit
/// float) and converts it to 8 kHz mono `i16`. Channels are averaged; other rates go
/// through the anti-aliasing resampler; 8 kHz input is copied unchanged.
pub fn load_prompt(path: &Path) -> Result<Prompt, PromptError> {
    let bytes = std::fs::read(path).map_err(|source| PromptError::Open {
        path: path.to_owned(),
        source,
    })?;
    decode(path, &bytes)
}

/// Like [`load_prompt`] for WAV bytes in memory (e.g. `espeak-ng --stdout`); `name` labels
/// the prompt and its errors.
pub fn decode_prompt(name: &str, wav: &[u8]) -> Result<Prompt, PromptError> {
    decode(Path::new(name), wav)
}

fn decode(path: &Path, bytes: &[u8]) -> Result<Prompt, PromptError> {
    if let Some(detail) = not_wav(bytes) {
        return Err(PromptError::NotWav {
            path: path.to_owned(),
            detail: detail.to_owned(),
        });
    }
    let (mono, rate) = read_mono(path, Cursor::new(bytes))?;
    if mono.is_empty() {
        return Err(PromptError::Empty {
            path: path.to_owned(),
        });
    }
    let resampled = resample_to_8k(&mono, rate);
    let samples: Arc<[i16]> = resampled.iter().map(|&x| to_i16(x)).collect();
    Ok(Prompt {
        name: path.to_string_lossy().into(),
        samples,
    })
}

/// `Some(what it looks like)` when the bytes are not a RIFF/WAVE file: a better message
/// than hound's for the usual mistakes (an MP3 or Ogg named `.wav`).
fn not_wav(bytes: &[u8]) -> Option<&'static str> {
    let head = |magic: &[u8]| bytes.starts_with(magic);
    if bytes.len() >= 12 && head(b"RIFF") && &bytes[8..12] == b"WAVE" {
        return None;
    }
    Some(if bytes.is_empty() {
        "the file is empty"
    } else if head(b"ID3") || (bytes.len() >= 2 && bytes[0] == 0xFF && bytes[1] & 0xE0 == 0xE0) {
        "it looks like MP3"
    } else if head(b"OggS") {
        "it looks like Ogg (Vorbis/Opus)"
    } else if head(b"fLaC") {
        "it looks like FLAC"
    } else if head(b"RF64") || head(b"RIFX") {
        "RF64/big-endian RIFX WAV"
    } else if head(b"RIFF") {
        "RIFF but not WAVE"
    } else {
        "no RIFF/WAVE header"
    })
}

/// Decodes and mixes every channel down to mono `f32` in [-1, 1). Returns the samples and
/// the file's rate. A data chunk shorter than its header claims (streamed WAVs) ends the
/// audio where the bytes end.
fn read_mono<R: Read>(path: &Path, reader: R) -> Result<(Vec<f32>, u32), PromptError> {
    let mut wav = hound::WavReader::new(reader).map_err(|e| hound_error(path, e))?;
    let spec = wav.spec();
    if !(MIN_RATE..=MAX_RATE).contains(&spec.sample_rate) {
        return Err(PromptError::BadRate {
            path: path.to_owned(),
            rate: spec.sample_rate,
        });
    }
    let channels = usize::from(spec.channels.max(1));
    let max_frames = spec.sample_rate as usize * MAX_PROMPT_SECONDS as usize;
    let mut mixer = Mixdown::new(channels, max_frames);
    match spec.sample_format {
        hound::SampleFormat::Int => {
            if !(1..=32).contains(&spec.bits_per_sample) {
                return Err(PromptError::Unsupported {
                    path: path.to_owned(),
                    detail: format!("{}-bit integer samples", spec.bits_per_sample),
                });
            }
            let scale = 1.0 / (1u64 << (spec.bits_per_sample - 1)) as f32;
            for s in wav.samples::<i32>() {
                // Err: the bytes ended early (or a partial sample); keep what we have.
                let Ok(s) = s else { break };
                if !mixer.push(s as f32 * scale) {
                    return Err(PromptError::TooLong {
                        path: path.to_owned(),
                    });
                }
            }
        }
        hound::SampleFormat::Float => {
            for s in wav.samples::<f32>() {
                let Ok(s) = s else { break };
                // NaN/inf would poison the filter sums: treat as silence / full scale.
                let s = if s.is_nan() { 0.0 } else { s.clamp(-1.0, 1.0) };
                if !mixer.push(s) {
                    return Err(PromptError::TooLong {
                        path: path.to_owned(),
                    });
                }
            }
        }
    }
    Ok((mixer.out, spec.sample_rate))
}

/// Averages interleaved channels into mono, dropping a trailing partial frame.
struct Mixdown {
    channels: usize,
    max_frames: usize,
    acc: f32,
    filled: usize,
    out: Vec<f32>,
}

impl Mixdown {
    fn new(channels: usize, max_frames: usize) -> Self {
        Self {
            channels,
            max_frames,
            acc: 0.0,
            filled: 0,
            out: Vec::new(),
        }
    }

    /// False once the prompt exceeds `max_frames`.
    fn push(&mut self, s: f32) -> bool {
        self.acc += s;
        self.filled += 1;
        if self.filled == self.channels {
            if self.out.len() >= self.max_frames {
                return false;
            }
            self.out.push(self.acc / self.channels as f32);
            self.acc = 0.0;
            self.filled = 0;
        }
        true
    }
}

fn hound_error(path: &Path, e: hound::Error) -> PromptError {
    let path = path.to_owned();
    match e {
        hound::Error::Unsupported => PromptError::Unsupported {
            path,
            detail: "compressed or non-PCM format tag, e.g. ADPCM, A-law, mu-law or MP3 in WAV"
                .to_owned(),
        },
        hound::Error::IoError(err) => PromptError::Corrupt {
            path,
            detail: format!("header cut short: {err}"),
        },
        other => PromptError::Corrupt {
            path,
            detail: other.to_string(),
        },
    }
}

/// [-1, 1) float to `i16`, rounded and clipped.
fn to_i16(x: f32) -> i16 {
    (x * 32768.0).round().clamp(-32768.0, 32767.0) as i16
}

/// Stop-band attenuation the filter is designed for, dB.
const ATTENUATION_DB: f64 = 80.0;
/// Kernel table points per input sample for rates with no small ratio to 8 kHz; linear
/// interpolation between them keeps the error far below the 16-bit noise floor.
const TABLE_STEPS: usize = 512;
/// Up to this many distinct output phases (8000 / gcd(rate, 8000): 1 for 16 and 48 kHz,
/// 80 for 44.1 kHz, 160 for 22.05 kHz) the filter is precomputed per phase.
const MAX_PHASES: u64 = 1024;

/// Converts mono samples at `rate` Hz to 8 kHz with an anti-aliasing (down) or
/// anti-imaging (up) low-pass. 8 kHz input is returned unchanged.
pub fn resample_to_8k(input: &[f32], rate: u32) -> Vec<f32> {
    if rate == RATE || input.is_empty() || rate == 0 {
        return input.to_vec();
    }
    let kernel = Kernel::new(rate);
    let rate = u64::from(rate);
    let out_rate = u64::from(RATE);
    let out_len = (input.len() as u64 * out_rate).div_ceil(rate) as usize;
    let hw = kernel.half_width as i64;
    let taps = 2 * kernel.half_width;
    let step = gcd(rate, out_rate);
    let phases = out_rate / step;
    // Polyphase rows: row p holds the taps for output instants p/phases past an input
    // sample, for inputs base-hw+1 ..= base+hw.
    let rows: Option<Vec<f32>> = (phases <= MAX_PHASES).then(|| {
        (0..phases)
            .flat_map(|p| {
                let frac = p as f64 / phases as f64;
                let kernel = &kernel;
                (0..taps).map(move |j| kernel.exact((hw - 1 - j as i64) as f64 + frac) as f32)
            })
            .collect()
    });
    let table = if rows.is_none() {
        kernel.table()
    } else {
        Vec::new()
    };
    let mut out = Vec::with_capacity(out_len);
    for n in 0..out_len as u64 {
        // Output instant n in input-sample units: base + frac, computed exactly.
        let num = n * rate;
        let base = (num / out_rate) as i64;
        let rem = num % out_rate;
        let first = base - hw + 1;
        if let Some(rows) = &rows {
            let p = (rem / step) as usize;
            let row = &rows[p * taps..(p + 1) * taps];
            let y = match usize::try_from(first) {
                Ok(f) if f + taps <= input.len() => dot(&input[f..f + taps], row),
                // Near the ends: taps outside the input see silence.
                _ => (0..taps)
                    .filter_map(|j| {
                        let k = usize::try_from(first + j as i64).ok()?;
                        Some(input.get(k)? * row[j])
                    })
                    .sum(),
            };
            out.push(y);
        } else {
            let frac = rem as f64 / out_rate as f64;
            let last = (base + hw).min(input.len() as i64 - 1);
            let mut acc = 0.0f64;
            for k in first.max(0)..=last {
                let t = (base - k) as f64 + frac;
                acc += f64::from(input[k as usize]) * kernel.at(&table, t);
            }
            out.push(acc as f32);
        }
    }
    out
}

/// Dot product with eight running sums, so the compiler can vectorise it.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// A Kaiser-windowed sinc low-pass, h(t) for t in input-sample units, non-zero on
/// (-half_width, half_width).
struct Kernel {
    half_width: usize,
    /// Normalised cutoff (2 · cutoff / input rate): Σ h ≈ 1 at DC.
    g: f64,
    beta: f64,
    i0_beta: f64,
}

impl Kernel {
    fn new(rate: u32) -> Self {
        let fs = f64::from(rate);
        // Pass band to 92.5 % of the lower Nyquist frequency, stop band from Nyquist:
        // 3.7 kHz cutoff, 600 Hz transition when going down to 8 kHz.
        let nyquist = f64::from(rate.min(RATE)) / 2.0;
        let cutoff = nyquist * 0.925;
        let transition = nyquist * 0.15;
        // Kaiser's length estimate for the attenuation and transition width.
        let dw = 2.0 * std::f64::consts::PI * transition / fs;
        let taps = (ATTENUATION_DB - 8.0) / (2.285 * dw);
        let beta = 0.1102 * (ATTENUATION_DB - 8.7);
        Self {
            half_width: (taps / 2.0).ceil().max(1.0) as usize,
            g: 2.0 * cutoff / fs,
            beta,
            i0_beta: bessel_i0(beta),
        }
    }

    fn exact(&self, t: f64) -> f64 {
        let r = t.abs() / self.half_width as f64;
        if r >= 1.0 {
            return 0.0;
        }
        let window = bessel_i0(self.beta * (1.0 - r * r).sqrt()) / self.i0_beta;
        self.g * sinc(self.g * t) * window
    }

    /// h sampled every 1/TABLE_STEPS input samples over [0, half_width], plus guards.
    fn table(&self) -> Vec<f64> {
        (0..self.half_width * TABLE_STEPS + 2)
            .map(|i| self.exact(i as f64 / TABLE_STEPS as f64))
            .collect()
    }

    /// h(t) from `table` by linear interpolation.
    fn at(&self, table: &[f64], t: f64) -> f64 {
        let pos = t.abs() * TABLE_STEPS as f64;
        let i = pos as usize;
        if i + 1 >= table.len() {
            return 0.0;
        }
        let f = pos - i as f64;
        table[i] + f * (table[i + 1] - table[i])
    }
}

fn sinc(x: f64) -> f64 {
    if x.abs() < 1e-12 {
        1.0
    } else {
        let px = std::f64::consts::PI * x;
        px.sin() / px
    }
}

/// Modified Bessel function of the first kind, order 0 (power series; converges fast for
/// the Kaiser betas we use).
fn bessel_i0(x: f64) -> f64 {
    let mut sum = 1.0;
    let mut term = 1.0;
    let half = x / 2.0;
    for k in 1..64 {
        term *= (half / k as f64) * (half / k as f64);
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    /// Amplitude of the `freq` component of 8 kHz `x` (Goertzel, normalised to a sine's
    /// peak).
    fn goertzel_amplitude(x: &[i16], freq: f64) -> f64 {
        let w = 2.0 * PI * freq / f64::from(RATE);
        let coeff = 2.0 * w.cos();
        let (mut s1, mut s2) = (0.0f64, 0.0f64);
        for &v in x {
            let s = f64::from(v) + coeff * s1 - s2;
            s2 = s1;
            s1 = s;
        }
        let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
        2.0 * power.sqrt() / x.len() as f64
    }

    fn rms(x: &[i16]) -> f64 {
        (x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
    }

    fn sine(rate: u32, freq: f64, amp: f64, seconds: f64) -> Vec<i16> {
        let n = (f64::from(rate) * seconds) as usize;
        (0..n)
            .map(|i| (amp * (2.0 * PI * freq * i as f64 / f64::from(rate)).sin()).round() as i16)
            .collect()
    }

    fn wav_bytes(rate: u32, channels: u16, frames: &[Vec<i16>]) -> Vec<u8> {
        let spec = hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut buf = Cursor::new(Vec::new());
        {
            let mut w = hound::WavWriter::new(&mut buf, spec).unwrap();
            for i in 0..frames[0].len() {
                for ch in frames {
                    w.write_sample(ch[i]).unwrap();
                }
            }
            w.finalize().unwrap();
        }
        buf.into_inner()
    }

    /// Zero crossings per second of the middle of `x`.
    fn zero_crossing_freq(x: &[i16]) -> f64 {
        let crossings = x.windows(2).filter(|w| (w[0] < 0) != (w[1] < 0)).count();
        crossings as f64 / 2.0 / (x.len() as f64 / f64::from(RATE))
    }

    #[test]
    fn one_khz_keeps_frequency_and_level_at_common_rates() {
        for rate in [11025, 16000, 22050, 44100, 48000] {
            let amp = 16000.0;
            let wav = wav_bytes(rate, 1, &[sine(rate, 1000.0, amp, 1.0)]);
            let p = decode_prompt("sine.wav", &wav).unwrap();
            assert_eq!(p.len(), 8000, "rate {rate}");
            assert_eq!(p.duration(), Duration::from_secs(1));
            // Skip the filter's edges.
            let mid = &p.samples()[800..7200];
            let got = goertzel_amplitude(mid, 1000.0);
            let db = 20.0 * (got / amp).log10();
            assert!(db.abs() < 1.0, "rate {rate}: 1 kHz level off by {db:.2} dB");
            // Essentially all the energy is at 1 kHz.
            let total = rms(mid) * 2f64.sqrt();
            assert!(
                (total / got - 1.0).abs() < 0.01,
                "rate {rate}: energy elsewhere"
            );
            let zc = zero_crossing_freq(mid);
            assert!(
                (zc - 1000.0).abs() < 5.0,
                "rate {rate}: {zc} Hz by zero crossings"
            );
        }
    }

    #[test]
    fn six_khz_at_48k_is_rejected_by_40_db() {
        let amp = 16000.0;
        let wav = wav_bytes(48000, 1, &[sine(48000, 6000.0, amp, 1.0)]);
        let p = decode_prompt("alias.wav", &wav).unwrap();
        let mid = &p.samples()[800..7200];
        // Without the filter 6 kHz would alias to 2 kHz at full level.
        let peak = rms(mid) * 2f64.sqrt();
        let db = 20.0 * (peak / amp).log10();
        assert!(db < -40.0, "6 kHz only {db:.1} dB down");
    }

    #[test]
    fn pass_band_is_flat_and_stop_band_clean_at_22050() {
        let amp = 16000.0;
        for (freq, lo, hi) in [(300.0, -0.1, 0.1), (3300.0, -0.5, 0.1)] {
            let wav = wav_bytes(22050, 1, &[sine(22050, freq, amp, 1.0)]);
            let p = decode_prompt("tts.wav", &wav).unwrap();
            let got = goertzel_amplitude(&p.samples()[800..7200], freq);
            let db = 20.0 * (got / amp).log10();
            assert!(db > lo && db < hi, "{freq} Hz at {db:.2} dB");
        }
        // 5 kHz would alias to 3 kHz.
        let wav = wav_bytes(22050, 1, &[sine(22050, 5000.0, amp, 1.0)]);
        let p = decode_prompt("tts.wav", &wav).unwrap();
        let db = 20.0 * (rms(&p.samples()[800..7200]) * 2f64.sqrt() / amp).log10();
        assert!(db < -60.0, "5 kHz only {db:.1} dB down");
    }

    #[test]
    fn eight_khz_mono_16_bit_is_copied_exactly() {
        let x: Vec<i16> = (0..1234)
            .map(|i| ((i * 7919) % 65536 - 32768) as i16)
            .collect();
        let p = decode_prompt("x.wav", &wav_bytes(8000, 1, std::slice::from_ref(&x))).unwrap();
        assert_eq!(p.samples(), &x[..]);
        assert_eq!(p.name(), "x.wav");
    }

    #[test]
    fn stereo_is_mixed_down() {
        let left = sine(8000, 1000.0, 8000.0, 0.5);
        let silent = vec![0i16; left.len()];
        let p = decode_prompt("s.wav", &wav_bytes(8000, 2, &[left.clone(), silent])).unwrap();
        let got = goertzel_amplitude(p.samples(), 1000.0);
        assert!(
            (got - 4000.0).abs() < 20.0,
            "one channel at half level, got {got}"
        );

        let inverted: Vec<i16> = left.iter().map(|&v| -v).collect();
        let p = decode_prompt("s.wav", &wav_bytes(8000, 2, &[left.clone(), inverted])).unwrap();
        assert!(
            p.samples().iter().all(|&v| v.abs() <= 1),
            "opposite channels cancel"
        );

        // Stereo at 48 kHz: mixdown and resampling together.
        let l = sine(48000, 1000.0, 10000.0, 0.5);
        let p = decode_prompt("s.wav", &wav_bytes(48000, 2, &[l.clone(), l])).unwrap();
        assert_eq!(p.len(), 4000);
        let got = goertzel_amplitude(&p.samples()[400..3600], 1000.0);
        assert!((got / 10000.0 - 1.0).abs() < 0.01, "got {got}");
    }

    fn write_file(
        name: &str,
        spec: hound::WavSpec,
        f: impl Fn(&mut hound::WavWriter<std::io::BufWriter<std::fs::File>>),
    ) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("hotline-resample-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        let mut w = hound::WavWriter::create(&path, spec).unwrap();
        f(&mut w);
        w.finalize().unwrap();
        path
    }

    #[test]
    fn reads_8_24_32_bit_int_and_float_files() {
        let spec = |bits, fmt| hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: bits,
            sample_format: fmt,
        };
        let int = hound::SampleFormat::Int;
        let p8 = write_file("b8.wav", spec(8, int), |w| {
            for _ in 0..100 {
                w.write_sample(64i8).unwrap();
            }
        });
        let p24 = write_file("b24.wav", spec(24, int), |w| {
            for _ in 0..100 {
                w.write_sample(-(1i32 << 22)).unwrap();
            }
        });
        let p32 = write_file("b32.wav", spec(32, int), |w| {
            for _ in 0..100 {
                w.write_sample(1i32 << 30).unwrap();
            }
        });
        let pf = write_file("f32.wav", spec(32, hound::SampleFormat::Float), |w| {
            for _ in 0..100 {
                w.write_sample(-0.25f32).unwrap();
            }
        });
        let expect = |path: &Path, value: i16| {
            let p = load_prompt(path).unwrap();
            assert_eq!(p.len(), 100, "{}", path.display());
            assert!(
                p.samples().iter().all(|&v| v == value),
                "{}: {:?}",
                path.display(),
                &p.samples()[..4]
            );
        };
        expect(&p8, 16384); // 64 of 128 = half scale
        expect(&p24, -16384);
        expect(&p32, 16384);
        expect(&pf, -8192);
    }

    #[test]
    fn errors_name_the_file_and_the_fix() {
        let e = load_prompt(Path::new("/nonexistent/hello.wav")).unwrap_err();
        assert!(matches!(e, PromptError::Open { .. }));
        assert!(e.to_string().contains("/nonexistent/hello.wav"));

        let e = decode_prompt("song.wav", b"ID3\x04\0\0\0\0\0\0junk").unwrap_err();
        assert!(matches!(e, PromptError::NotWav { .. }), "{e}");
        let msg = e.to_string();
        assert!(
            msg.contains("song.wav") && msg.contains("MP3") && msg.contains("sox in.wav -r 8000"),
            "{msg}"
        );

        let e = decode_prompt("empty.wav", b"").unwrap_err();
        assert!(matches!(e, PromptError::NotWav { .. }));

        // A header with no samples.
        let e = decode_prompt("quiet.wav", &wav_bytes(16000, 1, &[vec![]])).unwrap_err();
        assert!(matches!(e, PromptError::Empty { .. }), "{e}");
        assert!(e.to_string().contains("quiet.wav"));

        // A-law WAV (format tag 6): compressed.
        let mut alaw = wav_bytes(8000, 1, &[vec![0; 10]]);
        alaw[20] = 6;
        alaw[34] = 8; // 8 bits per sample
        alaw[32] = 1; // block align
        alaw[28..32].copy_from_slice(&8000u32.to_le_bytes());
        let e = decode_prompt("alaw.wav", &alaw).unwrap_err();
        assert!(matches!(e, PromptError::Unsupported { .. }), "{e}");
        assert!(e.to_string().contains("sox"));

        // Cut inside the header.
        let e = decode_prompt("cut.wav", &wav_bytes(8000, 1, &[vec![0; 10]])[..30]).unwrap_err();
        assert!(matches!(e, PromptError::Corrupt { .. }), "{e}");
    }

    #[test]
    fn a_streamed_wav_with_a_lying_size_keeps_the_bytes_present() {
        let mut wav = wav_bytes(8000, 1, &[vec![100; 500]]);
        // espeak-ng --stdout style: a data size far beyond the end of the bytes.
        wav[40..44].copy_from_slice(&0x7fff_f000u32.to_le_bytes());
        wav.push(7); // and half a sample at the end
        let p = decode_prompt("stream.wav", &wav).unwrap();
        assert_eq!(p.len(), 500);
    }

    #[test]
    fn odd_rates_and_upsampling() {
        // 6 kHz up to 8 kHz; 8001 Hz (no small ratio).
        for rate in [6000, 8001, 32000] {
            let wav = wav_bytes(rate, 1, &[sine(rate, 1000.0, 12000.0, 1.0)]);
            let p = decode_prompt("odd.wav", &wav).unwrap();
            assert!(
                (p.len() as i64 - 8000).abs() <= 1,
                "rate {rate}: {}",
                p.len()
            );
            let got = goertzel_amplitude(&p.samples()[800..7200], 1000.0);
            let db = 20.0 * (got / 12000.0).log10();
            assert!(db.abs() < 0.2, "rate {rate}: {db:.2} dB");
        }
        let e = decode_prompt("x.wav", &wav_bytes(500, 1, &[vec![1; 10]])).unwrap_err();
        assert!(matches!(e, PromptError::BadRate { rate: 500, .. }));
    }
}
