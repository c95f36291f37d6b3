//! Playbooks: the document format, its validator and the engine that walks it.
//!
//! Architecture invariant: nothing in this folder performs I/O or reads a clock. The
//! engine is a pure function of (playbook, state, event, env) → (state, effects).

pub mod effect;
pub mod model;
pub mod state;
pub mod template;
pub mod vars;

pub use effect::{Effect, Step};
pub use model::{Card, CardKind, Playbook};
pub use state::{Env, Event, Phase, State};
pub use vars::Vars;
pub mod cond;
pub mod engine;
pub mod input;
pub use engine::step;
