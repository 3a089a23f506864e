//! One browser leg: a str0m `Rtc` (ICE-lite, DTLS-SRTP), its audio stream and the bridge
//! end to the call. The answer lists PCMA, PCMU, then Opus among what the browser offered,
//! so a browser that takes G.711 sends it and the trunk's audio is relayed untouched; only
//! a browser that takes Opus alone costs a transcoder (`media::opus`).

use super::gateway::WebrtcError;
use super::outbox::Outbox;
use crate::media::bridge::{BridgeEnd, FRAME, Frame};
use crate::media::g711;
use crate::media::opus::{OpusTranscoder, TICKS_PER_FRAME};
use crate::sdp::Codec as G711;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use str0m::change::SdpOffer;
use str0m::format::Codec;
use str0m::media::{Frequency, MediaKind, MediaTime, Mid};
use str0m::rtp::Extension;
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc, RtcConfig};

/// str0m's usual id for the MID extension (the offer's own id is what the answer uses).
const MID_EXTENSION: u8 = 4;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(pub u64);

/// Tells an Opus browser (RFC 7587 `maxplaybackrate`, `sprop-maxcapturerate`) that this
/// leg plays and captures at 8 kHz — the call behind it is G.711 — so the browser encodes
/// narrowband, which is cheaper for us to decode and carries all the call has anyway.
/// str0m has no field for these parameters, so they are added to its answer's fmtp line.
fn narrowband_opus(sdp: &str) -> String {
    let pt = sdp.lines().find_map(|l| {
        let rest = l.strip_prefix("a=rtpmap:")?;
        let (pt, codec) = rest.split_once(' ')?;
        codec
            .to_ascii_lowercase()
            .starts_with("opus/")
            .then(|| pt.to_string())
    });
    let Some(pt) = pt else {
        return sdp.to_string();
    };
    const HINT: &str = "maxplaybackrate=8000;sprop-maxcapturerate=8000";
    let fmtp = format!("a=fmtp:{pt} ");
    let mut out = String::with_capacity(sdp.len() + 64);
    let mut added = false;
    for line in sdp.split_inclusive("\r\n") {
        let body = line.trim_end_matches("\r\n");
        if !added && body.starts_with(&fmtp) {
            out.push_str(&format!("{body};{HINT}\r\n"));
            added = true;
        } else {
            out.push_str(line);
            if !added && body.starts_with(&format!("a=rtpmap:{pt} ")) && !sdp.contains(&fmtp) {
                out.push_str(&format!("{fmtp}{HINT}\r\n"));
                added = true;
            }
        }
    }
    out
}

/// What the browser leg carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LegCodec {
    G711(G711),
    /// Transcoded to and from the call's 8 kHz frames.
    Opus,
}

impl LegCodec {
    pub fn name(self) -> &'static str {
        match self {
            LegCodec::G711(G711::Pcma) => "PCMA",
            LegCodec::G711(G711::Pcmu) => "PCMU",
            LegCodec::Opus => "opus",
        }
    }
}

pub(super) struct Peer {
    pub rtc: Rtc,
    bridge: BridgeEnd,
    created: Instant,
    mid: Option<Mid>,
    /// Payload type and codec we send with, from the negotiated parameters.
    send: Option<(str0m::media::Pt, LegCodec)>,
    /// Made when Opus is sent or heard: a G.711 leg never pays for libopus.
    opus: Option<OpusTranscoder>,
    opus_complexity: u8,
    connected: bool,
    connected_reported: bool,
    ended: bool,
    next_timeout: Option<Instant>,
    /// RTP time of the next frame we send, in the codec's clock (8 kHz, or 48 kHz for Opus).
    rtp_time: u64,
    /// Decoded samples from the browser not yet handed on as whole frames.
    heard: VecDeque<i16>,
}

