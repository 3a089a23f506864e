//! A dialog (RFC 3261 §12.1): what is needed to recognise in-dialog requests and to send
//! our own (BYE, re-INVITE) to the other side. Built as UAS from an INVITE we answered
//! (§12.1.1) or as UAC from the 2xx to an INVITE we sent (§12.1.2).

use crate::sip::message::{HeaderName, Method, Request, Response};
use crate::sip::transaction::{Peer, Transport};
use bytes::Bytes;
use std::net::{IpAddr, SocketAddr};

/// Key of a dialog at our side: Call-ID and our (To) tag.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DialogId {
    pub call_id: Bytes,
    pub local_tag: Bytes,
}

#[derive(Clone, Debug)]
pub struct Dialog {
    pub id: DialogId,
    pub remote_tag: Bytes,
    /// Our side's address header value with our tag, used as From in our requests.
    pub local_header: Bytes,
    /// The caller's From value (with its tag), used as To in our requests.
    pub remote_header: Bytes,
    /// The caller's Contact URI.
    pub remote_target: Bytes,
    /// Record-Route values in order (§12.1.1: a UAS keeps them as received).
    pub route_set: Vec<Bytes>,
    pub remote_cseq: u32,
    pub local_cseq: u32,
    /// Where the INVITE came from (after §18.2.2 rules): the fallback next hop.
    pub peer: Peer,
}

impl Dialog {
    /// Builds the dialog state from a dialog-creating INVITE and our tag.
    pub fn from_invite(req: &Request, local_tag: Bytes, peer: Peer) -> Option<Dialog> {
        let h = &req.headers;
        let from = h.from_addr().ok()?;
        // RFC 2543 callers send no From tag (RFC 4475 `inv2543`); the dialog then has an
        // empty remote tag, as §12.1.1 allows.
        let remote_tag = from.tag().cloned().unwrap_or_default();
        let to_value = h.get(&HeaderName::To)?;
        let mut local_header = Vec::with_capacity(to_value.len() + 8 + local_tag.len());
        local_header.extend_from_slice(to_value);
        local_header.extend_from_slice(b";tag=");
        local_header.extend_from_slice(&local_tag);
        let remote_target = match h.contacts().ok()?.into_iter().next() {
            Some(crate::sip::message::Contact::Addr(a)) => a.uri,
            _ => req.uri.clone(),
        };
        let route_set = h
            .name_addrs(&HeaderName::RecordRoute)
            .ok()?
            .into_iter()
            .map(|a| angle(&a.uri, &a.params))
            .collect();
        Some(Dialog {
            id: DialogId {
                call_id: h.call_id().ok()?,
                local_tag,
            },
            remote_tag,
            local_header: Bytes::from(local_header),
            remote_header: h.get(&HeaderName::From)?.clone(),
            remote_target,
            route_set,
            remote_cseq: h.cseq().ok()?.seq,
            local_cseq: 0,
            peer,
        })
    }

    /// The dialog an INVITE we sent creates with its 2xx (§12.1.2): the route set is the
    /// 2xx's Record-Route in reverse, the remote target its Contact, and our tag the From
    /// tag of the INVITE.
    pub fn from_2xx(invite: &Request, resp: &Response, peer: Peer) -> Option<Dialog> {
        let ih = &invite.headers;
        let rh = &resp.headers;
        let local_tag = ih.from_addr().ok()?.tag()?.clone();
        let remote_tag = rh.to_addr().ok()?.tag().cloned().unwrap_or_default();
        let remote_target = match rh.contacts().ok()?.into_iter().next() {
            Some(crate::sip::message::Contact::Addr(a)) => a.uri,
            _ => invite.uri.clone(),
        };
        let mut route_set: Vec<Bytes> = rh
            .name_addrs(&HeaderName::RecordRoute)
            .ok()?
            .into_iter()
            .map(|a| angle(&a.uri, &a.params))
            .collect();
        route_set.reverse();
        Some(Dialog {
            id: DialogId {
                call_id: ih.call_id().ok()?,
                local_tag,
            },
            remote_tag,
            local_header: ih.get(&HeaderName::From)?.clone(),
            remote_header: rh.get(&HeaderName::To)?.clone(),
            remote_target,
            route_set,
            remote_cseq: 0,
            local_cseq: ih.cseq().ok()?.seq,
            peer,
        })
    }

