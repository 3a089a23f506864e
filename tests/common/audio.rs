//! Audio for the media tests, written independently of the crate (the tests judge the
//! crate's G.711, RTP and recorder, so they must not reuse them): G.711 tables, RTP pcaps
//! for SIPp's `play_pcap_audio`, a small WAV reader and header checker, and energy-envelope
//! correlation to tell whether one recording carries another's audio.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// G.711 (ITU-T G.711, the classic segment/mantissa formulation)

/// Linear 16-bit to μ-law.
pub fn ulaw_encode(sample: i16) -> u8 {
    const BIAS: i32 = 0x84;
    const CLIP: i32 = 32635;
    let s = i32::from(sample);
    let sign = if s < 0 { 0x80 } else { 0 };
    let mag = s.abs().min(CLIP) + BIAS;
    let exp: i32 = (0..8).rev().find(|e| mag & (0x80 << e) != 0).unwrap_or(0);
    let mant = (mag >> (exp + 3)) & 0x0F;
    !(sign | (exp << 4) | mant) as u8
}

/// μ-law to linear 16-bit.
pub fn ulaw_decode(byte: u8) -> i16 {
    let b = !byte;
    let sign = b & 0x80;
    let exp = i32::from((b >> 4) & 0x07);
    let mant = i32::from(b & 0x0F);
    let mag = (((mant << 3) + 0x84) << exp) - 0x84;
    (if sign != 0 { -mag } else { mag }) as i16
}

/// A-law to linear 16-bit.
pub fn alaw_decode(byte: u8) -> i16 {
    let a = byte ^ 0x55;
    let sign = a & 0x80;
    let exp = i32::from((a >> 4) & 0x07);
    let mant = i32::from(a & 0x0F);
    let mag = if exp == 0 {
        (mant << 4) + 8
    } else {
        ((mant << 4) + 0x108) << (exp - 1)
    };
    // A-law's sign bit set means positive.
    (if sign != 0 { mag } else { -mag }) as i16
}

// ---------------------------------------------------------------------------------------------
// RTP pcaps

/// One RTP packet as read from a pcap.
#[derive(Clone, Debug)]
pub struct RtpPacket {
    pub pt: u8,
    pub marker: bool,
    pub seq: u16,
    pub ts: u32,
    pub ssrc: u32,
    pub payload: Vec<u8>,
}

/// Writes an Ethernet/IPv4/UDP pcap of RTP packets (SIPp rewrites the addresses and ports
/// when it plays one).
pub struct PcapWriter {
    records: Vec<(f64, Vec<u8>)>,
    ssrc: u32,
    seq: u16,
    ts: u32,
    /// Send time of the next packet, seconds from the start.
    t: f64,
}

impl PcapWriter {
    pub fn new(ssrc: u32) -> PcapWriter {
        PcapWriter {
            records: Vec::new(),
            ssrc,
            seq: 1000,
            ts: 0,
            t: 0.0,
        }
    }

    fn rtp(&mut self, pt: u8, marker: bool, ts: u32, payload: &[u8]) {
        let mut p = Vec::with_capacity(12 + payload.len());
        p.push(0x80);
        p.push(if marker { 0x80 } else { 0 } | (pt & 0x7f));
        p.extend_from_slice(&self.seq.to_be_bytes());
        p.extend_from_slice(&ts.to_be_bytes());
        p.extend_from_slice(&self.ssrc.to_be_bytes());
        p.extend_from_slice(payload);
        self.seq = self.seq.wrapping_add(1);
        self.records.push((self.t, p));
    }

    /// Audio as 20 ms G.711 packets (`encode` is μ-law for PT 0); a short last frame is
    /// padded with silence. The first packet of the stream carries the marker bit.
    pub fn audio(&mut self, pt: u8, samples: &[i16], encode: fn(i16) -> u8) {
        for chunk in samples.chunks(160) {
            let mut payload: Vec<u8> = chunk.iter().map(|s| encode(*s)).collect();
            payload.resize(160, encode(0));
            let first = self.records.is_empty();
            self.rtp(pt, first, self.ts, &payload);
            self.ts = self.ts.wrapping_add(160);
            self.t += 0.02;
        }
    }

    /// An RFC 4733 event in the same stream: 8 packets of 20 ms (160 ms), then the end
    /// packet three times, as a phone sends it; audio resumes after it.
    pub fn event(&mut self, pt: u8, digit: char) {
        let code: u8 = match digit {
            '0'..='9' => digit as u8 - b'0',
            '*' => 10,
            '#' => 11,
            _ => panic!("no RFC 4733 event code for {digit:?}"),
        };
        let start = self.ts;
        for i in 1..=8u16 {
            let mut pl = vec![code, 10];
            pl.extend_from_slice(&(160 * i).to_be_bytes());
            self.rtp(pt, i == 1, start, &pl);
            self.t += 0.02;
        }
        for _ in 0..3 {
            let mut pl = vec![code, 0x80 | 10];
            pl.extend_from_slice(&(160u16 * 8).to_be_bytes());
            self.rtp(pt, false, start, &pl);
        }
        self.t += 0.02;
        self.ts = self.ts.wrapping_add(160 * 9);
    }

