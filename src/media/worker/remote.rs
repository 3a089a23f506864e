//! What an IVR flow asks of a call's media, run inside the media tick: play a list of prompts
//! (optionally stopped by a keypress — barge-in in the same tick as the key), stop playing,
//! and record a voicemail (after a beep, until `#`, silence or the maximum length).
//! The flow itself runs elsewhere (`call/`); this part only reports what happened.

use crate::media::player::{Item, ItemId, Player};
use crate::media::recorder::Recorder;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A caller frame quieter than this (mean absolute sample, 16-bit) counts as silence for
/// voicemail: about -50 dBFS, under line noise of a quiet phone but far under speech.
const SILENCE_LEVEL: u32 = 100;
const FRAME_MS: u64 = 20;

/// How a voicemail recording ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VoicemailSpec {
    pub beep: bool,
    pub max: Duration,
    /// End after this much continuous silence (zero: never on silence).
    pub silence: Duration,
    pub end_on_hash: bool,
}

/// What the remote part reports to the IVR runtime.
#[derive(Debug, PartialEq)]
pub enum RemoteEvent {
    PlaybackDone {
        id: u64,
        interrupted: bool,
    },
    RecordDone {
        id: u64,
        path: Option<PathBuf>,
        duration: Duration,
    },
}

/// Where a voicemail file goes: `dir/YYYY/MM/DD/<name>.wav`.
pub struct VoicemailFile<'a> {
    pub dir: &'a Path,
    pub date: (u16, u8, u8),
    pub name: &'a str,
}

struct Playing {
    id: u64,
    last: ItemId,
    interruptible: bool,
}

struct Voicemail {
    id: u64,
    spec: VoicemailSpec,
    /// Recording starts once the beep has played.
    beep: Option<ItemId>,
    recorder: Option<Recorder>,
    frames: u64,
    silent_frames: u64,
}

#[derive(Default)]
pub struct Remote {
    playing: Option<Playing>,
    voicemail: Option<Voicemail>,
}

impl Remote {
    /// Starts a list of prompts; a list still playing is stopped and reported interrupted.
    pub fn play(
        &mut self,
        player: &mut Player,
        id: u64,
        items: Vec<Item>,
        interruptible: bool,
        out: &mut Vec<RemoteEvent>,
    ) {
        self.stop(player, out);
        let mut last = None;
        for item in items {
            last = Some(player.enqueue(item));
        }
        match last {
            Some(last) => {
                self.playing = Some(Playing {
                    id,
                    last,
                    interruptible,
                })
            }
            // Nothing to play: done at once.
            None => out.push(RemoteEvent::PlaybackDone {
                id,
                interrupted: false,
            }),
        }
    }

    /// Stops the current list, if any, reporting it interrupted.
    pub fn stop(&mut self, player: &mut Player, out: &mut Vec<RemoteEvent>) {
        if let Some(p) = self.playing.take() {
            player.interrupt();
            out.push(RemoteEvent::PlaybackDone {
                id: p.id,
                interrupted: true,
            });
        }
    }