    /// The ACK for a 2xx to our INVITE (§13.2.2.4): an in-dialog request with the
    /// INVITE's CSeq number and a branch of its own.
    pub fn ack(&mut self, via: &str, transport: Transport, branch: &str) -> Request {
        // `request` numbers a new request; the ACK reuses the INVITE's number.
        self.local_cseq = self.local_cseq.saturating_sub(1);
        self.request(Method::Ack, via, transport, branch)
    }

    /// Accepts an in-dialog request's CSeq (§12.2.2): lower than the last one is out of
    /// order (500); ACK and CANCEL reuse the INVITE's number.
    pub fn accept_cseq(&mut self, method: &Method, seq: u32) -> bool {
        if matches!(method, Method::Ack | Method::Cancel) {
            return true;
        }
        if seq < self.remote_cseq {
            return false;
        }
        self.remote_cseq = seq;
        true
    }

    /// A new in-dialog request from us (§12.2.1.1). `via` is our sent-by, `branch` fresh.
    pub fn request(
        &mut self,
        method: Method,
        via: &str,
        transport: Transport,
        branch: &str,
    ) -> Request {
        self.local_cseq += 1;
        let mut r = Request::new(method.clone(), self.remote_target.clone());
        let proto = match transport {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
        };
        r.headers.push(
            HeaderName::Via,
            format!("SIP/2.0/{proto} {via};branch={branch};rport"),
        );
        r.headers.push(HeaderName::MaxForwards, "70");
        for route in &self.route_set {
            r.headers.push(HeaderName::Route, route.clone());
        }
        r.headers.push(HeaderName::From, self.local_header.clone());
        r.headers.push(HeaderName::To, self.remote_header.clone());
        r.headers.push(HeaderName::CallId, self.id.call_id.clone());
        r.headers
            .push(HeaderName::CSeq, format!("{} {}", self.local_cseq, method));
        r
    }

    /// Next hop for our requests: the first route (loose routing) or the remote target,
    /// when it names an IP address; otherwise where the INVITE came from. We do not resolve
    /// DNS names here — trunk peers are addressed by IP.
    pub fn next_hop(&self) -> Peer {
        let uri = self
            .route_set
            .first()
            .map(strip_angle)
            .unwrap_or(&self.remote_target);
        match crate::sip::message::Uri::parse(&Bytes::copy_from_slice(uri)) {
            Ok(u) => match std::str::from_utf8(&u.host).ok().and_then(parse_ip) {
                Some(ip) if self.peer.transport == Transport::Udp => Peer {
                    addr: SocketAddr::new(ip, u.port.unwrap_or(5060)),
                    ..self.peer
                },
                // Over TCP we reuse the connection the caller opened (§18.2.2 spirit; RFC 5626).
                _ => self.peer,
            },
            Err(_) => self.peer,
        }
    }
}

fn parse_ip(host: &str) -> Option<IpAddr> {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

fn strip_angle(v: &Bytes) -> &[u8] {
    let s = v.trim_ascii();
    match (
        s.iter().position(|&b| b == b'<'),
        s.iter().position(|&b| b == b'>'),
    ) {
        (Some(a), Some(b)) if a < b => &s[a + 1..b],
        _ => s,
    }
}

fn angle(uri: &Bytes, params: &[crate::sip::message::Param]) -> Bytes {
    let mut v = Vec::with_capacity(uri.len() + 2);
    v.push(b'<');
    v.extend_from_slice(uri);
    v.push(b'>');
    for p in params {
        v.push(b';');
        v.extend_from_slice(&p.name);
        if let Some(val) = &p.value {
            v.push(b'=');
            v.extend_from_slice(val);
        }
    }
    Bytes::from(v)
}