    /// Writes the classic pcap file (microsecond timestamps, link type Ethernet).
    pub fn write(&self, path: &Path) {
        let mut f = Vec::new();
        f.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        f.extend_from_slice(&2u16.to_le_bytes());
        f.extend_from_slice(&4u16.to_le_bytes());
        f.extend_from_slice(&0i32.to_le_bytes());
        f.extend_from_slice(&0u32.to_le_bytes());
        f.extend_from_slice(&65535u32.to_le_bytes());
        f.extend_from_slice(&1u32.to_le_bytes());
        for (t, rtp) in &self.records {
            let frame = ethernet_udp(rtp);
            let secs = t.floor();
            let micros = ((t - secs) * 1e6).round() as u32;
            f.extend_from_slice(&(1_700_000_000 + secs as u32).to_le_bytes());
            f.extend_from_slice(&micros.to_le_bytes());
            f.extend_from_slice(&(frame.len() as u32).to_le_bytes());
            f.extend_from_slice(&(frame.len() as u32).to_le_bytes());
            f.extend_from_slice(&frame);
        }
        fs::write(path, f).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }
}

/// 10.0.0.1:40000 → 10.0.0.2:6000 over Ethernet; checksums as a NIC would leave them
/// (IP header checksum set, UDP checksum 0 = none).
fn ethernet_udp(payload: &[u8]) -> Vec<u8> {
    let udp_len = 8 + payload.len();
    let mut ip = vec![0x45, 0xb8];
    ip.extend_from_slice(&((20 + udp_len) as u16).to_be_bytes());
    ip.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
    let mut sum: u32 = ip
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum >> 16) + (sum & 0xffff);
    }
    let csum = !(sum as u16);
    ip[10..12].copy_from_slice(&csum.to_be_bytes());
    let mut frame = vec![0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 1, 0x08, 0x00];
    frame.extend_from_slice(&ip);
    frame.extend_from_slice(&40000u16.to_be_bytes());
    frame.extend_from_slice(&6000u16.to_be_bytes());
    frame.extend_from_slice(&(udp_len as u16).to_be_bytes());
    frame.extend_from_slice(&[0, 0]);
    frame.extend_from_slice(payload);
    frame
}

/// The RTP packets of a pcap (Ethernet or Linux cooked capture, IPv4/UDP), in file order.
pub fn read_pcap_rtp(path: &Path) -> Vec<RtpPacket> {
    let data = fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    assert!(
        data.len() >= 24,
        "{} is too short for a pcap",
        path.display()
    );
    let magic = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
    let le = match magic {
        0xa1b2_c3d4 => true,
        0xd4c3_b2a1 => false,
        _ => panic!(
            "{} is not a classic pcap (magic {magic:#x})",
            path.display()
        ),
    };
    let u32_at = |b: &[u8]| {
        let a = [b[0], b[1], b[2], b[3]];
        if le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    };
    let link = u32_at(&data[20..24]);
    let l2 = match link {
        1 => 14,
        113 => 16,
        _ => panic!("{}: link type {link} not handled", path.display()),
    };
    let mut out = Vec::new();
    let mut off = 24;
    while off + 16 <= data.len() {
        let incl = u32_at(&data[off + 8..off + 12]) as usize;
        let start = off + 16;
        off = start + incl;
        let Some(frame) = data.get(start..start + incl) else {
            break;
        };
        let Some(ip) = frame.get(l2..) else { continue };
        if ip.len() < 20 || ip[0] >> 4 != 4 || ip[9] != 17 {
            continue;
        }
        let ihl = usize::from(ip[0] & 0x0f) * 4;
        let Some(rtp) = ip.get(ihl + 8..) else {
            continue;
        };
        if rtp.len() < 12 || rtp[0] >> 6 != 2 {
            continue;
        }
        let cc = usize::from(rtp[0] & 0x0f);
        let Some(payload) = rtp.get(12 + 4 * cc..) else {
            continue;
        };
        out.push(RtpPacket {
            pt: rtp[1] & 0x7f,
            marker: rtp[1] & 0x80 != 0,
            seq: u16::from_be_bytes([rtp[2], rtp[3]]),
            ts: u32::from_be_bytes([rtp[4], rtp[5], rtp[6], rtp[7]]),
            ssrc: u32::from_be_bytes([rtp[8], rtp[9], rtp[10], rtp[11]]),
            payload: payload.to_vec(),
        });
    }
    out
}

