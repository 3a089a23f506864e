//! Where responses go: RFC 3261 §18.2.1 Via stamping and §18.2.2 response routing.

use crate::sip::message::{HeaderName, Request};
use crate::sip::transaction::{Peer, Transport};
use bytes::Bytes;
use std::net::{IpAddr, SocketAddr};

/// RFC 3261 §18.2.1: stamp `received` (and `rport`, RFC 3581) on the top Via, and return
/// where responses go (§18.2.2): the received address and rport (or sent-by port) for UDP,
/// the same connection for TCP.
pub(super) fn stamp_via(req: &mut Request, from: Peer) -> Peer {
    let Ok(via) = req.headers.top_via() else {
        return from;
    };
    let host = String::from_utf8_lossy(&via.host);
    let sent_by_ip: Option<IpAddr> = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok();
    let mut add = String::new();
    if sent_by_ip != Some(from.addr.ip()) && via.received().is_none() {
        add.push_str(&format!(";received={}", from.addr.ip()));
    }
    let wants_rport = via.rport() == Some(None);
    if wants_rport {
        add.push_str(&format!(";rport={}", from.addr.port()));
    }
    if !add.is_empty()
        && let Some(first) = req.headers.get_mut(&HeaderName::Via)
    {
        *first = with_params(first, &add, wants_rport);
    }
    if from.transport != Transport::Udp {
        return from;
    }
    let port = if wants_rport {
        from.addr.port()
    } else {
        via.port.unwrap_or(5060)
    };
    // Without rport the answer goes to the sent-by port, at the source IP when sent-by
    // names a host or another address (we never aim a response at a Via we did not see
    // the packet come from).
    Peer {
        addr: SocketAddr::new(from.addr.ip(), port),
        ..from
    }
}

/// Appends `add` to the first via-parm of a (possibly comma-separated) Via value,
/// dropping a bare `;rport` flag that `add` now carries with a value.
fn with_params(value: &Bytes, add: &str, drop_rport_flag: bool) -> Bytes {
    let v = &value[..];
    let mut in_quotes = false;
    let mut end = v.len();
    for (i, &b) in v.iter().enumerate() {
        match b {
            b'"' => in_quotes = !in_quotes,
            b',' if !in_quotes => {
                end = i;
                break;
            }
            _ => {}
        }
    }
    let mut first = v[..end].trim_ascii_end().to_vec();
    if drop_rport_flag {
        first = remove_flag(&first, b"rport");
    }
    let mut out = first;
    out.extend_from_slice(add.as_bytes());
    out.extend_from_slice(&v[end..]);
    Bytes::from(out)
}

/// Removes `;name` (no value) from a parameter list, tolerating whitespace.
fn remove_flag(v: &[u8], name: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len());
    let mut parts = v.split(|&b| b == b';');
    if let Some(head) = parts.next() {
        out.extend_from_slice(head);
    }
    for p in parts {
        if p.trim_ascii().eq_ignore_ascii_case(name) {
            continue;
        }
        out.push(b';');
        out.extend_from_slice(p);
    }
    out
}