impl Peer {
    pub fn accept(
        offer: &str,
        local: SocketAddr,
        bridge: BridgeEnd,
        now: Instant,
        opus_complexity: u8,
    ) -> Result<(Peer, String), WebrtcError> {
        let offer =
            SdpOffer::from_sdp_string(offer).map_err(|e| WebrtcError::BadOffer(e.to_string()))?;
        let mut rtc = RtcConfig::new()
            .set_ice_lite(true)
            // Only the MID header extension (BUNDLE demultiplexing). Audio needs no
            // bandwidth estimation, and with the transport-wide sequence number negotiated
            // both sides send TWCC feedback every 50 ms: 20 more packets a second each way
            // beside the 50 of audio, each one encrypted, sent and parsed.
            .clear_extension_map()
            .set_extension(MID_EXTENSION, Extension::RtpMid)
            .clear_codecs()
            .enable_pcma(true, false)
            .enable_pcmu(true, false)
            .enable_opus(true, false)
            .build(now);
        let candidate =
            Candidate::host(local, "udp").map_err(|e| WebrtcError::Refused(e.to_string()))?;
        rtc.add_local_candidate(candidate);
        let answer = rtc
            .sdp_api()
            .accept_offer(offer)
            .map_err(|e| WebrtcError::Refused(e.to_string()))?;
        let sdp = narrowband_opus(&answer.to_sdp_string());
        let has_audio = sdp.contains("m=audio")
            && (sdp.contains("PCMA/") || sdp.contains("PCMU/") || sdp.contains("opus/"));
        if !has_audio {
            return Err(WebrtcError::Refused(
                "the offer has no audio in PCMA, PCMU or Opus; offer an audio track (Chrome and Firefox offer all three by default)"
                    .into(),
            ));
        }
        let peer = Peer {
            rtc,
            bridge,
            created: now,
            mid: None,
            send: None,
            opus: None,
            opus_complexity,
            connected: false,
            connected_reported: false,
            ended: false,
            next_timeout: Some(now),
            rtp_time: 0,
            heard: VecDeque::new(),
        };
        Ok((peer, sdp))
    }

    pub fn timeout(&self) -> Option<Instant> {
        self.next_timeout
    }

    pub fn is_connected(&self) -> bool {
        self.connected
    }

    pub fn ended(&self) -> bool {
        self.ended
    }

