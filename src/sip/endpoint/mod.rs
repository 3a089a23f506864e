//! The SIP endpoint of one profile: a sans-IO UAS that answers calls, registrations and
//! pings. It owns the transaction layer, dialogs, registrar, digest auth and the RTP port
//! pool, takes `(datagram, now)` in and gives transmits and events out; the tokio driver in
//! `sip::transport` owns the sockets and the clock.
//!
//! Order of work on a datagram: rate limit (untrusted sources) → parse (broken requests get
//! a best-effort 400) → validate (400 with the reason) → §18.2.1 Via stamping → the
//! transaction layer, whose events are handled here as the transaction user.

mod call;
mod checks;
mod dialog;
mod fallback;
mod in_dialog;
mod numbers;
mod outbound;
mod ratelimit;
mod register;
mod timers;
mod via;

pub use call::CallState;
pub use dialog::{Dialog, DialogId};
pub use numbers::{mask, uri_user};
pub use outbound::{Dial, DialError};
use via::stamp_via;

use crate::config::{Profile, SourceClass};
use crate::media::ports::RtpPorts;
use crate::sdp::{self, Codec, Direction, LocalMedia};
use crate::sip::auth::{AuthOutcome, DigestAlgorithm, DigestAuth};
use crate::sip::message::{
    HeaderName, Message, Method, ParseError, Request, Response, parse_datagram, validate_request,
    validate_response,
};
use crate::sip::registrar::{Registrar, RegistrarConfig};
use crate::sip::transaction::{
    ClientTxId, Peer, ServerTxId, TransactionLayer, Transmit, Transport, TxConfig, TxEvent,
};
use bytes::Bytes;
use call::Call;
use rand::{Rng, SeedableRng, rngs::StdRng};
use ratelimit::RateLimiter;
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use timers::{CallTimers, TimerKind};
use tracing::{debug, info, warn};

/// Who ended a call, for the CDR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HangupSide {
    /// The caller sent BYE or CANCEL.
    Caller,
    /// Hotline decided (the app finished, the call-length limit).
    Hotline,
    /// Something failed (no ACK, RTP timeout, bad SDP, shutdown).
    System,
}

impl HangupSide {
    pub fn as_str(self) -> &'static str {
        match self {
            HangupSide::Caller => "caller",
            HangupSide::Hotline => "hotline",
            HangupSide::System => "system",
        }
    }
}

/// What the endpoint tells the rest of Hotline (and the logs).
#[derive(Clone, Debug, PartialEq)]
pub enum EndpointEvent {
    CallOffered {
        call_id: Bytes,
        /// The caller's number (From user part), unmasked: the CDR needs it; logs mask it.
        from: String,
        /// The dialled number (Request-URI user part).
        to: String,
    },
    CallAnswered {
        call_id: Bytes,
        /// Where the call's RTP socket binds.
        local_rtp: SocketAddr,
        negotiated: sdp::Negotiated,
    },
    /// A re-INVITE changed the media (hold/resume, new address or codec).
    MediaChanged {
        call_id: Bytes,
        negotiated: sdp::Negotiated,
    },
    Dtmf {
        call_id: Bytes,
        digit: char,
    },
    CallEnded {
        call_id: Bytes,
        cause: String,
        side: HangupSide,
    },
    Registered {
        aor: String,
        bindings: usize,
    },
    /// A call we placed (`Endpoint::dial`) rings at the far end (180/183). Answered, it
    /// gives `CallAnswered` like a caller's call; hung up later, `CallEnded`.
    OutboundRinging {
        call_id: Bytes,
        status: u16,
    },
    /// A call we placed was refused, not answered in time, or could not be sent: it never
    /// started, and no `CallEnded` follows.
    OutboundFailed {
        call_id: Bytes,
        status: u16,
        reason: String,
    },
}

/// Counters for the HTTP API and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EndpointStats {
    pub active_calls: usize,
    pub calls_total: u64,
    pub rejected_total: u64,
    pub bad_requests: u64,
    pub rate_limited: u64,
    pub registrations: usize,
    pub rtp_ports_in_use: usize,
}

