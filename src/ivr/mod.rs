//! IVR flows: the flow file format (YAML in `ivr-flows/`), its loader and validator
//! (`hotline flow check`), and a pure interpreter that turns caller events into actions for
//! the call (`hotline flow sim` drives the same interpreter from a terminal).
//!
//! The format is documented for operators in `ivr-flows/README.md`.

mod check;
pub mod cli;
mod condition;
pub mod diag;
mod events;
mod interp;
mod load;
mod load_parts;
#[cfg(test)]
mod load_tests;
mod model;
pub mod sim;
pub mod template;
pub mod values;
pub mod yaml;

pub use diag::{Diagnostic, FlowErrors, Severity};
pub use events::{Action, CallInfo, Event, FlowLookup, NoFlows, PathStep, WebhookReply};
pub use interp::Interpreter;
pub use load::{load_flow, load_flow_str};
pub use model::{Flow, Speech, Voice};
