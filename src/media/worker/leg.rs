//! One call's media inside a worker: RTP in → jitter buffer → decode → DTMF detection →
//! the app (echo or prompts) → encode → RTP out, plus recording, RTCP and the RTP timeout.

use super::remote::{Remote, RemoteEvent, VoicemailFile, VoicemailSpec};
use super::{DigitSource, MediaConfig, MediaEvent, MediaParams, MediaReport};
use crate::call::apps::{App, AppAction, AppKind};
use crate::media::bridge::BridgeEnd;
use crate::media::dtmf::{DtmfReceiver, DtmfSender, InbandDetector};
use crate::media::g711;
use crate::media::player::{Item, Player};
use crate::media::recorder::Recorder;
use crate::media::rtp::{
    Frame, JitterBuffer, JitterConfig, NtpClock, QualityInput, RtcpSession, RtpReceiver, RtpSender,
};
use bytes::Bytes;
use mio::net::UdpSocket;
use std::net::SocketAddr;
use std::time::{Instant, SystemTime};
use tokio::sync::mpsc::UnboundedSender;
use tracing::{debug, info, warn};

const FRAME: usize = crate::media::rtp::FRAME_SAMPLES;

pub struct Leg {
    pub call_id: Bytes,
    rtp: UdpSocket,
    rtcp: UdpSocket,
    params: MediaParams,
    rx: RtpReceiver,
    tx: RtpSender,
    jitter: JitterBuffer,
    dtmf_rx: DtmfReceiver,
    dtmf_tx: DtmfSender,
    rtcp_session: RtcpSession,
    inband: InbandDetector,
    /// Once RFC 4733 events arrive, in-band detection stops (the tones may be in audio too).
    saw_rfc4733: bool,
    player: Player,
    app: App,
    /// The other party, once the call is bridged (transfer, agent): it replaces the app's
    /// audio both ways.
    bridge: Option<BridgeEnd>,
    /// Held by the agent: the bridge carries silence both ways and the caller hears what
    /// is played (hold music).
    held: bool,
    /// What an IVR flow asked for (play lists, voicemail); idle for built-in apps.
    remote: Remote,
    remote_events: Vec<RemoteEvent>,
    voicemails: Vec<std::path::PathBuf>,
    /// The call's UTC date: recordings and voicemails go under recordings/YYYY/MM/DD.
    date: (u16, u8, u8),
    recorder: Option<Recorder>,
    recording_error: bool,
    /// Start of the call, or the end of the last hold: silence before it does not count.
    quiet_since: Instant,
    hangup_sent: bool,
    digits: String,
    pcm_in: [i16; FRAME],
    pcm_out: [i16; FRAME],
    out: [u8; 1500],
}

