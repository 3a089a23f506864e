//! Non-INVITE client transaction (RFC 3261 §17.1.2, Figure 6):
//! Trying → Proceeding (1xx) → Completed (final) → (Timer K) Terminated; Timer F → timeout.

use super::timer::TxTimer;
use super::{Next, TxCtx, TxEvent};
use crate::sip::message::Response;
use bytes::Bytes;
use std::time::Duration;

#[derive(Debug, PartialEq, Eq)]
enum State {
    Trying,
    Proceeding,
    Completed,
}

#[derive(Debug)]
pub(super) struct ClientNonInvite {
    state: State,
    /// The request as sent, for retransmission.
    data: Bytes,
    interval: Duration,
}

impl ClientNonInvite {
    /// Sends the request and arms Timers E (UDP) and F.
    pub(super) fn start(cx: &mut TxCtx<'_>, data: Bytes) -> ClientNonInvite {
        cx.send(data.clone());
        if !cx.reliable() {
            cx.set(TxTimer::E, cx.cfg.t1);
        }
        cx.set(TxTimer::F, cx.cfg.t1 * 64);
        ClientNonInvite {
            state: State::Trying,
            data,
            interval: cx.cfg.t1,
        }
    }

    pub(super) fn on_response(&mut self, cx: &mut TxCtx<'_>, resp: Response) -> Next {
        if self.state == State::Completed {
            // A retransmitted final response: absorbed.
            return Next::Keep;
        }
        let status = resp.status;
        cx.emit(TxEvent::Response {
            id: cx.client_id(),
            resp,
        });
        if status < 200 {
            self.state = State::Proceeding;
            return Next::Keep;
        }
        self.state = State::Completed;
        cx.stop(TxTimer::E);
        cx.stop(TxTimer::F);
        if cx.reliable() {
            // Timer K is zero on reliable transports.
            return Next::Terminate;
        }
        cx.set(TxTimer::K, cx.cfg.t4);
        Next::Keep
    }

    pub(super) fn on_timer(&mut self, cx: &mut TxCtx<'_>, timer: TxTimer) -> Next {
        match (timer, &self.state) {
            (TxTimer::E, State::Trying | State::Proceeding) => {
                cx.send(self.data.clone());
                // §17.1.2.2: doubling up to T2 while Trying; once a 1xx came, every T2.
                self.interval = match self.state {
                    State::Trying => (self.interval * 2).min(cx.cfg.t2),
                    _ => cx.cfg.t2,
                };
                cx.set(TxTimer::E, self.interval);
                Next::Keep
            }
            (TxTimer::F, State::Trying | State::Proceeding) => {
                cx.emit(TxEvent::Timeout { id: cx.client_id() });
                Next::Terminate
            }
            (TxTimer::K, State::Completed) => Next::Terminate,
            _ => Next::Keep,
        }
    }
}
