//! Calls Hotline places, as UAC (RFC 3261 §13.2): the far leg of a transfer, later an
//! agent's SIP phone. The INVITE offers our codecs; a 2xx makes a dialog (§12.1.2) that
//! joins `calls`, so BYE, re-INVITE and INFO from the callee are handled like a caller's.
//! Until then the attempt lives here: provisional responses, digest retry, ring timeout
//! (CANCEL, §9.1) and a 2xx that crosses our CANCEL (ACK, then BYE).

use super::*;
use crate::sip::auth::{client_response, pick_challenge};
use crate::sip::message::Uri;
use crate::sip::transaction::build_cancel;

/// A call to place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dial {
    /// The new leg's Call-ID, chosen by the caller of `dial` so it can match the events.
    pub call_id: Bytes,
    /// Request-URI, e.g. `sip:1001@192.0.2.10:5060`.
    pub target: String,
    /// Where the INVITE goes (a trunk's proxy, or the target's own address). UDP.
    pub next_hop: SocketAddr,
    /// The user part of our From: the original caller's number, so the callee sees who
    /// is calling.
    pub caller: String,
    /// CANCEL when no 2xx came in this long.
    pub ring_timeout: Duration,
    /// Digest credentials for a trunk that challenges our INVITE (401/407).
    pub credentials: Option<(String, String)>,
}

/// Why a call could not be placed at all.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DialError {
    #[error("Call-ID {0} is already in use; give every placed call its own Call-ID")]
    DuplicateCallId(String),
    #[error("transfer target {0:?} is not a SIP URI; write e.g. sip:1001@192.0.2.10:5060")]
    BadTarget(String),
    #[error("RTP port range exhausted; widen rtp_ports in hotline.toml")]
    NoPorts,
    #[error(
        "no phone is registered as SIP user {0}; register the agent's phone (a [[users]] entry) or log the agent in at /agent"
    )]
    NotRegistered(String),
}

/// An INVITE we sent that has no 2xx yet (or whose 2xx may still be retransmitted).
pub(super) struct Outgoing {
    invite: Request,
    tx: ClientTxId,
    media: LocalMedia,
    peer: Peer,
    ring_timeout: Duration,
    credentials: Option<(String, String)>,
    auth_tried: bool,
    timer: Option<u64>,
    ringing_reported: bool,
    /// We gave up (CANCEL sent, or the caller hung up): a late 2xx gets ACK and BYE.
    cancelled: bool,
    /// The ACK of the 2xx, re-sent for each retransmission of it.
    ack: Option<(Bytes, Peer)>,
}

impl Endpoint {
    /// Places a call. Its progress comes back as `OutboundRinging`, then `CallAnswered`
    /// (with media, as for a caller) or `OutboundFailed`; a refusal before any INVITE
    /// is sent is returned here and also reported as `OutboundFailed`.
    pub fn dial(&mut self, now: Instant, dial: Dial) -> Result<(), DialError> {
        let result = self.try_dial(now, &dial);
        if let Err(e) = &result {
            self.events.push_back(EndpointEvent::OutboundFailed {
                call_id: dial.call_id.clone(),
                status: 500,
                reason: e.to_string(),
            });
        }
        self.drain_tx_events(now);
        result
    }

    /// Places a call to the phone registered as SIP user `user` (an agent's phone): to its
    /// Contact, sent where its REGISTER came from (the address that works behind NAT).
    /// `dial.target` and `dial.next_hop` are filled in from the registration.
    pub fn dial_registered(
        &mut self,
        now: Instant,
        user: &str,
        mut dial: Dial,
    ) -> Result<(), DialError> {
        let binding = self
            .registrar
            .lookup_user(now, user)
            .first()
            .map(|b| (String::from_utf8_lossy(&b.contact).into_owned(), b.source));
        match binding {
            Some((contact, source)) => {
                dial.target = contact;
                dial.next_hop = source;
                self.dial(now, dial)
            }
            None => {
                let e = DialError::NotRegistered(user.to_string());
                self.events.push_back(EndpointEvent::OutboundFailed {
                    call_id: dial.call_id.clone(),
                    status: 480,
                    reason: e.to_string(),
                });
                Err(e)
            }
        }
    }

