//! Sans-IO SIP transaction layer (RFC 3261 §17, RFC 6026).
//!
//! The [`TransactionLayer`] owns every client and server transaction, addressed by the
//! handles [`ServerTxId`] and [`ClientTxId`]. Input comes in through `handle_message`,
//! `handle_timeout` and the TU's calls (`respond`, `send_request`); output is drained with
//! `poll_transmit`, `poll_event` and `poll_timeout`. Time is always an argument: the layer
//! never reads a clock or touches a socket, so tests drive it with fake time.
//!
//! Drain after each call: transmits first, then events, then re-arm the wake-up with
//! `poll_timeout`.
//!
//! Layout: `key.rs` (matching), `timer.rs` (timers), one file per state machine
//! (`server_invite.rs`, `server_non_invite.rs`, `client_invite.rs`, `client_non_invite.rs`),
//! `build.rs` (CANCEL and non-2xx ACK builders).

mod build;
mod client_invite;
mod client_non_invite;
mod key;
mod server_invite;
mod server_non_invite;
mod timer;

#[cfg(test)]
mod tests;

pub use build::{build_ack_for_non2xx, build_cancel};
pub use timer::TxTimer;

use crate::sip::message::{Message, Method, Request, Response};
use bytes::Bytes;
use client_invite::ClientInvite;
use client_non_invite::ClientNonInvite;
use key::{AckKey, ClientKey, InviteIds, ServerKey};
use server_invite::{AckOutcome, ServerInvite};
use server_non_invite::ServerNonInvite;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use timer::{TimerQueue, TimerTable, TxRef};

/// The transport a message came in on or goes out on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
}

impl Transport {
    /// Reliable transports get no retransmission timers, and zero wait timers (I, J, K, D).
    pub fn is_reliable(self) -> bool {
        match self {
            Transport::Udp => false,
            Transport::Tcp => true,
        }
    }
}

/// The other end of a message. `conn` is the driver's TCP connection id, echoed back so a
/// response leaves on the connection its request came in on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Peer {
    pub transport: Transport,
    pub addr: SocketAddr,
    pub conn: Option<u64>,
}

/// RFC 3261 timer base values (§17.1.1.1, Table 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxConfig {
    /// RTT estimate; retransmissions start at T1 and every transaction ends by 64*T1.
    pub t1: Duration,
    /// Cap on the retransmission interval of non-INVITE requests and INVITE responses.
    pub t2: Duration,
    /// How long the network may hold a message (Timers I and K).
    pub t4: Duration,
}

impl Default for TxConfig {
    fn default() -> TxConfig {
        TxConfig {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

/// Handle of a server transaction (a request we received).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ServerTxId(u64);

/// Handle of a client transaction (a request we sent).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClientTxId(u64);

/// Bytes to put on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    pub to: Peer,
    pub data: Bytes,
}

/// What the transaction user must know.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxEvent {
    /// A new request (not a retransmission, not an ACK): the TU must answer via `respond`.
    Request {
        id: ServerTxId,
        req: Request,
        from: Peer,
    },
    /// A CANCEL (its own non-INVITE server tx `id`); `invite` is the matching INVITE server
    /// tx still in Proceeding, if any. The TU answers 200/481 to the CANCEL and 487 to the
    /// INVITE.
    Cancel {
        id: ServerTxId,
        invite: Option<ServerTxId>,
        req: Request,
        from: Peer,
    },
    /// An ACK for a 2xx (matched to an accepted INVITE, or stray/forwarded) → dialog layer.
    Ack {
        req: Request,
        from: Peer,
        invite: Option<ServerTxId>,
    },
    /// An INVITE server tx sent a 2xx and no ACK came within 64*T1 (Timer L): the TU
    /// should BYE the dialog (§13.3.1.4).
    AckTimeout {
        id: ServerTxId,
    },
    /// A response for a client transaction. Retransmitted non-2xx finals are absorbed;
    /// every 2xx is passed up (RFC 6026), so the TU ACKs each one, as are 1xx.
    Response {
        id: ClientTxId,
        resp: Response,
    },
    /// Timer B/F fired: no final response. The TU treats it as 408.
    Timeout {
        id: ClientTxId,
    },
    /// A transaction ended (for the TU's bookkeeping).
    ServerTerminated {
        id: ServerTxId,
    },
    ClientTerminated {
        id: ClientTxId,
    },
}

/// Why the TU's call was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TxError {
    #[error(
        "server transaction {0:?} is unknown or already terminated; answer a request once \
         per Request event, and send anything later statelessly"
    )]
    UnknownServerTx(ServerTxId),
    #[error(
        "server transaction {id:?} is in state {state} and cannot send a {status}; only one \
         final response is allowed (after a 2xx to INVITE, only more 2xx)"
    )]
    AlreadyFinal {
        id: ServerTxId,
        status: u16,
        state: &'static str,
    },
    #[error("{0} is not a SIP status code; use 100 to 699")]
    BadStatus(u16),
}

