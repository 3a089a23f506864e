//! Non-INVITE server transaction (RFC 3261 §17.2.2, Figure 8):
//! Trying → Proceeding → Completed → (Timer J) Terminated.

use super::timer::TxTimer;
use super::{Next, Refused, TxCtx};
use bytes::Bytes;

#[derive(Debug)]
enum State {
    /// No response yet: retransmissions are absorbed.
    Trying,
    /// A 1xx was sent: retransmissions get it again.
    Proceeding { last: Bytes },
    /// The final response was sent: retransmissions get it again until Timer J.
    Completed { last: Bytes },
}

#[derive(Debug)]
pub(super) struct ServerNonInvite {
    state: State,
}

impl ServerNonInvite {
    pub(super) fn new() -> ServerNonInvite {
        ServerNonInvite {
            state: State::Trying,
        }
    }

    pub(super) fn on_retransmission(&mut self, cx: &mut TxCtx<'_>) {
        match &self.state {
            State::Trying => {}
            State::Proceeding { last } | State::Completed { last } => cx.send(last.clone()),
        }
    }

    pub(super) fn respond(
        &mut self,
        cx: &mut TxCtx<'_>,
        status: u16,
        data: Bytes,
    ) -> Result<Next, Refused> {
        if matches!(self.state, State::Completed { .. }) {
            return Err(Refused { state: "Completed" });
        }
        cx.send(data.clone());
        if status < 200 {
            self.state = State::Proceeding { last: data };
            return Ok(Next::Keep);
        }
        self.state = State::Completed { last: data };
        if cx.reliable() {
            // Timer J is zero on reliable transports: nothing can be retransmitted to us.
            return Ok(Next::Terminate);
        }
        cx.set(TxTimer::J, cx.cfg.t1 * 64);
        Ok(Next::Keep)
    }

    pub(super) fn on_timer(&mut self, _cx: &mut TxCtx<'_>, timer: TxTimer) -> Next {
        match (timer, &self.state) {
            (TxTimer::J, State::Completed { .. }) => Next::Terminate,
            _ => Next::Keep,
        }
    }
}
