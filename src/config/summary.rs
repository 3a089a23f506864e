//! The human summary `hotline config check` prints. Secrets (passwords, auth_secret, the
//! database password) are never shown, only whether they are set.

use std::fmt::Write;

use super::profile::Profile;
use super::{Config, redact_url};

impl Config {
    /// A multi-line overview of what the server would run with.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        // Writing into a String cannot fail.
        let _ = writeln!(s, "configuration OK ({})", self.source.display());
        let _ = writeln!(s, "  node_id         {}", self.node_id);
        let _ = writeln!(s, "  http_listen     {}", self.http_listen);
        let _ = writeln!(s, "  webrtc_listen   {} (udp)", self.webrtc_listen);
        let _ = writeln!(
            s,
            "  rtp_ports       {} ({} ports)",
            self.rtp_ports,
            self.rtp_ports.len()
        );
        let _ = writeln!(s, "  data_dir        {}", self.data_dir.display());
        let _ = writeln!(s, "  recordings_dir  {}", self.recordings_dir.display());
        let _ = writeln!(s, "  prompts_dir     {}", self.prompts_dir.display());
        let _ = writeln!(s, "  flows_dir       {}", self.flows_dir.display());
        let db = match &self.database {
            Some(url) => redact_url(url),
            None => "SQLite file in data_dir".to_string(),
        };
        let _ = writeln!(s, "  database        {db}");
        self.media_summary(&mut s);
        self.numbers_summary(&mut s);
        if !self.queues.is_empty() {
            let _ = writeln!(s, "queues");
            for q in &self.queues {
                let _ = writeln!(
                    s,
                    "  {:<15} {}, {} step(s), max wait {} s, tenant {}",
                    q.name,
                    q.strategy.as_str(),
                    q.steps.len(),
                    q.max_wait_s,
                    q.tenant
                );
            }
        }
        for (i, p) in self.profiles.iter().enumerate() {
            profile(&mut s, p, i == 0);
        }
        s
    }

    fn media_summary(&self, s: &mut String) {
        let m = &self.media;
        let _ = writeln!(s, "media");
        let _ = writeln!(s, "  workers         {}", m.workers);
        let silence = if m.rtp_timeout_secs == 0 {
            "never hang up for silence".to_string()
        } else {
            format!("hang up after {} s without RTP", m.rtp_timeout_secs)
        };
        let _ = writeln!(s, "  rtp_timeout     {silence}");
        let record = if m.record { "every call" } else { "no calls" };
        let _ = writeln!(
            s,
            "  record          {record} (unless a profile or number says otherwise)"
        );
        let _ = writeln!(
            s,
            "  shutdown_grace  {} s for calls to end",
            m.shutdown_grace_secs
        );
        let _ = writeln!(
            s,
            "  opus            complexity {} (browser legs that take only Opus)",
            m.opus_complexity
        );
    }

    fn numbers_summary(&self, s: &mut String) {
        fn route_text(r: &crate::config::NumberRoute) -> String {
            match &r.flow {
                Some(f) => format!("flow {f} @ {}", r.tenant.as_deref().unwrap_or("default")),
                None => r.app.clone(),
            }
        }
        let _ = writeln!(s, "numbers");
        for r in &self.numbers.routes {
            let record = match r.record {
                Some(true) => ", recorded",
                Some(false) => ", not recorded",
                None => "",
            };
            let _ = writeln!(s, "  {:<15} {}{record}", r.number, route_text(r));
        }
        let other = match &self.numbers.default_route {
            Some(r) => route_text(r),
            None => self.numbers.default_app.clone(),
        };
        let _ = writeln!(s, "  {:<15} {other}", "(other)");
    }
}