/// What a state machine wants done with its transaction after an input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Next {
    Keep,
    Terminate,
}

/// A state machine refused a response in its current state.
#[derive(Debug)]
struct Refused {
    state: &'static str,
}

/// Queued outputs and the timer queue, shared by all transactions.
#[derive(Debug, Default)]
struct Output {
    timers: TimerQueue,
    transmits: VecDeque<Transmit>,
    events: VecDeque<TxEvent>,
}

/// What a state machine sees while handling one input: the clock, its peer, its timers
/// and the output queues.
struct TxCtx<'a> {
    now: Instant,
    cfg: TxConfig,
    id: u64,
    owner: TxRef,
    peer: Peer,
    table: &'a mut TimerTable,
    out: &'a mut Output,
}

impl TxCtx<'_> {
    fn reliable(&self) -> bool {
        self.peer.transport.is_reliable()
    }
    fn send(&mut self, data: Bytes) {
        self.out.transmits.push_back(Transmit {
            to: self.peer,
            data,
        });
    }
    fn emit(&mut self, ev: TxEvent) {
        self.out.events.push_back(ev);
    }
    /// Arms `timer` to fire `after` from now.
    fn set(&mut self, timer: TxTimer, after: Duration) {
        self.out
            .timers
            .set(self.table, self.owner, timer, self.now + after);
    }
    fn stop(&mut self, timer: TxTimer) {
        self.out.timers.stop(self.table, self.owner, timer);
    }
    fn server_id(&self) -> ServerTxId {
        ServerTxId(self.id)
    }
    fn client_id(&self) -> ClientTxId {
        ClientTxId(self.id)
    }
}

#[derive(Debug)]
enum ServerMachine {
    Invite(ServerInvite),
    NonInvite(ServerNonInvite),
}

#[derive(Debug)]
struct ServerTx {
    peer: Peer,
    key: Option<ServerKey>,
    /// The To tag of the request, for RFC 2543 matching of retransmissions.
    req_to_tag: Option<Bytes>,
    /// The To tag of the final response, for RFC 2543 matching of the ACK.
    final_to_tag: Option<Bytes>,
    /// INVITE only: what the ACK of a 2xx will be matched on.
    invite_ids: Option<InviteIds>,
    ack_key: Option<AckKey>,
    timers: TimerTable,
    machine: ServerMachine,
}

#[derive(Debug)]
enum ClientMachine {
    Invite(ClientInvite),
    NonInvite(ClientNonInvite),
}

#[derive(Debug)]
struct ClientTx {
    peer: Peer,
    key: Option<ClientKey>,
    timers: TimerTable,
    machine: ClientMachine,
}

/// All transactions of one SIP endpoint. See the module docs for the call pattern.
#[derive(Debug)]
pub struct TransactionLayer {
    cfg: TxConfig,
    next_id: u64,
    servers: HashMap<u64, ServerTx>,
    clients: HashMap<u64, ClientTx>,
    server_keys: HashMap<ServerKey, u64>,
    ack_keys: HashMap<AckKey, u64>,
    client_keys: HashMap<ClientKey, u64>,
    out: Output,
}

/// Builds the context for transaction `$tx` (borrowed from `$self.servers`/`clients`).
macro_rules! cx {
    ($self:ident, $now:expr, $id:expr, $owner:expr, $tx:expr) => {
        TxCtx {
            now: $now,
            cfg: $self.cfg,
            id: $id,
            owner: $owner,
            peer: $tx.peer,
            table: &mut $tx.timers,
            out: &mut $self.out,
        }
    };
}