    /// Starts a voicemail into `recordings_dir/YYYY/MM/DD/<name>.wav` (caller left, as call
    /// recordings). A failure to create the file is reported at once as a voicemail
    /// without a file: the flow goes on.
    pub fn record(
        &mut self,
        player: &mut Player,
        id: u64,
        spec: VoicemailSpec,
        file: VoicemailFile<'_>,
        out: &mut Vec<RemoteEvent>,
    ) {
        self.finish_voicemail(out);
        let recorder = match Recorder::create(file.dir, file.date, file.name) {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::warn!(error = %e, "cannot create the voicemail file");
                out.push(RemoteEvent::RecordDone {
                    id,
                    path: None,
                    duration: Duration::ZERO,
                });
                return;
            }
        };
        let beep = spec.beep.then(|| player.enqueue(Item::beep()));
        self.voicemail = Some(Voicemail {
            id,
            spec,
            beep,
            recorder,
            frames: 0,
            silent_frames: 0,
        });
    }

    /// A keypress: stops an interruptible list in this very tick; `#` ends a voicemail
    /// that ends on `#`.
    pub fn on_digit(&mut self, digit: char, player: &mut Player, out: &mut Vec<RemoteEvent>) {
        if self.playing.as_ref().is_some_and(|p| p.interruptible) {
            self.stop(player, out);
        }
        if digit == '#' && self.voicemail.as_ref().is_some_and(|v| v.spec.end_on_hash) {
            self.finish_voicemail(out);
        }
    }

    /// Once per tick, after the player produced this frame: playback completion, and the
    /// caller's audio into the voicemail.
    pub fn tick(&mut self, player: &mut Player, caller: &[i16], out: &mut Vec<RemoteEvent>) {
        let mut beep_ended = false;
        while let Some(done) = player.poll_finished() {
            if self.playing.as_ref().is_some_and(|p| p.last == done) {
                let p = self.playing.take().map_or(0, |p| p.id);
                out.push(RemoteEvent::PlaybackDone {
                    id: p,
                    interrupted: false,
                });
            }
            if let Some(v) = &mut self.voicemail
                && v.beep == Some(done)
            {
                v.beep = None;
                beep_ended = true;
            }
        }
        let Some(v) = &mut self.voicemail else { return };
        if v.beep.is_some() || beep_ended {
            // This frame was (partly) the beep: the message starts with the next one.
            return;
        }
        let silent = mean_abs(caller) < SILENCE_LEVEL;
        if let Some(rec) = &mut v.recorder
            && let Err(e) = rec.write(caller, &[0; crate::media::rtp::FRAME_SAMPLES])
        {
            tracing::warn!(error = %e, "voicemail write failed; ending it");
            self.finish_voicemail(out);
            return;
        }
        v.frames += 1;
        v.silent_frames = if silent { v.silent_frames + 1 } else { 0 };
        let length = Duration::from_millis(v.frames * FRAME_MS);
        let quiet = Duration::from_millis(v.silent_frames * FRAME_MS);
        if length >= v.spec.max || (!v.spec.silence.is_zero() && quiet >= v.spec.silence) {
            self.finish_voicemail(out);
        }
    }

    /// Ends the call: a voicemail in progress is closed and reported (the caller hung up
    /// mid-message — the usual way a voicemail ends).
    pub fn finish(&mut self, out: &mut Vec<RemoteEvent>) -> Option<PathBuf> {
        let path = self
            .voicemail
            .as_ref()
            .and_then(|v| v.recorder.as_ref().map(|r| r.path().to_path_buf()));
        self.finish_voicemail(out);
        path
    }

    fn finish_voicemail(&mut self, out: &mut Vec<RemoteEvent>) {
        let Some(v) = self.voicemail.take() else {
            return;
        };
        let duration = Duration::from_millis(v.frames * FRAME_MS);
        let path = v.recorder.and_then(|r| match r.finish() {
            Ok(info) => Some(info.path),
            Err(e) => {
                tracing::warn!(error = %e, "closing the voicemail failed");
                None
            }
        });
        out.push(RemoteEvent::RecordDone {
            id: v.id,
            path,
            duration,
        });
    }
}

