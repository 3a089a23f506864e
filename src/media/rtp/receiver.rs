//! The receive side of one call leg: checks each datagram, latches to the peer's real
//! address (symmetric RTP) and keeps the RFC 3550 statistics of the current source.
//!
//! Latching: the address in the peer's SDP is only a hint (NAT rewrites it). The leg
//! latches to the source of the first well-formed packet with an agreed payload type
//! and moves only when that source has been silent for more than [`RELATCH_AFTER`], so
//! a stray sender cannot take over a live call.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rtp_rs::RtpReader;

use super::stats::{DropCounts, RtpStats, SeqVerdict, SourceStats};
use super::{CLOCK_RATE, samples_in};

/// How long the latched source must be silent before another address may take over.
pub const RELATCH_AFTER: Duration = Duration::from_secs(1);

/// One accepted RTP packet, viewed in the datagram it came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received<'a> {
    pub ssrc: u32,
    pub seq: u16,
    pub timestamp: u32,
    pub marker: bool,
    pub payload_type: u8,
    /// The payload without header extension or padding.
    pub payload: &'a [u8],
}

/// Why a datagram was not accepted. Drops are normal on the public internet (scanners,
/// STUN, a late stream of a previous call): count them, do not log each one loudly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RtpDrop {
    #[error("datagram of {len} bytes is shorter than the 12-byte RTP header")]
    TooShort { len: usize },
    #[error("datagram is not RTP version 2 (version bits {version}); STUN or stray traffic")]
    NotRtp { version: u8 },
    #[error("RTP packet has truncated header extension, CSRC list or padding")]
    Malformed,
    #[error("RTP payload type {payload_type} was not agreed in SDP")]
    UnexpectedPayloadType { payload_type: u8 },
    #[error("RTP from {from} while the leg is latched to another live source")]
    WrongSource { from: SocketAddr },
    #[error("RTP sequence number {seq} jumps far from the stream; waiting for confirmation")]
    SequenceJump { seq: u16 },
}

/// Receive state of one call leg. See the module docs for latching.
#[derive(Debug, Clone)]
pub struct RtpReceiver {
    clock_rate: u32,
    /// Accepted payload types as a bit set; 0 accepts any (nothing negotiated yet).
    expected: u128,
    /// RFC 4733 events reuse one timestamp for many packets: kept out of the jitter.
    event_pt: Option<u8>,
    hint: Option<SocketAddr>,
    latched: Option<SocketAddr>,
    /// Last well-formed RTP from the latched address, whatever its payload type.
    latched_seen: Option<Instant>,
    last_packet: Option<Instant>,
    /// When media became due (answer), for inactivity before the first packet.
    armed: Option<Instant>,
    /// Origin of arrival times in timestamp units.
    epoch: Option<Instant>,
    source: Option<SourceStats>,
    packets: u64,
    octets: u64,
    source_changes: u32,
    relatches: u32,
    drops: DropCounts,
}

impl RtpReceiver {
    /// A receiver for an 8 kHz RTP clock (G.711 and telephone-event); `remote_hint` is
    /// the address from the peer's SDP.
    pub fn new(remote_hint: Option<SocketAddr>) -> Self {
        Self::with_clock_rate(remote_hint, CLOCK_RATE)
    }

    /// A receiver whose jitter is computed against `clock_rate` (Hz, at least 1).
    pub fn with_clock_rate(remote_hint: Option<SocketAddr>, clock_rate: u32) -> Self {
        Self {
            clock_rate: clock_rate.max(1),
            expected: 0,
            event_pt: None,
            hint: remote_hint,
            latched: None,
            latched_seen: None,
            last_packet: None,
            armed: None,
            epoch: None,
            source: None,
            packets: 0,
            octets: 0,
            source_changes: 0,
            relatches: 0,
            drops: DropCounts::default(),
        }
    }

    /// The payload types agreed in SDP (audio and telephone-event). Values above 127 are
    /// ignored. An empty list accepts any payload type.
    pub fn set_expected(&mut self, payload_types: &[u8]) {
        self.expected = payload_types
            .iter()
            .filter(|&&pt| pt < 128)
            .fold(0, |set, &pt| set | (1u128 << pt));
    }

    /// The RFC 4733 telephone-event payload type, whose packets are accepted (add it to
    /// [`set_expected`](Self::set_expected) too) but left out of the jitter figure.
    pub fn set_event_payload_type(&mut self, pt: Option<u8>) {
        self.event_pt = pt;
    }

    /// The address from the peer's SDP (again after a re-INVITE): where to send until a
    /// packet shows the real one.
    pub fn set_remote_hint(&mut self, addr: Option<SocketAddr>) {
        self.hint = addr;
    }

    /// Where to send media: the latched source, else the SDP hint.
    pub fn remote(&self) -> Option<SocketAddr> {
        self.latched.or(self.hint)
    }

    /// Whether a packet has shown the peer's real address yet.
    pub fn is_latched(&self) -> bool {
        self.latched.is_some()
    }

    /// Media is due from `now` (the call was answered): [`is_inactive`](Self::is_inactive)
    /// counts from here until the first packet arrives.
    pub fn expect_media_from(&mut self, now: Instant) {
        self.armed = Some(now);
    }

