//! Offer/answer (RFC 3264): answering a peer's offer, making our own, reading the
//! answer to ours.

use std::net::SocketAddr;

use bytes::Bytes;
use sdp_types::{Media, Session};

use super::codec::{self, Codec, DTMF_PT, Format};
use super::write::{self, OurFormat};
use super::{Answer, Direction, LocalMedia, Negotiated, SdpError};

/// Packetization times we accept from a peer; outside this we use ours.
const PTIME_MS: std::ops::RangeInclusive<u32> = 10..=60;

/// Answers an offer (INVITE or re-INVITE body). Picks the first of OUR preferred codecs that
/// the offer has (match static PTs 0/8 and rtpmap names case-insensitively at 8000 Hz), keeps
/// the offer's payload type numbers, includes telephone-event with the offer's PT when offered
/// and enabled, answers ptime (offer's ptime if we support 10–60, else ours), mirrors direction
/// (offer sendonly → answer recvonly, recvonly → sendonly, inactive → inactive), rejects other
/// m-lines (video etc.) with port 0 in the same order, uses port 0 for a disabled audio stream.
///
/// Only the first usable audio stream is taken; further audio streams are rejected too.
/// The telephone-event list answered is the offer's list cut down to the events we
/// handle (0–16).
pub fn answer(offer: &[u8], local: &LocalMedia) -> Result<Answer, SdpError> {
    let session = parse(offer)?;
    let mut taken: Option<(usize, Negotiated, Vec<OurFormat>)> = None;
    let mut offered = Vec::new();
    let mut bad_proto = None;
    for (i, m) in session.medias.iter().enumerate() {
        if !is_audio(m) || m.port == 0 {
            continue;
        }
        if !is_plain_rtp(&m.proto) {
            bad_proto.get_or_insert_with(|| m.proto.clone());
            continue;
        }
        let formats = codec::formats(m);
        let Some((codec, pt)) = pick(&formats, &local.codecs) else {
            if formats.is_empty() {
                offered.push(format!("no payload formats ({})", m.fmt.trim()));
            }
            offered.extend(formats.iter().map(Format::describe));
            continue;
        };
        let remote = Remote::read(&session, m)?;
        let dtmf = local
            .telephone_event
            .then(|| dtmf(m, &formats, codec, pt))
            .flatten();
        let ptime_ms = ptime(remote.ptime, remote.maxptime, local.ptime_ms);
        let local_direction = local.direction.answer_to(remote.direction);
        let mut ours = vec![OurFormat::Codec { pt, codec }];
        if let Some((pt, events)) = &dtmf {
            ours.push(OurFormat::Dtmf {
                pt: *pt,
                events: events.clone(),
            });
        }
        let negotiated = Negotiated {
            codec,
            pt,
            dtmf_pt: dtmf.map(|(pt, _)| pt),
            ptime_ms,
            remote_rtp: remote.rtp,
            local_direction,
            remote_direction: remote.direction,
            on_hold: !remote.direction.receives(),
        };
        taken = Some((i, negotiated, ours));
        break;
    }

    let Some((index, negotiated, ours)) = taken else {
        return Err(if !offered.is_empty() {
            SdpError::NoCommonCodec {
                offered: offered.join(", "),
            }
        } else if let Some(proto) = bad_proto {
            SdpError::UnsupportedTransport { proto }
        } else {
            SdpError::NoAudio
        });
    };

    let mut out = write::session(local);
    for (i, m) in session.medias.iter().enumerate() {
        out.add_media(if i == index {
            write::audio(
                local.port,
                m.proto.trim(),
                &ours,
                negotiated.ptime_ms,
                negotiated.local_direction,
            )
        } else {
            write::rejected(m)
        });
    }
    Ok(Answer {
        sdp: write::to_bytes(&out),
        negotiated,
    })
}

/// An offer of our own (late-offer INVITE without SDP: we offer in the 200, the ACK answers).
/// Codecs use their static payload types, telephone-event uses [`DTMF_PT`] with events 0–16.
pub fn offer(local: &LocalMedia) -> Bytes {
    let mut formats: Vec<OurFormat> = Vec::new();
    for codec in offered_codecs(local) {
        formats.push(OurFormat::Codec {
            pt: codec.static_pt(),
            codec,
        });
    }
    if local.telephone_event {
        formats.push(OurFormat::Dtmf {
            pt: DTMF_PT,
            events: "0-16".into(),
        });
    }
    let mut s = write::session(local);
    s.add_media(write::audio(
        local.port,
        "RTP/AVP",
        &formats,
        our_ptime(local.ptime_ms),
        local.direction,
    ));
    write::to_bytes(&s)
}

