//! The SIP leg of a call as the endpoint sees it: dialog, INVITE transaction, media
//! negotiation state. The media engine and the call model come with the media core.

use super::dialog::Dialog;
use crate::sdp::{self, Answer, LocalMedia, Negotiated};
use crate::sip::message::Request;
use crate::sip::transaction::{Peer, ServerTxId};
use bytes::Bytes;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallState {
    /// INVITE received, not answered yet (ringing or about to be answered).
    Ringing,
    /// 200 sent.
    Answered,
}

pub struct Call {
    pub dialog: Dialog,
    /// The INVITE's server transaction; `None` for a call we placed (the INVITE is ours).
    pub invite_tx: Option<ServerTxId>,
    pub invite: Request,
    /// Hotline placed this call (a transfer's or an agent's leg): the far end is the callee.
    pub outbound: bool,
    pub state: CallState,
    pub acked: bool,
    pub media: LocalMedia,
    /// The SDP we answered with; `None` for a late offer (we send an offer instead).
    pub answer_sdp: Option<Bytes>,
    pub negotiated: Option<Negotiated>,
    pub reply_to: Peer,
    /// DTMF received by SIP INFO, in order.
    pub digits: String,
    /// Ids of this call's pending timers, cancelled when it ends.
    pub timers: Vec<u64>,
    /// `CallAnswered` went out: media owns the RTP port until it says otherwise.
    pub media_announced: bool,
}

impl Call {
    pub fn new(
        dialog: Dialog,
        invite_tx: ServerTxId,
        invite: Request,
        media: LocalMedia,
        reply_to: Peer,
    ) -> Call {
        Call {
            dialog,
            invite_tx: Some(invite_tx),
            invite,
            outbound: false,
            state: CallState::Ringing,
            acked: false,
            media,
            answer_sdp: None,
            negotiated: None,
            reply_to,
            digits: String::new(),
            timers: Vec::new(),
            media_announced: false,
        }
    }

    /// A call we placed, answered: its INVITE is ours and the 2xx made the dialog.
    pub fn new_outbound(dialog: Dialog, invite: Request, media: LocalMedia, peer: Peer) -> Call {
        Call {
            dialog,
            invite_tx: None,
            invite,
            outbound: true,
            state: CallState::Answered,
            acked: true,
            media,
            answer_sdp: None,
            negotiated: None,
            reply_to: peer,
            digits: String::new(),
            timers: Vec::new(),
            media_announced: false,
        }
    }

    pub fn set_answer(&mut self, a: Answer) {
        self.answer_sdp = Some(a.sdp);
        self.negotiated = Some(a.negotiated);
    }

    /// The body of our 200: the answer, or an offer when the INVITE had none.
    pub fn local_sdp(&self) -> Option<Bytes> {
        match &self.answer_sdp {
            Some(a) => Some(a.clone()),
            None => Some(sdp::offer(&self.media)),
        }
    }
}

/// A DTMF digit from a SIP INFO body: `application/dtmf-relay` (`Signal=5`) or
/// `application/dtmf` (`5`). Anything else carries no digit.
pub fn dtmf_from_info(content_type: Option<&[u8]>, body: &[u8]) -> Option<char> {
    let text = std::str::from_utf8(body).ok()?;
    let raw = match content_type? {
        b"application/dtmf-relay" => text.lines().find_map(|l| {
            let (k, v) = l.split_once('=')?;
            k.trim().eq_ignore_ascii_case("signal").then(|| v.trim())
        })?,
        b"application/dtmf" => text.trim(),
        _ => return None,
    };
    let c = match raw {
        "10" => '*',
        "11" => '#',
        s if s.len() == 1 => s.chars().next()?.to_ascii_uppercase(),
        _ => return None,
    };
    matches!(c, '0'..='9' | '*' | '#' | 'A'..='D').then_some(c)
}

#[cfg(test)]
mod tests {
    use super::dtmf_from_info;

    #[test]
    fn info_bodies() {
        let relay = Some(&b"application/dtmf-relay"[..]);
        assert_eq!(
            dtmf_from_info(relay, b"Signal=5\r\nDuration=160\r\n"),
            Some('5')
        );
        assert_eq!(dtmf_from_info(relay, b"Signal= #\r\n"), Some('#'));
        assert_eq!(dtmf_from_info(relay, b"Signal=11\r\n"), Some('#'));
        assert_eq!(dtmf_from_info(Some(b"application/dtmf"), b"*"), Some('*'));
        assert_eq!(dtmf_from_info(relay, b"Signal=x\r\n"), None);
        assert_eq!(dtmf_from_info(Some(b"text/plain"), b"5"), None);
        assert_eq!(dtmf_from_info(None, b"5"), None);
    }
}
