//! Matching keys: which transaction a message belongs to (RFC 3261 §17.1.3, §17.2.3) and
//! how an ACK for a 2xx finds its accepted INVITE (§13.2.2.4, RFC 6026).

use crate::sip::message::{Method, ParseError, Request, Response, Via};
use bytes::{BufMut, Bytes, BytesMut};

/// The key of a server transaction.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) enum ServerKey {
    /// §17.2.3 with the `z9hG4bK` cookie: branch, sent-by, method (ACK counted as INVITE).
    /// The Call-ID is added on purpose: retransmissions, ACKs and CANCELs always repeat it,
    /// and it keeps a broken sender that reuses a branch across calls (seen in the wild and
    /// in RFC 4475's own messages) from having a new call taken for a retransmission.
    Branch {
        branch: Bytes,
        host: Bytes,
        port: Option<u16>,
        method: Method,
        call_id: Bytes,
    },
    /// RFC 2543 fallback. The To tag is not in the key: a request matches on its own To tag,
    /// an ACK on the To tag of the response it acknowledges (see `ServerTx::matches`).
    Legacy {
        ruri: Bytes,
        from_tag: Option<Bytes>,
        call_id: Bytes,
        cseq: u32,
        via: Bytes,
        method: Method,
    },
}

impl ServerKey {
    pub(super) fn is_legacy(&self) -> bool {
        matches!(self, ServerKey::Legacy { .. })
    }
}

/// The transaction method used in keys: an ACK belongs to its INVITE.
fn key_method(method: &Method) -> Method {
    match method {
        Method::Ack => Method::Invite,
        m => m.clone(),
    }
}

/// The server key `req` would have if it were a request of `method` (pass
/// `Method::Invite` to find the INVITE a CANCEL or ACK refers to).
pub(super) fn server_key(req: &Request, method: &Method) -> Result<ServerKey, ParseError> {
    let via = req.headers.top_via()?;
    let method = key_method(method);
    if via.is_rfc3261_branch()
        && let Some(branch) = via.branch()
    {
        return Ok(ServerKey::Branch {
            branch: branch.clone(),
            host: lower(&via.host),
            port: via.port,
            method,
            call_id: req.headers.call_id()?,
        });
    }
    Ok(ServerKey::Legacy {
        ruri: trim(&req.uri),
        from_tag: req.headers.from_addr()?.tag().cloned(),
        call_id: req.headers.call_id()?,
        cseq: req.headers.cseq()?.seq,
        via: canonical_via(&via),
        method,
    })
}

/// Finds the INVITE an ACK for a 2xx acknowledges: the 2xx ACK carries a new branch, so it
/// is matched on the dialog (Call-ID, From tag, To tag of the 2xx) and the CSeq number.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct AckKey {
    call_id: Bytes,
    from_tag: Option<Bytes>,
    to_tag: Option<Bytes>,
    cseq: u32,
}

/// The dialog identifiers of an INVITE, kept so its 2xx can be turned into an [`AckKey`].
#[derive(Clone, Debug)]
pub(super) struct InviteIds {
    call_id: Bytes,
    from_tag: Option<Bytes>,
    cseq: u32,
}

impl InviteIds {
    pub(super) fn of(req: &Request) -> Result<InviteIds, ParseError> {
        Ok(InviteIds {
            call_id: req.headers.call_id()?,
            from_tag: req.headers.from_addr()?.tag().cloned(),
            cseq: req.headers.cseq()?.seq,
        })
    }

    /// The key the ACK for this 2xx will carry.
    pub(super) fn ack_key(&self, ok: &Response) -> AckKey {
        AckKey {
            call_id: self.call_id.clone(),
            from_tag: self.from_tag.clone(),
            to_tag: to_tag_of_response(ok),
            cseq: self.cseq,
        }
    }
}

pub(super) fn ack_key_of_request(ack: &Request) -> Result<AckKey, ParseError> {
    Ok(AckKey {
        call_id: ack.headers.call_id()?,
        from_tag: ack.headers.from_addr()?.tag().cloned(),
        to_tag: ack.headers.to_addr()?.tag().cloned(),
        cseq: ack.headers.cseq()?.seq,
    })
}

pub(super) fn to_tag_of_request(req: &Request) -> Option<Bytes> {
    req.headers.to_addr().ok().and_then(|a| a.tag().cloned())
}

pub(super) fn to_tag_of_response(resp: &Response) -> Option<Bytes> {
    resp.headers.to_addr().ok().and_then(|a| a.tag().cloned())
}

/// The key of a client transaction (§17.1.3): the branch of the top Via and the CSeq
/// method (a CANCEL shares its INVITE's branch).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct ClientKey {
    branch: Bytes,
    method: Method,
}

/// The key of a request we send; an error when its top Via is missing or has no branch
/// (then no response can be matched to it, and the transaction can only time out).
pub(super) fn client_key_of_request(req: &Request) -> Result<ClientKey, ParseError> {
    let via = req.headers.top_via()?;
    let branch = via.branch().cloned().ok_or(ParseError::Header {
        name: "Via".into(),
        reason: "the top Via has no branch parameter; add ;branch=z9hG4bK<unique>".into(),
    })?;
    Ok(ClientKey {
        branch,
        method: req.method.clone(),
    })
}

pub(super) fn client_key_of_response(resp: &Response) -> Result<ClientKey, ParseError> {
    let via = resp.headers.top_via()?;
    let branch = via.branch().cloned().ok_or(ParseError::Header {
        name: "Via".into(),
        reason: "the top Via has no branch parameter".into(),
    })?;
    Ok(ClientKey {
        branch,
        method: resp.headers.cseq()?.method,
    })
}

fn lower(b: &Bytes) -> Bytes {
    if b.iter().any(u8::is_ascii_uppercase) {
        Bytes::from(b.to_ascii_lowercase())
    } else {
        b.clone()
    }
}

fn trim(b: &Bytes) -> Bytes {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    b.slice(start..end.max(start))
}

/// The top Via written in one canonical form, so that the RFC 2543 comparison ignores
/// case in the parts where case does not matter (transport, host, parameter names).
fn canonical_via(via: &Via) -> Bytes {
    let mut out = BytesMut::with_capacity(64);
    out.put_slice(&via.transport.to_ascii_uppercase());
    out.put_u8(b' ');
    out.put_slice(&via.host.to_ascii_lowercase());
    if let Some(port) = via.port {
        out.put_slice(format!(":{port}").as_bytes());
    }
    for p in &via.params {
        out.put_u8(b';');
        out.put_slice(&p.name.to_ascii_lowercase());
        if let Some(v) = &p.value {
            out.put_u8(b'=');
            out.put_slice(v);
        }
    }
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trim_strips_surrounding_whitespace_only() {
        assert_eq!(
            trim(&Bytes::from_static(b"  sip:a@b ")),
            Bytes::from_static(b"sip:a@b")
        );
        assert_eq!(trim(&Bytes::from_static(b"   ")), Bytes::new());
        assert_eq!(trim(&Bytes::new()), Bytes::new());
    }

    #[test]
    fn lower_only_copies_when_needed() {
        assert_eq!(
            lower(&Bytes::from_static(b"Host.EXAMPLE")),
            Bytes::from_static(b"host.example")
        );
        assert_eq!(
            lower(&Bytes::from_static(b"10.0.0.1")),
            Bytes::from_static(b"10.0.0.1")
        );
    }

    #[test]
    fn ack_counts_as_invite_in_keys() {
        assert_eq!(key_method(&Method::Ack), Method::Invite);
        assert_eq!(key_method(&Method::Cancel), Method::Cancel);
    }
}
