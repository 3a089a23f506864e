//! `hotline agents …`: manage the agents who take calls. Passwords come on stdin (never as
//! an argument, where `ps` would show them) and are stored only as Argon2id hashes.

use std::io::{self, BufRead, Write};
use std::path::PathBuf;

use anyhow::{Context, bail};
use chrono::Utc;
use clap::{Args, Subcommand};

use super::agents::{AgentRecord, NewAgent, format_skills, parse_skills};
use super::db::Store;
use crate::cli::ServeArgs;

#[derive(Debug, Subcommand)]
pub enum AgentsCmd {
    /// Add an agent; the password is read from the first line of stdin, e.g.
    /// `echo 'a long secret' | hotline agents add --tenant acme --login alice --name "Alice"
    /// --skills lang:zh=5,dialect:sichuan=4 --sip-user 1001`.
    Add(AddArgs),
    /// List agents (login, name, skills, SIP phone).
    List(ListArgs),
    /// Set an agent's password (from the first line of stdin).
    Passwd(AgentArgs),
    /// Replace an agent's skills, e.g. --skills lang:zh=5,product:orders=3.
    Skills(SkillsArgs),
    /// Remove an agent.
    Remove(AgentArgs),
}

/// Which database (as `hotline calls list`).
#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// Configuration file whose data_dir holds the database; default ./hotline.toml if it
    /// exists.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory holding hotline.db, overriding the config's data_dir; default ./var.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// sqlite://PATH or postgres://USER:PASSWORD@HOST/DB, overriding the config.
    #[arg(long, value_name = "URL", env = "HOTLINE_DATABASE_URL",
          value_parser = crate::config::parse_database)]
    pub database: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct AgentArgs {
    #[arg(long, default_value = "default")]
    pub tenant: String,
    #[arg(long)]
    pub login: String,
    #[command(flatten)]
    pub db: DbArgs,
}

#[derive(Debug, Clone, Args)]
pub struct AddArgs {
    #[command(flatten)]
    pub agent: AgentArgs,
    /// The name agents and supervisors see, e.g. "王小丽" or "Alice Wang".
    #[arg(long)]
    pub name: String,
    /// Skills with levels 1-10: lang:zh=5,dialect:sichuan=4.
    #[arg(long, default_value = "")]
    pub skills: String,
    /// The SIP user (a [[users]] entry of a SIP profile) whose registered phone rings for
    /// this agent.
    #[arg(long)]
    pub sip_user: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct SkillsArgs {
    #[command(flatten)]
    pub agent: AgentArgs,
    #[arg(long)]
    pub skills: String,
}

#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    #[arg(long)]
    pub tenant: Option<String>,
    #[command(flatten)]
    pub db: DbArgs,
}

async fn open(db: &DbArgs) -> anyhow::Result<Store> {
    let cfg = crate::config::load(&ServeArgs {
        config: db.config.clone(),
        data_dir: db.data_dir.clone(),
        database: db.database.clone(),
        ..ServeArgs::default()
    })?;
    Ok(Store::open(&Store::configured_location(&cfg)).await?)
}

fn read_password(input: &mut dyn BufRead) -> anyhow::Result<String> {
    let mut line = String::new();
    input
        .read_line(&mut line)
        .context("cannot read the password from stdin")?;
    let pw = line.trim_end_matches(['\r', '\n']).to_string();
    if pw.is_empty() {
        bail!("no password on stdin; pipe it in, e.g. `echo 'a long secret' | hotline agents …`");
    }
    Ok(pw)
}

