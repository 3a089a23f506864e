//! Adaptive jitter buffer for one leg: RTP packets in at arrival, one 20 ms frame out per
//! worker tick.
//!
//! The buffer is a ring of samples indexed by RTP timestamp, one byte per timestamp
//! unit (true of PCMA, PCMU and G.722 at their 8 kHz RTP clock), so packets of 10, 20,
//! 30 or 60 ms are split or merged into 20 ms frames for free, reordering needs no
//! sorting, and nothing is allocated after [`JitterBuffer::new`].
//!
//! Timeline: a packet lands at position `timestamp + offset`; `play` is the position
//! of the next frame out. The offset is chosen at each talkspurt start (first packet,
//! marker bit, a timestamp gap in a contiguous stream, a timestamp jump) so that the
//! spurt plays after the target delay; the gap before it plays as [`Frame::Empty`].
//!
//! Delay: "delay" is how long after the fastest-seen packet of the same timestamp a
//! frame plays (arrival minus timestamp, the minimum over the last 1–2 s as baseline).
//! The target is [`JITTER_MULTIPLE`] × a fast-up, slow-down jitter estimate, bounded by
//! the config. Too little delay grows at once (a concealed frame is inserted, or the
//! silence before a spurt is stretched); too much shrinks slowly, only by dropping a
//! frame that is silent, missing or quiet, at most one per [`SHRINK_EVERY`] ticks.

use std::time::{Duration, Instant};

use super::{CLOCK_RATE, FRAME_SAMPLES, Received, samples_in};
use crate::sdp::Codec;

/// Ring size in samples (512 ms at 8 kHz): target delay, the largest packet and
/// reordering must fit; a packet further ahead starts a new spurt.
pub const RING_SAMPLES: usize = 4096;
/// Longest packet taken (60 ms at 8 kHz); longer ones are dropped and counted.
pub const MAX_PACKET_SAMPLES: usize = 480;
/// Target delay = this × jitter estimate.
pub const JITTER_MULTIPLE: i64 = 2;
/// At most one frame dropped to shrink the delay per this many ticks (outside silence).
pub const SHRINK_EVERY: u64 = 5;
/// Concealed frames inserted at an underrun before the buffer reports plain silence.
const MAX_EXPAND: u32 = 3;

const FRAME: i64 = FRAME_SAMPLES as i64;
const RING: i64 = RING_SAMPLES as i64;
/// Baseline window (1 s of arrival time); the baseline is the minimum over two windows.
const BASE_WINDOW: i64 = CLOCK_RATE as i64;

/// Delay bounds and the codec (for quiet frames and the fill byte of partial frames).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JitterConfig {
    pub min_delay: Duration,
    pub max_delay: Duration,
    /// Delay before any jitter has been measured.
    pub initial_delay: Duration,
    /// `Some(G.711 law)` lets the buffer spot quiet frames to drop when shrinking and
    /// fill the gaps of partial frames with that law's silence.
    pub codec: Option<Codec>,
}

impl Default for JitterConfig {
    fn default() -> Self {
        Self {
            min_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(200),
            initial_delay: Duration::from_millis(40),
            codec: Some(Codec::Pcma),
        }
    }
}

/// One 20 ms tick's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    /// 160 payload bytes to decode.
    Audio(&'a [u8]),
    /// Speech should be here but is not (lost, late, or delay being added): conceal.
    Missing,
    /// Nothing to play: before the first packet, between talkspurts, or the peer stopped.
    Empty,
}

/// What [`JitterBuffer::push`] did with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    Stored,
    /// Arrived after its time to play: dropped.
    Late,
    Duplicate,
    /// Longer than [`MAX_PACKET_SAMPLES`]: dropped.
    Oversized,
    /// No payload (keep-alive): ignored.
    NoPayload,
}

