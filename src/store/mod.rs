//! The store (DESIGN.md `store/`): call detail records in SQLite by default or PostgreSQL
//! when configured, same code (sqlx `Any`), migrations from `migrations/` run at open.
//!
//! Writes come from one store task fed by a channel ([`writer::run`]), never from the media
//! tick or the SIP loop; reads serve `hotline calls list` ([`cli`]) and `GET /api/v1/calls`.

mod agents;
pub mod agents_cli;
mod cdr;
pub mod cli;
mod db;
mod queue_events;
mod since;
pub mod writer;

pub use agents::{
    AgentRecord, MIN_PASSWORD, NewAgent, Skill, StoredAgentState, format_skills, hash_password,
    parse_skills, verify_password,
};
pub use cdr::{
    CallEnd, CallRecord, CallStart, CallState, CdrEvent, HangupSide, ListQuery, UnknownName,
    format_time, seconds_rounded_up,
};
pub use db::{Backend, DB_FILE, INTERRUPTED_CAUSE, MAX_IVR_PATH, Store, StoreError};
pub use queue_events::QueueEventRow;
pub use since::{TIME_FORMS, TimeSpec, TimeSpecError};
pub use writer::WriterConfig;
