//! RTCP for one leg: when the next report is due, what goes in it (SR when we sent
//! media, else RR, about the peer's stream), and what the peer's reports say about ours,
//! including the round-trip time from LSR/DLSR (RFC 3550 6.4.1).
//!
//! Wall-clock time enters once: the driver reads the system clock when it creates the
//! leg's [`NtpClock`]; after that everything runs on the `Instant`s passed in.

use std::time::{Duration, Instant};

use super::rtcp::{PeerReport, Report, ReportBlock, RtcpError, SenderInfo, parse_report};
use super::sender::mix64;
use super::{RtpReceiver, RtpSender};

/// Seconds from the NTP epoch (1900) to the Unix epoch (1970).
pub const NTP_UNIX_OFFSET_SECS: u64 = 2_208_988_800;
/// RFC 3550's minimum report interval; each interval is randomized to 0.5–1.5× of it.
pub const REPORT_INTERVAL: Duration = Duration::from_secs(5);

/// Maps `Instant`s to 64-bit NTP timestamps from one reading of the wall clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NtpClock {
    anchor: Instant,
    ntp_at_anchor: u64,
}

impl NtpClock {
    /// `since_unix_epoch`: the wall clock at `anchor` (e.g. from `SystemTime`).
    pub fn new(anchor: Instant, since_unix_epoch: Duration) -> Self {
        let since_1900 = since_unix_epoch + Duration::from_secs(NTP_UNIX_OFFSET_SECS);
        Self {
            anchor,
            ntp_at_anchor: duration_to_ntp(since_1900),
        }
    }

    /// NTP time at `now` (times before the anchor read as the anchor).
    pub fn ntp(&self, now: Instant) -> u64 {
        let elapsed = now.saturating_duration_since(self.anchor);
        self.ntp_at_anchor.wrapping_add(duration_to_ntp(elapsed))
    }
}

/// 32.32 fixed point seconds.
pub fn duration_to_ntp(d: Duration) -> u64 {
    let frac = (u64::from(d.subsec_nanos()) << 32) / 1_000_000_000;
    (d.as_secs() << 32) | frac
}

/// The middle 32 bits of an NTP timestamp (16.16 seconds), as LSR carries it.
pub fn ntp_middle(ntp: u64) -> u32 {
    (ntp >> 16) as u32
}

/// 16.16 fixed point seconds to a duration.
fn short_to_duration(units: u32) -> Duration {
    Duration::from_nanos(u64::from(units) * 1_000_000_000 / 65_536)
}

fn duration_to_short(d: Duration) -> u32 {
    let units = d.as_nanos() * 65_536 / 1_000_000_000;
    u32::try_from(units).unwrap_or(u32::MAX)
}

/// The peer's view of our stream, from its latest report about our SSRC.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PeerView {
    pub fraction_lost: u8,
    pub cumulative_lost: i32,
    /// Interarrival jitter the peer measured, in timestamp units.
    pub jitter: u32,
    /// Round-trip time from the latest block that echoed one of our SRs.
    pub rtt: Option<Duration>,
    pub reported_at: Option<Instant>,
    /// The peer sent RTCP BYE.
    pub bye: bool,
}

impl PeerView {
    /// Loss the peer saw in its last interval, in percent.
    pub fn fraction_lost_percent(&self) -> f64 {
        f64::from(self.fraction_lost) * 100.0 / 256.0
    }

    /// The peer's jitter figure in ms for a `clock_rate` Hz media clock.
    pub fn jitter_ms(&self, clock_rate: u32) -> f64 {
        f64::from(self.jitter) * 1000.0 / f64::from(clock_rate.max(1))
    }
}

/// RTCP state of one leg. See the module docs.
#[derive(Debug, Clone)]
pub struct RtcpSession {
    /// Allocated once per leg; reports copy it into the caller's buffer.
    cname: String,
    clock: NtpClock,
    rng: u64,
    next_due: Option<Instant>,
    /// The peer's latest SR: its NTP middle bits and when it arrived.
    peer_sr: Option<(u32, Instant)>,
    packets_at_last_report: u32,
    peer: PeerView,
    reports_sent: u64,
}

