//! The turn pipeline: a shopper's message → retrieval → model rounds with tool calls →
//! events streamed to the conversation.

mod pipeline;
pub mod summary;

pub use engine_core::turn::{DialogueState, tools};
pub use pipeline::{
    CUT_OFF_SEAM, HISTORY_TOKEN_BUDGET, MAX_ROUNDS, MAX_TOOL_CALLS, PROMPT_PRODUCTS, TurnEffects, TurnInput, TurnOutcome,
    UNAVAILABLE_REPLY, asks_to_check_out, run_turn, run_turn_with_fallback,
};
