//! Playbooks: the document format, its validator and the engine that walks it.
//!
//! Architecture invariant: nothing in this folder performs I/O or reads a clock. The
//! engine is a pure function of (playbook, state, event, env) → (state, effects).

pub mod check;
pub mod cond;
pub mod effect;
pub mod emit;
pub mod engine;
pub mod input;
pub mod load;
pub mod model;
pub mod paths;
pub mod problem;
pub mod rich;
pub mod state;
pub mod template;
pub mod validate;
pub mod vars;

pub use effect::{Effect, Step};
pub use engine::step;
pub use model::{Card, CardKind, Playbook};
pub use state::{Env, Event, Phase, State};
pub use vars::Vars;
