//! The turn pipeline: a shopper's message → retrieval → model rounds with tool calls →
//! events streamed to the conversation.

mod pipeline;
pub mod tools;

pub use pipeline::{MAX_ROUNDS, MAX_TOOL_CALLS, TurnEffects, TurnInput, TurnOutcome, run_turn};

use serde::{Deserialize, Serialize};

use crate::domain::ProductId;

/// What the pipeline remembers between turns, whatever model answers. Persisted with
/// the conversation, so a passivated conversation resumes where it was.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DialogueState {
    /// The products of the last `products` event, in the order shown ("the second one").
    #[serde(default)]
    pub last_products: Vec<ProductId>,
    /// Private memory of the model adapter (the offline assistant keeps a pending
    /// question here); passed back unchanged on the next turn.
    #[serde(default)]
    pub memory: serde_json::Value,
}
