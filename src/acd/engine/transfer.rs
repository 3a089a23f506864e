//! Blind transfers by the agent on a call: to a queue, or to one named agent. The agent
//! who transfers goes to wrap-up at once; the caller waits again and is never dropped.
//! (A transfer to a number leaves the ACD: the runtime places that call, and puts the
//! caller back with `requeue_at_head` if it is not answered.)

use super::{Acd, AcdError, AgentKey, CallerInfo};
use crate::acd::agent::AgentState;
use std::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransferTo<'a> {
    /// Wait in this queue of the same tenant, as a new arrival.
    Queue(&'a str),
    /// Ring this agent of the same tenant, who must be available now; if they let it ring
    /// out or decline, the caller is routed as any caller of the queue the call came from.
    Agent(&'a str),
}

impl Acd {
    /// The agent on `call` hands the caller on. Nothing changes when the target is wrong
    /// (unknown queue or agent, an agent who is not free): the call stays with the agent.
    pub fn transfer(&mut self, call: &str, to: TransferTo, now: Instant) -> Result<(), AcdError> {
        let c = self
            .connected
            .get(call)
            .ok_or_else(|| AcdError::CallGone(call.into()))?;
        let (tenant, from_queue) = c.queue.clone();
        let (queue, directed) = match to {
            TransferTo::Queue(q) => {
                if !self.queues.contains_key(&(tenant.clone(), q.to_string())) {
                    return Err(AcdError::NoQueue {
                        tenant,
                        queue: q.into(),
                    });
                }
                (q.to_string(), None)
            }
            TransferTo::Agent(login) => {
                let key = AgentKey::new(&tenant, login);
                let a = self.agent(&key)?;
                let free = a.state == AgentState::Available && a.online;
                if key == c.agent || !free {
                    let state = if key == c.agent {
                        "on this call".to_string()
                    } else if a.online {
                        a.state.to_string()
                    } else {
                        "off line".to_string()
                    };
                    return Err(AcdError::AgentNotFree {
                        login: login.into(),
                        state,
                    });
                }
                (from_queue, Some(key))
            }
        };
        let info = c.info.clone();
        self.call_ended(call, now);
        let head = directed.is_some();
        self.admit(call, &tenant, &queue, info, head, directed, now)
    }

    /// The caller is back from somewhere the ACD does not route (a transfer to a number
    /// that was not answered): first in `queue` again.
    pub fn requeue_at_head(
        &mut self,
        call: &str,
        tenant: &str,
        queue: &str,
        info: CallerInfo,
        now: Instant,
    ) -> Result<(), AcdError> {
        self.admit(call, tenant, queue, info, true, None, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acd::Output;
    use crate::acd::config::QueueConfig;
    use std::time::Duration;

    fn queue(name: &str) -> QueueConfig {
        QueueConfig {
            ring_timeout_s: 15,
            wrap_up_s: 10,
            announce_every_s: 0,
            ..QueueConfig::named(name)
        }
    }

    /// ann is on call "c1" from queue "orders"; ben and cai are signed in and free.
    fn on_call() -> (Acd, Instant) {
        let t = Instant::now();
        let mut acd = Acd::new(vec![queue("orders"), queue("vip")]);
        for login in ["ann", "ben", "cai"] {
            let k = AgentKey::new("default", login);
            acd.add_agent(k.clone(), &[], t);
            acd.login(&k, t).unwrap();
        }
        acd.set_available(&AgentKey::new("default", "ann"), t)
            .unwrap();
        acd.enqueue("c1", "default", "orders", CallerInfo::default(), t)
            .unwrap();
        acd.accept("c1", &AgentKey::new("default", "ann"), t)
            .unwrap();
        while acd.poll_output().is_some() {}
        let t = t + Duration::from_secs(1);
        acd.set_available(&AgentKey::new("default", "ben"), t)
            .unwrap();
        let t = t + Duration::from_secs(1);
        acd.set_available(&AgentKey::new("default", "cai"), t)
            .unwrap();
        (acd, t)
    }

    fn offers(acd: &mut Acd) -> Vec<String> {
        let mut v = Vec::new();
        while let Some(o) = acd.poll_output() {
            if let Output::Offer { agent, .. } = o {
                v.push(agent.login);
            }
        }
        v
    }

    fn state(acd: &Acd, login: &str) -> String {
        acd.agent_state(&AgentKey::new("default", login))
            .unwrap()
            .to_string()
    }

    #[test]
    fn a_transfer_to_an_agent_rings_that_agent_even_when_another_is_idle_longer() {
        let (mut acd, t) = on_call();
        acd.transfer("c1", TransferTo::Agent("cai"), t).unwrap();
        assert_eq!(
            offers(&mut acd),
            ["cai"],
            "ben is idle longer but cai was named"
        );
        assert!(
            state(&acd, "ann").starts_with("wrap-up"),
            "{}",
            state(&acd, "ann")
        );
        acd.accept("c1", &AgentKey::new("default", "cai"), t)
            .unwrap();
        assert!(state(&acd, "cai").starts_with("on-call"));
    }

    #[test]
    fn a_named_agent_who_declines_leaves_the_caller_to_the_queue_not_to_nobody() {
        let (mut acd, t) = on_call();
        acd.transfer("c1", TransferTo::Agent("cai"), t).unwrap();
        assert_eq!(offers(&mut acd), ["cai"]);
        acd.refuse("c1", &AgentKey::new("default", "cai"), false, t)
            .unwrap();
        assert_eq!(offers(&mut acd), ["ben"], "then the queue's own routing");
    }

    #[test]
    fn a_named_agent_who_lets_it_ring_out_also_passes_it_to_the_queue() {
        let (mut acd, t) = on_call();
        acd.transfer("c1", TransferTo::Agent("cai"), t).unwrap();
        offers(&mut acd);
        let later = t + Duration::from_secs(16);
        acd.handle_timeout(later);
        assert_eq!(offers(&mut acd), ["ben"]);
    }

    #[test]
    fn a_busy_unknown_or_same_agent_is_refused_and_the_call_stays() {
        let (mut acd, t) = on_call();
        acd.set_away(&AgentKey::new("default", "cai"), "lunch", t)
            .unwrap();
        let e = acd.transfer("c1", TransferTo::Agent("cai"), t).unwrap_err();
        assert!(e.to_string().contains("away"), "{e}");
        let e = acd.transfer("c1", TransferTo::Agent("ann"), t).unwrap_err();
        assert!(e.to_string().contains("on this call"), "{e}");
        let e = acd.transfer("c1", TransferTo::Agent("zed"), t).unwrap_err();
        assert!(matches!(e, AcdError::NoAgent(_)), "{e}");
        let e = acd
            .transfer("c1", TransferTo::Queue("nope"), t)
            .unwrap_err();
        assert!(matches!(e, AcdError::NoQueue { .. }), "{e}");
        assert!(
            state(&acd, "ann").starts_with("on-call"),
            "still on the call"
        );
        assert!(offers(&mut acd).is_empty());
    }

    #[test]
    fn a_transfer_to_a_queue_waits_there_and_the_stats_count_it() {
        let (mut acd, t) = on_call();
        acd.transfer("c1", TransferTo::Queue("vip"), t).unwrap();
        // Nobody staffs "vip" (no member list means everyone): ben, idle longest.
        assert_eq!(offers(&mut acd), ["ben"]);
        let stats = acd.stats(t, t - Duration::from_secs(60));
        let vip = stats.iter().find(|s| s.queue == "vip").unwrap();
        assert_eq!(vip.today.offered, 1);
    }

    #[test]
    fn a_caller_back_from_an_unanswered_number_is_first_in_line() {
        let (mut acd, t) = on_call();
        acd.call_ended("c1", t);
        acd.enqueue("c2", "default", "orders", CallerInfo::default(), t)
            .unwrap();
        acd.set_away(&AgentKey::new("default", "ben"), "x", t)
            .unwrap();
        offers(&mut acd);
        // c2 rings cai; c1 comes back while c2 still waits for a second agent.
        acd.enqueue("c3", "default", "orders", CallerInfo::default(), t)
            .unwrap();
        acd.requeue_at_head("c1", "default", "orders", CallerInfo::default(), t)
            .unwrap();
        let ben = AgentKey::new("default", "ben");
        acd.set_available(&ben, t + Duration::from_secs(1)).unwrap();
        let mut got = Vec::new();
        while let Some(o) = acd.poll_output() {
            if let Output::Offer { call, agent, .. } = o {
                got.push((call, agent.login));
            }
        }
        assert_eq!(got, [("c1".to_string(), "ben".to_string())]);
        let e = acd
            .requeue_at_head("c1", "default", "orders", CallerInfo::default(), t)
            .unwrap_err();
        assert!(matches!(e, AcdError::DuplicateCall(_)));
    }
}
