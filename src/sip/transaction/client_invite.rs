//! INVITE client transaction (RFC 3261 §17.1.1 as updated by RFC 6026 §7.2):
//! Calling → Proceeding (1xx) → Accepted (2xx) → (Timer M) Terminated, or
//! → Completed (300–699, the layer sends the ACK) → (Timer D) Terminated; Timer B → timeout.
//!
//! Every 2xx (a retransmission, or another fork's) is passed up in the Accepted state: the
//! TU acknowledges each one itself (§13.2.2.4). Retransmitted 1xx are passed up too (the
//! RFC requires it); retransmitted non-2xx finals are absorbed and re-ACKed here.

use super::build::build_ack_for_non2xx;
use super::timer::TxTimer;
use super::{Next, TxCtx, TxEvent};
use crate::sip::message::{Request, Response};
use bytes::Bytes;
use std::time::Duration;

/// Timer D on unreliable transports: "at least 32 seconds" (§17.1.1.2).
const TIMER_D: Duration = Duration::from_secs(32);

#[derive(Debug)]
enum State {
    Calling {
        interval: Duration,
    },
    Proceeding,
    Accepted,
    /// The ACK we sent for the non-2xx final, re-sent on each retransmission of it.
    Completed {
        ack: Bytes,
    },
}

#[derive(Debug)]
pub(super) struct ClientInvite {
    state: State,
    /// The INVITE, for building the ACK.
    req: Request,
    /// The INVITE as sent, for retransmission.
    data: Bytes,
}

impl ClientInvite {
    /// Sends the INVITE and arms Timers A (UDP) and B.
    pub(super) fn start(cx: &mut TxCtx<'_>, req: Request, data: Bytes) -> ClientInvite {
        cx.send(data.clone());
        if !cx.reliable() {
            cx.set(TxTimer::A, cx.cfg.t1);
        }
        cx.set(TxTimer::B, cx.cfg.t1 * 64);
        ClientInvite {
            state: State::Calling {
                interval: cx.cfg.t1,
            },
            req,
            data,
        }
    }

    pub(super) fn on_response(&mut self, cx: &mut TxCtx<'_>, resp: Response) -> Next {
        let status = resp.status;
        match (&self.state, status) {
            (State::Calling { .. } | State::Proceeding, 100..=199) => {
                cx.stop(TxTimer::A);
                cx.stop(TxTimer::B);
                self.state = State::Proceeding;
                cx.emit(TxEvent::Response {
                    id: cx.client_id(),
                    resp,
                });
                Next::Keep
            }
            (State::Calling { .. } | State::Proceeding, 200..=299) => {
                cx.stop(TxTimer::A);
                cx.stop(TxTimer::B);
                self.state = State::Accepted;
                cx.set(TxTimer::M, cx.cfg.t1 * 64);
                cx.emit(TxEvent::Response {
                    id: cx.client_id(),
                    resp,
                });
                Next::Keep
            }
            (State::Calling { .. } | State::Proceeding, _) => {
                cx.stop(TxTimer::A);
                cx.stop(TxTimer::B);
                // §17.1.1.3: the ACK goes where the INVITE went, in this transaction.
                let ack = build_ack_for_non2xx(&self.req, &resp).to_bytes();
                cx.send(ack.clone());
                cx.emit(TxEvent::Response {
                    id: cx.client_id(),
                    resp,
                });
                self.state = State::Completed { ack };
                if cx.reliable() {
                    // Timer D is zero on reliable transports.
                    return Next::Terminate;
                }
                cx.set(TxTimer::D, TIMER_D);
                Next::Keep
            }
            (State::Accepted, 200..=299) => {
                cx.emit(TxEvent::Response {
                    id: cx.client_id(),
                    resp,
                });
                Next::Keep
            }
            (State::Completed { ack }, 300..) => {
                cx.send(ack.clone());
                Next::Keep
            }
            _ => Next::Keep,
        }
    }

    pub(super) fn on_timer(&mut self, cx: &mut TxCtx<'_>, timer: TxTimer) -> Next {
        match (&mut self.state, timer) {
            (State::Calling { interval }, TxTimer::A) => {
                cx.send(self.data.clone());
                // Timer A doubles without a cap; Timer B ends it at 64*T1.
                *interval *= 2;
                cx.set(TxTimer::A, *interval);
                Next::Keep
            }
            (State::Calling { .. }, TxTimer::B) => {
                cx.emit(TxEvent::Timeout { id: cx.client_id() });
                Next::Terminate
            }
            (State::Completed { .. }, TxTimer::D) | (State::Accepted, TxTimer::M) => {
                Next::Terminate
            }
            _ => Next::Keep,
        }
    }
}
