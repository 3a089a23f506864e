//! DTMF: RFC 4733 telephone events (receive and send) and in-band tone detection.
//!
//! Chinese 400 trunks mostly send PCMA with RFC 4733 events, so [`DtmfReceiver`] is the
//! main path; [`InbandDetector`] covers peers that only send the tones in the audio.
//! All of it is pure: the media worker feeds packets or frames and RTP timestamps in.

mod inband;
mod rfc4733;

#[cfg(test)]
mod inband_tests;

pub use inband::InbandDetector;
pub use rfc4733::{DtmfPacket, DtmfReceiver, DtmfSender};

use thiserror::Error;

/// One key press, as reported by [`DtmfReceiver`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DtmfDigit {
    /// `0`-`9`, `*`, `#` or `A`-`D`.
    pub digit: char,
    /// Duration carried by the packet that reported the press, in RTP timestamp units
    /// (samples at 8 kHz). Presses are reported at their start, so this is usually
    /// the first packet's duration, not the whole press.
    pub duration_samples: u16,
    /// Power level as sent: 0 is 0 dBm0, 63 is -63 dBm0.
    pub volume: u8,
}

/// Why a digit could not be queued for sending.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DtmfError {
    #[error("'{0}' is not a DTMF digit: use 0-9, *, #, or A-D")]
    UnknownDigit(char),
    #[error("DTMF duration {ms} ms is out of range: use {min_ms} to {max_ms} ms")]
    Duration { ms: u32, min_ms: u32, max_ms: u32 },
    #[error("DTMF volume {0} is out of range: use 0 (0 dBm0, loudest) to 63 (-63 dBm0)")]
    Volume(u8),
    #[error("the DTMF send queue already holds {0} digits: wait for some to play first")]
    QueueFull(usize),
}

/// The 16 DTMF keys in RFC 4733 event-code order (events 0-15).
const DIGITS: [char; 16] = [
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#', 'A', 'B', 'C', 'D',
];

/// RFC 4733 event code to key; `None` for flash (16) and every non-DTMF event.
pub fn event_to_digit(event: u8) -> Option<char> {
    DIGITS.get(event as usize).copied()
}

/// Key to RFC 4733 event code; `a`-`d` are accepted as `A`-`D`.
pub fn digit_to_event(digit: char) -> Option<u8> {
    let digit = digit.to_ascii_uppercase();
    DIGITS.iter().position(|&d| d == digit).map(|i| i as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_codes_map_both_ways() {
        assert_eq!(event_to_digit(0), Some('0'));
        assert_eq!(event_to_digit(9), Some('9'));
        assert_eq!(event_to_digit(10), Some('*'));
        assert_eq!(event_to_digit(11), Some('#'));
        assert_eq!(event_to_digit(15), Some('D'));
        assert_eq!(event_to_digit(16), None);
        assert_eq!(event_to_digit(255), None);
        for event in 0..16 {
            assert_eq!(digit_to_event(event_to_digit(event).unwrap()), Some(event));
        }
        assert_eq!(digit_to_event('c'), Some(14));
        assert_eq!(digit_to_event('E'), None);
        assert_eq!(digit_to_event(' '), None);
    }
}
