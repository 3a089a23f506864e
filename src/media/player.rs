//! The per-call player: a queue of prompts, tones and silences rendered into 20 ms frames.
//!
//! The IVR enqueues items and gets an [`ItemId`] back; the media tick pulls one frame per
//! 20 ms with [`Player::next_frame`]; when an item has played to its end its id comes out
//! of [`Player::poll_finished`], so the IVR can wait for "prompt done". Items join
//! sample-exactly: when a prompt ends mid-frame, the next item fills the rest of it.
//! [`Player::interrupt`] drops everything (barge-in: a keypress stops the prompt).
//!
//! `next_frame` does not allocate: prompts are shared (`Arc`), tones are a few words of
//! state, and the finished-events queue is reserved at `enqueue` time for every item
//! that could finish.

use std::collections::VecDeque;
use std::time::Duration;

use super::resample::Prompt;
use super::tone::{BEEP_MS, FRAME_SAMPLES, ToneGen, ToneSpec};

/// Identifies one enqueued item; unique per player, increasing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ItemId(pub u64);

/// How long a tone plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Length {
    /// This long, then the item finishes (cut sample-exactly, cadence and all).
    For(Duration),
    /// Until [`Player::interrupt`]; never finishes on its own (ringback, hold tone).
    Loop,
}

/// Something to play.
#[derive(Clone, Debug)]
pub enum Item {
    Prompt(Prompt),
    Tone(ToneSpec, Length),
    Silence(Duration),
}

impl Item {
    /// The 1 kHz, 200 ms beep.
    pub fn beep() -> Item {
        Item::Tone(
            ToneSpec::BEEP,
            Length::For(Duration::from_millis(BEEP_MS.into())),
        )
    }

    /// One in-band DTMF digit sounding for `on`; `None` if `key` is not a DTMF key.
    /// Follow it with [`Item::Silence`] (≥ 40 ms) before the next digit.
    pub fn dtmf(key: char, on: Duration) -> Option<Item> {
        ToneSpec::dtmf(key).map(|spec| Item::Tone(spec, Length::For(on)))
    }
}

/// Samples at 8 kHz in `d`, rounded to the nearest sample.
fn samples_in(d: Duration) -> u64 {
    let ns = d.as_nanos();
    // 8 samples per ms = one per 125 µs.
    u64::try_from((ns + 62_500) / 125_000).unwrap_or(u64::MAX)
}

/// The item being played and how far it has got.
#[derive(Debug)]
enum Active {
    Prompt { prompt: Prompt, pos: usize },
    Tone { tone: ToneGen, left: Option<u64> },
    Silence { left: u64 },
}

impl Active {
    fn start(item: Item) -> Self {
        match item {
            Item::Prompt(prompt) => Active::Prompt { prompt, pos: 0 },
            Item::Tone(spec, length) => Active::Tone {
                tone: ToneGen::new(spec),
                left: match length {
                    Length::For(d) => Some(samples_in(d)),
                    Length::Loop => None,
                },
            },
            Item::Silence(d) => Active::Silence {
                left: samples_in(d),
            },
        }
    }

    /// Writes up to `out.len()` samples; returns how many. Fewer than asked means the
    /// item has ended.
    fn render(&mut self, out: &mut [i16]) -> usize {
        match self {
            Active::Prompt { prompt, pos } => {
                let rest = prompt.samples().get(*pos..).unwrap_or(&[]);
                let n = rest.len().min(out.len());
                out[..n].copy_from_slice(&rest[..n]);
                *pos += n;
                n
            }
            Active::Tone { tone, left } => {
                let n = match left {
                    Some(left) => {
                        let n = clamp_len(*left, out.len());
                        *left -= n as u64;
                        n
                    }
                    None => out.len(),
                };
                tone.fill(&mut out[..n]);
                n
            }
            Active::Silence { left } => {
                let n = clamp_len(*left, out.len());
                *left -= n as u64;
                out[..n].fill(0);
                n
            }
        }
    }

    fn is_done(&self) -> bool {
        match self {
            Active::Prompt { prompt, pos } => *pos >= prompt.len(),
            Active::Tone { left, .. } => *left == Some(0),
            Active::Silence { left } => *left == 0,
        }
    }
}

fn clamp_len(left: u64, room: usize) -> usize {
    usize::try_from(left).map_or(room, |l| l.min(room))
}

/// A call's playout queue. See the module docs.
#[derive(Debug, Default)]
pub struct Player {
    queue: VecDeque<(ItemId, Item)>,
    current: Option<(ItemId, Active)>,
    finished: VecDeque<ItemId>,
    next_id: u64,
}

