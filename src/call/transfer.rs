//! Blind transfer (an IVR `transfer` node): Hotline places the far leg through a trunk
//! (`Endpoint::dial`), and once it answers joins it to the caller with a media bridge.
//! Hotline stays in the middle (B2BUA): the caller's recording keeps both voices, and
//! whichever side hangs up ends the other. A far leg that fails or is not answered
//! returns the caller to the flow (`on_error`), which never loses the call.

use super::CallManager;
use super::ivr_session::SessionInput;
use super::{params, text};
use crate::config::Config;
use crate::media::bridge::bridge_pair;
use crate::media::worker::MediaCommand;
use crate::sdp::Negotiated;
use crate::sip::endpoint::{Dial, HangupSide};
use crate::sip::transport::EndpointCommand;
use bytes::Bytes;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, SystemTime};
use tracing::{info, warn};

/// How long the far end may ring before the transfer counts as failed.
pub const RING_TIMEOUT: Duration = Duration::from_secs(30);

/// A leg Hotline placed for a transfer.
pub(super) struct FarLeg {
    /// The caller's call it serves.
    pub parent: Bytes,
    /// The SIP profile it was placed on.
    pub profile: usize,
    pub rtp_port: Option<u16>,
    pub media_started: bool,
    pub answered: bool,
    /// The SIP side has ended it; it goes once media has closed its port.
    pub ended: bool,
    /// Set for the leg that rings an agent for a queued caller (not a transfer).
    pub agent: Option<crate::acd::AgentKey>,
    /// Hotline ended this agent leg itself and keeps the caller (transfer, requeue).
    pub released: bool,
    /// An agent's blind transfer to a number: the queue the caller goes back to, first in
    /// line, if the number does not answer. `None` for a flow's transfer (its `on_error`).
    pub requeue: Option<String>,
}

/// Where a transfer goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub uri: String,
    pub next_hop: SocketAddr,
    /// The SIP profile to place the call on (the one that holds the trunk).
    pub profile: usize,
    pub credentials: Option<(String, String)>,
}

/// The trunk an agent's transfer to a number goes out through: the first one, in profile
/// order, that has a proxy.
pub fn agent_trunk(config: &Config) -> Option<String> {
    config
        .profiles
        .iter()
        .flat_map(|p| p.trunks.iter())
        .find(|t| t.proxy.is_some())
        .map(|t| t.name.clone())
}

/// Resolves a `transfer` node's target. With a trunk, `to` is a number (sent as
/// `sip:NUMBER@proxy`) or a SIP URI, and the INVITE goes to the trunk's proxy; without
/// one, `to` must be a SIP URI whose host is an IP address.
pub fn resolve(
    config: &Config,
    call_profile: usize,
    to: &str,
    trunk: Option<&str>,
) -> Result<Target, String> {
    let to = to.trim();
    let is_number = {
        let digits = to.strip_prefix('+').unwrap_or(to);
        !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
    };
    let is_uri = to.starts_with("sip:");
    if !is_number && !is_uri {
        return Err(format!(
            "transfer target {to:?} is neither a number nor a sip: URI; write e.g. 4008001234 \
             or sip:1001@192.0.2.10"
        ));
    }
    if let Some(name) = trunk {
        let found = config
            .profiles
            .iter()
            .enumerate()
            .find_map(|(i, p)| p.trunks.iter().find(|t| t.name == name).map(|t| (i, t)));
        let Some((profile, t)) = found else {
            return Err(format!(
                "no trunk named {name:?} in any SIP profile; add [[trunks]] name = \"{name}\" \
                 with proxy = \"IP:PORT\" to a file in sip-profiles/"
            ));
        };
        let Some(proxy) = t.proxy else {
            return Err(format!(
                "trunk {name:?} has no proxy, so Hotline cannot place calls through it; add \
                 proxy = \"IP:PORT\" to it in {}",
                config.profiles[profile].file.display()
            ));
        };
        let uri = if is_number {
            format!("sip:{to}@{proxy}")
        } else {
            to.to_string()
        };
        let credentials = t.credentials().map(|(u, p)| (u.to_string(), p.to_string()));
        return Ok(Target {
            uri,
            next_hop: proxy,
            profile,
            credentials,
        });
    }
    if is_number {
        return Err(format!(
            "transfer to the number {to} needs a trunk to reach it; add trunk: NAME to the \
             node (a [[trunks]] entry with proxy = \"IP:PORT\")"
        ));
    }
    let next_hop = uri_socket(to).ok_or_else(|| {
        format!(
            "transfer target {to:?} names no IP address (host names are not resolved); write \
             sip:USER@IP[:PORT] or name a trunk with a proxy"
        )
    })?;
    Ok(Target {
        uri: to.to_string(),
        next_hop,
        profile: call_profile,
        credentials: None,
    })
}