impl Leg {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        call_id: Bytes,
        rtp: UdpSocket,
        rtcp: UdpSocket,
        params: MediaParams,
        app: AppKind,
        record: bool,
        started: SystemTime,
        now: Instant,
        cfg: &MediaConfig,
    ) -> Leg {
        let seed = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            call_id.hash(&mut h);
            now.hash(&mut h);
            h.finish()
        };
        let mut rx = RtpReceiver::new(Some(params.remote));
        rx.set_expected(&expected_pts(&params));
        rx.set_event_payload_type(params.dtmf_pt);
        let since_epoch = started
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        let mut rtcp_session = RtcpSession::new(
            "hotline@media",
            NtpClock::new(now, since_epoch),
            seed ^ 0x5eed,
        );
        rtcp_session.start(now);
        let jitter = JitterBuffer::new(JitterConfig {
            codec: Some(params.codec),
            ..Default::default()
        });
        let mut player = Player::new();
        let app = App::start(app, &cfg.prompts, &mut player, now);
        let (y, m, d) = utc_date(started);
        let date = (y as u16, m as u8, d as u8);
        let recorder = if record {
            let id = String::from_utf8_lossy(&call_id).into_owned();
            match Recorder::create(&cfg.recordings_dir, date, &id) {
                Ok(r) => Some(r),
                Err(e) => {
                    warn!(call_id = %id, error = %e, "cannot record this call");
                    None
                }
            }
        } else {
            None
        };
        Leg {
            call_id,
            rtp,
            rtcp,
            params,
            rx,
            tx: RtpSender::new(seed),
            jitter,
            dtmf_rx: DtmfReceiver::new(),
            dtmf_tx: DtmfSender::new(crate::media::rtp::CLOCK_RATE),
            rtcp_session,
            inband: InbandDetector::new(8000),
            saw_rfc4733: false,
            player,
            app,
            bridge: None,
            held: false,
            remote: Remote::default(),
            remote_events: Vec::new(),
            voicemails: Vec::new(),
            date,
            recorder,
            recording_error: false,
            quiet_since: now,
            hangup_sent: false,
            digits: String::new(),
            pcm_in: [0; FRAME],
            pcm_out: [0; FRAME],
            out: [0; 1500],
        }
    }

    /// Joins this leg to another party; prompts still queued are dropped (their
    /// `PlaybackDone` goes out as interrupted so a flow waiting on them moves on).
    pub fn bridge(&mut self, end: BridgeEnd, events: &UnboundedSender<MediaEvent>) {
        self.stop_playback(events);
        self.bridge = Some(end);
    }

    /// Leaves the bridge; the other side's end sees it closed.
    pub fn unbridge(&mut self) {
        self.bridge = None;
        self.held = false;
    }

    /// Puts the bridged conversation on hold (or resumes it); resuming stops what played.
    pub fn hold(&mut self, on: bool, events: &UnboundedSender<MediaEvent>) {
        if self.held && !on {
            self.stop_playback(events);
        }
        self.held = on;
    }

    /// Keypad digits towards the far end: RFC 4733 events when negotiated, otherwise
    /// in-band tones. Characters that are not keypad keys are skipped.
    pub fn send_digits(&mut self, digits: &str) {
        for d in digits.chars() {
            if self.params.dtmf_pt.is_some() {
                let _ = self.dtmf_tx.start(d, 100, 10);
            } else if let Some(tone) = Item::dtmf(d, std::time::Duration::from_millis(100)) {
                self.player.enqueue(tone);
                self.player
                    .enqueue(Item::Silence(std::time::Duration::from_millis(60)));
            }
        }
    }

    pub fn rtp_socket(&mut self) -> &mut UdpSocket {
        &mut self.rtp
    }
    pub fn rtcp_socket(&mut self) -> &mut UdpSocket {
        &mut self.rtcp
    }

    pub fn update(&mut self, params: MediaParams) {
        self.rx.set_expected(&expected_pts(&params));
        self.rx.set_event_payload_type(params.dtmf_pt);
        self.rx.set_remote_hint(Some(params.remote));
        self.params = params;
    }

    pub fn on_rtp(
        &mut self,
        now: Instant,
        from: SocketAddr,
        data: &[u8],
        cfg: &MediaConfig,
        events: &UnboundedSender<MediaEvent>,
    ) {
        let Ok(p) = self.rx.on_packet(now, from, data) else {
            return;
        };
        if Some(p.payload_type) == self.params.dtmf_pt {
            self.saw_rfc4733 = true;
            if let Some(d) = self
                .dtmf_rx
                .on_packet(p.ssrc, p.seq, p.timestamp, p.marker, p.payload)
            {
                self.on_digit(now, d.digit, DigitSource::Rfc4733, cfg, events);
            }
            return;
        }
        self.jitter.push(&p, now);
    }

    pub fn on_rtcp(&mut self, now: Instant, _from: SocketAddr, data: &[u8]) {
        if let Err(e) = self.rtcp_session.on_rtcp(now, data, self.tx.ssrc()) {
            debug!(call_id = %String::from_utf8_lossy(&self.call_id), error = %e, "bad RTCP");
        }
    }

    /// A key press from any source: recorded for the CDR, reported, and given to the app.
    pub fn on_digit(
        &mut self,
        now: Instant,
        digit: char,
        source: DigitSource,
        cfg: &MediaConfig,
        events: &UnboundedSender<MediaEvent>,
    ) {
        self.digits.push(digit);
        let _ = events.send(MediaEvent::Digit {
            call_id: self.call_id.clone(),
            digit,
            source,
        });
        self.app
            .on_digit(digit, &cfg.prompts, &mut self.player, now);
        self.remote
            .on_digit(digit, &mut self.player, &mut self.remote_events);
        self.report_remote(events);
    }

    /// An IVR flow's prompts: played in order, reported done (or interrupted) by id.
    pub fn play(
        &mut self,
        id: u64,
        items: Vec<Item>,
        interruptible: bool,
        events: &UnboundedSender<MediaEvent>,
    ) {
        self.remote.play(
            &mut self.player,
            id,
            items,
            interruptible,
            &mut self.remote_events,
        );
        self.report_remote(events);
    }

    pub fn stop_playback(&mut self, events: &UnboundedSender<MediaEvent>) {
        self.remote.stop(&mut self.player, &mut self.remote_events);
        self.report_remote(events);
    }

    /// An IVR flow's voicemail, saved beside the call recordings.
    pub fn record_voicemail(
        &mut self,
        id: u64,
        spec: VoicemailSpec,
        cfg: &MediaConfig,
        events: &UnboundedSender<MediaEvent>,
    ) {
        let name = format!("{}-voicemail-{id}", String::from_utf8_lossy(&self.call_id));
        self.remote.record(
            &mut self.player,
            id,
            spec,
            VoicemailFile {
                dir: &cfg.recordings_dir,
                date: self.date,
                name: &name,
            },
            &mut self.remote_events,
        );
        self.report_remote(events);
    }

    fn report_remote(&mut self, events: &UnboundedSender<MediaEvent>) {
        for ev in self.remote_events.drain(..) {
            let ev = match ev {
                RemoteEvent::PlaybackDone { id, interrupted } => MediaEvent::PlaybackDone {
                    call_id: self.call_id.clone(),
                    id,
                    interrupted,
                },
                RemoteEvent::RecordDone { id, path, duration } => {
                    self.voicemails.extend(path.clone());
                    MediaEvent::RecordDone {
                        call_id: self.call_id.clone(),
                        id,
                        path,
                        duration,
                    }
                }
            };
            let _ = events.send(ev);
        }
    }

    pub fn tick(&mut self, now: Instant, cfg: &MediaConfig, events: &UnboundedSender<MediaEvent>) {
        // 1. What the caller said this 20 ms.
        match self.jitter.pop(now) {
            Frame::Audio(payload) => {
                let n = g711::decode(self.params.codec, payload, &mut self.pcm_in);
                self.pcm_in[n..].fill(0);
            }
            _ => self.pcm_in.fill(0),
        }
        if !self.saw_rfc4733
            && let Some(digit) = self.inband.push(&self.pcm_in)
        {
            self.on_digit(now, digit, DigitSource::Inband, cfg, events);
        }
        // 2. What we say: the bridged party, the caller's own voice (echo) or the player.
        if let Some(bridge) = &mut self.bridge {
            if self.held {
                bridge.send(&[0; FRAME]);
                let _ = bridge.recv();
                if !self.player.next_frame(&mut self.pcm_out) {
                    self.pcm_out.fill(0);
                }
            } else {
                bridge.send(&self.pcm_in);
                let other = bridge.recv();
                // Keypad tones sent by the agent sound over the conversation.
                if self.player.is_idle() || !self.player.next_frame(&mut self.pcm_out) {
                    match other {
                        Some(frame) => self.pcm_out = frame,
                        None => self.pcm_out.fill(0),
                    }
                }
            }
        } else if self.app.echoes() {
            self.pcm_out = self.pcm_in;
        } else if !self.player.next_frame(&mut self.pcm_out) {
            self.pcm_out.fill(0);
        }
        if let AppAction::Hangup(cause) = self.app.on_tick(now, &cfg.prompts, &mut self.player) {
            self.request_hangup(cause, events);
        }
        self.remote
            .tick(&mut self.player, &self.pcm_in, &mut self.remote_events);
        if !self.remote_events.is_empty() {
            self.report_remote(events);
        }
        // 3. Send (not while the peer holds us: it asked us to stop sending).
        if !self.params.on_hold {
            self.send_frame();
        }
        // 4. Record both sides.
        if let Some(rec) = &mut self.recorder
            && let Err(e) = rec.write(&self.pcm_in, &self.pcm_out)
            && !self.recording_error
        {
            warn!(call_id = %String::from_utf8_lossy(&self.call_id), error = %e, "recording failed; the call goes on");
            self.recording_error = true;
        }
        // 5. RTCP and the inactivity timeout.
        if self.rtcp_session.is_due(now) {
            self.send_rtcp(now);
        }
        // Silence while held is expected: the timeout counts from the resume at the earliest.
        if self.params.on_hold {
            self.quiet_since = now;
        }
        if !cfg.rtp_timeout.is_zero() && !self.params.on_hold {
            let last = self
                .rx
                .last_packet()
                .map_or(self.quiet_since, |l| l.max(self.quiet_since));
            if now.duration_since(last) >= cfg.rtp_timeout {
                let cause = format!("RTP timeout: no media for {} s", cfg.rtp_timeout.as_secs());
                self.request_hangup(cause, events);
            }
        }
    }

    fn send_frame(&mut self) {
        let dest = self.rx.remote().unwrap_or(self.params.remote);
        let written = if let (Some(pt), Some(ev)) = (
            self.params.dtmf_pt,
            self.dtmf_tx.next_packet(self.tx.timestamp()),
        ) {
            self.tx.write_with_timestamp(
                pt,
                ev.marker,
                ev.timestamp,
                FRAME as u32,
                &ev.payload,
                &mut self.out,
            )
        } else {
            let mut payload = [0u8; FRAME];
            g711::encode(self.params.codec, &self.pcm_out, &mut payload);
            self.tx
                .write(self.params.pt, false, FRAME as u32, &payload, &mut self.out)
        };
        let Ok(n) = written else { return };
        if let Err(e) = self.rtp.send_to(&self.out[..n], dest)
            && e.kind() != std::io::ErrorKind::WouldBlock
        {
            debug!(%dest, error = %e, "RTP send failed");
        }
    }

    /// RTCP goes to the RTP port + 1: G.711 trunks do not multiplex it (no rtcp-mux).
    fn send_rtcp(&mut self, now: Instant) {
        let dest = self.rx.remote().unwrap_or(self.params.remote);
        let dest = SocketAddr::new(dest.ip(), dest.port().wrapping_add(1));
        if let Ok(n) = self
            .rtcp_session
            .write_report(now, &mut self.rx, &self.tx, &mut self.out)
        {
            let _ = self.rtcp.send_to(&self.out[..n], dest);
        }
    }

    fn request_hangup(&mut self, cause: String, events: &UnboundedSender<MediaEvent>) {
        if !self.hangup_sent {
            self.hangup_sent = true;
            info!(call_id = %String::from_utf8_lossy(&self.call_id), cause, "media asks to hang up");
            let _ = events.send(MediaEvent::Hangup {
                call_id: self.call_id.clone(),
                cause,
            });
        }
    }

    /// Ends the leg: closes the recording and returns the CDR's media figures.
    pub fn finish(mut self) -> MediaReport {
        let stats = self.rx.stats();
        let now = Instant::now();
        // A voicemail still recording ends with the call (the caller hung up mid-message).
        let mut last = Vec::new();
        self.remote.finish(&mut last);
        for ev in last {
            if let RemoteEvent::RecordDone { path: Some(p), .. } = ev {
                self.voicemails.push(p);
            }
        }
        if let Ok(n) = self
            .rtcp_session
            .write_bye(now, &mut self.rx, &self.tx, &mut self.out)
        {
            let dest = self.rx.remote().unwrap_or(self.params.remote);
            let _ = self.rtcp.send_to(
                &self.out[..n],
                SocketAddr::new(dest.ip(), dest.port().wrapping_add(1)),
            );
        }
        let jstats = self.jitter.stats();
        let quality = QualityInput::from_stats(&stats, Some(&jstats), self.rtcp_session.peer().rtt);
        debug!(call_id = %String::from_utf8_lossy(&self.call_id), ?stats, ?jstats, ?quality, "media report");
        let recording = self.recorder.take().and_then(|r| match r.finish() {
            Ok(info) => Some(info.path),
            Err(e) => {
                warn!(error = %e, "closing the recording failed");
                None
            }
        });
        let loss_pct = stats.loss_percent();
        let jitter_ms = stats.jitter_ms();
        MediaReport {
            mos: quality.mos(),
            rx: stats,
            packets_sent: u64::from(self.tx.packets_sent()),
            loss_pct,
            jitter_ms,
            recording,
            digits: std::mem::take(&mut self.digits),
            voicemails: std::mem::take(&mut self.voicemails),
        }
    }
}

fn expected_pts(p: &MediaParams) -> Vec<u8> {
    let mut v = vec![p.pt];
    v.extend(p.dtmf_pt);
    v
}

/// The UTC calendar date of a wall-clock time (for recordings/YYYY/MM/DD).
pub fn utc_date(t: SystemTime) -> (i32, u32, u32) {
    let days = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() / 86_400)
        .unwrap_or(0) as i64;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = (yoe + era * 400 + i64::from(m <= 2)) as i32;
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::utc_date;
    use std::time::{Duration, SystemTime};

    #[test]
    fn civil_dates() {
        let at = |s: u64| SystemTime::UNIX_EPOCH + Duration::from_secs(s);
        assert_eq!(utc_date(at(0)), (1970, 1, 1));
        assert_eq!(utc_date(at(951_782_400)), (2000, 2, 29));
        assert_eq!(utc_date(at(1_795_392_000)), (2026, 11, 23));
    }
}
