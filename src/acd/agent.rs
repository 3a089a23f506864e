//! An agent's state machine, as a pure function: (state, event) → new state, or an error
//! saying why the event does not apply. Every state that is not idle ends by a timer the
//! engine keeps (ringing: ring timeout; wrap-up: wrap-up time) or by an event that always
//! comes (on a call: the call's end, or the device's loss and its grace period), so no
//! agent can stay "reserved" or "in call" for ever.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AgentState {
    LoggedOut,
    Available,
    Away { reason: String },
    Ringing { call: String },
    OnCall { call: String },
    WrapUp { call: String },
}

impl AgentState {
    /// The name the API and the softphone use.
    pub fn name(&self) -> &'static str {
        match self {
            AgentState::LoggedOut => "logged-out",
            AgentState::Available => "available",
            AgentState::Away { .. } => "away",
            AgentState::Ringing { .. } => "ringing",
            AgentState::OnCall { .. } => "on-call",
            AgentState::WrapUp { .. } => "wrap-up",
        }
    }

    pub fn call(&self) -> Option<&str> {
        match self {
            AgentState::Ringing { call }
            | AgentState::OnCall { call }
            | AgentState::WrapUp { call } => Some(call),
            _ => None,
        }
    }

    pub fn reason(&self) -> Option<&str> {
        match self {
            AgentState::Away { reason } => Some(reason),
            _ => None,
        }
    }

    /// Signed in and not away: counts as staffing the queue.
    pub fn staffed(&self) -> bool {
        !matches!(self, AgentState::LoggedOut | AgentState::Away { .. })
    }
}

impl fmt::Display for AgentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reason() {
            Some(r) => write!(f, "away ({r})"),
            None => f.write_str(self.name()),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AgentEvent {
    Login,
    Logout,
    SetAvailable,
    SetAway(String),
    Offer(String),
    Accept(String),
    /// The agent declined the offer: available again (the call goes to someone else).
    Reject(String),
    /// Rang out, or the device could not be reached: away with this reason.
    Unanswered(String, String),
    /// The offer went elsewhere (another agent answered, the caller left).
    Withdraw(String),
    CallEnded(String),
    WrapUpDone,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("agent is {state}: {why}")]
pub struct TransitionError {
    pub state: String,
    pub why: String,
}

fn err(state: &AgentState, why: &str) -> TransitionError {
    TransitionError {
        state: state.to_string(),
        why: why.into(),
    }
}

/// The next state, or why `event` does not apply to `state`.
pub fn transition(state: &AgentState, event: &AgentEvent) -> Result<AgentState, TransitionError> {
    use AgentEvent as E;
    use AgentState as S;
    let same_call = |c: &str, d: &str| c == d;
    match (state, event) {
        (S::LoggedOut, E::Login) => Ok(S::Available),
        (S::LoggedOut, _) => Err(err(state, "sign in first")),
        (_, E::Login) => Err(err(state, "already signed in")),
        (S::Available | S::Away { .. }, E::SetAvailable) => Ok(S::Available),
        (S::Available | S::Away { .. }, E::SetAway(r)) => Ok(S::Away { reason: r.clone() }),
        (S::Available | S::Away { .. }, E::Logout) => Ok(S::LoggedOut),
        (S::Available, E::Offer(c)) => Ok(S::Ringing { call: c.clone() }),
        (S::Ringing { call }, E::Accept(c)) if same_call(call, c) => {
            Ok(S::OnCall { call: c.clone() })
        }
        (S::Ringing { call }, E::Reject(c) | E::Withdraw(c)) if same_call(call, c) => {
            Ok(S::Available)
        }
        (S::Ringing { call }, E::Unanswered(c, reason)) if same_call(call, c) => Ok(S::Away {
            reason: reason.clone(),
        }),
        // Signing out while ringing gives the call back (the engine withdraws it).
        (S::Ringing { .. }, E::Logout) => Ok(S::LoggedOut),
        (S::OnCall { call }, E::CallEnded(c)) if same_call(call, c) => {
            Ok(S::WrapUp { call: c.clone() })
        }
        (S::OnCall { .. }, _) => Err(err(state, "finish the call first")),
        (S::WrapUp { .. }, E::WrapUpDone | E::SetAvailable) => Ok(S::Available),
        (S::WrapUp { .. }, E::SetAway(r)) => Ok(S::Away { reason: r.clone() }),
        (S::WrapUp { .. }, E::Logout) => Ok(S::LoggedOut),
        (S::Away { .. }, E::Offer(_)) => Err(err(state, "an agent who is away gets no calls")),
        (S::Ringing { .. }, E::Offer(_)) => Err(err(state, "one call at a time")),
        (S::WrapUp { .. }, E::Offer(_)) => Err(err(state, "still wrapping up the last call")),
        _ => Err(err(state, "this does not apply now")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AgentEvent as E;
    use AgentState as S;

    fn run(events: &[E]) -> Result<S, TransitionError> {
        events
            .iter()
            .try_fold(S::LoggedOut, |s, e| transition(&s, e))
    }

    #[test]
    fn a_working_day() {
        let s = run(&[
            E::Login,
            E::SetAway("lunch".into()),
            E::SetAvailable,
            E::Offer("c1".into()),
            E::Accept("c1".into()),
            E::CallEnded("c1".into()),
        ])
        .unwrap();
        assert_eq!(s, S::WrapUp { call: "c1".into() });
        assert_eq!(transition(&s, &E::WrapUpDone).unwrap(), S::Available);
    }

    #[test]
    fn ring_outcomes() {
        let ringing = run(&[E::Login, E::Offer("c1".into())]).unwrap();
        assert_eq!(
            transition(&ringing, &E::Reject("c1".into())).unwrap(),
            S::Available
        );
        assert_eq!(
            transition(&ringing, &E::Withdraw("c1".into())).unwrap(),
            S::Available
        );
        assert_eq!(
            transition(&ringing, &E::Unanswered("c1".into(), "no-answer".into())).unwrap(),
            S::Away {
                reason: "no-answer".into()
            }
        );
        // Events about another call do not move it.
        assert!(transition(&ringing, &E::Accept("c2".into())).is_err());
        assert!(transition(&ringing, &E::Offer("c2".into())).is_err());
    }

    #[test]
    fn refusals_say_why() {
        let e = transition(&S::LoggedOut, &E::SetAvailable).unwrap_err();
        assert_eq!(e.to_string(), "agent is logged-out: sign in first");
        let on = S::OnCall { call: "c".into() };
        assert!(
            transition(&on, &E::Logout)
                .unwrap_err()
                .why
                .contains("finish the call")
        );
        let away = S::Away {
            reason: "lunch".into(),
        };
        assert!(transition(&away, &E::Offer("c".into())).is_err());
        assert_eq!(away.to_string(), "away (lunch)");
    }
}