impl RtcpSession {
    /// `cname` (e.g. `hotline@<node>`) is cut to 255 bytes at a character boundary;
    /// `seed` randomizes the report intervals.
    pub fn new(cname: &str, clock: NtpClock, seed: u64) -> Self {
        let mut end = cname.len().min(255);
        while !cname.is_char_boundary(end) {
            end -= 1;
        }
        Self {
            cname: cname[..end].to_owned(),
            clock,
            rng: seed,
            next_due: None,
            peer_sr: None,
            packets_at_last_report: 0,
            peer: PeerView::default(),
            reports_sent: 0,
        }
    }

    /// Media started at `now`: the first report is due after half an interval.
    pub fn start(&mut self, now: Instant) {
        let first = self.randomized() / 2;
        self.next_due = Some(now + first);
    }

    /// When the next report is due (`None` before [`start`](Self::start)).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_due
    }

    pub fn is_due(&self, now: Instant) -> bool {
        self.next_due.is_some_and(|due| now >= due)
    }

    pub fn peer(&self) -> &PeerView {
        &self.peer
    }

    pub fn reports_sent(&self) -> u64 {
        self.reports_sent
    }

    fn randomized(&mut self) -> Duration {
        let ms = REPORT_INTERVAL.as_millis() as u64;
        Duration::from_millis(ms / 2 + mix64(&mut self.rng) % (ms + 1))
    }

    /// Write the periodic compound report into `out` and schedule the next one. The
    /// receiver's loss interval restarts only when the report was written.
    pub fn write_report(
        &mut self,
        now: Instant,
        receiver: &mut RtpReceiver,
        sender: &RtpSender,
        out: &mut [u8],
    ) -> Result<usize, RtcpError> {
        self.write(now, receiver, sender, out, false)
    }

    /// The final report with BYE, for hangup.
    pub fn write_bye(
        &mut self,
        now: Instant,
        receiver: &mut RtpReceiver,
        sender: &RtpSender,
        out: &mut [u8],
    ) -> Result<usize, RtcpError> {
        self.write(now, receiver, sender, out, true)
    }

    fn write(
        &mut self,
        now: Instant,
        receiver: &mut RtpReceiver,
        sender: &RtpSender,
        out: &mut [u8],
        bye: bool,
    ) -> Result<usize, RtcpError> {
        let sent = sender.packets_sent() != self.packets_at_last_report;
        let info = sent.then(|| SenderInfo {
            ntp: self.clock.ntp(now),
            rtp_timestamp: sender.timestamp(),
            packet_count: sender.packets_sent(),
            octet_count: sender.octets_sent(),
        });
        let (lsr, dlsr) = match self.peer_sr {
            Some((lsr, at)) => (lsr, duration_to_short(now.saturating_duration_since(at))),
            None => (0, 0),
        };
        let report = Report {
            ssrc: sender.ssrc(),
            sender: info,
            block: ReportBlock::from_stats(&receiver.stats(), lsr, dlsr),
            cname: &self.cname,
            bye,
        };
        let len = report.write(out)?;
        receiver.take_report();
        self.packets_at_last_report = sender.packets_sent();
        self.reports_sent += 1;
        self.next_due = Some(now + self.randomized());
        Ok(len)
    }

    /// Read RTCP from the peer that arrived at `now`; `our_ssrc` is our sender's.
    pub fn on_rtcp(
        &mut self,
        now: Instant,
        data: &[u8],
        our_ssrc: u32,
    ) -> Result<PeerReport, RtcpError> {
        let report = parse_report(data, our_ssrc)?;
        if let Some(info) = &report.sender {
            self.peer_sr = Some((ntp_middle(info.ntp), now));
        }
        if let Some(block) = &report.about_us {
            self.peer.fraction_lost = block.fraction_lost;
            self.peer.cumulative_lost = block.cumulative_lost;
            self.peer.jitter = block.jitter;
            self.peer.reported_at = Some(now);
            if block.last_sr != 0 {
                // RTT = arrival - LSR - DLSR, all in 16.16 seconds (RFC 3550 6.4.1).
                let arrival = ntp_middle(self.clock.ntp(now));
                let rtt = arrival
                    .wrapping_sub(block.last_sr)
                    .wrapping_sub(block.delay_since_last_sr);
                // A "negative" result (bogus DLSR, an SR we never sent) is ignored.
                if (rtt as i32) >= 0 {
                    self.peer.rtt = Some(short_to_duration(rtt));
                }
            }
        }
        if report.bye {
            self.peer.bye = true;
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::rtp::rtcp::{RtcpPacket, packets};
    use std::net::SocketAddr;

    fn clock(anchor: Instant) -> NtpClock {
        NtpClock::new(anchor, Duration::from_secs(1_700_000_000))
    }

    #[test]
    fn ntp_clock_counts_from_1900() {
        let t0 = Instant::now();
        let c = clock(t0);
        assert_eq!(c.ntp(t0) >> 32, 1_700_000_000 + NTP_UNIX_OFFSET_SECS);
        let later = c.ntp(t0 + Duration::from_millis(1500));
        assert_eq!(later - c.ntp(t0), 3 << 31); // 1.5 s in 32.32
        assert_eq!(ntp_middle(0x1234_5678_9abc_def0), 0x5678_9abc);
    }

    fn legs(t0: Instant) -> (RtpReceiver, RtpSender) {
        let mut rx = RtpReceiver::new(None);
        rx.set_expected(&[8]);
        let from = SocketAddr::from(([192, 0, 2, 1], 4000));
        for i in 0..10u16 {
            let mut p = vec![0x80, 8];
            p.extend_from_slice(&i.to_be_bytes());
            p.extend_from_slice(&(u32::from(i) * 160).to_be_bytes());
            p.extend_from_slice(&0xfeed_u32.to_be_bytes());
            p.resize(172, 0xd5);
            if i != 5 {
                rx.on_packet(t0 + Duration::from_millis(20 * u64::from(i)), from, &p)
                    .unwrap();
            }
        }
        (rx, RtpSender::new(11))
    }

    #[test]
    fn reports_are_rr_until_we_send_then_sr() {
        let t0 = Instant::now();
        let (mut rx, mut tx) = legs(t0);
        let mut session = RtcpSession::new("hotline@node1", clock(t0), 5);
        session.start(t0);
        let due = session.poll_timeout().unwrap();
        assert!(due >= t0 + REPORT_INTERVAL / 4 && due <= t0 + REPORT_INTERVAL * 3 / 4);
        assert!(!session.is_due(t0));
        assert!(session.is_due(due));

        let mut out = [0u8; 256];
        let len = session.write_report(due, &mut rx, &tx, &mut out).unwrap();
        let first = packets(&out[..len]).next().unwrap().unwrap();
        let RtcpPacket::ReceiverReport { ssrc, mut blocks } = first else {
            panic!("expected RR, got {first:?}");
        };
        assert_eq!(ssrc, tx.ssrc());
        let block = blocks.next().unwrap();
        assert_eq!((block.ssrc, block.cumulative_lost), (0xfeed, 1));
        assert_eq!(block.fraction_lost, (256 / 9) as u8);
        // The loss interval restarted.
        assert_eq!(rx.stats().fraction_lost, 0);
        let next = session.poll_timeout().unwrap();
        assert!(next >= due + REPORT_INTERVAL / 2 && next <= due + REPORT_INTERVAL * 3 / 2);

        let mut pkt = [0u8; 200];
        tx.write(8, false, 160, &[0xd5; 160], &mut pkt).unwrap();
        let len = session.write_report(next, &mut rx, &tx, &mut out).unwrap();
        match packets(&out[..len]).next().unwrap().unwrap() {
            RtcpPacket::SenderReport { info, .. } => {
                assert_eq!((info.packet_count, info.octet_count), (1, 160));
                assert_eq!(info.ntp, clock(t0).ntp(next));
                assert_eq!(info.rtp_timestamp, tx.timestamp());
            }
            other => panic!("expected SR, got {other:?}"),
        }
    }

    #[test]
    fn round_trip_time_from_lsr_and_dlsr() {
        let t0 = Instant::now();
        let (mut rx, mut tx) = legs(t0);
        let mut pkt = [0u8; 200];
        tx.write(8, false, 160, &[0xd5; 160], &mut pkt).unwrap();
        let mut ours = RtcpSession::new("us", clock(t0), 1);
        // The peer's clock is set differently: RTT must not depend on it.
        let peer_clock = NtpClock::new(t0, Duration::from_secs(1_600_000_000));
        let mut theirs = RtcpSession::new("them", peer_clock, 2);
        let (mut peer_rx, peer_tx) = (RtpReceiver::new(None), RtpSender::new(99));

        // We send an SR at t0 + 1 s; it takes 30 ms to arrive.
        let mut out = [0u8; 256];
        let len = ours
            .write_report(t0 + Duration::from_secs(1), &mut rx, &tx, &mut out)
            .unwrap();
        let sent_at = t0 + Duration::from_millis(1030);
        theirs
            .on_rtcp(sent_at, &out[..len], peer_tx.ssrc())
            .unwrap();
        // Fake the peer hearing our stream so its RR carries a block about us.
        let mut p = vec![0x80, 8, 0, 1, 0, 0, 0, 0];
        p.extend_from_slice(&tx.ssrc().to_be_bytes());
        p.resize(172, 0xd5);
        let from = SocketAddr::from(([198, 51, 100, 7], 5000));
        peer_rx.on_packet(sent_at, from, &p).unwrap();
        // The peer holds it 500 ms, then reports; 40 ms back to us.
        let len = theirs
            .write_report(
                sent_at + Duration::from_millis(500),
                &mut peer_rx,
                &peer_tx,
                &mut out,
            )
            .unwrap();
        let arrival = sent_at + Duration::from_millis(540);
        let report = ours.on_rtcp(arrival, &out[..len], tx.ssrc()).unwrap();
        let block = report.about_us.unwrap();
        assert_eq!(
            block.last_sr,
            ntp_middle(clock(t0).ntp(t0 + Duration::from_secs(1)))
        );
        let rtt = ours.peer().rtt.unwrap();
        assert!(
            rtt.abs_diff(Duration::from_millis(70)) < Duration::from_millis(1),
            "{rtt:?}"
        );
        assert_eq!(ours.peer().reported_at, Some(arrival));
    }

    #[test]
    fn bye_is_written_last_and_noticed() {
        let t0 = Instant::now();
        let (mut rx, tx) = legs(t0);
        let mut ours = RtcpSession::new("us", clock(t0), 1);
        let mut out = [0u8; 256];
        let len = ours.write_bye(t0, &mut rx, &tx, &mut out).unwrap();
        let kinds: Vec<_> = packets(&out[..len]).map(|p| p.unwrap()).collect();
        assert!(matches!(kinds[0], RtcpPacket::ReceiverReport { .. }));
        assert_eq!(kinds[1], RtcpPacket::Other { packet_type: 202 });
        assert_eq!(
            kinds[2],
            RtcpPacket::Bye {
                ssrc: Some(tx.ssrc())
            }
        );
        let mut theirs = RtcpSession::new("them", clock(t0), 2);
        theirs.on_rtcp(t0, &out[..len], 1).unwrap();
        assert!(theirs.peer().bye);
    }

    #[test]
    fn long_cnames_are_cut_at_a_character_boundary() {
        let name = "客".repeat(100); // 300 bytes
        let session = RtcpSession::new(&name, clock(Instant::now()), 0);
        assert_eq!(session.cname.len(), 255);
    }
}
