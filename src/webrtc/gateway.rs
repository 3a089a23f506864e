//! The WebRTC gateway: one thread, one UDP socket, many str0m peers (one per agent leg).
//! The browser offers, we answer as ICE-lite with our host candidate; audio is G.711
//! (PCMA or PCMU) whenever the browser offers it, so a G.711 trunk call needs no
//! transcoding, and Opus, transcoded, only for a browser that takes nothing else.
//! Each peer's other side is a media bridge end: every 20 ms the gateway writes the frame
//! the bridge brings and hands on the frames the browser sent.

use super::outbox::Outbox;
use super::peer::{Peer, PeerId};
use super::socket;
use crate::media::bridge::BridgeEnd;
use crate::media::worker::batch_recv::{BATCH, RecvBatch};
use mio::net::UdpSocket;
use mio::{Events, Interest, Poll, Token, Waker};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};
use str0m::Input;
use str0m::net::{Protocol, Receive};
use tokio::sync::{mpsc as tmpsc, oneshot};
use tracing::{debug, info, warn};

const SOCKET: Token = Token(0);
const WAKER: Token = Token(1);
const TICK: Duration = Duration::from_millis(20);
/// `recvmmsg` calls per read (16 datagrams each): 1024 datagrams, two ticks of 500 legs.
const MAX_BATCHES: usize = 64;
/// A peer that has not connected (ICE + DTLS) within this long is given up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebrtcError {
    #[error(
        "the browser's offer is not valid SDP ({0}); send the offer from RTCPeerConnection.createOffer()"
    )]
    BadOffer(String),
    #[error("the offer was refused: {0}")]
    Refused(String),
    #[error("the WebRTC gateway has stopped")]
    Stopped,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayEvent {
    /// ICE and DTLS done: audio flows. `setup` is the time from the offer.
    Connected { peer: PeerId, setup: Duration },
    /// The peer is gone: closed by us, ICE failed or consent lost, or never connected.
    Closed { peer: PeerId, reason: String },
}

enum Command {
    Accept {
        offer: String,
        bridge: BridgeEnd,
        reply: oneshot::Sender<Result<(PeerId, String), WebrtcError>>,
    },
    Close {
        peer: PeerId,
    },
}

/// Cheap to clone; every clone talks to the same gateway thread.
#[derive(Clone)]
pub struct GatewayHandle {
    tx: mpsc::Sender<Command>,
    waker: Arc<Waker>,
    pub local: SocketAddr,
}

impl GatewayHandle {
    /// Answers a browser's offer; the peer's audio goes through `bridge`.
    pub async fn accept_offer(
        &self,
        offer: String,
        bridge: BridgeEnd,
    ) -> Result<(PeerId, String), WebrtcError> {
        let (reply, rx) = oneshot::channel();
        self.send(Command::Accept {
            offer,
            bridge,
            reply,
        })?;
        rx.await.map_err(|_| WebrtcError::Stopped)?
    }

    pub fn close(&self, peer: PeerId) {
        let _ = self.send(Command::Close { peer });
    }

    fn send(&self, c: Command) -> Result<(), WebrtcError> {
        self.tx.send(c).map_err(|_| WebrtcError::Stopped)?;
        let _ = self.waker.wake();
        Ok(())
    }
}

/// Binds `bind` and starts the gateway thread. `advertise` is the IP browsers reach us on
/// (the bound one unless it is a wildcard).
pub fn start(
    bind: SocketAddr,
    advertise: Option<IpAddr>,
    opus_complexity: u8,
) -> std::io::Result<(GatewayHandle, tmpsc::UnboundedReceiver<GatewayEvent>)> {
    str0m::crypto::from_feature_flags().install_process_default();
    let socket = socket::bind(bind)?;
    let bound = socket.local_addr()?;
    let ip = advertise.unwrap_or(if bound.ip().is_unspecified() {
        IpAddr::from([127, 0, 0, 1])
    } else {
        bound.ip()
    });
    let local = SocketAddr::new(ip, bound.port());
    let poll = Poll::new()?;
    let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
    let (tx, rx) = mpsc::channel();
    let (ev_tx, ev_rx) = tmpsc::unbounded_channel();
    let mut gw = Gateway {
        poll,
        socket,
        local,
        rx,
        events: ev_tx,
        peers: HashMap::new(),
        by_source: HashMap::new(),
        next_id: 0,
        batch: Some(Box::new(RecvBatch::new())),
        outbox: Outbox::default(),
        kernel_drops: 0,
        drops_logged: None,
        opus_complexity,
        readiness: false,
    };
    std::thread::Builder::new()
        .name("webrtc".into())
        .spawn(move || gw.run())?;
    info!(%local, "WebRTC gateway listening");
    Ok((GatewayHandle { tx, waker, local }, ev_rx))
}