fn profile(s: &mut String, p: &Profile, first: bool) {
    let default = if first { ", default" } else { "" };
    let _ = writeln!(s, "profile \"{}\" ({}{default})", p.name, p.file.display());
    let transports: Vec<&str> = p.transports.iter().map(|t| t.as_str()).collect();
    let _ = writeln!(s, "  listen          {} {}", p.listen, transports.join("+"));
    if let Some(ip) = p.external_addr {
        let _ = writeln!(s, "  external_addr   {ip}");
    }
    if let Some(ip) = p.media_addr {
        let _ = writeln!(s, "  media_addr      {ip}");
    }
    let dtmf = if p.telephone_event {
        ", telephone-event"
    } else {
        ""
    };
    let _ = writeln!(
        s,
        "  media           {}{dtmf}, ptime {} ms",
        p.codecs.join(", "),
        p.ptime_ms
    );
    let answer = if p.ring_ms == 0 {
        "at once".to_string()
    } else {
        format!("after ringing {} ms", p.ring_ms)
    };
    let limit = if p.max_call_seconds == 0 {
        "no limit".to_string()
    } else {
        format!("at most {} s", p.max_call_seconds)
    };
    let _ = writeln!(s, "  calls           answer {answer}, {limit}");
    match p.record {
        Some(true) => {
            let _ = writeln!(s, "  record          every call (overrides [media])");
        }
        Some(false) => {
            let _ = writeln!(s, "  record          no calls (overrides [media])");
        }
        None => {}
    }
    if p.trunks.is_empty() {
        let _ = writeln!(s, "  trunks          none: every call is refused (403)");
    }
    for t in &p.trunks {
        let mut who: Vec<String> = t.allow.iter().map(|n| n.to_string()).collect();
        if let Some((user, _)) = t.credentials() {
            who.push(format!("digest user \"{user}\""));
        }
        let _ = writeln!(s, "  trunk           {}: {}", t.name, who.join(", "));
    }
    let secret = if p.auth_secret.is_some() {
        "auth_secret set"
    } else {
        "random auth_secret per start"
    };
    let _ = writeln!(
        s,
        "  auth            realm \"{}\", {} user(s), {secret}",
        p.realm,
        p.users.len()
    );
    let rate = if p.rate_limit.is_enabled() {
        format!(
            "{}/s burst {} per source outside trunks",
            p.rate_limit.per_second, p.rate_limit.burst
        )
    } else {
        "off".to_string()
    };
    let _ = writeln!(s, "  rate_limit      {rate}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SipUser;

    #[test]
    fn default_summary_names_every_setting() {
        let mut c = Config::default();
        // One per core by default: fix it so the text does not depend on the machine.
        c.media.workers = 4;
        let s = c.summary();
        let expected = "configuration OK (<defaults>)
  node_id         hotline-1
  http_listen     0.0.0.0:8080
  webrtc_listen   0.0.0.0:8080 (udp)
  rtp_ports       20000-29999 (10000 ports)
  data_dir        var
  recordings_dir  recordings
  prompts_dir     prompts
  flows_dir       ivr-flows
  database        SQLite file in data_dir
media
  workers         4
  rtp_timeout     hang up after 60 s without RTP
  record          every call (unless a profile or number says otherwise)
  shutdown_grace  30 s for calls to end
  opus            complexity 3 (browser legs that take only Opus)
numbers
  9196            echo
  (other)         welcome
profile \"default\" (<built-in>, default)
  listen          0.0.0.0:5060 udp+tcp
  media           PCMA, PCMU, telephone-event, ptime 20 ms
  calls           answer at once, no limit
  trunk           local: 127.0.0.0/8, ::1/128
  auth            realm \"default\", 0 user(s), random auth_secret per start
  rate_limit      50/s burst 100 per source outside trunks
";
        assert_eq!(s, expected);
    }

    #[test]
    fn summary_never_prints_secrets() {
        let mut c = Config::default();
        let p = &mut c.profiles[0];
        p.auth_secret = Some("nonce-secret-0123456".into());
        p.trunks[0].username = Some("pbx1".into());
        p.trunks[0].password = Some("trunk-password".into());
        p.users.push(SipUser {
            username: "1001".into(),
            password: "phone-password".into(),
        });
        let s = c.summary();
        assert!(s.contains("digest user \"pbx1\""), "{s}");
        assert!(s.contains("1 user(s), auth_secret set"), "{s}");
        for secret in ["nonce-secret-0123456", "trunk-password", "phone-password"] {
            assert!(!s.contains(secret), "{secret} leaked:\n{s}");
        }
    }

    #[test]
    fn summary_shows_overrides_and_hides_the_database_password() {
        let mut c = Config {
            database: Some("postgres://hotline:db-password@db.example/cdr".into()),
            ..Config::default()
        };
        c.media.rtp_timeout_secs = 0;
        c.media.record = false;
        c.numbers.routes.push(crate::config::NumberRoute {
            number: "4008001234".into(),
            app: "welcome".into(),
            record: Some(true),
            ..Default::default()
        });
        c.numbers.routes.push(crate::config::NumberRoute {
            number: "400800*".into(),
            app: "welcome".into(),
            record: Some(false),
            ..Default::default()
        });
        c.profiles[0].record = Some(false);
        let s = c.summary();
        for line in [
            "  database        postgres://hotline:****@db.example/cdr\n",
            "  rtp_timeout     never hang up for silence\n",
            "  record          no calls (unless a profile or number says otherwise)\n",
            "  4008001234      welcome, recorded\n",
            "  400800*         welcome, not recorded\n",
            "  record          no calls (overrides [media])\n",
        ] {
            assert!(s.contains(line), "missing {line:?} in:\n{s}");
        }
        assert!(!s.contains("db-password"), "{s}");
    }
}
