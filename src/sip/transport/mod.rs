//! The tokio driver for one SIP profile: UDP and TCP sockets on one port, the clock, and
//! the loop that feeds the sans-IO [`Endpoint`] and carries out what it asks.
//!
//! One task owns the endpoint (no locks on the signaling path). UDP datagrams are read in
//! batches straight into it; each TCP connection has a small reader task that frames
//! messages (Content-Length) and a writer channel the loop sends responses into.

mod tcp;
mod udp;

use crate::sip::endpoint::{Dial, Endpoint, EndpointEvent, EndpointStats, HangupSide, mask};
use crate::sip::message::{Message, ParseError};
use crate::sip::transaction::{Peer, Transmit, Transport};
use bytes::Bytes;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, watch};
use tracing::{debug, info, warn};

/// What connection tasks tell the loop.
pub(crate) enum TcpIn {
    Open {
        conn: u64,
        writer: mpsc::Sender<Bytes>,
    },
    Message {
        conn: u64,
        peer: SocketAddr,
        local: SocketAddr,
        parsed: Box<Result<Message, ParseError>>,
        raw: Bytes,
    },
    Closed {
        conn: u64,
    },
}

/// What the rest of Hotline asks of a profile's SIP side.
#[derive(Debug)]
pub enum EndpointCommand {
    HangUp {
        call_id: Bytes,
        cause: String,
        side: HangupSide,
    },
    /// Place a call (a transfer's far leg); progress comes back as endpoint events.
    Dial(Box<Dial>),
    /// Place a call to the phone registered as this SIP user (an agent's phone).
    DialRegistered { user: String, dial: Box<Dial> },
    /// Refuse new calls with 503 from now on (graceful shutdown).
    Drain,
    /// The media side closed this RTP port's sockets: it may be handed out again.
    ReleasePort { port: u16 },
}

/// The channels between a profile's driver and the call manager.
pub struct DriverLinks {
    pub events: mpsc::UnboundedSender<EndpointEvent>,
    pub commands: mpsc::UnboundedReceiver<EndpointCommand>,
}

/// Where the driver listens and how it treats connections.
#[derive(Clone, Debug)]
pub struct DriverConfig {
    pub listen: SocketAddr,
    pub udp: bool,
    pub tcp: bool,
    pub tcp_idle_timeout: Duration,
}

/// Binds the sockets (so errors surface before the server says it is up), then returns
/// the future that runs the profile until `shutdown` turns true.
pub async fn bind(
    cfg: DriverConfig,
    endpoint: Endpoint,
    stats: watch::Sender<EndpointStats>,
    shutdown: watch::Receiver<bool>,
    links: DriverLinks,
) -> std::io::Result<impl std::future::Future<Output = ()>> {
    let udp = if cfg.udp {
        Some(udp::bind(cfg.listen)?)
    } else {
        None
    };
    let (tcp_tx, tcp_rx) = mpsc::channel::<TcpIn>(4096);
    if cfg.tcp {
        let listener = tcp::bind(cfg.listen)?;
        tokio::spawn(tcp::accept_loop(
            listener,
            tcp_tx,
            cfg.tcp_idle_timeout,
            shutdown.clone(),
        ));
    }
    info!(listen = %cfg.listen, udp = cfg.udp, tcp = cfg.tcp, profile = %endpoint.profile().name, "SIP listening");
    Ok(run(cfg, endpoint, udp, tcp_rx, stats, shutdown, links))
}

async fn run(
    cfg: DriverConfig,
    mut ep: Endpoint,
    udp: Option<tokio::net::UdpSocket>,
    mut tcp_rx: mpsc::Receiver<TcpIn>,
    stats: watch::Sender<EndpointStats>,
    mut shutdown: watch::Receiver<bool>,
    mut links: DriverLinks,
) {
    let mut writers: HashMap<u64, mpsc::Sender<Bytes>> = HashMap::new();
    let mut locals = LocalAddrs::new(cfg.listen);
    let mut buf = vec![0u8; 65_536];
    // Counters for /api/v1/health are published on a timer too, so an idle server is not stale.
    let mut publish = tokio::time::interval(Duration::from_millis(200));
    publish.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let far = Duration::from_secs(3600);
    loop {
        let deadline = ep.poll_timeout();
        let sleep_for = deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
            .unwrap_or(far);
        tokio::select! {
            r = udp::recv(udp.as_ref(), &mut buf) => match r {
                Ok((n, from)) => {
                    let mut batch = 0;
                    let mut next = Some((n, from));
                    // Drain what the kernel already holds before doing anything else: under
                    // load this keeps the receive buffer from overflowing.
                    while let Some((n, from)) = next.take() {
                        let local = locals.for_peer(from.ip());
                        let data = Bytes::copy_from_slice(&buf[..n]);
                        let peer = Peer { transport: Transport::Udp, addr: from, conn: None };
                        ep.handle_datagram(Instant::now(), unix_now(), data, peer, local);
                        batch += 1;
                        if batch < 64 {
                            next = udp.as_ref().and_then(|s| s.try_recv_from(&mut buf).ok());
                        }
                    }
                }
                Err(e) => debug!(error = %e, "UDP receive error"),
            },
            Some(m) = tcp_rx.recv() => match m {
                TcpIn::Open { conn, writer } => { writers.insert(conn, writer); }
                TcpIn::Closed { conn } => { writers.remove(&conn); }
                TcpIn::Message { conn, peer, local, parsed, raw } => {
                    let peer = Peer { transport: Transport::Tcp, addr: peer, conn: Some(conn) };
                    ep.handle_message(Instant::now(), unix_now(), *parsed, &raw, peer, local);
                }
            },
            _ = tokio::time::sleep(sleep_for) => ep.handle_timeout(Instant::now()),
            _ = publish.tick() => {
                stats.send_replace(ep.stats());
            }
            Some(cmd) = links.commands.recv() => match cmd {
                EndpointCommand::HangUp { call_id, cause, side } => {
                    ep.hang_up_call(Instant::now(), &call_id, &cause, side);
                }
                EndpointCommand::ReleasePort { port } => ep.release_port(port),
                // A refusal is also reported as an OutboundFailed event.
                EndpointCommand::Dial(dial) => {
                    let _ = ep.dial(Instant::now(), *dial);
                }
                EndpointCommand::DialRegistered { user, dial } => {
                    let _ = ep.dial_registered(Instant::now(), &user, *dial);
                }
                EndpointCommand::Drain => {
                    ep.set_draining(true);
                    stats.send_replace(ep.stats());
                }
            },
            _ = shutdown.changed() => {
                if *shutdown.borrow() {
                    ep.hang_up_all(Instant::now(), "server shutting down");
                    flush(&mut ep, udp.as_ref(), &writers).await;
                    while let Some(ev) = ep.poll_event() {
                        let _ = links.events.send(ev);
                    }
                    info!(profile = %ep.profile().name, "SIP stopped");
                    return;
                }
            }
        }
        flush(&mut ep, udp.as_ref(), &writers).await;
        while let Some(ev) = ep.poll_event() {
            log_event(&ev);
            let _ = links.events.send(ev);
        }
    }
}

