//! The bridge primitive: two legs joined A↔B, frame by frame, with taps for the
//! supervisor (listen, whisper, barge) and for streaming ASR. Pure: the media worker hands
//! in each leg's decoded 20 ms frame and sends out what comes back.
//!
//! - A hears B, B hears A (each never hears itself).
//! - A `Listen` tap gets A+B mixed (a supervisor listening, a recorder, ASR).
//! - `Whisper { to }` adds the supervisor's voice to one leg only (coaching the agent).
//! - `Barge` adds it to both legs (the supervisor joins the call).

use crate::media::rtp::FRAME_SAMPLES;

pub type Frame = [i16; FRAME_SAMPLES];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    A,
    B,
}

/// How a supervisor (or a service) is attached to a bridge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TapMode {
    /// Hears both parties; nobody hears the tap.
    Listen,
    /// Hears both; only the given side hears the tap's voice.
    Whisper { to: Side },
    /// Hears both; both sides hear the tap's voice.
    Barge,
}

/// What one tick of the bridge produces.
pub struct BridgeOut {
    /// What to send to leg A (B's voice, plus any whisper/barge to A).
    pub to_a: Frame,
    pub to_b: Frame,
    /// A + B, for taps and recording.
    pub both: Frame,
}

#[derive(Default)]
pub struct Bridge {
    taps: Vec<(u64, TapMode)>,
    next_tap: u64,
}

impl Bridge {
    pub fn new() -> Bridge {
        Bridge::default()
    }

    pub fn add_tap(&mut self, mode: TapMode) -> u64 {
        self.next_tap += 1;
        self.taps.push((self.next_tap, mode));
        self.next_tap
    }

    /// Changes a tap's mode (listen → whisper → barge, as a supervisor escalates).
    pub fn set_mode(&mut self, tap: u64, mode: TapMode) -> bool {
        match self.taps.iter_mut().find(|(id, _)| *id == tap) {
            Some(t) => {
                t.1 = mode;
                true
            }
            None => false,
        }
    }

    pub fn remove_tap(&mut self, tap: u64) {
        self.taps.retain(|(id, _)| *id != tap);
    }

    pub fn taps(&self) -> usize {
        self.taps.len()
    }

    /// One 20 ms tick. `voices` are the taps' own frames (a supervisor's microphone),
    /// looked up by tap id; taps that are silent this tick may be absent.
    pub fn mix(&self, a: &Frame, b: &Frame, voices: &[(u64, &Frame)]) -> BridgeOut {
        let mut out = BridgeOut {
            to_a: *b,
            to_b: *a,
            both: [0; FRAME_SAMPLES],
        };
        add(&mut out.both, a);
        add(&mut out.both, b);
        for (id, voice) in voices {
            let Some((_, mode)) = self.taps.iter().find(|(t, _)| t == id) else {
                continue;
            };
            match mode {
                TapMode::Listen => {}
                TapMode::Whisper { to: Side::A } => add(&mut out.to_a, voice),
                TapMode::Whisper { to: Side::B } => add(&mut out.to_b, voice),
                TapMode::Barge => {
                    add(&mut out.to_a, voice);
                    add(&mut out.to_b, voice);
                    add(&mut out.both, voice);
                }
            }
        }
        out
    }
}

/// Saturating sum: a loud mix clips instead of wrapping into noise.
fn add(into: &mut Frame, from: &Frame) {
    for (x, y) in into.iter_mut().zip(from.iter()) {
        *x = x.saturating_add(*y);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(v: i16) -> Frame {
        [v; FRAME_SAMPLES]
    }

    #[test]
    fn each_side_hears_only_the_other() {
        let br = Bridge::new();
        let out = br.mix(&level(100), &level(7), &[]);
        assert_eq!(out.to_a, level(7));
        assert_eq!(out.to_b, level(100));
        assert_eq!(out.both, level(107));
    }

    #[test]
    fn listen_whisper_and_barge_reach_the_right_ears() {
        let mut br = Bridge::new();
        let sup = br.add_tap(TapMode::Listen);
        let voice = level(1000);
        let out = br.mix(&level(100), &level(7), &[(sup, &voice)]);
        assert_eq!(
            (out.to_a[0], out.to_b[0], out.both[0]),
            (7, 100, 107),
            "listen is silent"
        );
        assert!(br.set_mode(sup, TapMode::Whisper { to: Side::B }));
        let out = br.mix(&level(100), &level(7), &[(sup, &voice)]);
        assert_eq!(
            (out.to_a[0], out.to_b[0]),
            (7, 1100),
            "only the agent (B) hears a whisper"
        );
        assert_eq!(out.both[0], 107, "the caller-facing mix has no whisper");
        br.set_mode(sup, TapMode::Barge);
        let out = br.mix(&level(100), &level(7), &[(sup, &voice)]);
        assert_eq!((out.to_a[0], out.to_b[0], out.both[0]), (1007, 1100, 1107));
        br.remove_tap(sup);
        let out = br.mix(&level(100), &level(7), &[(sup, &voice)]);
        assert_eq!(
            (out.to_a[0], out.to_b[0]),
            (7, 100),
            "a removed tap is ignored"
        );
        assert!(!br.set_mode(sup, TapMode::Listen));
    }

    #[test]
    fn loud_mixes_clip_instead_of_wrapping() {
        let br = Bridge::new();
        let out = br.mix(&level(30_000), &level(30_000), &[]);
        assert_eq!(out.both, level(i16::MAX));
        let out = br.mix(&level(-30_000), &level(-30_000), &[]);
        assert_eq!(out.both, level(i16::MIN));
    }
}