    /// Arrival time of the last accepted packet.
    pub fn last_packet(&self) -> Option<Instant> {
        self.last_packet
    }

    /// No accepted packet for longer than `timeout` (counted from
    /// [`expect_media_from`](Self::expect_media_from) before the first packet). False
    /// while nothing is armed and nothing has arrived.
    pub fn is_inactive(&self, now: Instant, timeout: Duration) -> bool {
        match self.last_packet.or(self.armed) {
            Some(since) => now.saturating_duration_since(since) > timeout,
            None => false,
        }
    }

    /// Check one datagram from `from`, arrived at `now`. The returned view borrows `data`.
    pub fn on_packet<'a>(
        &mut self,
        now: Instant,
        from: SocketAddr,
        data: &'a [u8],
    ) -> Result<Received<'a>, RtpDrop> {
        let result = self.check(now, from, data);
        if let Err(drop) = &result {
            let counter = match drop {
                RtpDrop::TooShort { .. } | RtpDrop::Malformed => &mut self.drops.malformed,
                RtpDrop::NotRtp { .. } => &mut self.drops.not_rtp,
                RtpDrop::UnexpectedPayloadType { .. } => &mut self.drops.unexpected_payload_type,
                RtpDrop::WrongSource { .. } => &mut self.drops.wrong_source,
                RtpDrop::SequenceJump { .. } => &mut self.drops.sequence_jump,
            };
            *counter += 1;
        }
        result
    }

    fn check<'a>(
        &mut self,
        now: Instant,
        from: SocketAddr,
        data: &'a [u8],
    ) -> Result<Received<'a>, RtpDrop> {
        if data.len() < RtpReader::MIN_HEADER_LEN {
            return Err(RtpDrop::TooShort { len: data.len() });
        }
        let version = data[0] >> 6;
        if version != 2 {
            return Err(RtpDrop::NotRtp { version });
        }
        let reader = RtpReader::new(data).map_err(|_| RtpDrop::Malformed)?;
        if self.latched == Some(from) {
            // Any RTP from the latched peer (comfort noise too) proves it alive.
            self.latched_seen = Some(now);
        }
        let payload_type = reader.payload_type();
        if self.expected != 0 && self.expected & (1u128 << payload_type) == 0 {
            return Err(RtpDrop::UnexpectedPayloadType { payload_type });
        }
        self.latch(now, from)?;

        let ssrc = reader.ssrc();
        let seq = u16::from(reader.sequence_number());
        let timestamp = reader.timestamp();
        self.last_packet = Some(now);
        let source = match &mut self.source {
            Some(source) if source.ssrc == ssrc => source,
            slot => {
                if slot.is_some() {
                    self.source_changes += 1;
                }
                slot.insert(SourceStats::new(ssrc, seq))
            }
        };
        if source.update_seq(seq) == SeqVerdict::Jump {
            return Err(RtpDrop::SequenceJump { seq });
        }
        if self.event_pt != Some(payload_type) {
            let epoch = *self.epoch.get_or_insert(now);
            // Arrival in timestamp units; the origin cancels out in A.8's differences.
            let arrival = samples_in(now.saturating_duration_since(epoch), self.clock_rate) as u32;
            source.update_jitter(arrival, timestamp);
        }
        let payload = reader.payload();
        self.packets += 1;
        self.octets += payload.len() as u64;
        Ok(Received {
            ssrc,
            seq,
            timestamp,
            marker: reader.mark(),
            payload_type,
            payload,
        })
    }

    fn latch(&mut self, now: Instant, from: SocketAddr) -> Result<(), RtpDrop> {
        match self.latched {
            Some(addr) if addr == from => return Ok(()),
            Some(_) => {
                let silent = self
                    .latched_seen
                    .is_none_or(|seen| now.saturating_duration_since(seen) > RELATCH_AFTER);
                if !silent {
                    return Err(RtpDrop::WrongSource { from });
                }
                self.relatches += 1;
            }
            None => {}
        }
        self.latched = Some(from);
        self.latched_seen = Some(now);
        Ok(())
    }

    /// Statistics now; the fraction lost covers the time since the last
    /// [`take_report`](Self::take_report).
    pub fn stats(&self) -> RtpStats {
        let mut stats = RtpStats {
            ssrc: None,
            clock_rate: self.clock_rate,
            packets: self.packets,
            octets: self.octets,
            source_changes: self.source_changes,
            relatches: self.relatches,
            drops: self.drops,
            ..RtpStats::default()
        };
        if let Some(source) = &self.source {
            let (expected, received, lost, fraction) = source.loss();
            stats.ssrc = Some(source.ssrc);
            stats.extended_highest_seq = source.extended_max();
            stats.expected = expected;
            stats.received = received;
            stats.cumulative_lost = lost;
            stats.fraction_lost = fraction;
            stats.jitter = source.jitter();
        }
        stats
    }

    /// Statistics for a reception report, then start a new loss interval (RFC 3550 A.3).
    pub fn take_report(&mut self) -> RtpStats {
        let stats = self.stats();
        if let Some(source) = &mut self.source {
            source.roll_interval();
        }
        stats
    }
}

#[cfg(test)]
#[path = "receiver_tests.rs"]
mod tests;