/// Reads the answer to our offer. We send with the first codec of the answer that we
/// offered, using the answer's payload type numbers.
pub fn read_answer(answer: &[u8], local: &LocalMedia) -> Result<Negotiated, SdpError> {
    let session = parse(answer)?;
    // Our offers carry one audio stream, so the answer's first audio m-line is it.
    let m = session
        .medias
        .iter()
        .find(|m| is_audio(m))
        .ok_or(SdpError::NoAudio)?;
    if m.port == 0 {
        return Err(SdpError::NoAudio);
    }
    if !is_plain_rtp(&m.proto) {
        return Err(SdpError::UnsupportedTransport {
            proto: m.proto.clone(),
        });
    }
    let formats = codec::formats(m);
    let ours = offered_codecs(local);
    let Some((codec, pt)) = formats
        .iter()
        .find_map(|f| f.codec().filter(|c| ours.contains(c)).map(|c| (c, f.pt)))
    else {
        return Err(SdpError::NoCommonCodec {
            offered: if formats.is_empty() {
                format!("no payload formats ({})", m.fmt.trim())
            } else {
                describe(&formats)
            },
        });
    };
    let remote = Remote::read(&session, m)?;
    let dtmf_pt = local
        .telephone_event
        .then(|| {
            formats
                .iter()
                .find(|f| f.pt != pt && f.is_telephone_event(codec.clock_rate()))
                .map(|f| f.pt)
        })
        .flatten();
    Ok(Negotiated {
        codec,
        pt,
        dtmf_pt,
        ptime_ms: ptime(remote.ptime, remote.maxptime, local.ptime_ms),
        remote_rtp: remote.rtp,
        local_direction: local.direction.answer_to(remote.direction),
        remote_direction: remote.direction,
        on_hold: !remote.direction.receives(),
    })
}

/// What the peer's SDP says about its side of an audio stream.
struct Remote {
    rtp: SocketAddr,
    /// Declared direction; an unspecified address (`c=IN IP4 0.0.0.0`, RFC 2543 hold)
    /// takes away "receives".
    direction: Direction,
    ptime: Option<u32>,
    maxptime: Option<u32>,
}

impl Remote {
    fn read(session: &Session, m: &Media) -> Result<Remote, SdpError> {
        // A media-level c= overrides the session-level one (RFC 8866 §5.7).
        let conn = m
            .connections
            .first()
            .or(session.connection.as_ref())
            .ok_or_else(|| SdpError::BadConnection("no c= line for the audio stream".into()))?;
        let ip = conn
            .try_address()
            .map_err(|e| SdpError::BadConnection(e.to_string()))?
            .ip;
        let declared = media_or_session(session, m, |name, _| Direction::from_attribute(name))
            .unwrap_or(Direction::SendRecv);
        let direction = if ip.is_unspecified() {
            Direction::from_flags(declared.sends(), false)
        } else {
            declared
        };
        Ok(Remote {
            rtp: SocketAddr::new(ip, m.port),
            direction,
            ptime: number_attribute(session, m, "ptime"),
            maxptime: number_attribute(session, m, "maxptime"),
        })
    }
}

/// Parses SDP; on failure retries once on a tidied copy (trailing blanks, runs of
/// spaces, stray CRs, blank lines), which some carrier gear sends.
fn parse(body: &[u8]) -> Result<Session, SdpError> {
    match Session::parse(body) {
        Ok(s) => Ok(s),
        Err(first) => Session::parse(&tidy(body)).map_err(|_| SdpError::Parse(first.to_string())),
    }
}

