//! Transaction timers (RFC 3261 §17 Table 4, RFC 6026 Timers L and M): the per-transaction
//! table and the layer-wide deadline queue.
//!
//! Each transaction owns a [`TimerTable`] (one slot per timer); the layer owns one
//! [`TimerQueue`] ordered by deadline. Both change together through the queue's methods, so
//! a stopped timer leaves nothing behind: the queue holds exactly the armed timers, and
//! `poll_timeout` is the first entry (O(log n) over thousands of transactions).

use std::collections::BTreeSet;
use std::time::Instant;

/// The timers of RFC 3261 §17 plus L and M of RFC 6026.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TxTimer {
    /// Client INVITE: retransmit the request (UDP), T1 doubling.
    A,
    /// Client INVITE: no response at all within 64*T1 → timeout.
    B,
    /// Client INVITE: wait for final-response retransmissions after the ACK (32 s on UDP).
    D,
    /// Client non-INVITE: retransmit the request (UDP), T1 doubling capped at T2.
    E,
    /// Client non-INVITE: no final response within 64*T1 → timeout.
    F,
    /// Server INVITE: retransmit the final response (UDP), T1 doubling capped at T2; in the
    /// Accepted state the same timer retransmits the 2xx until the ACK comes.
    G,
    /// Server INVITE: no ACK for a non-2xx final within 64*T1.
    H,
    /// Server INVITE: absorb ACK retransmissions (T4 on UDP).
    I,
    /// Server non-INVITE: absorb request retransmissions (64*T1 on UDP).
    J,
    /// Client non-INVITE: absorb response retransmissions (T4 on UDP).
    K,
    /// Server INVITE, Accepted (RFC 6026): end of the 2xx/ACK window, 64*T1.
    L,
    /// Client INVITE, Accepted (RFC 6026): keep passing 2xx retransmissions up, 64*T1.
    M,
}

impl TxTimer {
    const COUNT: usize = 12;

    fn index(self) -> usize {
        self as usize
    }
}

/// Which transaction a queued deadline belongs to (the raw id of its handle).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) enum TxRef {
    Server(u64),
    Client(u64),
}

/// The armed timers of one transaction.
#[derive(Debug, Default)]
pub(super) struct TimerTable {
    at: [Option<Instant>; TxTimer::COUNT],
}

impl TimerTable {
    /// The deadline of `timer`, if armed.
    #[cfg(test)]
    pub(super) fn get(&self, timer: TxTimer) -> Option<Instant> {
        self.at[timer.index()]
    }

    /// Forgets `timer` after the queue handed it out as expired.
    pub(super) fn fired(&mut self, timer: TxTimer) {
        self.at[timer.index()] = None;
    }
}

/// Every armed timer of every transaction, soonest first.
#[derive(Debug, Default)]
pub(super) struct TimerQueue {
    queue: BTreeSet<(Instant, TxRef, TxTimer)>,
}

impl TimerQueue {
    /// Arms (or re-arms) `timer` of `owner` for `at`.
    pub(super) fn set(
        &mut self,
        table: &mut TimerTable,
        owner: TxRef,
        timer: TxTimer,
        at: Instant,
    ) {
        if let Some(old) = table.at[timer.index()].replace(at) {
            self.queue.remove(&(old, owner, timer));
        }
        self.queue.insert((at, owner, timer));
    }

    pub(super) fn stop(&mut self, table: &mut TimerTable, owner: TxRef, timer: TxTimer) {
        if let Some(old) = table.at[timer.index()].take() {
            self.queue.remove(&(old, owner, timer));
        }
    }

    /// Disarms everything `owner` has (the transaction is going away).
    pub(super) fn stop_all(&mut self, table: &mut TimerTable, owner: TxRef) {
        for (i, slot) in table.at.iter_mut().enumerate() {
            if let Some(old) = slot.take() {
                // `i` indexes the array built from `TxTimer::COUNT`, in declaration order.
                let timer = ALL[i];
                self.queue.remove(&(old, owner, timer));
            }
        }
    }

    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.queue.first().map(|(at, _, _)| *at)
    }

    /// Removes and returns the soonest timer due at `now`; the caller must then call
    /// [`TimerTable::fired`] on the owner's table.
    pub(super) fn pop_due(&mut self, now: Instant) -> Option<(TxRef, TxTimer)> {
        match self.queue.first() {
            Some((at, _, _)) if *at <= now => self
                .queue
                .pop_first()
                .map(|(_, owner, timer)| (owner, timer)),
            _ => None,
        }
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.queue.len()
    }
}

const ALL: [TxTimer; TxTimer::COUNT] = [
    TxTimer::A,
    TxTimer::B,
    TxTimer::D,
    TxTimer::E,
    TxTimer::F,
    TxTimer::G,
    TxTimer::H,
    TxTimer::I,
    TxTimer::J,
    TxTimer::K,
    TxTimer::L,
    TxTimer::M,
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn all_is_in_declaration_order() {
        for (i, t) in ALL.iter().enumerate() {
            assert_eq!(t.index(), i);
        }
    }

    #[test]
    fn set_reset_stop_keep_queue_exact() {
        let t0 = Instant::now();
        let mut q = TimerQueue::default();
        let mut a = TimerTable::default();
        let mut b = TimerTable::default();
        q.set(
            &mut a,
            TxRef::Server(1),
            TxTimer::G,
            t0 + Duration::from_millis(500),
        );
        q.set(
            &mut b,
            TxRef::Client(2),
            TxTimer::A,
            t0 + Duration::from_millis(300),
        );
        assert_eq!(q.next_deadline(), Some(t0 + Duration::from_millis(300)));
        // Re-arming replaces the old deadline instead of adding a second entry.
        q.set(
            &mut b,
            TxRef::Client(2),
            TxTimer::A,
            t0 + Duration::from_millis(900),
        );
        assert_eq!(q.len(), 2);
        assert_eq!(q.next_deadline(), Some(t0 + Duration::from_millis(500)));
        q.stop(&mut a, TxRef::Server(1), TxTimer::G);
        assert_eq!(a.get(TxTimer::G), None);
        assert_eq!(q.next_deadline(), Some(t0 + Duration::from_millis(900)));
        assert_eq!(q.pop_due(t0 + Duration::from_millis(899)), None);
        assert_eq!(
            q.pop_due(t0 + Duration::from_millis(900)),
            Some((TxRef::Client(2), TxTimer::A))
        );
        assert_eq!(q.len(), 0);
    }

    #[test]
    fn stop_all_clears_every_timer_of_one_owner() {
        let t0 = Instant::now();
        let mut q = TimerQueue::default();
        let mut a = TimerTable::default();
        let mut b = TimerTable::default();
        q.set(&mut a, TxRef::Server(1), TxTimer::G, t0);
        q.set(
            &mut a,
            TxRef::Server(1),
            TxTimer::H,
            t0 + Duration::from_secs(32),
        );
        q.set(
            &mut b,
            TxRef::Server(2),
            TxTimer::J,
            t0 + Duration::from_secs(1),
        );
        q.stop_all(&mut a, TxRef::Server(1));
        assert_eq!(q.len(), 1);
        assert_eq!(a.get(TxTimer::H), None);
        assert_eq!(
            q.pop_due(t0 + Duration::from_secs(1)),
            Some((TxRef::Server(2), TxTimer::J))
        );
    }
}