/// Counters and the current delay figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JitterStats {
    pub stored: u64,
    pub late: u64,
    pub duplicates: u64,
    pub oversized: u64,
    /// Frames played from audio.
    pub played: u64,
    /// Frames missing at playout while later audio was already buffered (lost or late).
    pub lost: u64,
    /// All [`Frame::Missing`] returned: `lost` plus frames inserted to add delay.
    pub concealed: u64,
    /// Audio frames with a gap filled with silence (10 ms packets, one lost).
    pub partial: u64,
    /// Frames dropped to shrink the delay.
    pub skipped: u64,
    /// Talkspurts started (first packet, marker, silence gap, timestamp jump).
    pub spurts: u64,
    /// Source (SSRC) changes (the new source starts afresh after the old one's audio).
    pub resets: u64,
    /// Samples in the last packet (160 = 20 ms); other sizes are split or merged.
    pub packet_samples: u32,
    /// Current playout delay over the fastest packet, in ms.
    pub delay_ms: u32,
    pub target_ms: u32,
    /// Audio buffered ahead of playout, in ms.
    pub buffered_ms: u32,
}

/// See the module docs.
#[derive(Debug, Clone)]
pub struct JitterBuffer {
    min: i64,
    max: i64,
    initial: i64,
    codec: Option<Codec>,
    ring: Box<[u8]>,
    /// One bit per ring sample: audio present.
    present: Box<[u64]>,
    out: [u8; FRAME_SAMPLES],

    ssrc: Option<u32>,
    last_ts: u32,
    /// Unwrapped timestamp and length of the newest packet (by sequence number).
    last_ext: i64,
    last_len: i64,
    highest_seq: u16,
    /// Bit i: sequence number `highest_seq - i` seen (duplicate detection).
    seq_seen: u64,

    offset: i64,
    play: i64,
    /// End of the furthest audio stored.
    end: i64,
    /// Absent frames in `silence_from..silence_until` are silence, not loss.
    silence_from: i64,
    silence_until: i64,
    /// Consecutive concealed frames at an underrun.
    expand: u32,

    epoch: Option<Instant>,
    prev_transit: Option<i64>,
    /// Minimum transit (arrival - timestamp) of the current and previous window.
    base: [i64; 2],
    window_start: i64,
    /// Jitter estimate in samples, scaled by 16.
    jitter16: i64,
    target: i64,
    delay: Option<i64>,
    ticks: u64,
    last_shrink: u64,
    stats: JitterStats,
}

impl Default for JitterBuffer {
    /// 20–200 ms, 40 ms to start, PCMA.
    fn default() -> Self {
        Self::new(JitterConfig::default())
    }
}

impl JitterBuffer {
    /// Allocates the ring once; nothing is allocated afterwards.
    pub fn new(config: JitterConfig) -> Self {
        let ms = |d: Duration| samples_in(d, CLOCK_RATE) as i64;
        let min = align_up(ms(config.min_delay).max(FRAME));
        let max = align_up(ms(config.max_delay)).clamp(min, RING / 2);
        let initial = align_up(ms(config.initial_delay)).clamp(min, max);
        let mut jb = Self {
            min,
            max,
            initial,
            codec: config.codec,
            ring: vec![0u8; RING_SAMPLES].into_boxed_slice(),
            present: vec![0u64; RING_SAMPLES / 64].into_boxed_slice(),
            out: [0; FRAME_SAMPLES],
            ssrc: None,
            last_ts: 0,
            last_ext: 0,
            last_len: 0,
            highest_seq: 0,
            seq_seen: 0,
            offset: 0,
            play: 0,
            end: 0,
            silence_from: 0,
            silence_until: 0,
            expand: 0,
            epoch: None,
            prev_transit: None,
            base: [0; 2],
            window_start: 0,
            jitter16: 0,
            target: initial,
            delay: None,
            ticks: 0,
            last_shrink: 0,
            stats: JitterStats::default(),
        };
        jb.clear_timing();
        jb
    }

    /// Empty the buffer and forget the source (re-INVITE, hold): the next packet starts
    /// afresh at the initial delay. Counters are kept.
    pub fn reset(&mut self) {
        self.present.fill(0);
        self.ssrc = None;
        self.end = self.play;
        self.silence_from = self.play;
        self.silence_until = self.play;
        self.expand = 0;
        self.clear_timing();
    }

    fn clear_timing(&mut self) {
        self.prev_transit = None;
        self.jitter16 = self.initial * 16 / JITTER_MULTIPLE;
        self.target = self.initial;
        self.delay = None;
    }

