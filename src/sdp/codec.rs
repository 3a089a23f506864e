//! Codecs we negotiate, and the payload formats an m-line lists (RFC 3551 static
//! payload types plus `a=rtpmap`), including RFC 4733 telephone-event.

use sdp_types::Media;

/// An audio codec we can send and receive. More (G.722, Opus) come with the media core.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Codec {
    Pcmu,
    Pcma,
}

/// The telephone-event payload type we use in our own offers (the common choice).
pub const DTMF_PT: u8 = 101;

impl Codec {
    /// Every codec, for lookups by name.
    pub const ALL: [Codec; 2] = [Codec::Pcmu, Codec::Pcma];

    /// RFC 3551 static payload type.
    pub fn static_pt(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
        }
    }

    /// Encoding name as written in `a=rtpmap`.
    pub fn name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        }
    }

    /// RTP clock rate as written in `a=rtpmap`.
    pub fn clock_rate(self) -> u32 {
        8000
    }

    /// Case-insensitive encoding name (`pcma`, `PCMU`) to codec.
    pub fn from_name(name: &str) -> Option<Codec> {
        let name = name.trim();
        Codec::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(name))
    }
}

/// One payload format of an m-line: its number and, when known, its encoding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Format {
    pub pt: u8,
    /// Encoding name as the peer wrote it (or the RFC 3551 name of a static type).
    pub name: Option<String>,
    pub clock_rate: u32,
    /// Channel count for audio; `None` means one.
    pub channels: Option<String>,
}

impl Format {
    /// The codec this format is, if it is one of ours: name matched case-insensitively,
    /// at the codec's clock rate, mono.
    pub fn codec(&self) -> Option<Codec> {
        let codec = Codec::from_name(self.name.as_deref()?)?;
        let mono = self.channels.as_deref().is_none_or(|c| c.trim() == "1");
        (self.clock_rate == codec.clock_rate() && mono).then_some(codec)
    }

    pub fn is_telephone_event(&self, clock_rate: u32) -> bool {
        self.name
            .as_deref()
            .is_some_and(|n| n.eq_ignore_ascii_case("telephone-event"))
            && self.clock_rate == clock_rate
    }

    /// `G729/8000 (pt 18)`, for error messages.
    pub fn describe(&self) -> String {
        match &self.name {
            Some(name) => format!("{name}/{} (pt {})", self.clock_rate, self.pt),
            None => format!("unknown (pt {})", self.pt),
        }
    }
}

/// RFC 3551 §6 static payload types (audio and the common video ones), for formats
/// listed without `a=rtpmap`.
fn static_format(pt: u8) -> Option<(&'static str, u32)> {
    Some(match pt {
        0 => ("PCMU", 8000),
        3 => ("GSM", 8000),
        4 => ("G723", 8000),
        5 => ("DVI4", 8000),
        6 => ("DVI4", 16000),
        7 => ("LPC", 8000),
        8 => ("PCMA", 8000),
        9 => ("G722", 8000),
        10 | 11 => ("L16", 44100),
        12 => ("QCELP", 8000),
        13 => ("CN", 8000),
        14 => ("MPA", 90000),
        15 => ("G728", 8000),
        16 => ("DVI4", 11025),
        17 => ("DVI4", 22050),
        18 => ("G729", 8000),
        25 => ("CelB", 90000),
        26 => ("JPEG", 90000),
        28 => ("nv", 90000),
        31 => ("H261", 90000),
        32 => ("MPV", 90000),
        33 => ("MP2T", 90000),
        34 => ("H263", 90000),
        _ => return None,
    })
}

/// The formats of an m-line in the order listed. An `a=rtpmap` overrides the static
/// table; a malformed one is ignored (the static meaning, if any, stands). Non-numeric
/// format tokens are skipped.
pub(crate) fn formats(media: &Media) -> Vec<Format> {
    media
        .fmt
        .split_ascii_whitespace()
        .filter_map(|tok| tok.parse::<u8>().ok())
        .filter(|pt| *pt <= 127)
        .map(|pt| {
            rtpmap(media, pt).unwrap_or_else(|| match static_format(pt) {
                Some((name, clock_rate)) => Format {
                    pt,
                    name: Some(name.to_string()),
                    clock_rate,
                    channels: None,
                },
                None => Format {
                    pt,
                    name: None,
                    clock_rate: 0,
                    channels: None,
                },
            })
        })
        .collect()
}

/// `a=rtpmap:<pt> <name>/<rate>[/<channels>]` for `pt`, read leniently (extra spaces,
/// any case).
fn rtpmap(media: &Media, pt: u8) -> Option<Format> {
    media.get_attribute_values("rtpmap").find_map(|value| {
        let (num, rest) = value?
            .trim()
            .split_once(|c: char| c.is_ascii_whitespace())?;
        if num.parse::<u8>().ok()? != pt {
            return None;
        }
        let mut parts = rest.trim().splitn(3, '/');
        let name = parts.next()?.trim();
        let clock_rate = parts.next()?.trim().parse::<u32>().ok()?;
        let channels = parts.next().map(|c| c.trim().to_string());
        (!name.is_empty()).then(|| Format {
            pt,
            name: Some(name.to_string()),
            clock_rate,
            channels,
        })
    })
}

/// The `a=fmtp:<pt> …` parameters for `pt`, if any.
pub(crate) fn fmtp(media: &Media, pt: u8) -> Option<&str> {
    media.get_attribute_values("fmtp").find_map(|value| {
        let (num, rest) = value?
            .trim()
            .split_once(|c: char| c.is_ascii_whitespace())?;
        (num.parse::<u8>().ok()? == pt).then_some(rest.trim())
    })
}

