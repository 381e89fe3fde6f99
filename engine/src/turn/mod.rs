//! The turn pipeline: a shopper's message → retrieval → model rounds with tool calls →
//! events streamed to the conversation.

mod pipeline;

pub use engine_core::turn::{DialogueState, tools};
pub use pipeline::{MAX_ROUNDS, MAX_TOOL_CALLS, TurnEffects, TurnInput, TurnOutcome, run_turn};