    pub fn stats(&self) -> JitterStats {
        let to_ms = |s: i64| (s.max(0) * 1000 / i64::from(CLOCK_RATE)) as u32;
        JitterStats {
            delay_ms: self.delay.map_or(0, to_ms),
            target_ms: to_ms(self.target),
            buffered_ms: to_ms(self.end - self.play),
            ..self.stats
        }
    }

    /// Current target delay.
    pub fn target_delay(&self) -> Duration {
        Duration::from_micros((self.target * 1_000_000 / i64::from(CLOCK_RATE)) as u64)
    }

    /// Store an audio packet (the worker routes telephone-event and comfort noise
    /// elsewhere). A new SSRC starts afresh after the audio already buffered.
    pub fn push(&mut self, pkt: &Received<'_>, arrival: Instant) -> Pushed {
        let len = pkt.payload.len() as i64;
        if len == 0 {
            return Pushed::NoPayload;
        }
        if len > MAX_PACKET_SAMPLES as i64 {
            self.stats.oversized += 1;
            return Pushed::Oversized;
        }
        self.stats.packet_samples = len as u32;
        let epoch = *self.epoch.get_or_insert(arrival);
        let arrival = samples_in(arrival.saturating_duration_since(epoch), CLOCK_RATE) as i64;

        let (ext, newest, spurt) = match self.ssrc {
            Some(ssrc) if ssrc == pkt.ssrc => {
                let steps = i64::from(pkt.seq.wrapping_sub(self.highest_seq));
                let Some(newer) = self.check_seq(pkt.seq) else {
                    self.stats.duplicates += 1;
                    return Pushed::Duplicate;
                };
                let step = i64::from(pkt.timestamp.wrapping_sub(self.last_ts) as i32);
                let ext = self.last_ext + step;
                (ext, newer, newer && self.starts_spurt(pkt, ext, len, steps))
            }
            previous => {
                if previous.is_some() {
                    // Audio of the old source still buffered plays out; the new source
                    // starts as a talkspurt after it, on fresh timing estimates.
                    self.clear_timing();
                    self.stats.resets += 1;
                }
                self.ssrc = Some(pkt.ssrc);
                self.highest_seq = pkt.seq;
                self.seq_seen = 1;
                (i64::from(pkt.timestamp), true, true)
            }
        };
        if newest {
            self.last_ts = pkt.timestamp;
            self.last_ext = ext;
            self.last_len = len;
        }

        let transit = arrival - ext;
        self.track_transit(arrival, transit);
        if spurt {
            self.start_spurt(ext);
        }
        let pos = ext + self.offset;
        if pos + len <= self.play {
            self.stats.late += 1;
            // The target was too short for this packet: raise the estimate so the target
            // covers its delay plus a frame; it decays slowly.
            let need = (transit - self.baseline() + FRAME) * 16 / JITTER_MULTIPLE;
            self.jitter16 = self.jitter16.max(need);
            self.update_target();
            return Pushed::Late;
        }
        // Part of a packet may already be past playout (10 ms packets off the grid).
        let skip = (self.play - pos).max(0);
        let (pos, data) = (pos + skip, &pkt.payload[skip as usize..]);
        if pos + data.len() as i64 > self.play + RING {
            // Cannot happen for the newest packet (a spurt starts instead); an old one
            // this far out is stale.
            self.stats.late += 1;
            return Pushed::Late;
        }
        if self.store(pos, data) == data.len() {
            self.stats.duplicates += 1;
            return Pushed::Duplicate;
        }
        self.end = self.end.max(pos + data.len() as i64);
        self.stats.stored += 1;
        Pushed::Stored
    }

    /// Duplicate check against the last 64 sequence numbers: `None` for a duplicate,
    /// else whether `seq` is the newest so far.
    fn check_seq(&mut self, seq: u16) -> Option<bool> {
        let d = seq.wrapping_sub(self.highest_seq) as i16;
        if d > 0 {
            self.seq_seen = if d < 64 { (self.seq_seen << d) | 1 } else { 1 };
            self.highest_seq = seq;
            return Some(true);
        }
        if d < -100 {
            // Far behind: the sender restarted its numbering (as RFC 3550 A.1 judges).
            self.highest_seq = seq;
            self.seq_seen = 1;
            return Some(true);
        }
        let bit = 1u64.checked_shl(u32::from(d.unsigned_abs())).unwrap_or(0);
        if self.seq_seen & bit != 0 {
            return None;
        }
        self.seq_seen |= bit;
        Some(false)
    }