impl Player {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `item` after everything already queued.
    pub fn enqueue(&mut self, item: Item) -> ItemId {
        let id = ItemId(self.next_id);
        self.next_id += 1;
        self.queue.push_back((id, item));
        // Room for the finished event of every item that may still finish, so that
        // `next_frame` never grows this queue.
        let outstanding = self.queue.len() + usize::from(self.current.is_some());
        self.finished.reserve(outstanding);
        id
    }

    /// Drops the playing item and everything queued (barge-in). Dropped items produce no
    /// finished event: the caller chose to stop them. Events of items that already
    /// finished stay pollable.
    pub fn interrupt(&mut self) {
        self.queue.clear();
        self.current = None;
    }

    /// Renders the next 20 ms. Returns false when there was nothing to play (the frame
    /// is then all zeros): the caller sends nothing, or comfort noise. When the queue
    /// runs dry mid-frame, the rest of the frame is zeros and this returns true.
    pub fn next_frame(&mut self, out: &mut [i16; FRAME_SAMPLES]) -> bool {
        let mut filled = 0;
        while filled < FRAME_SAMPLES {
            if self.current.is_none() {
                match self.queue.pop_front() {
                    Some((id, item)) => self.current = Some((id, Active::start(item))),
                    None => break,
                }
            }
            let Some((id, active)) = self.current.as_mut() else {
                break;
            };
            filled += active.render(&mut out[filled..]);
            if active.is_done() {
                // Capacity was reserved in `enqueue`: no allocation here.
                self.finished.push_back(*id);
                self.current = None;
            }
        }
        out[filled..].fill(0);
        filled > 0
    }

    /// The next item that played to its end, oldest first.
    pub fn poll_finished(&mut self) -> Option<ItemId> {
        self.finished.pop_front()
    }

    /// Nothing playing and nothing queued.
    pub fn is_idle(&self) -> bool {
        self.current.is_none() && self.queue.is_empty()
    }

    /// The item being played, if any (an item starts at the frame that first plays it).
    pub fn playing(&self) -> Option<ItemId> {
        self.current.as_ref().map(|(id, _)| *id)
    }

