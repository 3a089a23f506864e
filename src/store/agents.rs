//! Agents (issue 5): who takes calls, with Argon2id password hashes, skills with levels and
//! an optional SIP phone; and the last state of each, so a restart restores it.

use super::db::{Store, StoreError};
use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

/// A skill and how good the agent is at it (1–10), e.g. `lang:zh=5`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Skill {
    pub name: String,
    pub level: u8,
}

/// An agent as stored, without the password hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentRecord {
    pub tenant: String,
    pub login: String,
    pub display_name: String,
    pub skills: Vec<Skill>,
    pub sip_user: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// What `add_agent` needs.
#[derive(Clone, Debug)]
pub struct NewAgent {
    pub tenant: String,
    pub login: String,
    pub display_name: String,
    pub password: String,
    pub skills: Vec<Skill>,
    pub sip_user: Option<String>,
}

/// An agent's persisted state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredAgentState {
    pub tenant: String,
    pub login: String,
    pub state: String,
    pub reason: Option<String>,
    pub since: DateTime<Utc>,
}

/// Minimum password length: agents' accounts open calls with customers' data.
pub const MIN_PASSWORD: usize = 8;

/// Reads `lang:zh=5,dialect:sichuan=4` (commas or spaces between skills).
pub fn parse_skills(text: &str) -> Result<Vec<Skill>, String> {
    let mut out: Vec<Skill> = Vec::new();
    for item in text
        .split([',', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let Some((name, level)) = item.split_once('=') else {
            return Err(format!(
                "skill {item:?} has no level; write NAME=LEVEL, e.g. lang:zh=5"
            ));
        };
        let name = name.trim().to_ascii_lowercase();
        let valid = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b":_-.".contains(&b));
        if !valid {
            return Err(format!(
                "skill name {name:?} may hold only letters, digits and : _ - . (e.g. dialect:sichuan)"
            ));
        }
        let level: u8 = match level.trim().parse() {
            Ok(l @ 1..=10) => l,
            _ => {
                return Err(format!(
                    "skill {name} has level {:?}; levels are whole numbers 1 to 10",
                    level.trim()
                ));
            }
        };
        if out.iter().any(|s| s.name == name) {
            return Err(format!(
                "skill {name} is given twice; keep one level for it"
            ));
        }
        out.push(Skill { name, level });
    }
    Ok(out)
}

/// The stored form of skills, read back by [`parse_skills`].
pub fn format_skills(skills: &[Skill]) -> String {
    skills
        .iter()
        .map(|s| format!("{}={}", s.name, s.level))
        .collect::<Vec<_>>()
        .join(",")
}

/// An Argon2id hash of `password` with a fresh salt, as a PHC string.
pub fn hash_password(password: &str) -> Result<String, StoreError> {
    if password.chars().count() < MIN_PASSWORD {
        return Err(StoreError::BadAgent(format!(
            "the password is shorter than {MIN_PASSWORD} characters; choose a longer one"
        )));
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StoreError::BadAgent(format!("cannot hash the password: {e}")))
}

/// Whether `password` matches a stored hash; a malformed hash never matches.
/// Password checks in the server run one at a time (see `check_agent_login`).
static ARGON2_SLOT: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

fn check_name(what: &str, v: &str) -> Result<(), StoreError> {
    let ok = !v.is_empty()
        && v.len() <= 64
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.@".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(StoreError::BadAgent(format!(
            "{what} {v:?} must be 1-64 letters, digits, _ - . or @"
        )))
    }
}

fn record(row: &sqlx::any::AnyRow) -> Result<AgentRecord, StoreError> {
    let login: String = row.try_get("login")?;
    let skills_text: String = row.try_get("skills")?;
    let skills = parse_skills(&skills_text).map_err(|problem| StoreError::BadRow {
        call_id: format!("agent {login}"),
        column: "skills",
        problem,
    })?;
    let ms: i64 = row.try_get("created_at_ms")?;
    Ok(AgentRecord {
        tenant: row.try_get("tenant")?,
        login,
        display_name: row.try_get("display_name")?,
        skills,
        sip_user: row.try_get("sip_user")?,
        created_at: DateTime::from_timestamp_millis(ms).unwrap_or_default(),
    })
}

