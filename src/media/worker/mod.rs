//! Media worker threads. Each worker owns many call legs (their RTP/RTCP sockets and all
//! media state) and ticks them every 20 ms; sockets are polled with mio and drained until
//! they would block, so a busy worker reads many packets per wake-up. Commands come in over
//! a channel (with a mio `Waker`), events go out over a tokio channel to the SIP side.
//! A call is pinned to one worker by a hash of its Call-ID: no locks between workers.

mod leg;

use crate::call::apps::{AppKind, Prompts};
use crate::media::rtp::RtpStats;
use crate::sdp::Codec;
use bytes::Bytes;
use leg::Leg;
use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token, Waker};
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
            | MediaCommand::Stop { call_id } => call_id,
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
    legs: HashMap<Bytes, Leg>,
    /// mio token → Call-ID (RTP token is even, RTCP odd: token = slot*2 (+1)).
    tokens: HashMap<usize, Bytes>,
    next_slot: usize,
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
            legs: HashMap::new(),
            tokens: HashMap::new(),
            next_slot: 0,
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
                self.drain_socket(ev.token().0, now);
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

    fn drain_socket(&mut self, token: usize, now: Instant) {
        let Some(call_id) = self.tokens.get(&token) else {
            return;
        };
        let Some(leg) = self.legs.get_mut(call_id) else {
            return;
        };
        let rtcp = token % 2 == 1;
        // Bounded: a flood on one port cannot starve the other calls of this worker.
        for _ in 0..64 {
            let r = if rtcp {
                leg.rtcp_socket().recv_from(&mut self.buf)
            } else {
                leg.rtp_socket().recv_from(&mut self.buf)
            };
            match r {
                Ok((n, from)) => {
                    let data = &self.buf[..n];
                    if rtcp {
                        leg.on_rtcp(now, from, data);
                    } else {
                        leg.on_rtp(now, from, data, &self.cfg, &self.events);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    debug!(error = %e, "RTP receive error");
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
                if self.legs.contains_key(&call_id) {
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
                        self.tokens.insert(slot * 2, call_id.clone());
                        self.tokens.insert(slot * 2 + 1, call_id.clone());
                        let mut leg = leg;
                        leg.slot = slot;
                        self.legs.insert(call_id, leg);
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
                if let Some(leg) = self.legs.get_mut(&call_id) {
                    leg.update(params);
                }
            }
            MediaCommand::Digit { call_id, digit } => {
                if let Some(leg) = self.legs.get_mut(&call_id) {
                    leg.on_digit(now, digit, DigitSource::SipInfo, &self.cfg, &self.events);
                }
            }
            MediaCommand::Stop { call_id } => self.stop(&call_id),
        }
    }

    fn open(&mut self, local: SocketAddr) -> std::io::Result<(UdpSocket, UdpSocket, usize)> {
        let mut rtp = UdpSocket::bind(local)?;
        let mut rtcp = UdpSocket::bind(SocketAddr::new(local.ip(), local.port() + 1))?;
        self.next_slot += 1;
        let slot = self.next_slot;
        self.poll
            .registry()
            .register(&mut rtp, Token(slot * 2), Interest::READABLE)?;
        self.poll
            .registry()
            .register(&mut rtcp, Token(slot * 2 + 1), Interest::READABLE)?;
        Ok((rtp, rtcp, slot))
    }

    fn stop(&mut self, call_id: &Bytes) {
        if let Some(mut leg) = self.legs.remove(call_id) {
            let _ = self.poll.registry().deregister(leg.rtp_socket());
            let _ = self.poll.registry().deregister(leg.rtcp_socket());
            self.tokens.remove(&(leg.slot * 2));
            self.tokens.remove(&(leg.slot * 2 + 1));
            let report = leg.finish();
            let _ = self.events.send(MediaEvent::Stopped {
                call_id: call_id.clone(),
                report: Box::new(report),
            });
        }
    }

    fn stop_all(&mut self) {
        let ids: Vec<Bytes> = self.legs.keys().cloned().collect();
        for id in ids {
            self.stop(&id);
        }
    }

    fn tick(&mut self, now: Instant) {
        for leg in self.legs.values_mut() {
            leg.tick(now, &self.cfg, &self.events);
        }
    }
}
