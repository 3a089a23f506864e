//! RTP on SIP legs: the receive side with symmetric-RTP latching and RFC 3550
//! statistics ([`RtpReceiver`]), the send side ([`RtpSender`]), the adaptive jitter
//! buffer that turns packets into 20 ms frames ([`JitterBuffer`]), RTCP reports
//! ([`rtcp`] wire format, [`RtcpSession`] timing and round trip) and a MOS estimate
//! ([`quality`]).
//!
//! Everything here is pure: the media worker passes arrival times (`Instant`) and
//! datagrams in, and owns the sockets, the clock and the 20 ms tick. Nothing allocates
//! per packet; buffers are sized when a leg is created.

pub mod jitter;
pub mod quality;
pub mod receiver;
pub mod rtcp;
pub mod sender;
pub mod session;
mod stats;

pub use jitter::{Frame, JitterBuffer, JitterConfig, JitterStats, Pushed};
pub use quality::QualityInput;
pub use receiver::{RELATCH_AFTER, Received, RtpDrop, RtpReceiver};
pub use rtcp::{PeerReport, Report, ReportBlock, RtcpError, SenderInfo};
pub use sender::{RtpSender, RtpWriteError};
pub use session::{NtpClock, PeerView, RtcpSession};
pub use stats::{DropCounts, RtpStats};

use std::time::Duration;

/// RTP clock of G.711 and telephone-event on SIP legs.
pub const CLOCK_RATE: u32 = 8000;
/// Samples in one 20 ms frame at 8 kHz.
pub const FRAME_SAMPLES: usize = 160;

/// `d` in units of a `rate` Hz clock, rounded down.
pub(crate) fn samples_in(d: Duration, rate: u32) -> u64 {
    let rate = u64::from(rate);
    d.as_secs()
        .saturating_mul(rate)
        .saturating_add(u64::from(d.subsec_nanos()) * rate / 1_000_000_000)
}