impl Store {
    /// Adds an agent; the password is stored only as an Argon2id hash.
    pub async fn add_agent(&self, a: &NewAgent, at: DateTime<Utc>) -> Result<(), StoreError> {
        check_name("tenant", &a.tenant)?;
        check_name("login", &a.login)?;
        if a.display_name.trim().is_empty() {
            return Err(StoreError::BadAgent(
                "the display name is empty; give the name callers' records will show".into(),
            ));
        }
        let hash = hash_password(&a.password)?;
        let done = sqlx::query(
            "INSERT INTO agents (tenant, login, display_name, password_hash, skills, sip_user, \
             created_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (tenant, login) DO NOTHING",
        )
        .bind(a.tenant.clone())
        .bind(a.login.clone())
        .bind(a.display_name.trim().to_string())
        .bind(hash)
        .bind(format_skills(&a.skills))
        .bind(a.sip_user.clone())
        .bind(at.timestamp_millis())
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::AgentExists {
                tenant: a.tenant.clone(),
                login: a.login.clone(),
            });
        }
        Ok(())
    }

    /// Replaces an agent's skills (hot: the ACD reads them on the next routing decision).
    pub async fn set_agent_skills(
        &self,
        tenant: &str,
        login: &str,
        skills: &[Skill],
    ) -> Result<(), StoreError> {
        let done = sqlx::query("UPDATE agents SET skills = $3 WHERE tenant = $1 AND login = $2")
            .bind(tenant.to_string())
            .bind(login.to_string())
            .bind(format_skills(skills))
            .execute(&self.pool)
            .await?;
        self.one_agent(done.rows_affected(), tenant, login)
    }

    pub async fn set_agent_password(
        &self,
        tenant: &str,
        login: &str,
        password: &str,
    ) -> Result<(), StoreError> {
        let hash = hash_password(password)?;
        let done =
            sqlx::query("UPDATE agents SET password_hash = $3 WHERE tenant = $1 AND login = $2")
                .bind(tenant.to_string())
                .bind(login.to_string())
                .bind(hash)
                .execute(&self.pool)
                .await?;
        self.one_agent(done.rows_affected(), tenant, login)
    }

    pub async fn remove_agent(&self, tenant: &str, login: &str) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM agents WHERE tenant = $1 AND login = $2")
            .bind(tenant.to_string())
            .bind(login.to_string())
            .execute(&self.pool)
            .await?;
        sqlx::query("DELETE FROM agent_states WHERE tenant = $1 AND login = $2")
            .bind(tenant.to_string())
            .bind(login.to_string())
            .execute(&self.pool)
            .await?;
        self.one_agent(done.rows_affected(), tenant, login)
    }

    fn one_agent(&self, rows: u64, tenant: &str, login: &str) -> Result<(), StoreError> {
        if rows == 0 {
            return Err(StoreError::NoSuchAgent {
                tenant: tenant.into(),
                login: login.into(),
            });
        }
        Ok(())
    }

    /// Every agent, or one tenant's, by tenant and login.
    pub async fn list_agents(&self, tenant: Option<&str>) -> Result<Vec<AgentRecord>, StoreError> {
        let rows = match tenant {
            Some(t) => {
                sqlx::query(
                    "SELECT tenant, login, display_name, skills, sip_user, created_at_ms \
                     FROM agents WHERE tenant = $1 ORDER BY tenant, login",
                )
                .bind(t.to_string())
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(
                    "SELECT tenant, login, display_name, skills, sip_user, created_at_ms \
                     FROM agents ORDER BY tenant, login",
                )
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter().map(record).collect()
    }

    /// The agent if `password` is theirs; `None` for an unknown login or a wrong password
    /// (the caller must not tell which).
    pub async fn check_agent_login(
        &self,
        tenant: &str,
        login: &str,
        password: &str,
    ) -> Result<Option<AgentRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT tenant, login, display_name, skills, sip_user, created_at_ms, password_hash \
             FROM agents WHERE tenant = $1 AND login = $2",
        )
        .bind(tenant.to_string())
        .bind(login.to_string())
        .fetch_optional(&self.pool)
        .await?;
        // Argon2 takes tens of milliseconds and 19 MiB: off the async workers, and one at a
        // time, so a shift signing in at once (hundreds of agents) neither starves calls of
        // CPU nor takes gigabytes; the sign-ins queue instead.
        let _slot = ARGON2_SLOT.acquire().await;
        let Some(row) = row else {
            // Same work as a real check, so timing does not reveal which logins exist.
            let _ = tokio::task::spawn_blocking(|| hash_password("timing-equaliser")).await;
            return Ok(None);
        };
        let hash: String = row.try_get("password_hash")?;
        let pw = password.to_string();
        let ok = tokio::task::spawn_blocking(move || verify_password(&hash, &pw))
            .await
            .unwrap_or(false);
        if ok {
            Ok(Some(record(&row)?))
        } else {
            Ok(None)
        }
    }

    /// Saves an agent's state (one row per agent, replaced).
    pub async fn save_agent_state(&self, s: &StoredAgentState) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO agent_states (tenant, login, state, reason, since_ms) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant, login) DO UPDATE SET \
             state = excluded.state, reason = excluded.reason, since_ms = excluded.since_ms",
        )
        .bind(s.tenant.clone())
        .bind(s.login.clone())
        .bind(s.state.clone())
        .bind(s.reason.clone())
        .bind(s.since.timestamp_millis())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every saved agent state (read at start to restore them).
    pub async fn agent_states(&self) -> Result<Vec<StoredAgentState>, StoreError> {
        let rows = sqlx::query(
            "SELECT tenant, login, state, reason, since_ms FROM agent_states ORDER BY tenant, login",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let ms: i64 = r.try_get("since_ms")?;
                Ok(StoredAgentState {
                    tenant: r.try_get("tenant")?,
                    login: r.try_get("login")?,
                    state: r.try_get("state")?,
                    reason: r.try_get("reason")?,
                    since: DateTime::from_timestamp_millis(ms).unwrap_or_default(),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn store() -> Store {
        Store::open("sqlite::memory:").await.unwrap()
    }

    fn alice() -> NewAgent {
        NewAgent {
            tenant: "acme".into(),
            login: "alice".into(),
            display_name: "Alice Wang".into(),
            password: "correct horse".into(),
            skills: parse_skills("lang:zh=5, dialect:sichuan=4").unwrap(),
            sip_user: Some("1001".into()),
        }
    }

    #[test]
    fn skills_are_read_and_written_back() {
        let s = parse_skills("lang:zh=5,Dialect:Sichuan=4 product:orders=3").unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(
            s[1],
            Skill {
                name: "dialect:sichuan".into(),
                level: 4
            }
        );
        assert_eq!(parse_skills(&format_skills(&s)).unwrap(), s);
        assert!(parse_skills("lang:zh").unwrap_err().contains("NAME=LEVEL"));
        assert!(parse_skills("lang:zh=11").unwrap_err().contains("1 to 10"));
        assert!(
            parse_skills("lang:zh=3,lang:zh=4")
                .unwrap_err()
                .contains("twice")
        );
        assert!(parse_skills("la ng=3").is_err());
        assert!(parse_skills("").unwrap().is_empty());
    }

    #[test]
    fn passwords_are_hashed_with_argon2id_and_verified() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(!h.contains("correct horse"));
        assert!(verify_password(&h, "correct horse"));
        assert!(!verify_password(&h, "wrong horse!"));
        assert!(!verify_password("not a hash", "correct horse"));
        assert!(hash_password("short").is_err());
    }

    #[tokio::test]
    async fn agents_are_added_checked_listed_and_removed() {
        let s = store().await;
        s.add_agent(&alice(), Utc::now()).await.unwrap();
        let dup = s.add_agent(&alice(), Utc::now()).await.unwrap_err();
        assert!(matches!(dup, StoreError::AgentExists { .. }), "{dup}");
        let ok = s
            .check_agent_login("acme", "alice", "correct horse")
            .await
            .unwrap()
            .expect("right password logs in");
        assert_eq!(ok.display_name, "Alice Wang");
        assert_eq!(ok.sip_user.as_deref(), Some("1001"));
        assert_eq!(ok.skills[0].name, "lang:zh");
        assert!(
            s.check_agent_login("acme", "alice", "wrong horse")
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            s.check_agent_login("other", "alice", "correct horse")
                .await
                .unwrap()
                .is_none()
        );
        s.set_agent_skills("acme", "alice", &parse_skills("lang:en=2").unwrap())
            .await
            .unwrap();
        assert_eq!(
            s.list_agents(Some("acme")).await.unwrap()[0].skills[0].name,
            "lang:en"
        );
        assert!(s.list_agents(Some("other")).await.unwrap().is_empty());
        s.remove_agent("acme", "alice").await.unwrap();
        assert!(matches!(
            s.remove_agent("acme", "alice").await.unwrap_err(),
            StoreError::NoSuchAgent { .. }
        ));
    }

    #[tokio::test]
    async fn agent_states_survive_and_are_replaced() {
        let s = store().await;
        let at = DateTime::from_timestamp_millis(1_795_000_000_000).unwrap();
        let mut st = StoredAgentState {
            tenant: "acme".into(),
            login: "alice".into(),
            state: "away".into(),
            reason: Some("lunch".into()),
            since: at,
        };
        s.save_agent_state(&st).await.unwrap();
        st.state = "available".into();
        st.reason = None;
        s.save_agent_state(&st).await.unwrap();
        assert_eq!(s.agent_states().await.unwrap(), vec![st]);
    }
}
