//! RFC 4733 telephone events: a receiver that reports each key press once, and a
//! sender that turns queued digits into event packets, one per 20 ms tick.
//!
//! Payload (RFC 4733 §2.3): `event (8) | E (1) R (1) volume (6) | duration (16)`.
//! An event is identified by its RTP timestamp (the moment it began): every packet of
//! one press carries the same timestamp with a growing duration, the last three with
//! the E bit. We key on (SSRC, timestamp), so a stream on its own SSRC (as the SIPp
//! `dtmf_2833_*.pcap` files send) works as well as one sharing the audio SSRC.

use super::{DtmfDigit, DtmfError, digit_to_event, event_to_digit};

/// Packets this many sequence numbers behind the newest, for an older timestamp, are
/// late copies of a press already past; a bigger jump back is a restarted stream.
const MAX_REORDER_PACKETS: u16 = 100;
/// Timestamp distance behind the current event still counted as "late", not restarted.
const MAX_REORDER_SAMPLES: u32 = 0x2_0000;
/// A segment boundary of a long event (RFC 4733 §2.5.1.3) is only plausible after a
/// long segment; shorter presses with a fresh timestamp are new presses.
const MIN_SEGMENT_SAMPLES: u16 = 8000;
/// How far past the old segment's end the next segment may start (lost packets).
const SEGMENT_SLACK_SAMPLES: u32 = 480;

/// The event being received.
#[derive(Clone, Copy, Debug)]
struct Current {
    ssrc: u32,
    timestamp: u32,
    seq: u16,
    event: u8,
    /// Longest duration seen in this segment.
    duration: u16,
    ended: bool,
}

/// Turns received telephone-event packets into key presses, each reported once, at
/// the first packet of the press that arrives (the start packet, or at the latest
/// an end packet when the start was lost).
#[derive(Clone, Debug, Default)]
pub struct DtmfReceiver {
    current: Option<Current>,
}

impl DtmfReceiver {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one RTP packet whose payload type is the negotiated telephone-event type.
    /// Returns the key press this packet starts, if it starts one. Flash (event 16),
    /// other non-DTMF events and payloads shorter than 4 bytes are ignored.
    pub fn on_packet(
        &mut self,
        ssrc: u32,
        seq: u16,
        timestamp: u32,
        marker: bool,
        payload: &[u8],
    ) -> Option<DtmfDigit> {
        let [event, flags, d0, d1, ..] = *payload else {
            return None;
        };
        let digit = event_to_digit(event)?;
        let end = flags & 0x80 != 0;
        let volume = flags & 0x3F;
        let duration = u16::from_be_bytes([d0, d1]);

        if let Some(cur) = self.current.as_mut().filter(|c| c.ssrc == ssrc) {
            if timestamp == cur.timestamp {
                // An update, an end packet, or a retransmitted start of the same press.
                if event == cur.event {
                    cur.duration = cur.duration.max(duration);
                    cur.ended |= end;
                }
                if seq_newer(seq, cur.seq) {
                    cur.seq = seq;
                }
                return None;
            }
            if is_late(cur, seq, timestamp) {
                return None;
            }
            if continues_long_event(cur, event, marker, timestamp) {
                // Next segment of a press held longer than one duration field can say.
                cur.timestamp = timestamp;
                cur.seq = seq;
                cur.duration = duration;
                cur.ended = end;
                return None;
            }
        }

        self.current = Some(Current {
            ssrc,
            timestamp,
            seq,
            event,
            duration,
            ended: end,
        });
        Some(DtmfDigit {
            digit,
            duration_samples: duration,
            volume,
        })
    }
}

/// RFC 3550 sequence-number order: `a` comes after `b`.
fn seq_newer(a: u16, b: u16) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000
}

/// A packet of an earlier press arriving after the current one began (reordering):
/// both its sequence number and its timestamp are a little behind.
fn is_late(cur: &Current, seq: u16, timestamp: u32) -> bool {
    let seq_behind = cur.seq.wrapping_sub(seq);
    let ts_behind = cur.timestamp.wrapping_sub(timestamp);
    (1..=MAX_REORDER_PACKETS).contains(&seq_behind) && (1..MAX_REORDER_SAMPLES).contains(&ts_behind)
}