/// The `IP:PORT` of a `sip:user@IP[:PORT][;params]` URI (port 5060 when absent).
fn uri_socket(uri: &str) -> Option<SocketAddr> {
    let rest = uri.strip_prefix("sip:")?;
    let host_port = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let host_port = host_port.split([';', '?']).next()?;
    if let Ok(sa) = host_port.parse::<SocketAddr>() {
        return Some(sa);
    }
    let host = host_port.trim_start_matches('[').trim_end_matches(']');
    host.parse::<IpAddr>()
        .ok()
        .map(|ip| SocketAddr::new(ip, 5060))
}

impl CallManager {
    /// A flow asked to transfer `call_id`: place the far leg, or tell the flow why not.
    pub(super) fn start_transfer(&mut self, call_id: Bytes, to: String, trunk: Option<String>) {
        let Some(call) = self.calls.get(&call_id) else {
            return;
        };
        if call.ended.is_some() {
            return;
        }
        let placed = resolve(&self.config, call.profile, &to, trunk.as_deref())
            .and_then(|target| self.place_far_leg(&call_id, target, None));
        if let Err(reason) = placed {
            warn!(call_id = %text(&call_id), %reason, "transfer impossible");
            self.to_session(&call_id, SessionInput::TransferDone { ok: false, reason });
        }
    }

    /// Dials `target` for the caller of `call_id` (B2BUA far leg). `requeue`: an agent's
    /// transfer, which puts the caller back in that queue if nobody answers.
    pub(super) fn place_far_leg(
        &mut self,
        call_id: &Bytes,
        target: Target,
        requeue: Option<String>,
    ) -> Result<(), String> {
        let caller = match self.calls.get(call_id) {
            Some(c) => c.from.clone(),
            None => return Err("the call has ended".into()),
        };
        let Some(sip) = self.sip.get(target.profile) else {
            return Err("the SIP profile of the trunk is not running".into());
        };
        self.next_leg += 1;
        let leg_id = Bytes::from(format!("{}-xfer{}", text(call_id), self.next_leg));
        info!(call_id = %text(call_id), far_leg = %text(&leg_id), uri = %target.uri, "transferring");
        let dial = Dial {
            call_id: leg_id.clone(),
            target: target.uri,
            next_hop: target.next_hop,
            caller,
            ring_timeout: RING_TIMEOUT,
            credentials: target.credentials,
        };
        if sip.send(EndpointCommand::Dial(Box::new(dial))).is_err() {
            return Err("the SIP side is shutting down".into());
        }
        self.far_legs.insert(
            leg_id.clone(),
            FarLeg {
                parent: call_id.clone(),
                profile: target.profile,
                rtp_port: None,
                media_started: false,
                answered: false,
                ended: false,
                agent: None,
                released: false,
                requeue,
            },
        );
        if let Some(call) = self.calls.get_mut(call_id) {
            call.far_leg = Some(leg_id);
        }
        Ok(())
    }

