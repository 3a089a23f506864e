//! The figures `GET /api/v1/queues/stats` shows, from the engine's queues and agents.

use super::{Acd, Waiting};
use crate::acd::stats::{Period, WINDOW};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// `GET /api/v1/queues/stats`, one entry per queue.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QueueStats {
    pub tenant: String,
    pub queue: String,
    pub waiting: usize,
    pub longest_wait_s: u64,
    /// Member agents by state name.
    pub agents: BTreeMap<String, u32>,
    pub last_15_min: Period,
    pub today: Period,
}

impl Acd {
    /// Live and period figures of every queue; `day_start` is local midnight.
    pub fn stats(&self, now: Instant, day_start: Instant) -> Vec<QueueStats> {
        self.queues
            .iter()
            .map(|((tenant, name), q)| {
                let waiting: Vec<&Waiting> = self
                    .waiting
                    .values()
                    .filter(|w| &w.tenant == tenant && &w.queue == name)
                    .collect();
                let longest = waiting
                    .iter()
                    .map(|w| now.saturating_duration_since(w.first))
                    .max()
                    .unwrap_or_default();
                let mut agents: BTreeMap<&'static str, u32> = BTreeMap::new();
                for (k, a) in &self.agents {
                    if self.member(&q.cfg, k) {
                        *agents.entry(a.state.name()).or_default() += 1;
                    }
                }
                let sl = Duration::from_secs(q.cfg.service_level_s);
                QueueStats {
                    tenant: tenant.clone(),
                    queue: name.clone(),
                    waiting: waiting.len(),
                    longest_wait_s: longest.as_secs(),
                    agents: agents
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect(),
                    last_15_min: q.log.period(now.checked_sub(WINDOW).unwrap_or(now), sl),
                    today: q.log.period(day_start, sl),
                }
            })
            .collect()
    }

    // ---- internals ----
}
