//! Call quality as a MOS estimate, from the simplified ITU-T G.107 E-model for G.711:
//! R = R_default - Id(one-way delay) - Ie,eff(loss), then G.107's R → MOS mapping.
//!
//! Constants (and why):
//! - [`R_DEFAULT`] 93.2: G.107's R with every parameter at its default (no noise, no
//!   echo, Is and Ro defaults), the best a narrow-band call can score.
//! - Id: the Cole–Rosenbluth (2001) fit of G.107's delay impairment,
//!   `0.024·Ta + 0.11·(Ta − 177.3)·H(Ta − 177.3)`, Ta = one-way mouth-to-ear delay in ms.
//! - [`IE_G711`] 0: G.711 has no codec impairment (G.113 Appendix I).
//! - [`BPL_G711_PLC`] 25.1: G.711 with packet loss concealment, random loss (G.113
//!   Appendix I); without PLC it would be 4.3. `BurstR` is 1 (random loss).
//! - One-way delay: half the RTCP round trip, plus the jitter buffer, plus
//!   [`PACKETIZATION_MS`] for the 20 ms frame.

use std::time::Duration;

use super::{JitterStats, RtpStats};

pub const R_DEFAULT: f64 = 93.2;
pub const IE_G711: f64 = 0.0;
pub const BPL_G711_PLC: f64 = 25.1;
pub const PACKETIZATION_MS: f64 = 20.0;
/// Jitter buffer assumed when none is measured: 2× jitter, within 20–200 ms.
const JB_MIN_MS: f64 = 20.0;
const JB_MAX_MS: f64 = 200.0;

/// What the estimate is made from.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct QualityInput {
    /// Packets lost in percent, counting those the jitter buffer dropped as late.
    pub loss_percent: f64,
    /// Interarrival jitter in ms.
    pub jitter_ms: f64,
    /// RTCP round-trip time, when measured (else the network delay counts as 0).
    pub rtt_ms: Option<f64>,
    /// The jitter buffer's delay, when known (else 2× jitter, 20–200 ms).
    pub jitter_buffer_ms: Option<f64>,
}

impl QualityInput {
    /// From a leg's receive statistics, its jitter buffer and the RTCP round trip.
    pub fn from_stats(rtp: &RtpStats, jitter: Option<&JitterStats>, rtt: Option<Duration>) -> Self {
        let late = jitter.map_or(0, |j| j.late);
        let lost = i64::from(rtp.cumulative_lost).max(0) as f64 + late as f64;
        let loss_percent = if rtp.expected == 0 {
            0.0
        } else {
            lost * 100.0 / f64::from(rtp.expected)
        };
        Self {
            loss_percent,
            jitter_ms: rtp.jitter_ms(),
            rtt_ms: rtt.map(|d| d.as_secs_f64() * 1000.0),
            // The target, not the current delay: read at hang-up, when the stream has
            // stopped, the current delay only says how long ago the last packet came.
            jitter_buffer_ms: jitter.map(|j| f64::from(j.target_ms)),
        }
    }

    /// One-way mouth-to-ear delay in ms.
    pub fn one_way_delay_ms(&self) -> f64 {
        let network = finite(self.rtt_ms.unwrap_or(0.0)).max(0.0) / 2.0;
        let buffer = match self.jitter_buffer_ms {
            Some(ms) => finite(ms).max(0.0),
            None => (2.0 * finite(self.jitter_ms)).clamp(JB_MIN_MS, JB_MAX_MS),
        };
        network + buffer + PACKETIZATION_MS
    }

    /// The E-model transmission rating R (may fall below 0 for hopeless calls).
    pub fn r_factor(&self) -> f64 {
        let ta = self.one_way_delay_ms();
        let id = 0.024 * ta + if ta > 177.3 { 0.11 * (ta - 177.3) } else { 0.0 };
        let ppl = finite(self.loss_percent).clamp(0.0, 100.0);
        let ie_eff = IE_G711 + (95.0 - IE_G711) * ppl / (ppl + BPL_G711_PLC);
        R_DEFAULT - id - ie_eff
    }

    /// Estimated MOS, 1.0–4.5.
    pub fn mos(&self) -> f64 {
        mos_from_r(self.r_factor())
    }
}

/// Shorthand: MOS from loss %, jitter ms and round trip ms (0 when unmeasured), with
/// the jitter buffer taken as 2× jitter.
pub fn mos(loss_percent: f64, jitter_ms: f64, rtt_ms: f64) -> f64 {
    QualityInput {
        loss_percent,
        jitter_ms,
        rtt_ms: Some(rtt_ms),
        jitter_buffer_ms: None,
    }
    .mos()
}