fn tidy(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    for line in body.split(|b| *b == b'\n') {
        let mut blank = false;
        let start = out.len();
        for &b in line {
            if matches!(b, b' ' | b'\t' | b'\r') {
                blank = true;
                continue;
            }
            if blank && out.len() > start {
                out.push(b' ');
            }
            blank = false;
            out.push(b);
        }
        if out.len() > start {
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}

fn is_audio(m: &Media) -> bool {
    m.media.trim().eq_ignore_ascii_case("audio")
}

/// Plain RTP profiles (AVPF is AVP plus feedback we may ignore); SRTP and the WebRTC
/// DTLS profiles are not for SIP legs.
fn is_plain_rtp(proto: &str) -> bool {
    let p = proto.trim();
    p.eq_ignore_ascii_case("RTP/AVP") || p.eq_ignore_ascii_case("RTP/AVPF")
}

/// The first of `prefs` that `formats` has, with the peer's payload type.
fn pick(formats: &[Format], prefs: &[Codec]) -> Option<(Codec, u8)> {
    prefs.iter().find_map(|c| {
        formats
            .iter()
            .find(|f| f.codec() == Some(*c))
            .map(|f| (*c, f.pt))
    })
}

/// The offer's telephone-event at the codec's rate, with the events both sides handle.
fn dtmf(m: &Media, formats: &[Format], codec: Codec, codec_pt: u8) -> Option<(u8, String)> {
    let f = formats
        .iter()
        .find(|f| f.pt != codec_pt && f.is_telephone_event(codec.clock_rate()))?;
    let events = codec::common_events(codec::fmtp(m, f.pt))?;
    Some((f.pt, events))
}

/// The peer's ptime when we support it, else ours, kept within the peer's maxptime.
fn ptime(theirs: Option<u32>, maxptime: Option<u32>, ours: u32) -> u32 {
    if let Some(p) = theirs.filter(|p| PTIME_MS.contains(p)) {
        return p;
    }
    let ours = our_ptime(ours);
    match maxptime.filter(|m| PTIME_MS.contains(m)) {
        Some(max) if ours > max => max,
        _ => ours,
    }
}

/// Our configured ptime, kept in the range every G.711 peer takes.
fn our_ptime(ms: u32) -> u32 {
    ms.clamp(*PTIME_MS.start(), *PTIME_MS.end())
}

fn offered_codecs(local: &LocalMedia) -> Vec<Codec> {
    let mut codecs: Vec<Codec> = Vec::new();
    for c in &local.codecs {
        if !codecs.contains(c) {
            codecs.push(*c);
        }
    }
    if codecs.is_empty() {
        codecs = vec![Codec::Pcma, Codec::Pcmu];
    }
    codecs
}

fn describe(formats: &[Format]) -> String {
    formats
        .iter()
        .map(Format::describe)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The first attribute `f` recognises, media level before session level.
fn media_or_session<T>(
    session: &Session,
    m: &Media,
    f: impl Fn(&str, Option<&str>) -> Option<T>,
) -> Option<T> {
    m.attributes
        .iter()
        .chain(session.attributes.iter())
        .find_map(|a| f(&a.attribute, a.value.as_deref()))
}

/// `a=<name>:<number>` (media level first); `20.0` is read as 20.
fn number_attribute(session: &Session, m: &Media, name: &str) -> Option<u32> {
    media_or_session(session, m, |attr, value| {
        if !attr.trim().eq_ignore_ascii_case(name) {
            return None;
        }
        let v = value?.trim();
        v.parse::<u32>().ok().or_else(|| {
            let f = v.parse::<f64>().ok()?;
            (f.is_finite() && f >= 0.0 && f <= f64::from(u32::MAX)).then(|| f.round() as u32)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tidy_fixes_blank_noise() {
        let got = tidy(b"\r\nv=0 \r\r\nm=audio  4000\tRTP/AVP 0\n\n a=sendonly\n");
        assert_eq!(
            got,
            b"v=0\r\nm=audio 4000 RTP/AVP 0\r\na=sendonly\r\n".to_vec()
        );
    }

    #[test]
    fn ptime_choice() {
        assert_eq!(ptime(Some(30), None, 20), 30);
        assert_eq!(ptime(Some(5), None, 20), 20);
        assert_eq!(ptime(Some(100), None, 20), 20);
        assert_eq!(ptime(None, Some(10), 20), 10);
        assert_eq!(ptime(None, Some(40), 20), 20);
        assert_eq!(ptime(None, None, 0), 10);
    }

    #[test]
    fn directions_answer() {
        use Direction::*;
        assert_eq!(SendRecv.answer_to(SendOnly), RecvOnly);
        assert_eq!(SendRecv.answer_to(RecvOnly), SendOnly);
        assert_eq!(SendRecv.answer_to(Inactive), Inactive);
        assert_eq!(SendRecv.answer_to(SendRecv), SendRecv);
        assert_eq!(SendOnly.answer_to(SendRecv), SendOnly);
        assert_eq!(SendOnly.answer_to(SendOnly), Inactive);
        assert_eq!(Inactive.answer_to(SendRecv), Inactive);
    }
}
