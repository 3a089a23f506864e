//! The send side of one call leg: SSRC, sequence number and media clock, written as a
//! 12-byte RTP header plus payload into a buffer the worker owns (no allocation).

use rtp_rs::{RtpPacketBuildError, RtpPacketBuilder, Seq};

/// Why a packet could not be written. Both are caller mistakes, never peer input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RtpWriteError {
    #[error("output buffer of {have} bytes is too small for a {need}-byte RTP packet")]
    BufferTooSmall { need: usize, have: usize },
    #[error("RTP payload type {0} is out of range: payload types are 0-127")]
    PayloadType(u8),
}

/// RTP packet writer for one leg. The SSRC, first sequence number and first timestamp
/// come from a seed (RFC 3550 wants them random; the worker passes a random seed, tests
/// a fixed one).
#[derive(Debug, Clone)]
pub struct RtpSender {
    ssrc: u32,
    seq: u16,
    /// Timestamp of the next [`write`](Self::write).
    timestamp: u32,
    last_timestamp: Option<u32>,
    packets: u32,
    octets: u32,
}

/// SplitMix64: spreads any seed (even 0 or 1) over all 64 bits.
pub(crate) fn mix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl RtpSender {
    pub fn new(seed: u64) -> Self {
        let mut state = seed;
        let a = mix64(&mut state);
        let b = mix64(&mut state);
        Self {
            ssrc: (a >> 32) as u32,
            seq: a as u16,
            timestamp: (b >> 32) as u32,
            last_timestamp: None,
            packets: 0,
            octets: 0,
        }
    }

    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// Sequence number of the next packet.
    pub fn next_seq(&self) -> u16 {
        self.seq
    }

    /// The media clock now: the timestamp the next [`write`](Self::write) will carry. An
    /// RFC 4733 event starting now takes this as its timestamp.
    pub fn timestamp(&self) -> u32 {
        self.timestamp
    }

    /// Timestamp of the last packet written (for sender reports).
    pub fn last_timestamp(&self) -> Option<u32> {
        self.last_timestamp
    }

    /// Packets written so far (sender report packet count, wraps).
    pub fn packets_sent(&self) -> u32 {
        self.packets
    }

    /// Payload octets written so far (sender report octet count, wraps).
    pub fn octets_sent(&self) -> u32 {
        self.octets
    }

    /// Write a packet stamped with the media clock, then move the clock on by
    /// `timestamp_advance` (160 after a 20 ms frame at 8 kHz). Returns the packet length.
    /// On error nothing is written and no counter moves.
    pub fn write(
        &mut self,
        pt: u8,
        marker: bool,
        timestamp_advance: u32,
        payload: &[u8],
        out: &mut [u8],
    ) -> Result<usize, RtpWriteError> {
        self.write_with_timestamp(pt, marker, self.timestamp, timestamp_advance, payload, out)
    }

    /// Write a packet with an explicit timestamp (RFC 4733 event packets repeat their
    /// event's start), then move the media clock on by `timestamp_advance` (160 when the
    /// event packet replaces a 20 ms audio frame). On error nothing moves.
    pub fn write_with_timestamp(
        &mut self,
        pt: u8,
        marker: bool,
        timestamp: u32,
        timestamp_advance: u32,
        payload: &[u8],
        out: &mut [u8],
    ) -> Result<usize, RtpWriteError> {
        if pt > 127 {
            return Err(RtpWriteError::PayloadType(pt));
        }
        // The builder is a stack value and `build_into` writes into `out`: no allocation.
        let builder = RtpPacketBuilder::new()
            .payload_type(pt)
            .marked(marker)
            .sequence(Seq::from(self.seq))
            .timestamp(timestamp)
            .ssrc(self.ssrc)
            .payload(payload);
        let len = builder.build_into(out).map_err(|e| match e {
            RtpPacketBuildError::PayloadTypeInvalid => RtpWriteError::PayloadType(pt),
            _ => RtpWriteError::BufferTooSmall {
                need: builder.target_length(),
                have: out.len(),
            },
        })?;
        self.seq = self.seq.wrapping_add(1);
        self.timestamp = self.timestamp.wrapping_add(timestamp_advance);
        self.last_timestamp = Some(timestamp);
        self.packets = self.packets.wrapping_add(1);
        self.octets = self.octets.wrapping_add(payload.len() as u32);
        Ok(len)
    }

    /// Move the media clock on without sending (time spent on hold).
    pub fn advance(&mut self, samples: u32) {
        self.timestamp = self.timestamp.wrapping_add(samples);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtp_rs::RtpReader;

    #[test]
    fn writes_a_header_the_reader_understands() {
        let mut sender = RtpSender::new(7);
        let first_seq = sender.next_seq();
        let first_ts = sender.timestamp();
        let payload = [0xd5u8; 160];
        let mut out = [0u8; 200];
        let len = sender.write(8, true, 160, &payload, &mut out).unwrap();
        assert_eq!(len, 172);
        let packet = RtpReader::new(&out[..len]).unwrap();
        assert_eq!(packet.version(), 2);
        assert_eq!(packet.payload_type(), 8);
        assert!(packet.mark());
        assert_eq!(u16::from(packet.sequence_number()), first_seq);
        assert_eq!(packet.timestamp(), first_ts);
        assert_eq!(packet.ssrc(), sender.ssrc());
        assert_eq!(packet.payload(), &payload[..]);

        let len = sender.write(8, false, 160, &payload, &mut out).unwrap();
        let packet = RtpReader::new(&out[..len]).unwrap();
        assert_eq!(
            u16::from(packet.sequence_number()),
            first_seq.wrapping_add(1)
        );
        assert_eq!(packet.timestamp(), first_ts.wrapping_add(160));
        assert!(!packet.mark());
        assert_eq!(sender.packets_sent(), 2);
        assert_eq!(sender.octets_sent(), 320);
        assert_eq!(sender.last_timestamp(), Some(first_ts.wrapping_add(160)));
        assert_eq!(sender.timestamp(), first_ts.wrapping_add(320));
    }

    #[test]
    fn seeds_give_distinct_reproducible_starts() {
        let a = RtpSender::new(1);
        let b = RtpSender::new(2);
        assert_ne!(a.ssrc(), b.ssrc());
        assert_ne!(a.timestamp(), b.timestamp());
        let again = RtpSender::new(1);
        assert_eq!(
            (a.ssrc(), a.next_seq(), a.timestamp()),
            (again.ssrc(), again.next_seq(), again.timestamp())
        );
        // Seed 0 still gives a non-zero SSRC (SplitMix spreads it).
        assert_ne!(RtpSender::new(0).ssrc(), 0);
    }

    #[test]
    fn event_packets_reuse_a_timestamp_while_the_clock_runs() {
        let mut sender = RtpSender::new(3);
        let start = sender.timestamp();
        let mut out = [0u8; 64];
        for i in 0..3u8 {
            let len = sender
                .write_with_timestamp(101, i == 0, start, 160, &[5, 10, 0, 160], &mut out)
                .unwrap();
            assert_eq!(RtpReader::new(&out[..len]).unwrap().timestamp(), start);
        }
        assert_eq!(sender.timestamp(), start.wrapping_add(480));
        assert_eq!(sender.packets_sent(), 3);
        // Silence on hold: the clock runs without packets.
        sender.advance(8000);
        assert_eq!(sender.timestamp(), start.wrapping_add(8480));
    }

    #[test]
    fn sequence_and_timestamp_wrap() {
        let mut sender = RtpSender::new(9);
        sender.seq = u16::MAX;
        sender.timestamp = u32::MAX - 100;
        let mut out = [0u8; 200];
        sender.write(0, false, 160, &[0xff; 160], &mut out).unwrap();
        assert_eq!(sender.next_seq(), 0);
        assert_eq!(sender.timestamp(), 59);
    }

    #[test]
    fn bad_calls_write_nothing() {
        let mut sender = RtpSender::new(4);
        let seq = sender.next_seq();
        let mut small = [0u8; 100];
        assert_eq!(
            sender.write(8, false, 160, &[0; 160], &mut small),
            Err(RtpWriteError::BufferTooSmall {
                need: 172,
                have: 100
            })
        );
        let mut out = [0u8; 200];
        assert_eq!(
            sender.write(128, false, 160, &[0; 160], &mut out),
            Err(RtpWriteError::PayloadType(128))
        );
        assert_eq!(sender.next_seq(), seq);
        assert_eq!(sender.packets_sent(), 0);
    }
}