    /// Whether the newest packet begins a talkspurt rather than continuing the stream.
    /// `steps`: sequence numbers since the previous newest packet.
    fn starts_spurt(&self, pkt: &Received<'_>, ext: i64, len: i64, steps: i64) -> bool {
        let gap = ext - self.last_ext;
        let expected = steps * self.last_len;
        let pos = ext + self.offset;
        let idle = self.end <= self.play;
        gap < 0
            || gap >= expected + FRAME
            || (pkt.marker && gap != expected)
            // Nothing buffered: a gap longer than the target (an outage) is not waited out.
            || (idle && pos - self.play > self.target)
            || pos + len > self.play + RING
            || pos + len <= self.play - RING
    }

    /// Place a new talkspurt starting at timestamp `ext` one target delay out, after any
    /// audio still buffered; the gap before it is silence.
    fn start_spurt(&mut self, ext: i64) {
        let after_audio = self.play + align_up(self.end - self.play);
        let start = (self.play + self.target).max(after_audio);
        self.silence_from = self.end.max(self.play);
        self.silence_until = start;
        self.offset = start - ext;
        self.stats.spurts += 1;
    }

    fn track_transit(&mut self, arrival: i64, transit: i64) {
        match self.prev_transit {
            Some(prev) if (transit - prev).abs() < RING / 2 => {
                let d16 = (transit - prev).abs() * 16;
                // Fast up, slow down: a burst of jitter raises the target within a few
                // packets, calm brings it down over seconds.
                self.jitter16 += if d16 > self.jitter16 {
                    (d16 - self.jitter16) / 4
                } else {
                    (d16 - self.jitter16) / 128
                };
                if arrival - self.window_start >= BASE_WINDOW {
                    self.base = [self.base[1], transit];
                    self.window_start = arrival;
                } else {
                    self.base[1] = self.base[1].min(transit);
                }
            }
            // First packet, or the timestamps jumped against the clock: new baseline.
            _ => {
                self.base = [transit, transit];
                self.window_start = arrival;
            }
        }
        self.prev_transit = Some(transit);
        self.update_target();
    }

    fn baseline(&self) -> i64 {
        self.base[0].min(self.base[1])
    }

    fn update_target(&mut self) {
        let want = align_up(self.jitter16 * JITTER_MULTIPLE / 16);
        self.target = want.clamp(self.min, self.max);
    }

    /// Copy `data` into the ring at `pos`; returns how many samples were already there.
    fn store(&mut self, pos: i64, data: &[u8]) -> usize {
        let already = self.count_present(pos, data.len());
        let start = ring_index(pos);
        let first = data.len().min(RING_SAMPLES - start);
        self.ring[start..start + first].copy_from_slice(&data[..first]);
        self.ring[..data.len() - first].copy_from_slice(&data[first..]);
        self.mark(pos, data.len(), true);
        already
    }

    /// The next 20 ms frame; call once per worker tick.
    pub fn pop(&mut self, now: Instant) -> Frame<'_> {
        self.ticks += 1;
        let Some(epoch) = self.epoch else {
            return Frame::Empty;
        };
        if self.ssrc.is_none() {
            return Frame::Empty;
        }
        let now = samples_in(now.saturating_duration_since(epoch), CLOCK_RATE) as i64;
        let delay = now - (self.play - self.offset) - self.baseline();
        self.delay = Some(delay);

        let in_silence = self.play >= self.silence_from && self.play < self.silence_until;
        let mut present = self.count_present(self.play, FRAME_SAMPLES);
        let later = self.end > self.play + FRAME;
        let talking = present > 0 || later;

        // Grow at once: hold playout (stretch the silence, or insert a concealed frame).
        if delay + FRAME / 2 < self.target && (in_silence || talking) {
            if in_silence {
                return Frame::Empty;
            }
            self.stats.concealed += 1;
            return Frame::Missing;
        }
        // Shrink slowly, only where a dropped frame is not heard.
        if delay > self.target + 2 * FRAME
            && (in_silence || self.ticks - self.last_shrink >= SHRINK_EVERY)
        {
            let droppable = in_silence
                || (present == 0 && later)
                || (present == FRAME_SAMPLES && self.frame_is_quiet());
            if droppable {
                self.mark(self.play, FRAME_SAMPLES, false);
                self.play += FRAME;
                self.stats.skipped += 1;
                self.last_shrink = self.ticks;
                present = self.count_present(self.play, FRAME_SAMPLES);
            }
        }
        let in_silence = self.play >= self.silence_from && self.play < self.silence_until;
        let later = self.end > self.play + FRAME;