/// RFC 4733 §2.5.1.3: a press longer than 0xFFFF samples goes on in a new segment whose
/// timestamp is where the last one ended, same event, no marker, no E bit before it.
fn continues_long_event(cur: &Current, event: u8, marker: bool, timestamp: u32) -> bool {
    if marker || cur.ended || event != cur.event || cur.duration < MIN_SEGMENT_SAMPLES {
        return false;
    }
    let past_end = timestamp
        .wrapping_sub(cur.timestamp)
        .wrapping_sub(u32::from(cur.duration));
    past_end <= SEGMENT_SLACK_SAMPLES
}

/// One telephone-event packet to send. The caller puts it in an RTP packet with the
/// negotiated telephone-event payload type, this marker and this timestamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DtmfPacket {
    pub payload: [u8; 4],
    pub marker: bool,
    pub timestamp: u32,
}

/// Queued digits the sender holds at most (fixed, so queueing never allocates).
const QUEUE_CAPACITY: usize = 32;
/// End packets sent per press (RFC 4733 §2.5.1.4 recommends three).
const END_PACKETS: u8 = 3;
/// Silence between one press's end and the next press's start.
const GAP_MS: u32 = 50;
/// Shortest press we send: what in-band detectors and most receivers need.
const MIN_DURATION_MS: u32 = 40;

#[derive(Clone, Copy, Debug, Default)]
struct Queued {
    event: u8,
    duration: u16,
    volume: u8,
}

#[derive(Clone, Copy, Debug)]
struct Playing {
    digit: Queued,
    start: u32,
    sent_start: bool,
    ends_sent: u8,
}

/// Sends queued digits as RFC 4733 events. [`DtmfSender::next_packet`] is called once
/// per 20 ms tick with the RTP timestamp of that tick: a start packet (marker set),
/// updates every tick with a growing duration and the same timestamp, three end
/// packets, then `None`; the next queued digit starts 50 ms after the previous ended.
/// While [`DtmfSender::is_active`], the worker should not send audio on the stream.
#[derive(Clone, Debug)]
pub struct DtmfSender {
    samples_per_tick: u32,
    samples_per_ms: u32,
    queue: [Queued; QUEUE_CAPACITY],
    head: usize,
    len: usize,
    playing: Option<Playing>,
    /// Timestamp before which the next digit may not start (the gap).
    not_before: Option<u32>,
}

impl Default for DtmfSender {
    fn default() -> Self {
        Self::new(8000)
    }
}

impl DtmfSender {
    /// A sender for a telephone-event stream at `clock_rate` Hz (8000 for G.711 legs;
    /// clamped to 8000..=48000, the rates telephone-event is used at).
    pub fn new(clock_rate: u32) -> Self {
        let clock_rate = clock_rate.clamp(8000, 48_000);
        DtmfSender {
            samples_per_tick: clock_rate / 50,
            samples_per_ms: clock_rate / 1000,
            queue: [Queued::default(); QUEUE_CAPACITY],
            head: 0,
            len: 0,
            playing: None,
            not_before: None,
        }
    }

    /// Queues `digit` (`0`-`9`, `*`, `#`, `A`-`D`) for `duration_ms` at `volume`
    /// (0 = 0 dBm0 ... 63 = -63 dBm0; 10 is usual).
    pub fn start(&mut self, digit: char, duration_ms: u32, volume: u8) -> Result<(), DtmfError> {
        let event = digit_to_event(digit).ok_or(DtmfError::UnknownDigit(digit))?;
        // The duration field is 16 bits of samples; longer presses would need segments.
        let max_ms = u32::from(u16::MAX) / self.samples_per_ms;
        if !(MIN_DURATION_MS..=max_ms).contains(&duration_ms) {
            return Err(DtmfError::Duration {
                ms: duration_ms,
                min_ms: MIN_DURATION_MS,
                max_ms,
            });
        }
        if volume > 63 {
            return Err(DtmfError::Volume(volume));
        }
        if self.len == QUEUE_CAPACITY {
            return Err(DtmfError::QueueFull(QUEUE_CAPACITY));
        }
        let duration = u16::try_from(duration_ms * self.samples_per_ms).unwrap_or(u16::MAX);
        self.queue[(self.head + self.len) % QUEUE_CAPACITY] = Queued {
            event,
            duration,
            volume,
        };
        self.len += 1;
        Ok(())
    }