pub struct Endpoint {
    profile: Profile,
    tx: TransactionLayer,
    registrar: Registrar,
    auth: DigestAuth,
    limiter: RateLimiter,
    ports: RtpPorts,
    codecs: Vec<Codec>,
    calls: HashMap<DialogId, Call>,
    by_invite: HashMap<ServerTxId, DialogId>,
    by_bye: HashMap<ClientTxId, DialogId>,
    /// Calls we placed that have no 2xx yet, by Call-ID, and their INVITE transactions.
    outgoing: HashMap<Bytes, outbound::Outgoing>,
    by_out_invite: HashMap<ClientTxId, Bytes>,
    timers: CallTimers,
    events: VecDeque<EndpointEvent>,
    rng: StdRng,
    stats: EndpointStats,
    /// Set while one datagram is handled: who really sent it, on which local address,
    /// and the wall-clock seconds for nonces.
    source: SocketAddr,
    local: SocketAddr,
    unix_now: u64,
    /// Shutting down: calls in progress go on, new INVITEs get 503 (another node takes them).
    draining: bool,
}

impl Endpoint {
    /// `seed` makes tags, branches and the default nonce secret deterministic in tests.
    pub fn new(profile: Profile, ports: RtpPorts, seed: u64) -> Endpoint {
        let mut rng = StdRng::seed_from_u64(seed);
        let secret: [u8; 32] = match &profile.auth_secret {
            Some(s) => {
                use sha2::Digest;
                sha2::Sha256::digest(s.as_bytes()).into()
            }
            None => rng.r#gen(),
        };
        let codecs = profile
            .codecs
            .iter()
            .filter_map(|c| Codec::from_name(c))
            .collect();
        let t = &profile.timers;
        let tx = TransactionLayer::new(TxConfig {
            t1: Duration::from_millis(t.t1_ms),
            t2: Duration::from_millis(t.t2_ms),
            t4: Duration::from_millis(t.t4_ms),
        });
        let r = &profile.registrar;
        let registrar = Registrar::new(RegistrarConfig {
            min_expires: r.min_expires,
            max_expires: r.max_expires,
            default_expires: r.default_expires,
        });
        let algorithms: Vec<DigestAlgorithm> = profile
            .digest_algorithms
            .iter()
            .filter_map(|a| DigestAlgorithm::from_token(a.as_bytes()))
            .collect();
        let auth = DigestAuth::new(profile.realm.clone(), secret, Duration::from_secs(300))
            .with_algorithms(&algorithms);
        let limiter = RateLimiter::new(profile.rate_limit.per_second, profile.rate_limit.burst);
        let unspecified = SocketAddr::from(([0, 0, 0, 0], 0));
        Endpoint {
            profile,
            tx,
            registrar,
            auth,
            limiter,
            ports,
            codecs,
            calls: HashMap::new(),
            by_invite: HashMap::new(),
            by_bye: HashMap::new(),
            outgoing: HashMap::new(),
            by_out_invite: HashMap::new(),
            timers: CallTimers::default(),
            events: VecDeque::new(),
            rng,
            stats: EndpointStats::default(),
            source: unspecified,
            local: unspecified,
            unix_now: 0,
            draining: false,
        }
    }

    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// An RTP port whose sockets the media side has closed goes back to the pool.
    pub fn release_port(&mut self, port: u16) {
        self.ports.release(port);
    }

    pub fn stats(&self) -> EndpointStats {
        EndpointStats {
            active_calls: self.calls.len(),
            rtp_ports_in_use: self.ports.in_use(),
            registrations: self.registrar.len(),
            ..self.stats
        }
    }