fn mean_abs(frame: &[i16]) -> u32 {
    if frame.is_empty() {
        return 0;
    }
    let sum: u64 = frame.iter().map(|&s| u64::from(s.unsigned_abs())).sum();
    (sum / frame.len() as u64) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::resample::Prompt;
    use crate::media::rtp::FRAME_SAMPLES;

    fn prompt(frames: usize) -> Item {
        Item::Prompt(Prompt::new("p", vec![1000i16; frames * FRAME_SAMPLES]))
    }

    fn run(remote: &mut Remote, player: &mut Player, caller: &[i16]) -> Vec<RemoteEvent> {
        let mut out = Vec::new();
        let mut frame = [0i16; FRAME_SAMPLES];
        player.next_frame(&mut frame);
        remote.tick(player, caller, &mut out);
        out
    }

    #[test]
    fn a_list_reports_done_after_its_last_item() {
        let (mut r, mut p, mut out) = (Remote::default(), Player::new(), Vec::new());
        r.play(&mut p, 7, vec![prompt(2), prompt(1)], false, &mut out);
        assert!(out.is_empty());
        let silence = [0i16; FRAME_SAMPLES];
        assert!(run(&mut r, &mut p, &silence).is_empty());
        assert!(run(&mut r, &mut p, &silence).is_empty());
        assert_eq!(
            run(&mut r, &mut p, &silence),
            vec![RemoteEvent::PlaybackDone {
                id: 7,
                interrupted: false
            }]
        );
        assert!(run(&mut r, &mut p, &silence).is_empty());
    }

    #[test]
    fn a_key_stops_an_interruptible_list_at_once_but_not_a_plain_one() {
        let (mut r, mut p, mut out) = (Remote::default(), Player::new(), Vec::new());
        r.play(&mut p, 1, vec![prompt(100)], true, &mut out);
        r.on_digit('5', &mut p, &mut out);
        assert_eq!(
            out,
            vec![RemoteEvent::PlaybackDone {
                id: 1,
                interrupted: true
            }]
        );
        assert!(p.is_idle(), "the audio stops in the same tick as the key");

        out.clear();
        r.play(&mut p, 2, vec![prompt(100)], false, &mut out);
        r.on_digit('5', &mut p, &mut out);
        assert!(out.is_empty());
        assert!(!p.is_idle());
    }

    #[test]
    fn a_new_list_replaces_the_one_playing() {
        let (mut r, mut p, mut out) = (Remote::default(), Player::new(), Vec::new());
        r.play(&mut p, 1, vec![prompt(100)], false, &mut out);
        r.play(&mut p, 2, vec![], false, &mut out);
        assert_eq!(
            out,
            vec![
                RemoteEvent::PlaybackDone {
                    id: 1,
                    interrupted: true
                },
                RemoteEvent::PlaybackDone {
                    id: 2,
                    interrupted: false
                }
            ]
        );
    }

    fn spec(silence_ms: u64, max_s: u64) -> VoicemailSpec {
        VoicemailSpec {
            beep: true,
            max: Duration::from_secs(max_s),
            silence: Duration::from_millis(silence_ms),
            end_on_hash: true,
        }
    }

    #[test]
    fn voicemail_waits_for_the_beep_then_ends_on_silence_with_a_playable_file() {
        let dir = tempdir();
        let (mut r, mut p, mut out) = (Remote::default(), Player::new(), Vec::new());
        r.record(&mut p, 9, spec(1000, 60), vm(&dir, "c1-vm9"), &mut out);
        assert!(out.is_empty());
        let speech = [3000i16; FRAME_SAMPLES];
        let silence = [0i16; FRAME_SAMPLES];
        // 200 ms beep = 10 frames, nothing recorded meanwhile.
        for _ in 0..10 {
            assert!(run(&mut r, &mut p, &speech).is_empty());
        }
        for _ in 0..50 {
            assert!(run(&mut r, &mut p, &speech).is_empty());
        }
        let mut ev = Vec::new();
        for _ in 0..60 {
            ev.extend(run(&mut r, &mut p, &silence));
        }
        let [RemoteEvent::RecordDone { id, path, duration }] = &ev[..] else {
            panic!("expected one RecordDone, got {ev:?}");
        };
        assert_eq!(*id, 9);
        // 50 frames of speech + 50 of silence (the 1 s that ends it).
        assert_eq!(*duration, Duration::from_millis(2000));
        let path = path.as_ref().expect("a file");
        let wav = hound::WavReader::open(path).expect("playable WAV");
        assert_eq!(wav.duration() as usize, 100 * FRAME_SAMPLES);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn voicemail_ends_on_hash_on_max_and_at_hangup() {
        let dir = tempdir();
        let speech = [3000i16; FRAME_SAMPLES];
        let (mut r, mut p, mut out) = (Remote::default(), Player::new(), Vec::new());
        let mut s = spec(0, 1);
        s.beep = false;
        r.record(&mut p, 1, s, vm(&dir, "c2-vm1"), &mut out);
        r.on_digit('#', &mut p, &mut out);
        assert!(matches!(out[..], [RemoteEvent::RecordDone { id: 1, .. }]));

        out.clear();
        r.record(&mut p, 2, s, vm(&dir, "c2-vm2"), &mut out);
        let mut ev = Vec::new();
        for _ in 0..60 {
            ev.extend(run(&mut r, &mut p, &speech));
        }
        assert_eq!(ev.len(), 1, "{ev:?}");
        assert!(
            matches!(&ev[0], RemoteEvent::RecordDone { id: 2, duration, .. } if *duration == Duration::from_secs(1))
        );

        r.record(&mut p, 3, s, vm(&dir, "c2-vm3"), &mut out);
        out.clear();
        let path = r.finish(&mut out);
        assert!(path.is_some());
        assert!(matches!(out[..], [RemoteEvent::RecordDone { id: 3, .. }]));
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn vm<'a>(dir: &'a Path, name: &'a str) -> VoicemailFile<'a> {
        VoicemailFile {
            dir,
            date: (2026, 11, 23),
            name,
        }
    }

    fn tempdir() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "hotline-remote-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