    /// True while a digit plays or waits in the queue.
    pub fn is_active(&self) -> bool {
        self.playing.is_some() || self.len > 0
    }

    /// Drops the queued digits; the one playing finishes with its end packets.
    pub fn clear_queue(&mut self) {
        self.len = 0;
    }

    /// The packet to send this tick, if any. `rtp_timestamp_now` is the RTP timestamp
    /// of this 20 ms tick on the stream (the audio clock).
    pub fn next_packet(&mut self, rtp_timestamp_now: u32) -> Option<DtmfPacket> {
        let now = rtp_timestamp_now;
        if self.playing.is_none() {
            self.begin_next(now)?;
        }
        let play = self.playing.as_mut()?;
        let total = play.digit.duration;
        // Each packet covers up to the end of this tick's 20 ms.
        let covered = now
            .wrapping_sub(play.start)
            .saturating_add(self.samples_per_tick);
        let end = play.ends_sent > 0 || covered >= u32::from(total);
        let duration = if end {
            total
        } else {
            u16::try_from(covered).unwrap_or(total)
        };
        let marker = !play.sent_start;
        play.sent_start = true;
        let packet = DtmfPacket {
            payload: payload(play.digit.event, end, play.digit.volume, duration),
            marker,
            timestamp: play.start,
        };
        if end {
            play.ends_sent += 1;
            if play.ends_sent >= END_PACKETS {
                let gap = GAP_MS * self.samples_per_ms;
                self.not_before = Some(play.start.wrapping_add(u32::from(total)).wrapping_add(gap));
                self.playing = None;
            }
        }
        Some(packet)
    }

    /// Takes the next queued digit if the gap after the last one has passed.
    fn begin_next(&mut self, now: u32) -> Option<()> {
        if self.len == 0 {
            return None;
        }
        if let Some(at) = self.not_before {
            // Serial comparison: `now` has not reached `at` yet.
            if now.wrapping_sub(at) >= 0x8000_0000 {
                return None;
            }
        }
        let digit = self.queue[self.head];
        self.head = (self.head + 1) % QUEUE_CAPACITY;
        self.len -= 1;
        self.playing = Some(Playing {
            digit,
            start: now,
            sent_start: false,
            ends_sent: 0,
        });
        Some(())
    }
}