/// Runs one `hotline agents` command; `input` is stdin, the result goes to stdout.
pub async fn run(cmd: AgentsCmd, input: &mut dyn BufRead) -> anyhow::Result<String> {
    match cmd {
        AgentsCmd::Add(a) => {
            let skills = parse_skills(&a.skills).map_err(anyhow::Error::msg)?;
            let password = read_password(input)?;
            let store = open(&a.agent.db).await?;
            store
                .add_agent(
                    &NewAgent {
                        tenant: a.agent.tenant.clone(),
                        login: a.agent.login.clone(),
                        display_name: a.name,
                        password,
                        skills,
                        sip_user: a.sip_user,
                    },
                    Utc::now(),
                )
                .await?;
            Ok(format!(
                "added agent {} of tenant {}\n",
                a.agent.login, a.agent.tenant
            ))
        }
        AgentsCmd::List(l) => {
            let store = open(&l.db).await?;
            Ok(table(&store.list_agents(l.tenant.as_deref()).await?))
        }
        AgentsCmd::Passwd(a) => {
            let password = read_password(input)?;
            open(&a.db)
                .await?
                .set_agent_password(&a.tenant, &a.login, &password)
                .await?;
            Ok(format!("password of {} changed\n", a.login))
        }
        AgentsCmd::Skills(s) => {
            let skills = parse_skills(&s.skills).map_err(anyhow::Error::msg)?;
            open(&s.agent.db)
                .await?
                .set_agent_skills(&s.agent.tenant, &s.agent.login, &skills)
                .await?;
            Ok(format!(
                "skills of {}: {}\n",
                s.agent.login,
                format_skills(&skills)
            ))
        }
        AgentsCmd::Remove(a) => {
            open(&a.db).await?.remove_agent(&a.tenant, &a.login).await?;
            Ok(format!("removed agent {}\n", a.login))
        }
    }
}

/// Prints to stdout (the binary's entry point).
pub async fn main(cmd: AgentsCmd) -> anyhow::Result<()> {
    let stdin = io::stdin();
    let text = run(cmd, &mut stdin.lock()).await?;
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())?;
    Ok(out.flush()?)
}

fn table(agents: &[AgentRecord]) -> String {
    if agents.is_empty() {
        return "no agents; add one with `hotline agents add`\n".into();
    }
    let mut out = format!(
        "{:<12} {:<16} {:<20} {:<10} {}\n",
        "TENANT", "LOGIN", "NAME", "SIP", "SKILLS"
    );
    for a in agents {
        out.push_str(&format!(
            "{:<12} {:<16} {:<20} {:<10} {}\n",
            a.tenant,
            a.login,
            a.display_name,
            a.sip_user.as_deref().unwrap_or("-"),
            format_skills(&a.skills)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(dir: &std::path::Path) -> DbArgs {
        DbArgs {
            config: Some(dir.join("none.toml")),
            data_dir: None,
            database: Some(format!("sqlite://{}", dir.join("h.db").display())),
        }
    }

    #[tokio::test]
    async fn add_list_and_remove_through_the_cli() {
        let dir = std::env::temp_dir().join(format!("hotline-agents-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("none.toml"), "").unwrap();
        let agent = AgentArgs {
            tenant: "acme".into(),
            login: "alice".into(),
            db: db(&dir),
        };
        let add = AgentsCmd::Add(AddArgs {
            agent: agent.clone(),
            name: "王小丽".into(),
            skills: "lang:zh=5,dialect:sichuan=4".into(),
            sip_user: Some("1001".into()),
        });
        let out = run(add, &mut "long enough secret\n".as_bytes())
            .await
            .unwrap();
        assert!(out.contains("added agent alice"), "{out}");
        let list = run(
            AgentsCmd::List(ListArgs {
                tenant: None,
                db: db(&dir),
            }),
            &mut "".as_bytes(),
        )
        .await
        .unwrap();
        assert!(
            list.contains("王小丽") && list.contains("dialect:sichuan=4"),
            "{list}"
        );
        let err = run(AgentsCmd::Passwd(agent.clone()), &mut "".as_bytes())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("no password on stdin"), "{err}");
        run(AgentsCmd::Remove(agent.clone()), &mut "".as_bytes())
            .await
            .unwrap();
        let err = run(AgentsCmd::Remove(agent), &mut "".as_bytes())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("hotline agents list"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
