//! Agent sign-in sessions: random bearer tokens (also set as an HttpOnly cookie for the
//! softphone page), kept in memory with a sliding 12 h lifetime, and a lockout after
//! repeated wrong passwords for one login. Pure: time comes in as an argument.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// A signed-in agent.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AgentId {
    pub tenant: String,
    pub login: String,
}

/// How long a token lives without use.
pub const IDLE_LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// Wrong passwords in a row before a login is locked for [`LOCKOUT`].
pub const MAX_FAILURES: u32 = 5;
pub const LOCKOUT: Duration = Duration::from_secs(60);

#[derive(Default)]
pub struct Sessions {
    tokens: HashMap<String, (AgentId, Instant)>,
    failures: HashMap<AgentId, (u32, Instant)>,
}

impl Sessions {
    /// A new token for `agent` (several devices may be signed in at once).
    pub fn issue(&mut self, agent: AgentId, token: String, now: Instant) -> String {
        self.expire(now);
        self.failures.remove(&agent);
        self.tokens
            .insert(token.clone(), (agent, now + IDLE_LIFETIME));
        token
    }

    /// The agent a token belongs to; using it extends its life.
    pub fn check(&mut self, token: &str, now: Instant) -> Option<AgentId> {
        let (agent, until) = self.tokens.get_mut(token)?;
        if *until <= now {
            self.tokens.remove(token);
            return None;
        }
        *until = now + IDLE_LIFETIME;
        Some(agent.clone())
    }

    pub fn revoke(&mut self, token: &str) {
        self.tokens.remove(token);
    }

    /// `Some(wait)` while the login is locked after too many wrong passwords.
    pub fn locked(&self, agent: &AgentId, now: Instant) -> Option<Duration> {
        let (count, at) = self.failures.get(agent)?;
        let until = *at + LOCKOUT;
        (*count >= MAX_FAILURES && until > now).then(|| until - now)
    }

    pub fn failed(&mut self, agent: AgentId, now: Instant) {
        let e = self.failures.entry(agent).or_insert((0, now));
        // After a lockout has passed, counting starts again.
        if now.duration_since(e.1) >= LOCKOUT {
            *e = (0, now);
        }
        e.0 += 1;
        e.1 = now;
    }

    fn expire(&mut self, now: Instant) {
        self.tokens.retain(|_, (_, until)| *until > now);
        self.failures
            .retain(|_, (_, at)| now.duration_since(*at) < LOCKOUT);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> AgentId {
        AgentId {
            tenant: "acme".into(),
            login: "alice".into(),
        }
    }

    #[test]
    fn tokens_identify_their_agent_until_idle_too_long() {
        let t0 = Instant::now();
        let mut s = Sessions::default();
        let tok = s.issue(alice(), "t1".into(), t0);
        assert_eq!(s.check(&tok, t0 + Duration::from_secs(3600)), Some(alice()));
        // Use slides the lifetime.
        let later = t0 + Duration::from_secs(3600) + IDLE_LIFETIME - Duration::from_secs(1);
        assert_eq!(s.check(&tok, later), Some(alice()));
        assert_eq!(s.check(&tok, later + IDLE_LIFETIME), None);
        assert_eq!(s.check("nope", t0), None);
        let tok = s.issue(alice(), "t2".into(), t0);
        s.revoke(&tok);
        assert_eq!(s.check(&tok, t0), None);
    }

    #[test]
    fn five_wrong_passwords_lock_the_login_for_a_minute() {
        let t0 = Instant::now();
        let mut s = Sessions::default();
        for i in 0..MAX_FAILURES {
            assert_eq!(s.locked(&alice(), t0), None, "attempt {i}");
            s.failed(alice(), t0);
        }
        assert!(s.locked(&alice(), t0 + Duration::from_secs(10)).is_some());
        assert_eq!(s.locked(&alice(), t0 + LOCKOUT), None);
        s.failed(alice(), t0 + LOCKOUT);
        assert_eq!(
            s.locked(&alice(), t0 + LOCKOUT),
            None,
            "counting starts again"
        );
    }
}
