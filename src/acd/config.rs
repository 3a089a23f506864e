//! Queue configuration as written by operators (TOML via serde), checked by `validate`.

use serde::Deserialize;

/// How a queue picks among the agents who may take a call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Every eligible agent rings; the first to answer gets the call.
    RingAll,
    /// The agent available the longest.
    #[default]
    LongestIdle,
    /// Agents in turn, after the one who got the last call.
    RoundRobin,
    /// The agent who took the fewest calls today.
    FewestCalls,
    /// The agent who best matches the current step's preferred skills; longest idle on ties.
    Skills,
}

impl Strategy {
    /// As written in hotline.toml.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::RingAll => "ring-all",
            Strategy::LongestIdle => "longest-idle",
            Strategy::RoundRobin => "round-robin",
            Strategy::FewestCalls => "fewest-calls",
            Strategy::Skills => "skills",
        }
    }
}

/// A skill condition, written `lang:zh>=3` (or `lang:zh` for any level).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkillReq {
    pub skill: String,
    pub min: u8,
}

impl SkillReq {
    pub fn parse(text: &str) -> Result<SkillReq, String> {
        let t = text.trim();
        let (skill, min) = match t.split_once(">=") {
            Some((s, m)) => {
                let min: u8 = m
                    .trim()
                    .parse()
                    .ok()
                    .filter(|m| (1..=10).contains(m))
                    .ok_or_else(|| {
                        format!("{t:?}: the level after >= must be 1 to 10, e.g. lang:zh>=3")
                    })?;
                (s.trim(), min)
            }
            None => (t, 1),
        };
        let ok = !skill.is_empty()
            && skill
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b":_-.".contains(&b));
        if !ok {
            return Err(format!(
                "{t:?} is not a skill condition; write e.g. lang:zh>=3 or dialect:sichuan"
            ));
        }
        Ok(SkillReq {
            skill: skill.to_ascii_lowercase(),
            min,
        })
    }
}

impl<'de> Deserialize<'de> for SkillReq {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        SkillReq::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// One routing step: from `after_s` seconds of waiting on, agents must have every
/// `require` skill and those with `prefer` skills go first. Later steps usually widen.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    #[serde(default)]
    pub after_s: u64,
    #[serde(default)]
    pub require: Vec<SkillReq>,
    #[serde(default)]
    pub prefer: Vec<SkillReq>,
}

/// Where a caller goes when the queue gives up on them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Overflow {
    /// Another queue of the same tenant.
    Queue(String),
    /// The flow's fallback (its voicemail, usually).
    #[default]
    Fallback,
    /// Keep the caller's number and call back when an agent frees up.
    Callback,
}

impl<'de> Deserialize<'de> for Overflow {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.as_str() {
            "fallback" | "voicemail" => Ok(Overflow::Fallback),
            "callback" => Ok(Overflow::Callback),
            other => match other.strip_prefix("queue:") {
                Some(q) if !q.is_empty() => Ok(Overflow::Queue(q.to_string())),
                _ => Err(serde::de::Error::custom(format!(
                    "overflow {other:?}: write fallback, voicemail, callback or queue:NAME"
                ))),
            },
        }
    }
}

fn d_ring() -> u64 {
    20
}
fn d_wrap() -> u64 {
    15
}
fn d_max_wait() -> u64 {
    600
}
fn d_announce() -> u64 {
    30
}
fn d_sl() -> u64 {
    20
}
fn d_vip() -> u32 {
    10
}
fn d_ageing() -> u32 {
    1
}
fn d_tenant() -> String {
    "default".into()
}
fn yes() -> bool {
    true
}

/// One queue.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    pub name: String,
    #[serde(default = "d_tenant")]
    pub tenant: String,
    #[serde(default)]
    pub strategy: Strategy,
    /// Logins that serve this queue; empty: every agent of the tenant.
    #[serde(default)]
    pub agents: Vec<String>,
    /// Routing steps by waiting time; none: anyone may take the call.
    #[serde(default)]
    pub steps: Vec<Step>,
    /// An agent who does not answer in this long is set away ("no-answer").
    #[serde(default = "d_ring")]
    pub ring_timeout_s: u64,
    #[serde(default = "d_wrap")]
    pub wrap_up_s: u64,
    #[serde(default = "d_max_wait")]
    pub max_wait_s: u64,
    /// Where callers go after `max_wait_s`.
    #[serde(default)]
    pub overflow: Overflow,
    /// Where callers go when no agent of the queue is signed in and able to work (all
    /// logged out or away): at once, rather than waiting for nobody.
    #[serde(default)]
    pub no_agents: Overflow,
    /// Position and expected wait are announced this often (0: never).
    #[serde(default = "d_announce")]
    pub announce_every_s: u64,
    /// Answered within this long counts as within service level.
    #[serde(default = "d_sl")]
    pub service_level_s: u64,
    /// Priority added for VIP callers (attribute `vip`).
    #[serde(default = "d_vip")]
    pub vip_priority: u32,
    /// Priority a caller gains per minute of waiting, so nobody waits forever behind VIPs.
    #[serde(default = "d_ageing")]
    pub ageing_per_minute: u32,
    /// Play music while the caller waits.
    #[serde(default = "yes")]
    pub music_on_hold: bool,
}