    /// One datagram (UDP) or one framed message (TCP) from `from`, received on `local`
    /// (the address the peer reached us at; the driver resolves a wildcard bind).
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        unix_now: u64,
        data: Bytes,
        from: Peer,
        local: SocketAddr,
    ) {
        let parsed = parse_datagram(data.clone());
        self.handle_message(now, unix_now, parsed, &data, from, local);
    }

    /// A message already framed (and parsed) by a stream transport, or a datagram's parse
    /// result; `raw` is its bytes, used only to answer an unparseable request.
    pub fn handle_message(
        &mut self,
        now: Instant,
        unix_now: u64,
        parsed: Result<Message, ParseError>,
        raw: &[u8],
        from: Peer,
        local: SocketAddr,
    ) {
        self.source = from.addr;
        self.local = local;
        self.unix_now = unix_now;
        let trusted = matches!(
            self.profile.classify_source(from.addr.ip()),
            SourceClass::Trunk(_)
        );
        if !trusted && !self.limiter.allow(now, from.addr.ip()) {
            self.stats.rate_limited += 1;
            debug!(source = %from.addr, "rate limited: dropping message");
            return;
        }
        let msg = match parsed {
            Ok(m) => m,
            Err(e) => {
                self.stats.bad_requests += 1;
                debug!(source = %from.addr, error = %e, "unparseable message");
                if let Some(out) = fallback::bad_request(raw, &e.to_string()) {
                    self.tx.send_stateless(from, Bytes::from(out));
                }
                return;
            }
        };
        match msg {
            Message::Response(resp) => {
                if let Err(e) = validate_response(&resp) {
                    debug!(source = %from.addr, error = %e, "dropping bad response");
                    return;
                }
                self.tx.handle_message(now, Message::Response(resp), from);
            }
            Message::Request(mut req) => {
                // A version we do not speak is answered before anything else (§8.2 ordering
                // does not cover it, but a 400 would hide the real reason).
                if !req.version.eq_ignore_ascii_case(b"SIP/2.0") {
                    self.reply_stateless(&req, from, 505, "Version Not Supported", &[]);
                    return;
                }
                if let Err(e) = validate_request(&req) {
                    self.stats.bad_requests += 1;
                    debug!(source = %from.addr, error = %e, "bad request");
                    if req.method != Method::Ack {
                        let reason = format!("Bad Request ({e})");
                        self.reply_stateless(&req, from, 400, &reason, &[]);
                    }
                    return;
                }
                let reply_to = stamp_via(&mut req, from);
                self.tx.handle_message(now, Message::Request(req), reply_to);
            }
        }
        self.drain_tx_events(now);
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        self.tx.handle_timeout(now);
        self.drain_tx_events(now);
        self.registrar.expire(now);
        while let Some((kind, id)) = self.timers.pop_due(now) {
            match kind {
                TimerKind::Answer => self.answer(now, &id),
                TimerKind::MaxDuration => self.hang_up(
                    now,
                    &id,
                    "max call duration reached (max_call_seconds)",
                    HangupSide::Hotline,
                ),
                TimerKind::RingTimeout => self.on_ring_timeout(now, &id.call_id),
            }
        }
        self.drain_tx_events(now);
    }

    pub fn poll_timeout(&mut self) -> Option<Instant> {
        [
            self.tx.poll_timeout(),
            self.registrar.poll_timeout(),
            self.timers.next_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.tx.poll_transmit()
    }

    pub fn poll_event(&mut self) -> Option<EndpointEvent> {
        self.events.pop_front()
    }

    /// Hangs up every call (shutdown): BYE for answered calls, 503 for ringing ones.
    pub fn hang_up_all(&mut self, now: Instant, cause: &str) {
        let ids: Vec<DialogId> = self.calls.keys().cloned().collect();
        for id in ids {
            self.hang_up(now, &id, cause, HangupSide::System);
        }
        self.drain_tx_events(now);
    }

    fn drain_tx_events(&mut self, now: Instant) {
        while let Some(ev) = self.tx.poll_event() {
            match ev {
                TxEvent::Request { id, req, from } => self.on_request(now, id, req, from),
                TxEvent::Cancel {
                    id,
                    invite,
                    req,
                    from: _,
                } => self.on_cancel(now, id, invite, &req),
                TxEvent::Ack { req, .. } => self.on_ack(now, &req),
                TxEvent::AckTimeout { id } => {
                    if let Some(d) = self.by_invite.remove(&id) {
                        self.hang_up(
                            now,
                            &d,
                            "no ACK for 200 OK (RFC 3261 §13.3.1.4)",
                            HangupSide::System,
                        );
                    }
                }
                TxEvent::Response { id, resp } if self.is_outgoing_tx(id) => {
                    self.on_outgoing_response(now, id, resp)
                }
                TxEvent::Response { id, resp } => {
                    if resp.status >= 200 {
                        self.by_bye.remove(&id);
                    }
                }
                TxEvent::Timeout { id } if self.is_outgoing_tx(id) => self.on_outgoing_timeout(id),
                TxEvent::Timeout { id } => {
                    if let Some(d) = self.by_bye.remove(&id) {
                        debug!(call_id = %String::from_utf8_lossy(&d.call_id), "BYE timed out");
                    }
                }
                TxEvent::ServerTerminated { id } => {
                    self.by_invite.remove(&id);
                }
                TxEvent::ClientTerminated { id } => {
                    self.by_bye.remove(&id);
                    self.on_outgoing_terminated(id);
                }
            }
        }
    }

    fn on_request(&mut self, now: Instant, id: ServerTxId, req: Request, from: Peer) {
        if let Err(r) = checks::admit(&req) {
            self.stats.rejected_total += 1;
            let extra: Vec<(HeaderName, Bytes)> = r
                .headers
                .into_iter()
                .map(|(n, v)| (n, Bytes::from(v)))
                .collect();
            self.respond(now, id, &req, r.status, &r.reason, &extra, None);
            return;
        }
        let in_dialog = req.headers.to_addr().ok().and_then(|t| t.tag().cloned());
        match (&req.method, in_dialog) {
            (Method::Options, _) => self.on_options(now, id, &req),
            (Method::Register, _) => self.on_register(now, id, &req),
            (Method::Invite, None) => self.on_invite(now, id, req, from),
            (Method::Invite, Some(tag)) => self.on_reinvite(now, id, &req, tag),
            (Method::Bye, Some(tag)) => self.on_bye(now, id, &req, tag),
            (Method::Info, Some(tag)) => self.on_info(now, id, &req, tag),
            (Method::Ack, _) => {}
            _ => self.respond(
                now,
                id,
                &req,
                481,
                "Call/Transaction Does Not Exist",
                &[],
                None,
            ),
        }
    }

    fn on_options(&mut self, now: Instant, id: ServerTxId, req: &Request) {
        let extra = [
            (
                HeaderName::Allow,
                Bytes::from_static(checks::ALLOW.as_bytes()),
            ),
            (
                HeaderName::Accept,
                Bytes::from_static(checks::ACCEPT.as_bytes()),
            ),
            (
                HeaderName::Other(Bytes::from_static(b"Accept-Language")),
                Bytes::from_static(b"en, zh"),
            ),
            (HeaderName::Server, Bytes::from_static(b"Hotline")),
        ];
        self.respond(now, id, req, 200, "OK", &extra, None);
    }

    /// Stops taking new calls (SIGTERM): they get 503 with Retry-After, so a dispatcher such
    /// as Kamailio fails them over to another node; calls in progress are untouched.
    pub fn set_draining(&mut self, draining: bool) {
        self.draining = draining;
    }

    fn on_invite(&mut self, now: Instant, id: ServerTxId, req: Request, from: Peer) {
        if self.draining {
            self.stats.rejected_total += 1;
            let extra = [(
                HeaderName::Other(Bytes::from_static(b"Retry-After")),
                Bytes::from_static(b"30"),
            )];
            self.respond(
                now,
                id,
                &req,
                503,
                "Service Unavailable (node shutting down)",
                &extra,
                None,
            );
            return;
        }
        // 100 at once: the caller stops retransmitting while we decide (§17.2.1).
        self.respond(now, id, &req, 100, "Trying", &[], None);
        match self.profile.classify_source(self.source.ip()) {
            SourceClass::Trunk(_) => {}
            SourceClass::NeedsDigest => {
                let ok = self.check_credentials(&req, HeaderName::ProxyAuthorization, |p, u| {
                    p.trunks
                        .iter()
                        .find(|t| t.username.as_deref() == Some(u))
                        .and_then(|t| t.password.clone())
                });
                if let Err((stale, why)) = ok {
                    self.challenge(now, id, &req, 407, stale, &why);
                    return;
                }
            }
            SourceClass::Forbidden => {
                let reason = format!(
                    "Forbidden (source {} is not a trunk of profile {}: add it to a [[trunks]] allow list in {})",
                    self.source.ip(),
                    self.profile.name,
                    self.profile.file.display()
                );
                self.stats.rejected_total += 1;
                self.respond(now, id, &req, 403, &reason, &[], None);
                return;
            }
        }
        let offer = match sdp::sdp_body(
            req.headers.content_type().ok().flatten().as_deref(),
            &req.body,
        ) {
            Ok(o) => o,
            Err(e) => {
                self.reject_media(now, id, &req, &e);
                return;
            }
        };
        let Some(port) = self.ports.allocate() else {
            warn!("RTP port range exhausted: rejecting call; widen --rtp-ports");
            let extra = [(
                HeaderName::Other(Bytes::from_static(b"Retry-After")),
                Bytes::from_static(b"5"),
            )];
            self.stats.rejected_total += 1;
            self.respond(
                now,
                id,
                &req,
                503,
                "Service Unavailable (RTP ports exhausted)",
                &extra,
                None,
            );
            return;
        };
        let local_tag = self.new_token(10);
        let Some(dialog) = Dialog::from_invite(&req, local_tag, from) else {
            self.ports.release(port);
            self.respond(now, id, &req, 400, "Bad Request (no From tag)", &[], None);
            return;
        };
        let media = self.local_media(port);
        let mut call = Call::new(dialog, id, req, media, from);
        if let Some(offer) = offer {
            match sdp::answer(&offer, &call.media) {
                Ok(a) => call.set_answer(a),
                Err(e) => {
                    self.ports.release(port);
                    let req = call.invite.clone();
                    self.reject_media(now, id, &req, &e);
                    return;
                }
            }
        }
        let did = call.dialog.id.clone();
        self.stats.calls_total += 1;
        let from_uri = call
            .invite
            .headers
            .from_addr()
            .map(|a| a.uri)
            .unwrap_or_default();
        self.events.push_back(EndpointEvent::CallOffered {
            call_id: did.call_id.clone(),
            from: uri_user(&from_uri),
            to: uri_user(&call.invite.uri),
        });
        self.by_invite.insert(id, did.clone());
        self.calls.insert(did.clone(), call);
        if self.profile.ring_ms > 0 {
            self.provisional(now, &did, 180, "Ringing");
            self.schedule(
                now + Duration::from_millis(self.profile.ring_ms),
                TimerKind::Answer,
                did,
            );
        } else {
            self.answer(now, &did);
        }
    }

    /// Rejects an offer: 488 for media we cannot serve, 415/400 for bodies we cannot read,
    /// with a Warning naming the cause (RFC 3261 §20.43).
    fn reject_media(&mut self, now: Instant, id: ServerTxId, req: &Request, e: &sdp::SdpError) {
        self.stats.rejected_total += 1;
        let status = e.status();
        let why = e.to_string().replace('"', "'");
        let mut extra = vec![(
            HeaderName::Other(Bytes::from_static(b"Warning")),
            Bytes::from(format!("{} hotline \"{why}\"", e.warning_code())),
        )];
        if status == 415 {
            extra.push((
                HeaderName::Accept,
                Bytes::from_static(b"application/sdp, multipart/mixed"),
            ));
        }
        let reason = crate::sip::message::reason_phrase(status);
        self.respond(now, id, req, status, reason, &extra, None);
    }

    fn local_media(&mut self, port: u16) -> LocalMedia {
        LocalMedia {
            addr: self.advertised_ip(self.profile.media_addr),
            port,
            codecs: self.codecs.clone(),
            ptime_ms: self.profile.ptime_ms,
            telephone_event: self.profile.telephone_event,
            session_id: self.rng.gen_range(1..u32::MAX as u64),
            session_version: 1,
            direction: Direction::SendRecv,
        }
    }

    /// The address to put in Contact/Via/SDP: configured external address, else the
    /// configured one, else the local address the peer reached us at.
    fn advertised_ip(&self, preferred: Option<IpAddr>) -> IpAddr {
        preferred.or(self.profile.external_addr).unwrap_or_else(|| {
            let l = self.profile.listen.ip();
            if l.is_unspecified() {
                self.local.ip()
            } else {
                l
            }
        })
    }

    fn contact(&self, transport: Transport) -> Bytes {
        let ip = self.advertised_ip(None);
        let host = match ip {
            IpAddr::V6(v6) => format!("[{v6}]"),
            IpAddr::V4(v4) => v4.to_string(),
        };
        let port = self.local.port();
        let t = if transport == Transport::Tcp {
            ";transport=tcp"
        } else {
            ""
        };
        Bytes::from(format!("<sip:hotline@{host}:{port}{t}>"))
    }

    fn provisional(&mut self, now: Instant, did: &DialogId, status: u16, reason: &str) {
        let Some(call) = self.calls.get(did) else {
            return;
        };
        let Some(id) = call.invite_tx else {
            return;
        };
        let (req, tag) = (call.invite.clone(), call.dialog.id.local_tag.clone());
        let contact = self.contact(call.reply_to.transport);
        self.respond(
            now,
            id,
            &req,
            status,
            reason,
            &[(HeaderName::Contact, contact)],
            Some(&tag),
        );
    }

    /// Sends the 200 with our SDP (answer, or offer for a late-offer INVITE).
    fn answer(&mut self, now: Instant, did: &DialogId) {
        let Some(call) = self.calls.get_mut(did) else {
            return;
        };
        if call.state != CallState::Ringing {
            return;
        }
        let Some(id) = call.invite_tx else {
            return;
        };
        call.state = CallState::Answered;
        let (req, tag, transport) = (
            call.invite.clone(),
            did.local_tag.clone(),
            call.reply_to.transport,
        );
        let answered = call.negotiated.clone();
        let port = call.media.port;
        let contact = self.contact(transport);
        let extra = [
            (HeaderName::Contact, contact),
            (
                HeaderName::Allow,
                Bytes::from_static(checks::ALLOW.as_bytes()),
            ),
            (
                HeaderName::ContentType,
                Bytes::from_static(b"application/sdp"),
            ),
        ];
        self.respond(now, id, &req, 200, "OK", &extra, Some(&tag));
        if let Some(negotiated) = answered {
            if let Some(call) = self.calls.get_mut(did) {
                call.media_announced = true;
            }
            self.events.push_back(EndpointEvent::CallAnswered {
                call_id: did.call_id.clone(),
                local_rtp: self.rtp_bind(port),
                negotiated,
            });
        }
        if self.profile.max_call_seconds > 0 {
            let at = now + Duration::from_secs(self.profile.max_call_seconds);
            self.schedule(at, TimerKind::MaxDuration, did.clone());
        }
    }

    /// Our side hangs up: BYE when answered, 480 while ringing.
    fn hang_up(&mut self, now: Instant, did: &DialogId, cause: &str, side: HangupSide) {
        let Some(call) = self.calls.get_mut(did) else {
            return;
        };
        match call.state {
            CallState::Ringing => {
                let (id, inv) = (call.invite_tx, call.invite.clone());
                let Some(id) = id else {
                    return;
                };
                self.respond(
                    now,
                    id,
                    &inv,
                    480,
                    "Temporarily Unavailable",
                    &[],
                    Some(&did.local_tag),
                );
            }
            CallState::Answered => {
                let transport = call.reply_to.transport;
                let via_host = self.advertised_ip(None);
                let via = match via_host {
                    IpAddr::V6(v6) => format!("[{v6}]:{}", self.local.port()),
                    IpAddr::V4(v4) => format!("{v4}:{}", self.local.port()),
                };
                let branch = format!("z9hG4bK{}", String::from_utf8_lossy(&self.new_token(16)));
                let Some(call) = self.calls.get_mut(did) else {
                    return;
                };
                let bye = call.dialog.request(Method::Bye, &via, transport, &branch);
                let to = call.dialog.next_hop();
                let txid = self.tx.send_request(now, bye, to);
                self.by_bye.insert(txid, did.clone());
            }
        }
        self.end_call(did, cause, side);
    }

    /// Hangs up a call by Call-ID on behalf of the rest of Hotline (media timeout, the app
    /// finished). Unknown or already ended calls are ignored.
    pub fn hang_up_call(&mut self, now: Instant, call_id: &[u8], cause: &str, side: HangupSide) {
        let did = self.calls.keys().find(|d| d.call_id == call_id).cloned();
        if let Some(did) = did {
            self.hang_up(now, &did, cause, side);
            self.drain_tx_events(now);
        } else {
            // A call we placed that is still ringing: CANCEL it.
            let call_id = Bytes::copy_from_slice(call_id);
            if self.cancel_outgoing(now, &call_id) {
                self.events.push_back(EndpointEvent::CallEnded {
                    call_id,
                    cause: cause.into(),
                    side,
                });
                self.drain_tx_events(now);
            }
        }
    }

    /// Where a call's RTP socket binds: the profile's listen IP (the wildcard when it
    /// listens on every address) and the allocated port.
    fn rtp_bind(&self, port: u16) -> SocketAddr {
        SocketAddr::new(self.profile.listen.ip(), port)
    }

    fn end_call(&mut self, did: &DialogId, cause: &str, side: HangupSide) {
        if let Some(call) = self.calls.remove(did) {
            // Once media was announced, a worker holds the port's sockets: it comes back
            // through `release_port` when the media side has closed them, not now.
            if !call.media_announced {
                self.ports.release(call.media.port);
            }
            for t in call.timers {
                self.timers.cancel(t);
            }
            info!(call_id = %String::from_utf8_lossy(&did.call_id), cause, digits = %call.digits, "call ended");
            self.events.push_back(EndpointEvent::CallEnded {
                call_id: did.call_id.clone(),
                cause: cause.into(),
                side,
            });
        }
    }

    fn dialog_of(&self, req: &Request) -> Option<DialogId> {
        let tag = req.headers.to_addr().ok()?.tag()?.clone();
        Some(DialogId {
            call_id: req.headers.call_id().ok()?,
            local_tag: tag,
        })
    }

    fn schedule(&mut self, at: Instant, kind: TimerKind, did: DialogId) {
        let id = self.timers.schedule(at, kind, did.clone());
        if let Some(call) = self.calls.get_mut(&did) {
            call.timers.push(id);
        }
    }

    /// Builds and sends a response through server transaction `id`. `tag` is the To tag
    /// for dialog responses; others get a fresh one (§8.2.6.2), except 100.
    #[allow(clippy::too_many_arguments)]
    fn respond(
        &mut self,
        now: Instant,
        id: ServerTxId,
        req: &Request,
        status: u16,
        reason: &str,
        extra: &[(HeaderName, Bytes)],
        tag: Option<&Bytes>,
    ) {
        let mut resp = Response::for_request(req, status, reason);
        // §12.1.1: responses that create (or confirm) a dialog echo Record-Route, in order,
        // so the caller's ACK, BYE and re-INVITEs pass the proxies that asked to stay.
        if req.method == Method::Invite && (101..300).contains(&status) {
            for rr in req.headers.get_all(&HeaderName::RecordRoute) {
                resp.headers.push(HeaderName::RecordRoute, rr.clone());
            }
        }
        for (n, v) in extra {
            resp.headers.push(n.clone(), v.clone());
        }
        // A 200 to an INVITE carries the call's SDP (answer, or offer for a late offer).
        if status == 200
            && req.method == Method::Invite
            && let Some(tag) = tag
            && let Ok(call_id) = req.headers.call_id()
            && let Some(call) = self.calls.get(&DialogId {
                call_id,
                local_tag: tag.clone(),
            })
        {
            resp.body = call.local_sdp().unwrap_or_default();
        }
        if status != 100 {
            self.add_to_tag(&mut resp, tag);
        }
        self.send_response(now, id, resp);
    }

    fn send_response(&mut self, now: Instant, id: ServerTxId, resp: Response) {
        if let Err(e) = self.tx.respond(now, id, resp) {
            debug!(error = %e, "response not sent");
        }
    }

    fn add_to_tag(&mut self, resp: &mut Response, tag: Option<&Bytes>) {
        let has_tag = resp
            .headers
            .to_addr()
            .ok()
            .is_some_and(|a| a.tag().is_some());
        if has_tag {
            return;
        }
        let tag = tag.cloned().unwrap_or_else(|| self.new_token(10));
        if let Some(to) = resp.headers.get(&HeaderName::To).cloned() {
            let mut v = Vec::with_capacity(to.len() + 5 + tag.len());
            v.extend_from_slice(&to);
            v.extend_from_slice(b";tag=");
            v.extend_from_slice(&tag);
            resp.headers.set(HeaderName::To, v);
        }
    }

    /// A response sent outside any transaction (505, 400 before a transaction exists).
    fn reply_stateless(
        &mut self,
        req: &Request,
        from: Peer,
        status: u16,
        reason: &str,
        extra: &[(HeaderName, Bytes)],
    ) {
        let mut resp = Response::for_request(req, status, reason);
        // §12.1.1: responses that create (or confirm) a dialog echo Record-Route, in order,
        // so the caller's ACK, BYE and re-INVITEs pass the proxies that asked to stay.
        if req.method == Method::Invite && (101..300).contains(&status) {
            for rr in req.headers.get_all(&HeaderName::RecordRoute) {
                resp.headers.push(HeaderName::RecordRoute, rr.clone());
            }
        }
        for (n, v) in extra {
            resp.headers.push(n.clone(), v.clone());
        }
        self.add_to_tag(&mut resp, None);
        let mut req_for_via = req.clone();
        let to = stamp_via(&mut req_for_via, from);
        self.tx.send_stateless(to, resp.to_bytes());
    }

    fn new_token(&mut self, len: usize) -> Bytes {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let v: Vec<u8> = (0..len)
            .map(|_| ALPHABET[self.rng.gen_range(0..ALPHABET.len())])
            .collect();
        Bytes::from(v)
    }
}

#[cfg(test)]
mod tests;
