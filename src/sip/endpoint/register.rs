//! REGISTER and digest checks: who may register which address, and the challenges.

use super::*;

impl Endpoint {
    pub(super) fn on_register(&mut self, now: Instant, id: ServerTxId, req: &Request) {
        if self.profile.users.is_empty() {
            let reason = format!(
                "Forbidden (registration is off on profile {}: add [[users]] entries to {})",
                self.profile.name,
                self.profile.file.display()
            );
            self.respond(now, id, req, 403, &reason, &[], None);
            return;
        }
        match self.check_credentials(req, HeaderName::Authorization, |p, u| {
            p.users
                .iter()
                .find(|x| x.username == u)
                .map(|x| x.password.clone())
        }) {
            Ok(user) => {
                // Credentials prove who the phone is; they must also own the AOR, or
                // alice could register bob's number and take his calls.
                let to_user = req
                    .headers
                    .to_addr()
                    .ok()
                    .and_then(|a| crate::sip::message::Uri::parse(&a.uri).ok())
                    .and_then(|u| u.user);
                if to_user.as_deref() != Some(user.as_bytes()) {
                    let reason = format!("Forbidden (user {user} may not register this address)");
                    self.respond(now, id, req, 403, &reason, &[], None);
                    return;
                }
                let mut resp = self.registrar.handle_register(now, req, self.source);
                self.add_to_tag(&mut resp, None);
                if resp.status == 200 {
                    let aor = String::from_utf8_lossy(
                        &req.headers.to_addr().map(|a| a.uri).unwrap_or_default(),
                    )
                    .into_owned();
                    let bindings = self.registrar.lookup(now, &aor).len();
                    info!(user, bindings, "registered");
                    self.events
                        .push_back(EndpointEvent::Registered { aor, bindings });
                }
                self.send_response(now, id, resp);
            }
            Err((stale, why)) => self.challenge(now, id, req, 401, stale, &why),
        }
    }

    /// Checks Authorization (or Proxy-Authorization) against `lookup`; Err carries
    /// (stale, why) for the challenge.
    pub(super) fn check_credentials(
        &self,
        req: &Request,
        header: HeaderName,
        lookup: impl Fn(&Profile, &str) -> Option<String>,
    ) -> Result<String, (bool, String)> {
        let creds = match req.headers.challenge(&header) {
            Ok(Some(c)) => c,
            Ok(None) => return Err((false, "no credentials".into())),
            Err(e) => return Err((false, format!("unreadable credentials: {e}"))),
        };
        let outcome = self.auth.verify(
            &creds,
            req.method.as_bytes(),
            &req.uri,
            self.unix_now,
            |u| lookup(&self.profile, u),
        );
        match outcome {
            AuthOutcome::Authorized { username } => Ok(username),
            AuthOutcome::Challenge { stale, reason } => Err((stale, reason)),
            AuthOutcome::Rejected { reason } => Err((false, reason)),
        }
    }

    pub(super) fn challenge(
        &mut self,
        now: Instant,
        id: ServerTxId,
        req: &Request,
        status: u16,
        stale: bool,
        why: &str,
    ) {
        debug!(source = %self.source, why, "sending digest challenge");
        let name = if status == 407 {
            HeaderName::ProxyAuthenticate
        } else {
            HeaderName::WwwAuthenticate
        };
        let extra: Vec<(HeaderName, Bytes)> = self
            .auth
            .challenges(self.unix_now, stale)
            .into_iter()
            .map(|c| (name.clone(), Bytes::from(c)))
            .collect();
        let reason = if status == 407 {
            "Proxy Authentication Required"
        } else {
            "Unauthorized"
        };
        self.respond(now, id, req, status, reason, &extra, None);
    }
}
