//! INVITE server transaction (RFC 3261 §17.2.1 as updated by RFC 6026 §7.1):
//! Proceeding → Accepted (2xx) → (Timer L) Terminated, or
//! Proceeding → Completed (300–699) → Confirmed (ACK) → (Timer I) Terminated.
//!
//! Unlike plain RFC 6026, the layer itself retransmits the 2xx (§13.3.1.4: T1 doubling,
//! capped at T2, UDP only) until the ACK arrives, using Timer G in the Accepted state, and
//! tells the TU with `AckTimeout` when Timer L ends the window with no ACK.

use super::timer::TxTimer;
use super::{Next, Refused, TxCtx, TxEvent};
use bytes::Bytes;
use std::time::Duration;

#[derive(Debug)]
enum State {
    /// Waiting for the TU; the last provisional (if any) answers retransmissions.
    Proceeding { last: Option<Bytes> },
    /// A 2xx was sent (RFC 6026); it is retransmitted until the ACK comes.
    Accepted {
        last: Bytes,
        acked: bool,
        interval: Duration,
    },
    /// A 300–699 was sent; it is retransmitted (Timer G) until the ACK comes.
    Completed { last: Bytes, interval: Duration },
    /// The ACK for the non-2xx final came; ACK retransmissions are absorbed until Timer I.
    Confirmed,
}

/// What an ACK matched to this transaction means.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum AckOutcome {
    /// The ACK for our non-2xx final (or a retransmission of it): absorbed.
    Absorbed(Next),
    /// The ACK for our 2xx: the TU must see it.
    ForTwoXx,
    /// No final response was sent yet: the ACK makes no sense here.
    Unexpected,
}

#[derive(Debug)]
pub(super) struct ServerInvite {
    state: State,
}

impl ServerInvite {
    pub(super) fn new() -> ServerInvite {
        ServerInvite {
            state: State::Proceeding { last: None },
        }
    }

    /// Still waiting for a final response (the state in which a CANCEL applies).
    pub(super) fn is_proceeding(&self) -> bool {
        matches!(self.state, State::Proceeding { .. })
    }

    pub(super) fn on_retransmission(&mut self, cx: &mut TxCtx<'_>) {
        match &self.state {
            State::Proceeding { last: Some(last) } => cx.send(last.clone()),
            // The 2xx was lost (the INVITE came again): send it again, unless the ACK
            // already proved it arrived.
            State::Accepted {
                last, acked: false, ..
            } => cx.send(last.clone()),
            State::Completed { last, .. } => cx.send(last.clone()),
            State::Proceeding { last: None }
            | State::Accepted { acked: true, .. }
            | State::Confirmed => {}
        }
    }

    pub(super) fn on_ack(&mut self, cx: &mut TxCtx<'_>) -> AckOutcome {
        match &mut self.state {
            State::Proceeding { .. } => AckOutcome::Unexpected,
            State::Accepted { acked, .. } => {
                *acked = true;
                cx.stop(TxTimer::G);
                AckOutcome::ForTwoXx
            }
            State::Completed { .. } => {
                cx.stop(TxTimer::G);
                cx.stop(TxTimer::H);
                self.state = State::Confirmed;
                if cx.reliable() {
                    // Timer I is zero on reliable transports.
                    return AckOutcome::Absorbed(Next::Terminate);
                }
                cx.set(TxTimer::I, cx.cfg.t4);
                AckOutcome::Absorbed(Next::Keep)
            }
            State::Confirmed => AckOutcome::Absorbed(Next::Keep),
        }
    }

    pub(super) fn respond(
        &mut self,
        cx: &mut TxCtx<'_>,
        status: u16,
        data: Bytes,
    ) -> Result<Next, Refused> {
        match (&mut self.state, status) {
            (State::Proceeding { last }, 100..=199) => {
                cx.send(data.clone());
                *last = Some(data);
            }
            (State::Proceeding { .. }, 200..=299) => {
                cx.send(data.clone());
                self.state = State::Accepted {
                    last: data,
                    acked: false,
                    interval: cx.cfg.t1,
                };
                if !cx.reliable() {
                    cx.set(TxTimer::G, cx.cfg.t1);
                }
                cx.set(TxTimer::L, cx.cfg.t1 * 64);
            }
            (State::Proceeding { .. }, _) => {
                cx.send(data.clone());
                self.state = State::Completed {
                    last: data,
                    interval: cx.cfg.t1,
                };
                if !cx.reliable() {
                    cx.set(TxTimer::G, cx.cfg.t1);
                }
                cx.set(TxTimer::H, cx.cfg.t1 * 64);
            }
            // RFC 6026 §7.1: further 2xx from the TU (a retransmission, or a fixed-up one)
            // go out in the Accepted state; the newest one is what we retransmit.
            (State::Accepted { last, .. }, 200..=299) => {
                cx.send(data.clone());
                *last = data;
            }
            (State::Accepted { .. }, _) => return Err(Refused { state: "Accepted" }),
            (State::Completed { .. }, _) => return Err(Refused { state: "Completed" }),
            (State::Confirmed, _) => return Err(Refused { state: "Confirmed" }),
        }
        Ok(Next::Keep)
    }

    pub(super) fn on_timer(&mut self, cx: &mut TxCtx<'_>, timer: TxTimer) -> Next {
        match (&mut self.state, timer) {
            (
                State::Accepted {
                    last,
                    acked: false,
                    interval,
                },
                TxTimer::G,
            )
            | (State::Completed { last, interval }, TxTimer::G) => {
                cx.send(last.clone());
                *interval = (*interval * 2).min(cx.cfg.t2);
                cx.set(TxTimer::G, *interval);
                Next::Keep
            }
            (State::Accepted { acked, .. }, TxTimer::L) => {
                if !*acked {
                    cx.emit(TxEvent::AckTimeout { id: cx.server_id() });
                }
                Next::Terminate
            }
            (State::Completed { .. }, TxTimer::H) => {
                tracing::debug!(
                    tx = cx.id,
                    "no ACK for the final response within 64*T1 (Timer H)"
                );
                Next::Terminate
            }
            (State::Confirmed, TxTimer::I) => Next::Terminate,
            _ => Next::Keep,
        }
    }
}