// ---------------------------------------------------------------------------------------------
// WAV

/// A PCM WAV file read whole.
#[derive(Clone, Debug)]
pub struct Wav {
    pub rate: u32,
    pub channels: u16,
    /// Interleaved samples.
    pub samples: Vec<i16>,
}

impl Wav {
    /// One channel's samples (0 = left).
    pub fn channel(&self, ch: u16) -> Vec<i16> {
        self.samples
            .iter()
            .skip(usize::from(ch))
            .step_by(usize::from(self.channels.max(1)))
            .copied()
            .collect()
    }

    pub fn seconds(&self) -> f64 {
        self.samples.len() as f64 / f64::from(self.channels.max(1)) / f64::from(self.rate.max(1))
    }
}

/// Where a WAV file's chunks say its parts are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WavLayout {
    pub file_len: u64,
    /// The RIFF chunk's size field (file length − 8 when consistent).
    pub riff_size: u64,
    pub format: u16,
    pub channels: u16,
    pub rate: u32,
    pub bits: u16,
    /// Offset of the data chunk's payload.
    pub data_offset: u64,
    /// The data chunk's size field.
    pub data_size: u64,
}

/// Reads the chunk layout of a WAV file; `Err` says what is malformed.
pub fn wav_layout(path: &Path) -> Result<WavLayout, String> {
    let b = fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let u32_at = |o: usize| -> Result<u32, String> {
        b.get(o..o + 4)
            .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
            .ok_or_else(|| format!("truncated at byte {o}"))
    };
    let u16_at = |o: usize| -> Result<u16, String> {
        b.get(o..o + 2)
            .map(|s| u16::from_le_bytes([s[0], s[1]]))
            .ok_or_else(|| format!("truncated at byte {o}"))
    };
    if b.get(0..4) != Some(b"RIFF") || b.get(8..12) != Some(b"WAVE") {
        return Err("no RIFF/WAVE header".into());
    }
    let riff_size = u64::from(u32_at(4)?);
    let mut off = 12usize;
    let mut fmt = None;
    while off + 8 <= b.len() {
        let id = &b[off..off + 4];
        let size = u32_at(off + 4)? as usize;
        let body = off + 8;
        if id == b"fmt " {
            fmt = Some((
                u16_at(body)?,
                u16_at(body + 2)?,
                u32_at(body + 4)?,
                u16_at(body + 14)?,
            ));
        } else if id == b"data" {
            let (format, channels, rate, bits) = fmt.ok_or("data chunk before any fmt chunk")?;
            return Ok(WavLayout {
                file_len: b.len() as u64,
                riff_size,
                format,
                channels,
                rate,
                bits,
                data_offset: body as u64,
                data_size: size as u64,
            });
        }
        off = body + size + (size & 1);
    }
    Err("no data chunk".into())
}