/// G.107's R → MOS mapping, 1.0 at R ≤ 0 up to 4.5 at R ≥ 100.
pub fn mos_from_r(r: f64) -> f64 {
    if r.is_nan() || r <= 0.0 {
        1.0
    } else if r >= 100.0 {
        4.5
    } else {
        (1.0 + 0.035 * r + r * (r - 60.0) * (100.0 - r) * 7e-6).clamp(1.0, 4.5)
    }
}

fn finite(x: f64) -> f64 {
    if x.is_finite() { x } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(loss: f64, jitter: f64, rtt: f64) -> QualityInput {
        QualityInput {
            loss_percent: loss,
            jitter_ms: jitter,
            rtt_ms: Some(rtt),
            jitter_buffer_ms: None,
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 0.01
    }

    #[test]
    fn r_to_mos_matches_g107_points() {
        assert_eq!(mos_from_r(-5.0), 1.0);
        assert_eq!(mos_from_r(0.0), 1.0);
        assert_eq!(mos_from_r(100.0), 4.5);
        assert_eq!(mos_from_r(f64::NAN), 1.0);
        // 1 + 0.035·50 + 50·(−10)·50·7e-6 = 2.575
        assert!(close(mos_from_r(50.0), 2.575));
        // 93.2, the default R, is about 4.41.
        assert!(close(mos_from_r(93.2), 4.409), "{}", mos_from_r(93.2));
    }

    #[test]
    fn a_clean_call_scores_about_4_4() {
        let q = input(0.0, 0.0, 0.0);
        // 20 ms buffer + 20 ms frame: Id = 0.96, R = 92.24.
        assert!(close(q.one_way_delay_ms(), 40.0));
        assert!(close(q.r_factor(), 92.24));
        assert!(close(q.mos(), 4.389), "{}", q.mos());
    }

    #[test]
    fn loss_costs_what_g113_says() {
        // 5 % random loss with PLC: Ie,eff = 95·5/30.1 = 15.78, R = 76.46, MOS ≈ 3.88.
        let q = input(5.0, 0.0, 0.0);
        assert!(close(q.r_factor(), 92.24 - 95.0 * 5.0 / 30.1));
        assert!((3.85..3.92).contains(&q.mos()), "{}", q.mos());
        // 20 % loss is a poor call.
        assert!((2.4..2.8).contains(&input(20.0, 0.0, 0.0).mos()));
        // Total loss is as bad as it gets.
        assert!(input(100.0, 0.0, 0.0).mos() < 1.5);
    }

    #[test]
    fn long_delay_costs_beyond_177_ms() {
        // RTT 600 ms: Ta = 300 + 20 + 20 = 340, Id = 8.16 + 0.11·162.7 = 26.06.
        let q = input(0.0, 0.0, 600.0);
        assert!(close(q.r_factor(), 93.2 - 26.057));
        assert!((3.4..3.55).contains(&q.mos()), "{}", q.mos());
    }

    #[test]
    fn shorthand_matches_the_full_input() {
        assert_eq!(mos(5.0, 10.0, 80.0), input(5.0, 10.0, 80.0).mos());
    }

    #[test]
    fn worse_networks_score_lower() {
        let mut last = 5.0;
        for loss in [0.0, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0] {
            let mos = input(loss, 10.0, 80.0).mos();
            assert!(mos < last, "loss {loss}: {mos} !< {last}");
            last = mos;
        }
        let mut last = 5.0;
        for jitter in [0.0, 20.0, 50.0, 100.0, 150.0] {
            let mos = input(1.0, jitter, 50.0).mos();
            assert!(mos <= last, "jitter {jitter}");
            last = mos;
        }
    }

    #[test]
    fn nonsense_inputs_stay_in_range() {
        for q in [
            input(f64::NAN, f64::INFINITY, -5.0),
            input(-10.0, -1.0, f64::NAN),
            input(1e9, 1e9, 1e9),
        ] {
            let mos = q.mos();
            assert!((1.0..=4.5).contains(&mos), "{q:?} -> {mos}");
        }
    }

    #[test]
    fn from_leg_statistics() {
        let rtp = RtpStats {
            ssrc: Some(1),
            clock_rate: 8000,
            expected: 1000,
            cumulative_lost: 20,
            jitter: 80,
            ..RtpStats::default()
        };
        let jb = JitterStats {
            late: 10,
            target_ms: 60,
            ..JitterStats::default()
        };
        let q = QualityInput::from_stats(&rtp, Some(&jb), Some(Duration::from_millis(100)));
        assert!(close(q.loss_percent, 3.0));
        assert!(close(q.jitter_ms, 10.0));
        assert!(close(q.one_way_delay_ms(), 50.0 + 60.0 + 20.0));
        let without = QualityInput::from_stats(&rtp, None, None);
        assert!(close(without.loss_percent, 2.0));
        assert!(close(without.one_way_delay_ms(), 20.0 + 20.0));
    }
}
