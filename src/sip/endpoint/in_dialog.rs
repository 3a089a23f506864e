//! Requests inside a call: ACK, CANCEL, BYE, re-INVITE (hold/resume) and INFO (DTMF).

use super::*;

impl Endpoint {
    pub(super) fn on_ack(&mut self, now: Instant, req: &Request) {
        let Some(did) = self.dialog_of(req) else {
            return;
        };
        let Some(call) = self.calls.get_mut(&did) else {
            return;
        };
        call.acked = true;
        if call.negotiated.is_none() && call.state == CallState::Answered {
            // Late offer: the ACK carries the answer to the offer we put in the 200.
            let ct = req.headers.content_type().ok().flatten();
            let read = sdp::sdp_body(ct.as_deref(), &req.body)
                .map_err(|e| e.to_string())
                .and_then(|b| b.ok_or_else(|| "ACK carried no SDP answer".to_string()))
                .and_then(|b| sdp::read_answer(&b, &call.media).map_err(|e| e.to_string()));
            match read {
                Ok(n) => {
                    call.negotiated = Some(n.clone());
                    call.media_announced = true;
                    let local_rtp = SocketAddr::new(self.profile.listen.ip(), call.media.port);
                    self.events.push_back(EndpointEvent::CallAnswered {
                        call_id: did.call_id.clone(),
                        local_rtp,
                        negotiated: n,
                    });
                }
                Err(why) => {
                    let cause = format!("bad SDP answer in ACK: {why}");
                    self.hang_up(now, &did, &cause, HangupSide::System);
                }
            }
        }
    }

    pub(super) fn on_cancel(
        &mut self,
        now: Instant,
        id: ServerTxId,
        invite: Option<ServerTxId>,
        req: &Request,
    ) {
        let Some(invite) = invite else {
            self.respond(
                now,
                id,
                req,
                481,
                "Call/Transaction Does Not Exist",
                &[],
                None,
            );
            return;
        };
        self.respond(now, id, req, 200, "OK", &[], None);
        let Some(did) = self.by_invite.get(&invite).cloned() else {
            return;
        };
        let ringing = self
            .calls
            .get(&did)
            .is_some_and(|c| c.state == CallState::Ringing);
        if ringing {
            let call = self.calls.get(&did).map(|c| c.invite.clone());
            if let Some(inv) = call {
                self.respond(
                    now,
                    invite,
                    &inv,
                    487,
                    "Request Terminated",
                    &[],
                    Some(&did.local_tag),
                );
            }
            self.end_call(&did, "caller cancelled before answer", HangupSide::Caller);
        }
    }

    pub(super) fn on_bye(&mut self, now: Instant, id: ServerTxId, req: &Request, tag: Bytes) {
        let Some(did) = self.known_dialog(now, id, req, tag) else {
            return;
        };
        self.respond(now, id, req, 200, "OK", &[], None);
        // A BYE for a call still ringing also ends its INVITE (§15.1.2).
        if let Some(call) = self.calls.get(&did)
            && call.state == CallState::Ringing
            && let Some(inv_id) = call.invite_tx
        {
            let inv = call.invite.clone();
            self.respond(
                now,
                inv_id,
                &inv,
                487,
                "Request Terminated",
                &[],
                Some(&did.local_tag),
            );
        }
        let cause = if self.calls.get(&did).is_some_and(|c| c.outbound) {
            "callee hung up (BYE)"
        } else {
            "caller hung up (BYE)"
        };
        self.end_call(&did, cause, HangupSide::Caller);
    }

    pub(super) fn on_reinvite(&mut self, now: Instant, id: ServerTxId, req: &Request, tag: Bytes) {
        let Some(did) = self.known_dialog(now, id, req, tag) else {
            return;
        };
        let Some(call) = self.calls.get_mut(&did) else {
            return;
        };
        let seq = req.headers.cseq().map(|c| c.seq).unwrap_or(0);
        if !call.dialog.accept_cseq(&req.method, seq) {
            self.respond(
                now,
                id,
                req,
                500,
                "Server Internal Error (CSeq out of order)",
                &[],
                None,
            );
            return;
        }
        if call.state != CallState::Answered || !call.acked {
            let extra = [(
                HeaderName::Other(Bytes::from_static(b"Retry-After")),
                Bytes::from_static(b"1"),
            )];
            self.respond(now, id, req, 491, "Request Pending", &extra, None);
            return;
        }
        let ct = req.headers.content_type().ok().flatten();
        let offer = match sdp::sdp_body(ct.as_deref(), &req.body) {
            Ok(o) => o,
            Err(e) => {
                self.reject_media(now, id, req, &e);
                return;
            }
        };
        let mut held = None;
        if let Some(offer) = offer {
            call.media.session_version += 1;
            match sdp::answer(&offer, &call.media) {
                Ok(a) => {
                    held = Some(a.negotiated.clone());
                    call.set_answer(a);
                }
                Err(e) => {
                    call.media.session_version -= 1;
                    self.reject_media(now, id, req, &e);
                    return;
                }
            }
        } else {
            // Offerless re-INVITE: we offer again; the ACK answers.
            call.negotiated = None;
            call.answer_sdp = None;
        }
        let transport = call.reply_to.transport;
        let contact = self.contact(transport);
        let extra = [
            (HeaderName::Contact, contact),
            (
                HeaderName::ContentType,
                Bytes::from_static(b"application/sdp"),
            ),
        ];
        self.respond(
            now,
            id,
            req,
            200,
            "OK",
            &extra,
            Some(&did.local_tag.clone()),
        );
        if let Some(negotiated) = held {
            info!(call_id = %String::from_utf8_lossy(&did.call_id), on_hold = negotiated.on_hold, "re-INVITE");
            self.events.push_back(EndpointEvent::MediaChanged {
                call_id: did.call_id.clone(),
                negotiated,
            });
        }
    }

    pub(super) fn on_info(&mut self, now: Instant, id: ServerTxId, req: &Request, tag: Bytes) {
        let Some(did) = self.known_dialog(now, id, req, tag) else {
            return;
        };
        let Some(call) = self.calls.get_mut(&did) else {
            return;
        };
        let ct = req.headers.content_type().ok().flatten();
        if let Some(digit) = call::dtmf_from_info(ct.as_deref(), &req.body) {
            call.digits.push(digit);
            self.events.push_back(EndpointEvent::Dtmf {
                call_id: did.call_id.clone(),
                digit,
            });
        }
        self.respond(now, id, req, 200, "OK", &[], None);
    }

    /// The dialog an in-dialog request names (Call-ID and our To tag), or a 481 answer
    /// when there is no such call (§12.2.2).
    fn known_dialog(
        &mut self,
        now: Instant,
        id: ServerTxId,
        req: &Request,
        tag: Bytes,
    ) -> Option<DialogId> {
        let did = DialogId {
            call_id: req.headers.call_id().unwrap_or_default(),
            local_tag: tag,
        };
        if self.calls.contains_key(&did) {
            return Some(did);
        }
        self.respond(
            now,
            id,
            req,
            481,
            "Call/Transaction Does Not Exist",
            &[],
            None,
        );
        None
    }
}