/// Reads a 16-bit PCM WAV (format 1 or WAVE_FORMAT_EXTENSIBLE); the data chunk is cut to
/// what the file holds.
pub fn read_wav(path: &Path) -> Wav {
    let layout = wav_layout(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        (layout.format == 1 || layout.format == 0xfffe) && layout.bits == 16,
        "{}: not 16-bit PCM: {layout:?}",
        path.display()
    );
    let b = fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let start = layout.data_offset as usize;
    let end = (start + layout.data_size as usize).min(b.len());
    let samples = b[start..end]
        .chunks_exact(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect();
    Wav {
        rate: layout.rate,
        channels: layout.channels,
        samples,
    }
}

/// Waits (bounded) until a WAV written by another process is closed (its data chunk covers
/// the rest of the file and is not empty), then reads it.
pub fn closed_wav(path: &Path, wait: Duration) -> Wav {
    let deadline = Instant::now() + wait;
    loop {
        let layout = wav_layout(path);
        if let Ok(l) = &layout
            && l.data_size > 0
            && l.data_offset + l.data_size == l.file_len
        {
            return read_wav(path);
        }
        assert!(
            Instant::now() < deadline,
            "{} was not a closed WAV within {wait:?}: {layout:?}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

// ---------------------------------------------------------------------------------------------
// Levels and correlation

/// Root mean square of the samples (0 for none).
pub fn rms(samples: &[i16]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let sum: f64 = samples.iter().map(|s| f64::from(*s).powi(2)).sum();
    (sum / samples.len() as f64).sqrt()
}

/// RMS per block of `block` samples: the loudness contour, which survives codecs, jitter
/// buffers and small timing shifts that would wreck a sample-by-sample comparison.
pub fn envelope(samples: &[i16], block: usize) -> Vec<f64> {
    samples.chunks_exact(block).map(rms).collect()
}

/// Pearson correlation of two equally long series (0 when either is flat).
pub fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    if n < 2 {
        return 0.0;
    }
    let (a, b) = (&a[..n], &b[..n]);
    let ma = a.iter().sum::<f64>() / n as f64;
    let mb = b.iter().sum::<f64>() / n as f64;
    let (mut num, mut da, mut db) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        num += (x - ma) * (y - mb);
        da += (x - ma).powi(2);
        db += (y - mb).powi(2);
    }
    if da == 0.0 || db == 0.0 {
        0.0
    } else {
        num / (da.sqrt() * db.sqrt())
    }
}

/// How well `received` carries `reference`, delayed by some lag in `0..=max_lag` blocks.
#[derive(Clone, Debug)]
pub struct Alignment {
    /// The best lag, in envelope blocks.
    pub lag: usize,
    /// The correlation at that lag.
    pub peak: f64,
    /// Mean |correlation| over all lags: what chance alignment gives for these signals.
    pub chance: f64,
}

/// Slides `reference`'s envelope along `received`'s and reports the best match. At each lag
/// the overlap is the whole reference envelope (or what of it fits), so a lag that only
/// overlaps a few blocks cannot win by luck: at least half the reference must overlap.
pub fn align(reference: &[f64], received: &[f64], max_lag: usize) -> Alignment {
    let min_overlap = reference.len() / 2;
    let mut best = (0usize, f64::MIN);
    let mut sum = 0.0;
    let mut count = 0usize;
    for lag in 0..=max_lag {
        let Some(tail) = received.get(lag..) else {
            break;
        };
        let n = tail.len().min(reference.len());
        if n < min_overlap.max(2) {
            break;
        }
        let c = pearson(&reference[..n], &tail[..n]);
        sum += c.abs();
        count += 1;
        if c > best.1 {
            best = (lag, c);
        }
    }
    Alignment {
        lag: best.0,
        peak: if count == 0 { 0.0 } else { best.1 },
        chance: if count == 0 { 0.0 } else { sum / count as f64 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulaw_round_trips_within_its_step() {
        for s in [
            -32768i32, -20000, -1000, -100, -1, 0, 1, 100, 1000, 20000, 32767,
        ] {
            let d = i32::from(ulaw_decode(ulaw_encode(s as i16)));
            let tolerance = (s.abs() / 16).max(8);
            assert!((d - s).abs() <= tolerance, "{s} came back as {d}");
        }
        // Known code points: silence is 0xFF, full scale negative 0x00.
        assert_eq!(ulaw_encode(0), 0xff);
        assert_eq!(ulaw_encode(-32768), 0x00);
        assert_eq!(ulaw_decode(0x80), 32124);
    }

    #[test]
    fn alaw_decodes_known_code_points() {
        assert_eq!(alaw_decode(0xd5), 8);
        assert_eq!(alaw_decode(0x55), -8);
        assert_eq!(alaw_decode(0xaa), 32256);
        assert_eq!(alaw_decode(0x2a), -32256);
    }

    #[test]
    fn alignment_finds_a_delayed_copy_and_rejects_noise() {
        // A bursty "speech" envelope and a copy delayed by 7 blocks.
        let reference: Vec<f64> = (0..200)
            .map(|i| {
                if (i / 13) % 3 == 0 {
                    1000.0 + i as f64
                } else {
                    10.0
                }
            })
            .collect();
        let mut delayed = vec![5.0; 7];
        delayed.extend(&reference);
        let a = align(&reference, &delayed, 50);
        assert_eq!(a.lag, 7);
        assert!(a.peak > 0.99, "{a:?}");
        assert!(a.chance < 0.6, "{a:?}");
        let flat = vec![3.0; 300];
        assert_eq!(align(&reference, &flat, 50).peak, 0.0);
    }

    #[test]
    fn pcap_written_is_read_back() {
        let dir = std::env::temp_dir().join(format!("hotline-pcap-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("mkdir");
        let path = dir.join("t.pcap");
        let mut w = PcapWriter::new(0x1234_5678);
        w.audio(0, &[1000i16; 320], ulaw_encode);
        w.event(101, '5');
        w.write(&path);
        let pkts = read_pcap_rtp(&path);
        let _ = fs::remove_dir_all(&dir);
        assert_eq!(pkts.len(), 2 + 8 + 3);
        assert!(pkts[0].marker && !pkts[1].marker);
        assert_eq!((pkts[0].pt, pkts[0].payload.len()), (0, 160));
        assert_eq!(pkts[1].ts, 160);
        assert_eq!(pkts[2].pt, 101);
        assert_eq!(pkts[2].payload, vec![5, 10, 0, 160]);
        assert_eq!(pkts[12].payload, vec![5, 0x8a, 5, 0]);
        assert!(pkts.iter().all(|p| p.ssrc == 0x1234_5678));
    }
}
