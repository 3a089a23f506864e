//! Queue statistics from an event log: rolling 15 minutes and today. The day's start is
//! given by the caller (local midnight in the tenant's zone), so nothing here reads a clock.
//! New events are also kept aside until the runtime takes them to the store, and the
//! store's events of today come back with `restore` after a restart.

use serde::Serialize;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Events older than this are dropped (a day plus slack).
const KEEP: Duration = Duration::from_secs(26 * 3600);

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum QueueEvent {
    Offered,
    Answered {
        wait: Duration,
    },
    Abandoned {
        wait: Duration,
    },
    Overflowed,
    /// A call finished: talk plus wrap-up.
    Handled {
        time: Duration,
    },
}

impl QueueEvent {
    /// As stored: a kind and, for the timed kinds, seconds.
    pub fn to_row(self) -> (&'static str, Option<f64>) {
        match self {
            QueueEvent::Offered => ("offered", None),
            QueueEvent::Answered { wait } => ("answered", Some(wait.as_secs_f64())),
            QueueEvent::Abandoned { wait } => ("abandoned", Some(wait.as_secs_f64())),
            QueueEvent::Overflowed => ("overflowed", None),
            QueueEvent::Handled { time } => ("handled", Some(time.as_secs_f64())),
        }
    }

    /// Back from the store; `None` for a kind this version does not know.
    pub fn from_row(kind: &str, secs: Option<f64>) -> Option<QueueEvent> {
        let d = || Duration::try_from_secs_f64(secs.unwrap_or(0.0).max(0.0)).unwrap_or_default();
        Some(match kind {
            "offered" => QueueEvent::Offered,
            "answered" => QueueEvent::Answered { wait: d() },
            "abandoned" => QueueEvent::Abandoned { wait: d() },
            "overflowed" => QueueEvent::Overflowed,
            "handled" => QueueEvent::Handled { time: d() },
            _ => return None,
        })
    }
}

/// Figures over one period.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Period {
    pub offered: u64,
    pub answered: u64,
    pub abandoned: u64,
    pub overflowed: u64,
    /// Share of answered and abandoned calls answered within the service-level time, %.
    pub service_level_pct: Option<f64>,
    /// Average speed of answer, s.
    pub asa_s: Option<f64>,
    /// Average handle time (talk + wrap-up), s.
    pub aht_s: Option<f64>,
    pub abandon_pct: Option<f64>,
}

#[derive(Default)]
pub struct QueueLog {
    events: VecDeque<(Instant, QueueEvent)>,
    /// Pushed since the runtime last took them to the store.
    unsaved: Vec<(Instant, QueueEvent)>,
}

impl QueueLog {
    pub fn push(&mut self, at: Instant, ev: QueueEvent) {
        self.unsaved.push((at, ev));
        self.keep(at, ev);
    }

    /// An event read back from the store (not saved again). Restore in time order,
    /// before new events arrive.
    pub fn restore(&mut self, at: Instant, ev: QueueEvent) {
        self.keep(at, ev);
    }

    pub fn take_unsaved(&mut self) -> Vec<(Instant, QueueEvent)> {
        std::mem::take(&mut self.unsaved)
    }

    fn keep(&mut self, at: Instant, ev: QueueEvent) {
        while let Some((t, _)) = self.events.front() {
            if at.saturating_duration_since(*t) > KEEP {
                self.events.pop_front();
            } else {
                break;
            }
        }
        self.events.push_back((at, ev));
    }

    /// Figures for events at or after `since`.
    pub fn period(&self, since: Instant, service_level: Duration) -> Period {
        let mut p = Period::default();
        let (mut waits, mut within, mut handled, mut n_handled) =
            (Duration::ZERO, 0u64, Duration::ZERO, 0u64);
        for (_, ev) in self.events.iter().filter(|(t, _)| *t >= since) {
            match *ev {
                QueueEvent::Offered => p.offered += 1,
                QueueEvent::Answered { wait } => {
                    p.answered += 1;
                    waits += wait;
                    if wait <= service_level {
                        within += 1;
                    }
                }
                QueueEvent::Abandoned { .. } => p.abandoned += 1,
                QueueEvent::Overflowed => p.overflowed += 1,
                QueueEvent::Handled { time } => {
                    n_handled += 1;
                    handled += time;
                }
            }
        }
        let ratio = |a: u64, b: u64| (b > 0).then(|| 100.0 * a as f64 / b as f64);
        p.service_level_pct = ratio(within, p.answered + p.abandoned);
        p.asa_s = (p.answered > 0).then(|| waits.as_secs_f64() / p.answered as f64);
        p.aht_s = (n_handled > 0).then(|| handled.as_secs_f64() / n_handled as f64);
        p.abandon_pct = ratio(p.abandoned, p.offered);
        p
    }

    /// Average handle time of recent calls, for expected-wait estimates.
    pub fn recent_aht(&self, now: Instant) -> Option<Duration> {
        let since = now.checked_sub(Duration::from_secs(3600)).unwrap_or(now);
        self.period(since, Duration::ZERO)
            .aht_s
            .map(Duration::from_secs_f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_count_what_falls_inside_them() {
        let t0 = Instant::now();
        let mut log = QueueLog::default();
        let s = Duration::from_secs;
        log.push(t0, QueueEvent::Offered);
        log.push(t0 + s(5), QueueEvent::Answered { wait: s(5) });
        log.push(t0 + s(10), QueueEvent::Offered);
        log.push(t0 + s(40), QueueEvent::Answered { wait: s(30) });
        log.push(t0 + s(50), QueueEvent::Offered);
        log.push(t0 + s(60), QueueEvent::Abandoned { wait: s(10) });
        log.push(t0 + s(100), QueueEvent::Handled { time: s(120) });
        log.push(t0 + s(200), QueueEvent::Handled { time: s(60) });
        let p = log.period(t0, s(20));
        assert_eq!((p.offered, p.answered, p.abandoned), (3, 2, 1));
        assert_eq!(p.asa_s, Some(17.5));
        assert_eq!(p.aht_s, Some(90.0));
        let sl = p.service_level_pct.unwrap();
        assert!((sl - 100.0 / 3.0).abs() < 1e-9, "{sl}");
        let ab = p.abandon_pct.unwrap();
        assert!((ab - 100.0 / 3.0).abs() < 1e-9);
        let late = log.period(t0 + s(45), s(20));
        assert_eq!((late.offered, late.answered), (1, 0));
        assert_eq!(late.asa_s, None);
    }

    #[test]
    fn events_survive_the_round_trip_through_the_store_and_are_saved_once() {
        let t0 = Instant::now();
        let s = Duration::from_millis;
        let evs = [
            QueueEvent::Offered,
            QueueEvent::Answered { wait: s(7250) },
            QueueEvent::Abandoned { wait: s(30_000) },
            QueueEvent::Overflowed,
            QueueEvent::Handled { time: s(184_500) },
        ];
        let mut log = QueueLog::default();
        for e in evs {
            log.push(t0, e);
        }
        let unsaved = log.take_unsaved();
        assert_eq!(unsaved.len(), 5);
        assert!(log.take_unsaved().is_empty(), "taken once");
        let mut back = QueueLog::default();
        for (at, e) in unsaved {
            let (kind, secs) = e.to_row();
            back.restore(at, QueueEvent::from_row(kind, secs).unwrap());
        }
        assert!(
            back.take_unsaved().is_empty(),
            "restored events are not saved again"
        );
        assert_eq!(back.period(t0, s(20_000)), log.period(t0, s(20_000)));
        assert_eq!(QueueEvent::from_row("transferred", None), None);
    }
}