    /// Items waiting behind the one playing.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prompt(n: usize, value: i16) -> Prompt {
        Prompt::new("test", vec![value; n])
    }

    fn frames(p: &mut Player, n: usize) -> (Vec<i16>, Vec<bool>) {
        let mut all = Vec::new();
        let mut active = Vec::new();
        let mut f = [0i16; FRAME_SAMPLES];
        for _ in 0..n {
            active.push(p.next_frame(&mut f));
            all.extend_from_slice(&f);
        }
        (all, active)
    }

    #[test]
    fn items_join_sample_exactly_and_report_when_done() {
        let mut p = Player::new();
        assert!(p.is_idle());
        let a = p.enqueue(Item::Prompt(prompt(250, 7)));
        let b = p.enqueue(Item::Silence(Duration::from_millis(5))); // 40 samples
        let c = p.enqueue(Item::Prompt(prompt(100, -3)));
        assert!(a < b && b < c);
        assert!(!p.is_idle());
        assert_eq!(p.queued(), 3);

        let mut f = [99i16; FRAME_SAMPLES];
        assert!(p.next_frame(&mut f));
        assert!(f.iter().all(|&v| v == 7));
        assert_eq!(p.playing(), Some(a));
        assert_eq!(p.poll_finished(), None);

        // Frame 2: 90 samples of a, 40 of silence, 30 of c.
        assert!(p.next_frame(&mut f));
        assert!(f[..90].iter().all(|&v| v == 7));
        assert!(f[90..130].iter().all(|&v| v == 0));
        assert!(f[130..].iter().all(|&v| v == -3));
        assert_eq!(p.poll_finished(), Some(a));
        assert_eq!(p.poll_finished(), Some(b));
        assert_eq!(p.poll_finished(), None);
        assert_eq!(p.playing(), Some(c));

        // Frame 3: the last 70 of c, then zeros; still "played".
        assert!(p.next_frame(&mut f));
        assert!(f[..70].iter().all(|&v| v == -3));
        assert!(f[70..].iter().all(|&v| v == 0));
        assert_eq!(p.poll_finished(), Some(c));
        assert!(p.is_idle());

        // Idle: false and a zeroed frame.
        f = [5; FRAME_SAMPLES];
        assert!(!p.next_frame(&mut f));
        assert_eq!(f, [0; FRAME_SAMPLES]);
        assert_eq!(p.poll_finished(), None);
    }

    #[test]
    fn interrupt_drops_everything_without_events() {
        let mut p = Player::new();
        let a = p.enqueue(Item::Prompt(prompt(100, 1)));
        let b = p.enqueue(Item::Prompt(prompt(8000, 2)));
        p.enqueue(Item::beep());
        let (_, _) = frames(&mut p, 1);
        assert_eq!(p.poll_finished(), Some(a));
        assert_eq!(p.playing(), Some(b));
        p.interrupt();
        assert!(p.is_idle());
        assert_eq!(p.playing(), None);
        let (x, active) = frames(&mut p, 3);
        assert_eq!(active, vec![false; 3]);
        assert!(x.iter().all(|&v| v == 0));
        assert_eq!(p.poll_finished(), None);

        // Usable again; ids keep increasing.
        let d = p.enqueue(Item::Prompt(prompt(10, 4)));
        assert!(d > b);
        let (x, _) = frames(&mut p, 1);
        assert_eq!(&x[..11], &[4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 0]);
        assert_eq!(p.poll_finished(), Some(d));
    }

    #[test]
    fn finished_events_survive_an_interrupt() {
        let mut p = Player::new();
        let a = p.enqueue(Item::Silence(Duration::from_millis(10)));
        p.enqueue(Item::Tone(ToneSpec::CN_RINGBACK, Length::Loop));
        frames(&mut p, 1);
        p.interrupt();
        assert_eq!(p.poll_finished(), Some(a));
        assert_eq!(p.poll_finished(), None);
    }

    #[test]
    fn a_looping_tone_plays_until_interrupted() {
        let mut p = Player::new();
        let id = p.enqueue(Item::Tone(ToneSpec::CN_BUSY, Length::Loop));
        let (x, active) = frames(&mut p, 500); // 10 s
        assert!(active.iter().all(|&a| a));
        assert_eq!(p.poll_finished(), None);
        assert_eq!(p.playing(), Some(id));
        // Same samples as the bare generator.
        let mut g = ToneGen::new(ToneSpec::CN_BUSY);
        let mut want = vec![0i16; x.len()];
        g.fill(&mut want);
        assert_eq!(x, want);
        p.interrupt();
        assert!(p.is_idle());
    }

    #[test]
    fn timed_tone_is_cut_at_its_length() {
        let mut p = Player::new();
        let id = p.enqueue(Item::beep());
        let (x, active) = frames(&mut p, 11);
        // 200 ms = 1600 samples = 10 frames exactly.
        assert_eq!(&active[..10], &[true; 10]);
        assert!(!active[10]);
        assert!(x[1590..1600].iter().any(|&v| v != 0));
        assert!(x[1600..].iter().all(|&v| v == 0));
        assert_eq!(p.poll_finished(), Some(id));

        // DTMF digit, 70 ms = 560 samples, then the next item in the same frame.
        let d = p.enqueue(Item::dtmf('5', Duration::from_millis(70)).unwrap());
        let e = p.enqueue(Item::Prompt(prompt(500, 9)));
        let (x, _) = frames(&mut p, 4);
        assert!(x[..560].iter().any(|&v| v != 0));
        assert!(x[560..640].iter().all(|&v| v == 9));
        assert_eq!(p.poll_finished(), Some(d));
        assert_eq!(p.playing(), Some(e));
        assert!(Item::dtmf('x', Duration::from_millis(70)).is_none());
    }

    #[test]
    fn empty_items_finish_at_once_and_never_reallocate_the_event_queue() {
        let mut p = Player::new();
        let ids: Vec<ItemId> = (0..100)
            .map(|i| {
                if i % 2 == 0 {
                    p.enqueue(Item::Prompt(prompt(0, 0)))
                } else {
                    p.enqueue(Item::Silence(Duration::ZERO))
                }
            })
            .collect();
        let cap = p.finished.capacity();
        assert!(cap >= 100);
        let mut f = [1i16; FRAME_SAMPLES];
        assert!(!p.next_frame(&mut f), "nothing audible played");
        assert_eq!(f, [0; FRAME_SAMPLES]);
        assert_eq!(p.finished.capacity(), cap);
        let got: Vec<ItemId> = std::iter::from_fn(|| p.poll_finished()).collect();
        assert_eq!(got, ids);
    }

    #[test]
    fn durations_round_to_whole_samples() {
        assert_eq!(samples_in(Duration::from_millis(20)), 160);
        assert_eq!(samples_in(Duration::from_micros(62)), 0);
        assert_eq!(samples_in(Duration::from_micros(63)), 1);
        assert_eq!(samples_in(Duration::from_secs(1)), 8000);
        assert_eq!(samples_in(Duration::MAX), u64::MAX);
    }
}
