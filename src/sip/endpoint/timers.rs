//! Per-call timers of the endpoint (answer after ring time, maximum call length): a heap of
//! deadlines with cancellation. Cancelled entries are skipped when they surface, and the
//! heap is rebuilt when they outnumber the live ones, so hung-up calls leave nothing behind.

use super::dialog::DialogId;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerKind {
    /// `ring_ms` elapsed: answer the call.
    Answer,
    /// `max_call_seconds` elapsed: hang up.
    MaxDuration,
    /// A call we placed was not answered in time: CANCEL it.
    RingTimeout,
}

#[derive(Default)]
pub struct CallTimers {
    heap: BinaryHeap<Reverse<(Instant, u64)>>,
    live: HashMap<u64, (Instant, TimerKind, DialogId)>,
    next_id: u64,
}

impl CallTimers {
    pub fn schedule(&mut self, at: Instant, kind: TimerKind, call: DialogId) -> u64 {
        self.next_id += 1;
        self.heap.push(Reverse((at, self.next_id)));
        self.live.insert(self.next_id, (at, kind, call));
        self.next_id
    }

    pub fn cancel(&mut self, id: u64) {
        self.live.remove(&id);
        if self.heap.len() > 1024 && self.heap.len() > 2 * self.live.len() {
            self.heap = self
                .live
                .iter()
                .map(|(id, (at, ..))| Reverse((*at, *id)))
                .collect();
        }
    }

    /// The next live timer due at or before `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<(TimerKind, DialogId)> {
        while let Some(Reverse((at, id))) = self.heap.peek().copied() {
            if at > now {
                return None;
            }
            self.heap.pop();
            if let Some((_, kind, call)) = self.live.remove(&id) {
                return Some((kind, call));
            }
        }
        None
    }

    pub fn next_deadline(&mut self) -> Option<Instant> {
        // Drop cancelled entries on top so the driver does not wake for nothing.
        while let Some(Reverse((at, id))) = self.heap.peek().copied() {
            if self.live.contains_key(&id) {
                return Some(at);
            }
            self.heap.pop();
        }
        None
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.live.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use std::time::Duration;

    fn call(n: u32) -> DialogId {
        DialogId {
            call_id: Bytes::from(n.to_string()),
            local_tag: Bytes::from_static(b"t"),
        }
    }

    #[test]
    fn due_in_order_and_cancelled_ones_never_fire() {
        let t0 = Instant::now();
        let mut t = CallTimers::default();
        let a = t.schedule(t0 + Duration::from_secs(2), TimerKind::MaxDuration, call(1));
        t.schedule(t0 + Duration::from_secs(1), TimerKind::Answer, call(2));
        t.cancel(a);
        assert_eq!(t.next_deadline(), Some(t0 + Duration::from_secs(1)));
        assert_eq!(t.pop_due(t0), None);
        assert_eq!(
            t.pop_due(t0 + Duration::from_secs(5)),
            Some((TimerKind::Answer, call(2)))
        );
        assert_eq!(t.pop_due(t0 + Duration::from_secs(5)), None);
        assert_eq!(t.next_deadline(), None);
    }

    #[test]
    fn cancelled_timers_do_not_pile_up() {
        let t0 = Instant::now();
        let mut t = CallTimers::default();
        for n in 0..100_000 {
            let id = t.schedule(
                t0 + Duration::from_secs(3600),
                TimerKind::MaxDuration,
                call(n),
            );
            t.cancel(id);
        }
        assert_eq!(t.len(), 0);
        assert!(
            t.heap.len() <= 1025,
            "heap kept {} dead entries",
            t.heap.len()
        );
    }
}