struct Gateway {
    poll: Poll,
    socket: UdpSocket,
    local: SocketAddr,
    rx: mpsc::Receiver<Command>,
    events: tmpsc::UnboundedSender<GatewayEvent>,
    peers: HashMap<PeerId, Peer>,
    /// Which peer a remote address belongs to, learnt from the first datagram `accepts`
    /// matched: asking every peer for every packet costs O(peers) per packet.
    by_source: HashMap<SocketAddr, PeerId>,
    next_id: u64,
    /// Taken out while a batch is handed to the peers.
    batch: Option<Box<RecvBatch>>,
    outbox: Outbox,
    /// The kernel's running count of datagrams it dropped on our socket (buffer full), as
    /// last seen, and when an overflow was last logged.
    kernel_drops: u32,
    drops_logged: Option<Instant>,
    /// libopus encoder complexity for legs that take only Opus (`[media] opus_complexity`).
    opus_complexity: u8,
    /// The socket wakes the loop only while a peer is still connecting (ICE and DTLS want
    /// answers at once); connected peers' audio is read at the 20 ms tick, in batches.
    readiness: bool,
}

impl Gateway {
    fn run(&mut self) {
        let mut events = Events::with_capacity(256);
        let mut next_tick = Instant::now() + TICK;
        loop {
            self.watch_socket();
            let now = Instant::now();
            // Connected peers' timers (RTCP, consent checks) are served at the tick: waking
            // for each of hundreds of staggered str0m timeouts costs a context switch each.
            // Connecting peers' handshakes keep their exact timers.
            let deadline = self
                .peers
                .values()
                .filter(|p| !p.is_connected())
                .filter_map(|p| p.timeout())
                .chain([next_tick])
                .min()
                .unwrap_or(next_tick);
            let wait = deadline
                .saturating_duration_since(now)
                .max(Duration::from_millis(1));
            if let Err(e) = self.poll.poll(&mut events, Some(wait))
                && e.kind() != std::io::ErrorKind::Interrupted
            {
                warn!(error = %e, "WebRTC poll failed");
            }
            if events.iter().any(|ev| ev.token() == SOCKET) {
                self.read_all();
            }
            loop {
                match self.rx.try_recv() {
                    Ok(c) => self.command(c),
                    Err(mpsc::TryRecvError::Empty) => break,
                    Err(mpsc::TryRecvError::Disconnected) => return,
                }
            }
            let now = Instant::now();
            if now >= next_tick {
                let ids: Vec<PeerId> = self.peers.keys().copied().collect();
                for id in ids {
                    let result = match self.peers.get_mut(&id) {
                        Some(p) => p.tick(now, &mut self.outbox),
                        None => continue,
                    };
                    self.after(id, result);
                }
                // Read after writing: str0m packetizes a written frame when time next moves
                // on, and the browser's datagram moves it, so the frame leaves with that
                // input instead of costing each peer one more timeout and drain below.
                if !self.readiness {
                    self.read_all();
                }
                next_tick += TICK;
                if now > next_tick + TICK * 5 {
                    next_tick = now + TICK;
                }
            }
            let due: Vec<PeerId> = self
                .peers
                .iter()
                .filter(|(_, p)| p.timeout().is_some_and(|t| t <= now))
                .map(|(id, _)| *id)
                .collect();
            for id in due {
                self.input(id, Input::Timeout(now));
            }
            self.outbox.flush(&self.socket);
            let dropped = self.outbox.take_dropped();
            if dropped > 0 {
                debug!(dropped, "WebRTC datagrams the kernel did not take");
            }
        }
    }

    /// Readiness on while any peer is connecting, off once all are (see `readiness`).
    fn watch_socket(&mut self) {
        let want = self.peers.values().any(|p| !p.is_connected());
        if want == self.readiness {
            return;
        }
        let registry = self.poll.registry();
        let result = if want {
            registry.register(&mut self.socket, SOCKET, Interest::READABLE)
        } else {
            registry.deregister(&mut self.socket)
        };
        match result {
            Ok(()) => self.readiness = want,
            Err(e) => warn!(error = %e, "WebRTC socket readiness not changed"),
        }
    }

