//! A bridge port joins two call legs that may live on different threads (a SIP leg on a
//! media worker, a second SIP leg on another worker, a WebRTC leg on the gateway's loop).
//! Each end sends the 20 ms of 8 kHz audio it heard and takes the 20 ms it must play.
//! Bounded and non-blocking on both sides: a slow or dead end costs the other end a
//! dropped frame (counted), never a stalled tick.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError, sync_channel};

/// Samples in one 20 ms frame at 8 kHz.
pub const FRAME: usize = 160;
/// 20 ms of 8 kHz linear PCM.
pub type Frame = [i16; FRAME];

/// Frames one end may run ahead of the other before frames are dropped: 160 ms. Enough
/// for two workers whose ticks drift, small enough that audio never lags noticeably.
const DEPTH: usize = 8;
/// Backlog a reader keeps (60 ms); older frames are skipped.
const KEEP: usize = 3;

/// One end of a bridge. Dropping it closes the bridge for the other end.
pub struct BridgeEnd {
    tx: SyncSender<Frame>,
    rx: Receiver<Frame>,
    closed: Arc<AtomicBool>,
    dropped: Arc<AtomicU64>,
    /// Frames taken from the channel and not yet played.
    backlog: VecDeque<Frame>,
    /// Frames skipped by this end's reader to catch up.
    skipped: u64,
}

/// Two ends joined to each other.
pub fn bridge_pair() -> (BridgeEnd, BridgeEnd) {
    let (a_tx, b_rx) = sync_channel(DEPTH);
    let (b_tx, a_rx) = sync_channel(DEPTH);
    let closed = Arc::new(AtomicBool::new(false));
    let dropped = Arc::new(AtomicU64::new(0));
    let a = BridgeEnd {
        tx: a_tx,
        rx: a_rx,
        closed: closed.clone(),
        dropped: dropped.clone(),
        backlog: VecDeque::new(),
        skipped: 0,
    };
    let b = BridgeEnd {
        tx: b_tx,
        rx: b_rx,
        closed,
        dropped,
        backlog: VecDeque::new(),
        skipped: 0,
    };
    (a, b)
}

impl BridgeEnd {
    /// Hand the other end what this leg heard in the last 20 ms. Never blocks.
    pub fn send(&self, frame: &Frame) {
        match self.tx.try_send(*frame) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Disconnected(_)) => self.closed.store(true, Ordering::Relaxed),
        }
    }

    /// The next 20 ms to play to this leg, or `None` when the other end has sent nothing
    /// (play silence). When the other end ran ahead, the oldest frames beyond a 60 ms
    /// backlog are skipped so a burst after a stall does not become lasting delay.
    pub fn recv(&mut self) -> Option<Frame> {
        loop {
            match self.rx.try_recv() {
                Ok(f) => self.backlog.push_back(f),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    self.closed.store(true, Ordering::Relaxed);
                    break;
                }
            }
        }
        while self.backlog.len() > KEEP {
            self.backlog.pop_front();
            self.skipped += 1;
        }
        self.backlog.pop_front()
    }

    /// True once the other end was dropped.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }

    /// Frames lost because a reader fell more than 160 ms behind (both directions).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Frames this end skipped to stay within 60 ms of the other end.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(v: i16) -> Frame {
        [v; FRAME]
    }

    #[test]
    fn frames_cross_in_both_directions_in_order() {
        let (mut a, mut b) = bridge_pair();
        assert_eq!(a.recv(), None);
        a.send(&frame(1));
        a.send(&frame(2));
        b.send(&frame(9));
        assert_eq!(b.recv().map(|f| f[0]), Some(1));
        assert_eq!(b.recv().map(|f| f[0]), Some(2));
        assert_eq!(b.recv(), None);
        assert_eq!(a.recv().map(|f| f[0]), Some(9));
        assert!(!a.is_closed());
    }

    #[test]
    fn a_reader_that_fell_behind_skips_to_the_newest_frames() {
        let (a, mut b) = bridge_pair();
        for v in 0..20 {
            a.send(&frame(v));
        }
        // The channel holds DEPTH frames; the rest were dropped at the sender.
        assert_eq!(a.dropped(), 20 - DEPTH as u64);
        let first = b.recv().map(|f| f[0]);
        assert_eq!(first, Some((DEPTH - KEEP) as i16));
        assert_eq!(b.skipped(), (DEPTH - KEEP) as u64);
        assert_eq!(b.recv().map(|f| f[0]), Some((DEPTH - KEEP + 1) as i16));
    }

    #[test]
    fn dropping_one_end_closes_the_other() {
        let (a, mut b) = bridge_pair();
        drop(a);
        assert_eq!(b.recv(), None);
        assert!(b.is_closed());
        b.send(&frame(1));
        assert!(b.is_closed());
    }
}
