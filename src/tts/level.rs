//! Level and edges of rendered speech: silence trimmed to a short margin (so prompts
//! played back to back, like "your order number is" + digits, leave no gap a caller
//! notices) and the peak normalised, so every prompt plays at the same loudness.

/// Peak level of every rendered prompt. −3 dBFS leaves headroom for the G.711 encoder and
/// the mixer while matching the level of the shipped WAV prompts (`sox … norm -3`).
pub const TARGET_PEAK_DBFS: f64 = -3.0;

/// Silence kept before the first and after the last audible sample, in 8 kHz samples.
const LEAD_IN: usize = 240; // 30 ms
const LEAD_OUT: usize = 640; // 80 ms

/// Samples below this fraction of the peak (−40 dB) count as silence when trimming.
const SILENCE_FRACTION: i32 = 100;

/// The largest absolute sample value (`i16::MIN` counts as 32768).
pub fn peak(samples: &[i16]) -> u32 {
    samples
        .iter()
        .map(|&s| i32::from(s).unsigned_abs())
        .max()
        .unwrap_or(0)
}

/// Root mean square of the samples (0 for none).
pub fn rms(samples: &[i16]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let sum: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    (sum / samples.len() as f64).sqrt()
}

/// A level relative to full scale (32767), in dB; −inf for 0.
pub fn dbfs(level: f64) -> f64 {
    20.0 * (level / f64::from(i16::MAX)).log10()
}

/// The samples with leading and trailing silence cut to [`LEAD_IN`] / [`LEAD_OUT`].
pub(crate) fn trim_silence(samples: &[i16]) -> &[i16] {
    let threshold = (peak(samples) as i32 / SILENCE_FRACTION).max(8);
    let loud = |s: &i16| i32::from(*s).abs() > threshold;
    let (Some(first), Some(last)) = (
        samples.iter().position(loud),
        samples.iter().rposition(loud),
    ) else {
        return &samples[..0];
    };
    let start = first.saturating_sub(LEAD_IN);
    let end = (last + 1 + LEAD_OUT).min(samples.len());
    &samples[start..end]
}

/// Scales the samples so the peak sits at `target_dbfs`. Returns false (and leaves the
/// samples alone) when they are all silent.
pub(crate) fn normalize_peak(samples: &mut [i16], target_dbfs: f64) -> bool {
    let peak = peak(samples);
    if peak == 0 {
        return false;
    }
    let target = f64::from(i16::MAX) * 10f64.powf(target_dbfs / 20.0);
    let gain = target / f64::from(peak);
    for s in samples.iter_mut() {
        let scaled = (f64::from(*s) * gain).round();
        *s = scaled.clamp(f64::from(i16::MIN), f64::from(i16::MAX)) as i16;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(len: usize, amplitude: f64) -> Vec<i16> {
        (0..len)
            .map(|i| (amplitude * (i as f64 * 0.3).sin()) as i16)
            .collect()
    }

    #[test]
    fn normalises_quiet_and_loud_speech_to_the_same_peak() {
        for amplitude in [500.0, 30000.0] {
            let mut s = tone(8000, amplitude);
            assert!(normalize_peak(&mut s, TARGET_PEAK_DBFS));
            let p = peak(&s);
            assert!((23190..=23200).contains(&p), "peak {p}");
            assert!((dbfs(f64::from(p)) - TARGET_PEAK_DBFS).abs() < 0.01);
        }
    }

    #[test]
    fn silence_is_reported_not_scaled() {
        let mut s = vec![0i16; 100];
        assert!(!normalize_peak(&mut s, TARGET_PEAK_DBFS));
        assert!(s.iter().all(|&x| x == 0));
        assert!(trim_silence(&s).is_empty());
        assert!(trim_silence(&[]).is_empty());
    }

    #[test]
    fn trims_long_silences_to_short_margins() {
        let square = |len: usize| -> Vec<i16> {
            (0..len)
                .map(|i| if i % 2 == 0 { 10000 } else { -10000 })
                .collect()
        };
        let mut s = vec![0i16; 8000];
        s.extend(square(4000));
        s.extend(vec![3i16; 8000]); // near-silent noise counts as silence
        let trimmed = trim_silence(&s);
        assert_eq!(trimmed.len(), 4000 + LEAD_IN + LEAD_OUT);
        assert_eq!(trimmed[LEAD_IN], 10000);
        assert_eq!(trimmed[LEAD_IN - 1], 0);
        // A clip with no silence around it is kept whole.
        assert_eq!(trim_silence(&square(100)).len(), 100);
    }

    #[test]
    fn rms_of_known_signals() {
        assert_eq!(rms(&[]), 0.0);
        assert_eq!(rms(&[1000, -1000, 1000, -1000]), 1000.0);
        assert_eq!(peak(&[i16::MIN, 5]), 32768);
        assert!(dbfs(0.0).is_infinite());
    }
}