        if present > 0 {
            self.copy_frame(present);
            self.mark(self.play, FRAME_SAMPLES, false);
            self.play += FRAME;
            self.expand = 0;
            self.stats.played += 1;
            return Frame::Audio(&self.out);
        }
        if in_silence {
            self.play += FRAME;
            return Frame::Empty;
        }
        if later {
            self.play += FRAME;
            self.stats.lost += 1;
            self.stats.concealed += 1;
            return Frame::Missing;
        }
        // Underrun: hold playout so late-running audio still plays; conceal briefly,
        // then report silence (end of talkspurt or the peer stopped sending).
        if self.expand < MAX_EXPAND {
            self.expand += 1;
            self.stats.concealed += 1;
            return Frame::Missing;
        }
        Frame::Empty
    }

    fn copy_frame(&mut self, present: usize) {
        let start = ring_index(self.play);
        let first = FRAME_SAMPLES.min(RING_SAMPLES - start);
        self.out[..first].copy_from_slice(&self.ring[start..start + first]);
        self.out[first..].copy_from_slice(&self.ring[..FRAME_SAMPLES - first]);
        if present < FRAME_SAMPLES {
            self.stats.partial += 1;
            let fill = match self.codec {
                Some(Codec::Pcma) => 0xd5,
                Some(Codec::Pcmu) => 0xff,
                None => 0,
            };
            for i in 0..FRAME_SAMPLES {
                if !self.is_present(self.play + i as i64) {
                    self.out[i] = fill;
                }
            }
        }
    }

    /// Whether the frame at playout peaks below about -36 dBFS (G.711 segments 0-1).
    fn frame_is_quiet(&self) -> bool {
        let flip = match self.codec {
            Some(Codec::Pcma) => 0x55,
            Some(Codec::Pcmu) => 0xff,
            None => return false,
        };
        (0..FRAME).all(|i| (self.ring[ring_index(self.play + i)] ^ flip) & 0x7f < 0x20)
    }

    fn is_present(&self, pos: i64) -> bool {
        let i = ring_index(pos);
        self.present[i / 64] & (1 << (i % 64)) != 0
    }

    /// Present samples in `pos..pos + len` (len <= RING).
    fn count_present(&self, pos: i64, len: usize) -> usize {
        let mut count = 0;
        self.for_words(pos, len, |word, mask| {
            count += (word & mask).count_ones() as usize
        });
        count
    }

    fn mark(&mut self, pos: i64, len: usize, set: bool) {
        let mut i = ring_index(pos);
        let mut left = len;
        while left > 0 {
            let bit = i % 64;
            let n = left.min(64 - bit);
            let mask = mask(bit, n);
            let word = &mut self.present[i / 64];
            *word = if set { *word | mask } else { *word & !mask };
            left -= n;
            i = (i + n) % RING_SAMPLES;
        }
    }

    fn for_words(&self, pos: i64, len: usize, mut f: impl FnMut(u64, u64)) {
        let mut i = ring_index(pos);
        let mut left = len;
        while left > 0 {
            let bit = i % 64;
            let n = left.min(64 - bit);
            f(self.present[i / 64], mask(bit, n));
            left -= n;
            i = (i + n) % RING_SAMPLES;
        }
    }
}

/// `n` bits (1..=64) from bit `bit` up.
fn mask(bit: usize, n: usize) -> u64 {
    let ones = if n >= 64 { u64::MAX } else { (1u64 << n) - 1 };
    ones << bit
}

fn ring_index(pos: i64) -> usize {
    pos.rem_euclid(RING) as usize
}

/// Round up to whole frames.
fn align_up(samples: i64) -> i64 {
    (samples.max(0) + FRAME - 1) / FRAME * FRAME
}

#[cfg(test)]
#[path = "jitter_tests.rs"]
mod tests;
