//! RTCP wire format (RFC 3550 section 6): build a compound report (SR or RR with at
//! most one report block, SDES CNAME, optional BYE) into a caller buffer, and read
//! incoming compound packets without allocating.
//!
//! On G.711 trunks RTCP travels on the RTP port + 1 (no rtcp-mux); the worker owns that
//! socket. [`super::session`] decides when to send and works out the round-trip time.

use super::RtpStats;

const VERSION: u8 = 2;
pub const PT_SR: u8 = 200;
pub const PT_RR: u8 = 201;
pub const PT_SDES: u8 = 202;
pub const PT_BYE: u8 = 203;
const SDES_CNAME: u8 = 1;
const BLOCK_LEN: usize = 24;
const SENDER_INFO_LEN: usize = 20;

/// A malformed RTCP datagram, or a report that does not fit the caller's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RtcpError {
    #[error("RTCP packet at byte {at} is shorter than its 4-byte header")]
    Truncated { at: usize },
    #[error("RTCP packet at byte {at} is version {version}, not 2")]
    Version { at: usize, version: u8 },
    #[error("RTCP packet at byte {at} claims {claimed} bytes but only {left} remain")]
    Length {
        at: usize,
        claimed: usize,
        left: usize,
    },
    #[error("RTCP {packet_type} packet at byte {at} is too short for its {count} report blocks")]
    Blocks {
        at: usize,
        packet_type: u8,
        count: u8,
    },
    #[error("output buffer of {have} bytes is too small for a {need}-byte RTCP report")]
    BufferTooSmall { need: usize, have: usize },
    #[error("CNAME of {0} bytes is too long: SDES items hold at most 255 bytes")]
    CnameTooLong(usize),
}

/// The sender-info part of an SR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderInfo {
    /// Wall clock as a 64-bit NTP timestamp (seconds since 1900 in the high 32 bits).
    pub ntp: u64,
    /// The same instant on the RTP media clock.
    pub rtp_timestamp: u32,
    pub packet_count: u32,
    pub octet_count: u32,
}

/// One reception report block: what the reporter saw of source `ssrc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportBlock {
    pub ssrc: u32,
    /// Fraction lost since the previous report, in 1/256.
    pub fraction_lost: u8,
    /// Cumulative packets lost (24-bit signed).
    pub cumulative_lost: i32,
    pub extended_highest_seq: u32,
    /// Interarrival jitter in timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the NTP time of the last SR received from `ssrc` (0: none).
    pub last_sr: u32,
    /// Delay since that SR, in 1/65536 s.
    pub delay_since_last_sr: u32,
}

impl ReportBlock {
    /// The block for our receive statistics, or `None` before any source was heard.
    pub fn from_stats(stats: &RtpStats, last_sr: u32, delay_since_last_sr: u32) -> Option<Self> {
        Some(Self {
            ssrc: stats.ssrc?,
            fraction_lost: stats.fraction_lost,
            cumulative_lost: stats.cumulative_lost,
            extended_highest_seq: stats.extended_highest_seq,
            jitter: stats.jitter,
            last_sr,
            delay_since_last_sr,
        })
    }

    fn write(&self, out: &mut [u8]) {
        put32(out, 0, self.ssrc);
        let lost = (self.cumulative_lost.clamp(-0x80_0000, 0x7f_ffff) as u32) & 0x00ff_ffff;
        put32(out, 4, u32::from(self.fraction_lost) << 24 | lost);
        put32(out, 8, self.extended_highest_seq);
        put32(out, 12, self.jitter);
        put32(out, 16, self.last_sr);
        put32(out, 20, self.delay_since_last_sr);
    }

    fn read(b: &[u8]) -> Self {
        let word = get32(b, 4);
        // Sign-extend the 24-bit count.
        let cumulative_lost = ((word << 8) as i32) >> 8;
        Self {
            ssrc: get32(b, 0),
            fraction_lost: (word >> 24) as u8,
            cumulative_lost,
            extended_highest_seq: get32(b, 8),
            jitter: get32(b, 12),
            last_sr: get32(b, 16),
            delay_since_last_sr: get32(b, 20),
        }
    }
}

/// A compound report to write: SR when `sender` is set (we sent media since the last
/// report), else RR; then SDES CNAME; then BYE when leaving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report<'a> {
    pub ssrc: u32,
    pub sender: Option<SenderInfo>,
    pub block: Option<ReportBlock>,
    pub cname: &'a str,
    pub bye: bool,
}