    fn try_dial(&mut self, now: Instant, dial: &Dial) -> Result<(), DialError> {
        if self.outgoing.contains_key(&dial.call_id)
            || self.calls.keys().any(|d| d.call_id == dial.call_id)
        {
            return Err(DialError::DuplicateCallId(
                String::from_utf8_lossy(&dial.call_id).into_owned(),
            ));
        }
        let target = Bytes::from(dial.target.clone());
        if Uri::parse(&target).is_err() {
            return Err(DialError::BadTarget(dial.target.clone()));
        }
        let port = self.ports.allocate().ok_or(DialError::NoPorts)?;
        let media = self.local_media(port);
        let tag = self.new_token(10);
        let sent_by = self.sent_by();
        let host = sent_by.rsplit_once(':').map_or(&*sent_by, |(h, _)| h);
        let mut invite = Request::new(Method::Invite, target.clone());
        invite.headers.push(
            HeaderName::Via,
            format!(
                "SIP/2.0/UDP {sent_by};branch=z9hG4bK{};rport",
                String::from_utf8_lossy(&self.new_token(16))
            ),
        );
        invite.headers.push(HeaderName::MaxForwards, "70");
        let caller = if dial.caller.is_empty() {
            "hotline"
        } else {
            &dial.caller
        };
        invite.headers.push(
            HeaderName::From,
            format!(
                "<sip:{caller}@{host}>;tag={}",
                String::from_utf8_lossy(&tag)
            ),
        );
        invite
            .headers
            .push(HeaderName::To, format!("<{}>", dial.target));
        invite
            .headers
            .push(HeaderName::CallId, dial.call_id.clone());
        invite.headers.push(HeaderName::CSeq, "1 INVITE");
        invite
            .headers
            .push(HeaderName::Contact, self.contact(Transport::Udp));
        invite.headers.push(
            HeaderName::Allow,
            Bytes::from_static(checks::ALLOW.as_bytes()),
        );
        invite.headers.push(
            HeaderName::ContentType,
            Bytes::from_static(b"application/sdp"),
        );
        invite.body = sdp::offer(&media);
        let peer = Peer {
            transport: Transport::Udp,
            addr: dial.next_hop,
            conn: None,
        };
        let tx = self.tx.send_request(now, invite.clone(), peer);
        let did = DialogId {
            call_id: dial.call_id.clone(),
            local_tag: tag,
        };
        let timer = self
            .timers
            .schedule(now + dial.ring_timeout, TimerKind::RingTimeout, did);
        info!(call_id = %String::from_utf8_lossy(&dial.call_id), target = %dial.target,
            next_hop = %dial.next_hop, "placing call");
        self.by_out_invite.insert(tx, dial.call_id.clone());
        self.outgoing.insert(
            dial.call_id.clone(),
            Outgoing {
                invite,
                tx,
                media,
                peer,
                ring_timeout: dial.ring_timeout,
                credentials: dial.credentials.clone(),
                auth_tried: false,
                timer: Some(timer),
                ringing_reported: false,
                cancelled: false,
                ack: None,
            },
        );
        Ok(())
    }

    /// Our Via sent-by: the advertised address and the port we listen on.
    pub(super) fn sent_by(&self) -> String {
        let port = if self.local.port() != 0 {
            self.local.port()
        } else {
            self.profile.listen.port()
        };
        match self.advertised_ip(None) {
            IpAddr::V6(v6) => format!("[{v6}]:{port}"),
            IpAddr::V4(v4) if v4.is_unspecified() => format!("127.0.0.1:{port}"),
            IpAddr::V4(v4) => format!("{v4}:{port}"),
        }
    }

    /// Whether a client transaction is one of our INVITEs (the endpoint's other client
    /// transactions are BYEs).
    pub(super) fn is_outgoing_tx(&self, id: ClientTxId) -> bool {
        self.by_out_invite.contains_key(&id)
    }

    pub(super) fn on_outgoing_response(&mut self, now: Instant, id: ClientTxId, resp: Response) {
        let Some(call_id) = self.by_out_invite.get(&id).cloned() else {
            return;
        };
        let Some(out) = self.outgoing.get_mut(&call_id) else {
            return;
        };
        match resp.status {
            100 => {}
            101..=199 => {
                if !out.cancelled && !out.ringing_reported && resp.status != 100 {
                    out.ringing_reported = true;
                    self.events.push_back(EndpointEvent::OutboundRinging {
                        call_id,
                        status: resp.status,
                    });
                }
            }
            200..=299 => self.on_outgoing_2xx(now, &call_id, &resp),
            401 | 407 if !out.auth_tried && out.credentials.is_some() && !out.cancelled => {
                self.retry_with_digest(now, &call_id, &resp);
            }
            status => {
                let reason = format!("{status} {}", String::from_utf8_lossy(&resp.reason).trim());
                self.fail_outgoing(&call_id, status, reason);
            }
        }
    }