async fn flush(
    ep: &mut Endpoint,
    udp: Option<&tokio::net::UdpSocket>,
    writers: &HashMap<u64, mpsc::Sender<Bytes>>,
) {
    while let Some(Transmit { to, data }) = ep.poll_transmit() {
        match to.transport {
            Transport::Udp => {
                let Some(sock) = udp else { continue };
                if !usable_destination(to.addr) {
                    debug!(to = %to.addr, "not sending to a broadcast/unspecified address");
                    continue;
                }
                if let Err(e) = sock.send_to(&data, to.addr).await {
                    debug!(to = %to.addr, error = %e, "UDP send failed");
                }
            }
            Transport::Tcp => match to.conn.and_then(|c| writers.get(&c)) {
                Some(w) => {
                    if w.try_send(data).is_err() {
                        warn!(to = %to.addr, "TCP connection backlogged or closed: message dropped");
                    }
                }
                // Connection gone: RFC 3261 §18.2.2 would open a new one to the Via
                // address; callers behind NAT cannot be reached that way, so we log it.
                None => debug!(to = %to.addr, "TCP connection closed before the response"),
            },
        }
    }
}

/// Never answer towards broadcast or wildcard addresses (RFC 4475 `bcast`).
fn usable_destination(a: SocketAddr) -> bool {
    match a.ip() {
        IpAddr::V4(v4) => !(v4.is_broadcast() || v4.is_unspecified() || v4.is_multicast()),
        IpAddr::V6(v6) => !(v6.is_unspecified() || v6.is_multicast()),
    }
}

fn log_event(ev: &EndpointEvent) {
    match ev {
        EndpointEvent::CallOffered { call_id, from, to } => info!(
            call_id = %String::from_utf8_lossy(call_id), from = %mask(from.as_bytes()), to,
            "incoming call"
        ),
        EndpointEvent::CallAnswered {
            call_id,
            negotiated,
            ..
        } => info!(
            call_id = %String::from_utf8_lossy(call_id), codec = negotiated.codec.name(),
            remote_rtp = %negotiated.remote_rtp, "call answered"
        ),
        EndpointEvent::MediaChanged {
            call_id,
            negotiated,
        } => info!(
            call_id = %String::from_utf8_lossy(call_id), on_hold = negotiated.on_hold,
            "media changed (re-INVITE)"
        ),
        EndpointEvent::Dtmf { call_id, digit } => {
            info!(call_id = %String::from_utf8_lossy(call_id), %digit, "DTMF (SIP INFO)")
        }
        EndpointEvent::OutboundRinging { call_id, status } => {
            info!(call_id = %String::from_utf8_lossy(call_id), status, "placed call rings")
        }
        EndpointEvent::CallEnded { .. }
        | EndpointEvent::Registered { .. }
        | EndpointEvent::OutboundFailed { .. } => {}
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The local address a peer reaches us at. With a wildcard bind the kernel's route to the
/// peer tells us (cached per peer IP); otherwise it is the bound address.
struct LocalAddrs {
    listen: SocketAddr,
    cache: HashMap<IpAddr, SocketAddr>,
}

impl LocalAddrs {
    fn new(listen: SocketAddr) -> LocalAddrs {
        LocalAddrs {
            listen,
            cache: HashMap::new(),
        }
    }

    fn for_peer(&mut self, peer: IpAddr) -> SocketAddr {
        if !self.listen.ip().is_unspecified() {
            return self.listen;
        }
        if self.cache.len() > 10_000 {
            self.cache.clear();
        }
        let port = self.listen.port();
        *self.cache.entry(peer).or_insert_with(|| {
            let probe = match peer {
                IpAddr::V4(_) => std::net::UdpSocket::bind(("0.0.0.0", 0)),
                IpAddr::V6(_) => std::net::UdpSocket::bind(("::", 0)),
            };
            let ip = probe
                .and_then(|s| s.connect((peer, 9)).map(|_| s))
                .and_then(|s| s.local_addr())
                .map(|a| a.ip())
                .unwrap_or(peer);
            SocketAddr::new(ip, port)
        })
    }
}