    pub fn age(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.created)
    }

    pub fn codec(&self) -> Option<LegCodec> {
        self.send.map(|(_, c)| c)
    }

    /// `Some(setup time)` once, when the peer has just connected.
    pub fn take_connected(&mut self) -> Option<Duration> {
        if self.connected && !self.connected_reported && self.send.is_some() {
            self.connected_reported = true;
            return Some(self.created.elapsed());
        }
        None
    }

    /// One input (a datagram or a timeout), then everything it caused.
    pub fn handle(&mut self, input: Input<'_>, out: &mut Outbox) -> Result<(), String> {
        self.rtc.handle_input(input).map_err(|e| e.to_string())?;
        self.drain(out)
    }

    /// Sends this 20 ms of the call to the browser.
    pub fn tick(&mut self, now: Instant, out: &mut Outbox) -> Result<(), String> {
        let (Some(mid), Some((pt, codec)), true) = (self.mid, self.send, self.connected) else {
            // Keep the bridge drained so the call side never backs up.
            let _ = self.bridge.recv();
            return Ok(());
        };
        let frame: Frame = self.bridge.recv().unwrap_or([0; FRAME]);
        let (payload, time) = match codec {
            LegCodec::G711(g) => {
                let mut payload = vec![0u8; FRAME];
                g711::encode(g, &frame, &mut payload);
                let time = MediaTime::new(self.rtp_time, Frequency::EIGHT_KHZ);
                self.rtp_time += FRAME as u64;
                (payload, time)
            }
            LegCodec::Opus => {
                let payload = self
                    .transcoder()?
                    .encode(&frame)
                    .map_err(|e| e.to_string())?;
                let time = MediaTime::new(self.rtp_time, Frequency::FORTY_EIGHT_KHZ);
                self.rtp_time += TICKS_PER_FRAME;
                (payload, time)
            }
        };
        if let Some(w) = self.rtc.writer(mid) {
            w.write(pt, now, time, payload).map_err(|e| e.to_string())?;
        }
        self.drain(out)
    }

    fn drain(&mut self, out: &mut Outbox) -> Result<(), String> {
        loop {
            match self.rtc.poll_output().map_err(|e| e.to_string())? {
                Output::Timeout(t) => {
                    self.next_timeout = Some(t);
                    return Ok(());
                }
                Output::Transmit(t) => out.push(t.destination, t.contents.into()),
                Output::Event(e) => self.event(e),
            }
        }
    }

    fn event(&mut self, e: Event) {
        match e {
            Event::Connected => self.connected = true,
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => self.ended = true,
            Event::MediaAdded(m) if m.kind == MediaKind::Audio => {
                self.mid = Some(m.mid);
                self.choose_codec();
            }
            Event::MediaData(d) => {
                match d.params.spec().codec {
                    Codec::PCMU => self.heard_g711(G711::Pcmu, &d.data),
                    Codec::PCMA => self.heard_g711(G711::Pcma, &d.data),
                    Codec::Opus => {
                        let rtp_time = d.time.rebase(Frequency::FORTY_EIGHT_KHZ).numer();
                        let Ok(opus) = self.transcoder() else {
                            return;
                        };
                        let mut pcm = Vec::with_capacity(FRAME * 2);
                        opus.decode(rtp_time, &d.data, &mut pcm);
                        self.heard.extend(&pcm);
                    }
                    _ => return,
                }
                // Keep at most 100 ms queued: the bridge drops anything older anyway.
                while self.heard.len() > FRAME * 5 {
                    self.heard.pop_front();
                }
                while self.heard.len() >= FRAME {
                    let mut f = [0i16; FRAME];
                    for (slot, s) in f.iter_mut().zip(self.heard.drain(..FRAME)) {
                        *slot = s;
                    }
                    self.bridge.send(&f);
                }
            }
            _ => {}
        }
    }

    fn heard_g711(&mut self, codec: G711, data: &[u8]) {
        let mut pcm = vec![0i16; data.len()];
        let n = g711::decode(codec, data, &mut pcm);
        self.heard.extend(&pcm[..n]);
    }

    fn transcoder(&mut self) -> Result<&mut OpusTranscoder, String> {
        if self.opus.is_none() {
            self.opus = Some(
                OpusTranscoder::with_complexity(self.opus_complexity).map_err(|e| e.to_string())?,
            );
        }
        Ok(self.opus.as_mut().expect("made above"))
    }

    /// PCMA first, then PCMU, then Opus, among what was negotiated.
    fn choose_codec(&mut self) {
        let Some(mid) = self.mid else {
            return;
        };
        let Some(w) = self.rtc.writer(mid) else {
            return;
        };
        let params: Vec<(str0m::media::Pt, Codec)> = w
            .payload_params()
            .map(|p| (p.pt(), p.spec().codec))
            .collect();
        self.send = [
            (Codec::PCMA, LegCodec::G711(G711::Pcma)),
            (Codec::PCMU, LegCodec::G711(G711::Pcmu)),
            (Codec::Opus, LegCodec::Opus),
        ]
        .into_iter()
        .find_map(|(want, ours)| {
            params
                .iter()
                .find(|(_, c)| *c == want)
                .map(|(pt, _)| (*pt, ours))
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::bridge;
    use str0m::media::Direction;

    /// A browser-like offer: str0m's defaults carry the extensions Chrome offers for audio
    /// (audio level, abs-send-time, transport-wide-cc, mid) and `rtcp-fb transport-cc`.
    fn browser_offer() -> String {
        let mut rtc = Rtc::new(Instant::now());
        let addr: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        rtc.add_local_candidate(Candidate::host(addr, "udp").unwrap());
        let mut api = rtc.sdp_api();
        api.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
        let (offer, _) = api.apply().unwrap();
        offer.to_sdp_string()
    }

    #[test]
    fn the_answer_keeps_only_the_mid_extension_so_nobody_sends_twcc_feedback() {
        let offer = browser_offer();
        assert!(offer.contains("transport-wide-cc"), "{offer}");
        let (end, _far) = bridge::bridge_pair();
        let local = "127.0.0.1:50000".parse().unwrap();
        let (_, answer) = Peer::accept(&offer, local, end, Instant::now(), 3).unwrap();
        let extmaps: Vec<&str> = answer
            .lines()
            .filter(|l| l.starts_with("a=extmap:"))
            .collect();
        assert_eq!(extmaps.len(), 1, "{answer}");
        assert!(
            extmaps[0].ends_with("urn:ietf:params:rtp-hdrext:sdes:mid"),
            "{answer}"
        );
        // `rtcp-fb transport-cc` may stay: without the sequence-number extension there is
        // nothing to report on.
        assert!(!answer.contains("transport-wide-cc"), "{answer}");
    }

    #[test]
    fn the_opus_fmtp_line_gets_the_narrowband_hint_and_nothing_else_changes() {
        let sdp = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 8\r\na=rtpmap:111 opus/48000/2\r\n\
                   a=fmtp:111 minptime=10;useinbandfec=1\r\na=rtpmap:8 PCMA/8000\r\n";
        let out = narrowband_opus(sdp);
        assert_eq!(
            out,
            sdp.replace(
                "useinbandfec=1\r\n",
                "useinbandfec=1;maxplaybackrate=8000;sprop-maxcapturerate=8000\r\n"
            )
        );
        let no_fmtp =
            "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\na=sendrecv\r\n";
        assert!(
            narrowband_opus(no_fmtp).contains(
                "opus/48000/2\r\na=fmtp:111 maxplaybackrate=8000;sprop-maxcapturerate=8000\r\na=sendrecv"
            ),
            "{}",
            narrowband_opus(no_fmtp)
        );
        let g711 = "m=audio 9 UDP/TLS/RTP/SAVPF 8\r\na=rtpmap:8 PCMA/8000\r\n";
        assert_eq!(narrowband_opus(g711), g711);
    }
}