    /// Everything queued on the socket, a batch per `recvmmsg` (bounded per call).
    fn read_all(&mut self) {
        let Some(mut batch) = self.batch.take() else {
            return;
        };
        batch.set_clock(Instant::now(), SystemTime::now());
        let mut drops = self.kernel_drops;
        for _ in 0..MAX_BATCHES {
            let n = match batch.recv(&self.socket) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => {
                    debug!(error = %e, "WebRTC receive failed");
                    break;
                }
            };
            for i in 0..n {
                if let Some(d) = batch.get(i) {
                    self.receive(d.data, d.from, d.arrival);
                    drops = drops.max(d.kernel_drops.unwrap_or(0));
                }
            }
            if n < BATCH {
                break;
            }
        }
        self.batch = Some(batch);
        self.count_drops(drops);
    }

    /// Logs datagrams the kernel dropped for want of buffer room (at most every 10 s):
    /// lost audio, and lost ICE checks that end calls after 15 s.
    fn count_drops(&mut self, total: u32) {
        let new = total.wrapping_sub(self.kernel_drops);
        if new == 0 {
            return;
        }
        let now = Instant::now();
        if self
            .drops_logged
            .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(10))
        {
            warn!(
                dropped = new,
                total,
                peers = self.peers.len(),
                "the WebRTC socket's receive buffer overflowed: run Hotline as root or raise \
                 net.core.rmem_max (see the start-up log for the buffer's size)"
            );
            self.drops_logged = Some(now);
            self.kernel_drops = total;
        }
    }

    fn receive(&mut self, data: &[u8], source: SocketAddr, arrival: Instant) {
        let Ok(contents) = data.try_into() else {
            return;
        };
        let input = Input::Receive(
            arrival,
            Receive {
                proto: Protocol::Udp,
                source,
                destination: self.local,
                contents,
            },
        );
        let cached = self
            .by_source
            .get(&source)
            .copied()
            .filter(|id| self.peers.get(id).is_some_and(|p| p.rtc.accepts(&input)));
        let owner = cached.or_else(|| {
            let found = self
                .peers
                .iter()
                .find(|(_, p)| p.rtc.accepts(&input))
                .map(|(id, _)| *id);
            if let Some(id) = found {
                self.by_source.insert(source, id);
            }
            found
        });
        match owner {
            Some(id) => self.input(id, input),
            None => debug!(%source, "datagram for no WebRTC peer"),
        }
    }

    fn input(&mut self, id: PeerId, input: Input<'_>) {
        let result = match self.peers.get_mut(&id) {
            Some(p) => p.handle(input, &mut self.outbox),
            None => return,
        };
        self.after(id, result);
    }

    /// Reports what a peer did; removes it when it ended.
    fn after(&mut self, id: PeerId, result: Result<(), String>) {
        let Some(p) = self.peers.get_mut(&id) else {
            return;
        };
        if let Some(setup) = p.take_connected() {
            info!(
                peer = id.0,
                setup_ms = setup.as_millis() as u64,
                codec = p.codec().map(|c| c.name()).unwrap_or("-"),
                "WebRTC peer connected"
            );
            let _ = self
                .events
                .send(GatewayEvent::Connected { peer: id, setup });
        }
        let reason = match result {
            Err(e) => Some(e),
            Ok(()) if p.ended() => Some("ICE disconnected (the browser went away)".to_string()),
            Ok(()) if !p.is_connected() && p.age(Instant::now()) > CONNECT_TIMEOUT => {
                Some(format!(
                    "no ICE/DTLS connection within {} s (is UDP to {} blocked?)",
                    CONNECT_TIMEOUT.as_secs(),
                    self.local
                ))
            }
            Ok(()) => None,
        };
        if let Some(reason) = reason {
            self.peers.remove(&id);
            self.by_source.retain(|_, p| *p != id);
            info!(peer = id.0, %reason, "WebRTC peer closed");
            let _ = self.events.send(GatewayEvent::Closed { peer: id, reason });
        }
    }

    fn command(&mut self, c: Command) {
        match c {
            Command::Accept {
                offer,
                bridge,
                reply,
            } => {
                self.next_id += 1;
                let id = PeerId(self.next_id);
                let now = Instant::now();
                let result = Peer::accept(&offer, self.local, bridge, now, self.opus_complexity)
                    .map(|(peer, answer)| {
                        self.peers.insert(id, peer);
                        (id, answer)
                    });
                let ok = result.is_ok();
                let _ = reply.send(result);
                if ok {
                    // Drain what the answer queued (nothing is sent before ICE starts).
                    self.input(id, Input::Timeout(now));
                }
            }
            Command::Close { peer } => {
                self.by_source.retain(|_, p| *p != peer);
                if self.peers.remove(&peer).is_some() {
                    let _ = self.events.send(GatewayEvent::Closed {
                        peer,
                        reason: "closed by Hotline".into(),
                    });
                }
            }
        }
    }
}