    /// The far end answered: start its media and bridge it to the caller.
    pub(super) fn far_answered(&mut self, leg_id: Bytes, local_rtp: SocketAddr, n: Negotiated) {
        let Some(leg) = self.far_legs.get_mut(&leg_id) else {
            return;
        };
        if leg.media_started {
            return;
        }
        leg.media_started = true;
        leg.answered = true;
        leg.rtp_port = Some(local_rtp.port());
        let parent = leg.parent.clone();
        let from_agent = leg.requeue.is_some();
        // The far leg runs no app of its own: it only carries the bridge.
        self.media.send(MediaCommand::Start {
            call_id: leg_id.clone(),
            local: local_rtp,
            params: params(&n),
            app: super::apps::AppKind::Flow,
            record: false,
            started: SystemTime::now(),
        });
        let (caller_end, far_end) = bridge_pair();
        self.media.send(MediaCommand::Bridge {
            call_id: leg_id,
            end: far_end,
        });
        self.media.send(MediaCommand::Bridge {
            call_id: parent.clone(),
            end: caller_end,
        });
        if from_agent {
            // The hold music stops looping; the number now talks to the caller.
            if let Some(q) = self.calls.get_mut(&parent).and_then(|c| c.queued.as_mut()) {
                q.holding = false;
            }
            info!(call_id = %text(&parent), "the number the agent transferred to answered");
            return;
        }
        self.to_session(
            &parent,
            SessionInput::TransferDone {
                ok: true,
                reason: String::new(),
            },
        );
    }

    /// The far leg never started (refused, no answer, unreachable): back to the flow.
    pub(super) fn far_failed(&mut self, leg_id: &Bytes, status: u16, reason: String) {
        let Some(leg) = self.far_legs.remove(leg_id) else {
            return;
        };
        if leg.agent.is_some() {
            self.agent_leg_failed(leg, status, &reason);
            return;
        }
        if let Some(queue) = leg.requeue {
            if let Some(call) = self.calls.get_mut(&leg.parent) {
                call.far_leg = None;
            }
            self.back_from_number(&leg.parent, &queue, &reason);
            return;
        }
        info!(call_id = %text(&leg.parent), %reason, "transfer failed; the flow goes on");
        if let Some(call) = self.calls.get_mut(&leg.parent) {
            call.far_leg = None;
        }
        self.to_session(
            &leg.parent,
            SessionInput::TransferDone { ok: false, reason },
        );
    }

    /// The far leg ended (its BYE, or ours): end the caller's call too.
    pub(super) fn far_ended(&mut self, leg_id: &Bytes, cause: &str) {
        let Some(leg) = self.far_legs.get_mut(leg_id) else {
            return;
        };
        leg.ended = true;
        let (parent, answered, is_agent, released) = (
            leg.parent.clone(),
            leg.answered,
            leg.agent.is_some(),
            leg.released,
        );
        if leg.media_started {
            // Removed when media reports `Stopped` (the port goes back then).
            self.media.send(MediaCommand::Stop {
                call_id: leg_id.clone(),
            });
        } else {
            self.far_legs.remove(leg_id);
        }
        if is_agent {
            if answered && !released {
                self.agent_leg_ended(&parent, cause);
            }
            return;
        }
        let Some(call) = self.calls.get_mut(&parent) else {
            return;
        };
        call.far_leg = None;
        if !answered {
            // Cancelled before answer (the caller hung up first): nothing else to end.
            return;
        }
        if call.ended.is_none()
            && let Some(sip) = self.sip.get(call.profile)
        {
            let _ = sip.send(EndpointCommand::HangUp {
                call_id: parent,
                cause: format!("transferred call ended: {cause}"),
                side: HangupSide::Hotline,
            });
        }
    }

    /// The caller's call ended: end its far leg (BYE, or CANCEL while it rings).
    pub(super) fn end_far_leg_of(&mut self, call_id: &Bytes, cause: &str) {
        let Some(leg_id) = self.calls.get_mut(call_id).and_then(|c| c.far_leg.take()) else {
            return;
        };
        if let Some(leg) = self.far_legs.get(&leg_id)
            && !leg.ended
            && let Some(sip) = self.sip.get(leg.profile)
        {
            let _ = sip.send(EndpointCommand::HangUp {
                call_id: leg_id,
                cause: cause.to_string(),
                side: HangupSide::Caller,
            });
        }
    }

