//! Our own SDP text: the session lines and the audio m-line of an offer or answer, and
//! the port-0 copies that reject streams we do not take.

use bytes::Bytes;
use sdp_types::{Attribute, Connection, Media, Origin, Session};

use super::codec::Codec;
use super::{Direction, LocalMedia};

/// One payload format we put on our m-line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum OurFormat {
    Codec {
        pt: u8,
        codec: Codec,
    },
    /// telephone-event with its event list (`0-16`).
    Dtmf {
        pt: u8,
        events: String,
    },
}

/// `v=`, `o=`, `s=`, `c=`, `t=` for our side.
pub(crate) fn session(local: &LocalMedia) -> Session {
    let mut origin = Origin::with_ip_addr(local.session_id, local.session_version, local.addr);
    origin.set_username("hotline");
    let mut s = Session::new(origin, "-");
    s.set_connection(Connection::from_ip_addr(local.addr));
    s.add_time(sdp_types::Time::new(0, 0));
    s
}

/// Our audio m-line: a rtpmap for every payload type, the telephone-event fmtp, ptime
/// and direction.
pub(crate) fn audio(
    port: u16,
    proto: &str,
    formats: &[OurFormat],
    ptime_ms: u32,
    direction: Direction,
) -> Media {
    let pts: Vec<String> = formats
        .iter()
        .map(|f| match f {
            OurFormat::Codec { pt, .. } | OurFormat::Dtmf { pt, .. } => pt.to_string(),
        })
        .collect();
    let mut m = Media {
        media: "audio".into(),
        port,
        num_ports: None,
        proto: proto.into(),
        fmt: pts.join(" "),
        media_title: None,
        connections: Vec::new(),
        bandwidths: Vec::new(),
        key: None,
        attributes: Vec::new(),
    };
    for f in formats {
        let map = match f {
            OurFormat::Codec { pt, codec } => {
                format!("{pt} {}/{}", codec.name(), codec.clock_rate())
            }
            OurFormat::Dtmf { pt, .. } => format!("{pt} telephone-event/8000"),
        };
        m.attributes.push(Attribute::with_value("rtpmap", map));
    }
    for f in formats {
        if let OurFormat::Dtmf { pt, events } = f {
            m.attributes
                .push(Attribute::with_value("fmtp", format!("{pt} {events}")));
        }
    }
    m.attributes
        .push(Attribute::with_value("ptime", ptime_ms.to_string()));
    m.attributes.push(Attribute::new(direction.as_str()));
    m
}

/// A rejected stream in an answer (RFC 3264 §6): the offer's media, proto and formats
/// with port 0, nothing else.
pub(crate) fn rejected(offered: &Media) -> Media {
    let fmt = if offered.fmt.trim().is_empty() {
        // A format list is required even when rejecting; `0` keeps the line valid.
        "0".to_string()
    } else {
        offered.fmt.trim().to_string()
    };
    Media {
        media: offered.media.clone(),
        port: 0,
        num_ports: None,
        proto: offered.proto.clone(),
        fmt,
        media_title: None,
        connections: Vec::new(),
        bandwidths: Vec::new(),
        key: None,
        attributes: Vec::new(),
    }
}

pub(crate) fn to_bytes(s: &Session) -> Bytes {
    let mut out = Vec::with_capacity(320);
    // Writing into a Vec cannot fail.
    let _ = s.write(&mut out);
    Bytes::from(out)
}