impl QueueConfig {
    /// A queue with every default, for tests and examples.
    pub fn named(name: &str) -> QueueConfig {
        QueueConfig {
            name: name.into(),
            tenant: d_tenant(),
            strategy: Strategy::default(),
            agents: Vec::new(),
            steps: Vec::new(),
            ring_timeout_s: d_ring(),
            wrap_up_s: d_wrap(),
            max_wait_s: d_max_wait(),
            overflow: Overflow::default(),
            no_agents: Overflow::default(),
            announce_every_s: d_announce(),
            service_level_s: d_sl(),
            vip_priority: d_vip(),
            ageing_per_minute: d_ageing(),
            music_on_hold: true,
        }
    }

    /// Every problem, each naming the queue and the fix.
    pub fn validate(&self, all: &[QueueConfig]) -> Vec<String> {
        let q = &self.name;
        let mut e = Vec::new();
        let name_ok = !q.is_empty()
            && q.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-".contains(&b));
        if !name_ok {
            e.push(format!(
                "queue {q:?}: names are letters, digits, - and _ (e.g. orders)"
            ));
        }
        if self.ring_timeout_s == 0 || self.ring_timeout_s > 300 {
            e.push(format!("queue {q}: ring_timeout_s must be 1 to 300"));
        }
        if self.wrap_up_s > 3600 {
            e.push(format!("queue {q}: wrap_up_s must be at most 3600"));
        }
        if self.max_wait_s == 0 {
            e.push(format!(
                "queue {q}: max_wait_s must be above 0 (it sends callers to `overflow`)"
            ));
        }
        let mut last = None;
        for s in &self.steps {
            if last.is_some_and(|l| s.after_s <= l) {
                e.push(format!(
                    "queue {q}: steps must have increasing after_s ({} after {})",
                    s.after_s,
                    last.unwrap_or(0)
                ));
            }
            last = Some(s.after_s);
        }
        if self.steps.first().is_some_and(|s| s.after_s != 0) {
            e.push(format!(
                "queue {q}: the first step must start at after_s = 0"
            ));
        }
        for o in [&self.overflow, &self.no_agents] {
            if let Overflow::Queue(t) = o {
                if t == q {
                    e.push(format!(
                        "queue {q}: overflow to itself would never end; name another queue"
                    ));
                } else if !all.iter().any(|x| &x.name == t && x.tenant == self.tenant) {
                    e.push(format!(
                        "queue {q}: overflow queue {t:?} does not exist in tenant {}",
                        self.tenant
                    ));
                }
            }
        }
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skill_conditions_read_and_explain() {
        assert_eq!(
            SkillReq::parse("lang:zh>=3").unwrap(),
            SkillReq {
                skill: "lang:zh".into(),
                min: 3
            }
        );
        assert_eq!(SkillReq::parse("Dialect:Sichuan").unwrap().min, 1);
        assert!(
            SkillReq::parse("lang:zh>=0")
                .unwrap_err()
                .contains("1 to 10")
        );
        assert!(SkillReq::parse("lang zh").is_err());
    }

    #[test]
    fn a_queue_reads_from_toml_with_defaults_and_is_checked() {
        let q: QueueConfig = toml::from_str(
            r#"
            name = "orders"
            strategy = "skills"
            overflow = "queue:general"
            steps = [
              { after_s = 0, require = ["lang:zh>=3"], prefer = ["dialect:sichuan"] },
              { after_s = 20, require = ["lang:zh"] },
              { after_s = 40 },
            ]
            "#,
        )
        .unwrap();
        assert_eq!(q.strategy, Strategy::Skills);
        assert_eq!(q.ring_timeout_s, 20);
        assert_eq!(q.steps[0].prefer[0].skill, "dialect:sichuan");
        let errs = q.validate(std::slice::from_ref(&q));
        assert!(errs[0].contains("\"general\" does not exist"), "{errs:?}");
        let general = QueueConfig::named("general");
        assert!(q.validate(&[q.clone(), general]).is_empty());
        let bad: Result<QueueConfig, _> = toml::from_str("name = \"x\"\noverflow = \"somewhere\"");
        assert!(bad.unwrap_err().to_string().contains("queue:NAME"));
        let mut steps = QueueConfig::named("s");
        steps.steps = vec![
            Step {
                after_s: 10,
                ..Default::default()
            },
            Step {
                after_s: 5,
                ..Default::default()
            },
        ];
        let errs = steps.validate(&[]);
        assert_eq!(errs.len(), 2, "{errs:?}");
    }
}