/// The 4-byte event payload; R is always zero.
fn payload(event: u8, end: bool, volume: u8, duration: u16) -> [u8; 4] {
    let [d0, d1] = duration.to_be_bytes();
    let flags = if end { 0x80 } else { 0 } | (volume & 0x3F);
    [event, flags, d0, d1]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A packet as written in the RFC 4733 §5 style tables.
    #[derive(Clone, Copy)]
    struct Pkt {
        ssrc: u32,
        seq: u16,
        ts: u32,
        marker: bool,
        event: u8,
        end: bool,
        volume: u8,
        duration: u16,
    }

    fn pkt(seq: u16, ts: u32, marker: bool, event: u8, end: bool, duration: u16) -> Pkt {
        Pkt {
            ssrc: 0x1234_5678,
            seq,
            ts,
            marker,
            event,
            end,
            volume: 10,
            duration,
        }
    }

    fn feed(rx: &mut DtmfReceiver, packets: &[Pkt]) -> Vec<DtmfDigit> {
        packets
            .iter()
            .filter_map(|p| {
                let payload = payload(p.event, p.end, p.volume, p.duration);
                rx.on_packet(p.ssrc, p.seq, p.ts, p.marker, &payload)
            })
            .collect()
    }

    fn digits(reported: &[DtmfDigit]) -> String {
        reported.iter().map(|d| d.digit).collect()
    }

    /// A whole press at 20 ms packets: start with marker, updates, three ends.
    fn press(first_seq: u16, ts: u32, event: u8, duration: u16) -> Vec<Pkt> {
        let mut out = Vec::new();
        let mut seq = first_seq;
        let mut d = 160;
        while d < duration {
            out.push(pkt(seq, ts, d == 160, event, false, d));
            seq = seq.wrapping_add(1);
            d += 160;
        }
        for _ in 0..3 {
            out.push(pkt(seq, ts, false, event, true, duration));
            seq = seq.wrapping_add(1);
        }
        out
    }

    #[test]
    fn rfc4733_style_sequence_reports_the_digit_once_at_start() {
        // Digit "1" at 50 ms packets, as in the RFC 4733 §5 example layout:
        // seq  ts  M  event  E  duration
        let packets = [
            pkt(1, 0, true, 1, false, 400),
            pkt(2, 0, false, 1, false, 800),
            pkt(3, 0, false, 1, false, 1200),
            pkt(4, 0, false, 1, false, 1600),
            pkt(5, 0, false, 1, true, 1600),
            pkt(6, 0, false, 1, true, 1600),
            pkt(7, 0, false, 1, true, 1600),
        ];
        let mut rx = DtmfReceiver::new();
        let payload = payload(1, false, 10, 400);
        let first = rx.on_packet(0x1234_5678, 1, 0, true, &payload);
        assert_eq!(
            first,
            Some(DtmfDigit {
                digit: '1',
                duration_samples: 400,
                volume: 10
            })
        );
        assert!(feed(&mut rx, &packets[1..]).is_empty());
    }

    #[test]
    fn sipp_pcap_pattern_on_its_own_ssrc() {
        // The SIPp dtmf_2833 captures: the events on an SSRC of their own, marker on the
        // first packet, 20 ms updates, three end packets; digits 1 then 2.
        let audio_ssrc = 0x0000_1111;
        let mut rx = DtmfReceiver::new();
        let mut packets = press(100, 8000, 1, 1280);
        packets.extend(press(110, 8000 + 1280 + 800, 2, 1280));
        for p in &mut packets {
            p.ssrc = 0xCAFE_F00D;
        }
        // An earlier digit on the audio SSRC does not confuse the other stream.
        let mut all = press(5, 400, 9, 800);
        for p in &mut all {
            p.ssrc = audio_ssrc;
        }
        all.extend(packets);
        assert_eq!(digits(&feed(&mut rx, &all)), "912");
    }

    #[test]
    fn lost_start_reports_once_on_the_end_packets() {
        let packets = [
            pkt(7, 3200, false, 5, true, 960),
            pkt(8, 3200, false, 5, true, 960),
            pkt(9, 3200, false, 5, true, 960),
        ];
        let mut rx = DtmfReceiver::new();
        let reported = feed(&mut rx, &packets);
        assert_eq!(reported.len(), 1);
        assert_eq!(reported[0].digit, '5');
        assert_eq!(reported[0].duration_samples, 960);
    }

    #[test]
    fn duplicates_and_retransmitted_starts_do_not_double() {
        let mut packets = press(1, 1000, 11, 800);
        // Network duplicates of every packet, and a start retransmitted after the ends.
        let dups: Vec<Pkt> = packets.iter().flat_map(|&p| [p, p]).collect();
        packets = dups;
        packets.push(pkt(1, 1000, true, 11, false, 160));
        let mut rx = DtmfReceiver::new();
        assert_eq!(digits(&feed(&mut rx, &packets)), "#");
    }

    #[test]
    fn same_digit_twice_with_distinct_timestamps_is_two_presses() {
        let mut packets = press(1, 0, 7, 800);
        packets.extend(press(10, 1600, 7, 800));
        let mut rx = DtmfReceiver::new();
        assert_eq!(digits(&feed(&mut rx, &packets)), "77");
    }

    #[test]
    fn late_packets_of_an_earlier_press_are_ignored() {
        let first = press(1, 0, 3, 800);
        let second = press(10, 1600, 4, 800);
        // The first press's last end packet arrives after the second press began.
        let mut packets = first[..first.len() - 1].to_vec();
        packets.push(second[0]);
        packets.push(first[first.len() - 1]);
        packets.extend(&second[1..]);
        let mut rx = DtmfReceiver::new();
        assert_eq!(digits(&feed(&mut rx, &packets)), "34");
    }

    #[test]
    fn a_restarted_stream_is_not_mistaken_for_late_packets() {
        // Same SSRC, timestamps and sequence numbers jump far back (a new call leg).
        let mut packets = press(5000, 900_000, 1, 800);
        packets.extend(press(10, 1600, 2, 800));
        let mut rx = DtmfReceiver::new();
        assert_eq!(digits(&feed(&mut rx, &packets)), "12");
    }

    #[test]
    fn long_press_in_segments_is_one_press() {
        // RFC 4733 §2.5.1.3: a 10 s press; the first segment ends at 0xFFFF samples,
        // the second starts at ts + 0xFFFF with the same event and no marker.
        let mut packets = vec![
            pkt(1, 0, true, 0, false, 160),
            pkt(2, 0, false, 0, false, 32000),
            pkt(3, 0, false, 0, false, 0xFFFF),
        ];
        packets.push(pkt(4, 0xFFFF, false, 0, false, 160));
        packets.push(pkt(5, 0xFFFF, false, 0, false, 14465));
        for seq in 6..9 {
            packets.push(pkt(seq, 0xFFFF, false, 0, true, 14465));
        }
        let mut rx = DtmfReceiver::new();
        assert_eq!(digits(&feed(&mut rx, &packets)), "0");
    }

    #[test]
    fn flash_other_events_and_malformed_payloads_are_ignored() {
        let mut rx = DtmfReceiver::new();
        // Flash (16), a modem tone (32), empty and short payloads.
        assert_eq!(
            rx.on_packet(1, 1, 0, true, &payload(16, false, 10, 160)),
            None
        );
        assert_eq!(
            rx.on_packet(1, 2, 160, true, &payload(32, false, 10, 160)),
            None
        );
        assert_eq!(rx.on_packet(1, 3, 320, true, &[]), None);
        assert_eq!(rx.on_packet(1, 4, 320, true, &[1, 0x0A, 0]), None);
        // Longer payloads (padding) still carry the event in their first four bytes.
        let d = rx.on_packet(1, 5, 480, true, &[12, 0x8A, 0x01, 0x40, 0, 0]);
        assert_eq!(
            d,
            Some(DtmfDigit {
                digit: 'A',
                duration_samples: 320,
                volume: 10
            })
        );
    }

    #[test]
    fn sequence_and_timestamp_wraparound() {
        let mut packets = press(u16::MAX - 2, u32::MAX - 100, 8, 800);
        packets.extend(press(4, (u32::MAX - 100).wrapping_add(1600), 8, 800));
        let mut rx = DtmfReceiver::new();
        assert_eq!(digits(&feed(&mut rx, &packets)), "88");
    }

    #[test]
    fn random_packets_never_panic_and_only_report_digits() {
        use rand::{Rng, SeedableRng, rngs::StdRng};
        let mut rng = StdRng::seed_from_u64(4733);
        let mut rx = DtmfReceiver::new();
        for _ in 0..50_000 {
            let len = rng.gen_range(0..8);
            let payload: Vec<u8> = (0..len).map(|_| rng.r#gen()).collect();
            let (ssrc, seq, ts) = (rng.gen_range(0..3), rng.r#gen(), rng.gen_range(0..5000));
            if let Some(d) = rx.on_packet(ssrc, seq, ts, rng.r#gen(), &payload) {
                assert!(payload.len() >= 4 && payload[0] < 16);
                assert_eq!(Some(d.digit), event_to_digit(payload[0]));
                assert_eq!(d.volume, payload[1] & 0x3F);
            }
        }
    }

    /// Runs the sender for `ticks` ticks of 160 samples from `ts0`.
    fn run_sender(tx: &mut DtmfSender, ts0: u32, ticks: u32) -> Vec<(u32, DtmfPacket)> {
        (0..ticks)
            .filter_map(|i| {
                let now = ts0.wrapping_add(i * 160);
                tx.next_packet(now).map(|p| (now, p))
            })
            .collect()
    }

    #[test]
    fn sender_packet_sequence_for_one_digit() {
        let mut tx = DtmfSender::new(8000);
        assert_eq!(tx.next_packet(0), None);
        tx.start('5', 100, 10).unwrap();
        assert!(tx.is_active());
        let sent = run_sender(&mut tx, 16_000, 20);
        let expected: Vec<(bool, u8, u16)> = vec![
            (true, 0x0A, 160),
            (false, 0x0A, 320),
            (false, 0x0A, 480),
            (false, 0x0A, 640),
            (false, 0x8A, 800),
            (false, 0x8A, 800),
            (false, 0x8A, 800),
        ];
        let got: Vec<(bool, u8, u16)> = sent
            .iter()
            .map(|(_, p)| {
                assert_eq!(p.timestamp, 16_000);
                assert_eq!(p.payload[0], 5);
                (
                    p.marker,
                    p.payload[1],
                    u16::from_be_bytes([p.payload[2], p.payload[3]]),
                )
            })
            .collect();
        assert_eq!(got, expected);
        // Sent on consecutive ticks, then nothing.
        assert_eq!(sent[0].0, 16_000);
        assert_eq!(sent[6].0, 16_000 + 6 * 160);
        assert!(!tx.is_active());
    }

    #[test]
    fn queued_digits_play_in_order_with_a_gap() {
        let mut tx = DtmfSender::new(8000);
        for d in ['1', '2', '#'] {
            tx.start(d, 60, 8).unwrap();
        }
        let sent = run_sender(&mut tx, u32::MAX - 1000, 60);
        let starts: Vec<(u32, DtmfPacket)> =
            sent.iter().copied().filter(|(_, p)| p.marker).collect();
        assert_eq!(starts.len(), 3);
        let events: Vec<u8> = starts.iter().map(|(_, p)| p.payload[0]).collect();
        assert_eq!(events, [1, 2, 11]);
        for pair in starts.windows(2) {
            let end_of_first = pair[0].1.timestamp.wrapping_add(480);
            let gap = pair[1].1.timestamp.wrapping_sub(end_of_first);
            assert!((400..400 + 160).contains(&gap), "gap {gap} samples");
        }
        // Each press: 3 packets (160, 320, 480 covered) of which the last is an end,
        // then two more ends: 2 updates + 3 ends.
        assert_eq!(sent.len(), 15);
    }

    #[test]
    fn sender_rejects_bad_input() {
        let mut tx = DtmfSender::default();
        assert_eq!(tx.start('x', 100, 10), Err(DtmfError::UnknownDigit('x')));
        assert!(matches!(
            tx.start('1', 20, 10),
            Err(DtmfError::Duration { ms: 20, .. })
        ));
        assert!(matches!(
            tx.start('1', 9000, 10),
            Err(DtmfError::Duration { max_ms: 8191, .. })
        ));
        assert_eq!(tx.start('1', 100, 64), Err(DtmfError::Volume(64)));
        for _ in 0..QUEUE_CAPACITY {
            tx.start('1', 100, 10).unwrap();
        }
        assert_eq!(tx.start('1', 100, 10), Err(DtmfError::QueueFull(32)));
        tx.clear_queue();
        assert!(!tx.is_active());
    }

    #[test]
    fn sender_to_receiver_round_trip() {
        let mut tx = DtmfSender::new(8000);
        let keys = "0123456789*#ABCD11";
        for k in keys.chars() {
            tx.start(k, 80, 12).unwrap();
        }
        let mut rx = DtmfReceiver::new();
        let mut got = String::new();
        let mut seq = 40_000u16;
        let mut ts = 123_456u32;
        for _ in 0..1000 {
            if let Some(p) = tx.next_packet(ts) {
                if let Some(d) = rx.on_packet(0xABCD, seq, p.timestamp, p.marker, &p.payload) {
                    assert_eq!(d.volume, 12);
                    assert_eq!(d.duration_samples, 160);
                    got.push(d.digit);
                }
                seq = seq.wrapping_add(1);
            }
            ts = ts.wrapping_add(160);
        }
        assert_eq!(got, keys);
        assert!(!tx.is_active());
    }
}