impl TransactionLayer {
    /// A layer with timers from `cfg`. Values are clamped so no timer arithmetic can
    /// overflow or spin: T1 to 1 ms..1 min (a zero retransmission interval would fire
    /// forever), T2 to T1..1 h, T4 to at most 1 h.
    pub fn new(cfg: TxConfig) -> TransactionLayer {
        const HOUR: Duration = Duration::from_secs(3_600);
        let t1 = cfg
            .t1
            .clamp(Duration::from_millis(1), Duration::from_secs(60));
        let cfg = TxConfig {
            t1,
            t2: cfg.t2.clamp(t1, HOUR),
            t4: cfg.t4.min(HOUR),
        };
        TransactionLayer {
            cfg,
            next_id: 0,
            servers: HashMap::new(),
            clients: HashMap::new(),
            server_keys: HashMap::new(),
            ack_keys: HashMap::new(),
            client_keys: HashMap::new(),
            out: Output::default(),
        }
    }

    /// A message from the network. Retransmitted requests re-send the last response; a
    /// non-2xx ACK is absorbed by its INVITE tx (Timer I); responses go to client txs;
    /// stray responses are dropped.
    pub fn handle_message(&mut self, now: Instant, msg: Message, from: Peer) {
        match msg {
            Message::Request(req) if req.method == Method::Ack => self.handle_ack(now, req, from),
            Message::Request(req) => self.handle_request(now, req, from),
            Message::Response(resp) => self.handle_response(now, resp, from),
        }
    }

    /// The TU answers server tx `id`. 1xx: Proceeding; 2xx to INVITE: Accepted (RFC 6026),
    /// the 2xx is retransmitted over UDP until the ACK; 300–699 to INVITE: Completed
    /// (Timers G, H, then I); non-INVITE: Proceeding/Completed (Timer J).
    pub fn respond(&mut self, now: Instant, id: ServerTxId, resp: Response) -> Result<(), TxError> {
        if !(100..=699).contains(&resp.status) {
            return Err(TxError::BadStatus(resp.status));
        }
        let tx = self
            .servers
            .get_mut(&id.0)
            .ok_or(TxError::UnknownServerTx(id))?;
        let status = resp.status;
        let data = resp.to_bytes();
        let mut cx = cx!(self, now, id.0, TxRef::Server(id.0), tx);
        let next = match &mut tx.machine {
            ServerMachine::Invite(m) => m.respond(&mut cx, status, data),
            ServerMachine::NonInvite(m) => m.respond(&mut cx, status, data),
        }
        .map_err(|r| TxError::AlreadyFinal {
            id,
            status,
            state: r.state,
        })?;
        if status >= 200 && tx.final_to_tag.is_none() {
            tx.final_to_tag = key::to_tag_of_response(&resp);
        }
        if (200..300).contains(&status)
            && tx.ack_key.is_none()
            && let Some(ids) = &tx.invite_ids
        {
            let ack_key = ids.ack_key(&resp);
            self.ack_keys.insert(ack_key.clone(), id.0);
            tx.ack_key = Some(ack_key);
        }
        if next == Next::Terminate {
            self.terminate_server(id.0);
        }
        Ok(())
    }

    /// The TU sends a request carrying its own top Via with a `z9hG4bK` branch. Timers A/B
    /// (INVITE) or E/F (others) run; the ACK for a non-2xx final is sent by the layer. An
    /// ACK given here is sent statelessly: its id at once gets `ClientTerminated`.
    pub fn send_request(&mut self, now: Instant, req: Request, to: Peer) -> ClientTxId {
        self.next_id += 1;
        let id = self.next_id;
        let data = req.to_bytes();
        if req.method == Method::Ack {
            self.out.transmits.push_back(Transmit { to, data });
            self.out
                .events
                .push_back(TxEvent::ClientTerminated { id: ClientTxId(id) });
            return ClientTxId(id);
        }
        let key = match key::client_key_of_request(&req) {
            Ok(k) => Some(k),
            Err(e) => {
                tracing::warn!(error = %e, method = %req.method,
                    "request sent without a usable top Via branch: no response can match it");
                None
            }
        };
        let mut timers = TimerTable::default();
        let mut cx = TxCtx {
            now,
            cfg: self.cfg,
            id,
            owner: TxRef::Client(id),
            peer: to,
            table: &mut timers,
            out: &mut self.out,
        };
        let machine = if req.method == Method::Invite {
            ClientMachine::Invite(ClientInvite::start(&mut cx, req, data))
        } else {
            ClientMachine::NonInvite(ClientNonInvite::start(&mut cx, data))
        };
        if let Some(k) = &key
            && let Some(old) = self.client_keys.insert(k.clone(), id)
        {
            tracing::warn!(
                old,
                new = id,
                "branch reused by a new client transaction; the new one gets its responses"
            );
        }
        self.clients.insert(
            id,
            ClientTx {
                peer: to,
                key,
                timers,
                machine,
            },
        );
        ClientTxId(id)
    }