    /// No final response at all (Timer B).
    pub(super) fn on_outgoing_timeout(&mut self, id: ClientTxId) {
        if let Some(call_id) = self.by_out_invite.get(&id).cloned() {
            let answered = self.outgoing.get(&call_id).is_some_and(|o| o.ack.is_some());
            if !answered {
                self.fail_outgoing(&call_id, 408, "408 no response from the callee".into());
            }
        }
    }

    /// The INVITE transaction ended: nothing more can arrive for the attempt.
    pub(super) fn on_outgoing_terminated(&mut self, id: ClientTxId) {
        if let Some(call_id) = self.by_out_invite.remove(&id)
            && self.outgoing.get(&call_id).is_some_and(|o| o.tx == id)
        {
            self.outgoing.remove(&call_id);
        }
    }

    /// Gives up on a call we placed that is not answered yet (the caller hung up, or no
    /// answer in time): CANCEL, and the RTP port goes back at once.
    pub(super) fn cancel_outgoing(&mut self, now: Instant, call_id: &Bytes) -> bool {
        let Some(out) = self.outgoing.get_mut(call_id) else {
            return false;
        };
        if out.cancelled || out.ack.is_some() {
            return false;
        }
        out.cancelled = true;
        let cancel = build_cancel(&out.invite);
        let (peer, port, timer) = (out.peer, out.media.port, out.timer.take());
        self.tx.send_request(now, cancel, peer);
        self.ports.release(port);
        if let Some(t) = timer {
            self.timers.cancel(t);
        }
        true
    }

    pub(super) fn on_ring_timeout(&mut self, now: Instant, call_id: &Bytes) {
        let secs = match self.outgoing.get_mut(call_id) {
            Some(o) => {
                o.timer = None;
                o.ring_timeout.as_secs()
            }
            None => return,
        };
        if self.cancel_outgoing(now, call_id) {
            self.events.push_back(EndpointEvent::OutboundFailed {
                call_id: call_id.clone(),
                status: 480,
                reason: format!("no answer within {secs} s"),
            });
        }
    }

    fn fail_outgoing(&mut self, call_id: &Bytes, status: u16, reason: String) {
        let Some(out) = self.outgoing.get_mut(call_id) else {
            return;
        };
        if out.ack.is_some() {
            return;
        }
        let was_cancelled = out.cancelled;
        out.cancelled = true;
        let (port, timer) = (out.media.port, out.timer.take());
        if let Some(t) = timer {
            self.timers.cancel(t);
        }
        if !was_cancelled {
            self.ports.release(port);
            info!(call_id = %String::from_utf8_lossy(call_id), %reason, "placed call failed");
            self.events.push_back(EndpointEvent::OutboundFailed {
                call_id: call_id.clone(),
                status,
                reason,
            });
        }
    }

    fn retry_with_digest(&mut self, now: Instant, call_id: &Bytes, resp: &Response) {
        let Some(out) = self.outgoing.get_mut(call_id) else {
            return;
        };
        out.auth_tried = true;
        let (challenge_header, answer_header) = if resp.status == 407 {
            (
                HeaderName::ProxyAuthenticate,
                HeaderName::ProxyAuthorization,
            )
        } else {
            (HeaderName::WwwAuthenticate, HeaderName::Authorization)
        };
        let challenges = resp.headers.challenges(&challenge_header);
        let Some((user, pass)) = out.credentials.clone() else {
            return;
        };
        let cnonce = String::from_utf8_lossy(&self.new_token(12)).into_owned();
        let Some(out) = self.outgoing.get_mut(call_id) else {
            return;
        };
        let answer = pick_challenge(&challenges)
            .map(|c| client_response(c, b"INVITE", &out.invite.uri, &user, &pass, &cnonce, 1));
        let value = match answer {
            Some(Ok(v)) => v,
            Some(Err(e)) => {
                let reason = format!("{} challenge cannot be answered: {e}", resp.status);
                self.fail_outgoing(call_id, resp.status, reason);
                return;
            }
            None => {
                let reason = format!("{} without a Digest challenge we support", resp.status);
                self.fail_outgoing(call_id, resp.status, reason);
                return;
            }
        };
        // Same dialog attempt: same Call-ID and From tag, next CSeq, new branch (§22.2).
        let mut invite = out.invite.clone();
        let seq = invite.headers.cseq().map(|c| c.seq).unwrap_or(1) + 1;
        invite
            .headers
            .set(HeaderName::CSeq, format!("{seq} INVITE"));
        invite.headers.set(answer_header, value);
        let branch = format!("z9hG4bK{}", String::from_utf8_lossy(&self.new_token(16)));
        invite.headers.set(
            HeaderName::Via,
            format!("SIP/2.0/UDP {};branch={branch};rport", self.sent_by()),
        );
        let Some(out) = self.outgoing.get_mut(call_id) else {
            return;
        };
        let peer = out.peer;
        out.invite = invite.clone();
        let tx = self.tx.send_request(now, invite, peer);
        if let Some(out) = self.outgoing.get_mut(call_id) {
            out.tx = tx;
        }
        self.by_out_invite.insert(tx, call_id.clone());
    }

