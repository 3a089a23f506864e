//! Media worker threads. Each worker owns many call legs (their RTP/RTCP sockets and all
//! media state) and ticks them every 20 ms. At each tick it reads every call's queued RTP
//! with one `recvmmsg` (kernel arrival stamps keep jitter exact, see `batch_recv.rs`), runs
//! the call, and sends its packet: one wake-up per tick instead of one per packet. RTCP
//! (a packet every few seconds) and commands wake the worker through mio. Commands come in
//! over a channel (with a mio `Waker`), events go out over a tokio channel to the SIP side.
//! A call is pinned to one worker by a hash of its Call-ID: no locks between workers.

pub(crate) mod batch_recv;
mod leg;
mod remote;

use crate::call::apps::{AppKind, Prompts};
use crate::media::bridge::BridgeEnd;
use crate::media::player::Item;
use crate::media::rtp::RtpStats;
use crate::sdp::Codec;
use crate::udp_options::enable_timestamps;
use batch_recv::{BATCH, RecvBatch};
use bytes::Bytes;
use leg::Leg;
use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token, Waker};
pub use remote::VoicemailSpec;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::mpsc::UnboundedSender;
use tracing::{debug, warn};

pub const TICK: Duration = Duration::from_millis(20);
const WAKER: Token = Token(usize::MAX);

/// Settings shared by every worker.
#[derive(Clone)]
pub struct MediaConfig {
    pub recordings_dir: PathBuf,
    /// Hang up when no RTP arrives for this long (0 = never).
    pub rtp_timeout: Duration,
    pub prompts: Arc<Prompts>,
}

/// How a call's media is set up (from SDP negotiation).
#[derive(Clone, Debug)]
pub struct MediaParams {
    pub remote: SocketAddr,
    pub codec: Codec,
    pub pt: u8,
    pub dtmf_pt: Option<u8>,
    /// The remote holds us (sendonly/inactive): we stop sending and stop the RTP timeout.
    pub on_hold: bool,
}