impl Report<'_> {
    /// Bytes [`write`](Self::write) needs.
    pub fn encoded_len(&self) -> usize {
        let report =
            8 + if self.sender.is_some() {
                SENDER_INFO_LEN
            } else {
                0
            } + if self.block.is_some() { BLOCK_LEN } else { 0 };
        // SDES: header, SSRC, CNAME item (type, length, text), END, padded to 32 bits.
        let sdes = 4 + (4 + 2 + self.cname.len() + 1).next_multiple_of(4);
        report + sdes + if self.bye { 8 } else { 0 }
    }

    /// Write the compound packet into `out`; returns its length.
    pub fn write(&self, out: &mut [u8]) -> Result<usize, RtcpError> {
        if self.cname.len() > 255 {
            return Err(RtcpError::CnameTooLong(self.cname.len()));
        }
        let need = self.encoded_len();
        if out.len() < need {
            return Err(RtcpError::BufferTooSmall {
                need,
                have: out.len(),
            });
        }
        let out = &mut out[..need];
        let count = u8::from(self.block.is_some());
        let mut at = 0;

        let (pt, body) = match &self.sender {
            Some(_) => (PT_SR, 4 + SENDER_INFO_LEN),
            None => (PT_RR, 4),
        };
        let len = 4 + body + usize::from(count) * BLOCK_LEN;
        header(&mut out[at..], count, pt, len);
        put32(out, at + 4, self.ssrc);
        if let Some(info) = &self.sender {
            put32(out, at + 8, (info.ntp >> 32) as u32);
            put32(out, at + 12, info.ntp as u32);
            put32(out, at + 16, info.rtp_timestamp);
            put32(out, at + 20, info.packet_count);
            put32(out, at + 24, info.octet_count);
        }
        if let Some(block) = &self.block {
            block.write(&mut out[at + 4 + body..]);
        }
        at += len;

        let sdes_len = 4 + (4 + 2 + self.cname.len() + 1).next_multiple_of(4);
        header(&mut out[at..], 1, PT_SDES, sdes_len);
        put32(out, at + 4, self.ssrc);
        out[at + 8] = SDES_CNAME;
        out[at + 9] = self.cname.len() as u8;
        let text = at + 10;
        out[text..text + self.cname.len()].copy_from_slice(self.cname.as_bytes());
        // END item and padding are zero octets.
        out[text + self.cname.len()..at + sdes_len].fill(0);
        at += sdes_len;

        if self.bye {
            header(&mut out[at..], 1, PT_BYE, 8);
            put32(out, at + 4, self.ssrc);
            at += 8;
        }
        Ok(at)
    }
}

/// One packet of a compound RTCP datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtcpPacket<'a> {
    SenderReport {
        ssrc: u32,
        info: SenderInfo,
        blocks: ReportBlocks<'a>,
    },
    ReceiverReport {
        ssrc: u32,
        blocks: ReportBlocks<'a>,
    },
    /// Sources leaving (the first SSRC listed; usually the only one).
    Bye {
        ssrc: Option<u32>,
    },
    /// SDES, APP, feedback and anything newer: skipped.
    Other {
        packet_type: u8,
    },
}

/// The report blocks of an SR or RR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportBlocks<'a> {
    data: &'a [u8],
}

impl Iterator for ReportBlocks<'_> {
    type Item = ReportBlock;

    fn next(&mut self) -> Option<ReportBlock> {
        if self.data.len() < BLOCK_LEN {
            return None;
        }
        let (block, rest) = self.data.split_at(BLOCK_LEN);
        self.data = rest;
        Some(ReportBlock::read(block))
    }
}

/// The packets of a compound RTCP datagram, in order; stops at the first malformed one.
pub fn packets(data: &[u8]) -> Packets<'_> {
    Packets { data, at: 0 }
}

/// Iterator returned by [`packets`].
#[derive(Debug, Clone)]
pub struct Packets<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Iterator for Packets<'a> {
    type Item = Result<RtcpPacket<'a>, RtcpError>;

    fn next(&mut self) -> Option<Self::Item> {
        let at = self.at;
        let rest = self.data.get(at..).filter(|r| !r.is_empty())?;
        let result = parse_one(rest, at);
        // After an error the rest cannot be framed: stop.
        self.at = match &result {
            Ok((_, len)) => at + len,
            Err(_) => self.data.len(),
        };
        Some(result.map(|(packet, _)| packet))
    }
}