/// The events we handle: DTMF 0–15 and flash (16).
const OUR_EVENTS: u32 = (1 << 17) - 1;

/// Telephone-events both sides handle, from the peer's fmtp (`0-15,66`): RFC 4733 §2.4.1
/// says a missing list means 0–15. Returns the list to answer with (`0-15`), or `None`
/// when nothing in common.
pub(crate) fn common_events(fmtp: Option<&str>) -> Option<String> {
    let theirs = match fmtp {
        None => 0xFFFF,
        Some(list) => parse_events(list),
    };
    format_events(theirs & OUR_EVENTS)
}

/// The events of `0-15,66,70` as a bitmap of events 0–31 (higher ones are not ours).
fn parse_events(list: &str) -> u32 {
    // Some peers write `events=0-15` (the old RFC 2833 parameter style).
    let list = list.trim();
    let list = list
        .strip_prefix("events=")
        .or_else(|| list.strip_prefix("EVENTS="))
        .unwrap_or(list);
    let mut bits = 0u32;
    for item in list.split(',') {
        let (lo, hi) = match item.split_once('-') {
            Some((lo, hi)) => (lo, hi),
            None => (item, item),
        };
        let (Ok(lo), Ok(hi)) = (lo.trim().parse::<u32>(), hi.trim().parse::<u32>()) else {
            continue;
        };
        for e in lo..=hi.min(31) {
            bits |= 1 << e;
        }
    }
    bits
}

fn format_events(bits: u32) -> Option<String> {
    let mut out = Vec::new();
    let mut e = 0;
    while e < 32 {
        if bits & (1 << e) == 0 {
            e += 1;
            continue;
        }
        let start = e;
        while e + 1 < 32 && bits & (1 << (e + 1)) != 0 {
            e += 1;
        }
        out.push(if start == e {
            start.to_string()
        } else {
            format!("{start}-{e}")
        });
        e += 1;
    }
    (!out.is_empty()).then(|| out.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn media(lines: &str) -> Media {
        let text = format!("v=0\r\n{lines}");
        let mut s = sdp_types::Session::parse(text.as_bytes()).unwrap();
        s.medias.remove(0)
    }

    #[test]
    fn codec_names_and_static_types() {
        assert_eq!(Codec::from_name("pcma"), Some(Codec::Pcma));
        assert_eq!(Codec::from_name("PCMU"), Some(Codec::Pcmu));
        assert_eq!(Codec::from_name("G729"), None);
        assert_eq!(Codec::Pcmu.static_pt(), 0);
        assert_eq!(Codec::Pcma.static_pt(), 8);
        assert_eq!(Codec::Pcma.name(), "PCMA");
    }

    #[test]
    fn formats_from_static_table_and_rtpmap() {
        let m = media(
            "m=audio 4000 RTP/AVP 18 8 0 96 97 101 x\r\n\
             a=rtpmap:96 pcma/8000\r\n\
             a=rtpmap:97 PCMU/16000\r\n\
             a=rtpmap:101  telephone-event/8000 \r\n\
             a=rtpmap:0 PCMU\r\n",
        );
        let f = formats(&m);
        let pts: Vec<u8> = f.iter().map(|f| f.pt).collect();
        assert_eq!(pts, vec![18, 8, 0, 96, 97, 101]);
        assert_eq!(f[0].codec(), None);
        assert_eq!(f[0].describe(), "G729/8000 (pt 18)");
        assert_eq!(f[1].codec(), Some(Codec::Pcma));
        // A malformed rtpmap (no rate) leaves the static meaning.
        assert_eq!(f[2].codec(), Some(Codec::Pcmu));
        assert_eq!(f[3].codec(), Some(Codec::Pcma));
        // Wrong clock rate: not ours.
        assert_eq!(f[4].codec(), None);
        assert!(f[5].is_telephone_event(8000));
        assert!(!f[5].is_telephone_event(48000));
    }

    #[test]
    fn stereo_is_not_g711() {
        let m = media("m=audio 4000 RTP/AVP 96\r\na=rtpmap:96 PCMA/8000/2\r\n");
        assert_eq!(formats(&m)[0].codec(), None);
        let m = media("m=audio 4000 RTP/AVP 96\r\na=rtpmap:96 PCMA/8000/1\r\n");
        assert_eq!(formats(&m)[0].codec(), Some(Codec::Pcma));
    }

    #[test]
    fn fmtp_lookup() {
        let m = media("m=audio 4000 RTP/AVP 8 101\r\na=fmtp:18 annexb=no\r\na=fmtp:101 0-15\r\n");
        assert_eq!(fmtp(&m, 101), Some("0-15"));
        assert_eq!(fmtp(&m, 8), None);
    }

    #[test]
    fn telephone_event_lists() {
        assert_eq!(common_events(None).as_deref(), Some("0-15"));
        assert_eq!(common_events(Some("0-16")).as_deref(), Some("0-16"));
        assert_eq!(common_events(Some("0-15,66,70")).as_deref(), Some("0-15"));
        assert_eq!(common_events(Some("0-255")).as_deref(), Some("0-16"));
        assert_eq!(common_events(Some("0-11, 16")).as_deref(), Some("0-11,16"));
        assert_eq!(common_events(Some("events=0-15")).as_deref(), Some("0-15"));
        assert_eq!(common_events(Some("66")), None);
        assert_eq!(common_events(Some("garbage")), None);
        assert_eq!(common_events(Some("9-3")), None);
    }
}