    /// Media closed a far leg: its port goes back and the leg is forgotten.
    pub(super) fn far_media_stopped(&mut self, leg_id: &Bytes) {
        let Some(leg) = self.far_legs.get_mut(leg_id) else {
            return;
        };
        if let (Some(port), Some(sip)) = (leg.rtp_port.take(), self.sip.get(leg.profile)) {
            let _ = sip.send(EndpointCommand::ReleasePort { port });
        }
        leg.media_started = false;
        if leg.ended {
            self.far_legs.remove(leg_id);
        }
    }

    /// The far leg's media wants it ended (RTP timeout).
    pub(super) fn far_media_hangup(&mut self, leg_id: Bytes, cause: String) {
        if let Some(leg) = self.far_legs.get(&leg_id)
            && let Some(sip) = self.sip.get(leg.profile)
        {
            let _ = sip.send(EndpointCommand::HangUp {
                call_id: leg_id,
                cause,
                side: HangupSide::System,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Profile, Trunk};

    fn config(trunks: Vec<Trunk>) -> Config {
        let mut c = Config::default();
        let mut p = Profile::builtin_default();
        p.trunks.extend(trunks);
        c.profiles = vec![p];
        c
    }

    fn trunk(name: &str, proxy: Option<&str>, creds: Option<(&str, &str)>) -> Trunk {
        Trunk {
            name: name.into(),
            allow: vec![],
            username: creds.map(|c| c.0.into()),
            password: creds.map(|c| c.1.into()),
            proxy: proxy.map(|p| p.parse().unwrap()),
        }
    }

    #[test]
    fn a_number_goes_to_the_trunk_proxy_with_its_credentials() {
        let c = config(vec![trunk(
            "pbx",
            Some("10.1.2.3:5070"),
            Some(("hl", "pw")),
        )]);
        let t = resolve(&c, 0, "4008001234", Some("pbx")).unwrap();
        assert_eq!(t.uri, "sip:4008001234@10.1.2.3:5070");
        assert_eq!(t.next_hop, "10.1.2.3:5070".parse().unwrap());
        assert_eq!(t.credentials, Some(("hl".into(), "pw".into())));
        let t = resolve(&c, 0, "sip:1001@pbx.example.com", Some("pbx")).unwrap();
        assert_eq!(t.uri, "sip:1001@pbx.example.com");
        assert_eq!(t.next_hop, "10.1.2.3:5070".parse().unwrap());
    }

    #[test]
    fn a_uri_without_a_trunk_goes_to_its_own_address() {
        let c = config(vec![]);
        let t = resolve(&c, 0, "sip:1001@127.0.0.1:5090;transport=udp", None).unwrap();
        assert_eq!(t.next_hop, "127.0.0.1:5090".parse().unwrap());
        let t = resolve(&c, 0, "sip:1001@192.0.2.9", None).unwrap();
        assert_eq!(t.next_hop, "192.0.2.9:5060".parse().unwrap());
    }

    #[test]
    fn impossible_targets_say_what_to_write() {
        let c = config(vec![trunk("noproxy", None, None)]);
        let e = resolve(&c, 0, "1001", None).unwrap_err();
        assert!(e.contains("needs a trunk"), "{e}");
        let e = resolve(&c, 0, "1001", Some("carrier")).unwrap_err();
        assert!(e.contains("no trunk named \"carrier\""), "{e}");
        let e = resolve(&c, 0, "1001", Some("noproxy")).unwrap_err();
        assert!(e.contains("add proxy"), "{e}");
        let e = resolve(&c, 0, "sip:1001@pbx.example.com", None).unwrap_err();
        assert!(e.contains("host names are not resolved"), "{e}");
        let e = resolve(&c, 0, "agent smith", None).unwrap_err();
        assert!(e.contains("neither a number nor a sip: URI"), "{e}");
    }
}