pub enum MediaCommand {
    Start {
        call_id: Bytes,
        /// Where to bind RTP (RTCP is the next port).
        local: SocketAddr,
        params: MediaParams,
        app: AppKind,
        record: bool,
        started: SystemTime,
    },
    Update {
        call_id: Bytes,
        params: MediaParams,
    },
    /// A digit that came by SIP INFO: same path as RTP digits for the app.
    Digit {
        call_id: Bytes,
        digit: char,
    },
    Stop {
        call_id: Bytes,
    },
    /// An IVR flow's prompts, in order; `PlaybackDone` with the same id when they end.
    Play {
        call_id: Bytes,
        id: u64,
        items: Vec<Item>,
        /// A keypress stops them in the tick it arrives (barge-in).
        interruptible: bool,
    },
    StopPlayback {
        call_id: Bytes,
    },
    /// A voicemail of the caller; `RecordDone` with the same id when it ends.
    Record {
        call_id: Bytes,
        id: u64,
        spec: VoicemailSpec,
    },
    /// Join the leg to another party (a transferred call's far leg, an agent): from now
    /// on it hears what the bridge brings instead of its prompts, and the bridge gets
    /// what it says. Its recording keeps both sides.
    Bridge {
        call_id: Bytes,
        end: BridgeEnd,
    },
    /// Leave the bridge (the other party is gone, e.g. the agent transferred the caller):
    /// the leg hears what is played to it again.
    Unbridge {
        call_id: Bytes,
    },
    /// Hold a bridged leg: the other party hears silence, this one hears whatever is
    /// played to it (hold music); `on: false` resumes the conversation.
    Hold {
        call_id: Bytes,
        on: bool,
    },
    /// Send keypad digits to the leg's far end: RFC 4733 when negotiated, else tones.
    SendDigits {
        call_id: Bytes,
        digits: String,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DigitSource {
    Rfc4733,
    Inband,
    SipInfo,
}

/// What a call's media looked like, for its CDR.
#[derive(Clone, Debug, Default)]
pub struct MediaReport {
    pub rx: RtpStats,
    pub packets_sent: u64,
    pub loss_pct: f64,
    pub jitter_ms: f64,
    pub mos: f64,
    pub recording: Option<PathBuf>,
    pub digits: String,
    /// Voicemail files left during the call (IVR `record` nodes).
    pub voicemails: Vec<PathBuf>,
}

#[derive(Debug)]
pub enum MediaEvent {
    Digit {
        call_id: Bytes,
        digit: char,
        source: DigitSource,
    },
    /// The media side wants the call ended (app finished, RTP timeout, socket failure).
    Hangup { call_id: Bytes, cause: String },
    PlaybackDone {
        call_id: Bytes,
        id: u64,
        interrupted: bool,
    },
    RecordDone {
        call_id: Bytes,
        id: u64,
        path: Option<PathBuf>,
        duration: Duration,
    },
    /// Sent once per started call after `Stop`: the CDR's media part.
    Stopped {
        call_id: Bytes,
        report: Box<MediaReport>,
    },
}

/// The pool: one thread per worker, commands routed by Call-ID.
pub struct MediaPool {
    workers: Vec<(mpsc::Sender<MediaCommand>, Arc<Waker>)>,
}

impl MediaPool {
    pub fn start(
        n: usize,
        cfg: MediaConfig,
        events: UnboundedSender<MediaEvent>,
    ) -> std::io::Result<MediaPool> {
        let mut workers = Vec::new();
        for i in 0..n.max(1) {
            let poll = Poll::new()?;
            let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
            let (tx, rx) = mpsc::channel();
            let mut w = Worker::new(i, poll, rx, cfg.clone(), events.clone());
            std::thread::Builder::new()
                .name(format!("media-{i}"))
                .spawn(move || w.run())?;
            workers.push((tx, waker));
        }
        Ok(MediaPool { workers })
    }

    pub fn send(&self, cmd: MediaCommand) {
        let id = match &cmd {
            MediaCommand::Start { call_id, .. }
            | MediaCommand::Update { call_id, .. }
            | MediaCommand::Digit { call_id, .. }
            | MediaCommand::Stop { call_id }
            | MediaCommand::Play { call_id, .. }
            | MediaCommand::StopPlayback { call_id }
            | MediaCommand::Record { call_id, .. }
            | MediaCommand::Bridge { call_id, .. }
            | MediaCommand::Hold { call_id, .. }
            | MediaCommand::Unbridge { call_id }
            | MediaCommand::SendDigits { call_id, .. } => call_id,
        };
        let mut h = std::collections::hash_map::DefaultHasher::new();
        id.hash(&mut h);
        let (tx, waker) = &self.workers[(h.finish() as usize) % self.workers.len()];
        if tx.send(cmd).is_ok() {
            let _ = waker.wake();
        }
    }
}

struct Worker {
    id: usize,
    poll: Poll,
    rx: mpsc::Receiver<MediaCommand>,
    cfg: MediaConfig,
    events: UnboundedSender<MediaEvent>,
    /// Legs by slot; a slot is also the mio token of the leg's RTCP socket. A slab rather
    /// than a map of legs: legs are large and a growing map would move them all.
    legs: Vec<Option<Leg>>,
    free: Vec<usize>,
    by_call: HashMap<Bytes, usize>,
    batch: RecvBatch,
    buf: Vec<u8>,
}

impl Worker {
    fn new(
        id: usize,
        poll: Poll,
        rx: mpsc::Receiver<MediaCommand>,
        cfg: MediaConfig,
        events: UnboundedSender<MediaEvent>,
    ) -> Worker {
        Worker {
            id,
            poll,
            rx,
            cfg,
            events,
            legs: Vec::new(),
            free: Vec::new(),
            by_call: HashMap::new(),
            batch: RecvBatch::new(),
            buf: vec![0; 2048],
        }
    }

    fn run(&mut self) {
        let mut events = Events::with_capacity(1024);
        let mut next_tick = Instant::now() + TICK;
        loop {
            let wait = next_tick.saturating_duration_since(Instant::now());
            if let Err(e) = self.poll.poll(&mut events, Some(wait))
                && e.kind() != std::io::ErrorKind::Interrupted
            {
                warn!(worker = self.id, error = %e, "media poll failed");
            }
            let now = Instant::now();
            for ev in events.iter() {
                if ev.token() == WAKER {
                    continue;
                }
                self.drain_rtcp(ev.token().0, now);
            }
            loop {
                match self.rx.try_recv() {
                    Ok(cmd) => self.command(cmd, now),
                    Err(mpsc::TryRecvError::Empty) => break,
                    Err(mpsc::TryRecvError::Disconnected) => {
                        self.stop_all();
                        return;
                    }
                }
            }
            if now >= next_tick {
                self.tick(now);
                next_tick += TICK;
                // After a stall, skip missed ticks instead of bursting to catch up.
                if now > next_tick + TICK * 5 {
                    next_tick = now + TICK;
                }
            }
        }
    }

    fn drain_rtcp(&mut self, slot: usize, now: Instant) {
        let Some(Some(leg)) = self.legs.get_mut(slot) else {
            return;
        };
        // Bounded: a flood on one port cannot starve the other calls of this worker.
        for _ in 0..64 {
            match leg.rtcp_socket().recv_from(&mut self.buf) {
                Ok((n, from)) => leg.on_rtcp(now, from, &self.buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    debug!(error = %e, "RTCP receive error");
                    break;
                }
            }
        }
    }

    fn command(&mut self, cmd: MediaCommand, now: Instant) {
        match cmd {
            MediaCommand::Start {
                call_id,
                local,
                params,
                app,
                record,
                started,
            } => {
                if self.by_call.contains_key(&call_id) {
                    return;
                }
                match self.open(local) {
                    Ok((rtp, rtcp, slot)) => {
                        let leg = Leg::new(
                            call_id.clone(),
                            rtp,
                            rtcp,
                            params,
                            app,
                            record,
                            started,
                            now,
                            &self.cfg,
                        );
                        self.by_call.insert(call_id, slot);
                        self.legs[slot] = Some(leg);
                    }
                    Err(e) => {
                        warn!(%local, error = %e, "cannot bind RTP port; hanging up");
                        let _ = self.events.send(MediaEvent::Hangup {
                            call_id: call_id.clone(),
                            cause: format!("RTP port {local} unusable: {e}"),
                        });
                        let _ = self.events.send(MediaEvent::Stopped {
                            call_id,
                            report: Box::default(),
                        });
                    }
                }
            }
            MediaCommand::Update { call_id, params } => {
                if let Some(leg) = self.leg_mut(&call_id) {
                    leg.update(params);
                }
            }
            MediaCommand::Digit { call_id, digit } => {
                let (cfg, events) = (self.cfg.clone(), self.events.clone());
                if let Some(leg) = self.leg_mut(&call_id) {
                    leg.on_digit(now, digit, DigitSource::SipInfo, &cfg, &events);
                }
            }
            MediaCommand::Stop { call_id } => self.stop(&call_id),
            MediaCommand::Play {
                call_id,
                id,
                items,
                interruptible,
            } => {
                let events = self.events.clone();
                if let Some(leg) = self.leg_mut(&call_id) {
                    leg.play(id, items, interruptible, &events);
                } else {
                    // The call is gone: say so, so the flow does not wait forever.
                    let _ = events.send(MediaEvent::PlaybackDone {
                        call_id,
                        id,
                        interrupted: true,
                    });
                }
            }
            MediaCommand::StopPlayback { call_id } => {
                let events = self.events.clone();
                if let Some(leg) = self.leg_mut(&call_id) {
                    leg.stop_playback(&events);
                }
            }
            MediaCommand::Record { call_id, id, spec } => {
                let (cfg, events) = (self.cfg.clone(), self.events.clone());
                if let Some(leg) = self.leg_mut(&call_id) {
                    leg.record_voicemail(id, spec, &cfg, &events);
                } else {
                    let _ = events.send(MediaEvent::RecordDone {
                        call_id,
                        id,
                        path: None,
                        duration: Duration::ZERO,
                    });
                }
            }
            MediaCommand::Unbridge { call_id } => {
                if let Some(leg) = self.leg_mut(&call_id) {
                    leg.unbridge();
                }
            }
            MediaCommand::Hold { call_id, on } => {
                let events = self.events.clone();
                if let Some(leg) = self.leg_mut(&call_id) {
                    leg.hold(on, &events);
                }
            }
            MediaCommand::SendDigits { call_id, digits } => {
                if let Some(leg) = self.leg_mut(&call_id) {
                    leg.send_digits(&digits);
                }
            }
            MediaCommand::Bridge { call_id, end } => {
                // A leg already gone drops its end, which tells the other side.
                let events = self.events.clone();
                if let Some(leg) = self.leg_mut(&call_id) {
                    leg.bridge(end, &events);
                }
            }
        }
    }

    fn leg_mut(&mut self, call_id: &Bytes) -> Option<&mut Leg> {
        let slot = *self.by_call.get(call_id)?;
        self.legs.get_mut(slot)?.as_mut()
    }

    /// Binds the call's RTP and RTCP sockets. Only RTCP is registered with mio: RTP is
    /// read at each tick.
    fn open(&mut self, local: SocketAddr) -> std::io::Result<(UdpSocket, UdpSocket, usize)> {
        let rtp = UdpSocket::bind(local)?;
        enable_timestamps(&rtp)?;
        let mut rtcp = UdpSocket::bind(SocketAddr::new(local.ip(), local.port() + 1))?;
        let slot = self.free.pop().unwrap_or_else(|| {
            self.legs.push(None);
            self.legs.len() - 1
        });
        if let Err(e) = self
            .poll
            .registry()
            .register(&mut rtcp, Token(slot), Interest::READABLE)
        {
            self.free.push(slot);
            return Err(e);
        }
        Ok((rtp, rtcp, slot))
    }

    fn stop(&mut self, call_id: &Bytes) {
        let Some(slot) = self.by_call.remove(call_id) else {
            return;
        };
        if let Some(mut leg) = self.legs.get_mut(slot).and_then(Option::take) {
            let _ = self.poll.registry().deregister(leg.rtcp_socket());
            self.free.push(slot);
            let report = leg.finish();
            let _ = self.events.send(MediaEvent::Stopped {
                call_id: call_id.clone(),
                report: Box::new(report),
            });
        }
    }

    fn stop_all(&mut self) {
        let ids: Vec<Bytes> = self.by_call.keys().cloned().collect();
        for id in ids {
            self.stop(&id);
        }
    }

    /// Reads each call's queued RTP, then runs the call for this 20 ms.
    fn tick(&mut self, now: Instant) {
        self.batch.set_clock(now, SystemTime::now());
        let Worker {
            legs,
            batch,
            cfg,
            events,
            ..
        } = self;
        for leg in legs.iter_mut().flatten() {
            // Bounded: after a stall a call may have a backlog, but a flood on one port
            // cannot starve the other calls of this worker.
            for _ in 0..4 {
                let n = match batch.recv(leg.rtp_socket()) {
                    Ok(n) => n,
                    Err(e) => {
                        debug!(error = %e, "RTP receive error");
                        0
                    }
                };
                for i in 0..n {
                    if let Some(d) = batch.get(i) {
                        leg.on_rtp(d.arrival, d.from, d.data, cfg, events);
                    }
                }
                if n < BATCH {
                    break;
                }
            }
            leg.tick(now, cfg, events);
        }
    }
}