    fn on_outgoing_2xx(&mut self, now: Instant, call_id: &Bytes, resp: &Response) {
        let Some(out) = self.outgoing.get_mut(call_id) else {
            return;
        };
        // A retransmitted 2xx (our ACK was lost): ACK again.
        if let Some((ack, peer)) = out.ack.clone() {
            self.tx.send_stateless(peer, ack);
            return;
        }
        let Some(mut dialog) = Dialog::from_2xx(&out.invite, resp, out.peer) else {
            let reason = "2xx without the headers a dialog needs (To tag, Contact)".to_string();
            self.fail_outgoing(call_id, 502, reason);
            return;
        };
        let branch = format!("z9hG4bK{}", String::from_utf8_lossy(&self.new_token(16)));
        let ack = dialog
            .ack(&self.sent_by(), Transport::Udp, &branch)
            .to_bytes();
        let hop = dialog.next_hop();
        self.tx.send_stateless(hop, ack.clone());
        let Some(out) = self.outgoing.get_mut(call_id) else {
            return;
        };
        out.ack = Some((ack, hop));
        if let Some(t) = out.timer.take() {
            self.timers.cancel(t);
        }
        let cancelled = out.cancelled;
        let (invite, media, peer) = (out.invite.clone(), out.media.clone(), out.peer);
        let negotiated = sdp::sdp_body(
            resp.headers.content_type().ok().flatten().as_deref(),
            &resp.body,
        )
        .map_err(|e| e.to_string())
        .and_then(|b| b.ok_or_else(|| "the 2xx carried no SDP answer".to_string()))
        .and_then(|b| sdp::read_answer(&b, &media).map_err(|e| e.to_string()));
        let mut call = Call::new_outbound(dialog, invite, media, peer);
        call.negotiated = negotiated.as_ref().ok().cloned();
        let did = call.dialog.id.clone();
        self.calls.insert(did.clone(), call);
        if cancelled {
            // The 2xx crossed our CANCEL: the call is no longer wanted (port already back).
            if let Some(c) = self.calls.get_mut(&did) {
                c.media_announced = true;
            }
            self.hang_up(
                now,
                &did,
                "answered after it was cancelled",
                HangupSide::Hotline,
            );
            self.events.retain(
                |e| !matches!(e, EndpointEvent::CallEnded { call_id: c, .. } if c == call_id),
            );
            return;
        }
        match negotiated {
            Ok(n) => {
                let port = self.calls.get(&did).map_or(0, |c| c.media.port);
                if let Some(c) = self.calls.get_mut(&did) {
                    c.media_announced = true;
                }
                info!(call_id = %String::from_utf8_lossy(call_id), "placed call answered");
                self.events.push_back(EndpointEvent::CallAnswered {
                    call_id: call_id.clone(),
                    local_rtp: self.rtp_bind(port),
                    negotiated: n,
                });
                if self.profile.max_call_seconds > 0 {
                    let at = now + Duration::from_secs(self.profile.max_call_seconds);
                    self.schedule(at, TimerKind::MaxDuration, did);
                }
            }
            Err(why) => {
                // Hang up without announcing media: `end_call` returns the port.
                self.hang_up(
                    now,
                    &did,
                    &format!("callee's SDP answer unusable: {why}"),
                    HangupSide::System,
                );
                self.events.retain(
                    |e| !matches!(e, EndpointEvent::CallEnded { call_id: c, .. } if c == call_id),
                );
                self.events.push_back(EndpointEvent::OutboundFailed {
                    call_id: call_id.clone(),
                    status: 488,
                    reason: format!("callee's SDP answer unusable: {why}"),
                });
            }
        }
    }
}

#[cfg(test)]
#[path = "outbound_tests.rs"]
mod tests;
