//! RFC 3550 receiver statistics for one synchronization source: sequence validation and
//! extension (appendix A.1), loss figures for reception reports (A.3) and interarrival
//! jitter (A.8). Pure integer arithmetic; the receiver feeds it one packet at a time.

/// A.1: a jump of less than this many sequence numbers ahead is in order (with a gap).
const MAX_DROPOUT: u16 = 3000;
/// A.1: up to this many sequence numbers behind the highest is a reordered packet.
const MAX_MISORDER: u16 = 100;
/// A.1: in-order packets needed before a new source is believed.
const MIN_SEQUENTIAL: u32 = 2;
const SEQ_MOD: u32 = 1 << 16;

/// What the sequence check made of one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SeqVerdict {
    /// In order, reordered or duplicate: counted.
    Counted,
    /// The source is still on probation (A.1): not counted yet, but plausible.
    Probation,
    /// A jump of thousands of sequence numbers: ignored unless the next packet confirms it.
    Jump,
}

/// Figures for one source (SSRC), as in RFC 3550 appendix A.1.
#[derive(Debug, Clone)]
pub(crate) struct SourceStats {
    pub(crate) ssrc: u32,
    max_seq: u16,
    /// Sequence number wraps, shifted left 16 (A.1 `cycles`).
    cycles: u32,
    base_seq: u32,
    /// The sequence number after a suspected restart (A.1 `bad_seq`).
    bad_seq: u32,
    probation: u32,
    received: u32,
    expected_prior: u32,
    received_prior: u32,
    /// Relative transit time of the previous packet, in timestamp units (A.8).
    transit: Option<u32>,
    /// Interarrival jitter in timestamp units, scaled by 16 (A.8's integer form).
    jitter16: u64,
}

impl SourceStats {
    /// A new source, on probation from its first packet `seq`.
    pub(crate) fn new(ssrc: u32, seq: u16) -> Self {
        Self {
            ssrc,
            max_seq: seq.wrapping_sub(1),
            cycles: 0,
            base_seq: u32::from(seq),
            bad_seq: SEQ_MOD + 1,
            probation: MIN_SEQUENTIAL,
            received: 0,
            expected_prior: 0,
            received_prior: 0,
            transit: None,
            jitter16: 0,
        }
    }

    fn init_seq(&mut self, seq: u16) {
        self.base_seq = u32::from(seq);
        self.max_seq = seq;
        self.bad_seq = SEQ_MOD + 1;
        self.cycles = 0;
        self.received = 0;
        self.received_prior = 0;
        self.expected_prior = 0;
        // A restarted stream has new timestamps too; its first transit must not count
        // as jitter against the old stream's.
        self.transit = None;
    }

    /// A.1 `update_seq`.
    pub(crate) fn update_seq(&mut self, seq: u16) -> SeqVerdict {
        let udelta = seq.wrapping_sub(self.max_seq);
        if self.probation > 0 {
            if seq == self.max_seq.wrapping_add(1) {
                self.probation -= 1;
                self.max_seq = seq;
                if self.probation == 0 {
                    self.init_seq(seq);
                    self.received += 1;
                    return SeqVerdict::Counted;
                }
            } else {
                self.probation = MIN_SEQUENTIAL - 1;
                self.max_seq = seq;
            }
            return SeqVerdict::Probation;
        }
        if udelta < MAX_DROPOUT {
            if seq < self.max_seq {
                self.cycles = self.cycles.wrapping_add(SEQ_MOD);
            }
            self.max_seq = seq;
        } else if u32::from(udelta) <= SEQ_MOD - u32::from(MAX_MISORDER) {
            if u32::from(seq) == self.bad_seq {
                // Two packets in a row after the jump: the sender restarted its sequence.
                self.init_seq(seq);
            } else {
                self.bad_seq = (u32::from(seq) + 1) & (SEQ_MOD - 1);
                return SeqVerdict::Jump;
            }
        }
        // Otherwise a duplicate or reordered packet: counted, highest unchanged.
        self.received = self.received.wrapping_add(1);
        SeqVerdict::Counted
    }

    /// A.8: `arrival` is the arrival time in timestamp units (any fixed origin, wrapping).
    pub(crate) fn update_jitter(&mut self, arrival: u32, timestamp: u32) {
        let transit = arrival.wrapping_sub(timestamp);
        if let Some(prev) = self.transit {
            let d = u64::from((transit.wrapping_sub(prev) as i32).unsigned_abs());
            // J += (|D| - J) / 16, kept scaled by 16 so no precision is lost; u64 so
            // even absurd transit swings cannot overflow.
            self.jitter16 = self.jitter16 + d - ((self.jitter16 + 8) >> 4);
        }
        self.transit = Some(transit);
    }