    /// Sends bytes outside any transaction (an ACK for a 2xx, a stateless response).
    pub fn send_stateless(&mut self, to: Peer, data: Bytes) {
        self.out.transmits.push_back(Transmit { to, data });
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some((owner, timer)) = self.out.timers.pop_due(now) {
            match owner {
                TxRef::Server(id) => {
                    let Some(tx) = self.servers.get_mut(&id) else {
                        continue;
                    };
                    tx.timers.fired(timer);
                    let mut cx = cx!(self, now, id, owner, tx);
                    let next = match &mut tx.machine {
                        ServerMachine::Invite(m) => m.on_timer(&mut cx, timer),
                        ServerMachine::NonInvite(m) => m.on_timer(&mut cx, timer),
                    };
                    if next == Next::Terminate {
                        self.terminate_server(id);
                    }
                }
                TxRef::Client(id) => {
                    let Some(tx) = self.clients.get_mut(&id) else {
                        continue;
                    };
                    tx.timers.fired(timer);
                    let mut cx = cx!(self, now, id, owner, tx);
                    let next = match &mut tx.machine {
                        ClientMachine::Invite(m) => m.on_timer(&mut cx, timer),
                        ClientMachine::NonInvite(m) => m.on_timer(&mut cx, timer),
                    };
                    if next == Next::Terminate {
                        self.terminate_client(id);
                    }
                }
            }
        }
    }

    /// When `handle_timeout` must next be called, if any timer is armed.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.out.timers.next_deadline()
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<TxEvent> {
        self.out.events.pop_front()
    }

    /// Live server transactions.
    pub fn server_count(&self) -> usize {
        self.servers.len()
    }

    /// Live client transactions.
    pub fn client_count(&self) -> usize {
        self.clients.len()
    }

    fn handle_request(&mut self, now: Instant, req: Request, from: Peer) {
        let key = match key::server_key(&req, &req.method) {
            Ok(k) => Some(k),
            Err(e) => {
                // Still a transaction, so the TU can answer 400; retransmissions of it
                // cannot be matched and become new transactions.
                tracing::debug!(error = %e, method = %req.method, "request without a usable transaction key");
                None
            }
        };
        if let Some(k) = &key
            && let Some(id) = self.match_server(k, &req, false)
            && let Some(tx) = self.servers.get_mut(&id)
        {
            let mut cx = cx!(self, now, id, TxRef::Server(id), tx);
            match &mut tx.machine {
                ServerMachine::Invite(m) => m.on_retransmission(&mut cx),
                ServerMachine::NonInvite(m) => m.on_retransmission(&mut cx),
            }
            return;
        }

        self.next_id += 1;
        let id = self.next_id;
        let is_invite = req.method == Method::Invite;
        let tx = ServerTx {
            peer: from,
            key: key.clone(),
            req_to_tag: key::to_tag_of_request(&req),
            final_to_tag: None,
            invite_ids: if is_invite {
                InviteIds::of(&req).ok()
            } else {
                None
            },
            ack_key: None,
            timers: TimerTable::default(),
            machine: if is_invite {
                ServerMachine::Invite(ServerInvite::new())
            } else {
                ServerMachine::NonInvite(ServerNonInvite::new())
            },
        };
        self.servers.insert(id, tx);
        if let Some(k) = key {
            self.server_keys.insert(k, id);
        }

        let ev = if req.method == Method::Cancel {
            let invite = self.cancelled_invite(&req).map(ServerTxId);
            TxEvent::Cancel {
                id: ServerTxId(id),
                invite,
                req,
                from,
            }
        } else {
            TxEvent::Request {
                id: ServerTxId(id),
                req,
                from,
            }
        };
        self.out.events.push_back(ev);
    }

    /// §9.2: the INVITE server transaction a CANCEL refers to, if it still awaits a final
    /// response.
    fn cancelled_invite(&self, cancel: &Request) -> Option<u64> {
        let k = key::server_key(cancel, &Method::Invite).ok()?;
        let id = self.match_server(&k, cancel, false)?;
        match &self.servers.get(&id)?.machine {
            ServerMachine::Invite(m) if m.is_proceeding() => Some(id),
            _ => None,
        }
    }