fn parse_one(b: &[u8], at: usize) -> Result<(RtcpPacket<'_>, usize), RtcpError> {
    if b.len() < 4 {
        return Err(RtcpError::Truncated { at });
    }
    let version = b[0] >> 6;
    if version != VERSION {
        return Err(RtcpError::Version { at, version });
    }
    let count = b[0] & 0x1f;
    let packet_type = b[1];
    let len = (usize::from(u16::from_be_bytes([b[2], b[3]])) + 1) * 4;
    if len > b.len() {
        return Err(RtcpError::Length {
            at,
            claimed: len,
            left: b.len(),
        });
    }
    let p = &b[..len];
    let blocks_from = |start: usize| {
        let end = start + usize::from(count) * BLOCK_LEN;
        match p.get(start..end) {
            Some(data) => Ok(ReportBlocks { data }),
            None => Err(RtcpError::Blocks {
                at,
                packet_type,
                count,
            }),
        }
    };
    let packet = match packet_type {
        PT_SR => {
            if len < 8 + SENDER_INFO_LEN {
                return Err(RtcpError::Blocks {
                    at,
                    packet_type,
                    count,
                });
            }
            RtcpPacket::SenderReport {
                ssrc: get32(p, 4),
                info: SenderInfo {
                    ntp: u64::from(get32(p, 8)) << 32 | u64::from(get32(p, 12)),
                    rtp_timestamp: get32(p, 16),
                    packet_count: get32(p, 20),
                    octet_count: get32(p, 24),
                },
                blocks: blocks_from(8 + SENDER_INFO_LEN)?,
            }
        }
        PT_RR => {
            if len < 8 {
                return Err(RtcpError::Blocks {
                    at,
                    packet_type,
                    count,
                });
            }
            RtcpPacket::ReceiverReport {
                ssrc: get32(p, 4),
                blocks: blocks_from(8)?,
            }
        }
        PT_BYE => RtcpPacket::Bye {
            ssrc: (count > 0 && len >= 8).then(|| get32(p, 4)),
        },
        _ => RtcpPacket::Other { packet_type },
    };
    Ok((packet, len))
}

/// What a compound packet from the peer told us.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PeerReport {
    /// The reporter's SSRC (from its SR or RR).
    pub ssrc: Option<u32>,
    /// Its sender info, when it sent an SR.
    pub sender: Option<SenderInfo>,
    /// Its report block about our SSRC, if any.
    pub about_us: Option<ReportBlock>,
    /// It said BYE.
    pub bye: bool,
}

/// Read a compound packet, keeping what concerns `our_ssrc`. Errors when any part is
/// malformed (RFC 3550 A.2: such a datagram is discarded whole).
pub fn parse_report(data: &[u8], our_ssrc: u32) -> Result<PeerReport, RtcpError> {
    if data.len() < 4 {
        return Err(RtcpError::Truncated { at: 0 });
    }
    let mut report = PeerReport::default();
    for packet in packets(data) {
        match packet? {
            RtcpPacket::SenderReport { ssrc, info, blocks } => {
                report.ssrc = Some(ssrc);
                report.sender = Some(info);
                report.about_us = blocks
                    .into_iter()
                    .find(|b| b.ssrc == our_ssrc)
                    .or(report.about_us);
            }
            RtcpPacket::ReceiverReport { ssrc, blocks } => {
                report.ssrc = Some(ssrc);
                report.about_us = blocks
                    .into_iter()
                    .find(|b| b.ssrc == our_ssrc)
                    .or(report.about_us);
            }
            RtcpPacket::Bye { .. } => report.bye = true,
            RtcpPacket::Other { .. } => {}
        }
    }
    Ok(report)
}

fn header(out: &mut [u8], count: u8, packet_type: u8, len: usize) {
    out[0] = VERSION << 6 | (count & 0x1f);
    out[1] = packet_type;
    out[2..4].copy_from_slice(&((len / 4 - 1) as u16).to_be_bytes());
}

fn put32(out: &mut [u8], at: usize, v: u32) {
    out[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

/// Callers check the length first.
fn get32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

#[cfg(test)]
#[path = "rtcp_tests.rs"]
mod tests;