    /// Start a new reporting interval (after a reception report went out).
    pub(crate) fn roll_interval(&mut self) {
        if self.probation == 0 {
            self.expected_prior = self.expected();
            self.received_prior = self.received;
        }
    }

    pub(crate) fn extended_max(&self) -> u32 {
        self.cycles.wrapping_add(u32::from(self.max_seq))
    }

    fn expected(&self) -> u32 {
        self.extended_max()
            .wrapping_sub(self.base_seq)
            .wrapping_add(1)
    }

    /// A.3 figures: (expected, received, cumulative lost, fraction lost this interval).
    pub(crate) fn loss(&self) -> (u32, u32, i32, u8) {
        if self.probation > 0 {
            return (0, 0, 0, 0);
        }
        let expected = self.expected();
        let lost = i64::from(expected) - i64::from(self.received);
        // The report field is 24-bit signed.
        let lost = lost.clamp(-0x80_0000, 0x7f_ffff) as i32;
        let expected_interval = i64::from(expected.wrapping_sub(self.expected_prior));
        let received_interval = i64::from(self.received.wrapping_sub(self.received_prior));
        let lost_interval = expected_interval - received_interval;
        let fraction = if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / expected_interval).min(255) as u8
        };
        (expected, self.received, lost, fraction)
    }

    /// Interarrival jitter in timestamp units.
    pub(crate) fn jitter(&self) -> u32 {
        u32::try_from(self.jitter16 >> 4).unwrap_or(u32::MAX)
    }
}

/// Packets the receiver dropped, by reason (none of them is an error worth a loud log).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DropCounts {
    /// Shorter than the 12-byte RTP header, or truncated headers/padding.
    pub malformed: u64,
    /// Not RTP version 2 (STUN, stray traffic).
    pub not_rtp: u64,
    /// A payload type the SDP did not agree.
    pub unexpected_payload_type: u64,
    /// From another address while the latched source is alive.
    pub wrong_source: u64,
    /// A sequence jump not (yet) confirmed by a following packet.
    pub sequence_jump: u64,
}

/// A snapshot of one leg's receive statistics (RFC 3550 A.1/A.3/A.8) for the current
/// source, plus counters over the whole leg.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RtpStats {
    /// The current source; `None` before the first accepted packet.
    pub ssrc: Option<u32>,
    /// RTP clock rate the jitter is expressed in.
    pub clock_rate: u32,
    /// Extended highest sequence number received (wrap count in the high 16 bits).
    pub extended_highest_seq: u32,
    /// Packets expected from the current source since it was validated.
    pub expected: u32,
    /// Packets received from the current source (duplicates included, as in A.3).
    pub received: u32,
    /// `expected - received`, clamped to 24-bit signed; negative with duplicates.
    pub cumulative_lost: i32,
    /// Fraction lost since the last reception report, in 1/256.
    pub fraction_lost: u8,
    /// Interarrival jitter in timestamp units.
    pub jitter: u32,
    /// Packets accepted on this leg (all sources).
    pub packets: u64,
    /// Payload octets accepted on this leg (all sources).
    pub octets: u64,
    /// How many times the SSRC changed after the first source.
    pub source_changes: u32,
    /// How many times the leg re-latched to a new remote address.
    pub relatches: u32,
    pub drops: DropCounts,
}

impl RtpStats {
    /// Interarrival jitter in milliseconds.
    pub fn jitter_ms(&self) -> f64 {
        if self.clock_rate == 0 {
            return 0.0;
        }
        f64::from(self.jitter) * 1000.0 / f64::from(self.clock_rate)
    }

    /// Cumulative loss of the current source in percent (0 with duplicates outweighing).
    pub fn loss_percent(&self) -> f64 {
        if self.expected == 0 || self.cumulative_lost <= 0 {
            return 0.0;
        }
        f64::from(self.cumulative_lost) * 100.0 / f64::from(self.expected)
    }

    /// Loss since the last reception report in percent.
    pub fn fraction_lost_percent(&self) -> f64 {
        f64::from(self.fraction_lost) * 100.0 / 256.0
    }
}
