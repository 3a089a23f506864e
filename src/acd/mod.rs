//! ACD (DESIGN.md `acd/`): queues, agents and their states, routing strategies. A pure
//! function of (queue state, agent states, call attributes, now): no sockets, no clocks,
//! no tasks. `call/` feeds it and carries out what it decides.

pub mod agent;
pub mod config;
pub mod engine;
pub mod stats;

pub use agent::{AgentEvent, AgentState, TransitionError, transition};
pub use config::{Overflow, QueueConfig, SkillReq, Step, Strategy};
pub use engine::{
    Acd, AcdError, AgentKey, CallbackTask, CallerInfo, Output, QueueStats, RECONNECT_GRACE,
    TransferTo,
};
pub use stats::{Period, QueueEvent};