    fn handle_ack(&mut self, now: Instant, req: Request, from: Peer) {
        // An ACK with the INVITE's branch: the non-2xx ACK (or a 2xx ACK from a peer that
        // reuses the branch, or an RFC 2543 peer).
        let by_branch = key::server_key(&req, &Method::Invite)
            .ok()
            .and_then(|k| self.match_server(&k, &req, true));
        // Otherwise the 2xx ACK, with its own branch: matched on the dialog.
        let id = by_branch.or_else(|| {
            let k = key::ack_key_of_request(&req).ok()?;
            self.ack_keys.get(&k).copied()
        });
        let Some(id) = id else {
            self.out.events.push_back(TxEvent::Ack {
                req,
                from,
                invite: None,
            });
            return;
        };
        let Some(tx) = self.servers.get_mut(&id) else {
            return;
        };
        let ServerMachine::Invite(m) = &mut tx.machine else {
            return;
        };
        let mut cx = cx!(self, now, id, TxRef::Server(id), tx);
        match m.on_ack(&mut cx) {
            AckOutcome::ForTwoXx => {
                let invite = Some(ServerTxId(id));
                self.out
                    .events
                    .push_back(TxEvent::Ack { req, from, invite });
            }
            AckOutcome::Absorbed(Next::Terminate) => self.terminate_server(id),
            AckOutcome::Absorbed(Next::Keep) => {}
            AckOutcome::Unexpected => {
                tracing::debug!(
                    tx = id,
                    "ACK for an INVITE with no final response yet: dropped"
                );
            }
        }
    }

    fn handle_response(&mut self, now: Instant, resp: Response, from: Peer) {
        let id = match key::client_key_of_response(&resp) {
            Ok(k) => self.client_keys.get(&k).copied(),
            Err(e) => {
                tracing::debug!(error = %e, status = resp.status, peer = %from.addr, "response without a usable Via/CSeq: dropped");
                return;
            }
        };
        let Some(id) = id else {
            tracing::debug!(status = resp.status, peer = %from.addr, "stray response (no client transaction): dropped");
            return;
        };
        let Some(tx) = self.clients.get_mut(&id) else {
            return;
        };
        let mut cx = cx!(self, now, id, TxRef::Client(id), tx);
        let next = match &mut tx.machine {
            ClientMachine::Invite(m) => m.on_response(&mut cx, resp),
            ClientMachine::NonInvite(m) => m.on_response(&mut cx, resp),
        };
        if next == Next::Terminate {
            self.terminate_client(id);
        }
    }

    /// The transaction `k` names, if `req` really belongs to it. RFC 2543 keys leave the
    /// To tag out: a request must carry the To tag of the original request, an ACK the To
    /// tag of the final response (§17.2.3).
    fn match_server(&self, k: &ServerKey, req: &Request, is_ack: bool) -> Option<u64> {
        let id = *self.server_keys.get(k)?;
        let tx = self.servers.get(&id)?;
        if k.is_legacy() {
            let expected = if is_ack {
                &tx.final_to_tag
            } else {
                &tx.req_to_tag
            };
            if key::to_tag_of_request(req) != *expected {
                return None;
            }
        }
        Some(id)
    }

    fn terminate_server(&mut self, id: u64) {
        let Some(mut tx) = self.servers.remove(&id) else {
            return;
        };
        self.out.timers.stop_all(&mut tx.timers, TxRef::Server(id));
        if let Some(k) = tx.key
            && self.server_keys.get(&k) == Some(&id)
        {
            self.server_keys.remove(&k);
        }
        if let Some(k) = tx.ack_key
            && self.ack_keys.get(&k) == Some(&id)
        {
            self.ack_keys.remove(&k);
        }
        self.out
            .events
            .push_back(TxEvent::ServerTerminated { id: ServerTxId(id) });
    }

    fn terminate_client(&mut self, id: u64) {
        let Some(mut tx) = self.clients.remove(&id) else {
            return;
        };
        self.out.timers.stop_all(&mut tx.timers, TxRef::Client(id));
        if let Some(k) = tx.key
            && self.client_keys.get(&k) == Some(&id)
        {
            self.client_keys.remove(&k);
        }
        self.out
            .events
            .push_back(TxEvent::ClientTerminated { id: ClientTxId(id) });
    }
}
